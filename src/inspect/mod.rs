//! `inspect(root) -> ProjectFacts`: read-only discovery of everything djrun acts on.

pub mod assets;
pub mod deps;
pub mod envvars;
pub mod includes;
pub mod layout;
pub mod media;
pub mod operator;
pub mod pipfile_hash;
pub mod python_version;
pub mod server;
pub mod settings;
pub mod settings_module;
pub mod sources;
pub mod startup;
pub mod writes;

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
    /// For a Python version: the month its security fixes ended (`October 2025`), when that
    /// has passed.
    pub end_of_life: Option<String>,
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
    /// The folder that holds the dependency files: the project folder, or the nearest folder
    /// above it that has them. The image is built from it.
    pub dependency_root: String,
    /// The settings module the container runs with.
    pub settings_module: String,
    /// The file of that module.
    pub settings_file: String,
    /// How the settings module was chosen: `default` (manage.py's or the WSGI module's),
    /// `production-module` (the production module of a settings package), `inferred` (from
    /// the layout and what the repository declares), `flag` (`--settings`), or `unknown`.
    pub settings_source: String,
    /// What the choice rests on, `file:line what`.
    pub settings_evidence: Vec<String>,
    /// Facts djrun could not find, each with what to do about it.
    pub hints: Vec<String>,
    /// `module.path.attribute` of the WSGI application, if there is one.
    pub wsgi_application: Option<String>,
    /// `module.path.attribute` of the ASGI application, if there is one.
    pub asgi_application: Option<String>,
    /// The lines of the repository's deploy files that run the application djrun found
    /// there (`Dockerfile:12 the Dockerfile's command runs `x.asgi:application` with daphne`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_evidence: Vec<String>,
    /// Whether those deploy files run it as ASGI.
    #[serde(skip)]
    pub declared_asgi: bool,
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
    /// What the settings load for themselves while they are imported.
    pub startup_config: StartupConfig,
    /// Management commands the image runs for the project's assets besides `collectstatic`
    /// (django-compressor's offline `compress`, django-sass-processor's `compilescss`).
    pub asset_steps: Vec<assets::AssetStep>,
    /// Everything else read from the settings, for the planner.
    #[serde(skip)]
    pub settings: SettingsFacts,
    /// Everything else read from the dependency files, for the planner.
    #[serde(skip)]
    pub deps: deps::Deps,
}

/// What the settings load for themselves while they are imported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StartupConfig {
    /// Where a `.env` file is loaded (django-environ's `read_env`, python-dotenv's
    /// `load_dotenv`).
    pub dotenv: Option<Location>,
    /// The secret fetched from Secret Manager (google-cloud-secret-manager).
    pub secret_manager: Option<startup::SettingsSecret>,
}

/// What `inspect` is asked beyond the root.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions<'a> {
    /// The folder below the root that holds `manage.py` (`--project-dir`).
    pub project_dir: Option<&'a str>,
    /// The settings module the container runs with (`--settings`).
    pub settings: Option<&'a str>,
    /// Report a settings module that cannot be found as `unknown` with a hint, instead of
    /// an error (`djrun inspect` reports; `djrun init` needs the settings to edit them).
    pub allow_unknown: bool,
}

/// Inspect the project at `root`. Reads files; writes nothing.
pub fn inspect(root: &Path) -> Result<ProjectFacts> {
    inspect_in(root, None)
}

/// Inspect the project at `root`, in the folder `project_dir` (relative to `root`) when
/// given, else in the folder of the shallowest `manage.py`.
pub fn inspect_in(root: &Path, project_dir: Option<&str>) -> Result<ProjectFacts> {
    inspect_with(
        root,
        &InspectOptions {
            project_dir,
            ..InspectOptions::default()
        },
    )
}

/// How the settings module was chosen.
struct Chosen {
    module: String,
    source: &'static str,
    evidence: Vec<String>,
}

/// The module file of `module.attribute`, if it exists below `project`.
fn entry_default(project: &Path, project_root: &str, module: &str) -> Option<(String, usize)> {
    let rel = entry_path(project, module);
    let text = std::fs::read_to_string(project.join(&rel)).ok()?;
    let parsed = PyModule::parse(&layout::under(project_root, &rel), &text).ok()?;
    settings_module_default_at(&parsed)
}

/// The file of `module` relative to `project`: `a/b.py`, else the package's `a/b/__init__.py`.
fn entry_path(project: &Path, module: &str) -> String {
    let file = module_to_path(module);
    let package = format!("{}/__init__.py", module.replace('.', "/"));
    if !project.join(&file).is_file() && project.join(&package).is_file() {
        package
    } else {
        file
    }
}

/// `package.wsgi.application` (or `asgi`) for the `{kind}.py` (or the `{kind}/` package)
/// that serves the settings `settings_module`: beside it, in its top-level package, at the
/// project root, else in the only top-level package that has one.
fn find_entry(project: &Path, settings_module: Option<&str>, kind: &str) -> Option<String> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some(module) = settings_module {
        let parts: Vec<&str> = module.split('.').collect();
        for depth in (1..parts.len()).rev() {
            candidates.push(parts[..depth].join("."));
        }
    }
    let found = |package: &str| {
        let base = if package.is_empty() {
            kind.to_string()
        } else {
            format!("{}/{kind}", package.replace('.', "/"))
        };
        project.join(format!("{base}.py")).is_file()
            || project.join(base).join("__init__.py").is_file()
    };
    if let Some(package) = candidates.iter().find(|p| found(p)) {
        return Some(format!("{package}.{kind}.application"));
    }
    if found("") {
        return Some(format!("{kind}.application"));
    }
    let mut packages: Vec<String> = std::fs::read_dir(project)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| settings::is_env_name(n) && found(n))
        .collect();
    packages.sort();
    match packages.as_slice() {
        [only] => Some(format!("{only}.{kind}.application")),
        _ => None,
    }
}

/// Inspect the project at `root` as `options` ask.
pub fn inspect_with(root: &Path, options: &InspectOptions) -> Result<ProjectFacts> {
    let project_root = match options.project_dir {
        Some(dir) => layout::chosen_project_dir(root, dir)?,
        None => layout::find_project_dir(root)?,
    };
    let project = layout::join(root, &project_root);
    let rel = |name: &str| layout::under(&project_root, name);

    let manage_text = read_text(&project.join("manage.py"), &rel("manage.py"))?;
    let manage = PyModule::parse(&rel("manage.py"), &manage_text)?;
    let manage_default = settings_module_default_at(&manage);
    let manage_settings = manage_default.as_ref().map(|(m, _)| m.clone());

    let missing = |module: &str, named_by: &str, fix: &str| {
        let expected = module_to_path(module);
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
                "{named_by} names the settings module `{module}`, but there is no `{expected}` in `{project_root}`"
            ),
            fix.to_string(),
        )
    };

    // Dependencies: in the project folder, else in the nearest folder above it that has
    // dependency files (a packaged app keeps them at the repository root). A missing one is
    // reported after the settings, which decide more.
    let mut hints = Vec::new();
    let found_deps = find_deps(root, &project_root);
    let dependency_root = match &found_deps {
        Ok((dir, _)) => dir.clone(),
        Err(_) => project_root.clone(),
    };
    let dependency_dir = layout::join(root, &dependency_root);
    // Where the repository may declare the settings module: the project folder, and the
    // folders above it up to the one with the dependency files.
    let mut folders = layout::ancestors(&project_root);
    if let Some(at) = folders.iter().position(|d| *d == dependency_root) {
        folders.truncate(at + 1);
    }
    let declaring: Vec<(PathBuf, String)> = folders
        .into_iter()
        .map(|dir| (layout::join(root, &dir), dir))
        .collect();
    let declaring: Vec<(&Path, &str)> = declaring
        .iter()
        .map(|(p, s)| (p.as_path(), s.as_str()))
        .collect();

    // The settings module: `--settings`; else the WSGI module's default or manage.py's, or
    // the production module of their settings package; else what the repository declares
    // and its layout suggest.
    let chosen: Option<Chosen> = if let Some(flag) = options.settings {
        if settings::locate(&project, flag).is_none() {
            return Err(missing(
                flag,
                "`--settings`",
                "pass the dotted module of your settings, as `DJANGO_SETTINGS_MODULE` would name it",
            ));
        }
        Some(Chosen {
            module: flag.to_string(),
            source: "flag",
            evidence: vec!["--settings".to_string()],
        })
    } else if let Some(manage_settings) = &manage_settings {
        // The WSGI module named by the settings decides more than manage.py does, but the
        // settings name it: read manage.py's module first.
        let first = settings::locate(&project, manage_settings).ok_or_else(|| {
            missing(
                manage_settings,
                &format!("`{}`", rel("manage.py")),
                "fix `DJANGO_SETTINGS_MODULE` in `manage.py` so it names your settings module",
            )
        })?;
        let first_facts = settings::read(&project, &project_root, &first)?;
        let wsgi = first_facts
            .wsgi_application
            .clone()
            .or_else(|| find_entry(&project, Some(manage_settings), "wsgi"));
        let line = manage_default.as_ref().map_or(1, |(_, l)| *l);
        let mut evidence = vec![format!(
            "{}:{line} sets `{manage_settings}`",
            rel("manage.py")
        )];
        let mut module = manage_settings.clone();
        if let Some(wsgi) = &wsgi {
            let wsgi_module = wsgi.rsplit_once('.').map_or(wsgi.as_str(), |(m, _)| m);
            if let Some((m, line)) = entry_default(&project, &project_root, wsgi_module) {
                if m != module {
                    evidence.push(format!(
                        "{}:{line} sets `{m}`",
                        rel(&entry_path(&project, wsgi_module))
                    ));
                }
                module = m;
            }
        }
        Some(Chosen {
            module,
            source: "default",
            evidence,
        })
    } else if let Some((module, line, entry)) = ["wsgi", "asgi"].iter().find_map(|kind| {
        let entry = find_entry(&project, None, kind)?;
        let entry_module = entry.rsplit_once('.').map(|(m, _)| m.to_string())?;
        let (module, line) = entry_default(&project, &project_root, &entry_module)?;
        settings::locate(&project, &module).map(|_| (module, line, entry_module))
    }) {
        Some(Chosen {
            evidence: vec![format!(
                "{}:{line} sets `{module}`",
                rel(&entry_path(&project, &entry))
            )],
            module,
            source: "default",
        })
    } else {
        settings_module::declared(&project, &declaring)
            .or_else(|| settings_module::from_layout(&project, &project_root))
            .map(|(module, evidence)| Chosen {
                module,
                source: "inferred",
                evidence,
            })
    };
    let chosen = chosen.map(|mut c| {
        if c.source != "flag" {
            if let Some(production) = settings::production_module(&project, &c.module) {
                if production != c.module {
                    let file = settings::locate(&project, &production)
                        .map(|l| layout::under(&project_root, &layout::relative(&project, &l.path)))
                        .unwrap_or_default();
                    c.evidence.push(format!(
                        "{file}:1 the production module of the settings package"
                    ));
                    c.module = production;
                    if c.source == "default" {
                        c.source = "production-module";
                    }
                }
            }
        }
        // A settings package whose `__init__.py` is empty holds no settings: the module in
        // it that the repository declares, else its production module, else the one that
        // defines `INSTALLED_APPS`.
        if c.source != "flag" {
            if let Some((module, evidence)) =
                settings_module::in_empty_package(&project, &project_root, &c.module, &declaring)
            {
                c.evidence.extend(evidence);
                c.module = module;
                c.source = "inferred";
            }
        }
        c
    });

    let (chosen, facts) = match chosen {
        Some(c) => {
            let located = settings::locate(&project, &c.module)
                .ok_or_else(|| missing(&c.module, "the project", "pass `--settings MODULE`"))?;
            let facts = settings::read(&project, &project_root, &located)?;
            (c, facts)
        }
        None if options.allow_unknown => {
            hints.push(format!(
                "settings: no module found (`{}` sets no `DJANGO_SETTINGS_MODULE`, and neither does any file djrun reads); pass `--settings MODULE`",
                rel("manage.py")
            ));
            let facts = SettingsFacts {
                file: "unknown".to_string(),
                database: "unknown".to_string(),
                ..SettingsFacts::default()
            };
            let c = Chosen {
                module: "unknown".to_string(),
                source: "unknown",
                evidence: Vec::new(),
            };
            (c, facts)
        }
        None => {
            return Err(Error::input_hint(
                format!(
                    "`{}` does not set `DJANGO_SETTINGS_MODULE`, and djrun found no settings module in the project's layout or files",
                    rel("manage.py")
                ),
                "pass `--settings MODULE` (the module `DJANGO_SETTINGS_MODULE` names when the project runs)",
            ));
        }
    };
    if facts.staticfiles_assumed {
        hints.push(format!(
            "settings: no module djrun reads sets `INSTALLED_APPS`, so djrun takes `django.contrib.staticfiles` to be installed (as `startproject` has it) and collects static files into the image; where it is not, pass `--settings` with the module that sets `INSTALLED_APPS`, or set it in `{}`",
            facts.file
        ));
    }
    for skipped in &facts.skipped_includes {
        hints.push(format!(
            "settings: `{}` line {} includes `{}`, {}; djrun does not read it",
            skipped.at.file, skipped.at.line, skipped.argument, skipped.reason
        ));
    }
    // The server: the settings' `WSGI_APPLICATION`/`ASGI_APPLICATION`, else what the
    // repository's deploy files run, else the layout.
    let known = (chosen.source != "unknown").then_some(chosen.module.as_str());
    let declared_server = server::declared(&project, &declaring);
    let declared_as = |asgi: bool| {
        declared_server
            .as_ref()
            .filter(|d| d.asgi == asgi)
            .map(|d| d.application.clone())
    };
    let wsgi_application = facts
        .wsgi_application
        .clone()
        .or_else(|| declared_as(false))
        .or_else(|| find_entry(&project, known, "wsgi"));
    let asgi_application = facts
        .asgi_application
        .clone()
        .or_else(|| declared_as(true))
        .or_else(|| find_entry(&project, known, "asgi"));
    if wsgi_application.is_none() && asgi_application.is_none() {
        hints.push(
            "server: no WSGI or ASGI application found (no `WSGI_APPLICATION`, `ASGI_APPLICATION`, `wsgi.py` or `asgi.py`, no server command in a Dockerfile, Procfile or Compose file)".to_string(),
        );
    }
    // The deploy files' evidence counts where their application is the one served.
    let (server_evidence, declared_asgi) = match declared_server {
        Some(d)
            if Some(&d.application)
                == if d.asgi {
                    asgi_application.as_ref()
                } else {
                    wsgi_application.as_ref()
                } =>
        {
            (d.evidence, d.asgi)
        }
        _ => (Vec::new(), false),
    };

    let deps = match found_deps {
        Ok((_, deps)) => deps,
        Err(e) if options.allow_unknown && e.to_string().starts_with("no dependency file") => {
            hints.push(match folder_above_with_deps(root) {
                Some(above) => format!(
                    "dependencies: unknown here; the dependency files are in `{}`, above the folder djrun was given: run djrun there",
                    above.display()
                ),
                None => format!(
                    "dependencies: unknown, no dependency file in `{project_root}`{}; list them in `{}` (`pip freeze > requirements.txt`)",
                    if project_root == "." { "" } else { " or any folder above it" },
                    rel("requirements.txt")
                ),
            });
            deps::Deps::none()
        }
        Err(e) => return Err(e),
    };
    for vcs in &deps.sources.vcs {
        if let Some(message) = sources::private_message(vcs) {
            hints.push(format!("dependencies: {message}"));
        }
    }
    for (file, line, target) in &deps.sources.outside {
        hints.push(format!(
            "dependencies: {}",
            sources::outside_message(file, *line, target)
        ));
    }
    // django-sass-processor's `compilescss` imports libsass and django-compressor's template
    // parser, which its own package does not require: without them the build stops there.
    let compiles_scss = facts
        .asset_steps
        .iter()
        .any(|s| s.tool == assets::SASS_PROCESSOR);
    let unlisted: Vec<&str> = ["libsass", "django-compressor"]
        .into_iter()
        .filter(|p| !deps.has(p))
        .collect();
    if compiles_scss && !deps.files.is_empty() && !unlisted.is_empty() {
        hints.push(format!(
            "assets: `python manage.py compilescss` imports {}, which the dependencies do not list; add {} or the image's build stops at that step",
            unlisted.join(" and "),
            if unlisted.len() == 1 { "it" } else { "them" }
        ));
    }
    let dependency_manager = if deps.files.is_empty() {
        "unknown".to_string()
    } else {
        deps.manager.name().to_string()
    };
    let django_version = deps.django_version.clone();
    let mut version_folders = vec![(project.clone(), project_root.clone())];
    if dependency_root != project_root {
        version_folders.push((dependency_dir.clone(), dependency_root.clone()));
    }
    let python_version = python_version(&version_folders, &deps, django_version.as_deref())?;

    Ok(ProjectFacts {
        root: root.to_path_buf(),
        project_root: project_root.clone(),
        dependency_root: dependency_root.clone(),
        settings_module: chosen.module,
        settings_file: facts.file.clone(),
        settings_source: chosen.source.to_string(),
        settings_evidence: chosen.evidence,
        hints,
        wsgi_application,
        asgi_application,
        server_evidence,
        declared_asgi,
        python_version,
        django_version,
        dependency_manager,
        dependency_files: deps
            .files
            .iter()
            .map(|f| layout::under(&dependency_root, f))
            .collect(),
        has_gunicorn: deps.has("gunicorn"),
        allowed_hosts: facts.allowed_hosts.clone(),
        static_root: facts.static_root,
        whitenoise: facts.whitenoise_middleware,
        database: facts.database.clone(),
        database_engine: facts.database_engine.clone(),
        database_url_env: facts.database_url_env.clone(),
        upload_field: media::upload_field(&project, &project_root),
        media_root: facts.media_root.clone(),
        startup_config: StartupConfig {
            dotenv: facts.dotenv_file.clone(),
            secret_manager: facts.settings_secret.clone(),
        },
        asset_steps: facts.asset_steps.clone(),
        settings: facts,
        deps,
    })
}

/// The dependencies of the project in `project_root`, and the folder they are in: the project
/// folder, else the nearest folder above it, up to the root, that has dependency files.
fn find_deps(root: &Path, project_root: &str) -> Result<(String, deps::Deps)> {
    for dir in layout::ancestors(project_root) {
        match deps::detect(&layout::join(root, &dir), &dir) {
            Ok(found) => return Ok((dir, found)),
            Err(e) if e.to_string().starts_with("no dependency file") => {
                if dir == "." && project_root != "." {
                    return Err(Error::input_hint(
                        format!(
                            "no dependency file found in `{project_root}` or any folder above it: djrun reads requirements.txt, requirements/*.txt, pyproject.toml (uv, Poetry, PDM) and Pipfile"
                        ),
                        format!(
                            "list your dependencies in `{}` or at the repository root (`pip freeze > requirements.txt` in your virtualenv) and run djrun again",
                            layout::under(project_root, "requirements.txt")
                        ),
                    ));
                }
                if dir == "." {
                    return Err(match folder_above_with_deps(root) {
                        Some(above) => Error::input_hint(
                            e.to_string(),
                            format!(
                                "the dependency files are in `{}`, above the folder djrun was given: run djrun there (`djrun init {}`), so the image is built from the folder that holds them",
                                above.display(),
                                above.display()
                            ),
                        ),
                        None => e,
                    });
                }
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("ancestors() ends with the root")
}

/// The nearest folder above `root` (on the machine, outside what djrun was given) that holds
/// dependency files, for a hint.
fn folder_above_with_deps(root: &Path) -> Option<PathBuf> {
    let root = std::fs::canonicalize(root).ok()?;
    root.ancestors().skip(1).take(3).find_map(|dir| {
        deps::DEPENDENCY_FILES
            .iter()
            .any(|f| dir.join(f).is_file())
            .then(|| dir.to_path_buf())
    })
}

/// Read a file as UTF-8 text, with a message that names it when it is not.
pub fn read_text(path: &Path, shown: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", shown, e))?;
    crate::text::decode_utf8(bytes, shown)
}

/// The module named by `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")`.
pub fn settings_module_default(module: &PyModule) -> Option<String> {
    settings_module_default_at(module).map(|(m, _)| m)
}

/// [`settings_module_default`] and the line of the call.
fn settings_module_default_at(module: &PyModule) -> Option<(String, usize)> {
    module.calls().into_iter().find_map(|call| {
        let setdefault = call.function.ends_with("setdefault");
        match call.string_args.as_slice() {
            [Some(key), Some(value)] if setdefault && key == "DJANGO_SETTINGS_MODULE" => {
                Some((value.clone(), call.line))
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
/// `runtime.txt`, the Pipfile and a Dockerfile djrun did not write, in the project folder and
/// the folder of the dependency files; ranges in `requires-python` and Poetry's `python`),
/// and the project's Django.
fn python_version(
    folders: &[(PathBuf, String)],
    deps: &deps::Deps,
    django: Option<&str>,
) -> Result<Detected> {
    use python_version::Constraint;
    let mut constraints = Vec::new();
    type Reader = fn(&str) -> Option<String>;
    let files: [(&str, Reader); 2] = [
        (".python-version", python_version::from_python_version_file),
        ("runtime.txt", python_version::from_runtime_txt),
    ];
    for (folder, prefix) in folders {
        let shown = |name: &str| layout::under(prefix, name);
        for (name, reader) in files {
            let path = folder.join(name);
            if path.is_file() {
                if let Some(v) = reader(&read_text(&path, &shown(name))?) {
                    constraints.push(Constraint::pin(v, shown(name)));
                }
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
    for (folder, prefix) in folders {
        let dockerfile = folder.join("Dockerfile");
        if dockerfile.is_file() {
            let shown = layout::under(prefix, "Dockerfile");
            let text = read_text(&dockerfile, &shown)?;
            if !crate::apply::is_generated(&text) {
                if let Some(v) = python_version::from_dockerfile(&text) {
                    constraints.push(Constraint::pin(v, shown));
                }
            }
        }
    }
    let choice = python_version::choose(&constraints, django)?;
    Ok(Detected {
        end_of_life: python_version::end_of_life(&choice.version),
        version: choice.version,
        source: choice.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here(dir: &Path) -> Vec<(PathBuf, String)> {
        vec![(dir.to_path_buf(), ".".to_string())]
    }

    #[test]
    fn python_version_files_pin_and_requires_python_bounds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "django>=5.2\n").unwrap();
        let deps = deps::detect(dir.path(), ".").unwrap();
        std::fs::write(dir.path().join("runtime.txt"), "python-3.12.4\n").unwrap();
        let v = python_version(&here(dir.path()), &deps, Some("5.2")).unwrap();
        assert_eq!(
            (v.version.as_str(), v.source.as_str()),
            ("3.12", "runtime.txt")
        );
        std::fs::write(dir.path().join(".python-version"), "3.11.2\n").unwrap();
        assert_eq!(
            python_version(&here(dir.path()), &deps, None)
                .unwrap()
                .version,
            "3.11"
        );
        std::fs::write(dir.path().join(".python-version"), "3.9\n").unwrap();
        let err = python_version(&here(dir.path()), &deps, Some("5.2")).unwrap_err();
        assert!(err.to_string().contains("`.python-version`"), "{err}");
    }

    #[test]
    fn a_dockerfile_djrun_wrote_is_not_a_constraint() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "django>=5.2\n").unwrap();
        let deps = deps::detect(dir.path(), ".").unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM python:3.11-slim\n").unwrap();
        assert_eq!(
            python_version(&here(dir.path()), &deps, Some("5.2"))
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
            python_version(&here(dir.path()), &deps, Some("5.2"))
                .unwrap()
                .version,
            "3.14"
        );
    }

    #[test]
    fn inspect_reports_missing_settings_and_dependencies_as_unknown_with_hints() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("manage.py"),
            "import sys\nfrom django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n",
        )
        .unwrap();
        let strict = inspect(dir.path()).unwrap_err();
        assert!(strict
            .to_string()
            .contains("does not set `DJANGO_SETTINGS_MODULE`"));
        let options = InspectOptions {
            allow_unknown: true,
            ..InspectOptions::default()
        };
        let facts = inspect_with(dir.path(), &options).unwrap();
        assert_eq!(
            (
                facts.settings_module.as_str(),
                facts.settings_source.as_str()
            ),
            ("unknown", "unknown")
        );
        assert_eq!(facts.dependency_manager, "unknown");
        assert_eq!(facts.hints.len(), 3, "{:?}", facts.hints);

        // The layout gives the settings away; `--settings` overrides it.
        std::fs::create_dir_all(dir.path().join("site/settings")).unwrap();
        std::fs::write(dir.path().join("site/__init__.py"), "").unwrap();
        std::fs::write(dir.path().join("site/wsgi.py"), "application = None\n").unwrap();
        std::fs::write(dir.path().join("site/settings/__init__.py"), "").unwrap();
        std::fs::write(
            dir.path().join("site/settings/ci.py"),
            "INSTALLED_APPS = []\n",
        )
        .unwrap();
        let facts = inspect_with(dir.path(), &options).unwrap();
        // The package's `__init__.py` is empty: the module in it that defines
        // `INSTALLED_APPS` runs.
        assert_eq!(facts.settings_module, "site.settings.ci");
        assert_eq!(facts.settings_source, "inferred");
        assert_eq!(
            facts.settings_evidence,
            vec![
                "site/wsgi.py:1 the settings module `site.settings` sits beside it",
                "site/settings/__init__.py:1 is empty, so `site.settings` holds no settings of its own",
                "site/settings/ci.py:1 defines `INSTALLED_APPS`, and the package has no production module",
            ]
        );
        assert_eq!(
            facts.wsgi_application.as_deref(),
            Some("site.wsgi.application")
        );
        let flagged = InspectOptions {
            settings: Some("site.settings.ci"),
            ..options.clone()
        };
        let facts = inspect_with(dir.path(), &flagged).unwrap();
        assert_eq!(
            (
                facts.settings_module.as_str(),
                facts.settings_source.as_str()
            ),
            ("site.settings.ci", "flag")
        );
        let wrong = InspectOptions {
            settings: Some("site.nope"),
            ..options
        };
        assert!(inspect_with(dir.path(), &wrong).is_err());
    }

    #[test]
    fn non_utf8_file_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.py");
        std::fs::write(&path, b"A = 1\nB = '\xff'\n").unwrap();
        let err = read_text(&path, "x.py").unwrap_err();
        assert_eq!(err.to_string(), "`x.py` line 2 is not valid UTF-8");
    }

    #[test]
    fn deploy_files_that_run_an_asgi_package_choose_it_over_wsgi_application() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("requirements.txt", "django==5.2.1\nuvicorn\n");
        write(
            "manage.py",
            "import os\nos.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"site.settings\")\n",
        );
        write("site/__init__.py", "");
        // startproject's `WSGI_APPLICATION` and `wsgi.py`, but the image runs the ASGI package.
        write(
            "site/settings.py",
            "INSTALLED_APPS = []\nWSGI_APPLICATION = \"site.wsgi.application\"\n",
        );
        write("site/wsgi.py", "application = None\n");
        write("site/asgi/__init__.py", "application = None\n");
        write(
            "Dockerfile",
            "FROM python:3.13-slim\nCMD daphne -b 0.0.0.0 -p $PORT site.asgi:application\n",
        );
        let facts = inspect(dir.path()).unwrap();
        assert_eq!(
            facts.wsgi_application.as_deref(),
            Some("site.wsgi.application")
        );
        assert_eq!(
            facts.asgi_application.as_deref(),
            Some("site.asgi.application")
        );
        assert_eq!(
            facts.server_evidence,
            vec!["Dockerfile:2 the Dockerfile's command runs `site.asgi:application` with daphne"]
        );
        assert_eq!(
            crate::generate::Server::choose(&facts).unwrap(),
            crate::generate::Server::Asgi("site.asgi:application".to_string())
        );
        // Without the Dockerfile, the layout finds the package, and WSGI_APPLICATION serves.
        std::fs::remove_file(dir.path().join("Dockerfile")).unwrap();
        let facts = inspect(dir.path()).unwrap();
        assert_eq!(
            facts.asgi_application.as_deref(),
            Some("site.asgi.application")
        );
        assert!(facts.server_evidence.is_empty());
        assert_eq!(
            crate::generate::Server::choose(&facts).unwrap(),
            crate::generate::Server::Wsgi("site.wsgi:application".to_string())
        );
    }
}
