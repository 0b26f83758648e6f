//! Settings that load their own configuration while they are imported: a `.env` file read by
//! django-environ (`env.read_env(...)`, `environ.Env.read_env(...)`) or python-dotenv
//! (`load_dotenv(...)`), and a secret fetched from Secret Manager with
//! google-cloud-secret-manager (`SecretManagerServiceClient().access_secret_version(name=...)`),
//! often a whole `.env` file in one secret (`django_settings`) that the settings read from
//! memory (`env.read_env(io.StringIO(payload))`).
//!
//! Read like the environment: module-level statements and the bodies of top-level blocks,
//! not function bodies.

use super::Location;
use crate::python::{Block, Expr, ExprKind, PyModule};
use serde::Serialize;

/// A secret the settings fetch from Secret Manager on import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsSecret {
    /// The secret's id (`django_settings`), when the code names it literally or through a
    /// variable with a literal default.
    pub secret: Option<String>,
    /// The secret version's name as written (`f"projects/{project_id}/secrets/{name}/versions/latest"`).
    pub expression: String,
    /// The environment variable that overrides the secret's id, when there is one
    /// (`os.environ.get("SETTINGS_NAME", "django_settings")`).
    pub secret_env: Option<String>,
    /// The environment variable whose presence selects Secret Manager
    /// (`if os.environ.get("GOOGLE_CLOUD_PROJECT"):`), when an `if` guards the fetch.
    pub guard_env: Option<String>,
    /// Path relative to the root, `/`-separated.
    pub file: String,
    /// The line of the fetch (`access_secret_version`), else of the client.
    pub line: usize,
}

/// What the settings load at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Startup {
    /// Where a `.env` file is loaded.
    pub dotenv: Option<Location>,
    /// The secret fetched from Secret Manager.
    pub secret: Option<SettingsSecret>,
}

/// Every expression in `expr`, itself first; lambdas' bodies are left out.
fn walk<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    if matches!(&expr.kind, ExprKind::Other { kind, .. } if kind == "lambda") {
        return;
    }
    out.push(expr);
    for child in expr.children() {
        walk(child, out);
    }
}

fn last_part(function: &Expr) -> Option<String> {
    match &function.kind {
        ExprKind::Name(name) => Some(name.clone()),
        ExprKind::Attribute { attribute, .. } => Some(attribute.clone()),
        _ => None,
    }
}

/// Whether `expr` is a call of `io.StringIO(...)`: a `.env` read from memory, not a file.
fn is_stream(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Call { function, .. } => last_part(function).as_deref() == Some("StringIO"),
        _ => false,
    }
}

/// Read what `modules` (the chain, in the order Python runs it) load at start-up.
pub fn detect(modules: &[&PyModule]) -> Startup {
    let mut startup = Startup::default();
    for (index, module) in modules.iter().enumerate() {
        for statement in module.statements() {
            let mut exprs = Vec::new();
            for target in &statement.targets {
                walk(target, &mut exprs);
            }
            if let Some(value) = &statement.value {
                walk(value, &mut exprs);
            }
            for expr in exprs {
                let ExprKind::Call { function, args, .. } = &expr.kind else {
                    continue;
                };
                let Some(name) = last_part(function) else {
                    continue;
                };
                let at = || Location {
                    file: module.file().to_string(),
                    line: expr.line,
                };
                match name.as_str() {
                    // django-environ's `Env.read_env(env_file=None, overwrite=False, ...)`,
                    // python-dotenv's `load_dotenv(dotenv_path=None, stream=None, ...)`.
                    "read_env" | "load_dotenv" | "read_dotenv" => {
                        let method = matches!(function.kind, ExprKind::Attribute { .. });
                        if name == "read_env" && !method {
                            continue;
                        }
                        let source = args
                            .first()
                            .or_else(|| expr.keyword("stream"))
                            .or_else(|| expr.keyword("env_file"));
                        if source.is_some_and(is_stream) {
                            continue;
                        }
                        if startup.dotenv.is_none() {
                            startup.dotenv = Some(at());
                        }
                    }
                    "access_secret_version" => {
                        let name_expr = expr.keyword("name").or(args.first()).map(|e| {
                            // `request={"name": name}`.
                            request_name(e).unwrap_or(e)
                        });
                        let name_expr =
                            name_expr.or_else(|| expr.keyword("request").and_then(request_name));
                        let found = match name_expr {
                            Some(e) => secret_of(&modules[..=index], e),
                            None => (None, None, String::new()),
                        };
                        let previous_is_client = startup
                            .secret
                            .as_ref()
                            .is_some_and(|s| s.expression.is_empty());
                        if startup.secret.is_none() || previous_is_client {
                            startup.secret = Some(SettingsSecret {
                                secret: found.0,
                                secret_env: found.1,
                                expression: found.2,
                                guard_env: guard_env(&statement.blocks),
                                file: module.file().to_string(),
                                line: expr.line,
                            });
                        }
                    }
                    "SecretManagerServiceClient" if startup.secret.is_none() => {
                        startup.secret = Some(SettingsSecret {
                            secret: None,
                            secret_env: None,
                            expression: String::new(),
                            guard_env: guard_env(&statement.blocks),
                            file: module.file().to_string(),
                            line: expr.line,
                        });
                    }
                    _ => {}
                }
            }
        }
    }
    startup
}

/// The value of `"name"` in a request dictionary.
fn request_name(expr: &Expr) -> Option<&Expr> {
    let ExprKind::Other { kind, children } = &expr.kind else {
        return None;
    };
    if kind != "dictionary" {
        return None;
    }
    children.iter().find_map(|pair| match &pair.kind {
        ExprKind::Other { kind, children } if kind == "pair" => match children.as_slice() {
            [key, value] if key.as_str() == Some("name") => Some(value),
            _ => None,
        },
        _ => None,
    })
}

/// The upper-case variable an `if` around the fetch tests, innermost first.
fn guard_env(blocks: &[Block]) -> Option<String> {
    blocks.iter().rev().find_map(|block| match block {
        Block::If {
            condition: Some(condition),
        } => {
            let mut exprs = Vec::new();
            walk(condition, &mut exprs);
            exprs.into_iter().find_map(|e| {
                e.as_str()
                    .filter(|s| {
                        super::settings::is_env_name(s)
                            && s.chars().all(|c| !c.is_ascii_lowercase())
                    })
                    .map(str::to_string)
            })
        }
        _ => None,
    })
}

/// The expression last assigned to `name` in `modules`.
fn assigned<'m>(modules: &[&'m PyModule], name: &str) -> Option<&'m Expr> {
    modules.iter().rev().find_map(|module| {
        module.statements().iter().rev().find_map(|s| {
            let named = s
                .targets
                .iter()
                .any(|t| matches!(&t.kind, ExprKind::Name(n) if n == name));
            if named {
                s.value.as_ref()
            } else {
                None
            }
        })
    })
}

/// The string `expr` stands for, and the environment variable that may override it: a
/// literal, a name assigned one, or a read of the environment with a literal default
/// (`os.environ.get("X", "d")`, `os.getenv`, `env("X", default="d")`, `config`).
fn string_of(modules: &[&PyModule], expr: &Expr, depth: usize) -> (Option<String>, Option<String>) {
    if depth > 4 {
        return (None, None);
    }
    match &expr.kind {
        ExprKind::Str(s) => (Some(s.clone()), None),
        ExprKind::Name(name) => match assigned(modules, name) {
            Some(value) => string_of(modules, value, depth + 1),
            None => (None, None),
        },
        ExprKind::Call { function, args, .. }
            if matches!(
                (function.dotted().as_deref(), last_part(function).as_deref()),
                (Some("env" | "config" | "getenv"), _)
                    | (_, Some("get" | "getenv" | "pop" | "str"))
            ) && function.dotted().as_deref() != Some("str") =>
        {
            let var = args.first().and_then(Expr::as_str).map(str::to_string);
            let default = expr.keyword("default").or(args.get(1));
            match (var, default) {
                (Some(var), Some(default)) => (string_of(modules, default, depth + 1).0, Some(var)),
                (Some(var), None) => (None, Some(var)),
                _ => (None, None),
            }
        }
        _ => (None, None),
    }
}

/// The secret id in a secret version's name, the variable that overrides it, and the name as
/// written.
fn secret_of(modules: &[&PyModule], expr: &Expr) -> (Option<String>, Option<String>, String) {
    let mut expr = expr;
    for _ in 0..4 {
        match &expr.kind {
            ExprKind::Name(name) => match assigned(modules, name) {
                Some(value) => expr = value,
                None => break,
            },
            _ => break,
        }
    }
    let written = expr.text.clone();
    // `client.secret_version_path(project, secret, version)`.
    if let ExprKind::Call { function, args, .. } = &expr.kind {
        if last_part(function).as_deref() == Some("secret_version_path") {
            let (secret, env) = args
                .get(1)
                .map_or((None, None), |a| string_of(modules, a, 0));
            return (secret, env, written);
        }
    }
    // `"projects/p/secrets/ID/versions/latest"`, or an f-string with `{variable}` for the id.
    let Some(at) = written.find("secrets/") else {
        return (None, None, written);
    };
    let rest = &written[at + "secrets/".len()..];
    if let Some(inner) = rest.strip_prefix('{') {
        let variable: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let is_fstring = expr.as_str().is_none();
        if is_fstring && !variable.is_empty() {
            let (secret, env) = string_of(
                modules,
                &Expr {
                    kind: ExprKind::Name(variable),
                    line: expr.line,
                    text: String::new(),
                },
                0,
            );
            return (secret, env, written);
        }
        return (None, None, written);
    }
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let complete = rest[id.len()..].starts_with('/') || rest[id.len()..].starts_with(['"', '\'']);
    ((!id.is_empty() && complete).then_some(id), None, written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup(text: &str) -> Startup {
        detect(&[&PyModule::parse("settings.py", text).unwrap()])
    }

    #[test]
    fn dotenv_files_from_django_environ_and_python_dotenv() {
        let s = startup(
            "import environ\nenv = environ.Env()\nenviron.Env.read_env(BASE_DIR / '.env')\n",
        );
        assert_eq!(s.dotenv.map(|l| l.line), Some(3));
        let s = startup("from dotenv import load_dotenv\nload_dotenv()\n");
        assert_eq!(s.dotenv.map(|l| l.line), Some(2));
        let s = startup("import dotenv\nif True:\n    dotenv.load_dotenv(override=True)\n");
        assert_eq!(s.dotenv.map(|l| l.line), Some(3));
        let s =
            startup("import io\nenv.read_env(io.StringIO(payload))\ndef f():\n    load_dotenv()\n");
        assert_eq!(
            s.dotenv, None,
            "a stream is not a file, a function body does not run"
        );
        assert_eq!(s.secret, None);
    }

    #[test]
    fn secret_names_literal_through_variables_and_defaults() {
        let s = startup(
            r#"import os
from google.cloud import secretmanager
if os.environ.get("GOOGLE_CLOUD_PROJECT", None):
    project_id = os.environ.get("GOOGLE_CLOUD_PROJECT")
    client = secretmanager.SecretManagerServiceClient()
    settings_name = os.environ.get("SETTINGS_NAME", "django_settings")
    name = f"projects/{project_id}/secrets/{settings_name}/versions/latest"
    payload = client.access_secret_version(name=name).payload.data.decode("UTF-8")
    env.read_env(io.StringIO(payload))
else:
    env.read_env(".env")
"#,
        );
        let secret = s.secret.unwrap();
        assert_eq!(secret.secret.as_deref(), Some("django_settings"));
        assert_eq!(secret.secret_env.as_deref(), Some("SETTINGS_NAME"));
        assert_eq!(secret.guard_env.as_deref(), Some("GOOGLE_CLOUD_PROJECT"));
        assert_eq!(
            secret.expression,
            r#"f"projects/{project_id}/secrets/{settings_name}/versions/latest""#
        );
        assert_eq!(secret.line, 8);
        assert_eq!(s.dotenv.map(|l| l.line), Some(11));

        let literal = |text: &str| startup(text).secret.unwrap().secret;
        assert_eq!(
            literal("p = c.access_secret_version(request={'name': 'projects/x/secrets/app-env/versions/3'})\n").as_deref(),
            Some("app-env")
        );
        assert_eq!(
            literal("n = c.secret_version_path('p', 'django_settings', 'latest')\np = c.access_secret_version(name=n)\n").as_deref(),
            Some("django_settings")
        );
        assert_eq!(
            literal("p = c.access_secret_version(name=f'projects/{p}/secrets/{os.environ[\"S\"]}/versions/1')\n"),
            None
        );
        assert_eq!(
            literal("p = c.access_secret_version(name=NAME + '/versions/1')\n"),
            None
        );
        let client_only = startup("from google.cloud import secretmanager\nclient = secretmanager.SecretManagerServiceClient()\n");
        let secret = client_only.secret.unwrap();
        assert_eq!((secret.secret, secret.line), (None, 2));
    }
}
