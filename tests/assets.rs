//! The asset steps: what `inspect` reports for django-compressor's offline compression and
//! django-sass-processor, and where the generated Dockerfile runs their commands.

mod common;

use std::path::Path;

/// The index of the first line of `dockerfile` that is not a comment and holds `text`.
fn line_of(dockerfile: &str, text: &str) -> Option<usize> {
    dockerfile
        .lines()
        .position(|l| !l.starts_with('#') && l.contains(text))
}

fn dockerfile_after_init(dir: &Path, tmp: &Path) -> String {
    common::init_yes(&tmp.join("gcloud"), dir, &["--force"])
        .assert()
        .success();
    std::fs::read_to_string(dir.join("Dockerfile")).unwrap()
}

fn asset_steps(dir: &Path, tmp: &Path) -> serde_json::Value {
    let out = common::djrun(&tmp.join("gcloud"))
        .args(["inspect", "--json"])
        .arg(dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    json["asset_steps"].clone()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

// Each command with the build-only values collectstatic runs with.
const COLLECTSTATIC: &str = "K_SERVICE=build DJANGO_SECRET_KEY=collectstatic-placeholder python manage.py collectstatic --noinput";
const COMPRESS: &str =
    "K_SERVICE=build DJANGO_SECRET_KEY=collectstatic-placeholder python manage.py compress --force";
const COMPILESCSS: &str =
    "K_SERVICE=build DJANGO_SECRET_KEY=collectstatic-placeholder python manage.py compilescss";

#[test]
fn compress_runs_after_collectstatic_and_as_root() {
    let (tmp, dir) = common::copy_fixture("compressor-offline");
    let dockerfile = dockerfile_after_init(&dir, tmp.path());
    let collect = line_of(&dockerfile, COLLECTSTATIC).expect("collectstatic runs");
    let compress = line_of(&dockerfile, COMPRESS).expect("compress runs");
    let user = line_of(&dockerfile, "USER 10001").expect("the image drops root");
    assert!(collect < compress && compress < user, "{dockerfile}");
    assert_eq!(line_of(&dockerfile, COMPILESCSS), None, "{dockerfile}");
    // One RUN: collectstatic's, continued by compress.
    let lines: Vec<&str> = dockerfile.lines().collect();
    assert!(lines[collect].starts_with("RUN ") && lines[collect].ends_with(" \\"));
    assert_eq!(compress, collect + 1, "{dockerfile}");
    assert!(lines[compress].starts_with("    && "), "{dockerfile}");
    // A comment names the setting that asks for it.
    assert!(
        dockerfile
            .contains("# django-compressor compresses offline (brochure/settings.py line 46): "),
        "{dockerfile}"
    );
}

#[test]
fn compilescss_runs_before_collectstatic_and_both_tools_keep_their_order() {
    let (tmp, dir) = common::copy_fixture("sass-processor");
    let dockerfile = dockerfile_after_init(&dir, tmp.path());
    let compile = line_of(&dockerfile, COMPILESCSS).expect("compilescss runs");
    let collect = line_of(&dockerfile, COLLECTSTATIC).expect("collectstatic runs");
    assert!(compile < collect, "{dockerfile}");
    assert_eq!(line_of(&dockerfile, COMPRESS), None, "{dockerfile}");

    // A project with both: compilescss, collectstatic, compress, then the unprivileged user.
    let (tmp, dir) = common::copy_fixture("compressor-offline");
    edit(
        &dir.join("brochure/settings.py"),
        "    \"compressor\",\n",
        "    \"compressor\",\n    \"sass_processor\",\n",
    );
    let steps = asset_steps(&dir, tmp.path());
    let tools: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["django-sass-processor", "django-compressor"]);
    let dockerfile = dockerfile_after_init(&dir, tmp.path());
    let order: Vec<usize> = [COMPILESCSS, COLLECTSTATIC, COMPRESS, "USER 10001"]
        .iter()
        .map(|p| line_of(&dockerfile, p).unwrap_or_else(|| panic!("no {p} in\n{dockerfile}")))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "{order:?}\n{dockerfile}"
    );
}

#[test]
fn no_step_without_offline_compression_or_the_app() {
    // COMPRESS_OFFLINE off: compressor compresses on request, no build step.
    let (tmp, dir) = common::copy_fixture("compressor-offline");
    let settings = dir.join("brochure/settings.py");
    edit(
        &settings,
        "COMPRESS_OFFLINE = True",
        "COMPRESS_OFFLINE = False",
    );
    assert_eq!(asset_steps(&dir, tmp.path()), serde_json::json!([]));
    let dockerfile = dockerfile_after_init(&dir, tmp.path());
    assert!(
        line_of(&dockerfile, COLLECTSTATIC).is_some(),
        "{dockerfile}"
    );
    assert_eq!(line_of(&dockerfile, COMPRESS), None, "{dockerfile}");

    // Offline on, but compressor is not installed.
    let (tmp, dir) = common::copy_fixture("compressor-offline");
    edit(
        &dir.join("brochure/settings.py"),
        "    \"compressor\",\n",
        "",
    );
    assert_eq!(asset_steps(&dir, tmp.path()), serde_json::json!([]));

    // Offline from the environment with a true default counts, with the line of the read.
    let (tmp, dir) = common::copy_fixture("compressor-offline");
    edit(
        &dir.join("brochure/settings.py"),
        "COMPRESS_OFFLINE = True",
        "import os\nCOMPRESS_OFFLINE = os.environ.get(\"COMPRESS_OFFLINE\", \"true\") == \"true\"\nCOMPRESS_OFFLINE = os.environ.get(\"COMPRESS_OFFLINE\", \"True\")",
    );
    let steps = asset_steps(&dir, tmp.path());
    assert_eq!(steps[0]["evidence"]["line"], 48, "{steps}");
}

#[test]
fn no_step_where_collectstatic_does_not_run() {
    // Without django.contrib.staticfiles there is no collectstatic, and no step beside it.
    let (tmp, dir) = common::copy_fixture("sass-processor");
    edit(
        &dir.join("studio/settings.py"),
        "    \"django.contrib.staticfiles\",\n",
        "",
    );
    assert_eq!(asset_steps(&dir, tmp.path()), serde_json::json!([]));
}

#[test]
fn the_human_summary_has_a_line_per_step() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::djrun(&tmp.path().join("gcloud"))
        .arg("inspect")
        .arg(common::fixture("sass-processor"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.lines().any(|l| l
            == "   asset step  `python manage.py compilescss` before collectstatic (django-sass-processor, studio/settings.py line 10)"),
        "{text}"
    );
}

#[test]
fn compilescss_without_its_imports_in_the_dependencies_is_a_hint() {
    let hints = |dir: &Path, tmp: &Path| -> Vec<String> {
        let out = common::djrun(&tmp.join("gcloud"))
            .args(["inspect", "--json"])
            .arg(dir)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        serde_json::from_value(json["hints"].clone()).unwrap()
    };
    let (tmp, dir) = common::copy_fixture("sass-processor");
    assert_eq!(hints(&dir, tmp.path()), Vec::<String>::new());
    edit(
        &dir.join("requirements.txt"),
        "django-compressor==4.6.0\n",
        "",
    );
    assert_eq!(
        hints(&dir, tmp.path()),
        ["assets: `python manage.py compilescss` imports django-compressor, which the dependencies do not list; add it or the image's build stops at that step"]
    );
}
