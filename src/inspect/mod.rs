//! `inspect(root) -> ProjectFacts`: read-only discovery of everything djrun acts on.

pub mod layout;
pub mod settings;

use crate::patch::requirements::Requirements;
use crate::python::PyModule;
use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub use settings::SettingsFacts;

/// A value djrun detected, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// The value (`3.13`).
    pub version: String,
    /// Where it came from (`.python-version`, `runtime.txt`, `default for Django 5.2`).
    pub source: String,
}

/// A file and line, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Path relative to the root, `/`-separated.
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

/// Everything djrun knows about the project. Paths are relative to `root`, `/`-separated.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectFacts {
    /// The folder djrun was pointed at.
    #[serde(skip)]
    pub root: PathBuf,
    /// The folder that holds `manage.py` (`.` for the root).
    pub project_root: String,
    /// The settings module the container runs with.
    pub settings_module: String,
    /// The file of that module.
    pub settings_file: String,
    /// `module.path.attribute` of the WSGI application, if there is one.
    pub wsgi_application: Option<String>,
    /// `module.path.attribute` of the ASGI application, if there is one.
    pub asgi_application: Option<String>,
    /// The Python version the image uses and why.
    pub python_version: Detected,
    /// The Django version the dependencies pin or bound (`X.Y`).
    pub django_version: Option<String>,
    /// `pip`, `poetry`, `uv`, `pipenv` or `pdm`.
    pub dependency_manager: String,
    /// The dependency files, relative to the root.
    pub dependency_files: Vec<String>,
    /// Whether gunicorn is already a dependency.
    pub has_gunicorn: bool,
    /// Whether WhiteNoise is already a dependency.
    #[serde(skip)]
    pub has_whitenoise_dependency: bool,
    /// Where `ALLOWED_HOSTS` is set.
    pub allowed_hosts: Option<Location>,
    /// Whether `STATIC_ROOT` is set.
    pub static_root: bool,
    /// Whether WhiteNoise's middleware is installed.
    pub whitenoise: bool,
    /// `sqlite`, `postgres`, `mysql`, `env` or `unknown`.
    pub database: String,
    /// Everything else read from the settings, for the planner.
    #[serde(skip)]
    pub settings: SettingsFacts,
}

/// Files that decide the Python version, in the order they are asked.
const PYTHON_VERSION_FILES: &[&str] = &[".python-version", "runtime.txt"];

/// Inspect the project at `root`. Reads files; writes nothing.
pub fn inspect(root: &Path) -> Result<ProjectFacts> {
    let project_root = layout::find_project_dir(root)?;
    let project = layout::join(root, &project_root);
    let rel = |name: &str| -> String {
        if project_root == "." {
            name.to_string()
        } else {
            format!("{project_root}/{name}")
        }
    };

    let manage_text = read_text(&project.join("manage.py"), &rel("manage.py"))?;
    let manage = PyModule::parse(&rel("manage.py"), &manage_text)?;
    let manage_settings = settings_module_default(&manage).ok_or_else(|| {
        Error::input_hint(
            format!("`{}` does not set `DJANGO_SETTINGS_MODULE`", rel("manage.py")),
            "a Django `manage.py` calls `os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"yourproject.settings\")`; add it and run djrun again",
        )
    })?;

    // The WSGI module named by the settings decides more than manage.py does, but we need
    // the settings to find it: read manage.py's module first.
    let first = settings::locate(&project, &manage_settings).ok_or_else(|| {
        Error::input_hint(
            format!(
                "`{}` names the settings module `{manage_settings}`, but there is no `{}` in `{}`",
                rel("manage.py"),
                module_to_path(&manage_settings),
                project_root
            ),
            "fix `DJANGO_SETTINGS_MODULE` in `manage.py` so it names your settings module",
        )
    })?;
    let first_facts = settings::read(&project, &project_root, &first)?;
    let wsgi_application = first_facts.wsgi_application.clone().or_else(|| {
        let package = manage_settings.rsplit_once('.').map(|(p, _)| p)?;
        let package = package.split('.').next().unwrap_or(package);
        project
            .join(package)
            .join("wsgi.py")
            .is_file()
            .then(|| format!("{package}.wsgi.application"))
    });
    let asgi_application = first_facts.asgi_application.clone().or_else(|| {
        let package = manage_settings.split('.').next()?;
        project
            .join(package)
            .join("asgi.py")
            .is_file()
            .then(|| format!("{package}.asgi.application"))
    });

    // The settings the container runs with: a production module in a settings package,
    // else the WSGI module's default, else manage.py's.
    let mut settings_module = manage_settings.clone();
    if let Some(wsgi) = &wsgi_application {
        let wsgi_module = wsgi.rsplit_once('.').map_or(wsgi.as_str(), |(m, _)| m);
        let wsgi_file = project.join(module_to_path(wsgi_module));
        if let Ok(text) = std::fs::read_to_string(&wsgi_file) {
            if let Ok(module) = PyModule::parse(&rel(&module_to_path(wsgi_module)), &text) {
                if let Some(m) = settings_module_default(&module) {
                    settings_module = m;
                }
            }
        }
    }
    if let Some(production) = settings::production_module(&project, &settings_module) {
        settings_module = production;
    }
    let located = settings::locate(&project, &settings_module).unwrap_or(first);
    let facts = settings::read(&project, &project_root, &located)?;

    // Dependencies.
    let requirements_path = project.join("requirements.txt");
    let (dependency_files, requirements) = if requirements_path.is_file() {
        let text = read_text(&requirements_path, &rel("requirements.txt"))?;
        (
            vec![rel("requirements.txt")],
            Some(Requirements::parse(&rel("requirements.txt"), &text)),
        )
    } else {
        return Err(Error::input_hint(
            format!(
                "no dependency file found next to `{}`: djrun reads `requirements.txt`",
                rel("manage.py")
            ),
            format!(
                "list your dependencies in `{}` (`pip freeze > requirements.txt` in your virtualenv) and run djrun again",
                rel("requirements.txt")
            ),
        ));
    };
    let has = |name: &str| requirements.as_ref().is_some_and(|r| r.has(name));
    let django_version = requirements.as_ref().and_then(|r| r.django_version());
    let python_version = python_version(&project, &project_root, django_version.as_deref())?;

    Ok(ProjectFacts {
        root: root.to_path_buf(),
        project_root: project_root.clone(),
        settings_module,
        settings_file: facts.file.clone(),
        wsgi_application,
        asgi_application,
        python_version,
        django_version,
        dependency_manager: "pip".to_string(),
        dependency_files,
        has_gunicorn: has("gunicorn"),
        has_whitenoise_dependency: has("whitenoise"),
        allowed_hosts: facts.allowed_hosts.clone(),
        static_root: facts.static_root,
        whitenoise: facts.whitenoise_middleware,
        database: facts.database.clone(),
        settings: facts,
    })
}

/// Read a file as UTF-8 text, with a message that names it when it is not.
pub fn read_text(path: &Path, shown: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", shown, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::input_hint(
            format!("`{shown}` line {line} is not valid UTF-8"),
            format!("save `{shown}` as UTF-8 and run djrun again"),
        )
    })
}

/// The module named by `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")`.
pub fn settings_module_default(module: &PyModule) -> Option<String> {
    module.calls().into_iter().find_map(|call| {
        let setdefault = call.function.ends_with("setdefault");
        match call.string_args.as_slice() {
            [Some(key), Some(value)] if setdefault && key == "DJANGO_SETTINGS_MODULE" => {
                Some(value.clone())
            }
            _ => None,
        }
    })
}

/// `a.b.c` -> `a/b/c.py`.
pub fn module_to_path(module: &str) -> String {
    format!("{}.py", module.replace('.', "/"))
}

/// The newest Python each Django feature release supports.
fn newest_python_for(django: Option<&str>) -> &'static str {
    let Some((major, minor)) = django.and_then(|v| {
        let (a, b) = v.split_once('.')?;
        Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))
    }) else {
        return "3.14";
    };
    match (major, minor) {
        (0..=3, _) => "3.10",
        (4, 0) => "3.10",
        (4, 1) => "3.11",
        (4, _) => "3.12",
        (5, 0) => "3.12",
        (5, 1) => "3.13",
        _ => "3.14",
    }
}

/// The Python version: from `.python-version` or `runtime.txt`, else the newest the
/// project's Django supports.
fn python_version(project: &Path, project_root: &str, django: Option<&str>) -> Result<Detected> {
    for name in PYTHON_VERSION_FILES {
        let path = project.join(name);
        if !path.is_file() {
            continue;
        }
        let shown = if project_root == "." {
            name.to_string()
        } else {
            format!("{project_root}/{name}")
        };
        let text = read_text(&path, &shown)?;
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let raw = first.strip_prefix("python-").unwrap_or(first);
        let mut parts = raw.split('.');
        let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
            return Err(Error::input_hint(
                format!("`{shown}` line 1 says `{first}`, which is not a Python version"),
                format!("write a version such as `3.13` in `{shown}`, or pass `--python 3.13`"),
            ));
        };
        let version = format!("{major}.{minor}");
        crate::validate::python_version(&version).map_err(|why| {
            Error::input_hint(
                format!("`{shown}` line 1: {why}"),
                format!("write a version such as `3.13` in `{shown}`, or pass `--python 3.13`"),
            )
        })?;
        return Ok(Detected {
            version,
            source: shown,
        });
    }
    let version = newest_python_for(django).to_string();
    let source = match django {
        Some(d) => format!("newest Python that Django {d} supports"),
        None => "newest Python that current Django supports".to_string(),
    };
    Ok(Detected { version, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_python_follows_djangos_support_table() {
        assert_eq!(newest_python_for(Some("5.2")), "3.14");
        assert_eq!(newest_python_for(Some("6.1")), "3.14");
        assert_eq!(newest_python_for(Some("5.1")), "3.13");
        assert_eq!(newest_python_for(Some("4.2")), "3.12");
        assert_eq!(newest_python_for(Some("3.2")), "3.10");
        assert_eq!(newest_python_for(None), "3.14");
    }

    #[test]
    fn python_version_file_wins_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("runtime.txt"), "python-3.12.4\n").unwrap();
        let v = python_version(dir.path(), ".", Some("5.2")).unwrap();
        assert_eq!(v.version, "3.12");
        assert_eq!(v.source, "runtime.txt");
        std::fs::write(dir.path().join(".python-version"), "3.11.2\n").unwrap();
        assert_eq!(
            python_version(dir.path(), ".", None).unwrap().version,
            "3.11"
        );
        std::fs::write(dir.path().join(".python-version"), "pypy\n").unwrap();
        let err = python_version(dir.path(), ".", None).unwrap_err();
        assert!(
            err.to_string().contains("`.python-version` line 1"),
            "{err}"
        );
    }

    #[test]
    fn non_utf8_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.py");
        std::fs::write(&path, b"A = 1\nB = '\xff'\n").unwrap();
        let err = read_text(&path, "x.py").unwrap_err();
        assert_eq!(err.to_string(), "`x.py` line 2 is not valid UTF-8");
    }
}
