//! Hostile input through the command line (issue 4): files that do not parse, are empty,
//! enormous, binary or in another encoding; no Django project or several; symlink loops and
//! links out of the project; folders where files should be; read-only targets; flag values
//! that would inject. Every refusal exits 2 with a message naming the file (and line) and a
//! `hint:` saying what to do, and leaves the tree byte for byte as it was.

mod common;

use predicates::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::FLAGS;

/// Long enough that only a hang (or quadratic work) fails it, never a slow machine.
const HANG_GUARD: Duration = Duration::from_secs(20);

fn gcloud(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("gcloud-config")
}

/// `djrun init --yes` with the fixed flags and `extra`, on `dir`.
fn init(tmp: &tempfile::TempDir, dir: &Path, extra: &[&str]) -> assert_cmd::Command {
    common::init_yes(&gcloud(tmp), dir, extra)
}

/// Run `cmd`, expect exit 2, nothing on stdout and the tree under `dir` unchanged; return
/// stderr. The message must say what to do (a `hint:` line) unless `hint` is false.
fn refused(mut cmd: assert_cmd::Command, dir: &Path, hint: bool) -> String {
    let before = common::tree(dir);
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit code; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a refusal, not a panic:\n{stderr}"
    );
    assert_eq!(
        common::tree(dir),
        before,
        "the tree changed; stderr:\n{stderr}"
    );
    if hint {
        assert!(stderr.contains("\nhint: "), "says what to do:\n{stderr}");
    }
    stderr
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).unwrap();
}

fn append(path: &Path, bytes: &[u8]) {
    let mut all = std::fs::read(path).unwrap();
    all.extend_from_slice(bytes);
    write(path, all);
}

fn lines_in(path: &Path) -> usize {
    std::fs::read(path)
        .unwrap()
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

// ---- settings that are not what we hoped -------------------------------------------------

#[test]
fn settings_with_a_syntax_error_name_the_file_and_line() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let line = lines_in(&settings) + 2;
    append(&settings, b"\nINSTALLED_APPS += [\n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains(&format!(
            "`mysite/settings.py` line {line} is not valid Python"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("py_compile mysite/settings.py"), "{stderr}");
}

#[test]
fn empty_settings_are_refused() {
    let (tmp, dir) = common::copy_fixture("mysite");
    write(&dir.join("mysite/settings.py"), "\n  \n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(stderr.contains("`mysite/settings.py` is empty"), "{stderr}");
}

#[test]
fn settings_that_are_not_utf8_name_the_file_and_line() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let line = lines_in(&settings) + 1;
    append(&settings, b"GREETING = 'caf\xe9'\n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains(&format!(
            "`mysite/settings.py` line {line} is not valid UTF-8"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("as UTF-8"), "{stderr}");
}

/// A file declaring an encoding djrun does not edit (PEP 263) is refused, naming it.
#[test]
fn a_file_in_an_encoding_djrun_does_not_edit_is_refused_clearly() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let mut bytes = b"# -*- coding: shift_jis -*-\n".to_vec();
    bytes.extend(std::fs::read(&settings).unwrap());
    write(&settings, &bytes);
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("`mysite/settings.py` declares the encoding `shift-jis`"),
        "{stderr}"
    );
}

/// A declared Latin-1 file is read as Latin-1 and written back as Latin-1, every original
/// byte kept.
#[test]
fn a_latin1_file_that_declares_its_encoding_is_edited_in_latin1() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let mut bytes = b"# -*- coding: latin-1 -*-\n".to_vec();
    bytes.extend(std::fs::read(&settings).unwrap());
    bytes.extend_from_slice(b"GREETING = 'caf\xe9'\n");
    write(&settings, &bytes);
    init(&tmp, &dir, &[]).assert().success();
    let after = std::fs::read(&settings).unwrap();
    assert!(after.starts_with(&bytes), "every original byte kept");
    assert!(after[bytes.len()..].starts_with(b"\n# >>> djrun"));
}

#[test]
fn binary_settings_name_the_file() {
    // NUL bytes are valid UTF-8, so these reach the parser.
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let line = lines_in(&settings) + 1;
    append(&settings, b"\x00\x00\x01\x02ELF\x00\n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains(&format!("`mysite/settings.py` line {line}")),
        "{stderr}"
    );
    // Bytes of an image: not UTF-8 at all.
    let (tmp, dir) = common::copy_fixture("mysite");
    write(
        &dir.join("mysite/settings.py"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    );
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("`mysite/settings.py` line 1 is not valid UTF-8"),
        "{stderr}"
    );
}

fn assignments(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 100);
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(&format!(
            "SETTING_{i} = \"value number {i}, padded a little\"\n"
        ));
        i += 1;
    }
    text
}

#[test]
fn an_enormous_settings_file_is_refused_at_once() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str(&assignments(20_000_000));
    write(&settings, &text);
    let start = Instant::now();
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    let took = start.elapsed();
    eprintln!("20 MB settings: refused in {took:?}");
    assert!(took < HANG_GUARD, "took {took:?}");
    assert!(
        stderr.contains("`mysite/settings.py` is 20.1 MB, larger than any Python module"),
        "{stderr}"
    );
}

#[test]
fn a_large_settings_file_within_the_limit_is_edited_in_bounded_time() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str(&assignments(900_000));
    write(&settings, &text);
    let start = Instant::now();
    init(&tmp, &dir, &[]).assert().success();
    let took = start.elapsed();
    eprintln!("0.9 MB settings: edited in {took:?}");
    assert!(took < HANG_GUARD, "took {took:?}");
    let after = std::fs::read_to_string(&settings).unwrap();
    assert!(after.starts_with(&text), "every original byte kept");
    assert!(after[text.len()..].starts_with("\n# >>> djrun"));
}

// ---- dependency files ---------------------------------------------------------------------

#[test]
fn broken_toml_in_pyproject_names_the_file_and_line() {
    let (tmp, dir) = common::copy_fixture("poetry2");
    let pyproject = dir.join("pyproject.toml");
    let line = lines_in(&pyproject) + 2;
    append(&pyproject, b"\n[tool.poetry\nx = 1\n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains(&format!("`pyproject.toml` line {line} is not valid TOML")),
        "{stderr}"
    );
    assert!(stderr.contains("fix `pyproject.toml`"), "{stderr}");
}

#[test]
fn broken_json_in_pipfile_lock_names_the_file_and_line() {
    let (tmp, dir) = common::copy_fixture("pipenv-project");
    write(
        &dir.join("Pipfile.lock"),
        "{\n  \"_meta\": {\n    \"hash\": \n",
    );
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("`Pipfile.lock` line ") && stderr.contains("not valid JSON"),
        "{stderr}"
    );
    assert!(stderr.contains("pipenv lock"), "{stderr}");
}

#[test]
fn an_empty_requirements_file_gets_the_server_and_works() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let requirements = dir.join("requirements.txt");
    write(&requirements, "");
    init(&tmp, &dir, &[]).assert().success();
    let after = std::fs::read_to_string(&requirements).unwrap();
    assert!(after.starts_with("gunicorn>=23.0\n"), "{after:?}");
    assert!(after.lines().all(|l| !l.trim().is_empty()), "{after:?}");
    common::djrun(&gcloud(&tmp))
        .args(["init", "--check"])
        .arg(&dir)
        .assert()
        .code(0);
}

#[test]
fn hash_checking_mode_says_so_and_how_to_add_hashes() {
    let (tmp, dir) = common::copy_fixture("mysite");
    write(
        &dir.join("requirements.txt"),
        "# pip-compile --generate-hashes\nDjango==5.2.1 \\\n    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("`requirements.txt` line 3 uses `--hash`")
            && stderr.contains("hash-checking mode"),
        "{stderr}"
    );
    assert!(stderr.contains("--generate-hashes"), "{stderr}");
    assert!(stderr.contains("`gunicorn>=23.0`"), "{stderr}");
}

#[test]
fn a_crlf_pyproject_stays_crlf_and_keeps_its_lines() {
    let (tmp, dir) = common::copy_fixture("poetry-classic");
    let pyproject = dir.join("pyproject.toml");
    let before = std::fs::read_to_string(&pyproject)
        .unwrap()
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    write(&pyproject, &before);
    init(&tmp, &dir, &[]).assert().success();
    let after = std::fs::read_to_string(&pyproject).unwrap();
    assert_ne!(after, before, "djrun edited it (the test needs an edit)");
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "a bare LF: {after:?}"
    );
    // Every original line is still there, in order.
    let mut rest = after.split("\r\n");
    for line in before.split("\r\n") {
        assert!(rest.any(|l| l == line), "lost {line:?} in {after:?}");
    }
}

#[test]
fn a_requirements_txt_that_is_a_folder_is_refused() {
    let (tmp, dir) = common::copy_fixture("mysite");
    std::fs::remove_file(dir.join("requirements.txt")).unwrap();
    std::fs::create_dir(dir.join("requirements.txt")).unwrap();
    write(&dir.join("requirements.txt/base.txt"), "Django>=5.2\n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(stderr.contains("requirements.txt"), "{stderr}");
}

#[test]
fn a_requirements_txt_that_is_a_folder_is_named_as_one() {
    let (tmp, dir) = common::copy_fixture("mysite");
    std::fs::remove_file(dir.join("requirements.txt")).unwrap();
    std::fs::create_dir(dir.join("requirements.txt")).unwrap();
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("`requirements.txt`")
            && (stderr.contains("folder") || stderr.contains("not a file")),
        "{stderr}"
    );
}

// ---- which project ----------------------------------------------------------------------

#[test]
fn no_django_project_names_the_folder_and_manage_py() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("not-django");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    write(&dir.join("src/app.py"), "print('hello')\n");
    write(&dir.join("requirements.txt"), "flask\n");
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("no Django project found") && stderr.contains("`manage.py`"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("`{}`", dir.display())), "{stderr}");
}

#[test]
fn several_django_projects_are_listed_and_the_hint_works() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("monorepo");
    common::copy_dir(&common::fixture("mysite"), &dir.join("shop"));
    common::copy_dir(&common::fixture("mysite"), &dir.join("blog"));
    let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
    assert!(
        stderr.contains("several Django projects")
            && stderr.contains("`blog/manage.py`")
            && stderr.contains("`shop/manage.py`"),
        "{stderr}"
    );
    // The hint names a flag that exists and picks one.
    let flag = stderr
        .split('`')
        .find(|s| s.starts_with("--project-dir "))
        .unwrap_or_else(|| panic!("the hint names --project-dir: {stderr}"));
    let before = common::tree(&dir);
    common::djrun(&gcloud(&tmp))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .args(flag.split(' '))
        .arg(&dir)
        .assert()
        .success();
    assert_eq!(common::tree(&dir), before);
}

// ---- links --------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn symlink_loops_do_not_hang_the_walk() {
    use std::os::unix::fs::symlink;
    let (tmp, dir) = common::copy_fixture("mysite");
    symlink("..", dir.join("mysite/up")).unwrap();
    symlink("loop-b", dir.join("loop-a")).unwrap();
    symlink("loop-a", dir.join("loop-b")).unwrap();
    std::fs::create_dir(dir.join("deep")).unwrap();
    symlink("../deep", dir.join("deep/again")).unwrap();
    let before = common::tree(&dir);
    let start = Instant::now();
    common::djrun(&gcloud(&tmp))
        .args(["init", "--dry-run"])
        .args(FLAGS)
        .arg(&dir)
        .timeout(HANG_GUARD)
        .assert()
        .success()
        .stdout(predicate::str::contains("+++ b/mysite/settings.py"));
    assert!(start.elapsed() < HANG_GUARD);
    assert_eq!(common::tree(&dir), before);
}

#[cfg(unix)]
#[test]
fn a_settings_file_that_is_a_symlink_loop_names_the_file() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let settings = dir.join("mysite/settings.py");
    std::fs::remove_file(&settings).unwrap();
    std::os::unix::fs::symlink("settings.py", &settings).unwrap();
    let mut cmd = init(&tmp, &dir, &[]);
    cmd.timeout(HANG_GUARD);
    let stderr = refused(cmd, &dir, true);
    assert!(
        stderr.contains("`mysite/settings.py` is a link that leads nowhere"),
        "{stderr}"
    );
    assert!(std::fs::symlink_metadata(&settings)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A file djrun would edit that is a link out of the project: djrun never writes outside the
/// project, so it refuses, names the file, and leaves the link and its target alone.
#[cfg(unix)]
#[test]
fn files_linked_from_outside_the_project_are_refused() {
    for file in ["mysite/settings.py", "requirements.txt"] {
        let (tmp, dir) = common::copy_fixture("mysite");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let target = outside.join(Path::new(file).file_name().unwrap());
        std::fs::rename(dir.join(file), &target).unwrap();
        std::os::unix::fs::symlink(&target, dir.join(file)).unwrap();
        let outside_before = common::tree(&outside);
        let stderr = refused(init(&tmp, &dir, &[]), &dir, true);
        assert!(
            stderr.contains(&format!("`{file}`")) && stderr.contains("outside the project"),
            "{stderr}"
        );
        assert_eq!(
            common::tree(&outside),
            outside_before,
            "{file}: wrote outside"
        );
        assert!(
            std::fs::symlink_metadata(dir.join(file))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{file}: the link is still a link"
        );
    }
}

/// A link to a file inside the project is edited through: the link stays a link.
#[cfg(unix)]
#[test]
fn a_settings_file_linked_inside_the_project_is_edited_through_the_link() {
    let (tmp, dir) = common::copy_fixture("mysite");
    std::fs::create_dir(dir.join("shared")).unwrap();
    std::fs::rename(
        dir.join("mysite/settings.py"),
        dir.join("shared/settings.py"),
    )
    .unwrap();
    std::os::unix::fs::symlink("../shared/settings.py", dir.join("mysite/settings.py")).unwrap();
    let before = std::fs::read_to_string(dir.join("shared/settings.py")).unwrap();
    init(&tmp, &dir, &[]).assert().success();
    assert!(std::fs::symlink_metadata(dir.join("mysite/settings.py"))
        .unwrap()
        .file_type()
        .is_symlink());
    let after = std::fs::read_to_string(dir.join("shared/settings.py")).unwrap();
    assert!(
        after.starts_with(&before) && after.contains("# >>> djrun"),
        "{after}"
    );
}

// ---- permissions --------------------------------------------------------------------------

/// A djrun command for which file modes matter: as is for a normal user; as `nobody`
/// (through `setpriv`, owning `dir`) when the tests run as root, who may write anything.
/// `None`, after printing why, when neither works: the test is then skipped, loudly.
#[cfg(unix)]
fn unprivileged(tmp: &tempfile::TempDir, dir: &Path) -> Option<assert_cmd::Command> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
    if euid != 0 {
        return Some(common::djrun(&gcloud(tmp)));
    }
    const NOBODY: u32 = 65534;
    let bin = env!("CARGO_BIN_EXE_djrun");
    let works = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin,
            "--version",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        eprintln!(
            "SKIPPED: running as root, and `setpriv` cannot run djrun as nobody; file modes do not bind root"
        );
        return None;
    }
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        std::os::unix::fs::lchown(entry.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mut cmd = assert_cmd::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin])
        .env("CLOUDSDK_CONFIG", gcloud(tmp))
        .env_remove("CLOUDSDK_CORE_PROJECT")
        .env_remove("CLOUDSDK_RUN_REGION")
        .env_remove("CLOUDSDK_COMPUTE_REGION")
        .env_remove("CLOUDSDK_ACTIVE_CONFIG_NAME")
        .env("NO_COLOR", "1");
    Some(cmd)
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A folder djrun must write in that is read-only: nothing is written anywhere, not even in
/// the folders that are writable (every target is checked before any is written).
#[cfg(unix)]
#[test]
fn a_read_only_folder_changes_nothing_anywhere() {
    for folder in [".", "mysite"] {
        let (tmp, dir) = common::copy_fixture("mysite");
        let Some(mut cmd) = unprivileged(&tmp, &dir) else {
            return;
        };
        cmd.args(["init", "--yes"]).args(FLAGS).arg(&dir);
        chmod(&dir.join(folder), 0o555);
        let stderr = refused(cmd, &dir, false);
        chmod(&dir.join(folder), 0o755);
        assert!(stderr.contains("Permission denied"), "{folder}: {stderr}");
        assert!(
            stderr.contains(&format!("`{folder}`")),
            "names the folder: {stderr}"
        );
    }
}

/// A read-only file djrun would edit: "check every target is writable before writing any".
#[cfg(unix)]
#[test]
fn a_read_only_file_is_refused() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let Some(mut cmd) = unprivileged(&tmp, &dir) else {
        return;
    };
    cmd.args(["init", "--yes"]).args(FLAGS).arg(&dir);
    chmod(&dir.join("requirements.txt"), 0o444);
    let stderr = refused(cmd, &dir, true);
    assert!(stderr.contains("`requirements.txt`"), "{stderr}");
}

// ---- flags --------------------------------------------------------------------------------

#[test]
fn flag_values_that_would_inject_are_refused_before_anything_is_rendered() {
    let (tmp, dir) = common::copy_fixture("mysite");
    let cases = [
        ("--service", "a\nb"),
        ("--region", "eu;rm"),
        ("--project", "$(x)"),
        ("--python", "3.13 && x"),
        ("--service", "svc`id`"),
        ("--region", "europe-west1\n  - evil"),
    ];
    for (flag, value) in cases {
        let mut cmd = common::djrun(&gcloud(&tmp));
        cmd.args(["init", "--yes"]);
        for pair in FLAGS.chunks(2) {
            if pair[0] != flag {
                cmd.args(pair);
            }
        }
        cmd.arg(format!("{flag}={value}")).arg(&dir);
        let before = common::tree(&dir);
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value:?}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "{flag} {value:?}: nothing rendered"
        );
        assert!(
            stderr.contains(&format!("`{flag}`")),
            "{flag} {value:?}: {stderr}"
        );
        assert!(stderr.contains("\nhint: "), "{flag} {value:?}: {stderr}");
        assert_eq!(common::tree(&dir), before, "{flag} {value:?}");
    }
}

// ---- what the user wrote ------------------------------------------------------------------

#[test]
fn a_generated_file_the_user_edited_is_shown_as_a_diff_under_dry_run() {
    let (tmp, dir) = common::copy_fixture("mysite");
    init(&tmp, &dir, &[]).assert().success();
    let dockerfile = dir.join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(text.starts_with("# Generated by djrun"));
    let edited = text.replacen("\nUSER ", "\nRUN echo user-edit\nUSER ", 1);
    assert_ne!(edited, text);
    write(&dockerfile, &edited);
    let before = common::tree(&dir);
    common::djrun(&gcloud(&tmp))
        .args(["init", "--dry-run"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--- a/Dockerfile\n+++ b/Dockerfile")
                .and(predicate::str::contains("-RUN echo user-edit")),
        )
        .stderr(predicate::str::contains("nothing was written"));
    assert_eq!(common::tree(&dir), before);
}
