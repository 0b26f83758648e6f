//! The configuration the settings read: values of the right shape at build, each required
//! value given at start (djrun's own, the service URL, the user's `--env` and `--secret`),
//! and a refusal naming the file, the line and the flag when nothing gives one.

mod common;

use std::fs;
use std::path::Path;

const DB: &[&str] = &["--database", "cloudsql-postgres"];

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_required_value_nothing_gives_is_refused_naming_its_line_and_the_flag() {
    let (tmp, dir) = common::copy_fixture("configured-app");
    fs::remove_file(dir.join(".env.example")).unwrap();
    let before = common::tree(&dir);
    let out = common::init_yes(&tmp.path().join("gcloud"), &dir, DB)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`ledger_site/settings.py` line 21: the settings require `ADMIN_PATH`"),
        "{err}"
    );
    assert!(err.contains("pass `--env ADMIN_PATH=VALUE`"), "{err}");
    assert!(err.contains("`--secret ADMIN_PATH`"), "{err}");
    assert_eq!(common::tree(&dir), before, "nothing written");
}

#[test]
fn example_values_flags_and_the_service_url_reach_the_job_and_the_service() {
    let (tmp, dir) = common::copy_fixture("configured-app");
    let gcloud = tmp.path().join("gcloud");
    let mut args = DB.to_vec();
    args.extend(["--env", "REDIS_URL=redis://10.0.0.3:6379/0"]);
    let out = common::init_yes(&gcloud, &dir, &args).output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    // Taken from the example file, and said so; the flag wins over the example.
    assert!(
        err.contains("`ADMIN_PATH` is set to `admin/`, its value in `.env.example`"),
        "{err}"
    );
    assert!(!err.contains("`REDIS_URL` is set to"), "{err}");

    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    let site = "SITE_URL=https://${_SERVICE}-$PROJECT_NUMBER.${_REGION}.run.app";
    for flag in ["--set-env-vars=", "--update-env-vars="] {
        let line = cloudbuild
            .lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("no {flag} in\n{cloudbuild}"));
        for want in [
            site,
            "ADMIN_PATH=admin/",
            "SUPPORT_EMAIL=help@ledger.example",
            "REDIS_URL=redis://10.0.0.3:6379/0",
        ] {
            assert!(line.contains(want), "{flag} lacks {want}: {line}");
        }
    }
    // The secret is named, never valued: the deploy reads it from $PAYMENTS_API_KEY or asks.
    for flag in ["--set-secrets=", "--update-secrets="] {
        let line = cloudbuild.lines().find(|l| l.contains(flag)).unwrap();
        assert!(
            line.contains("PAYMENTS_API_KEY=configured-app-payments-api-key:"),
            "{line}"
        );
        assert!(
            line.contains("LEDGER_SECRET_KEY="),
            "the key under the settings' own name: {line}"
        );
    }
    // The build's collectstatic gets values of the shapes the settings parse.
    let dockerfile = read(&dir.join("Dockerfile"));
    let collect = dockerfile
        .lines()
        .find(|l| l.contains("collectstatic"))
        .unwrap();
    assert!(
        collect.contains("DATABASE_URL=postgres://build:build@127.0.0.1:5432/build"),
        "{collect}"
    );
    assert!(
        collect.contains("REDIS_URL=redis://127.0.0.1:6379/0"),
        "{collect}"
    );
    assert!(
        !collect.contains("10.0.0.3"),
        "no deploy value in the image: {collect}"
    );

    // Saved, so a second run and CI's check need no flags.
    let saved = read(&dir.join("djrun.toml"));
    assert!(
        saved.contains(
            r#"env = { ADMIN_PATH = "admin/", LEDGER_REGION = "eu", REDIS_URL = "redis://10.0.0.3:6379/0", SUPPORT_EMAIL = "help@ledger.example" }"#
        ),
        "{saved}"
    );
    common::init_check(&gcloud, &dir).code(0);
}

#[test]
fn a_custom_domain_is_the_sites_url() {
    let (tmp, dir) = common::copy_fixture("configured-app");
    let mut args = DB.to_vec();
    args.extend(["--domain", "ledger.example.com"]);
    common::init_yes(&tmp.path().join("gcloud"), &dir, &args)
        .assert()
        .success();
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(
        cloudbuild.contains("SITE_URL=https://ledger.example.com"),
        "{cloudbuild}"
    );
}

#[test]
fn secrets_go_to_secret_manager_and_are_refused_as_plain_values() {
    let (tmp, dir) = common::copy_fixture("configured-app");
    let gcloud = tmp.path().join("gcloud");
    let before = common::tree(&dir);
    for (pair, want) in [
        (
            "PAYMENTS_API_KEY=sk_live_1",
            "pass `--secret PAYMENTS_API_KEY` instead",
        ),
        (
            "LEDGER_SECRET_KEY=x",
            "djrun's deploy sets `LEDGER_SECRET_KEY` itself",
        ),
        ("NOTE=a: b", "cloudbuild.yaml would read as YAML"),
        ("1X=y", "`1X` is not a variable name"),
        ("NOEQUALS", "has no `=`"),
    ] {
        let mut args = DB.to_vec();
        args.extend(["--env", pair]);
        let out = common::init_yes(&gcloud, &dir, &args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{pair}: {err}");
        assert!(err.contains(want), "{pair}: {err}");
        assert_eq!(common::tree(&dir), before, "{pair}: nothing written");
    }

    let mut args = DB.to_vec();
    args.extend(["--secret", "SENTRY_DSN", "--env", "GREETING=costs $5"]);
    common::init_yes(&gcloud, &dir, &args).assert().success();
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(
        cloudbuild.contains("SENTRY_DSN=configured-app-sentry-dsn:${_SENTRY_DSN_VERSION}"),
        "{cloudbuild}"
    );
    // Cloud Build reads `$$` as a `$`.
    assert!(cloudbuild.contains("GREETING=costs $$5"), "{cloudbuild}");
    assert!(read(&dir.join("djrun.toml")).contains(r#"secrets = ["SENTRY_DSN"]"#));
}

#[test]
fn inspect_lists_every_variable_with_its_shape_source_and_provider() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::djrun(&tmp.path().join("gcloud"))
        .args(["inspect"])
        .arg(common::fixture("configured-app"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("configuration  "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("the service URL in SITE_URL"), "{row}");
    assert!(
        row.contains("ADMIN_PATH (ledger_site/settings.py:21)"),
        "{row}"
    );
}
