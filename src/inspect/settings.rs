//! Read Django settings with a real Python parser: the production module and the modules it
//! star-imports, merged the way Python runs them (later assignments win).

use super::assets::AssetStep;
use super::envvars::{self, EnvRead};
use super::includes::{self, Skipped};
use super::startup::SettingsSecret;
use super::{layout, Location};
use crate::python::PyModule;
use crate::Result;
use std::path::{Path, PathBuf};

/// A settings module found on disk.
#[derive(Debug, Clone)]
pub struct Located {
    /// The dotted module name.
    pub module: String,
    /// The file on disk.
    pub path: PathBuf,
}

/// How `BASE_DIR` is defined, which decides how djrun writes paths below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BaseDir {
    /// `BASE_DIR = Path(...)...`: use `BASE_DIR / "x"`.
    Path,
    /// A string (`os.path...`): use `os.path.join(BASE_DIR, "x")`.
    Str,
    /// Not defined: compute from `__file__`.
    #[default]
    Missing,
}

/// What the settings say, as far as djrun needs it.
#[derive(Debug, Clone, Default)]
pub struct SettingsFacts {
    /// The production settings file, relative to the root.
    pub file: String,
    /// How many folders below the project root the settings file is (1 for `mysite/settings.py`).
    pub depth: usize,
    /// Every file read: the settings file, what it star-imports and what it includes with
    /// django-split-settings, each once, in the order they first run.
    pub chain: Vec<String>,
    /// Arguments of django-split-settings' `include()` that were not followed.
    pub skipped_includes: Vec<Skipped>,
    /// Where the settings load a `.env` file (django-environ's `read_env`, python-dotenv).
    pub dotenv_file: Option<Location>,
    /// The secret the settings fetch from Secret Manager on import.
    pub settings_secret: Option<SettingsSecret>,
    /// Where `ALLOWED_HOSTS` is set.
    pub allowed_hosts: Option<Location>,
    /// Whether `STATIC_ROOT` is set.
    pub static_root: bool,
    /// Whether `STATIC_URL` is set.
    pub static_url: bool,
    /// Whether `MIDDLEWARE` is set anywhere in the chain.
    pub middleware: bool,
    /// Whether WhiteNoise's middleware is in `MIDDLEWARE`.
    pub whitenoise_middleware: bool,
    /// Whether Django's SecurityMiddleware is in `MIDDLEWARE`.
    pub security_middleware: bool,
    /// Whether `STORAGES` is set.
    pub storages: bool,
    /// Whether static files already go to a storage of the project's choosing.
    pub custom_static_storage: bool,
    /// Whether `django.contrib.staticfiles` is installed (collectstatic exists): named in the
    /// settings, or assumed where no module djrun reads sets `INSTALLED_APPS`.
    pub staticfiles_app: bool,
    /// Whether `staticfiles_app` is assumed: no module djrun reads sets `INSTALLED_APPS`
    /// (it comes from a module imported by name, or is built at run time).
    pub staticfiles_assumed: bool,
    /// Whether GeoDjango (`django.contrib.gis`) is installed.
    pub gis: bool,
    /// Variables the settings require at import time, with a harmless value for the build
    /// (of the engine the settings name; the deployment's choice can change it).
    pub build_values: Vec<(String, String)>,
    /// Every read of the environment, in the order Python runs them, base modules first.
    pub env_reads: Vec<EnvRead>,
    /// Places the settings write to when they start.
    pub writes: Vec<super::writes::Write>,
    /// Configuration modules the settings import that the operator makes from an example.
    pub operator_modules: Vec<super::operator::OperatorModule>,
    /// The environment variable `ALLOWED_HOSTS` is read from, if it is.
    pub allowed_hosts_env: Option<String>,
    /// The environment variable `CSRF_TRUSTED_ORIGINS` is read from, if it is.
    pub csrf_origins_env: Option<String>,
    /// The environment variable `SECRET_KEY` is read from, if it is.
    pub secret_key_env: Option<String>,
    /// How `BASE_DIR` is defined.
    pub base_dir: BaseDir,
    /// `sqlite`, `postgres`, `mysql`, `env` or `unknown`.
    pub database: String,
    /// The `ENGINE` the settings name for the default database, when they name one literally.
    pub database_engine: Option<String>,
    /// Where `DATABASES` is set.
    pub databases_at: Option<Location>,
    /// The environment variable the settings read a database URL from (`env.db()`,
    /// `dj_database_url.config()`), if they read one into `DATABASES`.
    pub database_url_env: Option<String>,
    /// Where `MEDIA_ROOT` is set.
    pub media_root: Option<Location>,
    /// Whether `MEDIA_URL` is set.
    pub media_url: bool,
    /// The backend of the default file storage, when the settings name one
    /// (`STORAGES["default"]`, `DEFAULT_FILE_STORAGE`).
    pub default_storage: Option<String>,
    /// Whether the settings use the pre-4.2 storage settings (`STATICFILES_STORAGE`,
    /// `DEFAULT_FILE_STORAGE`) without `STORAGES`.
    pub legacy_storage_settings: bool,
    /// `WSGI_APPLICATION`, if set.
    pub wsgi_application: Option<String>,
    /// `ASGI_APPLICATION`, if set.
    pub asgi_application: Option<String>,
    /// What the image runs besides `collectstatic` to build the project's assets (only where
    /// `collectstatic` runs).
    pub asset_steps: Vec<AssetStep>,
}

impl SettingsFacts {
    /// Whether the image runs `collectstatic`: `django.contrib.staticfiles` is installed and
    /// static files stay with the app (no bucket or media service of the project's own).
    pub fn collects_static(&self) -> bool {
        self.staticfiles_app && !self.custom_static_storage
    }
}

/// The file of `module` below `project`: `a/b.py` or `a/b/__init__.py`.
pub fn locate(project: &Path, module: &str) -> Option<Located> {
    let base = layout::join(project, &module.replace('.', "/"));
    let file = base.with_extension("py");
    let path = if file.is_file() {
        file
    } else if base.join("__init__.py").is_file() {
        base.join("__init__.py")
    } else {
        return None;
    };
    Some(Located {
        module: module.to_string(),
        path,
    })
}

/// Names of production settings modules, in order of preference.
const PRODUCTION_NAMES: &[&str] = &["production", "prod", "live"];

/// Where the settings are a package (`config/settings/` with `base.py`, `local.py`, ...),
/// the production module in it, if there is one.
pub fn production_module(project: &Path, module: &str) -> Option<String> {
    let located = locate(project, module)?;
    let package = if located.path.ends_with("__init__.py") {
        module.to_string()
    } else {
        let (parent, _) = module.rsplit_once('.')?;
        if parent.rsplit('.').next() != Some("settings") {
            return None;
        }
        parent.to_string()
    };
    PRODUCTION_NAMES.iter().find_map(|name| {
        let candidate = format!("{package}.{name}");
        locate(project, &candidate).map(|_| candidate)
    })
}

/// Resolve `from X import *` written in `module` to a module name.
fn resolve_import(module: &str, is_package: bool, target: &str) -> String {
    let dots = target.chars().take_while(|&c| c == '.').count();
    if dots == 0 {
        return target.to_string();
    }
    let mut parts: Vec<&str> = module.split('.').collect();
    // `.x` in a module means a sibling; in a package's __init__ it means a child.
    let up = if is_package { dots - 1 } else { dots };
    for _ in 0..up {
        parts.pop();
    }
    let rest = &target[dots..];
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts.join(".")
}

fn classify_database(value: &str) -> &'static str {
    let v = value.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| v.contains(w));
    // A database URL from the environment decides, whatever engine a local default names;
    // else the engine; else settings that read their parts from the environment.
    if has(&["env.db", "dj_database_url", "database_url", "db_url"]) {
        "env"
    } else if has(&["sqlite"]) {
        "sqlite"
    } else if has(&["postgres", "postgis"]) {
        "postgres"
    } else if has(&["mysql"]) {
        "mysql"
    } else if has(&["environ", "getenv", "config("]) {
        "env"
    } else {
        "unknown"
    }
}

/// Reads the chain of files the settings run, in the order Python runs them.
struct Collector<'p> {
    project: &'p Path,
    project_root: &'p str,
    seen: Vec<PathBuf>,
    chain: Vec<PyModule>,
    skipped: Vec<Skipped>,
    operator: Vec<super::operator::OperatorModule>,
}

impl Collector<'_> {
    /// Read `current` and what it pulls in: star-imported modules run before it (as djrun
    /// has always read them), files included with django-split-settings at the point of the
    /// `include()` call (the module is read in parts, before and after each call).
    /// `names` is what the including file bound to `include` and `optional`.
    fn collect(&mut self, current: &Located, names: &includes::Names) -> Result<()> {
        if self.seen.contains(&current.path) || self.seen.len() > 32 {
            return Ok(());
        }
        self.seen.push(current.path.clone());
        let shown = shown_path(self.project, self.project_root, &current.path);
        let (text, _) = crate::text::read_python(&current.path, &shown)?;
        let module = PyModule::parse(&shown, &text)?;
        // djrun's own block is what djrun derives from the facts, never a fact itself.
        let module = match crate::patch::settings::find_block(&module)? {
            Some(range) => {
                let mut rest = text[..range.start].to_string();
                rest.push_str(&text[range.end..]);
                PyModule::parse(&shown, &rest)?
            }
            None => module,
        };
        let is_package = current.path.ends_with("__init__.py");
        // Modules the operator makes from an example, which the settings import but the
        // repository does not have: a star-imported one runs as it will once made.
        let mut made: Vec<(String, PyModule)> = Vec::new();
        for imported in super::operator::imported(&module) {
            if imported.optional {
                continue;
            }
            let name = resolve_import(&current.module, is_package, &imported.target);
            let Some(example) = super::operator::example_for(self.project, &name) else {
                continue;
            };
            if self.operator.iter().any(|o| o.module == name) {
                continue;
            }
            let example_shown = shown_path(self.project, self.project_root, &example);
            let (example_text, _) = crate::text::read_python(&example, &example_shown)?;
            let (text, from_env, kept) = super::operator::made_from(&example_shown, &example_text);
            let file = shown_path(
                self.project,
                self.project_root,
                &super::operator::module_path(self.project, &name),
            );
            if imported.star {
                made.push((name.clone(), PyModule::parse(&file, &text)?));
            }
            self.operator.push(super::operator::OperatorModule {
                module: name,
                file,
                example: example_shown,
                import: super::Location {
                    file: shown.clone(),
                    line: imported.line,
                },
                from_env,
                kept,
                text,
            });
        }
        for target in module.star_imports() {
            let name = resolve_import(&current.module, is_package, &target);
            if let Some(found) = locate(self.project, &name) {
                self.collect(&found, names)?;
            } else if let Some(i) = made.iter().position(|(n, _)| *n == name) {
                let (_, made_module) = made.remove(i);
                self.chain.push(made_module);
            }
        }
        let names = names.with(&module);
        let folder = current.path.parent().unwrap_or(self.project).to_path_buf();
        let top: Vec<_> = module
            .top_level_calls()
            .into_iter()
            .filter(|(_, call)| names.is_include(call))
            .collect();
        // Includes inside blocks (`if DEBUG: include("dev.py")`) run after the module.
        let nested: Vec<_> = module
            .statements()
            .iter()
            .filter(|s| !s.blocks.is_empty())
            .filter_map(|s| s.value.clone())
            .filter(|v| names.is_include(v))
            .collect();
        let mut parts = Vec::new();
        let mut start = 0;
        for (range, _) in &top {
            parts.push(start..range.start);
            start = range.end;
        }
        parts.push(start..module.text().len());
        let split: Option<Vec<PyModule>> = if top.is_empty() {
            None
        } else {
            parts.into_iter().map(|r| module.part(r).ok()).collect()
        };
        let targets = |call: &crate::python::Expr| {
            includes::targets(&names, &module, call, &folder, self.project)
        };
        let top_targets: Vec<_> = top.iter().map(|(_, call)| targets(call)).collect();
        let nested_targets: Vec<_> = nested.iter().map(targets).collect();
        match split {
            Some(pieces) => {
                let mut pieces = pieces.into_iter();
                for found in top_targets {
                    self.chain.extend(pieces.next());
                    self.follow(found, &names)?;
                }
                self.chain.extend(pieces.next());
            }
            // No top-level include, or a module djrun cannot cut at one: the files it
            // includes at the top level run before it, as star-imported modules do.
            None => {
                for found in top_targets {
                    self.follow(found, &names)?;
                }
                self.chain.push(module);
            }
        }
        for found in nested_targets {
            self.follow(found, &names)?;
        }
        Ok(())
    }

    /// Read the files one `include()` call runs, and keep what it could not follow.
    fn follow(
        &mut self,
        (files, skipped): (Vec<PathBuf>, Vec<Skipped>),
        names: &includes::Names,
    ) -> Result<()> {
        self.skipped.extend(skipped);
        for file in files {
            let rel = layout::relative(self.project, &file);
            let located = Located {
                module: rel.trim_end_matches(".py").replace('/', "."),
                path: file,
            };
            self.collect(&located, names)?;
        }
        Ok(())
    }
}

/// Read the settings module at `located` and the modules it star-imports or includes.
pub fn read(project: &Path, project_root: &str, located: &Located) -> Result<SettingsFacts> {
    let mut collector = Collector {
        project,
        project_root,
        seen: Vec::new(),
        chain: Vec::new(),
        skipped: Vec::new(),
        operator: Vec::new(),
    };
    collector.collect(located, &includes::Names::default())?;
    let Collector {
        chain,
        skipped,
        operator,
        ..
    } = collector;
    let mut files: Vec<String> = Vec::new();
    for module in &chain {
        if !files.iter().any(|f| f == module.file()) {
            files.push(module.file().to_string());
        }
    }

    let main_file = shown_path(project, project_root, &located.path);
    let rel_to_project = layout::relative(project, &located.path);
    let mut facts = SettingsFacts {
        file: main_file,
        depth: rel_to_project.matches('/').count(),
        chain: files,
        skipped_includes: skipped,
        database: "unknown".to_string(),
        ..SettingsFacts::default()
    };
    // What the settings read from the environment, base modules first.
    let modules: Vec<&PyModule> = chain.iter().collect();
    let startup = super::startup::detect(&modules);
    facts.dotenv_file = startup.dotenv;
    facts.writes = super::writes::writes(&modules);
    facts.operator_modules = operator;
    facts.settings_secret = startup.secret;
    // Names that are not plain identifiers are left out: they would end up in the Dockerfile
    // and the deploy command.
    let chain_reads = envvars::env_reads_chain(&modules);
    let reads: Vec<EnvRead> = chain_reads
        .iter()
        .flatten()
        .filter(|r| is_env_name(&r.var))
        .cloned()
        .collect();
    let var_of = |setting: &str| {
        reads
            .iter()
            .rev()
            .find(|r| r.setting.as_deref() == Some(setting))
            .map(|r| r.var.clone())
    };
    facts.allowed_hosts_env = var_of("ALLOWED_HOSTS");
    facts.csrf_origins_env = var_of("CSRF_TRUSTED_ORIGINS");
    facts.secret_key_env = var_of("SECRET_KEY");
    // The URL the settings always read: a replica's, read only behind a flag
    // (`if env.bool("ENABLE_READ_REPLICA"): ...`), is not the database's.
    let database_reads = || {
        reads.iter().rev().filter(|r| {
            r.kind == envvars::ReadKind::Url && r.setting.as_deref() == Some("DATABASES")
        })
    };
    facts.database_url_env = database_reads()
        .find(|r| !r.conditional)
        .or_else(|| database_reads().next())
        .map(|r| r.var.clone());
    let mut legacy_storage = false;
    let mut installed_apps = false;
    for module in &chain {
        if let Some(a) = module.assignment("ALLOWED_HOSTS") {
            facts.allowed_hosts = Some(Location {
                file: module.file().to_string(),
                line: a.line,
            });
        }
        facts.static_root |= module.assignment("STATIC_ROOT").is_some();
        facts.static_url |= module.assignment("STATIC_URL").is_some();
        // Lists of apps and middleware are often built from other lists (`DJANGO_APPS +
        // LOCAL_APPS`): what counts is whether the name is written anywhere in the settings.
        if module.assignment("MIDDLEWARE").is_some() {
            facts.middleware = true;
        }
        facts.whitenoise_middleware |=
            module.has_string("whitenoise.middleware.WhiteNoiseMiddleware");
        facts.security_middleware |=
            module.has_string("django.middleware.security.SecurityMiddleware");
        // Static files in a bucket or a CDN (django-storages, Cloudinary, ...) are not djrun's
        // business. Django's own storages and WhiteNoise's keep them in STATIC_ROOT, which
        // collectstatic fills and the app serves.
        if module.assignment("STORAGES").is_some() {
            facts.storages = true;
        }
        for name in ["STORAGES", "STATICFILES_STORAGE"] {
            if let Some(a) = module.assignment(name) {
                facts.custom_static_storage = is_remote_storage(&a.value);
            }
        }
        facts.staticfiles_app |= module.has_string("django.contrib.staticfiles");
        installed_apps |= module.assignment("INSTALLED_APPS").is_some();
        facts.gis |= module.has_string("django.contrib.gis");
        if let Some(a) = module.assignment("BASE_DIR") {
            facts.base_dir = if a.value.contains("Path") {
                BaseDir::Path
            } else {
                BaseDir::Str
            };
        }
        if let Some(a) = module.assignment("DATABASES") {
            facts.database = classify_database(&a.value).to_string();
            facts.database_engine = quoted_after(&a.value, "ENGINE");
            facts.databases_at = Some(Location {
                file: module.file().to_string(),
                line: a.line,
            });
        }
        if let Some(a) = module.assignment("MEDIA_ROOT") {
            facts.media_root = Some(Location {
                file: module.file().to_string(),
                line: a.line,
            });
        }
        facts.media_url |= module.assignment("MEDIA_URL").is_some();
        if let Some(a) = module.assignment("STORAGES") {
            let default = a
                .value
                .find("\"default\"")
                .or_else(|| a.value.find("'default'"))
                .and_then(|i| quoted_after(&a.value[i..], "BACKEND"));
            facts.default_storage = default;
        }
        if let Some(a) = module.assignment("DEFAULT_FILE_STORAGE") {
            facts.default_storage = quoted_after(&a.value, "");
            legacy_storage = true;
        }
        legacy_storage |= module.assignment("STATICFILES_STORAGE").is_some();
        if let Some(w) = module.string_setting("WSGI_APPLICATION") {
            facts.wsgi_application = Some(w);
        }
        if let Some(w) = module.string_setting("ASGI_APPLICATION") {
            facts.asgi_application = Some(w);
        }
    }
    facts.legacy_storage_settings = legacy_storage && !facts.storages;
    // Apps listed somewhere djrun does not read most likely include `startproject`'s
    // staticfiles: without `collectstatic` the image would serve no static file at all.
    if !installed_apps && !facts.staticfiles_app {
        facts.staticfiles_app = true;
        facts.staticfiles_assumed = true;
    }
    let database = match facts.database.as_str() {
        "postgres" => envvars::BuildDatabase::Postgres,
        "mysql" => envvars::BuildDatabase::Mysql,
        _ => envvars::BuildDatabase::Sqlite,
    };
    facts.build_values = envvars::build_env(&reads, database);
    facts.env_reads = reads;
    if facts.collects_static() {
        facts.asset_steps = super::assets::detect(&modules, &chain_reads);
    }
    Ok(facts)
}

/// The first quoted string after `key` in `value` (the whole value when `key` is empty):
/// `ENGINE` in `{"default": {"ENGINE": "django.db.backends.postgresql", ...}}`.
fn quoted_after(value: &str, key: &str) -> Option<String> {
    let start = if key.is_empty() {
        0
    } else {
        value.find(key)? + key.len()
    };
    let rest = &value[start..];
    let rest = if key.is_empty() {
        rest
    } else {
        // Past the key's closing quote and the colon.
        let colon = rest.find(':')?;
        let between =
            rest[..colon].trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
        if !between.is_empty() {
            return None;
        }
        &rest[colon + 1..]
    };
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &rest[1..];
    let end = body.find(quote)?;
    Some(body[..end].to_string())
}

/// Whether a storage setting's value names a backend that keeps files away from the
/// container (a bucket or a media service) for static files.
fn is_remote_storage(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    let static_part = match v.find("staticfiles") {
        // In STORAGES, what follows the "staticfiles" key; STATICFILES_STORAGE is all of it.
        Some(i) if v.trim_start().starts_with('{') => &v[i..],
        _ => v.as_str(),
    };
    [
        "storages.backends",
        "cloudinary",
        "s3boto",
        "gcloud",
        "azure",
    ]
    .iter()
    .any(|remote| static_part.contains(remote))
}

/// Whether `name` is a plain environment variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

fn shown_path(project: &Path, project_root: &str, path: &Path) -> String {
    layout::under(project_root, &layout::relative(project, path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = layout::join(root, rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn resolves_relative_star_imports() {
        assert_eq!(
            resolve_import("config.settings.production", false, ".base"),
            "config.settings.base"
        );
        assert_eq!(
            resolve_import("config.settings", true, ".base"),
            "config.settings.base"
        );
        assert_eq!(resolve_import("a.b", false, "x.y"), "x.y");
    }

    #[test]
    fn production_module_is_preferred_only_in_settings_packages() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "config/settings/__init__.py", "");
        write(dir.path(), "config/settings/base.py", "");
        write(dir.path(), "config/settings/local.py", "");
        write(dir.path(), "config/settings/production.py", "");
        write(dir.path(), "mysite/settings.py", "");
        write(dir.path(), "mysite/production.py", "");
        assert_eq!(
            production_module(dir.path(), "config.settings.local").as_deref(),
            Some("config.settings.production")
        );
        assert_eq!(
            production_module(dir.path(), "config.settings").as_deref(),
            Some("config.settings.production")
        );
        assert_eq!(production_module(dir.path(), "mysite.settings"), None);
    }

    #[test]
    fn merges_star_imported_base_settings() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "config/__init__.py", "");
        write(dir.path(), "config/settings/__init__.py", "");
        write(
            dir.path(),
            "config/settings/base.py",
            "from pathlib import Path\nBASE_DIR = Path(__file__).parent\nALLOWED_HOSTS = []\nMIDDLEWARE = ['django.middleware.security.SecurityMiddleware']\nDATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3'}}\nINSTALLED_APPS = ['django.contrib.staticfiles']\n",
        );
        write(
            dir.path(),
            "config/settings/production.py",
            "from .base import *  # noqa\nimport os\n\nALLOWED_HOSTS = os.environ['HOSTS'].split(',')\nSTATIC_ROOT = BASE_DIR / 'static'\n",
        );
        let located = locate(dir.path(), "config.settings.production").unwrap();
        let facts = read(dir.path(), ".", &located).unwrap();
        assert_eq!(facts.file, "config/settings/production.py");
        assert_eq!(facts.depth, 2);
        assert_eq!(
            facts.chain,
            vec!["config/settings/base.py", "config/settings/production.py"]
        );
        assert_eq!(
            facts.allowed_hosts,
            Some(Location {
                file: "config/settings/production.py".into(),
                line: 4
            })
        );
        assert!(facts.static_root && facts.security_middleware && facts.staticfiles_app);
        assert!(!facts.whitenoise_middleware && !facts.custom_static_storage);
        assert_eq!(facts.base_dir, BaseDir::Path);
        assert_eq!(facts.database, "sqlite");
    }

    #[test]
    fn split_settings_includes_run_at_the_point_of_the_call() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "site/settings/__init__.py",
            "from split_settings.tools import include, optional\nimport environ\nenv = environ.Env(DJANGO_SECRET=(str, 'dev'))\nALLOWED_HOSTS = ['before']\ninclude('components/*.py', optional('local.py'))\nif env('X', default=''):\n    include('extra.py')\nMEDIA_ROOT = '/media'\n",
        );
        write(
            dir.path(),
            "site/settings/components/a_base.py",
            "ALLOWED_HOSTS = ['component']\nMEDIA_ROOT = '/component-media'\nSECRET_KEY = env('DJANGO_SECRET')\ninclude('../nested/db.py')\n",
        );
        write(
            dir.path(),
            "site/settings/components/b_static.py",
            "STATIC_ROOT = '/static'\n",
        );
        write(
            dir.path(),
            "site/settings/nested/db.py",
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql'}}\n",
        );
        write(dir.path(), "site/settings/extra.py", "MIDDLEWARE = []\n");
        let facts = read(
            dir.path(),
            ".",
            &locate(dir.path(), "site.settings").unwrap(),
        )
        .unwrap();
        assert_eq!(
            facts.chain,
            vec![
                "site/settings/__init__.py",
                "site/settings/components/a_base.py",
                "site/settings/nested/db.py",
                "site/settings/components/b_static.py",
                "site/settings/extra.py",
            ]
        );
        assert_eq!(
            facts
                .allowed_hosts
                .as_ref()
                .map(|l| (l.file.as_str(), l.line)),
            Some(("site/settings/components/a_base.py", 1)),
            "the include runs after the assignment before it"
        );
        assert_eq!(
            facts.media_root.as_ref().map(|l| (l.file.as_str(), l.line)),
            Some(("site/settings/__init__.py", 8)),
            "the assignment after the include wins"
        );
        assert!(facts.static_root && facts.middleware);
        assert_eq!(facts.database, "postgres");
        assert!(
            facts.skipped_includes.is_empty(),
            "{:?}",
            facts.skipped_includes
        );
        assert!(
            facts.build_values.is_empty(),
            "the schema of the including module reaches the component: {:?}",
            facts.build_values
        );
    }

    #[test]
    fn staticfiles_is_assumed_only_where_no_module_read_sets_installed_apps() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a/settings.py",
            "from .apps import INSTALLED_APPS\nSTATIC_URL = 'static/'\n",
        );
        write(
            dir.path(),
            "b/settings.py",
            "INSTALLED_APPS = ['django.contrib.auth']\n",
        );
        let a = read(dir.path(), ".", &locate(dir.path(), "a.settings").unwrap()).unwrap();
        assert!(a.staticfiles_app && a.staticfiles_assumed);
        let b = read(dir.path(), ".", &locate(dir.path(), "b.settings").unwrap()).unwrap();
        assert!(!b.staticfiles_app && !b.staticfiles_assumed);
    }

    #[test]
    fn the_database_url_is_the_one_read_unconditionally() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a/settings.py",
            concat!(
                "import environ\nenv = environ.Env()\n",
                "DATABASES = {'default': env.db('DATABASE_URL')}\n",
                "if env.bool('ENABLE_READ_REPLICA', default=False):\n",
                "    DATABASES['replica'] = env.db('DATABASE_READ_REPLICA_URL')\n",
            ),
        );
        let facts = read(dir.path(), ".", &locate(dir.path(), "a.settings").unwrap()).unwrap();
        assert_eq!(facts.database_url_env.as_deref(), Some("DATABASE_URL"));
    }

    #[test]
    fn whitenoise_storage_is_not_a_custom_storage_but_a_bucket_is() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a/settings.py",
            "STORAGES = {'staticfiles': {'BACKEND': 'whitenoise.storage.CompressedManifestStaticFilesStorage'}}\n",
        );
        let facts = read(dir.path(), ".", &locate(dir.path(), "a.settings").unwrap()).unwrap();
        assert!(facts.storages && !facts.custom_static_storage);
        write(
            dir.path(),
            "b/settings.py",
            "STATICFILES_STORAGE = 'storages.backends.gcloud.GoogleCloudStorage'\n",
        );
        let facts = read(dir.path(), ".", &locate(dir.path(), "b.settings").unwrap()).unwrap();
        assert!(facts.custom_static_storage);
    }

    #[test]
    fn env_names_are_identifiers_only() {
        assert!(is_env_name("DATABASE_URL") && is_env_name("_x1"));
        for bad in ["", "1X", "A B", "X\nsteps:", "X=1", "X-Y", "É"] {
            assert!(!is_env_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn only_buckets_and_media_services_count_as_remote_static_storage() {
        assert!(!is_remote_storage("{'default': {...}, 'staticfiles': {'BACKEND': 'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'}}"));
        assert!(!is_remote_storage(
            "'whitenoise.storage.CompressedManifestStaticFilesStorage'"
        ));
        assert!(is_remote_storage("{'default': {'BACKEND': 'x'}, 'staticfiles': {'BACKEND': 'storages.backends.gcloud.GoogleCloudStorage'}}"));
        assert!(!is_remote_storage("{'default': {'BACKEND': 'storages.backends.s3.S3Storage'}, 'staticfiles': {'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}"));
        assert!(is_remote_storage(
            "'storages.backends.s3boto3.S3StaticStorage'"
        ));
    }

    #[test]
    fn classifies_databases() {
        assert_eq!(
            classify_database("{'ENGINE': 'django.db.backends.postgresql'}"),
            "postgres"
        );
        assert_eq!(classify_database("{'default': env.db()}"), "env");
        assert_eq!(
            classify_database("{'default': dj_database_url.config()}"),
            "env"
        );
        assert_eq!(classify_database("SOMETHING"), "unknown");
        assert_eq!(
            classify_database(
                "{'default': env.db('DATABASE_URL', default='sqlite:///db.sqlite3')}"
            ),
            "env"
        );
        assert_eq!(
            classify_database("{'default': {'ENGINE': 'django.contrib.gis.db.backends.postgis', 'PASSWORD': os.environ['X']}}"),
            "postgres"
        );
        assert_eq!(
            classify_database("{'default': {'NAME': os.environ['DB']}}"),
            "env"
        );
    }
}
