//! The command line, end to end on fixture projects: exit codes, messages, and what is on
//! disk afterwards.

mod common;

use predicates::prelude::*;
use std::path::Path;

use common::FLAGS;

fn gcloud_dir(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    tmp.path().join("gcloud-config")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn help_lists_the_commands_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    common::djrun(&gcloud_dir(&tmp))
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("init").and(predicate::str::contains("inspect")));
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--check")
                .and(predicate::str::contains("--dry-run"))
                .and(predicate::str::contains("--allow-dirty"))
                .and(predicate::str::contains("--private")),
        );
}

#[test]
fn check_finds_drift_then_passes_after_init() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--check"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("+++ b/Dockerfile"))
        .stderr(predicate::str::contains("hint: run `djrun init`"));
    assert_eq!(common::tree(&dir), before, "--check writes nothing");
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success();
    // The saved choices make flags unnecessary from now on.
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains("Nothing to change"));
    // A change to the project is drift again.
    std::fs::write(dir.join(".python-version"), "3.12\n").unwrap();
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("+FROM python:3.12-slim"));
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--- /dev/null\n+++ b/Dockerfile")
                .and(predicate::str::contains("+++ b/mysite/settings.py"))
                .and(predicate::str::contains("+gunicorn>=23.0"))
                .and(predicate::str::contains("\x1b").not()),
        )
        .stderr(predicate::str::contains("nothing was written"));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn second_init_has_an_empty_plan() {
    let (_tmp, dir, _) = common::init_fixture("mysite");
    let after_first = common::tree(&dir);
    let tmp = tempfile::tempdir().unwrap();
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("Nothing to change"));
    assert_eq!(common::tree(&dir), after_first);
}

#[test]
fn without_a_terminal_a_missing_value_names_its_flag() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes", "--region", "europe-west1"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hint: pass `--project"));
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes", "--project", "demo-project-123"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("hint: pass `--region"));
    // Every value given, but no terminal to confirm on: --yes is needed to write.
    common::djrun(&gcloud_dir(&tmp))
        .arg("init")
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no terminal").and(predicate::str::contains("pass `--yes`")),
        );
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn defaults_come_from_the_gcloud_configuration_folder() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let config = gcloud_dir(&tmp);
    std::fs::create_dir_all(config.join("configurations")).unwrap();
    std::fs::write(config.join("active_config"), "work\n").unwrap();
    std::fs::write(
        config.join("configurations/config_work"),
        "[core]\naccount = someone@example.com\nproject = from-gcloud-42\n\n[compute]\nregion = us-east1\n\n[run]\nregion = asia-east1\n",
    )
    .unwrap();
    std::fs::write(
        config.join("configurations/config_default"),
        "[core]\nproject = not-the-active-one\n",
    )
    .unwrap();
    common::djrun(&config)
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .success();
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(cloudbuild.contains("_REGION: asia-east1"), "{cloudbuild}");
    let saved = read(&dir.join("djrun.toml"));
    assert!(saved.contains("project = \"from-gcloud-42\""), "{saved}");
    assert!(saved.contains("region = \"asia-east1\""), "{saved}");
}

#[test]
fn flags_beat_saved_choices_which_beat_gcloud() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let config = gcloud_dir(&tmp);
    std::fs::create_dir_all(config.join("configurations")).unwrap();
    std::fs::write(
        config.join("configurations/config_default"),
        "[core]\nproject = gcloud-project\n[run]\nregion = us-east1\n",
    )
    .unwrap();
    std::fs::write(dir.join("djrun.toml"), "project = \"saved-project\"\n").unwrap();
    common::djrun(&config)
        .args(["init", "--yes", "--region", "europe-west4"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("--project=saved-project"));
    assert!(read(&dir.join("cloudbuild.yaml")).contains("_REGION: europe-west4"));
}

#[test]
fn a_file_djrun_did_not_generate_needs_force() {
    let (tmp, dir) = common::copy_fixture("mysite");
    std::fs::write(dir.join("Dockerfile"), "FROM python:3.10\nCOPY . .\n").unwrap();
    let before = common::tree(&dir);
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("-FROM python:3.10"))
        .stderr(
            predicate::str::contains("did not generate: `Dockerfile`")
                .and(predicate::str::contains("--force")),
        );
    assert_eq!(common::tree(&dir), before, "a refusal changes nothing");
    // A dry run says so too.
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "note: `djrun init` would stop here: djrun would overwrite files it did not generate: `Dockerfile`",
        ));
    common::init_yes(&gcloud_dir(&tmp), &dir, &["--force"])
        .assert()
        .success();
    assert!(read(&dir.join("Dockerfile")).starts_with("# Generated by djrun"));
}

#[test]
fn a_generated_file_the_user_edited_is_a_conflict_not_silently_replaced() {
    let (tmp, dir) = common::copy_fixture("mysite");
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success();
    let dockerfile = dir.join("Dockerfile");
    let edited = read(&dockerfile).replace("USER 10001", "RUN echo mine\nUSER 10001");
    std::fs::write(&dockerfile, &edited).unwrap();
    // Nothing to regenerate in it: djrun leaves the edit alone.
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("-RUN echo mine"));
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .code(2)
        .stdout(predicate::str::contains("-RUN echo mine"))
        .stderr(predicate::str::contains(
            "files you edited after djrun generated them: `Dockerfile`",
        ));
    assert_eq!(common::tree(&dir), before);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes", "--force"])
        .arg(&dir)
        .assert()
        .success();
    assert!(!read(&dockerfile).contains("echo mine"));
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

#[test]
fn uncommitted_changes_need_allow_dirty() {
    let (tmp, dir) = common::copy_fixture("mysite");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "start"]);
    let settings = dir.join("mysite/settings.py");
    std::fs::write(
        &settings,
        read(&settings) + "\nTIME_ZONE = 'Europe/Paris'\n",
    )
    .unwrap();
    let before = common::tree(&dir);
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("uncommitted changes")
                .and(predicate::str::contains("`mysite/settings.py`"))
                .and(predicate::str::contains("`requirements.txt`").not())
                .and(predicate::str::contains("--allow-dirty")),
        );
    assert_eq!(common::tree(&dir), before);
    common::init_yes(&gcloud_dir(&tmp), &dir, &["--allow-dirty"])
        .assert()
        .success();
    assert!(read(&settings).contains("TIME_ZONE = 'Europe/Paris'\n\n# >>> djrun"));
}

#[test]
fn values_that_break_the_rules_are_rejected_before_anything_is_rendered() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    let cases: &[(&str, &str)] = &[
        ("--project", "Bad_Project"),
        ("--project", "example.com:legacy"),
        ("--region", "europe west1"),
        ("--region", "eu\nsteps: []"),
        ("--service", "-leading-hyphen"),
        ("--service", "svc\"; rm -rf /"),
        ("--python", "3"),
        ("--python", "3.13\nRUN curl evil"),
    ];
    for (flag, value) in cases {
        let mut cmd = common::djrun(&gcloud_dir(&tmp));
        cmd.args(["init", "--yes"]);
        for (name, good) in [
            ("--project", "demo-project-123"),
            ("--region", "europe-west1"),
        ] {
            if name != *flag {
                cmd.args([name, good]);
            }
        }
        cmd.arg(format!("{flag}={value}")).arg(&dir);
        cmd.assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(format!("`{flag}`")));
        assert_eq!(common::tree(&dir), before, "{flag} {value:?} changed files");
    }
}

#[test]
fn a_saved_choice_that_breaks_the_rules_names_the_file() {
    let (tmp, dir) = common::copy_fixture("mysite");
    std::fs::write(
        dir.join("djrun.toml"),
        "project = \"x\"\nregion = \"europe-west1\"\n",
    )
    .unwrap();
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`djrun.toml`: saved `project`"));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn a_settings_syntax_error_names_file_and_line() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    std::fs::write(&settings, read(&settings) + "\nBROKEN = [\n").unwrap();
    let before = common::tree(&dir);
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("`mysite/settings.py` line")
                .and(predicate::str::contains("not valid Python")),
        );
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn no_django_project_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("README.md"), "hello\n").unwrap();
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no Django project found")
                .and(predicate::str::contains("manage.py")),
        );
}

#[test]
fn crlf_files_stay_crlf_and_keep_every_original_byte() {
    let (tmp, dir) = common::copy_fixture("whitenoise-ready");
    let settings_before = std::fs::read(dir.join("blog/settings.py")).unwrap();
    let requirements_before = std::fs::read(dir.join("requirements.txt")).unwrap();
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success();
    let settings = std::fs::read(dir.join("blog/settings.py")).unwrap();
    assert!(settings.starts_with(&settings_before));
    let added = String::from_utf8(settings[settings_before.len()..].to_vec()).unwrap();
    assert!(added.contains("# >>> djrun"));
    assert_eq!(
        added.matches('\n').count(),
        added.matches("\r\n").count(),
        "every added newline is CRLF"
    );
    let requirements = std::fs::read(dir.join("requirements.txt")).unwrap();
    assert_eq!(
        String::from_utf8(requirements).unwrap(),
        String::from_utf8(requirements_before).unwrap() + "\ngunicorn>=23.0\n"
    );
}

#[test]
fn private_services_stay_private_on_re_runs() {
    let (tmp, dir) = common::copy_fixture("mysite");
    common::init_yes(&gcloud_dir(&tmp), &dir, &["--private"])
        .assert()
        .success();
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(cloudbuild.contains("- --no-allow-unauthenticated"));
    assert!(!cloudbuild.contains("- --allow-unauthenticated"));
    assert!(read(&dir.join("djrun.toml")).contains("public = false"));
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(0);
}

#[test]
fn next_steps_give_the_exact_commands_and_warn_about_sqlite() {
    let (tmp, dir) = common::copy_fixture("mysite");
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("gcloud services enable run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com")
                .and(predicate::str::contains("gcloud artifacts repositories create cloud-run-source-deploy --repository-format=docker --location=europe-west1 --project=demo-project-123"))
                .and(predicate::str::contains("| gcloud secrets create mysite-django-secret-key"))
                .and(predicate::str::contains("gcloud builds submit --config=cloudbuild.yaml --service-account=projects/demo-project-123/serviceAccounts/mysite-deploy@demo-project-123.iam.gserviceaccount.com --project=demo-project-123"))
                .and(predicate::str::contains("docker build -t mysite ."))
                .and(predicate::str::contains("warning: the database is SQLite")),
        );
}

#[test]
fn inspect_json_follows_the_documented_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::djrun(&gcloud_dir(&tmp))
        .args(["inspect", "--json"])
        .arg(common::fixture("mysite"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["project_root"], ".");
    assert_eq!(json["settings_module"], "mysite.settings");
    assert_eq!(json["settings_file"], "mysite/settings.py");
    assert_eq!(json["wsgi_application"], "mysite.wsgi.application");
    assert_eq!(json["asgi_application"], "mysite.asgi.application");
    assert_eq!(json["python_version"]["version"], "3.14");
    assert_eq!(json["django_version"], "5.2");
    assert_eq!(json["dependency_manager"], "pip");
    assert_eq!(
        json["dependency_files"],
        serde_json::json!(["requirements.txt"])
    );
    assert_eq!(json["has_gunicorn"], false);
    assert_eq!(json["allowed_hosts"]["file"], "mysite/settings.py");
    assert_eq!(json["allowed_hosts"]["line"], 28);
    assert_eq!(json["static_root"], false);
    assert_eq!(json["whitenoise"], false);
    assert_eq!(json["database"], "sqlite");
}

#[test]
fn dependencies_at_the_root_make_the_root_the_build_context_for_a_project_in_src() {
    let (tmp, dir) = common::copy_fixture("src-layout");
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains("docker build -t src-layout ."));
    // The Dockerfile sits in the folder with pyproject.toml and uv.lock, installs from them
    // and runs from src/, where manage.py is.
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(!dir.join("src/Dockerfile").exists());
    assert!(
        dockerfile.contains("COPY pyproject.toml uv.lock ./\n"),
        "{dockerfile}"
    );
    let copy = dockerfile.find("\nCOPY . .\n").expect("the code is copied");
    let workdir = dockerfile
        .find("\nWORKDIR /app/src\n")
        .expect("the app runs from src/");
    let collect = dockerfile.find("manage.py collectstatic").unwrap();
    assert!(copy < workdir && workdir < collect, "{dockerfile}");
    // STATIC_ROOT lands in src/staticfiles, which .dockerignore names from the context's top.
    assert!(read(&dir.join(".dockerignore")).contains("\nsrc/staticfiles\n"));
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(
        cloudbuild.contains("\"${_IMAGE}:$BUILD_ID\", \".\"]"),
        "{cloudbuild}"
    );
    // The dependency and the saved choices go into the root's pyproject.toml.
    let pyproject = read(&dir.join("pyproject.toml"));
    assert!(pyproject.contains("\"gunicorn>=23.0\""), "{pyproject}");
    assert!(pyproject.contains("[tool.djrun]\nproject = \"demo-project-123\""));
    assert!(!dir.join("src/djrun.toml").exists());
    // A second run finds the saved choices and has no file to change; only the lock, which
    // `uv lock` (not installed here) would update, is stale.
    common::init_check(&gcloud_dir(&tmp), &dir)
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: `uv.lock` is stale: it does not hold `gunicorn`, `whitenoise`, which `pyproject.toml` lists",
        ));
}

#[test]
fn a_project_folder_below_its_dependencies_is_sent_to_the_folder_above() {
    let (tmp, dir) = common::copy_fixture("src-layout");
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(dir.join("src"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no dependency file found in `.`"))
        .stderr(predicate::str::contains(format!(
            "the dependency files are in `{}`, above the folder djrun was given",
            std::fs::canonicalize(&dir).unwrap().display()
        )));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn a_python_older_than_poetry_runs_on_gets_the_lock_exported_on_a_current_one() {
    let (tmp, dir) = common::copy_fixture("poetry-py38");
    common::djrun(&gcloud_dir(&tmp))
        .arg("inspect")
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "past its end of life (October 2024): no more security fixes",
        ))
        .stdout(predicate::str::contains(
            "lock  exported in a stage of its own on Python 3.13: the pinned poetry runs on Python 3.10 or newer",
        ));
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: Python 3.8 reached its end of life in October 2024: it gets no more security fixes",
        ))
        .stderr(predicate::str::contains(
            "Move the project to Python 3.11 or newer",
        ));
    let dockerfile = read(&dir.join("Dockerfile"));
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        stages,
        vec![
            "FROM python:3.8-slim AS project-python",
            "FROM python:3.13-slim AS export",
            "FROM python:3.8 AS build",
            "FROM python:3.8-slim",
        ],
        "{dockerfile}"
    );
    // Poetry runs on 3.13, against the project's own interpreter; the build stage gets only
    // the requirements file, and no Poetry.
    assert!(dockerfile.contains("RUN poetry env use /opt/project-python/bin/python3.8 \\\n"));
    let build = &dockerfile[dockerfile.find("AS build").unwrap()..];
    assert!(build.contains("COPY --from=export /tmp/requirements.txt /tmp/requirements.txt\n"));
    assert!(!build.contains("poetry"), "{build}");

    // The same project on Python 3.10, which Poetry runs on, exports in the build stage.
    let (tmp, dir) = common::copy_fixture("poetry-py38");
    std::fs::write(
        dir.join("pyproject.toml"),
        read(&dir.join("pyproject.toml")).replace(">=3.8,<3.9", ">=3.10,<3.11"),
    )
    .unwrap();
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success();
    let dockerfile = read(&dir.join("Dockerfile"));
    assert!(!dockerfile.contains("AS export"), "{dockerfile}");
    assert!(
        dockerfile.contains("RUN poetry check --lock"),
        "{dockerfile}"
    );
}

#[test]
fn pipenv_on_an_old_python_exports_in_a_stage_of_its_own() {
    let (tmp, dir) = common::copy_fixture("pipenv-project");
    common::init_yes(&gcloud_dir(&tmp), &dir, &["--python", "3.9"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: Python 3.9 reached its end of life in October 2025",
        ));
    let dockerfile = read(&dir.join("Dockerfile"));
    let export = dockerfile
        .find("FROM python:3.13-slim AS export\n")
        .unwrap();
    let build = dockerfile.find("FROM python:3.9 AS build\n").unwrap();
    assert!(export < build, "{dockerfile}");
    assert!(dockerfile[export..build].contains(
        "RUN pipenv verify \\\n    && pipenv requirements --hash > /tmp/requirements.txt\n"
    ));
    assert!(!dockerfile[build..].contains("pipenv"), "{dockerfile}");
}

#[test]
fn pdm_on_a_python_it_cannot_read_is_refused_naming_the_flag() {
    let (tmp, dir) = common::copy_fixture("pdm-project");
    let before = common::tree(&dir);
    common::init_yes(&gcloud_dir(&tmp), &dir, &["--python", "3.9"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: the project's Python is 3.9, and PDM 2.29.4 (the version the image installs to read `pdm.lock`) needs Python 3.10 or newer",
        ))
        .stderr(predicate::str::contains("hint: pass `--python 3.10` or newer"));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn the_monorepo_project_is_found_below_the_root_and_not_in_node_modules() {
    let (tmp, dir) = common::copy_fixture("monorepo");
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains("docker build -t monorepo backend"));
    assert!(dir.join("backend/Dockerfile").is_file());
    assert!(!dir.join("Dockerfile").exists());
    // The build config sits where `gcloud builds submit` and build triggers start: the
    // repository root, building the `backend` folder.
    let cloudbuild = read(&dir.join("cloudbuild.yaml"));
    assert!(
        cloudbuild.contains("\"${_IMAGE}:$BUILD_ID\", \"backend\"]"),
        "{cloudbuild}"
    );
    // Only the Django project and the build config are uploaded.
    let gcloudignore = read(&dir.join(".gcloudignore"));
    assert!(
        gcloudignore.contains("\n/*\n!/backend/\n!/cloudbuild.yaml\n"),
        "{gcloudignore}"
    );
}

#[test]
fn several_projects_need_evidence_or_project_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    common::copy_dir(&common::fixture("mysite"), &root.join("site_a"));
    common::copy_dir(&common::fixture("mysite"), &root.join("site_b"));
    common::djrun(&gcloud_dir(&tmp))
        .args(["inspect", "--json"])
        .arg(&root)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("several Django projects found")
                .and(predicate::str::contains(
                    "`site_a/manage.py`, `site_b/manage.py`",
                ))
                .and(predicate::str::contains("--project-dir site_a")),
        );
    common::djrun(&gcloud_dir(&tmp))
        .args(["inspect", "--json", "--project-dir", "site_b"])
        .arg(&root)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"project_root\": \"site_b\""));
    // Only one keeps its dependencies beside manage.py: that one is the project.
    std::fs::remove_file(root.join("site_a/requirements.txt")).unwrap();
    common::djrun(&gcloud_dir(&tmp))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .arg(&root)
        .assert()
        .success()
        .stdout(predicate::str::contains("+++ b/site_b/Dockerfile"));
}

/// A folder on PATH with no tools in it: djrun finds no lock tool.
fn no_tools(tmp: &tempfile::TempDir) -> std::path::PathBuf {
    let empty = tmp.path().join("no-tools");
    std::fs::create_dir_all(&empty).unwrap();
    empty
}

/// A stand-in `tool` that records the folder it ran in and its arguments in `log`, and
/// writes `writes` (name, text) there, as the lock tool would.
fn recording_tool(
    tmp: &tempfile::TempDir,
    tool: &str,
    writes: Option<(&str, &str)>,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let bin = tmp.path().join("bin");
    let log = tmp.path().join(format!("{tool}.log"));
    let mut body = format!("echo \"$PWD $*\" >> '{}'", log.display());
    if let Some((name, text)) = writes {
        body.push_str(&format!("\ncat > '{name}' <<'LOCK'\n{text}\nLOCK"));
    }
    common::write_script(&bin, tool, &body);
    (bin, log)
}

#[test]
fn a_lock_that_djrun_would_make_stale_needs_its_tool_before_anything_is_written() {
    let (tmp, dir) = common::copy_fixture("uv-groups");
    let before = common::tree(&dir);
    // No uv on PATH: djrun would add gunicorn and WhiteNoise, and nothing could update the
    // lock the image build checks, so it changes nothing and says what to do.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "error: `uv.lock` would no longer match `pyproject.toml` once djrun adds `gunicorn` and `whitenoise` to it, and the image build checks it (`uv sync --locked`); `uv` is not on PATH to update it, so djrun changed nothing\n",
        ))
        .stderr(predicate::str::contains(
            "hint: put `uv` on PATH and run djrun again, which then runs `uv lock` after its edit; or add `gunicorn` and `whitenoise` to `pyproject.toml` yourself and run `uv lock` in",
        ));
    assert_eq!(common::tree(&dir), before);
    // A dry run runs nothing, and says the real run would stop.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "note: `djrun init` would stop here: `uv.lock` would no longer match",
        ))
        .stderr(predicate::str::contains("hint: put `uv` on PATH"))
        .stderr(predicate::str::contains("changed nothing").not());
    assert_eq!(common::tree(&dir), before);

    // With uv on PATH (a stand-in that records its call and changes nothing), djrun edits
    // pyproject.toml and runs `uv lock` in the project.
    let (bin, log) = recording_tool(&tmp, "uv", None);
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Running `uv lock` to update `uv.lock`...",
        ));
    assert!(read(&dir.join("pyproject.toml")).contains("\"gunicorn>=23.0\","));
    assert_eq!(
        read(&log),
        format!("{} lock\n", std::fs::canonicalize(&dir).unwrap().display())
    );
    // The stand-in left the lock as it was: `--check`, which needs no uv, reports it.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains(
                "`uv.lock` is stale: it does not hold `gunicorn`, `whitenoise`",
            )
            .and(predicate::str::contains("hint: run `uv lock`")),
        );
}

#[test]
fn a_pipfile_without_its_lock_is_locked_by_init_or_refused_naming_pipenv_lock() {
    let (tmp, dir) = common::copy_fixture("pipenv-nolock");
    let before = common::tree(&dir);
    let shown = std::fs::canonicalize(&dir).unwrap();
    // CI checks a repository without Pipfile.lock: drift (exit 1), with the lock named.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--check"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: `Pipfile.lock` does not exist: the image build installs from it and checks it against `Pipfile` (`pipenv verify`)\n",
        ));
    // No pipenv: refused before anything is written, naming the file and the command.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(format!(
            "error: `Pipfile.lock` does not exist, and the image build installs from it and checks it against `Pipfile` (`pipenv verify`); `pipenv` is not on PATH to write it, so djrun changed nothing\n\nhint: run `pipenv lock` in `{}`, then run djrun again\n",
            shown.display()
        ));
    assert_eq!(common::tree(&dir), before);

    // A dry run with pipenv on PATH says what would run, and runs nothing.
    let lock = "{\"_meta\": {}, \"default\": {\"django\": {}, \"gunicorn\": {}, \"whitenoise\": {}}, \"develop\": {}}";
    let (bin, log) = recording_tool(&tmp, "pipenv", Some(("Pipfile.lock", lock)));
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "+COPY Pipfile.lock Pipfile.lock\n",
        ))
        .stderr(predicate::str::contains(format!(
            "After writing, `pipenv lock` runs in `{}` to write `Pipfile.lock`.\n",
            shown.display()
        )));
    assert_eq!(common::tree(&dir), before);
    assert!(!log.exists(), "a dry run runs no lock command");

    // The real run writes the files, then `pipenv lock` in the project folder.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Running `pipenv lock` to write `Pipfile.lock`...",
        ));
    assert_eq!(read(&log), format!("{} lock\n", shown.display()));
    assert_eq!(read(&dir.join("Pipfile.lock")), format!("{lock}\n"));
    assert!(read(&dir.join("Dockerfile"))
        .contains("COPY Pipfile Pipfile\nCOPY Pipfile.lock Pipfile.lock\nRUN pipenv verify"));
    // Then nothing is left to do, and nothing runs again.
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("Nothing to change"));
    common::init_check(&gcloud_dir(&tmp), &dir).code(0);
    assert_eq!(read(&log).lines().count(), 1);
}

#[test]
fn a_pipfile_lock_with_an_old_hash_is_locked_again_or_refused() {
    let (tmp, dir) = common::copy_fixture("pipenv-nolock");
    // A lock that holds every package and records the Pipfile's hash (as `pipenv lock`
    // computes it: the unit tests compare it with real `pipenv lock` output).
    let hash = djrun::inspect::pipfile_hash::pipfile_hash(&read(&dir.join("Pipfile"))).unwrap();
    std::fs::write(
        dir.join("Pipfile.lock"),
        format!("{{\"_meta\": {{\"hash\": {{\"sha256\": \"{hash}\"}}}}, \"default\": {{\"django\": {{}}, \"gunicorn\": {{}}, \"whitenoise\": {{}}}}}}\n"),
    )
    .unwrap();
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success();
    common::init_check(&gcloud_dir(&tmp), &dir).code(0);
    // A developer then edits a version in Pipfile without locking: the lock still holds
    // every package, but its hash of the Pipfile is not the file's, and `pipenv verify`
    // would fail the build.
    let pipfile = read(&dir.join("Pipfile")).replace("~=5.2.0", "~=5.2.1");
    std::fs::write(dir.join("Pipfile"), pipfile).unwrap();
    let stale = "`Pipfile.lock` is stale: the hash of `Pipfile` it records (`_meta.hash.sha256`) is not the file's, so `pipenv verify` fails the image build";
    common::init_check(&gcloud_dir(&tmp), &dir)
        .code(1)
        .stderr(format!(
            "error: {stale}\n\nhint: run `pipenv lock` and commit the lock file\n"
        ));
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(format!(
            "error: {stale}; `pipenv` is not on PATH to update it, so djrun changed nothing\n"
        )));
    assert_eq!(common::tree(&dir), before);
    let (bin, log) = recording_tool(&tmp, "pipenv", None);
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--yes"])
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Running `pipenv lock` to update `Pipfile.lock`...",
        ));
    assert_eq!(read(&log).lines().count(), 1);
}

#[test]
fn saving_choices_in_pyproject_does_not_make_the_lock_stale() {
    // poetry2 lists gunicorn and WhiteNoise already: djrun only adds [tool.djrun].
    let (tmp, dir) = common::copy_fixture("poetry2");
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", "/usr/bin:/bin")
        .args(["init", "--yes"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains("no longer matches").not());
    assert!(read(&dir.join("pyproject.toml")).contains("[tool.djrun]"));
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", "/usr/bin:/bin")
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(0);
}

#[test]
fn init_warns_of_each_private_repository_by_file_and_line_and_never_shows_a_token() {
    let (tmp, dir) = common::copy_fixture("pip-git-requirements");
    let token = "glpat-example-not-a-token";
    let requirements_before = read(&dir.join("requirements.txt"));
    assert!(
        requirements_before.contains(token),
        "the fixture holds the token"
    );
    let out = common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: `requirements.txt` line"))
        .collect();
    assert_eq!(warnings.len(), 3, "{stderr}");
    for (line, name, why) in [
        (6, "ledger-core", "over SSH"),
        (8, "house-style", "`${GITHUB_TOKEN}`"),
        (10, "pricing", "revoke it"),
    ] {
        let w = warnings
            .iter()
            .find(|w| w.contains(&format!("line {line} installs `{name}`")))
            .unwrap_or_else(|| panic!("no warning for line {line}: {stderr}"));
        assert!(w.contains(why), "{w}");
        assert!(
            w.contains("Artifact Registry") && w.contains("./wheels/"),
            "{w}"
        );
    }
    // The public repository is fetched with git: no warning.
    assert!(!stderr.contains("django-tagging-lite"), "{stderr}");
    assert!(!stderr.contains(token) && !stdout.contains(token));
    // No file djrun wrote holds it; the requirements file keeps the user's bytes, with a line
    // appended.
    for (path, bytes) in common::tree(&dir) {
        if path != "requirements.txt" {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(token),
                "{path} holds the token"
            );
        }
    }
    assert!(read(&dir.join("requirements.txt")).starts_with(&requirements_before));
    // Nor does `inspect`, in either form, or the diff of `--check`.
    for args in [vec!["inspect"], vec!["inspect", "--json"]] {
        common::djrun(&gcloud_dir(&tmp))
            .args(&args)
            .arg(&dir)
            .assert()
            .success()
            .stdout(predicate::str::contains(token).not())
            .stdout(predicate::str::contains("requirements.txt` line 10"));
    }
    std::fs::write(dir.join("requirements.txt"), &requirements_before).unwrap();
    common::init_check(&gcloud_dir(&tmp), &dir)
        .code(1)
        .stdout(predicate::str::contains(
            "git+https://***:***@gitlab.example.com",
        ))
        .stdout(predicate::str::contains(token).not())
        .stderr(predicate::str::contains(token).not());
}

#[cfg(unix)]
#[test]
fn a_local_package_that_links_out_of_the_project_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    common::copy_dir(&common::fixture("pip-editable-pkg"), &dir);
    std::fs::create_dir_all(tmp.path().join("elsewhere/pkg")).unwrap();
    std::fs::create_dir_all(dir.join("vendor")).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("elsewhere/pkg"), dir.join("vendor/pkg")).unwrap();
    std::fs::write(dir.join("requirements.txt"), "django\n-e ./vendor/pkg\n").unwrap();
    let before = common::tree(&dir);
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`requirements.txt` line 2 installs `vendor/pkg`, outside the folder the image is built from",
        ))
        .stderr(predicate::str::contains(
            "hint: replace the link `vendor/pkg`",
        ));
    assert_eq!(common::tree(&dir), before);
}

/// A project whose requirements the image build cannot install: refused with the file and
/// line, exit 2, nothing written.
fn refused(files: &[(&str, &str)], message: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    common::copy_dir(&common::fixture("pip-editable-pkg"), &dir);
    std::fs::remove_file(dir.join("requirements.txt")).unwrap();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let before = common::tree(&dir);
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(message))
        .stderr(predicate::str::contains("hint:"))
        .stderr(predicate::str::contains("panicked").not());
    assert_eq!(common::tree(&dir), before, "nothing changed on disk");
}

#[test]
fn local_requirements_no_image_can_build_are_refused_by_file_and_line() {
    refused(
        &[("requirements.txt", "django\n-e ../shared/billing\n")],
        "`requirements.txt` line 2 installs `../shared/billing`, outside the folder the image is built from",
    );
    refused(
        &[("requirements.txt", "django\n\n./packages/missing\n")],
        "`requirements.txt` line 3 installs `packages/missing`, which is not in `.`",
    );
    refused(
        &[("requirements.txt", "django\x0c-e ./packages/invoicing\n")],
        "`requirements.txt` breaks lines with characters other than newlines",
    );
    refused(
        &[
            ("requirements.txt", ""),
            (
                "Pipfile",
                "[packages]\ndjango = \"*\"\ninvoicing = { path = \"./packages/invoicing\", editable = true }\n",
            ),
        ],
        "`Pipfile` line 3 installs `packages/invoicing` from a path: djrun's image for pipenv cannot install local packages yet",
    );
    // Poetry exports a wheel from a path with hashes on the lines below it.
    refused(
        &[
            ("requirements.txt", ""),
            ("wheels/invoicing-1.0-py3-none-any.whl", ""),
            (
                "pyproject.toml",
                "[tool.poetry.dependencies]\npython = \"^3.12\"\ndjango = \"^5.2\"\ninvoicing = { path = \"wheels/invoicing-1.0-py3-none-any.whl\" }\n",
            ),
            ("poetry.lock", ""),
        ],
        "`pyproject.toml` line 4 installs `wheels/invoicing-1.0-py3-none-any.whl` from a path: djrun's image for poetry cannot install a wheel or an archive from a path yet",
    );
    // Nothing from a dependency file reaches the Dockerfile unchecked: a path that would
    // start a line of its own, extras that would run a command.
    refused(
        &[(
            "pyproject.toml",
            "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"django\", \"evil\"]\n\n[tool.uv.sources]\nevil = { path = \"packages/x\\nRUN curl example.com\" }\n",
        )],
        "`pyproject.toml` line 7 installs `packages/x\\nRUN curl example.com`: djrun writes only paths",
    );
    refused(
        &[(
            "requirements.txt",
            "django\n-e ./packages/invoicing[pdf$(id)]\n",
        )],
        "`requirements.txt` line 2 installs `packages/invoicing`: djrun writes only paths",
    );
    refused(
        &[(
            "requirements.txt",
            "django\n-e ./packages/invoicing[pdf;id]\n",
        )],
        "`requirements.txt` line 2 installs `packages/invoicing[pdf`: djrun writes only paths",
    );
}

#[test]
fn a_django_storages_pin_without_the_google_extra_gets_it_and_keeps_its_version() {
    let (tmp, dir) = common::copy_fixture("storages-pinned");
    // Uploads are detected: media goes to Cloud Storage, which needs the `google` extra.
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "-django-storages==1.14.4  # pinned until the next storage review\n+django-storages[google]==1.14.4  # pinned until the next storage review\n",
        ));
    let requirements = read(&dir.join("requirements.txt"));
    assert_eq!(
        requirements,
        "# Gallery: uploads go to Cloud Storage in production.\nDjango~=5.2.0\ndjango-storages[google]==1.14.4  # pinned until the next storage review\ngunicorn>=23.0\nwhitenoise>=6.6\n"
    );
    // A second run has nothing to change.
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("Nothing to change"));
    common::init_check(&gcloud_dir(&tmp), &dir).code(0);
}

#[test]
fn the_google_extra_goes_where_an_included_requirements_file_pins_django_storages() {
    let (tmp, dir) = common::copy_fixture("storages-pinned");
    std::fs::create_dir_all(dir.join("requirements")).unwrap();
    std::fs::write(
        dir.join("requirements.txt"),
        "-r requirements/base.txt\r\n-c requirements/constraints.txt\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("requirements/base.txt"),
        "Django~=5.2.0\r\ndjango_storages[azure]>=1.14.4,<2 ; python_version >= \"3.10\"\r\n",
    )
    .unwrap();
    // pip refuses extras in a constraints file: that pin stays as it is.
    std::fs::write(
        dir.join("requirements/constraints.txt"),
        "django-storages==1.14.4\r\n",
    )
    .unwrap();
    common::init_yes(&gcloud_dir(&tmp), &dir, &[])
        .assert()
        .success()
        .stdout(predicate::str::contains("+++ b/requirements/base.txt\n"));
    assert_eq!(
        read(&dir.join("requirements/base.txt")),
        "Django~=5.2.0\r\ndjango_storages[azure,google]>=1.14.4,<2 ; python_version >= \"3.10\"\r\n"
    );
    assert_eq!(
        read(&dir.join("requirements/constraints.txt")),
        "django-storages==1.14.4\r\n"
    );
    assert_eq!(
        read(&dir.join("requirements.txt")),
        "-r requirements/base.txt\r\n-c requirements/constraints.txt\r\ngunicorn>=23.0\r\nwhitenoise>=6.6\r\n"
    );
    common::init_check(&gcloud_dir(&tmp), &dir).code(0);
}

#[test]
fn a_poetry_pin_of_django_storages_becomes_a_table_with_the_extra_and_the_lock_is_updated() {
    let (tmp, dir) = common::copy_fixture("poetry-classic");
    let pyproject = read(&dir.join("pyproject.toml")).replace(
        "psycopg2 = \"^2.9\"  # built from source: needs libpq\n",
        "psycopg2 = \"^2.9\"  # built from source: needs libpq\ndjango-storages = \"1.14.4\"  # media\n",
    );
    std::fs::write(dir.join("pyproject.toml"), &pyproject).unwrap();
    let (bin, log) = recording_tool(&tmp, "poetry", None);
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--yes", "--media", "gcs"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "Running `poetry lock` to update `poetry.lock`...",
        ));
    let after = read(&dir.join("pyproject.toml"));
    assert!(
        after.contains(
            "psycopg2 = \"^2.9\"  # built from source: needs libpq\ndjango-storages = { version = \"1.14.4\", extras = [\"google\"] }  # media\n"
        ),
        "{after}"
    );
    assert_eq!(read(&log).lines().count(), 1);
    // The pin is not listed twice, and a second plan changes no file.
    assert_eq!(after.matches("django-storages").count(), 1, "{after}");
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", common::path_with(&bin))
        .args(["init", "--dry-run"])
        .arg(&dir)
        .assert()
        .success()
        .stdout("");
    // Without Poetry on PATH the same edit is refused before anything is written, naming
    // the extra to add by hand.
    let (tmp, dir) = common::copy_fixture("poetry-classic");
    std::fs::write(dir.join("pyproject.toml"), &pyproject).unwrap();
    let before = common::tree(&dir);
    common::djrun(&gcloud_dir(&tmp))
        .env("PATH", no_tools(&tmp))
        .args(["init", "--yes", "--media", "gcs"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`poetry.lock` would no longer match `pyproject.toml` once djrun adds `gunicorn`, `whitenoise` and `django-storages[google]` to it",
        ));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn every_fixture_checks_clean_right_after_init() {
    // `init` twice gives an empty plan: what it wrote is what the project now asks for, on
    // every fixture (with the values a user gives the ones whose settings require them).
    let mut drifted = Vec::new();
    for (name, _) in common::fixtures() {
        let (tmp, dir) = common::copy_fixture(&name);
        let gcloud = tmp.path().join("gcloud");
        let mut extra = vec!["--force"];
        extra.extend(common::user_env_flags(&name));
        let out = common::init_yes(&gcloud, &dir, &extra).output().unwrap();
        assert!(
            out.status.success(),
            "init on {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let check = common::djrun(&gcloud)
            .args(["init", "--check"])
            .arg(&dir)
            .output()
            .unwrap();
        // A lock the stand-in lock tool did not write is reported, and is no file djrun
        // writes: any other drift is a diff.
        let stdout = String::from_utf8_lossy(&check.stdout);
        if check.status.code() != Some(0)
            && (stdout.contains("--- ") || check.status.code() != Some(1))
        {
            drifted.push(format!(
                "{name}:\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            ));
        }
    }
    assert!(
        drifted.is_empty(),
        "drift right after init:\n{}",
        drifted.join("\n")
    );
}

#[test]
fn a_reader_that_stops_early_ends_djrun_quietly() {
    // `djrun inspect --json | head -1`, deterministically: the pipe's read end is closed
    // before djrun writes a byte.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let tmp = tempfile::tempdir().unwrap();
    let mysite = common::fixture("mysite");
    let mysite = mysite.to_str().unwrap();
    for args in [
        vec!["inspect", "--json", mysite],
        vec!["inspect", mysite],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("djrun"))
            .args(&args)
            .env("CLOUDSDK_CONFIG", tmp.path())
            .stdout(writer.try_clone().unwrap())
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
