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

/// The settings module the repository declares outside Python, with the evidence. Only a
/// module that exists below `project` counts. `folders` are where to look, each with how it
/// is shown: the project folder first, then the folders above it that hold its dependency
/// files (a packaged app keeps its pytest configuration and Compose file at the root).
pub fn declared(project: &Path, folders: &[(&Path, &str)]) -> Option<(String, Vec<Evidence>)> {
    let mut found: Option<String> = None;
    let mut evidence = Vec::new();
    for ((folder, shown), (name, what)) in folders
        .iter()
        .flat_map(|f| DECLARING_FILES.iter().map(move |d| (f, d)))
    {
        let path = folder.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            let Some(module) = declared_on(line) else {
                continue;
            };
            if settings::locate(project, &module).is_none() {
                continue;
            }
            evidence.push(format!(
                "{}:{} {what} sets `{module}`",
                layout::under(shown, name),
                i + 1
            ));
            found.get_or_insert(module);
        }
    }
    found.map(|m| (m, evidence))
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
}
