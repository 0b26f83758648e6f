//! Running gcloud as a child process: arguments on argv, secrets only on its standard
//! input, never a shell. Each child runs in a process group of its own, so a Ctrl-C reaches
//! djrun alone and the command in flight ends on its own terms.

use crate::{Error, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The program run: `gcloud`, found on `PATH`.
pub const PROGRAM: &str = "gcloud";

/// How a gcloud command ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Whether it exited 0.
    pub success: bool,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Output {
    /// gcloud's own message: its stderr, else its stdout, trimmed.
    pub fn message(&self) -> String {
        let err = self.stderr.trim();
        if err.is_empty() {
            self.stdout.trim().to_string()
        } else {
            err.to_string()
        }
    }
}

/// What kind of failure a gcloud message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The API the command uses is off in the project.
    ApiDisabled,
    /// The caller lacks a permission.
    PermissionDenied,
    /// The thing to create is there already.
    AlreadyExists,
    /// The thing does not exist.
    NotFound,
    /// Anything else.
    Other,
}

/// Read gcloud's message for the kind of failure.
pub fn classify(message: &str) -> Failure {
    let m = message.to_ascii_lowercase();
    if m.contains("service_disabled")
        || m.contains("has not been used in project")
        || m.contains("it is disabled")
        || m.contains("api not enabled")
        || m.contains("is not enabled")
    {
        Failure::ApiDisabled
    } else if m.contains("permission_denied")
        || m.contains("permission denied")
        || m.contains("does not have permission")
        || m.contains("forbidden")
        || m.contains("not authorized")
    {
        Failure::PermissionDenied
    } else if m.contains("already_exists") || m.contains("already exists") {
        Failure::AlreadyExists
    } else if m.contains("not_found") || m.contains("not found") || m.contains("does not exist") {
        Failure::NotFound
    } else {
        Failure::Other
    }
}

/// The first `NAME.googleapis.com` a message names.
pub fn api_named(message: &str) -> Option<String> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .find(|w| w.ends_with(".googleapis.com") && w.len() > ".googleapis.com".len())
        .map(str::to_string)
}

fn command(args: &[String], cwd: &Path) -> Command {
    let mut cmd = Command::new(PROGRAM);
    cmd.args(args)
        .current_dir(cwd)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd
}

fn spawn(mut cmd: Command) -> Result<Child> {
    cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::cloud(
                "`gcloud` is not installed or not on `PATH`",
                "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), run `gcloud auth login`, then run `djrun deploy` again",
            )
        } else {
            Error::io("run", PROGRAM, e)
        }
    })
}

/// Run `gcloud ARGS` in `cwd`, feeding `stdin` (or nothing) to it, and collect its output.
pub fn run(args: &[String], stdin: Option<&[u8]>, cwd: &Path) -> Result<Output> {
    let mut cmd = command(args, cwd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = spawn(cmd)?;
    let writer = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => {
            let bytes = bytes.to_vec();
            // A thread, so a child that writes much before it reads cannot deadlock us.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("run", PROGRAM, e))?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    Ok(Output {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Run `gcloud ARGS` in `cwd`, writing every line it prints (stdout and stderr) to `sink`,
/// indented, as it comes; the output keeps the last lines of each for the error message.
pub fn stream(args: &[String], cwd: &Path, sink: &mut dyn Write) -> Result<Output> {
    let mut cmd = command(args, cwd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(cmd)?;
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let mut readers = Vec::new();
    let pipes: [(bool, Option<Box<dyn Read + Send>>); 2] = [
        (false, child.stdout.take().map(|p| Box::new(p) as _)),
        (true, child.stderr.take().map(|p| Box::new(p) as _)),
    ];
    for (is_err, pipe) in pipes {
        let Some(pipe) = pipe else { continue };
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for l in BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                if tx.send((is_err, l)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for (is_err, l) in rx {
        let _ = writeln!(sink, "    {l}");
        let kept = if is_err { &mut err } else { &mut out };
        kept.push(l);
        if kept.len() > 40 {
            kept.remove(0);
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait().map_err(|e| Error::io("run", PROGRAM, e))?;
    Ok(Output {
        success: status.success(),
        stdout: out.join("\n"),
        stderr: err.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_for_their_kind() {
        let disabled = "ERROR: (gcloud.secrets.describe) PERMISSION_DENIED: Secret Manager API has not been used in project 123 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/secretmanager.googleapis.com/overview?project=123";
        assert_eq!(classify(disabled), Failure::ApiDisabled);
        assert_eq!(
            api_named(disabled).as_deref(),
            Some("secretmanager.googleapis.com")
        );
        assert_eq!(
            classify("ERROR: (gcloud.sql.instances.create) PERMISSION_DENIED: The caller does not have permission"),
            Failure::PermissionDenied
        );
        assert_eq!(
            classify("ERROR: (gcloud.sql.users.create) ... already exists"),
            Failure::AlreadyExists
        );
        assert_eq!(
            classify("ERROR: (gcloud.secrets.describe) NOT_FOUND: Secret [x] not found"),
            Failure::NotFound
        );
        assert_eq!(classify("ERROR: something odd"), Failure::Other);
    }
}
