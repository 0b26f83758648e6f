//! Find the Django project in a tree: the shallowest `manage.py`, never inside
//! virtualenvs, node_modules, VCS folders, caches or gitignored folders.
//!
//! The search is breadth-first, one depth at a time, with each folder's names sorted, so its
//! cost is what the Django part of the repository costs: it reads no folder below the depth of
//! the shallowest `manage.py`, and never enters a pruned one. Its rules:
//!
//! - a folder named in `PRUNED`, or holding a `pyvenv.cfg` (any virtualenv, whatever its
//!   name), is skipped with everything below it; the root itself is never skipped;
//! - a folder that git would ignore is skipped: the rules of the root's `.gitignore`, of the
//!   `.gitignore` of every folder the walk reads (deeper files win, `!` re-includes), and of
//!   the root's `.git/info/exclude`;
//! - symlinked folders are never entered (a symlink loop cannot hang the walk), and a folder
//!   that cannot be read is skipped, never an error;
//! - once a depth holds a `manage.py`, that depth is finished (every `manage.py` at it is
//!   collected) and nothing deeper is read.

use crate::{Error, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

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
    let name = dir.file_name().unwrap_or_default();
    is_pruned_name(name) || dir.join("pyvenv.cfg").is_file()
}

/// Whether a folder of this name is skipped whatever it holds.
fn is_pruned_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| PRUNED.contains(&n))
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
    let found: Vec<PathBuf> = shallowest_manage_py(root, &mut list_dir)
        .into_iter()
        .map(|rel| root.join(rel))
        .collect();
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
            // Evidence: a deployable project keeps its dependencies beside manage.py.
            let with_deps: Vec<&PathBuf> = found.iter().filter(|p| has_dependency_file(p)).collect();
            if let [only] = with_deps.as_slice() {
                return Ok(relative(root, only));
            }
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
                format!("pass the one to deploy: `--project-dir {}`", list[0]),
            ))
        }
    }
}

/// Whether `dir` holds a dependency file djrun reads.
fn has_dependency_file(dir: &Path) -> bool {
    ["requirements.txt", "pyproject.toml", "Pipfile"]
        .iter()
        .any(|f| dir.join(f).is_file())
        || dir.join("requirements").is_dir()
}

/// The project folder named by `--project-dir`, relative to `root`: it must hold manage.py.
pub fn chosen_project_dir(root: &Path, chosen: &str) -> Result<String> {
    let dir = join(root, chosen);
    if !dir.join("manage.py").is_file() {
        return Err(Error::input_hint(
            format!(
                "`--project-dir {chosen}`: there is no `manage.py` in `{}`",
                dir.display()
            ),
            "name the folder that holds your Django project's manage.py, relative to PATH",
        ));
    }
    let canonical_root = std::fs::canonicalize(root)
        .map_err(|e| Error::io("read", root.display().to_string(), e))?;
    let canonical = std::fs::canonicalize(&dir).map_err(|e| Error::io("read", chosen, e))?;
    if !canonical.starts_with(&canonical_root) {
        return Err(Error::input_hint(
            format!("`--project-dir {chosen}` is outside `{}`", root.display()),
            "name a folder inside PATH",
        ));
    }
    Ok(relative(&canonical_root, &canonical))
}

/// What a folder entry is, as the walk sees it: symlinks are `Other`, never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Other,
}

/// One entry of a folder listing.
struct Entry {
    name: OsString,
    kind: Kind,
}

/// The entries of `dir`, in no particular order, without following symlinks.
fn list_dir(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let kind = match entry.file_type() {
            Ok(t) if t.is_dir() => Kind::Dir,
            Ok(t) if t.is_file() => Kind::File,
            _ => Kind::Other,
        };
        out.push(Entry {
            name: entry.file_name(),
            kind,
        });
    }
    Ok(out)
}

/// The gitignore rules in force in one folder, innermost first: a file's own rules, then the
/// rules in force in the folder that holds it.
struct Rules {
    matcher: Gitignore,
    /// The folder of the file, relative to the walk's root; paths are matched relative to it.
    base: PathBuf,
    outer: Option<Rc<Rules>>,
}

/// Whether git would ignore the folder `rel` (relative to the walk's root). The innermost
/// file that has a say decides, as in git; within a file the last matching line does.
fn is_ignored(rules: Option<&Rc<Rules>>, rel: &Path) -> bool {
    let mut current = rules;
    while let Some(r) = current {
        let path = rel.strip_prefix(&r.base).unwrap_or(rel);
        match r.matcher.matched(path, true) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => current = r.outer.as_ref(),
        }
    }
    false
}

/// `outer` with the rules of the ignore file `file` (read for the folder `rel`) put in front;
/// `outer` unchanged when the file cannot be read or holds no rule.
fn with_rules(
    outer: Option<Rc<Rules>>,
    anchor: &Path,
    rel: &Path,
    file: &Path,
) -> Option<Rc<Rules>> {
    // The matcher strips its root from the paths it is given when they start with it. Ours are
    // relative, so an absolute root is never stripped from them by accident.
    let mut builder = GitignoreBuilder::new(anchor.join(rel));
    // A bad line is dropped; the file's other lines still count, as with git.
    let _ = builder.add(file);
    match builder.build() {
        Ok(matcher) if !matcher.is_empty() => Some(Rc::new(Rules {
            matcher,
            base: rel.to_path_buf(),
            outer,
        })),
        _ => outer,
    }
}

/// The folders (relative to `root`) holding a `manage.py` at the shallowest depth that has
/// one, in sorted order; empty when there is none. `list` reads a folder (tests count or fail
/// the reads through it).
fn shallowest_manage_py(
    root: &Path,
    list: &mut dyn FnMut(&Path) -> io::Result<Vec<Entry>>,
) -> Vec<PathBuf> {
    // Any absolute path does as the matchers' root (see `with_rules`).
    let anchor = std::path::absolute(root).unwrap_or_else(|_| PathBuf::from("/"));
    let exclude = root.join(".git").join("info").join("exclude");
    let base_rules = if exclude.is_file() {
        with_rules(None, &anchor, Path::new(""), &exclude)
    } else {
        None
    };

    /// A folder read at the current depth, kept until the depth is finished.
    struct Read {
        rel: PathBuf,
        rules: Option<Rc<Rules>>,
        has_gitignore: bool,
        subdirs: Vec<OsString>,
    }

    let mut level: Vec<(PathBuf, Option<Rc<Rules>>)> = vec![(PathBuf::new(), base_rules)];
    while !level.is_empty() {
        let mut found: Vec<PathBuf> = Vec::new();
        let mut read: Vec<Read> = Vec::new();
        for (rel, rules) in level {
            let Ok(entries) = list(&root.join(&rel)) else {
                continue;
            };
            let is_root = rel.as_os_str().is_empty();
            if !is_root
                && entries
                    .iter()
                    .any(|e| e.kind != Kind::Dir && e.name == "pyvenv.cfg")
            {
                continue;
            }
            let mut has_gitignore = false;
            let mut subdirs = Vec::new();
            for entry in entries {
                match entry.kind {
                    Kind::File if entry.name == "manage.py" => found.push(rel.clone()),
                    Kind::Dir if !is_pruned_name(&entry.name) => subdirs.push(entry.name),
                    Kind::File | Kind::Other if entry.name == ".gitignore" => has_gitignore = true,
                    _ => {}
                }
            }
            if found.is_empty() {
                read.push(Read {
                    rel,
                    rules,
                    has_gitignore,
                    subdirs,
                });
            }
        }
        if !found.is_empty() {
            return found;
        }
        let mut next = Vec::new();
        for mut folder in read {
            let rules = if folder.has_gitignore {
                let file = root.join(&folder.rel).join(".gitignore");
                with_rules(folder.rules, &anchor, &folder.rel, &file)
            } else {
                folder.rules
            };
            folder.subdirs.sort_unstable();
            for name in folder.subdirs {
                let child = folder.rel.join(name);
                if !is_ignored(rules.as_ref(), &child) {
                    next.push((child, rules.clone()));
                }
            }
        }
        level = next;
    }
    Vec::new()
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

/// `a/b` -> `["a/b", "a", "."]`: a folder below the root (relative, `/`-separated), then
/// each folder above it, the root last.
pub fn ancestors(dir: &str) -> Vec<String> {
    let mut out = vec![dir.to_string()];
    let mut current = dir;
    while current != "." {
        current = current.rsplit_once('/').map_or(".", |(parent, _)| parent);
        out.push(current.to_string());
    }
    out
}

/// `rel`, a path inside the project folder `project_root` (itself relative to the root,
/// `.` for the root), as a path relative to the root: what messages and plans show.
pub fn under(project_root: &str, rel: &str) -> String {
    if project_root == "." {
        rel.to_string()
    } else {
        format!("{project_root}/{rel}")
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
        assert_eq!(
            err.hint(),
            Some("pass the one to deploy: `--project-dir a`")
        );
        // Evidence decides when only one has its dependencies beside it.
        touch(dir.path(), "b/requirements.txt");
        assert_eq!(find_project_dir(dir.path()).unwrap(), "b");
        assert_eq!(chosen_project_dir(dir.path(), "a").unwrap(), "a");
        assert!(chosen_project_dir(dir.path(), "nowhere").is_err());
    }

    #[test]
    fn gitignored_folders_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        // Without the ignore files these would make several projects at depth one.
        fs::write(
            dir.path().join(".gitignore"),
            "/dist\nbuild/\nout*/\n!out-keep/\n",
        )
        .unwrap();
        touch(dir.path(), "dist/manage.py");
        touch(dir.path(), "build/manage.py");
        touch(dir.path(), "out-tmp/manage.py");
        touch(dir.path(), ".git/info/exclude");
        fs::write(dir.path().join(".git/info/exclude"), "scratch\n").unwrap();
        touch(dir.path(), "scratch/manage.py");
        // A nested .gitignore counts for its own folder.
        touch(dir.path(), "app/.gitignore");
        fs::write(dir.path().join("app/.gitignore"), "generated/\n").unwrap();
        touch(dir.path(), "app/generated/manage.py");
        touch(dir.path(), "app/src/site/manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), "app/src/site");
        // `!` re-includes a folder an earlier line ignored.
        touch(dir.path(), "out-keep/manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), "out-keep");
    }

    #[test]
    fn a_nested_gitignore_can_re_include_what_an_outer_one_ignores() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".gitignore"), "site/\n").unwrap();
        touch(dir.path(), "a/.gitignore");
        fs::write(dir.path().join("a/.gitignore"), "!site/\n").unwrap();
        touch(dir.path(), "a/site/manage.py");
        touch(dir.path(), "b/site/manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), "a/site");
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_folders_are_not_entered_and_loops_finish() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "real/deep/deeper/manage.py");
        fs::create_dir_all(dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("a/loop")).unwrap();
        std::os::unix::fs::symlink(".", dir.path().join("self")).unwrap();
        std::os::unix::fs::symlink("real/deep/deeper", dir.path().join("link")).unwrap();
        // Through `link` the project would sit at depth one; it is found only where it is.
        assert_eq!(find_project_dir(dir.path()).unwrap(), "real/deep/deeper");
        fs::remove_dir_all(dir.path().join("real")).unwrap();
        let err = find_project_dir(dir.path()).unwrap_err();
        assert!(err.to_string().contains("no Django project found"), "{err}");
    }

    #[test]
    fn nothing_below_the_shallowest_manage_py_is_read() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "a/manage.py");
        touch(dir.path(), "b/c/manage.py");
        touch(dir.path(), "b/c/d/e/f");
        touch(dir.path(), "z/y/x");
        let mut reads = Vec::new();
        let found = shallowest_manage_py(dir.path(), &mut |p: &Path| {
            reads.push(relative(dir.path(), p));
            list_dir(p)
        });
        assert_eq!(found, vec![PathBuf::from("a")]);
        // The whole of depth one is read, in sorted order; nothing at depth two is.
        assert_eq!(reads, [".", "a", "b", "z"]);
    }

    #[test]
    fn folders_that_cannot_be_read_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "locked/manage.py");
        touch(dir.path(), "open/site/manage.py");
        let locked = dir.path().join("locked");
        let found = shallowest_manage_py(dir.path(), &mut |p: &Path| {
            if p == locked {
                Err(io::Error::from(io::ErrorKind::PermissionDenied))
            } else {
                list_dir(p)
            }
        });
        assert_eq!(found, vec![PathBuf::from("open/site")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_without_read_permission_is_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "locked/manage.py");
        touch(dir.path(), "open/site/manage.py");
        let locked = dir.path().join("locked");
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        // root reads every folder whatever its mode: then `locked` is simply found.
        let readable = fs::read_dir(&locked).is_ok();
        let result = find_project_dir(dir.path());
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        let expected = if readable { "locked" } else { "open/site" };
        assert_eq!(result.unwrap(), expected);
    }

    #[test]
    fn a_virtualenv_is_skipped_whatever_its_name_but_the_root_never_is() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "pyenv-3.12/pyvenv.cfg");
        touch(dir.path(), "pyenv-3.12/manage.py");
        touch(dir.path(), "src/site/manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), "src/site");
        assert!(is_pruned(&dir.path().join("pyenv-3.12")));
        assert!(is_pruned(&dir.path().join("node_modules")));
        assert!(!is_pruned(&dir.path().join("src")));
        touch(dir.path(), "pyvenv.cfg");
        touch(dir.path(), "manage.py");
        assert_eq!(find_project_dir(dir.path()).unwrap(), ".");
    }
}
