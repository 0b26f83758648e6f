//! Which settings module the container runs with when neither `manage.py` nor the WSGI module
//! names one: what the repository declares elsewhere (`.env.example`, a Dockerfile, a Compose
//! file, pytest's configuration, a Procfile), else the layout (a settings module or package
//! beside a `wsgi.py` or `asgi.py`, else a module that defines `INSTALLED_APPS`).

use super::{layout, settings};
use std::path::Path;

/// One piece of evidence: `file:line what`.
pub type Evidence = String;

/// Files that declare `DJANGO_SETTINGS_MODULE`, the deployment's own first: a test
/// configuration names the test settings, a deployment names the ones that run.
const DECLARING_FILES: &[(&str, &str)] = &[
    ("Dockerfile", "the Dockerfile's environment"),
    ("Procfile", "the Procfile"),
    ("docker-compose.yml", "the Compose file's environment"),
    ("docker-compose.yaml", "the Compose file's environment"),
    ("compose.yml", "the Compose file's environment"),
    ("compose.yaml", "the Compose file's environment"),
    (".env.example", "the example environment"),
    (".env.sample", "the example environment"),
    (".env.template", "the example environment"),
    ("pytest.ini", "pytest's configuration"),
    ("pyproject.toml", "pytest's configuration"),
    ("setup.cfg", "pytest's configuration"),
    ("tox.ini", "pytest's configuration"),
];

/// The value given to `DJANGO_SETTINGS_MODULE` on `line`, in any of the forms these files
/// use: `NAME=value`, `NAME = "value"`, `NAME: value`, `ENV NAME value`, `--settings=value`.
fn declared_on(line: &str) -> Option<String> {
    let rest = if let Some(at) = line.find("DJANGO_SETTINGS_MODULE") {
        &line[at + "DJANGO_SETTINGS_MODULE".len()..]
    } else if let Some(at) = line.find("--settings") {
        &line[at + "--settings".len()..]
    } else {
        return None;
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
    let value: String = rest
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let valid = !value.is_empty()
        && value
            .split('.')
            .all(|part| settings::is_env_name(part) && !part.is_empty());
    valid.then_some(value)
}

/// Each line of the files `files` names in `folders`, as `(file shown, 1-based line, text,
/// what the file is)`, comments left out. With `join_continued`, a line that ends in `\`
/// is joined with the next (a Dockerfile's or a shell's continuation), at the first line's
/// number. With `skip_generated`, a file djrun generated is not read: what it says is what
/// djrun decided, not evidence.
pub(super) fn declaring_lines<'a>(
    folders: &'a [(&'a Path, &'a str)],
    files: &'a [(&'a str, &'a str)],
    join_continued: bool,
    skip_generated: bool,
) -> impl Iterator<Item = (String, usize, String, &'a str)> + 'a {
    folders
        .iter()
        .flat_map(move |f| files.iter().map(move |d| (f, d)))
        .flat_map(move |((folder, shown), (name, what))| {
            let mut text = std::fs::read_to_string(folder.join(name)).unwrap_or_default();
            if skip_generated && crate::apply::is_generated(&text) {
                text.clear();
            }
            let file = layout::under(shown, name);
            let mut lines: Vec<(String, usize, String, &'a str)> = Vec::new();
            let mut pending: Option<(usize, String)> = None;
            for (i, line) in text.lines().enumerate() {
                let trimmed = line.trim_start();
                if trimmed.starts_with('#') || trimmed.starts_with(';') {
                    continue;
                }
                let (start, mut joined) = match pending.take() {
                    Some((start, before)) => (start, before + " " + line),
                    None => (i + 1, line.to_string()),
                };
                if join_continued && joined.trim_end().ends_with('\\') {
                    let cut = joined.trim_end().len() - 1;
                    joined.truncate(cut);
                    pending = Some((start, joined));
                    continue;
                }
                lines.push((file.clone(), start, joined, *what));
            }
            if let Some((start, joined)) = pending {
                lines.push((file.clone(), start, joined, *what));
            }
            lines
        })
}

/// The settings module the repository declares outside Python, with the evidence. Only a
/// module that exists below `project` counts. `folders` are where to look, each with how it
/// is shown: the project folder first, then the folders above it that hold its dependency
/// files (a packaged app keeps its pytest configuration and Compose file at the root).
pub fn declared(project: &Path, folders: &[(&Path, &str)]) -> Option<(String, Vec<Evidence>)> {
    declared_where(project, folders, |_| true)
}

/// [`declared`], counting only the modules `accept` takes.
fn declared_where(
    project: &Path,
    folders: &[(&Path, &str)],
    accept: impl Fn(&str) -> bool,
) -> Option<(String, Vec<Evidence>)> {
    let mut found: Option<String> = None;
    let mut evidence = Vec::new();
    for (file, line, text, what) in declaring_lines(folders, DECLARING_FILES, false, false) {
        let Some(module) = declared_on(&text) else {
            continue;
        };
        if settings::locate(project, &module).is_none() || !accept(&module) {
            continue;
        }
        evidence.push(format!("{file}:{line} {what} sets `{module}`"));
        found.get_or_insert(module);
    }
    found.map(|m| (m, evidence))
}

/// The `__init__.py` of `module` when it is a package whose `__init__.py` holds nothing but
/// blank lines and comments: no settings of its own.
pub fn empty_package_init(project: &Path, module: &str) -> Option<std::path::PathBuf> {
    let located = settings::locate(project, module)?;
    if !located.path.ends_with("__init__.py") {
        return None;
    }
    let text = std::fs::read_to_string(&located.path).ok()?;
    let empty = text
        .trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#'));
    empty.then_some(located.path)
}

/// The module to run where the settings module `package` is a package with an empty
/// `__init__.py`: the module the repository declares (any that is not itself an empty
/// package), else the package's production module, else the module in it that defines
/// `INSTALLED_APPS`. The evidence starts with the empty `__init__.py`.
pub fn in_empty_package(
    project: &Path,
    project_root: &str,
    package: &str,
    folders: &[(&Path, &str)],
) -> Option<(String, Vec<Evidence>)> {
    let init = empty_package_init(project, package)?;
    let shown = |path: &Path| layout::under(project_root, &layout::relative(project, path));
    let mut evidence = vec![format!(
        "{}:1 is empty, so `{package}` holds no settings of its own",
        shown(&init)
    )];
    if let Some((module, declared)) = declared_where(project, folders, |m| {
        m != package && empty_package_init(project, m).is_none()
    }) {
        evidence.extend(declared);
        return Some((module, evidence));
    }
    if let Some(production) = settings::production_module(project, package) {
        if let Some(located) = settings::locate(project, &production) {
            evidence.push(format!(
                "{}:1 the production module of the settings package",
                shown(&located.path)
            ));
            return Some((production, evidence));
        }
    }
    let dir = init.parent()?;
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".py") && n != "__init__.py")
        .filter(|n| settings::is_env_name(n.trim_end_matches(".py")))
        .collect();
    files.sort();
    files.into_iter().find_map(|file| {
        let text = std::fs::read_to_string(dir.join(&file)).ok()?;
        let line = text.lines().position(|l| l.starts_with("INSTALLED_APPS"))? + 1;
        evidence.push(format!(
            "{}:{line} defines `INSTALLED_APPS`, and the package has no production module",
            shown(&dir.join(&file))
        ));
        Some((
            format!("{package}.{}", file.trim_end_matches(".py")),
            evidence.clone(),
        ))
    })
}

/// The settings module the layout suggests: `settings.py` or a `settings/` package beside a
/// `wsgi.py` or `asgi.py`, else a module below the project's packages that defines
/// `INSTALLED_APPS`.
pub fn from_layout(project: &Path, project_root: &str) -> Option<(String, Vec<Evidence>)> {
    let mut packages: Vec<String> = std::fs::read_dir(project)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| settings::is_env_name(n))
        .collect();
    packages.sort();
    for package in &packages {
        let dir = project.join(package);
        let entry = ["wsgi.py", "asgi.py"]
            .into_iter()
            .find(|f| dir.join(f).is_file());
        let Some(entry) = entry else { continue };
        let module = format!("{package}.settings");
        if settings::locate(project, &module).is_some() {
            return Some((
                module.clone(),
                vec![format!(
                    "{}:1 the settings module `{module}` sits beside it",
                    layout::under(project_root, &format!("{package}/{entry}"))
                )],
            ));
        }
    }
    for package in &packages {
        let dir = project.join(package);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".py"))
            .collect();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(dir.join(&file)) else {
                continue;
            };
            let line = text
                .lines()
                .position(|l| l.starts_with("INSTALLED_APPS"))
                .map(|i| i + 1);
            if let Some(line) = line {
                let module = format!("{package}.{}", file.trim_end_matches(".py"));
                return Some((
                    module,
                    vec![format!(
                        "{}:{line} defines `INSTALLED_APPS`",
                        layout::under(project_root, &format!("{package}/{file}"))
                    )],
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_form_of_declaration() {
        for line in [
            "DJANGO_SETTINGS_MODULE=config.settings.production",
            "ENV DJANGO_SETTINGS_MODULE config.settings.production",
            "ENV DJANGO_SETTINGS_MODULE=\"config.settings.production\"",
            "      DJANGO_SETTINGS_MODULE: config.settings.production",
            "      - DJANGO_SETTINGS_MODULE=config.settings.production",
            "DJANGO_SETTINGS_MODULE = config.settings.production",
            "DJANGO_SETTINGS_MODULE = \"config.settings.production\"",
            "web: gunicorn config.wsgi --settings=config.settings.production",
        ] {
            assert_eq!(
                declared_on(line).as_deref(),
                Some("config.settings.production"),
                "{line}"
            );
        }
        assert_eq!(declared_on("[pytest]"), None);
        assert_eq!(declared_on("DJANGO_SETTINGS_MODULE="), None);
        assert_eq!(declared_on("DJANGO_SETTINGS_MODULE=${SETTINGS}"), None);
    }

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_procfile_declares_the_settings_and_outranks_pytest() {
        let dir = project(&[
            ("config/settings/__init__.py", ""),
            ("config/settings/deploy.py", ""),
            ("config/settings/test.py", ""),
            (
                "Procfile",
                "release: python manage.py migrate\nweb: gunicorn config.wsgi --settings=config.settings.deploy --log-file -\n",
            ),
            (
                "pytest.ini",
                "[pytest]\n; the test settings\nDJANGO_SETTINGS_MODULE = config.settings.test\n",
            ),
        ]);
        let (module, evidence) = declared(dir.path(), &[(dir.path(), ".")]).unwrap();
        assert_eq!(module, "config.settings.deploy");
        assert_eq!(
            evidence,
            vec![
                "Procfile:2 the Procfile sets `config.settings.deploy`",
                "pytest.ini:3 pytest's configuration sets `config.settings.test`",
            ]
        );
    }

    #[test]
    fn pytest_configuration_declares_the_settings_when_nothing_else_does() {
        let dir = project(&[
            ("shop/__init__.py", ""),
            ("shop/settings.py", ""),
            (
                "pytest.ini",
                "[pytest]\n; DJANGO_SETTINGS_MODULE = shop.old_settings\nDJANGO_SETTINGS_MODULE = shop.settings\naddopts = --reuse-db\n",
            ),
            (
                "pyproject.toml",
                "[tool.pytest.ini_options]\nDJANGO_SETTINGS_MODULE = \"shop.missing\"\n",
            ),
        ]);
        let (module, evidence) = declared(dir.path(), &[(dir.path(), "backend")]).unwrap();
        assert_eq!(module, "shop.settings");
        assert_eq!(
            evidence,
            vec!["backend/pytest.ini:3 pytest's configuration sets `shop.settings`"],
            "comments and modules that do not exist are not evidence"
        );
    }

    #[test]
    fn an_empty_settings_package_runs_the_module_the_repository_declares() {
        let dir = project(&[
            ("ledger/settings/__init__.py", "# settings live in the modules below\n\n"),
            ("ledger/settings/base.py", "DEBUG = False\nINSTALLED_APPS = []\n"),
            ("ledger/settings/cloud.py", "from .base import *\n"),
            ("ledger/settings/production.py", "from .base import *\n"),
            (
                "compose.yaml",
                "services:\n  web:\n    environment:\n      DJANGO_SETTINGS_MODULE: ledger.settings\n  worker:\n    environment:\n      DJANGO_SETTINGS_MODULE: ledger.settings.cloud\n",
            ),
        ]);
        let folders = [(dir.path(), ".")];
        let (module, evidence) =
            in_empty_package(dir.path(), ".", "ledger.settings", &folders).unwrap();
        assert_eq!(
            module, "ledger.settings.cloud",
            "the evidence outranks production.py"
        );
        assert_eq!(
            evidence,
            vec![
                "ledger/settings/__init__.py:1 is empty, so `ledger.settings` holds no settings of its own",
                "compose.yaml:7 the Compose file's environment sets `ledger.settings.cloud`",
            ],
            "the empty package itself is no evidence"
        );
        assert_eq!(
            in_empty_package(dir.path(), ".", "ledger.settings.base", &folders),
            None
        );
    }

    #[test]
    fn an_empty_settings_package_without_evidence_runs_production_else_installed_apps() {
        let dir = project(&[
            ("ledger/settings/__init__.py", ""),
            (
                "ledger/settings/base.py",
                "DEBUG = False\nINSTALLED_APPS = []\n",
            ),
            ("ledger/settings/production.py", "from .base import *\n"),
        ]);
        let folders = [(dir.path(), ".")];
        let (module, evidence) =
            in_empty_package(dir.path(), "app", "ledger.settings", &folders).unwrap();
        assert_eq!(module, "ledger.settings.production");
        assert_eq!(
            evidence[1],
            "app/ledger/settings/production.py:1 the production module of the settings package"
        );
        std::fs::remove_file(dir.path().join("ledger/settings/production.py")).unwrap();
        let (module, evidence) =
            in_empty_package(dir.path(), "app", "ledger.settings", &folders).unwrap();
        assert_eq!(module, "ledger.settings.base");
        assert_eq!(
            evidence[1],
            "app/ledger/settings/base.py:2 defines `INSTALLED_APPS`, and the package has no production module"
        );
        // An `__init__.py` with settings of its own is the settings.
        std::fs::write(
            dir.path().join("ledger/settings/__init__.py"),
            "from .base import *\n",
        )
        .unwrap();
        assert_eq!(
            in_empty_package(dir.path(), "app", "ledger.settings", &folders),
            None
        );
    }
}
