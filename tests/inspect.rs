//! `djrun inspect --json` on every fixture project, compared with a reviewed expectation in
//! tests/expected/<fixture>.inspect.json (keys and meanings as DESIGN.md documents them).

mod common;

#[test]
fn inspect_json_matches_the_expectation_for_every_fixture() {
    let expected_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected");
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (name, dir) in common::fixtures() {
        let expected_file = expected_dir.join(format!("{name}.inspect.json"));
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_file)
                .unwrap_or_else(|_| panic!("write {}", expected_file.display())),
        )
        .unwrap();
        let out = common::djrun(&tmp.path().join("gcloud"))
            .args(["inspect", "--json"])
            .arg(&dir)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let actual: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(actual, expected, "inspect --json on {name}");
        checked += 1;
    }
    assert!(
        checked >= 12,
        "at least twelve fixture projects ({checked})"
    );
}

#[test]
fn the_human_summary_names_each_fact_and_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::djrun(&tmp.path().join("gcloud"))
        .arg("inspect")
        .arg(common::fixture("poetry2"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"       python  3.13 (newest Python that satisfies pyproject.toml (requires-python >=3.11,<3.14) and Django 5.2)"), "{text}");
    assert!(
        lines.contains(&" dependencies  poetry (pyproject.toml, poetry.lock)"),
        "{text}"
    );
    assert!(lines.contains(&"     gunicorn  present"), "{text}");
    // Aligned: every label ends in the same column, the longest (`allowed hosts`) at 13.
    assert!(
        lines
            .iter()
            .all(|l| l.len() > 15 && &l[13..15] == "  " && !l[..13].ends_with(' ')),
        "{text}"
    );
}

#[test]
fn the_human_summary_names_git_and_local_requirements_by_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = common::djrun(&tmp.path().join("gcloud"))
            .arg("inspect")
            .arg(common::fixture(name))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let text = run("pip-git-requirements");
    assert!(text.contains("     from git  django-tagging-lite (requirements.txt line 4), ledger-core (requirements.txt line 6, private: ssh), house-style (requirements.txt line 8, private: variable), pricing (requirements.txt line 10, private: credentials)\n"), "{text}");
    assert_eq!(
        text.matches("         hint  dependencies: `requirements.txt` line ")
            .count(),
        3,
        "{text}"
    );
    assert!(!text.contains("glpat-example-not-a-token"), "{text}");
    let text = run("pip-editable-root");
    assert!(
        text.contains("        local  the project folder (requirements.txt line 2, installed after its code is copied)\n"),
        "{text}"
    );
    let text = run("pip-path-packages");
    assert!(text.contains("        local  packages/reports (requirements/base.txt line 2, installed after its code is copied), packages/audit (requirements/base.txt line 4, installed after its code is copied), wheels/depot_colors-1.0.0-py3-none-any.whl (requirements/base.txt line 6, installed with the dependencies)\n"), "{text}");
}

#[test]
fn the_human_summary_shows_what_the_application_and_the_settings_rest_on() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = common::djrun(&tmp.path().join("gcloud"))
            .arg("inspect")
            .arg(common::fixture(name))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let text = run("asgi-package");
    assert!(
        text.contains(
            "       server  gunicorn with uvicorn workers, relay.asgi:application (ASGI)\n\
             \x20    evidence  Dockerfile:7 the Dockerfile's command runs `relay.asgi:application` with gunicorn\n\
             \x20    evidence  Procfile:1 the Procfile runs `relay.asgi:application` with uvicorn\n"
        ),
        "{text}"
    );
    let text = run("settings-package-empty-init");
    assert!(
        text.contains("     evidence  pantry/settings/__init__.py:1 is empty, so `pantry.settings` holds no settings of its own\n"),
        "{text}"
    );
    assert!(
        text.contains("     evidence  compose.yaml:8 the Compose file's environment sets `pantry.settings.cloud`\n"),
        "{text}"
    );
}
