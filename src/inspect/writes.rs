//! Places the settings write to when they start: a `LOGGING` file handler's file, a file
//! opened for writing, a folder made (`open(BASE_DIR / "secret.txt", "w")`,
//! `os.makedirs(BASE_DIR / "data")`, `(BASE_DIR / "logs").mkdir()`, `path.write_text(...)`).
//! The image's code is not writable by the user it runs as, so each such place gets a folder
//! that user owns; Cloud Run keeps it in memory, and what is written there is lost when the
//! instance stops.
//!
//! Paths are read where they are built from `BASE_DIR` (or `PROJECT_ROOT`, `ROOT_DIR`, ...,
//! taken to be the project folder), from a relative string (relative to the project folder,
//! where the app runs) or from an absolute one, with `/` and `os.path.join`, through names
//! assigned before. Anything else (a path from the environment, an f-string) is not followed.

use super::Location;
use crate::python::{Expr, ExprKind, PyModule};
use serde::Serialize;
use std::collections::HashMap;

/// One place the settings write to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Write {
    /// The path written, relative to the project folder (`logs/app.log`) or absolute.
    pub path: String,
    /// The folder that must be writable: the path's own for a folder, its parent's for a
    /// file (`.` is the project folder).
    pub folder: String,
    /// `log file`, `file` or `folder`.
    pub kind: &'static str,
    /// Where the settings write it.
    pub at: Location,
}

impl Write {
    /// `log file `logs/app.log` (site/settings.py:12)`, as the Dockerfile and `inspect` say it.
    pub fn describe(&self) -> String {
        format!(
            "{} `{}` ({}:{})",
            self.kind, self.path, self.at.file, self.at.line
        )
    }
}

/// Names taken to hold the project folder.
const ROOTS: &[&str] = &[
    "BASE_DIR",
    "PROJECT_DIR",
    "PROJECT_ROOT",
    "ROOT_DIR",
    "APP_DIR",
    "SITE_ROOT",
];

/// The places the settings chain writes to, in the order the settings run, each path once.
pub fn writes(modules: &[&PyModule]) -> Vec<Write> {
    let mut out: Vec<Write> = Vec::new();
    let mut names: HashMap<String, Expr> = HashMap::new();
    for module in modules {
        for statement in module.statements() {
            let Some(value) = &statement.value else {
                continue;
            };
            let at = |line: usize| Location {
                file: module.file().to_string(),
                line,
            };
            let is_logging = statement
                .targets
                .iter()
                .any(|t| matches!(&t.kind, ExprKind::Name(n) if n == "LOGGING"));
            let mut found: Vec<(String, &'static str, usize)> = Vec::new();
            if is_logging {
                filenames(value, &names, &mut found);
            }
            calls(value, &names, &mut found);
            for (path, kind, line) in found {
                if out.iter().any(|w| w.path == path) {
                    continue;
                }
                let folder = if kind == "folder" {
                    path.clone()
                } else {
                    match path.rsplit_once('/') {
                        Some(("", _)) => "/".to_string(),
                        Some((parent, _)) => parent.to_string(),
                        None => ".".to_string(),
                    }
                };
                out.push(Write {
                    path,
                    folder,
                    kind,
                    at: at(line),
                });
            }
            for target in &statement.targets {
                if let ExprKind::Name(name) = &target.kind {
                    names.insert(name.clone(), value.clone());
                }
            }
        }
    }
    out
}

/// `"filename": <path>` pairs anywhere in a `LOGGING` dictionary.
fn filenames(
    expr: &Expr,
    names: &HashMap<String, Expr>,
    out: &mut Vec<(String, &'static str, usize)>,
) {
    if let ExprKind::Other { kind, children } = &expr.kind {
        if kind == "pair" {
            if let [key, value] = children.as_slice() {
                if key.as_str() == Some("filename") {
                    if let Some(path) = path_of(value, names, 0) {
                        out.push((path, "log file", value.line));
                    }
                    return;
                }
            }
        }
    }
    for child in expr.children() {
        filenames(child, names, out);
    }
}

/// Calls that write: `open(path, "w")`, `os.makedirs(path)`, `os.mkdir(path)`,
/// `path.mkdir()`, `path.write_text(...)`, `path.write_bytes(...)`, `path.touch()`.
fn calls(expr: &Expr, names: &HashMap<String, Expr>, out: &mut Vec<(String, &'static str, usize)>) {
    if let ExprKind::Call {
        function,
        args,
        keywords,
    } = &expr.kind
    {
        let dotted = function.dotted().unwrap_or_default();
        let mode = args
            .get(1)
            .or_else(|| keywords.iter().find(|(k, _)| k == "mode").map(|(_, v)| v))
            .and_then(Expr::as_str);
        let found = match dotted.as_str() {
            "open" | "io.open" => mode
                .filter(|m| m.contains(['w', 'a', 'x']))
                .and(args.first())
                .map(|p| (p, "file")),
            "os.makedirs" | "os.mkdir" => args.first().map(|p| (p, "folder")),
            _ => match &function.kind {
                ExprKind::Attribute { object, attribute } => match attribute.as_str() {
                    "mkdir" => Some((object.as_ref(), "folder")),
                    "write_text" | "write_bytes" | "touch" => Some((object.as_ref(), "file")),
                    "open" => mode
                        .or_else(|| args.first().and_then(Expr::as_str))
                        .filter(|m| m.contains(['w', 'a', 'x']))
                        .map(|_| (object.as_ref(), "file")),
                    _ => None,
                },
                _ => None,
            },
        };
        if let Some((path, kind)) = found {
            if let Some(path) = path_of(path, names, 0) {
                out.push((path, kind, expr.line));
            }
        }
    }
    for child in expr.children() {
        calls(child, names, out);
    }
}

/// The path an expression builds, relative to the project folder or absolute; `None` when it
/// cannot be told.
fn path_of(expr: &Expr, names: &HashMap<String, Expr>, depth: usize) -> Option<String> {
    if depth > 8 {
        return None;
    }
    let joined = |base: String, part: &str| -> String {
        if part.starts_with('/') || base.is_empty() || base == "." {
            part.to_string()
        } else {
            format!("{}/{part}", base.trim_end_matches('/'))
        }
    };
    match &expr.kind {
        ExprKind::Str(s) => Some(s.clone()),
        ExprKind::Name(name) if ROOTS.contains(&name.as_str()) => Some(".".to_string()),
        ExprKind::Name(name) => path_of(names.get(name)?, names, depth + 1),
        // `BASE_DIR / "logs"`.
        ExprKind::Other { kind, children } if kind == "binary_operator" => {
            let [left, right] = children.as_slice() else {
                return None;
            };
            let operator = expr.text.get(left.text.len()..).unwrap_or_default();
            if !operator.trim_start().starts_with('/') {
                return None;
            }
            let base = path_of(left, names, depth + 1)?;
            Some(joined(base, right.as_str()?))
        }
        // `os.path.join(BASE_DIR, "logs", "app.log")`, `Path(BASE_DIR, "logs")`, `str(path)`.
        ExprKind::Call { function, args, .. } => {
            let dotted = function.dotted()?;
            match dotted.as_str() {
                "os.path.join" | "Path" | "pathlib.Path" | "PurePath" => {
                    let (first, rest) = args.split_first()?;
                    let mut path = path_of(first, names, depth + 1)?;
                    for part in rest {
                        path = joined(path, part.as_str()?);
                    }
                    Some(path)
                }
                "str" | "os.fspath" | "os.path.abspath" => path_of(args.first()?, names, depth + 1),
                _ => None,
            }
        }
        _ => None,
    }
    .map(|p| normalise(&p))
    .filter(|p| !p.split('/').any(|part| part == ".."))
}

/// `./logs/` is `logs`; an empty path is `.`.
fn normalise(path: &str) -> String {
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    match (absolute, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_string(),
        (false, false) => parts.join("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, String, &'static str, usize)> {
        let module = PyModule::parse("site/settings.py", text).unwrap();
        writes(&[&module])
            .into_iter()
            .map(|w| (w.path, w.folder, w.kind, w.at.line))
            .collect()
    }

    fn row(
        path: &str,
        folder: &str,
        kind: &'static str,
        line: usize,
    ) -> (String, String, &'static str, usize) {
        (path.to_string(), folder.to_string(), kind, line)
    }

    #[test]
    fn a_logging_file_handler_writes_its_file() {
        let got = found(concat!(
            "from pathlib import Path\n",
            "BASE_DIR = Path(__file__).resolve().parent.parent\n",
            "LOG_DIR = BASE_DIR / 'logs'\n",
            "LOGGING = {\n",
            "    'version': 1,\n",
            "    'handlers': {\n",
            "        'file': {'class': 'logging.FileHandler', 'filename': LOG_DIR / 'app.log'},\n",
            "        'audit': {'class': 'logging.FileHandler', 'filename': '/var/log/site/audit.log'},\n",
            "        'console': {'class': 'logging.StreamHandler'},\n",
            "    },\n",
            "}\n",
        ));
        assert_eq!(
            got,
            vec![
                row("logs/app.log", "logs", "log file", 7),
                row("/var/log/site/audit.log", "/var/log/site", "log file", 8),
            ]
        );
    }

    #[test]
    fn files_opened_for_writing_and_folders_made_are_found() {
        let got = found(concat!(
            "import os\n",
            "BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n",
            "KEY_FILE = os.path.join(BASE_DIR, 'secret.key')\n",
            "if not os.path.exists(KEY_FILE):\n",
            "    with open(KEY_FILE, 'w') as f:\n",
            "        f.write('x')\n",
            "os.makedirs(os.path.join(BASE_DIR, 'data', 'cache'), exist_ok=True)\n",
            "with open(os.path.join(BASE_DIR, 'README'), 'r') as f:\n",
            "    pass\n",
            "(Path(BASE_DIR) / 'tmp').mkdir(exist_ok=True)\n",
            "Path(os.environ['X']).touch()\n",
            "open(BASE_DIR + '/../elsewhere', 'w')\n",
        ));
        assert_eq!(
            got,
            vec![
                row("secret.key", ".", "file", 5),
                row("data/cache", "data/cache", "folder", 7),
                row("tmp", "tmp", "folder", 10),
            ]
        );
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise("./logs/"), "logs");
        assert_eq!(normalise(""), ".");
        assert_eq!(normalise("/var//log/"), "/var/log");
    }
}
