//! Which application the repository's own deploy files serve: the target of a gunicorn,
//! uvicorn, Daphne, Hypercorn, Granian or uWSGI command line in a Dockerfile's `CMD` or
//! `ENTRYPOINT` (exec or shell form), a Procfile or a Compose file's `command:`. The files
//! are read as [`super::settings_module`] reads them for the settings module.

use super::settings;
use super::settings_module::{declaring_lines, Evidence};
use std::path::Path;

/// The files that may run the server, the deployment's own first.
const SERVING_FILES: &[(&str, &str)] = &[
    ("Dockerfile", "the Dockerfile's command"),
    ("Procfile", "the Procfile"),
    ("docker-compose.yml", "the Compose file's command"),
    ("docker-compose.yaml", "the Compose file's command"),
    ("compose.yml", "the Compose file's command"),
    ("compose.yaml", "the Compose file's command"),
];

/// The servers djrun recognises, with the attribute each serves when the target names
/// none (uvicorn and Daphne require one).
const SERVERS: &[(&str, &str)] = &[
    ("gunicorn", "application"),
    ("uvicorn", "application"),
    ("daphne", "application"),
    ("hypercorn", "app"),
    ("granian", "app"),
    ("uwsgi", "application"),
];

/// The words that may stand right before the server's name on a line that runs it.
const LAUNCHERS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "-",
    "exec",
    "-m",
    "-c",
    "--",
    "run",
    "run-program",
];

/// An application a deploy file runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// `module.path.attribute`.
    pub application: String,
    /// Whether the server runs it as ASGI.
    pub asgi: bool,
    /// `file:line what`, for every line that runs it.
    pub evidence: Vec<Evidence>,
}

/// What one command line runs: the server, the module, the attribute, and whether as ASGI.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    server: &'static str,
    module: String,
    attribute: String,
    asgi: bool,
}

/// Whether `s` is a dotted path of Python identifiers (`config.asgi`).
fn is_dotted(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(settings::is_env_name)
}

/// `module:attribute` or `module`, split; `None` when it is not a dotted path.
fn target(token: &str) -> Option<(String, Option<String>)> {
    match token.split_once(':') {
        Some((module, attr)) if is_dotted(module) && settings::is_env_name(attr) => {
            Some((module.to_string(), Some(attr.to_string())))
        }
        Some(_) => None,
        None => is_dotted(token).then(|| (token.to_string(), None)),
    }
}

/// The words of one command: an exec-form array's strings or a shell command's words, with
/// quotes, brackets and commas set aside.
fn words(segment: &str) -> Vec<String> {
    segment
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| matches!(c, '"' | '\'' | '[' | ']')))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The application `line` runs, if it runs one of [`SERVERS`].
fn command_on(line: &str) -> Option<Command> {
    // A shell line may run several commands: `migrate; gunicorn ...`, `... && daphne ...`.
    line.split([';', '|', '&']).find_map(|segment| {
        let words = words(segment);
        // The server must be the command, not a word in one (`pip install gunicorn`): the
        // first word, or one after an instruction, a Procfile or Compose key, or a launcher.
        let at = words.iter().enumerate().position(|(i, w)| {
            let name = w.rsplit('/').next().unwrap_or(w);
            let launched =
                i == 0 || words[i - 1].ends_with(':') || LAUNCHERS.contains(&words[i - 1].as_str());
            launched && SERVERS.iter().any(|(s, _)| *s == name)
        })?;
        let name = words[at].rsplit('/').next().unwrap_or(&words[at]);
        let (server, default_attr) = *SERVERS.iter().find(|(s, _)| *s == name)?;
        let args = &words[at + 1..];
        let value = |flags: &[&str]| -> Option<String> {
            args.iter().enumerate().find_map(|(i, w)| {
                flags.iter().find_map(|f| {
                    if w == f {
                        args.get(i + 1).cloned()
                    } else {
                        w.strip_prefix(&format!("{f}=")).map(str::to_string)
                    }
                })
            })
        };
        let (module, attribute) = if server == "uwsgi" {
            if let Some(module) = value(&["--module", "-w", "--wsgi"]) {
                target(&module)?
            } else {
                let file = value(&["--wsgi-file", "--file"])?;
                let file = file.trim_start_matches("./");
                let module = file
                    .strip_suffix("/__init__.py")
                    .or_else(|| file.strip_suffix(".py"))?
                    .replace('/', ".");
                target(&module)?
            }
        } else {
            // The target is the first word that is a dotted path with an attribute, else
            // the first dotted path that is not an option's value.
            let targets: Vec<(usize, (String, Option<String>))> = args
                .iter()
                .enumerate()
                .filter(|(_, w)| !w.starts_with('-'))
                .filter_map(|(i, w)| target(w).map(|t| (i, t)))
                .collect();
            let with_attr = targets.iter().find(|(_, (_, a))| a.is_some());
            let bare = targets.iter().find(|(i, _)| {
                *i == 0 || !args[i - 1].starts_with('-') || args[i - 1].contains('=')
            });
            with_attr.or(bare).map(|(_, t)| t.clone())?
        };
        let worker = value(&["-k", "--worker-class"]).unwrap_or_default();
        let interface = value(&["--interface"]).unwrap_or_default();
        let asgi = match server {
            "gunicorn" => worker.to_ascii_lowercase().contains("uvicorn"),
            "uwsgi" => false,
            "granian" => {
                interface.starts_with("asgi")
                    || (interface.is_empty() && module.rsplit('.').next() == Some("asgi"))
            }
            _ => true,
        };
        Some(Command {
            server,
            attribute: attribute.unwrap_or_else(|| default_attr.to_string()),
            module,
            asgi,
        })
    })
}

/// Whether `module` is a module or a package below `project`.
fn exists(project: &Path, module: &str) -> bool {
    settings::locate(project, module).is_some()
}

/// The application the repository's deploy files run, when the module they name exists
/// below `project` (a file or a package); the first file and line that names one decides,
/// and every line that names the same application is evidence. `folders` are where to look,
/// as for the settings module.
pub fn declared(project: &Path, folders: &[(&Path, &str)]) -> Option<Declared> {
    let mut found: Option<Declared> = None;
    for (file, line, text, what) in declaring_lines(folders, SERVING_FILES, true, true) {
        let Some(command) = command_on(&text) else {
            continue;
        };
        if !exists(project, &command.module) {
            continue;
        }
        let application = format!("{}.{}", command.module, command.attribute);
        let evidence = format!(
            "{file}:{line} {what} runs `{}:{}` with {}",
            command.module, command.attribute, command.server
        );
        match &mut found {
            None => {
                found = Some(Declared {
                    application,
                    asgi: command.asgi,
                    evidence: vec![evidence],
                })
            }
            Some(d) if d.application == application => d.evidence.push(evidence),
            Some(_) => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(line: &str) -> Option<(String, String, bool)> {
        command_on(line).map(|c| (c.module, c.attribute, c.asgi))
    }

    fn asgi(module: &str, attr: &str) -> Option<(String, String, bool)> {
        Some((module.to_string(), attr.to_string(), true))
    }

    fn wsgi(module: &str, attr: &str) -> Option<(String, String, bool)> {
        Some((module.to_string(), attr.to_string(), false))
    }

    #[test]
    fn reads_the_target_of_every_server_in_every_form() {
        for (line, expected) in [
            (r#"CMD ["daphne", "myproj.asgi:application"]"#, asgi("myproj.asgi", "application")),
            (
                r#"CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "myproj.asgi:application"]"#,
                asgi("myproj.asgi", "application"),
            ),
            (
                "CMD gunicorn myproj.asgi:application -k uvicorn.workers.UvicornWorker --bind 0.0.0.0:$PORT",
                asgi("myproj.asgi", "application"),
            ),
            (
                "CMD gunicorn -k uvicorn.workers.UvicornWorker myproj.asgi",
                asgi("myproj.asgi", "application"),
            ),
            (
                "web: gunicorn --worker-class=uvicorn_worker.UvicornWorker config.asgi:app",
                asgi("config.asgi", "app"),
            ),
            ("web: gunicorn config.wsgi --log-file -", wsgi("config.wsgi", "application")),
            (
                "CMD set -xe; python manage.py migrate --noinput; gunicorn mysite.wsgi:application",
                wsgi("mysite.wsgi", "application"),
            ),
            (
                r#"ENTRYPOINT ["/venv/bin/uvicorn", "--host", "0.0.0.0", "shop.asgi:application"]"#,
                asgi("shop.asgi", "application"),
            ),
            (
                "    command: sh -c \"python manage.py migrate && hypercorn shop.asgi:application --bind 0.0.0.0:8000\"",
                asgi("shop.asgi", "application"),
            ),
            (
                "    command: [\"hypercorn\", \"shop.asgi\"]",
                asgi("shop.asgi", "app"),
            ),
            (
                "web: granian --interface asgi shop.asgi:application",
                asgi("shop.asgi", "application"),
            ),
            (
                "web: granian --interface wsgi shop.wsgi:application",
                wsgi("shop.wsgi", "application"),
            ),
            (
                "CMD uwsgi --http :8000 --module shop.wsgi:application --master",
                wsgi("shop.wsgi", "application"),
            ),
            ("CMD uwsgi --http=:8000 --wsgi-file shop/wsgi.py", wsgi("shop.wsgi", "application")),
            (
                "CMD python -m gunicorn shop.wsgi --bind 0.0.0.0:8000",
                wsgi("shop.wsgi", "application"),
            ),
        ] {
            assert_eq!(command(line), expected, "{line}");
        }
        for line in [
            "CMD python manage.py runserver 0.0.0.0:8000",
            "RUN pip install gunicorn uvicorn",
            "worker: celery -A shop worker",
            "CMD gunicorn",
            "web: gunicorn $APP_MODULE",
        ] {
            assert_eq!(command(line), None, "{line}");
        }
    }

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_package_named_in_a_dockerfile_is_the_application_with_its_evidence() {
        let dir = project(&[
            ("relay/__init__.py", ""),
            ("relay/asgi/__init__.py", "application = None\n"),
            (
                "Dockerfile",
                "FROM python:3.13-slim\nCMD [\"gunicorn\", \"relay.asgi:application\", \\\n     \"-k\", \"uvicorn.workers.UvicornWorker\"]\n",
            ),
            ("Procfile", "web: uvicorn relay.asgi:application --port $PORT\n"),
        ]);
        let found = declared(dir.path(), &[(dir.path(), ".")]).unwrap();
        assert_eq!(found.application, "relay.asgi.application");
        assert!(found.asgi);
        assert_eq!(
            found.evidence,
            vec![
                "Dockerfile:2 the Dockerfile's command runs `relay.asgi:application` with gunicorn",
                "Procfile:1 the Procfile runs `relay.asgi:application` with uvicorn",
            ]
        );
    }

    #[test]
    fn a_module_that_does_not_exist_is_not_trusted() {
        let dir = project(&[
            ("relay/__init__.py", ""),
            ("relay/wsgi.py", "application = None\n"),
            (
                "Dockerfile",
                "CMD [\"daphne\", \"relay.asgi:application\"]\n",
            ),
            (
                "compose.yaml",
                "services:\n  web:\n    command: gunicorn relay.wsgi --bind 0.0.0.0:8000\n",
            ),
        ]);
        let found = declared(dir.path(), &[(dir.path(), "backend")]).unwrap();
        assert_eq!(found.application, "relay.wsgi.application");
        assert!(!found.asgi);
        assert_eq!(
            found.evidence,
            vec!["backend/compose.yaml:3 the Compose file's command runs `relay.wsgi:application` with gunicorn"],
            "the Dockerfile names `relay.asgi`, which does not exist"
        );
        let dir = project(&[
            ("relay/__init__.py", ""),
            (
                "Dockerfile",
                "CMD [\"daphne\", \"relay.asgi:application\"]\n",
            ),
        ]);
        assert_eq!(declared(dir.path(), &[(dir.path(), ".")]), None);
    }

    #[test]
    fn a_dockerfile_djrun_generated_is_no_evidence() {
        let dir = project(&[
            ("relay/__init__.py", ""),
            ("relay/wsgi.py", "application = None\n"),
            (
                "Dockerfile",
                "# Generated by djrun from your Django project.\nCMD [\"gunicorn\", \"relay.wsgi:application\"]\n",
            ),
        ]);
        assert_eq!(declared(dir.path(), &[(dir.path(), ".")]), None);
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM python:3.13-slim\nCMD [\"gunicorn\", \"relay.wsgi:application\"]\n",
        )
        .unwrap();
        assert!(declared(dir.path(), &[(dir.path(), ".")]).is_some());
    }
}
