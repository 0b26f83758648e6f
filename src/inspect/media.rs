//! Whether the project stores user uploads: a `FileField` or `ImageField` in its models.
//!
//! Only model modules are read (`models.py`, and the modules of a `models/` package), below
//! the project folder, skipping virtualenvs, VCS folders, node_modules and migrations (a
//! field a migration mentions is in a model too). A line that is a comment does not count.

use super::{layout, Location};
use std::path::Path;

/// Folders never searched for models.
const SKIPPED: &[&str] = &[
    "node_modules",
    "site-packages",
    "migrations",
    "__pycache__",
    "static",
    "staticfiles",
    "media",
];

/// How deep below the project folder models are looked for.
const MAX_DEPTH: usize = 6;

/// The first model field that stores files, in path order.
pub fn upload_field(project: &Path, project_root: &str) -> Option<Location> {
    let mut found = None;
    walk(project, project, 0, false, project_root, &mut found);
    found
}

fn walk(
    project: &Path,
    dir: &Path,
    depth: usize,
    in_models: bool,
    project_root: &str,
    found: &mut Option<Location>,
) {
    if found.is_some() || depth > MAX_DEPTH || dir.join("pyvenv.cfg").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            if name.starts_with('.') || SKIPPED.contains(&name.as_str()) {
                continue;
            }
            walk(
                project,
                &path,
                depth + 1,
                name == "models",
                project_root,
                found,
            );
        } else if kind.is_file() && name.ends_with(".py") && (name == "models.py" || in_models) {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if let Some(line) = field_line(&text) {
                *found = Some(Location {
                    file: layout::under(project_root, &layout::relative(project, &path)),
                    line,
                });
                return;
            }
        }
        if found.is_some() {
            return;
        }
    }
}

/// The 1-based line of the first `FileField(` or `ImageField(` outside a comment.
fn field_line(text: &str) -> Option<usize> {
    text.lines().enumerate().find_map(|(i, line)| {
        let code = line.split('#').next().unwrap_or("");
        ["FileField(", "ImageField("]
            .iter()
            .any(|f| code.contains(f))
            .then_some(i + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn finds_file_fields_in_models_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::create_dir_all(p.join("shop/models")).unwrap();
        fs::create_dir_all(p.join("shop/migrations")).unwrap();
        fs::create_dir_all(p.join(".venv/lib")).unwrap();
        fs::write(p.join(".venv/lib/models.py"), "x = FileField()\n").unwrap();
        fs::write(
            p.join("shop/migrations/0001_initial.py"),
            "f = models.FileField()\n",
        )
        .unwrap();
        fs::write(p.join("shop/views.py"), "f = forms.FileField()\n").unwrap();
        fs::write(
            p.join("shop/models/product.py"),
            "from django.db import models\n# photo = models.ImageField()\nclass P(models.Model):\n    photo = models.ImageField(upload_to='p')\n",
        )
        .unwrap();
        assert_eq!(
            upload_field(p, "."),
            Some(Location {
                file: "shop/models/product.py".into(),
                line: 4
            })
        );
        fs::remove_file(p.join("shop/models/product.py")).unwrap();
        assert_eq!(upload_field(p, "."), None);
    }
}
