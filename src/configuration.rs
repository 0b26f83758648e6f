//! The configuration the settings read from the environment, one entry per variable, and who
//! gives each its value on Cloud Run: djrun itself (the secret key, the hosts, the database
//! URL, ...), the service's own URL (a variable that names the site), the user (`--env`,
//! `--secret`, a question), or the settings' own default.

use crate::deployment::{DatabaseKind, DATABASE_URL_VAR};
use crate::inspect::envvars::{self, EnvRead, Shape};
use crate::inspect::ProjectFacts;
use serde::Serialize;

/// Who gives a variable its value on Cloud Run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// djrun's deploy sets it (or Cloud Run does).
    Djrun,
    /// The deploy sets it to the service's URL (the first custom domain where there is one).
    ServiceUrl,
    /// The user gives it: `--env NAME=VALUE`, `--secret NAME`, or a question.
    User,
    /// Nothing does: the settings' default applies.
    Default,
}

/// One variable the settings read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variable {
    /// The environment variable.
    pub name: String,
    /// Whether the settings fail to import without it.
    pub required: bool,
    /// What its value must look like.
    pub shape: Shape,
    /// The settings' default, as written.
    pub default: Option<String>,
    /// `file:line` of the read that decides: the first that requires it, else the first.
    pub source: String,
    /// Who gives it its value.
    pub provider: Provider,
}

/// Variables Cloud Run sets on every service or job (its container contract), or that djrun's
/// deploy always sets.
const PLATFORM: &[&str] = &[
    "PORT",
    "K_SERVICE",
    "K_REVISION",
    "K_CONFIGURATION",
    "CLOUD_RUN_JOB",
    "CLOUD_RUN_EXECUTION",
    "CLOUD_RUN_TASK_INDEX",
    "CLOUD_RUN_TASK_ATTEMPT",
    "CLOUD_RUN_TASK_COUNT",
    "CLOUDRUN_SERVICE_URLS",
    "WEB_CONCURRENCY",
];

/// Whether a variable's name says its value is a secret, which belongs in Secret Manager and
/// never in a file: a password, a token, a key, credentials, a DSN.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "CREDENTIAL",
        "PRIVATE",
        "DSN",
    ]
    .iter()
    .any(|w| name.contains(w))
        || name.ends_with("_KEY")
        || name == "KEY"
}

/// The variables djrun's deploy gives a value, as far as the facts tell (the deployment may
/// add the database's and the bucket's): the ones the settings read `ALLOWED_HOSTS`,
/// `CSRF_TRUSTED_ORIGINS`, `SECRET_KEY` and the database URL from, the ones that select and
/// name a settings secret, and Cloud Run's own.
fn set_by_djrun(facts: &ProjectFacts, name: &str) -> bool {
    let s = &facts.settings;
    let database_var = s.database_url_env.as_deref().or_else(|| {
        DatabaseKind::suggested(facts)
            .has_url()
            .then_some(DATABASE_URL_VAR)
    });
    let settings_secret = s
        .settings_secret
        .iter()
        .flat_map(|f| [f.guard_env.as_deref(), f.secret_env.as_deref()]);
    PLATFORM.contains(&name)
        || [
            s.allowed_hosts_env.as_deref(),
            s.csrf_origins_env.as_deref(),
            s.secret_key_env.as_deref(),
            database_var,
        ]
        .into_iter()
        .chain(settings_secret)
        .flatten()
        .any(|v| v == name)
}

/// Every variable the settings read, in the order first read, merged over its reads.
pub fn variables(facts: &ProjectFacts) -> Vec<Variable> {
    let reads = &facts.settings.env_reads;
    let mut names: Vec<&str> = Vec::new();
    for r in reads {
        if !names.contains(&r.var.as_str()) {
            names.push(&r.var);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let of: Vec<&EnvRead> = reads.iter().filter(|r| r.var == name).collect();
            let required = of.iter().any(|r| r.required);
            let decisive = of.iter().find(|r| r.required).unwrap_or(&of[0]);
            // The first read whose shape says more than "a string".
            let shape = of
                .iter()
                .map(|r| envvars::shape(r))
                .find(|s| *s != Shape::Str)
                .unwrap_or(Shape::Str);
            let provider = if set_by_djrun(facts, name) {
                Provider::Djrun
            } else if shape == Shape::SiteUrl {
                Provider::ServiceUrl
            } else if required {
                Provider::User
            } else {
                Provider::Default
            };
            Variable {
                name: name.to_string(),
                required,
                shape,
                default: of.iter().find_map(|r| r.default.clone()),
                source: format!("{}:{}", decisive.file, decisive.line),
                provider,
            }
        })
        .collect()
}

/// Example environment files a repository keeps beside its code, in the order they are read.
const EXAMPLE_FILES: &[&str] = &[
    ".env.example",
    ".env.sample",
    ".env.template",
    ".env.dist",
    "env.example",
    "env.sample",
    "example.env",
];

/// The values an example environment file gives (`NAME=value` lines, `export` allowed,
/// quotes removed, comments and empty values skipped), looked for in the project folder, then
/// in each folder above it up to the root. The first file that names a variable wins.
pub fn example_values(facts: &ProjectFacts) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for dir in crate::inspect::layout::ancestors(&facts.project_root) {
        for name in EXAMPLE_FILES {
            let rel = crate::inspect::layout::under(&dir, name);
            let path = crate::inspect::layout::join(&facts.root, &rel);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for (var, value) in parse_env_lines(&text) {
                if !out.iter().any(|(v, _, _)| *v == var) {
                    out.push((var, value, rel.clone()));
                }
            }
        }
    }
    out
}

/// `NAME=value` pairs of a dotenv text, with non-empty values.
fn parse_env_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            if line.starts_with('#') {
                return None;
            }
            let (name, value) = line.split_once('=')?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            let value = value.trim();
            let value = match value.chars().next() {
                Some(q @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(q) => {
                    &value[1..value.len() - 1]
                }
                // An unquoted value ends at a comment.
                _ => value.split(" #").next().unwrap_or("").trim(),
            };
            (!value.is_empty()).then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_lines_are_read_as_a_dotenv_file_reads_them() {
        let got = parse_env_lines(
            "# comment\nA=1\nexport B=\"two words\"\nC=\nD='x' \nE=plain # note\nbad name=1\n",
        );
        assert_eq!(
            got,
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string()),
                ("D".to_string(), "x".to_string()),
                ("E".to_string(), "plain".to_string()),
            ]
        );
    }

    #[test]
    fn secret_names_are_recognised() {
        for name in [
            "DB_PASSWORD",
            "STRIPE_SECRET",
            "API_TOKEN",
            "MAILGUN_API_KEY",
            "SENTRY_DSN",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["ADMIN_URL", "SITE_NAME", "KEYCLOAK_REALM", "REDIS_URL"] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
