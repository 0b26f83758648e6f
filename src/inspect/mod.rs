//! `inspect(root) -> ProjectFacts`: read-only discovery of everything djrun acts on.

pub mod deps;
pub mod envvars;
pub mod layout;
pub mod media;
pub mod python_version;
pub mod settings;

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
    /// Where `ALLOWED_HOSTS` is set.
    pub allowed_hosts: Option<Location>,
    /// Whether `STATIC_ROOT` is set.
    pub static_root: bool,
    /// Whether WhiteNoise's middleware is installed.
    pub whitenoise: bool,
    /// `sqlite`, `postgres`, `mysql`, `env` or `unknown`.
    pub database: String,
    /// The `ENGINE` the settings name for the default database, when they name one.
    pub database_engine: Option<String>,
    /// The environment variable the settings already read a database URL from.
    pub database_url_env: Option<String>,
    /// The first model field that stores uploaded files (`FileField`, `ImageField`).
    pub upload_field: Option<Location>,
    /// Where `MEDIA_ROOT` is set.
    pub media_root: Option<Location>,
    /// Everything else read from the settings, for the planner.
    #[serde(skip)]
    pub settings: SettingsFacts,
    /// Everything else read from the dependency files, for the planner.
    #[serde(skip)]
    pub deps: deps::Deps,
}

/// Inspect the project at `root`. Reads files; writes nothing.
pub fn inspect(root: &Path) -> Result<ProjectFacts> {
    inspect_in(root, None)
}

/// Inspect the project at `root`, in the folder `project_dir` (relative to `root`) when
/// given, else in the folder of the shallowest `manage.py`.
pub fn inspect_in(root: &Path, project_dir: Option<&str>) -> Result<ProjectFacts> {
    let project_root = match project_dir {
        Some(dir) => layout::chosen_project_dir(root, dir)?,
        None => layout::find_project_dir(root)?,
    };
    let project = layout::join(root, &project_root);
    let rel = |name: &str| layout::under(&project_root, name);

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
        let expected = module_to_path(&manage_settings);
        let path = layout::join(&project, &expected);
        if std::fs::symlink_metadata(&path).is_ok() {
            return Error::input_hint(
                format!(
                    "`{}` is a link that leads nowhere: a loop, or its target is missing",
                    rel(&expected)
                ),
                format!(
                    "point `{}` at your settings file, or replace it with the file",
                    rel(&expected)
                ),
            );
        }
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
    // Read the settings again only when the container runs another module than manage.py's.
    let facts = match settings::locate(&project, &settings_module) {
        Some(located) if located.path != first.path => {
            settings::read(&project, &project_root, &located)?
        }
        _ => first_facts,
    };

    // Dependencies.
    let deps = deps::detect(&project, &project_root)?;
    let django_version = deps.django_version.clone();
    let python_version = python_version(&project, &project_root, &deps, django_version.as_deref())?;

    Ok(ProjectFacts {
        root: root.to_path_buf(),
        project_root: project_root.clone(),
        settings_module,
        settings_file: facts.file.clone(),
        wsgi_application,
        asgi_application,
        python_version,
        django_version,
        dependency_manager: deps.manager.name().to_string(),
        dependency_files: deps.files.iter().map(|f| rel(f)).collect(),
        has_gunicorn: deps.has("gunicorn"),
        allowed_hosts: facts.allowed_hosts.clone(),
        static_root: facts.static_root,
        whitenoise: facts.whitenoise_middleware,
        database: facts.database.clone(),
        database_engine: facts.database_engine.clone(),
        database_url_env: facts.database_url_env.clone(),
        upload_field: media::upload_field(&project, &project_root),
        media_root: facts.media_root.clone(),
        settings: facts,
        deps,
    })
}

/// Read a file as UTF-8 text, with a message that names it when it is not.
pub fn read_text(path: &Path, shown: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", shown, e))?;
    crate::text::decode_utf8(bytes, shown)
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

/// The Python version: every constraint the project states (pins in `.python-version`,
/// `runtime.txt`, the Pipfile and a Dockerfile djrun did not write; ranges in
/// `requires-python` and Poetry's `python`), and the project's Django.
fn python_version(
    project: &Path,
    project_root: &str,
    deps: &deps::Deps,
    django: Option<&str>,
) -> Result<Detected> {
    use python_version::Constraint;
    let shown = |name: &str| layout::under(project_root, name);
    let mut constraints = Vec::new();
    type Reader = fn(&str) -> Option<String>;
    let files: [(&str, Reader); 2] = [
        (".python-version", python_version::from_python_version_file),
        ("runtime.txt", python_version::from_runtime_txt),
    ];
    for (name, reader) in files {
        let path = project.join(name);
        if path.is_file() {
            if let Some(v) = reader(&read_text(&path, &shown(name))?) {
                constraints.push(Constraint::pin(v, shown(name)));
            }
        }
    }
    for (spec, source, syntax) in &deps.python_constraints {
        constraints.push(match syntax {
            deps::PythonSyntax::Exact => Constraint::pin(spec.clone(), source.clone()),
            deps::PythonSyntax::Pep440 => Constraint::range(spec.clone(), source.clone()),
            deps::PythonSyntax::Poetry => Constraint::poetry(spec.clone(), source.clone()),
        });
    }
    let dockerfile = project.join("Dockerfile");
    if dockerfile.is_file() {
        let text = read_text(&dockerfile, &shown("Dockerfile"))?;
        if !crate::apply::is_generated(&text) {
            if let Some(v) = python_version::from_dockerfile(&text) {
                constraints.push(Constraint::pin(v, shown("Dockerfile")));
            }
        }
    }
    let choice = python_version::choose(&constraints, django)?;
    Ok(Detected {
        version: choice.version,
        source: choice.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_version_files_pin_and_requires_python_bounds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "django>=5.2\n").unwrap();
        let deps = deps::detect(dir.path(), ".").unwrap();
        std::fs::write(dir.path().join("runtime.txt"), "python-3.12.4\n").unwrap();
        let v = python_version(dir.path(), ".", &deps, Some("5.2")).unwrap();
        assert_eq!(
            (v.version.as_str(), v.source.as_str()),
            ("3.12", "runtime.txt")
        );
        std::fs::write(dir.path().join(".python-version"), "3.11.2\n").unwrap();
        assert_eq!(
            python_version(dir.path(), ".", &deps, None)
                .unwrap()
                .version,
            "3.11"
        );
        std::fs::write(dir.path().join(".python-version"), "3.9\n").unwrap();
        let err = python_version(dir.path(), ".", &deps, Some("5.2")).unwrap_err();
        assert!(err.to_string().contains("`.python-version`"), "{err}");
    }

    #[test]
    fn a_dockerfile_djrun_wrote_is_not_a_constraint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "django>=5.2\n").unwrap();
        let deps = deps::detect(dir.path(), ".").unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM python:3.11-slim\n").unwrap();
        assert_eq!(
            python_version(dir.path(), ".", &deps, Some("5.2"))
                .unwrap()
                .version,
            "3.11"
        );
        std::fs::write(
            dir.path().join("Dockerfile"),
            "# Generated by djrun from your Django project.\nFROM python:3.11-slim\n",
        )
        .unwrap();
        assert_eq!(
            python_version(dir.path(), ".", &deps, Some("5.2"))
                .unwrap()
                .version,
            "3.14"
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
