//! Find the Django project in a tree: the shallowest `manage.py`, never inside
//! virtualenvs, node_modules, VCS folders or caches.

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// Folder names that never hold the project's own Django code.
const PRUNED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "site-packages",
    ".cache",
    ".idea",
    ".vscode",
];

/// Whether the walk should skip `dir` and everything below it.
pub fn is_pruned(dir: &Path) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    PRUNED.contains(&name) || dir.join("pyvenv.cfg").is_file()
}

/// The folder (relative to `root`, `/`-separated, `.` for the root itself) that holds the
/// shallowest `manage.py`.
pub fn find_project_dir(root: &Path) -> Result<String> {
    if !root.is_dir() {
        return Err(Error::input_hint(
            format!("`{}` is not a folder", root.display()),
            "pass the folder that holds your Django project: `djrun init PATH`",
        ));
    }
    let mut found: Vec<PathBuf> = Vec::new();
    let shallowest = std::cell::Cell::new(usize::MAX);
    let walker = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() > shallowest.get() {
                return false;
            }
            !(e.file_type().is_dir() && e.depth() > 0 && is_pruned(e.path()))
        });
    for entry in walker {
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_file() && entry.file_name() == "manage.py" {
            let depth = entry.depth();
            if depth < shallowest.get() {
                shallowest.set(depth);
                found.clear();
            }
            if depth == shallowest.get() {
                found.push(entry.path().parent().unwrap_or(root).to_path_buf());
            }
        }
    }
    match found.len() {
        0 => Err(Error::input_hint(
            format!(
                "no Django project found in `{}`: there is no `manage.py` in it or below it",
                root.display()
            ),
            "run djrun in the repository of a Django project, or pass its folder: `djrun init PATH`",
        )),
        1 => Ok(relative(root, &found[0])),
        _ => {
            let list: Vec<String> = found.iter().map(|p| relative(root, p)).collect();
            Err(Error::input_hint(
                format!(
                    "several Django projects found in `{}`: {}",
                    root.display(),
                    list.iter()
                        .map(|p| format!("`{p}/manage.py`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("pass the one to deploy: `djrun init {}`", list[0]),
            ))
        }
    }
}

/// `path` relative to `root`, `/`-separated, `.` when equal.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Join a `/`-separated relative path onto `root` (`.` means the root).
pub fn join(root: &Path, rel: &str) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
        path.push(part);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(root: &Path, rel: &str) {
        let p = join(root, rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "").unwrap();
    }

    #[test]
    fn finds_root_and_subfolder_projects() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "backend/manage.py");
        touch(dir.path(), "backend/app/manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), "backend");
        touch(dir.path(), "manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), ".");
    }

    #[test]
    fn ignores_virtualenvs_and_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "node_modules/x/manage.py");
        touch(dir.path(), "env/pyvenv.cfg");
        touch(dir.path(), "env/lib/manage.py");
        touch(dir.path(), ".git/manage.py");
        let err = find_project_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("no Django project found"), "{err}");
    }

    #[test]
    fn several_projects_at_one_depth_is_an_error_listing_them() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "a/manage.py");
        touch(dir.path(), "b/manage.py");
        let err = find_project_dir(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`a/manage.py`") && msg.contains("`b/manage.py`"),
            "{msg}"
        );
        assert_eq!(err.hint(), Some("pass the one to deploy: `djrun init a`"));
    }
}
