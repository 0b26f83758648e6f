//! `init --ci github`: the GitHub Actions workflow that checks on pull requests and deploys on
//! pushes, through Workload Identity Federation.

mod common;

use predicates::prelude::*;
use std::path::Path;
use std::process::Command;

use common::FLAGS;

fn init_ci(dir: &Path, tmp: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    common::djrun(&tmp.join("gcloud"))
        .args(["init", "--yes", "--ci", "github"])
        .args(FLAGS)
        .args(extra)
        .arg(dir)
        .assert()
}

fn workflow(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".github/workflows/deploy.yml")).unwrap()
}

#[test]
fn actionlint_reports_nothing_on_any_generated_workflow_and_it_holds_no_key() {
    for (name, _) in common::fixtures() {
        let (tmp, dir) = common::copy_fixture(&name);
        let repo = format!("acme/{name}");
        let mut extra = vec!["--force", "--github-repo", &repo];
        extra.extend(common::user_env_flags(&name));
        init_ci(&dir, tmp.path(), &extra).success();
        let file = dir.join(".github/workflows/deploy.yml");
        let out = Command::new("actionlint")
            .arg(&file)
            .output()
            .expect("actionlint is installed (scripts/test.sh installs it)");
        let report = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && report.trim().is_empty(),
            "actionlint on the {name} workflow:\n{report}"
        );
        let text = workflow(&dir);
        for forbidden in [
            "credentials_json",
            "secrets.",
            "PRIVATE KEY",
            "token_format",
        ] {
            assert!(!text.contains(forbidden), "{name}: {forbidden}");
        }
        assert!(text.contains("id-token: write"), "{name}");
        assert!(text.contains("run: djrun init --check"), "{name}");
        assert!(
            text.contains("run: gcloud builds submit --config=cloudbuild.yaml"),
            "{name}"
        );
    }
}

#[test]
fn actionlint_catches_a_broken_workflow_so_the_check_above_can_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt }}\n",
    )
    .unwrap();
    let out = Command::new("actionlint").arg(&bad).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn the_workflow_is_a_generated_file_saved_checked_and_snapshotted() {
    let (tmp, dir) = common::copy_fixture("mysite");
    init_ci(&dir, tmp.path(), &["--github-repo", "acme/mysite"])
        .success()
        .stderr(
            predicate::str::contains("gcloud iam workload-identity-pools create djrun-github --location=global")
                .and(predicate::str::contains("'--attribute-condition=assertion.repository=='\\''acme/mysite'\\'''"))
                .and(predicate::str::contains("PROJECT_NUMBER=\"$(gcloud projects describe demo-project-123 --format='value(projectNumber)')\""))
                .and(predicate::str::contains("--member=principalSet://iam.googleapis.com/projects/\"$PROJECT_NUMBER\"/locations/global/workloadIdentityPools/djrun-github/attribute.repository/acme/mysite --role=roles/iam.workloadIdentityUser")),
        );
    let saved = std::fs::read_to_string(dir.join("djrun.toml")).unwrap();
    assert!(saved.contains("ci = \"github\""), "{saved}");
    assert!(saved.contains("github-repo = \"acme/mysite\""), "{saved}");
    let text = workflow(&dir);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("github-workflow", text));
    // A re-run with no flags changes nothing; an edited workflow is drift.
    common::init_check(&tmp.path().join("gcloud"), &dir).code(0);
    std::fs::write(
        dir.join(".github/workflows/deploy.yml"),
        text.replace("branches: [main]", "branches: [release]"),
    )
    .unwrap();
    common::init_check(&tmp.path().join("gcloud"), &dir)
        .code(1)
        .stderr(predicate::str::contains(".github/workflows/deploy.yml"));
}

#[test]
fn the_repository_and_branch_come_from_git_when_not_given() {
    let (tmp, dir) = common::copy_fixture("mysite");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(
        dir.join(".git/config"),
        "[remote \"origin\"]\n\turl = https://github.com/acme/blog.git\n",
    )
    .unwrap();
    std::fs::write(dir.join(".git/HEAD"), "ref: refs/heads/trunk\n").unwrap();
    init_ci(&dir, tmp.path(), &["--allow-dirty"]).success();
    let text = workflow(&dir);
    assert!(text.contains("branches: [trunk]"), "{text}");
    assert!(text.contains("bound\n# to acme/blog"), "{text}");
}

#[test]
fn without_a_repository_the_flag_to_pass_is_named_and_nothing_changes() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    init_ci(&dir, tmp.path(), &[])
        .code(2)
        .stderr(predicate::str::contains("--github-repo OWNER/NAME"));
    init_ci(&dir, tmp.path(), &["--github-repo", "not-a-repo"])
        .code(2)
        .stderr(predicate::str::contains("`--github-repo`"));
    common::djrun(&tmp.path().join("gcloud"))
        .args(["init", "--yes", "--ci", "gitlab"])
        .args(FLAGS)
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`--ci`"));
    assert_eq!(common::tree(&dir), before);
}
