//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The fixture projects: every folder in tests/fixtures, plus the bundled example.
pub fn fixtures() -> Vec<(String, PathBuf)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![("mysite".to_string(), manifest.join("examples/mysite"))];
    let mut entries: Vec<_> = std::fs::read_dir(manifest.join("tests/fixtures"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    entries.sort();
    out.extend(entries);
    out
}

/// The source folder of fixture `name`.
pub fn fixture(name: &str) -> PathBuf {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
        .1
}

/// Copy fixture `name` into a fresh temp dir, as `<tmp>/<name>`, so the folder name (which
/// the service name derives from) is stable.
pub fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(name);
    copy_dir(&fixture(name), &dest);
    (tmp, dest)
}

/// Copy a folder recursively (files and folders only).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file below `dir` with its bytes, for before/after comparisons.
pub fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            (rel, bytes)
        })
        .collect();
    out.sort();
    out
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// The lock tools djrun runs (`uv lock`, `poetry lock`, `pipenv lock`, `pdm lock`).
pub const LOCK_TOOLS: &[&str] = &["uv", "poetry", "pipenv", "pdm"];

/// Write an executable shell script `name` with `body` into `dir`.
pub fn write_script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let staged = dir.join(format!(".{name}.{}", std::process::id()));
    std::fs::write(&staged, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&staged, &path).unwrap();
}

/// A folder of stand-ins for the lock tools that exit 0 and change nothing, first on the
/// PATH of every djrun these tests start: which lock tools djrun finds never depends on what
/// this machine has installed. A test that needs another set passes its own PATH.
pub fn stand_in_lock_tools() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("stand-in-lock-tools");
        for tool in LOCK_TOOLS {
            write_script(&dir, tool, "exit 0");
        }
        dir
    })
}

/// `dir`, then the inherited PATH.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap()
}

/// The djrun binary, with an environment that cannot see the developer's gcloud setup, and
/// stand-ins for the lock tools first on PATH.
pub fn djrun(gcloud_config: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("djrun").unwrap();
    cmd.env("PATH", path_with(stand_in_lock_tools()))
        .env("CLOUDSDK_CONFIG", gcloud_config)
        .env_remove("CLOUDSDK_CORE_PROJECT")
        .env_remove("CLOUDSDK_RUN_REGION")
        .env_remove("CLOUDSDK_COMPUTE_REGION")
        .env_remove("CLOUDSDK_ACTIVE_CONFIG_NAME")
        .env("NO_COLOR", "1")
        // 2026-12-01: what is past its end of life does not change with the day the tests run.
        .env("SOURCE_DATE_EPOCH", "1796083200");
    cmd
}

/// The project and region every test passes, so no gcloud configuration is needed.
pub const FLAGS: &[&str] = &["--project", "demo-project-123", "--region", "europe-west1"];

/// `djrun init --yes` with [`FLAGS`] and `extra`, on `dir`.
pub fn init_yes(gcloud_config: &Path, dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = djrun(gcloud_config);
    cmd.args(["init", "--yes"]).args(FLAGS).args(extra).arg(dir);
    cmd
}

/// The values a user gives fixture `name` on the command line because its settings require
/// them with no default and no example file: `--env NAME=VALUE` each.
pub fn user_env(name: &str) -> Vec<&'static str> {
    match name {
        // cookiecutter-django's admin path, which its settings read with no default.
        "cookiecutter-split" => vec!["DJANGO_ADMIN_URL=admin/"],
        _ => Vec::new(),
    }
}

/// [`user_env`] as flags.
pub fn user_env_flags(name: &str) -> Vec<&'static str> {
    user_env(name)
        .into_iter()
        .flat_map(|pair| ["--env", pair])
        .collect()
}

/// Copy fixture `name` and run `djrun init --yes --force` on it with fixed answers (some
/// fixtures carry a Dockerfile of their own); returns the temp dir, the copy, and the build
/// context (the folder with the dependency files, where the Dockerfile goes).
pub fn init_fixture(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, dir) = copy_fixture(name);
    let gcloud = tmp.path().join("gcloud-config");
    let mut extra = vec!["--force"];
    extra.extend(user_env_flags(name));
    init_yes(&gcloud, &dir, &extra).assert().success();
    let facts = djrun::inspect::inspect(&dir).unwrap();
    let context = djrun::inspect::layout::join(&dir, &facts.dependency_root);
    (tmp, dir, context)
}

/// `djrun init --check PATH`, as CI runs it: to assert its exit code and messages.
pub fn init_check(gcloud_config: &Path, dir: &Path) -> assert_cmd::assert::Assert {
    djrun(gcloud_config)
        .args(["init", "--check"])
        .arg(dir)
        .assert()
}
