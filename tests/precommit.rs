//! The `djrun-check` hook of `.pre-commit-hooks.yaml`, run by pre-commit itself
//! (`pre-commit try-repo`) in a git repository holding the bundled example after
//! `djrun init`: it passes on the clean project, fails on drift, and runs only when a file
//! djrun reads or writes is part of the commit.
//!
//! `language: python` makes pre-commit `pip install` this repository, which builds djrun
//! through maturin. To keep that to seconds, the build shares a target folder beside the
//! tests' own (`<target>/precommit-hook`) and uses the dev profile (`MATURIN_PEP517_ARGS`);
//! what is tested is the packaging and the hook, not the optimizer. pip fetches maturin from
//! PyPI the first time.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const HOOKS: &str = include_str!("../.pre-commit-hooks.yaml");

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=djrun tests",
            "-c",
            "user.email=tests@djrun.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A one-commit repository with this checkout's files as they are on disk (tracked and
/// untracked, without what .gitignore leaves out), so the hook is tested as edited, whatever
/// is staged.
fn snapshot_of_this_repository(into: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(manifest)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git is installed");
    assert!(out.status.success(), "the checkout is a git work tree");
    let snap = into.join("djrun-repo");
    let mut copied = 0;
    for rel in out.stdout.split(|&b| b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let from = manifest.join(rel);
        if !from.is_file() {
            continue; // deleted but not yet staged
        }
        let to = snap.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
        copied += 1;
    }
    assert!(snap.join(".pre-commit-hooks.yaml").is_file());
    assert!(snap.join("pyproject.toml").is_file());
    assert!(copied > 50, "{copied} files");
    git(&snap, &["init", "-q"]);
    git(&snap, &["add", "-A"]);
    git(&snap, &["commit", "-q", "-m", "snapshot"]);
    snap
}

/// The example project after `djrun init --yes`, committed, in a repository of its own.
fn initialized_example(into: &Path) -> PathBuf {
    let dir = into.join("mysite");
    common::copy_dir(&common::fixture("mysite"), &dir);
    std::fs::write(dir.join("notes.txt"), "not read by djrun\n").unwrap();
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "a Django project"]);
    common::djrun(&into.join("gcloud-config"))
        .args([
            "init",
            "--yes",
            "--project",
            "demo-project-123",
            "--region",
            "europe-west1",
        ])
        .arg(&dir)
        .assert()
        .success();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "djrun init"]);
    dir
}

/// The target folder the tests were built into (`<target>/debug/deps/precommit-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

struct Run {
    ok: bool,
    output: String,
}

/// `pre-commit try-repo SNAPSHOT djrun-check ARGS` in `project`.
fn try_hook(tmp: &Path, snap: &Path, project: &Path, args: &[&str]) -> Run {
    let out = Command::new("pre-commit")
        .args(["try-repo", "--color", "never"])
        .arg(snap)
        .arg("djrun-check")
        .args(args)
        .current_dir(project)
        .env("PRE_COMMIT_HOME", tmp.join("pre-commit-home"))
        .env("CARGO_TARGET_DIR", target_dir().join("precommit-hook"))
        .env("MATURIN_PEP517_ARGS", "--profile dev")
        .env("CLOUDSDK_CONFIG", tmp.join("gcloud-config"))
        .env_remove("CLOUDSDK_CORE_PROJECT")
        .env_remove("CLOUDSDK_RUN_REGION")
        .env_remove("CLOUDSDK_COMPUTE_REGION")
        .env_remove("CLOUDSDK_ACTIVE_CONFIG_NAME")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .env("NO_COLOR", "1")
        .output()
        .expect("pre-commit is installed (scripts/test.sh installs it)");
    Run {
        ok: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} holds {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_hook_passes_on_a_clean_project_and_fails_on_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = snapshot_of_this_repository(tmp.path());
    let project = initialized_example(tmp.path());

    let clean = try_hook(tmp.path(), &snap, &project, &["--all-files"]);
    assert!(clean.ok, "{}", clean.output);
    assert!(
        clean.output.contains("djrun init --check"),
        "{}",
        clean.output
    );
    assert!(clean.output.contains("Passed"), "{}", clean.output);

    // A hand edit of a generated file is drift (exit 1), shown as a diff.
    let cloudbuild = project.join("cloudbuild.yaml");
    edit(
        &cloudbuild,
        "logging: CLOUD_LOGGING_ONLY",
        "logging: LEGACY",
    );
    let drifted = try_hook(tmp.path(), &snap, &project, &["--all-files"]);
    assert!(!drifted.ok, "{}", drifted.output);
    assert!(drifted.output.contains("Failed"), "{}", drifted.output);
    assert!(
        drifted.output.contains("exit code: 1"),
        "{}",
        drifted.output
    );
    assert!(
        drifted.output.contains("+  logging: CLOUD_LOGGING_ONLY"),
        "{}",
        drifted.output
    );
    assert!(
        drifted.output.contains("`cloudbuild.yaml`"),
        "{}",
        drifted.output
    );

    // A commit that touches no file djrun reads or writes does not run the hook.
    let unrelated = try_hook(tmp.path(), &snap, &project, &["--files", "notes.txt"]);
    assert!(unrelated.ok, "{}", unrelated.output);
    assert!(unrelated.output.contains("Skipped"), "{}", unrelated.output);
    git(&project, &["checkout", "--", "cloudbuild.yaml"]);

    // An edit of the generated settings block is drift too, and settings files trigger it.
    let settings = project.join("mysite/settings.py");
    edit(
        &settings,
        "CSRF_TRUSTED_ORIGINS = _djrun_urls",
        "CSRF_TRUSTED_ORIGINS = []",
    );
    let settings_drift = try_hook(
        tmp.path(),
        &snap,
        &project,
        &["--files", "mysite/settings.py"],
    );
    assert!(!settings_drift.ok, "{}", settings_drift.output);
    assert!(
        settings_drift.output.contains("exit code: 1"),
        "{}",
        settings_drift.output
    );
    assert!(
        settings_drift.output.contains("mysite/settings.py"),
        "{}",
        settings_drift.output
    );
}

/// The `files:` pattern of the hook, as the YAML block scalar holds it.
fn files_pattern() -> String {
    let mut lines = HOOKS.lines().skip_while(|l| l.trim() != "files: |");
    assert!(lines.next().is_some(), "the hook has a `files: |` block");
    let body: Vec<&str> = lines.take_while(|l| l.starts_with("    ")).collect();
    assert!(!body.is_empty());
    body.iter().map(|l| format!("{}\n", &l[4..])).collect()
}

#[test]
fn the_files_pattern_selects_settings_dependency_and_deployment_files() {
    let selected = [
        "mysite/settings.py",
        "settings.py",
        "proj/settings_prod.py",
        "config/settings/production.py",
        "config/settings/base.py",
        "requirements.txt",
        "requirements-dev.txt",
        "requirements/base.txt",
        "pyproject.toml",
        "backend/pyproject.toml",
        "Pipfile",
        "Pipfile.lock",
        "uv.lock",
        "poetry.lock",
        "pdm.lock",
        ".python-version",
        "runtime.txt",
        "Dockerfile",
        "backend/Dockerfile",
        ".dockerignore",
        ".gcloudignore",
        "cloudbuild.yaml",
        "djrun.toml",
    ];
    let ignored = [
        "README.md",
        "notes.txt",
        "mysite/urls.py",
        "mysite/views.py",
        "app/models.py",
        "mysettings.py",
        "Dockerfile.dev",
        "docs/requirements.md",
        "cloudbuild.yaml.bak",
        "static/app.js",
    ];
    // pre-commit matches with Python's `re.search`; so does this check.
    let script = "import re, sys\n\
        pattern = re.compile(sys.argv[1])\n\
        for path in sys.argv[2:]:\n    print(path, bool(pattern.search(path)))\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(files_pattern())
        .args(selected)
        .args(ignored)
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    for path in selected {
        assert!(
            stdout.contains(&format!("{path} True\n")),
            "{path}: {stdout}"
        );
    }
    for path in ignored {
        assert!(
            stdout.contains(&format!("{path} False\n")),
            "{path}: {stdout}"
        );
    }
}
