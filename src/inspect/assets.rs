//! The asset steps a project's settings ask of the image besides `collectstatic`: the CSS
//! and JavaScript that Python packages build, which the app serves only once they are built.
//!
//! - django-compressor with offline compression (`compressor` installed, `COMPRESS_OFFLINE`
//!   true): in production the `{% compress %}` tag only looks its output up in the manifest
//!   that `manage.py compress` writes, and answers 500 when it is missing. The command reads
//!   the files `collectstatic` wrote (and, with a manifest storage, the names it gave them),
//!   so it runs after it.
//! - django-sass-processor (`sass_processor` installed): with `DEBUG` off, `{% sass_src %}`
//!   only names the `.css` beside the `.scss`, which `manage.py compilescss` writes; it runs
//!   before `collectstatic`, which then collects (and hashes) the `.css`.
//!
//! `COMPRESS_OFFLINE` counts as true when it is the literal `True`, or an environment read
//! (alone, or inside one call such as `bool(...)`) whose default is true: the build sets no
//! such variable, so the default is what the command runs with. Anything else (a comparison,
//! `not DEBUG`) is not guessed at.

use super::envvars::EnvRead;
use super::Location;
use crate::python::{Expr, ExprKind, PyModule};
use serde::Serialize;

/// django-compressor, as `inspect` names it.
pub const COMPRESSOR: &str = "django-compressor";
/// django-sass-processor, as `inspect` names it.
pub const SASS_PROCESSOR: &str = "django-sass-processor";

/// When a step runs, relative to `collectstatic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum When {
    /// Its output is collected: `compilescss` writes `.css` files beside the sources.
    #[serde(rename = "before collectstatic")]
    BeforeCollectstatic,
    /// It reads what was collected: `compress` reads the files in `STATIC_ROOT`.
    #[serde(rename = "after collectstatic")]
    AfterCollectstatic,
}

impl When {
    /// `before collectstatic` or `after collectstatic`, as the JSON has it.
    pub fn as_str(self) -> &'static str {
        match self {
            When::BeforeCollectstatic => "before collectstatic",
            When::AfterCollectstatic => "after collectstatic",
        }
    }
}

/// One management command the image runs at build time for the project's assets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetStep {
    /// The package that asks for it: [`COMPRESSOR`] or [`SASS_PROCESSOR`].
    pub tool: &'static str,
    /// The command, run in the folder of `manage.py`.
    pub command: &'static str,
    /// Before or after `collectstatic`.
    pub when: When,
    /// The line of the settings that asks for it.
    pub evidence: Location,
}

/// The asset steps the settings ask for. `modules` are the files of the settings in the order
/// they run, `reads` their environment reads, module by module. The caller decides whether
/// `collectstatic` runs at all; without it, no step does.
pub fn detect(modules: &[&PyModule], reads: &[Vec<EnvRead>]) -> Vec<AssetStep> {
    let mut steps = Vec::new();
    if let Some(evidence) = first_string(modules, "sass_processor") {
        steps.push(AssetStep {
            tool: SASS_PROCESSOR,
            command: "python manage.py compilescss",
            when: When::BeforeCollectstatic,
            evidence,
        });
    }
    if first_string(modules, "compressor").is_some() {
        if let Some(evidence) = offline_compression(modules, reads) {
            steps.push(AssetStep {
                tool: COMPRESSOR,
                command: "python manage.py compress --force",
                when: When::AfterCollectstatic,
                evidence,
            });
        }
    }
    steps
}

/// Where the string literal `value` is first written in the settings (outside function and
/// class bodies), as an entry of `INSTALLED_APPS` is.
fn first_string(modules: &[&PyModule], value: &str) -> Option<Location> {
    modules
        .iter()
        .filter(|m| m.has_string(value))
        .find_map(|module| {
            module.statements().iter().find_map(|statement| {
                let line = statement
                    .value
                    .iter()
                    .chain(&statement.targets)
                    .find_map(|e| string_line(e, value))?;
                Some(Location {
                    file: module.file().to_string(),
                    line,
                })
            })
        })
}

/// The line of the string literal `value` in `expr`, if it holds one.
fn string_line(expr: &Expr, value: &str) -> Option<usize> {
    if expr.as_str() == Some(value) {
        return Some(expr.line);
    }
    expr.children()
        .into_iter()
        .find_map(|c| string_line(c, value))
}

/// Where `COMPRESS_OFFLINE` is last set, when the value it runs with is true.
fn offline_compression(modules: &[&PyModule], reads: &[Vec<EnvRead>]) -> Option<Location> {
    let (index, assignment) = modules
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, m)| m.assignment("COMPRESS_OFFLINE").map(|a| (i, a)))?;
    let module = modules[index];
    let value = module.statements().iter().find_map(|s| {
        let assigns = s.line == assignment.line
            && s.kind == "assignment"
            && s.targets
                .iter()
                .any(|t| matches!(&t.kind, ExprKind::Name(n) if n == "COMPRESS_OFFLINE"));
        s.value.as_ref().filter(|_| assigns)
    })?;
    let module_reads = reads.get(index).map(Vec::as_slice).unwrap_or_default();
    is_true(value, module_reads).then(|| Location {
        file: module.file().to_string(),
        line: assignment.line,
    })
}

/// Whether `value` is `True`, or an environment read whose default is true, alone or as the
/// one argument of a call (`bool(...)`, `strtobool(...)`).
fn is_true(value: &Expr, reads: &[EnvRead]) -> bool {
    if matches!(&value.kind, ExprKind::Other { kind, .. } if kind == "true") {
        return true;
    }
    let ExprKind::Call { args, keywords, .. } = &value.kind else {
        return false;
    };
    // The read is the call itself: a read found on its line and nowhere inside its arguments.
    let read = reads.iter().find(|r| {
        r.line == value.line && r.setting.as_deref() == Some("COMPRESS_OFFLINE") && {
            let inner = args.iter().chain(keywords.iter().map(|(_, v)| v));
            !inner
                .into_iter()
                .any(|a| matches!(a.kind, ExprKind::Call { .. }) && a.line == r.line)
        }
    });
    match (read, args.as_slice(), keywords.is_empty()) {
        (Some(read), _, _) => read.default.as_deref().is_some_and(true_literal),
        (None, [one], true) => is_true(one, reads),
        _ => false,
    }
}

/// Whether a default means true: `True` as written, or a string (kept decoded) a boolean
/// reader takes as true (`True`, `1`, `yes`, `on`).
fn true_literal(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on" | "y" | "t"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::envvars::env_reads_chain;

    fn steps(files: &[(&str, &str)]) -> Vec<AssetStep> {
        let modules: Vec<PyModule> = files
            .iter()
            .map(|(name, text)| PyModule::parse(name, text).unwrap())
            .collect();
        let refs: Vec<&PyModule> = modules.iter().collect();
        let reads = env_reads_chain(&refs);
        detect(&refs, &reads)
    }

    fn one(text: &str) -> Vec<AssetStep> {
        steps(&[("s.py", text)])
    }

    const APPS: &str =
        "INSTALLED_APPS = [\n    'django.contrib.staticfiles',\n    'compressor',\n]\n";

    #[test]
    fn compressor_offline_true_runs_compress_after_collectstatic() {
        let found = one(&format!("{APPS}COMPRESS_OFFLINE = True\n"));
        assert_eq!(
            found,
            vec![AssetStep {
                tool: COMPRESSOR,
                command: "python manage.py compress --force",
                when: When::AfterCollectstatic,
                evidence: Location {
                    file: "s.py".into(),
                    line: 5
                },
            }]
        );
        assert_eq!(
            serde_json::to_value(&found[0]).unwrap()["when"],
            "after collectstatic"
        );
    }

    #[test]
    fn compressor_without_offline_or_with_it_off_needs_no_step() {
        assert!(one(APPS).is_empty(), "COMPRESS_OFFLINE unset");
        assert!(one(&format!("{APPS}COMPRESS_OFFLINE = False\n")).is_empty());
        assert!(one(&format!(
            "{APPS}COMPRESS_OFFLINE = True\nCOMPRESS_OFFLINE = False\n"
        ))
        .is_empty());
        assert!(one(&format!("{APPS}COMPRESS_OFFLINE = not DEBUG\n")).is_empty());
    }

    #[test]
    fn offline_without_compressor_installed_needs_no_step() {
        assert!(
            one("INSTALLED_APPS = ['django.contrib.staticfiles']\nCOMPRESS_OFFLINE = True\n")
                .is_empty()
        );
        // Another app whose name contains the word is not django-compressor.
        assert!(one(
            "INSTALLED_APPS = ['django.contrib.staticfiles', 'compressor_toolkit']\nCOMPRESS_OFFLINE = True\n"
        )
        .is_empty());
    }

    #[test]
    fn offline_read_from_the_environment_counts_when_its_default_is_true() {
        let yes = [
            "import os\nCOMPRESS_OFFLINE = os.environ.get('COMPRESS_OFFLINE', 'True')\n",
            "import environ\nenv = environ.Env()\nCOMPRESS_OFFLINE = env.bool('COMPRESS_OFFLINE', default=True)\n",
            "import environ\nenv = environ.Env(COMPRESS_OFFLINE=(bool, True))\nCOMPRESS_OFFLINE = env('COMPRESS_OFFLINE')\n",
            "from decouple import config\nCOMPRESS_OFFLINE = config('COMPRESS_OFFLINE', default=True, cast=bool)\n",
            "import os\nCOMPRESS_OFFLINE = bool(int(os.getenv('COMPRESS_OFFLINE', '1')))\n",
        ];
        for settings in yes {
            let found = one(&format!("{APPS}{settings}"));
            assert_eq!(found.len(), 1, "{settings}");
            assert_eq!(
                found[0].evidence.line,
                4 + settings.lines().count(),
                "{settings}"
            );
        }
        let no = [
            "import os\nCOMPRESS_OFFLINE = os.environ.get('COMPRESS_OFFLINE', 'False')\n",
            "import os\nCOMPRESS_OFFLINE = os.environ.get('COMPRESS_OFFLINE')\n",
            "import environ\nenv = environ.Env()\nCOMPRESS_OFFLINE = env.bool('COMPRESS_OFFLINE', default=False)\n",
            "import environ\nenv = environ.Env()\nCOMPRESS_OFFLINE = env.bool('COMPRESS_OFFLINE')\n",
            "import os\nCOMPRESS_OFFLINE = os.environ.get('COMPRESS_OFFLINE', 'True') == 'False'\n",
        ];
        for settings in no {
            assert!(one(&format!("{APPS}{settings}")).is_empty(), "{settings}");
        }
    }

    #[test]
    fn sass_processor_runs_compilescss_before_collectstatic_with_the_app_line() {
        let found = steps(&[
            (
                "base.py",
                "INSTALLED_APPS = [\n    'django.contrib.staticfiles',\n    'sass_processor',\n    'compressor',\n]\n",
            ),
            ("production.py", "from .base import *\nCOMPRESS_OFFLINE = True\n"),
        ]);
        let summary: Vec<(&str, When, &str, usize)> = found
            .iter()
            .map(|s| (s.tool, s.when, s.evidence.file.as_str(), s.evidence.line))
            .collect();
        assert_eq!(
            summary,
            vec![
                (SASS_PROCESSOR, When::BeforeCollectstatic, "base.py", 3),
                (COMPRESSOR, When::AfterCollectstatic, "production.py", 2),
            ]
        );
        assert_eq!(found[0].command, "python manage.py compilescss");
    }

    #[test]
    fn a_later_module_that_turns_offline_off_wins() {
        let found = steps(&[
            ("base.py", &format!("{APPS}COMPRESS_OFFLINE = True\n")),
            ("local.py", "COMPRESS_OFFLINE = False\n"),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }
}
