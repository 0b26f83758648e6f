//! django-split-settings: `include('components/base.py', optional('local_settings.py'))` runs
//! each file, in order, in the including module's namespace at the point of the call. Paths
//! are relative to the including file's folder; a glob (`components/*.py`) expands to its
//! matches in sorted order; a file wrapped in `optional()` may be missing.

use super::Location;
use crate::python::{Expr, ExprKind, PyModule};
use std::path::{Component, Path, PathBuf};

/// The names that stand for split-settings' `include` and `optional` in a module.
#[derive(Debug, Clone, Default)]
pub struct Names {
    include: Vec<String>,
    optional: Vec<String>,
}

impl Names {
    /// `names` (what the including module bound, as the files it includes share its
    /// namespace) and what `module` imports from `split_settings.tools`.
    pub fn with(&self, module: &PyModule) -> Names {
        let mut names = self.clone();
        for import in module.imports() {
            let tools = import.module == "split_settings.tools";
            match import.name.as_deref() {
                Some("include") if tools => names.include.push(import.bound.clone()),
                Some("optional") if tools => names.optional.push(import.bound.clone()),
                _ => {}
            }
        }
        names
    }

    fn is(list: &[String], function: &Expr, full: &str) -> bool {
        function
            .dotted()
            .is_some_and(|d| d == full || list.contains(&d))
    }

    /// Whether `call` is a call of `include`.
    pub fn is_include(&self, call: &Expr) -> bool {
        match &call.kind {
            ExprKind::Call { function, .. } => {
                Self::is(&self.include, function, "split_settings.tools.include")
            }
            _ => false,
        }
    }

    fn is_optional(&self, function: &Expr) -> bool {
        Self::is(&self.optional, function, "split_settings.tools.optional")
    }
}

/// An argument of `include()` djrun did not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Where the `include()` call is.
    pub at: Location,
    /// The argument as written.
    pub argument: String,
    /// Why: the path is not a literal, or the file does not exist.
    pub reason: String,
}

/// The files one `include()` call runs, in order, and the arguments it could not follow.
/// `module` is the including file (for names bound to plain strings) and `folder` its folder.
pub fn targets(
    names: &Names,
    module: &PyModule,
    call: &Expr,
    folder: &Path,
    project: &Path,
) -> (Vec<PathBuf>, Vec<Skipped>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let ExprKind::Call { args, .. } = &call.kind else {
        return (files, skipped);
    };
    let at = Location {
        file: module.file().to_string(),
        line: call.line,
    };
    for arg in args {
        let (pattern, optional) = match &arg.kind {
            ExprKind::Call {
                function,
                args: inner,
                ..
            } if names.is_optional(function) => {
                (inner.first().and_then(|a| literal(module, a)), true)
            }
            _ => (literal(module, arg), false),
        };
        let Some(pattern) = pattern else {
            skipped.push(Skipped {
                at: at.clone(),
                argument: arg.text.clone(),
                reason: "a path djrun cannot work out without running the settings".to_string(),
            });
            continue;
        };
        let found: Vec<PathBuf> = expand(folder, &pattern)
            .iter()
            .map(|p| normalize(p))
            .collect();
        let matched: Vec<PathBuf> = found
            .iter()
            .filter(|p| p.starts_with(normalize(project)))
            .cloned()
            .collect();
        let reason = if matched.len() < found.len() {
            Some("a file outside the project")
        } else if matched.is_empty() && !optional {
            Some("no such file (importing the settings fails)")
        } else {
            None
        };
        if let Some(reason) = reason {
            skipped.push(Skipped {
                at: at.clone(),
                argument: arg.text.clone(),
                reason: reason.to_string(),
            });
        }
        files.extend(matched);
    }
    (files, skipped)
}

/// The string `expr` stands for: a plain string literal, or a name the module assigns one to.
fn literal(module: &PyModule, expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Str(s) => Some(s.clone()),
        ExprKind::Name(name) => module.string_setting(name),
        _ => None,
    }
}

/// `a/./b/../c` -> `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn has_magic(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

/// The files `pattern` names below `folder`, as Python's `glob.glob` finds them (`*`, `?` and
/// `[...]` within one path component; names starting with `.` only for a pattern that does),
/// sorted.
pub fn expand(folder: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut current = vec![folder.to_path_buf()];
    for part in pattern.split('/') {
        if part.is_empty() || part == "." {
            continue;
        }
        if !has_magic(part) {
            current = current.into_iter().map(|p| p.join(part)).collect();
            continue;
        }
        let mut next = Vec::new();
        for dir in &current {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.filter_map(|e| e.ok()) {
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') && !part.starts_with('.') {
                    continue;
                }
                if fnmatch(part.as_bytes(), name.as_bytes()) {
                    next.push(dir.join(name));
                }
            }
        }
        current = next;
    }
    let mut files: Vec<PathBuf> = current.into_iter().filter(|p| p.is_file()).collect();
    files.sort_by(|a, b| a.to_string_lossy().cmp(&b.to_string_lossy()));
    files.dedup();
    files
}

/// Whether `name` matches the shell pattern `pattern` (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`).
fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).any(|i| fnmatch(&pattern[1..], &name[i..])),
        Some(b'?') => !name.is_empty() && fnmatch(&pattern[1..], &name[1..]),
        Some(b'[') => {
            let Some(close) = pattern
                .iter()
                .skip(2)
                .position(|&c| c == b']')
                .map(|i| i + 2)
            else {
                return name.first() == Some(&b'[') && fnmatch(&pattern[1..], &name[1..]);
            };
            let Some(&c) = name.first() else {
                return false;
            };
            let mut set = &pattern[1..close];
            let negate = set.first() == Some(&b'!');
            if negate {
                set = &set[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            hit != negate && fnmatch(&pattern[close + 1..], &name[1..])
        }
        Some(&p) => name.first() == Some(&p) && fnmatch(&pattern[1..], &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_follows_the_shell() {
        for (pattern, name, expected) in [
            ("*.py", "base.py", true),
            ("*.py", "base.pyc", false),
            ("?ase.py", "base.py", true),
            ("[ab]*.py", "base.py", true),
            ("[!b]*.py", "base.py", false),
            ("[a-c]ase.py", "case.py", true),
            ("0[0-9]_*.py", "01_base.py", true),
            ("[", "[", true),
        ] {
            assert_eq!(
                fnmatch(pattern.as_bytes(), name.as_bytes()),
                expected,
                "{pattern} {name}"
            );
        }
    }

    #[test]
    fn globs_expand_sorted_and_skip_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let components = dir.path().join("components");
        std::fs::create_dir_all(&components).unwrap();
        for name in ["b.py", "a.py", ".hidden.py", "c.txt"] {
            std::fs::write(components.join(name), "").unwrap();
        }
        let names: Vec<String> = expand(dir.path(), "components/*.py")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.py", "b.py"]);
        assert_eq!(expand(dir.path(), "components/a.py").len(), 1);
        assert!(expand(dir.path(), "components/missing.py").is_empty());
    }

    #[test]
    fn targets_follow_literals_and_optional_files_and_report_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("s/components")).unwrap();
        std::fs::write(dir.path().join("s/components/base.py"), "").unwrap();
        let module = PyModule::parse(
            "s/__init__.py",
            "from split_settings.tools import include, optional as opt\nENV = 'production'\nLOCAL = 'local.py'\ninclude('components/*.py', opt(LOCAL), 'environments/%s.py' % ENV, 'missing.py')\n",
        )
        .unwrap();
        let names = Names::default().with(&module);
        let (range_call, call) = module.top_level_calls().pop().unwrap();
        assert!(range_call.start > 0 && names.is_include(&call));
        let (files, skipped) = targets(&names, &module, &call, &dir.path().join("s"), dir.path());
        assert_eq!(files, vec![dir.path().join("s/components/base.py")]);
        let got: Vec<_> = skipped
            .iter()
            .map(|s| (s.at.line, s.argument.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![(4, "'environments/%s.py' % ENV"), (4, "'missing.py'")]
        );
        assert!(skipped[1].reason.contains("no such file"));
        // A path that leaves the project is not followed.
        std::fs::write(dir.path().join("outside.py"), "").unwrap();
        let module = PyModule::parse(
            "s/__init__.py",
            "from split_settings.tools import include\ninclude('../outside.py', 'components/base.py')\n",
        )
        .unwrap();
        let (_, call) = module.top_level_calls().pop().unwrap();
        let (files, _) = targets(
            &Names::default().with(&module),
            &module,
            &call,
            &dir.path().join("s"),
            &dir.path().join("s"),
        );
        assert_eq!(files, vec![dir.path().join("s/components/base.py")]);
    }
}
