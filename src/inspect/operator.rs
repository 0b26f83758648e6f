//! Configuration modules the operator makes from an example: the settings import
//! `configuration` (or `local_config`, ...) and the repository ships only
//! `configuration_example.py` (or `configuration.py.example`, ...) beside where it goes. Such
//! a module is made from its example: the example as written, then each value it sets to a
//! plain literal read from the environment where the deploy sets it. The settings read that
//! made module as if it were there (so the facts are the same before and after `init` writes
//! it), and `init` writes it.
//!
//! An import that may fail without harm (inside a `try` whose `except` catches the import
//! error and raises nothing) is a local override the project runs without, never made.

use super::Location;
use crate::python::{Block, Expr, ExprKind, PyModule};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A configuration module the settings import, missing, with an example beside where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorModule {
    /// The dotted module name the settings import.
    pub module: String,
    /// Where it goes, relative to the root.
    pub file: String,
    /// The example it is made from, relative to the root.
    pub example: String,
    /// Where the settings import it.
    pub import: Location,
    /// The example's settings read from the environment in the made module.
    pub from_env: Vec<String>,
    /// The example's settings that keep the example's value (not plain literals: a dict, a
    /// list, a computed value), for the operator to review.
    pub kept: Vec<String>,
    /// The module's text, as `init` writes it.
    #[serde(skip)]
    pub text: String,
}

/// Example names for module `name`, in the order they are looked for.
fn example_names(name: &str) -> [String; 9] {
    [
        format!("{name}_example.py"),
        format!("{name}.example.py"),
        format!("{name}.py.example"),
        format!("{name}_sample.py"),
        format!("{name}.sample.py"),
        format!("{name}.py.sample"),
        format!("{name}.py.dist"),
        format!("{name}.py.template"),
        format!("example_{name}.py"),
    ]
}

/// The example of module `dotted` below `project`, when the module itself is missing.
pub fn example_for(project: &Path, dotted: &str) -> Option<PathBuf> {
    if super::settings::locate(project, dotted).is_some() {
        return None;
    }
    let (parent, name) = match dotted.rsplit_once('.') {
        Some((parent, name)) => (
            super::layout::join(project, &parent.replace('.', "/")),
            name,
        ),
        None => (project.to_path_buf(), dotted),
    };
    example_names(name)
        .into_iter()
        .map(|n| parent.join(n))
        .find(|p| p.is_file())
}

/// The path module `dotted` goes to below `project`.
pub fn module_path(project: &Path, dotted: &str) -> PathBuf {
    super::layout::join(project, &format!("{}.py", dotted.replace('.', "/")))
}

/// One module the settings import: its name as written, where, whether `*`, and whether
/// the settings run on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// As written (`.configuration`, `netbox.configuration`).
    pub target: String,
    /// 1-based line.
    pub line: usize,
    /// `from x import *`.
    pub star: bool,
    /// The import sits in a `try` whose `except` catches its failure and raises nothing.
    pub optional: bool,
}

/// The modules a settings module imports: `import x`, `from x import ...`, `from . import x`,
/// and `importlib.import_module("x")` (also through a name bound to an environment read's
/// default: `path = os.getenv("APP_CONFIG", "app.configuration")`).
pub fn imported(module: &PyModule) -> Vec<Imported> {
    let statements = module.statements();
    let mut out = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let Some(value) = &statement.value else {
            continue;
        };
        let optional = || optional_at(statements, i);
        match statement.kind.as_str() {
            "import_from_statement" | "import_statement" => {
                for (target, star) in import_targets(&value.text) {
                    out.push(Imported {
                        target,
                        line: statement.line,
                        star,
                        optional: optional(),
                    });
                }
            }
            _ => {
                let mut calls = Vec::new();
                import_module_calls(value, &mut calls);
                for arg in calls {
                    let target = match &arg.kind {
                        ExprKind::Str(s) => Some(s.clone()),
                        ExprKind::Name(name) => literal_default_of(statements, name),
                        _ => None,
                    };
                    if let Some(target) = target {
                        out.push(Imported {
                            target,
                            line: statement.line,
                            star: false,
                            // A configuration chosen by name is the one the app needs.
                            optional: false,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The modules an import statement names, with whether it is a star import.
fn import_targets(text: &str) -> Vec<(String, bool)> {
    let text = text.replace(['(', ')', '\\', '\n', '\r'], " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        ["from", module, "import", rest @ ..] => {
            let names = rest.join(" ");
            if names.trim() == "*" {
                return vec![(module.to_string(), true)];
            }
            let mut out = vec![(module.to_string(), false)];
            // `from . import configuration`, `from pkg import configuration`: the names may be
            // modules themselves.
            for name in names.split(',') {
                let name = name.split_whitespace().next().unwrap_or("");
                if !name.is_empty() {
                    let dotted = if module.ends_with('.') {
                        format!("{module}{name}")
                    } else {
                        format!("{module}.{name}")
                    };
                    out.push((dotted, false));
                }
            }
            out
        }
        ["import", rest @ ..] => rest
            .join(" ")
            .split(',')
            .filter_map(|n| n.split_whitespace().next().map(|m| (m.to_string(), false)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The first arguments of `importlib.import_module(...)` / `import_module(...)` calls.
fn import_module_calls<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    if let ExprKind::Call { function, args, .. } = &expr.kind {
        let dotted = function.dotted().unwrap_or_default();
        if dotted == "importlib.import_module" || dotted == "import_module" {
            if let Some(first) = args.first() {
                out.push(first);
            }
        }
    }
    for child in expr.children() {
        import_module_calls(child, out);
    }
}

/// The last string argument of the call assigned to `name` before (`os.getenv("X", "a.b")`).
fn literal_default_of(statements: &[crate::python::Statement], name: &str) -> Option<String> {
    statements.iter().rev().find_map(|s| {
        let target = s.targets.first()?;
        if !matches!(&target.kind, ExprKind::Name(n) if n == name) {
            return None;
        }
        match &s.value.as_ref()?.kind {
            ExprKind::Str(v) => Some(v.clone()),
            ExprKind::Call { args, keywords, .. } => args
                .iter()
                .chain(keywords.iter().map(|(_, v)| v))
                .filter_map(Expr::as_str)
                .next_back()
                .map(str::to_string),
            _ => None,
        }
    })
}

/// Whether statement `i` sits in a `try` whose `except` catches an import error and raises
/// nothing before the next statement outside that `try`.
fn optional_at(statements: &[crate::python::Statement], i: usize) -> bool {
    let statement = &statements[i];
    let catches = statement.blocks.iter().any(|b| match b {
        Block::Try { handlers } => handlers.iter().any(|types| {
            types.is_empty()
                || types.iter().any(|t| {
                    let last = t.rsplit('.').next().unwrap_or(t);
                    matches!(
                        last,
                        "ImportError" | "ModuleNotFoundError" | "Exception" | "BaseException"
                    )
                })
        }),
        _ => false,
    });
    if !catches {
        return false;
    }
    // The `except` clause's statements follow the `try` body's, up to the first statement
    // outside the `try`. One that raises makes the module required after all.
    let depth = statement.blocks.len();
    let mut in_clause = false;
    for s in &statements[i + 1..] {
        if s.blocks.len() < depth {
            break;
        }
        match s.blocks.get(depth - 1) {
            Some(Block::TryClause) => in_clause = true,
            // The body of the next `try` once this one's clauses are over.
            Some(Block::Try { .. }) if in_clause => break,
            _ => {}
        }
        if in_clause && s.kind == "raise_statement" {
            return false;
        }
    }
    true
}

/// The module made from an example: the example as written, then each upper-case setting it
/// sets at the top level to a plain literal read from the environment, with the example's
/// value as the default. Returns the text, the names read from the environment, and the
/// names that keep the example's value.
pub fn made_from(example_file: &str, example: &str) -> (String, Vec<String>, Vec<String>) {
    let parsed = PyModule::parse_any_size(example_file, example).ok();
    let mut from_env: Vec<String> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for a in parsed.iter().flat_map(|m| m.assignments()) {
        let upper = a
            .name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !upper || a.conditional || from_env.contains(&a.name) {
            continue;
        }
        let n = &a.name;
        let line = match a.value_kind.as_str() {
            "string" | "none" => format!("{n} = os.environ.get(\"{n}\", {n})"),
            "integer" => format!("{n} = int(os.environ.get(\"{n}\", {n}))"),
            "float" => format!("{n} = float(os.environ.get(\"{n}\", {n}))"),
            "true" | "false" => format!(
                "{n} = os.environ.get(\"{n}\", str({n})).lower() in (\"1\", \"true\", \"yes\", \"on\")"
            ),
            _ => {
                kept.retain(|k| k != n);
                kept.push(n.clone());
                continue;
            }
        };
        kept.retain(|k| k != n);
        from_env.push(n.clone());
        lines.push(line);
    }
    let name = example_file.rsplit('/').next().unwrap_or(example_file);
    let mut text = format!(
        "# Made by `djrun init` from `{name}` for Cloud Run; edit it as your own.\n\
         # The example's settings follow as it has them; after them, each one it sets to a plain\n\
         # value is read from the environment where the deploy sets it (`djrun init --env\n\
         # NAME=VALUE`, or `--secret NAME`).\n\n"
    );
    text.push_str(example.trim_end());
    text.push_str("\n\n# >>> djrun: from the environment >>>\nimport os  # noqa: E402\n\n");
    for line in &lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("# <<< djrun <<<\n");
    (text, from_env, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_statements_name_their_modules() {
        assert_eq!(
            import_targets("from .configuration import *"),
            vec![(".configuration".to_string(), true)]
        );
        assert_eq!(
            import_targets("from . import configuration as cfg, other"),
            vec![
                (".".to_string(), false),
                (".configuration".to_string(), false),
                (".other".to_string(), false)
            ]
        );
        assert_eq!(
            import_targets("from netbox import (\n    configuration,\n)"),
            vec![
                ("netbox".to_string(), false),
                ("netbox.configuration".to_string(), false)
            ]
        );
        assert_eq!(
            import_targets("import local_config, os.path as p"),
            vec![
                ("local_config".to_string(), false),
                ("os.path".to_string(), false)
            ]
        );
    }

    #[test]
    fn a_local_override_in_a_quiet_try_is_optional_and_a_chosen_module_is_not() {
        let module = PyModule::parse(
            "s.py",
            concat!(
                "import importlib, os\n",
                "try:\n",
                "    from .local_settings import *\n",
                "except ImportError:\n",
                "    pass\n",
                "try:\n",
                "    from . import configuration\n",
                "except ImportError:\n",
                "    raise RuntimeError('copy configuration_example.py to configuration.py')\n",
                "path = os.getenv('APP_CONFIGURATION', 'app.settings_env')\n",
                "settings_env = importlib.import_module(path)\n",
            ),
        )
        .unwrap();
        let got: Vec<(String, bool, bool)> = imported(&module)
            .into_iter()
            .filter(|i| !matches!(i.target.as_str(), "importlib" | "os" | "."))
            .map(|i| (i.target, i.star, i.optional))
            .collect();
        assert_eq!(
            got,
            vec![
                (".local_settings".to_string(), true, true),
                (".configuration".to_string(), false, false),
                ("app.settings_env".to_string(), false, false),
            ]
        );
    }

    #[test]
    fn the_made_module_reads_each_plain_value_from_the_environment() {
        let (text, from_env, kept) = made_from(
            "app/configuration_example.py",
            "SECRET_KEY = ''\nDEBUG = False\nPAGE_SIZE = 50\nALLOWED_HOSTS = []\nDATABASE = {'NAME': 'app'}\nif True:\n    LATE = 'x'\nlower = 1\n",
        );
        assert_eq!(from_env, vec!["SECRET_KEY", "DEBUG", "PAGE_SIZE"]);
        assert_eq!(kept, vec!["ALLOWED_HOSTS", "DATABASE"]);
        assert!(text.contains("SECRET_KEY = os.environ.get(\"SECRET_KEY\", SECRET_KEY)\n"));
        assert!(text.contains("PAGE_SIZE = int(os.environ.get(\"PAGE_SIZE\", PAGE_SIZE))\n"));
        assert!(text.contains(
            "DEBUG = os.environ.get(\"DEBUG\", str(DEBUG)).lower() in (\"1\", \"true\", \"yes\", \"on\")\n"
        ));
        assert!(text.starts_with("# Made by `djrun init` from `configuration_example.py`"));
        // What it makes is Python that parses.
        assert!(PyModule::parse("app/configuration.py", &text).is_ok());
    }
}
