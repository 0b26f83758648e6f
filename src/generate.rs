//! `plan(facts, options) -> Plan`: render the deployment files and compute the edits of the
//! user's files, all in memory.

use crate::config::{ConfigFile, Saved};
use crate::deployment::{DatabaseKind, Deployment, MediaKind, SqlInstance};
use crate::inspect::deps::{Manager, Manifest};
use crate::inspect::envvars::BuildDatabase;
use crate::inspect::settings::BaseDir;
use crate::inspect::{layout, read_text, ProjectFacts};
use crate::patch::pyproject::{self, Wanted};
use crate::patch::{requirements, settings};
use crate::plan::{FileChange, Owner, Plan};
use crate::text::{self, Encoding};
use crate::{apply, render};
use crate::{Error, Result};
use serde::Serialize;

/// The choices `init` acts on, resolved from flags, saved config, prompts and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// GCP project id.
    pub project: String,
    /// Cloud Run region.
    pub region: String,
    /// Cloud Run service name.
    pub service: String,
    /// Python `X.Y` of the image.
    pub python: String,
    /// Whether the service allows unauthenticated access.
    pub public: bool,
    /// The database the deployment uses.
    pub database: DatabaseKind,
    /// The Cloud SQL instance, for the Cloud SQL kinds.
    pub sql_instance: SqlInstance,
    /// Where uploads go.
    pub media: MediaKind,
    /// The media bucket.
    pub bucket: String,
    /// Whether anyone may read the media files.
    pub public_media: bool,
    /// Custom domains the service answers on.
    pub domains: Vec<String>,
    /// The GitHub repository and branch the CI workflow deploys from, with `--ci github`.
    pub github: Option<crate::deployment::Github>,
    /// CPU, memory and instance counts.
    pub capacity: crate::deployment::CapacityChoices,
    /// Plain values the user gives the settings (`--env`), by name.
    pub env: Vec<(String, String)>,
    /// Variables the user keeps in Secret Manager (`--secret`).
    pub secrets: Vec<String>,
    /// What to store as saved choices.
    pub saved: Saved,
}

pub use crate::deployment::REPOSITORY;
/// gunicorn as djrun adds it: 23.0 fixed request smuggling.
pub const GUNICORN: Wanted = Wanted {
    name: "gunicorn",
    bound: ">=23.0",
};
/// WhiteNoise as djrun adds it: 6.6 knows Django 5's STORAGES.
pub const WHITENOISE: Wanted = Wanted {
    name: "whitenoise",
    bound: ">=6.6",
};
/// gunicorn's worker for ASGI applications (uvicorn's own `uvicorn.workers` is deprecated).
pub const UVICORN_WORKER: Wanted = Wanted {
    name: "uvicorn-worker",
    bound: ">=0.3",
};

/// The dependency managers' own tools, pinned so an image builds the same way every time.
#[derive(Debug, Clone, Serialize)]
pub struct Tools {
    /// uv.
    pub uv: &'static str,
    /// Poetry.
    pub poetry: &'static str,
    /// Poetry's export plugin.
    pub poetry_export: &'static str,
    /// PDM.
    pub pdm: &'static str,
    /// hishel, pinned below 2.0, which PDM 2.29 cannot use.
    pub pdm_hishel: &'static str,
    /// Pipenv.
    pub pipenv: &'static str,
}

/// The tool versions the generated Dockerfiles install.
pub const TOOLS: Tools = Tools {
    uv: "0.13.9",
    poetry: "2.5.1",
    poetry_export: "1.10.1",
    pdm: "2.29.4",
    pdm_hishel: "1.4.0",
    pipenv: "2026.10.3",
};

/// The oldest Python minor (3.10) that the pinned Poetry, PDM and Pipenv install on (their
/// `Requires-Python`).
pub const TOOLS_OLDEST_MINOR: u64 = 10;
/// The Python a stage of its own exports the lock on, when the project's Python is older than
/// its manager's tool supports.
pub const EXPORT_PYTHON: &str = "3.13";

/// Whether Python `python` is older than the pinned Poetry, PDM and Pipenv run on.
fn older_than_tools(python: &str) -> bool {
    crate::inspect::python_version::minor_of(python).is_some_and(|m| m < TOOLS_OLDEST_MINOR)
}

/// Whether Poetry or Pipenv reads the lock in a stage of its own, on [`EXPORT_PYTHON`]: the
/// project's Python is older than the pinned tool runs on.
pub fn exports_on_its_own_python(deps: &crate::inspect::deps::Deps, python: &str) -> bool {
    use crate::inspect::deps::Manager;
    matches!(deps.manager, Manager::Poetry | Manager::Pipenv) && older_than_tools(python)
}

/// Why the project's manager cannot read its lock for Python `python`, if it cannot. PDM reads
/// the project's environment by running its own code on the project's Python, which needs 3.10.
pub fn manager_cannot_serve(deps: &crate::inspect::deps::Deps, python: &str) -> Option<String> {
    (deps.manager == crate::inspect::deps::Manager::Pdm && older_than_tools(python)).then(|| {
        format!(
            "the project's Python is {python}, and PDM {} (the version the image installs to read `pdm.lock`) needs Python 3.10 or newer, also for the project's own environment, which it reads to export the lock",
            TOOLS.pdm
        )
    })
}

/// dj-database-url as djrun adds it: 2.0 parses `?host=` socket URLs into OPTIONS.
pub const DJ_DATABASE_URL: Wanted = Wanted {
    name: "dj-database-url",
    bound: ">=2.0",
};
/// psycopg 3 with its own libpq, so the image needs no system library for it.
pub const PSYCOPG: Wanted = Wanted {
    name: "psycopg[binary]",
    bound: ">=3.1",
};
/// mysqlclient, the driver Django recommends for MySQL (built against libmariadb).
pub const MYSQLCLIENT: Wanted = Wanted {
    name: "mysqlclient",
    bound: ">=2.2",
};
/// django-storages with the Google Cloud Storage backend.
pub const DJANGO_STORAGES: Wanted = Wanted {
    name: "django-storages[google]",
    bound: ">=1.14",
};

#[derive(Serialize)]
struct DockerfileContext<'a> {
    service: &'a str,
    python_version: &'a str,
    settings_module: &'a str,
    manager: &'static str,
    tools: Tools,
    dependency_files: Vec<String>,
    requirements: String,
    /// Headers the full image lacks, and why.
    build_packages: Vec<&'static str>,
    build_reasons: Vec<&'static str>,
    /// Libraries loaded by name, which the build's ldd cannot find, and why.
    runtime_packages: Vec<&'static str>,
    runtime_reasons: Vec<&'static str>,
    collectstatic: bool,
    build_env: String,
    /// The asset commands that run before `collectstatic`, and after it.
    assets_before: Vec<AssetRun>,
    assets_after: Vec<AssetRun>,
    command: String,
    /// The groups and extras that hold the server, as the Dockerfile's comment names them.
    server_sets: Vec<String>,
    /// What selects those groups and extras: `--group NAME` / `--extra NAME` for `uv sync`,
    /// `--only main,NAME` / `--extras NAME` for `poetry export`, `-G NAME` for `pdm export`.
    server_flags: Vec<String>,
    /// The project folder (manage.py) inside the build context, `.` when it is the context.
    app_dir: String,
    /// The command that writes Poetry's, PDM's or Pipenv's lock to /tmp/requirements.txt.
    lock_export: String,
    /// Whether the lock is exported in a stage of its own on `export_python`.
    export_stage: bool,
    export_python: &'static str,
    /// Files and folders the dependency layer reads besides the dependency files.
    extra_files: Vec<String>,
    /// Commands that set the local requirements aside before the dependency layer (pip).
    set_aside: Vec<String>,
    /// The folders the local packages need, copied after the dependency layer.
    local_copies: Vec<String>,
    /// pip's arguments for the local packages (`-e ./pkg`), or empty.
    local_install: String,
    /// Where the local requirements stand, as the Dockerfile's comment names them.
    local_lines: String,
    /// The commands that give the app's user the places the settings write to when they
    /// start (relative to the project folder, or absolute).
    writable: Vec<String>,
    /// What the settings write there, and where they say so.
    writable_reasons: Vec<String>,
}

/// One asset command in the Dockerfile, and the comment that says why it runs there.
#[derive(Debug, Serialize)]
struct AssetRun {
    why: Vec<String>,
    command: &'static str,
}

/// The asset steps as the Dockerfile runs them, each with its reason: those before
/// `collectstatic`, then those after it. None where `collectstatic` does not run.
fn asset_runs(facts: &ProjectFacts, collectstatic: bool) -> (Vec<AssetRun>, Vec<AssetRun>) {
    use crate::inspect::assets::{When, COMPRESSOR};
    let (mut before, mut after) = (Vec::new(), Vec::new());
    if !collectstatic {
        return (before, after);
    }
    for step in &facts.asset_steps {
        let at = format!("{} line {}", step.evidence.file, step.evidence.line);
        let why = if step.tool == COMPRESSOR {
            vec![
                format!("django-compressor compresses offline ({at}): the app only looks up"),
                "the files and manifest that `compress` writes, and answers 500 without them. It"
                    .to_string(),
                "reads the files collectstatic wrote, under the names it gave them, so it runs"
                    .to_string(),
                "after it, with the same build-only values.".to_string(),
            ]
        } else {
            vec![
                format!("django-sass-processor ({at}): with DEBUG off, {{% sass_src %}} names"),
                "the .css beside each .scss, which `compilescss` writes from the templates that"
                    .to_string(),
                "name it. It runs before collectstatic, which collects that .css with the other"
                    .to_string(),
                "files, with the same build-only values.".to_string(),
            ]
        };
        let run = AssetRun {
            why,
            command: step.command,
        };
        match step.when {
            When::BeforeCollectstatic => before.push(run),
            When::AfterCollectstatic => after.push(run),
        }
    }
    (before, after)
}

/// The dependency files the image build reads: the lock among them even where it does not
/// exist yet, since `init` writes it (or stops) before there is a build.
fn build_files(deps: &crate::inspect::deps::Deps) -> Vec<String> {
    let mut files = deps.files.clone();
    if let (None, Some(lock)) = (&deps.lock, deps.manager.lock_file()) {
        files.push(lock.to_string());
    }
    files
}

/// Whether the project lists `wanted`'s project without one of the extras it needs.
fn needs_extra(deps: &crate::inspect::deps::Deps, wanted: &Wanted) -> bool {
    deps.extras(wanted.project()).is_some_and(|have| {
        wanted
            .extras()
            .iter()
            .any(|e| !have.contains(&crate::patch::requirements::normalize_name(e)))
    })
}

/// Where the extras of a dependency the project pins already are added.
enum ExtraEdit {
    /// In the manifest: its text with the extras.
    Manifest(String),
    /// In a requirements file the manifest includes.
    Included(FileChange),
}

/// Add `wanted`'s extras to the dependency the project lists already, where it lists it:
/// the manifest (`text`), or for pip the requirements file (the manifest or one it includes
/// with `-r`) that holds the line. An error when djrun cannot find the line it would edit.
fn add_wanted_extra(
    facts: &ProjectFacts,
    manifest_path: &str,
    text: &str,
    wanted: &Wanted,
) -> Result<ExtraEdit> {
    let deps = &facts.deps;
    let name = wanted.project();
    let with_extras = |file: &str, text: &str| -> Result<String> {
        let mut out = text.to_string();
        for extra in wanted.extras() {
            out = match deps.manifest_kind {
                Manifest::Requirements => {
                    let parsed = requirements::Requirements::parse(file, &out);
                    requirements::add_extra(&parsed, &out, name, extra)?
                }
                kind => pyproject::add_extra(kind, file, &out, name, extra)?,
            };
        }
        Ok(out)
    };
    let not_found = |file: &str| {
        Error::input_hint(
            format!(
                "`{file}` lists `{name}` where djrun cannot add the extra the deployment needs (`{}`)",
                wanted.name
            ),
            format!(
                "list it as `{}` in the project's dependencies (keeping its version), then run djrun again",
                wanted.name
            ),
        )
    };
    if deps.manifest_kind != Manifest::Requirements {
        let edited = with_extras(manifest_path, text)?;
        if edited == text {
            return Err(not_found(manifest_path));
        }
        return Ok(ExtraEdit::Manifest(edited));
    }
    for file in deps
        .files
        .iter()
        .filter(|f| !deps.constraint_files.contains(f))
    {
        let path = in_context(facts, file);
        let file_text = if path == manifest_path {
            text.to_string()
        } else {
            current(facts, &path)?.unwrap_or_default()
        };
        if !requirements::Requirements::parse(&path, &file_text).has(name) {
            continue;
        }
        let edited = with_extras(&path, &file_text)?;
        if edited == file_text {
            continue;
        }
        return Ok(if path == manifest_path {
            ExtraEdit::Manifest(edited)
        } else {
            ExtraEdit::Included(FileChange {
                path,
                before: Some(file_text),
                after: edited,
                owner: Owner::User,
                encoding: Encoding::Utf8,
            })
        });
    }
    Err(not_found(manifest_path))
}

/// How the image installs requirements from local paths.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LocalPlan {
    /// Files and folders the dependency layer reads besides the dependency files: archives
    /// the requirements name, `--find-links` folders, local packages' `pyproject.toml`.
    pub extra_files: Vec<String>,
    /// Shell commands that comment the local requirements out of the build stage's copy of
    /// the requirements files, so the dependency layer installs the rest (pip).
    pub set_aside: Vec<String>,
    /// The folders copied after the dependency layer.
    pub local_copies: Vec<String>,
    /// pip's arguments that install the local packages in place, or empty.
    pub local_install: String,
    /// `file lines N and M` of the requirements set aside, per file (pip).
    pub local_lines: Vec<String>,
}

/// "a", "a and b", "a, b and c".
fn english_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Characters a path may have to be written into a `COPY` line and a shell command as is.
fn plain_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('-')
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+@-/".contains(c))
}

/// Where the image installs the project's local requirements: the dependencies first, in
/// their cached layer; then the code the local packages need, and the packages, in place.
/// An error for what no image can build: a path outside the build context, a path that
/// does not exist, a manager whose local packages djrun does not install yet.
pub fn local_plan(facts: &ProjectFacts) -> Result<LocalPlan> {
    let deps = &facts.deps;
    let sources = &deps.sources;
    if let Some((file, line, target)) = sources.outside.first() {
        return Err(Error::input_hint(
            crate::inspect::sources::outside_message(file, *line, target),
            format!("fix `{file}` line {line} and run djrun again"),
        ));
    }
    let project = layout::join(&facts.root, &facts.dependency_root);
    let mut plan = LocalPlan::default();
    for local in &sources.local {
        let at = format!("`{}` line {}", local.file, local.line);
        let extras_ok = local
            .extras
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "[],_.-".contains(c));
        if !plain_path(&local.path) || !extras_ok {
            return Err(Error::input_hint(
                format!("{at} installs `{}`: djrun writes only paths of letters, digits and `._+@-/` into the Dockerfile", local.path.escape_debug()),
                format!("rename the folder and fix {at}, then run djrun again"),
            ));
        }
        let exists = if local.archive {
            project.join(&local.path).is_file()
        } else {
            project.join(&local.path).is_dir()
        };
        if !exists {
            return Err(Error::input_hint(
                format!("{at} installs `{}`, which is not in `{}`", local.path, facts.dependency_root),
                format!("fix {at} (paths are relative to the folder with the dependency files), then run djrun again"),
            ));
        }
        // A link that leads out of the project is outside the build context too.
        let inside = match (
            project.canonicalize(),
            project.join(&local.path).canonicalize(),
        ) {
            (Ok(root), Ok(target)) => target.starts_with(root),
            _ => false,
        };
        if !inside {
            return Err(Error::input_hint(
                crate::inspect::sources::outside_message(&local.file, local.line, &local.path),
                format!(
                    "replace the link `{}` with the package itself, then run djrun again",
                    local.path
                ),
            ));
        }
        // Poetry exports a path dependency as `-e file:///app/...` (or `name @ file:///...`),
        // one line without hashes, which the image installs once the folder is copied. A
        // wheel it exports with hashes on the lines below, which that split cannot follow.
        let poetry_folder = deps.manager == Manager::Poetry && !local.archive;
        if !matches!(deps.manager, Manager::Pip | Manager::Uv) && !poetry_folder {
            return Err(Error::input_hint(
                format!(
                    "{at} installs `{}` from a path: djrun's image for {} cannot install {} yet, and would not build",
                    local.path,
                    deps.manager.name(),
                    if local.archive { "a wheel or an archive from a path" } else { "local packages" }
                ),
                "publish the package as a wheel (to an Artifact Registry Python repository, or commit it and require it by path with pip or uv), or manage the dependencies with uv, whose workspaces djrun builds",
            ));
        }
        if local.archive {
            if !plan.extra_files.contains(&local.path) {
                plan.extra_files.push(local.path.clone());
            }
            continue;
        }
        // A package the dependency layer copied whole (uv builds its metadata) is there.
        if !plan.local_copies.contains(&local.path) && !sources.manifests.contains(&local.path) {
            plan.local_copies.push(local.path.clone());
        }
    }
    for dir in &sources.find_links {
        if plain_path(dir) && !plan.extra_files.contains(dir) {
            plan.extra_files.push(dir.clone());
        }
    }
    for manifest in &sources.manifests {
        if plain_path(manifest) && !plan.extra_files.contains(manifest) {
            plan.extra_files.push(manifest.clone());
        }
    }
    // A folder inside another that is copied already adds nothing; the context
    // itself stands for all of them.
    if plan.local_copies.iter().any(|p| p == ".") {
        plan.local_copies = vec![".".to_string()];
    }
    if deps.manager == Manager::Pip {
        let folders: Vec<&crate::inspect::sources::LocalRequirement> =
            sources.local.iter().filter(|l| !l.archive).collect();
        plan.local_install = folders
            .iter()
            .map(|l| {
                let path = if l.path == "." {
                    ".".to_string()
                } else {
                    format!("./{}", l.path)
                };
                // Extras keep their dependencies; the brackets are quoted for the shell.
                format!(
                    "-e {}",
                    crate::steps::shell_quote(&format!("{path}{}", l.extras))
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        // Each file's local lines, commented out (`#` before each physical line) in the
        // build stage's copy only.
        let mut files: Vec<(&str, Vec<(usize, usize)>)> = Vec::new();
        for l in folders {
            match files.iter_mut().find(|(f, _)| *f == l.file) {
                Some((_, ranges)) => ranges.push((l.line, l.last_line)),
                None => files.push((&l.file, vec![(l.line, l.last_line)])),
            }
        }
        for (file, ranges) in files {
            let rel = file
                .strip_prefix(&format!("{}/", facts.dependency_root))
                .filter(|_| facts.dependency_root != ".")
                .unwrap_or(file);
            let text = read_text(&project.join(rel), file)?;
            if text.contains([
                '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\u{85}', '\u{2028}', '\u{2029}',
            ]) || text.replace("\r\n", "").contains('\r')
            {
                return Err(Error::input_hint(
                    format!("`{file}` breaks lines with characters other than newlines, so djrun cannot set its local requirements aside for the image build"),
                    format!("end the lines of `{file}` with newlines (LF or CRLF), then run djrun again"),
                ));
            }
            if !plain_path(rel) {
                return Err(Error::input_hint(
                    format!("djrun writes only paths of letters, digits and `._+@-/` into the Dockerfile, and `{file}` has others"),
                    format!("rename `{file}`, then run djrun again"),
                ));
            }
            let script: Vec<String> = ranges
                .iter()
                .map(|(first, last)| {
                    if first == last {
                        format!("{first}s/^/#/")
                    } else {
                        format!("{first},{last}s/^/#/")
                    }
                })
                .collect();
            plan.set_aside
                .push(format!("sed -i '{}' {rel}", script.join(";")));
            let lines: Vec<String> = ranges.iter().map(|(first, _)| first.to_string()).collect();
            plan.local_lines.push(format!(
                "{rel} line{} {}",
                if lines.len() > 1 { "s" } else { "" },
                english_list(&lines)
            ));
        }
    }
    Ok(plan)
}

#[derive(Serialize)]
struct DockerignoreContext {
    local_folders: Vec<String>,
}

#[derive(Serialize)]
struct GcloudignoreContext {
    /// The build context, when it is one folder below the root: only it is uploaded.
    upload_only: Option<String>,
    local_folders: Vec<String>,
}

#[derive(Serialize)]
struct CloudbuildContext<'a> {
    service: &'a str,
    region: &'a str,
    repository: &'a str,
    context: String,
    access_flag: &'a str,
    runtime_account: &'a str,
    env_vars: String,
    secrets: String,
    versions: Vec<String>,
    sql_instance: Option<String>,
    migrate_job: bool,
    concurrency: u32,
    max_instances: u32,
    min_instances: u32,
    cpu: u32,
    memory: &'a str,
    capacity: &'a str,
}

#[derive(Serialize)]
struct GithubContext<'a> {
    branch: &'a str,
    repository: &'a str,
    version: &'a str,
    /// Where the workflow runs `djrun init --check` from: the repository root.
    path: &'a str,
    service: &'a str,
    deployer: String,
    /// The build step's command, as the one list of steps has it.
    submit: String,
}

#[derive(Serialize)]
struct SettingsBlockContext {
    allowed_hosts: bool,
    csrf_origins: bool,
    secret_key: bool,
    static_url: bool,
    static_root: Option<String>,
    whitenoise: bool,
    after_security: bool,
    /// `merge` (the settings have `STORAGES`), `new`, or `legacy` (the pre-4.2 settings).
    storages: &'static str,
    /// The backend of `STORAGES["staticfiles"]` djrun sets, if any.
    static_backend: Option<String>,
    /// Whether the block defines djrun's static storage (WhiteNoise's, tolerating a source map
    /// a vendored file names but does not ship).
    tolerant_storage: bool,
    /// The backend of `STORAGES["default"]` djrun sets, if any.
    default_backend: Option<&'static str>,
    database: Option<DatabaseBlock>,
    media: Option<MediaBlock>,
}

/// The database part of the settings block.
#[derive(Serialize)]
struct DatabaseBlock {
    /// `project` (the settings read the URL already), `dj_database_url` or `environ`.
    parser: &'static str,
    /// The variable that holds the URL.
    var: String,
    /// Whether the settings define `DATABASES` (else djrun starts from an empty one).
    has_databases: bool,
    /// Whether Django knows `CONN_HEALTH_CHECKS` (4.1 and later).
    health_checks: bool,
    /// Whether the database is a Cloud SQL instance.
    cloud_sql: bool,
}

/// The media part of the settings block.
#[derive(Serialize)]
struct MediaBlock {
    public: bool,
    bucket_var: &'static str,
}

/// What djrun adds so static files work on Cloud Run.
struct StaticPlan {
    block: SettingsBlockContext,
    collectstatic: bool,
    whitenoise_dependency: bool,
}

fn django_before_4_2(version: Option<&str>) -> bool {
    django_before(version, (4, 2))
}

/// Whether the project's Django is older than `release`; unknown counts as current.
fn django_before(version: Option<&str>, release: (u32, u32)) -> bool {
    let Some((major, minor)) = version.and_then(|v| v.split_once('.')) else {
        return false;
    };
    match (major.parse::<u32>(), minor.parse::<u32>()) {
        (Ok(major), Ok(minor)) => (major, minor) < release,
        _ => false,
    }
}

fn static_plan(facts: &ProjectFacts) -> StaticPlan {
    let s = &facts.settings;
    // Static files are served by WhiteNoise unless the project already serves them
    // (WhiteNoise installed, or a storage of its own such as a bucket).
    let whitenoise =
        s.staticfiles_app && s.middleware && !s.whitenoise_middleware && !s.custom_static_storage;
    let collectstatic = s.collects_static();
    let static_root = (collectstatic && !s.static_root).then(|| match s.base_dir {
        BaseDir::Path => "BASE_DIR / \"staticfiles\"".to_string(),
        BaseDir::Str => "os.path.join(BASE_DIR, \"staticfiles\")".to_string(),
        BaseDir::Missing => {
            let mut expr = "os.path.abspath(__file__)".to_string();
            for _ in 0..=s.depth {
                expr = format!("os.path.dirname({expr})");
            }
            format!("os.path.join({expr}, \"staticfiles\")")
        }
    });
    let storages =
        if django_before_4_2(facts.django_version.as_deref()) || s.legacy_storage_settings {
            "legacy"
        } else if s.storages {
            "merge"
        } else {
            "new"
        };
    StaticPlan {
        block: SettingsBlockContext {
            // A module the settings include but djrun could not read may set the hosts after
            // the variables are read: the block, which runs last, sets them itself then.
            allowed_hosts: s.allowed_hosts_env.is_none() || !s.skipped_includes.is_empty(),
            csrf_origins: s.csrf_origins_env.is_none() || !s.skipped_includes.is_empty(),
            secret_key: s.secret_key_env.is_none(),
            static_url: collectstatic && !s.static_url,
            static_root,
            whitenoise,
            after_security: s.security_middleware,
            storages,
            // Defined in the block itself, so the settings module names it.
            static_backend: whitenoise
                .then(|| format!("{}.DjrunStaticFilesStorage", facts.settings_module)),
            tolerant_storage: whitenoise,
            default_backend: None,
            database: None,
            media: None,
        },
        collectstatic,
        whitenoise_dependency: whitenoise && !facts.deps.has("whitenoise"),
    }
}

/// How the app is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// gunicorn's threaded workers over the WSGI application (`module:attribute`).
    Wsgi(String),
    /// gunicorn with uvicorn workers over the ASGI application (`module:attribute`).
    Asgi(String),
}

impl Server {
    /// ASGI when the settings name an ASGI application (Channels, async views), else WSGI,
    /// else ASGI when only an `asgi.py` exists.
    pub fn choose(facts: &ProjectFacts) -> Result<Server> {
        // `ASGI_APPLICATION`, or deploy files that run the application as ASGI, choose ASGI
        // over a WSGI application (startproject writes `WSGI_APPLICATION` into every project).
        let asgi_setting = facts.settings.asgi_application.is_some() || facts.declared_asgi;
        match (&facts.wsgi_application, &facts.asgi_application) {
            (_, Some(asgi)) if asgi_setting => Ok(Server::Asgi(gunicorn_target(asgi))),
            (Some(wsgi), _) => Ok(Server::Wsgi(gunicorn_target(wsgi))),
            (None, Some(asgi)) => Ok(Server::Asgi(gunicorn_target(asgi))),
            (None, None) => Err(Error::input_hint(
                format!(
                    "no WSGI or ASGI application found: `{}` sets neither `WSGI_APPLICATION` nor `ASGI_APPLICATION`, there is no `wsgi.py` or `asgi.py` (or `wsgi/`, `asgi/` package) beside it, and no Dockerfile, Procfile or Compose file runs one",
                    facts.settings_file
                ),
                "add `WSGI_APPLICATION = \"yourproject.wsgi.application\"` to your settings and run djrun again",
            )),
        }
    }

    /// The gunicorn command line, as a JSON array for an exec-form `CMD`.
    pub fn command(&self) -> String {
        let args: Vec<&str> = match self {
            Server::Wsgi(target) => vec![
                "gunicorn",
                "--worker-class",
                "gthread",
                "--threads",
                "8",
                "--timeout",
                "0",
                "--graceful-timeout",
                "8",
                target,
            ],
            Server::Asgi(target) => vec![
                "gunicorn",
                "--worker-class",
                "uvicorn_worker.UvicornWorker",
                "--timeout",
                "0",
                "--graceful-timeout",
                "8",
                target,
            ],
        };
        let quoted: Vec<String> = args
            .iter()
            .map(|a| serde_json::to_string(a).expect("strings serialize"))
            .collect();
        format!("[{}]", quoted.join(", "))
    }
}

/// What djrun says about a server the project ships besides gunicorn.
pub fn other_server_note(facts: &ProjectFacts) -> Option<String> {
    let others: Vec<&str> = [
        ("uwsgi", "uWSGI"),
        ("granian", "Granian"),
        ("daphne", "Daphne"),
    ]
    .iter()
    .filter(|(pkg, _)| facts.deps.has(pkg))
    .map(|(_, name)| *name)
    .collect();
    if !others.is_empty() {
        return Some(format!(
            "the project ships {}; the image runs gunicorn instead (with uvicorn's worker for ASGI, so websockets and async views keep working): PID 1 on $PORT, SIGTERM handled, and a concurrency the deploy sizes to its workers; {} stays installed, unused",
            others.join(" and "),
            if others.len() == 1 { "it" } else { "they" }
        ));
    }
    let asgi = matches!(Server::choose(facts), Ok(Server::Asgi(_)));
    (facts.deps.has("uvicorn") && !asgi).then(|| {
        "the project ships uvicorn, but serves WSGI: the image runs gunicorn's threaded workers".to_string()
    }).or_else(|| (facts.deps.has("uvicorn") && asgi).then(|| {
        "the project's uvicorn runs as gunicorn's worker (uvicorn-worker): gunicorn is PID 1 on $PORT and restarts a worker that dies".to_string()
    }))
}

/// The flags that make the manager install the groups and extras holding the server, besides
/// the production dependencies. Poetry's `--only` takes the groups as one list.
pub fn server_flags(deps: &crate::inspect::deps::Deps) -> Vec<String> {
    use crate::inspect::deps::Manager;
    let sets = &deps.server_sets;
    let named = |kind: &str| -> Vec<&str> {
        sets.iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.name.as_str())
            .collect()
    };
    match deps.manager {
        Manager::Uv => sets
            .iter()
            .map(|s| format!("--{} {}", s.kind, s.name))
            .collect(),
        Manager::Poetry => {
            let mut groups = vec!["main"];
            groups.extend(named("group"));
            let mut flags = vec![format!("--only {}", groups.join(","))];
            flags.extend(named("extra").iter().map(|e| format!("--extras {e}")));
            flags
        }
        Manager::Pdm => {
            let mut flags = vec!["--prod".to_string()];
            flags.extend(named("extra").iter().map(|e| format!("-G {e}")));
            flags
        }
        Manager::Pip | Manager::Pipenv => Vec::new(),
    }
}

/// The Debian packages the image installs for native dependencies beyond what it finds by
/// itself. The build stage starts from the full python image, which has the compilers and the
/// common headers, and the libraries that compiled modules link against are found in the build
/// (ldd over /venv) and installed in the final stage; what is left are the headers the full
/// image lacks and the libraries that are loaded by name (ctypes), which no linker records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NativePackages {
    /// For the build stage, sorted.
    pub build: Vec<&'static str>,
    /// Why each build package is there, one sentence a dependency.
    pub build_reasons: Vec<&'static str>,
    /// For the final stage, sorted.
    pub runtime: Vec<&'static str>,
    /// Why each runtime package is there, one sentence a dependency.
    pub runtime_reasons: Vec<&'static str>,
}

/// The command that exports Poetry's, PDM's or Pipenv's lock, with the sets that hold the
/// server, to /tmp/requirements.txt for pip; empty for pip and uv, which need none.
pub fn lock_export(deps: &crate::inspect::deps::Deps) -> String {
    use crate::inspect::deps::Manager;
    let flags: String = server_flags(deps).iter().map(|f| format!(" {f}")).collect();
    match deps.manager {
        Manager::Poetry => {
            format!("poetry export{flags} --format requirements.txt --output /tmp/requirements.txt")
        }
        Manager::Pdm => format!("pdm export{flags} --output /tmp/requirements.txt"),
        Manager::Pipenv => "pipenv requirements --hash > /tmp/requirements.txt".to_string(),
        Manager::Pip | Manager::Uv => String::new(),
    }
}

/// System packages the dependencies need beyond the full image and the linked libraries.
pub fn native_packages(facts: &ProjectFacts) -> NativePackages {
    let deps = &facts.deps;
    let mut out = NativePackages::default();
    if deps.has("python-ldap") {
        out.build.extend(["libldap2-dev", "libsasl2-dev"]);
        out.build_reasons.push(
            "python-ldap compiles against OpenLDAP's and Cyrus SASL's headers, which the full image lacks.",
        );
    }
    if let Some(extras) = deps.extras("psycopg") {
        if !extras.contains("binary") && !extras.contains("c") {
            out.runtime.push("libpq5");
            out.runtime_reasons
                .push("psycopg without its binary or C part loads libpq by name (ctypes).");
        }
    }
    if facts.settings.gis {
        out.runtime.push("gdal-bin");
        out.runtime_reasons
            .push("GeoDjango loads GDAL and GEOS by name (ctypes); gdal-bin brings both.");
    }
    out.build.sort_unstable();
    out.build.dedup();
    out.runtime.sort_unstable();
    out.runtime.dedup();
    out
}

/// `mysite.wsgi.application` -> `mysite.wsgi:application`.
fn gunicorn_target(dotted: &str) -> String {
    match dotted.rsplit_once('.') {
        Some((module, attr)) => format!("{module}:{attr}"),
        None => dotted.to_string(),
    }
}

/// Path of a file in the folder of the dependency files (the build context), relative to
/// the root.
fn in_context(facts: &ProjectFacts, name: &str) -> String {
    layout::under(&facts.dependency_root, name)
}

/// The project folder (manage.py) inside the build context: `.` when they are the same,
/// else the path below it (`src`).
pub fn app_dir(facts: &ProjectFacts) -> String {
    if facts.dependency_root == facts.project_root {
        ".".to_string()
    } else if facts.dependency_root == "." {
        facts.project_root.clone()
    } else {
        facts
            .project_root
            .strip_prefix(&format!("{}/", facts.dependency_root))
            .unwrap_or(&facts.project_root)
            .to_string()
    }
}

fn current(facts: &ProjectFacts, rel: &str) -> Result<Option<String>> {
    let path = layout::join(&facts.root, rel);
    if path.is_file() {
        read_text(&path, rel).map(Some)
    } else if path.exists() {
        Err(Error::input_hint(
            format!("`{rel}` exists but is not a file"),
            format!("move `{rel}` aside and run djrun again"),
        ))
    } else {
        Ok(None)
    }
}

/// A generated file at the root djrun was pointed at (the repository), where `gcloud builds
/// submit` and build triggers start.
fn at_root(facts: &ProjectFacts, name: &str, after: String) -> Result<FileChange> {
    Ok(FileChange {
        before: current(facts, name)?,
        path: name.to_string(),
        after: apply::seal(&after),
        owner: Owner::Generated,
        encoding: Encoding::Utf8,
    })
}

/// A generated file in the build context.
fn generated(facts: &ProjectFacts, name: &str, after: String) -> Result<FileChange> {
    let path = in_context(facts, name);
    Ok(FileChange {
        before: current(facts, &path)?,
        path,
        after: apply::seal(&after),
        owner: Owner::Generated,
        encoding: Encoding::Utf8,
    })
}

/// The environment `collectstatic` runs with at build time: the Cloud Run switch, a
/// placeholder secret key, a harmless value for each variable the settings require, and
/// for each the deployment's own settings read.
pub fn build_env(facts: &ProjectFacts, deployment: &Deployment) -> String {
    let key_var = deployment.secrets[0].var.clone();
    let mut vars: Vec<(String, String)> = vec![
        ("K_SERVICE".into(), "build".into()),
        (key_var, "collectstatic-placeholder".into()),
    ];
    let database = build_database(facts, deployment);
    let settings_values = crate::inspect::envvars::build_env(&facts.settings.env_reads, database);
    for (name, value) in settings_values
        .iter()
        .chain(deployment.build_values(database).iter())
    {
        if !vars.iter().any(|(n, _)| n == name) {
            vars.push((name.clone(), value.clone()));
        }
    }
    vars.iter()
        .map(|(n, v)| format!("{n}={}", crate::steps::shell_quote(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The commands that give the app's user the places the settings write to when they start:
/// a folder of its own is made and given whole (with what the build's import of the settings
/// wrote there); the project folder itself is given alone, not the code in it, and so is
/// each file the settings write in it, where the build made one.
fn writable_folders(facts: &ProjectFacts) -> Vec<String> {
    let q = crate::steps::shell_quote;
    let mut commands: Vec<String> = Vec::new();
    let mut push = |command: String| {
        if !commands.contains(&command) {
            commands.push(command);
        }
    };
    for w in &facts.settings.writes {
        if w.folder == "." {
            push("chown 10001 .".to_string());
            if w.kind != "folder" {
                push(format!(
                    "if [ -e {0} ]; then chown 10001 {0}; fi",
                    q(&w.path)
                ));
            }
        } else {
            push(format!("mkdir -p {}", q(&w.folder)));
            push(format!("chown -R 10001 {}", q(&w.folder)));
        }
    }
    commands
}

/// The database the build-time values name: the deployment's engine, else the one the
/// settings or the dependencies name, else SQLite.
pub fn build_database(facts: &ProjectFacts, deployment: &Deployment) -> BuildDatabase {
    match deployment.database.as_ref().map(|d| d.kind) {
        Some(DatabaseKind::CloudSqlPostgres) => return BuildDatabase::Postgres,
        Some(DatabaseKind::CloudSqlMysql) => return BuildDatabase::Mysql,
        _ => {}
    }
    let deps = &facts.deps;
    if facts.settings.database == "postgres"
        || ["psycopg", "psycopg2", "psycopg2-binary", "psycopg-binary"]
            .iter()
            .any(|d| deps.has(d))
    {
        BuildDatabase::Postgres
    } else if facts.settings.database == "mysql"
        || ["mysqlclient", "pymysql"].iter().any(|d| deps.has(d))
    {
        BuildDatabase::Mysql
    } else {
        BuildDatabase::Sqlite
    }
}

/// Compute every change `init` would make.
pub fn plan(facts: &ProjectFacts, options: &Options) -> Result<Plan> {
    let deployment = Deployment::new(facts, options)?;
    plan_for(facts, options, &deployment)
}

/// How the settings block reads the database URL, and the dependency that takes, if any.
fn database_block(
    facts: &ProjectFacts,
    deployment: &Deployment,
) -> (Option<DatabaseBlock>, Vec<Wanted<'static>>) {
    let Some(db) = &deployment.database else {
        return (None, Vec::new());
    };
    let mut wanted = Vec::new();
    let parser = if db.read_by_project {
        "project"
    } else if facts.deps.has("dj-database-url") {
        "dj_database_url"
    } else if facts.deps.has("django-environ") {
        "environ"
    } else {
        wanted.push(DJ_DATABASE_URL);
        "dj_database_url"
    };
    let deps = &facts.deps;
    match db.kind {
        DatabaseKind::CloudSqlPostgres
            if !deps.has("psycopg") && !deps.has("psycopg2") && !deps.has("psycopg2-binary") =>
        {
            wanted.push(PSYCOPG)
        }
        DatabaseKind::CloudSqlMysql if !deps.has("mysqlclient") && !deps.has("pymysql") => {
            wanted.push(MYSQLCLIENT)
        }
        _ => {}
    }
    (
        Some(DatabaseBlock {
            parser,
            var: db.var.clone(),
            has_databases: facts.settings.databases_at.is_some(),
            health_checks: !django_before(facts.django_version.as_deref(), (4, 1)),
            cloud_sql: db.kind.is_cloud_sql(),
        }),
        wanted,
    )
}

/// Compute every change `init` would make for `deployment`.
pub fn plan_for(facts: &ProjectFacts, options: &Options, deployment: &Deployment) -> Result<Plan> {
    let server = Server::choose(facts)?;
    let mut statics = static_plan(facts);
    let (database, mut wanted_for_data) = database_block(facts, deployment);
    statics.block.database = database;
    if let Some(media) = &deployment.media {
        statics.block.media = Some(MediaBlock {
            public: media.public,
            bucket_var: crate::deployment::BUCKET_VAR,
        });
        statics.block.default_backend = Some("storages.backends.gcloud.GoogleCloudStorage");
        if !facts.deps.has(DJANGO_STORAGES.project()) {
            wanted_for_data.push(DJANGO_STORAGES);
        }
    }
    let mut facts_with_added = facts.clone();
    for w in &wanted_for_data {
        facts_with_added.deps.add_package(w.project(), &w.extras());
    }
    let native = native_packages(&facts_with_added);
    let deps = &facts.deps;
    let local = local_plan(facts)?;
    let (assets_before, assets_after) = asset_runs(facts, statics.collectstatic);

    let mut plan = Plan::default();

    let dockerfile = render::render(
        render::DOCKERFILE,
        DockerfileContext {
            service: &options.service,
            python_version: &options.python,
            settings_module: &facts.settings_module,
            manager: deps.manager.name(),
            tools: TOOLS,
            dependency_files: build_files(deps),
            requirements: deps.manifest.clone(),
            build_packages: native.build,
            build_reasons: native.build_reasons,
            runtime_packages: native.runtime,
            runtime_reasons: native.runtime_reasons,
            collectstatic: statics.collectstatic,
            build_env: build_env(facts, deployment),
            assets_before,
            assets_after,
            command: server.command(),
            server_sets: deps
                .server_sets
                .iter()
                .map(|s| format!("the {} `{}`", s.kind, s.name))
                .collect(),
            server_flags: server_flags(deps),
            app_dir: app_dir(facts),
            lock_export: lock_export(deps),
            export_stage: exports_on_its_own_python(deps, &options.python),
            export_python: EXPORT_PYTHON,
            extra_files: local.extra_files,
            set_aside: local.set_aside,
            local_copies: local.local_copies,
            local_install: local.local_install,
            local_lines: local.local_lines.join("; "),
            writable: writable_folders(facts),
            writable_reasons: facts.settings.writes.iter().map(|w| w.describe()).collect(),
        },
    );
    plan.push(generated(facts, "Dockerfile", dockerfile)?);

    // Configuration modules the operator makes from the repository's example, which the
    // settings import and the repository lacks: made as the settings were read with them.
    for made in &facts.settings.operator_modules {
        plan.push(FileChange {
            path: made.file.clone(),
            before: None,
            after: made.text.clone(),
            owner: Owner::User,
            encoding: Encoding::Utf8,
        });
    }

    // Folders that only hold what the project makes on a developer's machine. In
    // .dockerignore a pattern is matched from the context's top, in .gcloudignore anywhere.
    let mut local_folders = Vec::new();
    if statics.block.static_root.is_some() {
        local_folders.push("staticfiles".to_string());
    }
    let app = app_dir(facts);
    plan.push(generated(
        facts,
        ".dockerignore",
        render::render(
            render::DOCKERIGNORE,
            DockerignoreContext {
                local_folders: local_folders
                    .iter()
                    .map(|f| layout::under(&app, f))
                    .collect(),
            },
        ),
    )?);
    plan.push(at_root(
        facts,
        ".gcloudignore",
        render::render(
            render::GCLOUDIGNORE,
            GcloudignoreContext {
                upload_only: (facts.dependency_root != "." && !facts.dependency_root.contains('/'))
                    .then(|| facts.dependency_root.clone()),
                local_folders: local_folders.clone(),
            },
        ),
    )?);
    plan.push(at_root(
        facts,
        "cloudbuild.yaml",
        render::render(
            render::CLOUDBUILD,
            CloudbuildContext {
                service: &deployment.service,
                region: &deployment.region,
                repository: deployment.repository,
                context: deployment.context.clone(),
                access_flag: if deployment.public {
                    "--allow-unauthenticated"
                } else {
                    "--no-allow-unauthenticated"
                },
                runtime_account: &deployment.runtime_account,
                env_vars: deployment.env_flag_value(),
                secrets: deployment.secrets_flag_value(),
                versions: deployment
                    .secrets
                    .iter()
                    .map(|s| s.version_substitution())
                    .collect(),
                sql_instance: deployment
                    .database
                    .as_ref()
                    .and_then(|d| d.instance.as_ref())
                    .map(|i| i.connection_name()),
                migrate_job: deployment.migrate_job.is_some(),
                concurrency: deployment.capacity.concurrency,
                max_instances: deployment.capacity.max_instances,
                min_instances: deployment.capacity.min_instances,
                cpu: deployment.capacity.cpu,
                memory: &deployment.capacity.memory,
                capacity: &deployment.capacity.arithmetic,
            },
        ),
    )?);

    if let Some(gh) = &deployment.github {
        let submit = crate::steps::steps(deployment, &[])
            .into_iter()
            .find(|s| s.id == "build")
            .and_then(|s| s.actions.into_iter().next())
            .map(|a| crate::steps::shell_line(&a.args))
            .unwrap_or_default();
        plan.push(at_root(
            facts,
            ".github/workflows/deploy.yml",
            render::render(
                render::GITHUB_DEPLOY,
                GithubContext {
                    branch: &gh.branch,
                    repository: &gh.repository,
                    version: env!("CARGO_PKG_VERSION"),
                    path: ".",
                    service: &deployment.service,
                    deployer: deployment.deployer_email(),
                    submit,
                },
            ),
        )?);
    }

    // The production settings get djrun's block.
    let block = render::render(render::SETTINGS_BLOCK, &statics.block);
    let settings_path = layout::join(&facts.root, &facts.settings_file);
    let (settings_text, encoding) = text::read_python(&settings_path, &facts.settings_file)?;
    let patched = settings::apply_block(&facts.settings_file, &settings_text, &block)?;
    plan.push(FileChange {
        path: facts.settings_file.clone(),
        before: Some(settings_text),
        after: patched,
        owner: Owner::User,
        encoding,
    });

    // Dependencies: gunicorn (with uvicorn's worker for ASGI), and WhiteNoise when djrun
    // serves static files with it.
    let mut wanted = vec![GUNICORN];
    if matches!(server, Server::Asgi(_)) {
        wanted.push(UVICORN_WORKER);
    }
    if statics.whitenoise_dependency {
        wanted.push(WHITENOISE);
    }
    wanted.extend(wanted_for_data);
    // What the project has already, wherever it keeps it (an included requirements file, a
    // dependency group the image installs), is not added again.
    wanted.retain(|w| !deps.has(w.project()));
    let manifest_path = in_context(facts, &deps.manifest);
    let text = current(facts, &manifest_path)?.unwrap_or_default();
    // Cloud Storage media needs django-storages' `google` extra: a pin without it gets it.
    let extra = (deployment.media.is_some() && needs_extra(deps, &DJANGO_STORAGES))
        .then(|| add_wanted_extra(facts, &manifest_path, &text, &DJANGO_STORAGES))
        .transpose()?;
    let base = match &extra {
        Some(ExtraEdit::Manifest(edited)) => edited.clone(),
        _ => text.clone(),
    };
    let after = match deps.manifest_kind {
        Manifest::Requirements => {
            let lines: Vec<String> = wanted
                .iter()
                .map(|w| format!("{}{}", w.name, w.bound))
                .collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let parsed = requirements::Requirements::parse(&manifest_path, &base);
            requirements::add_missing(&parsed, &base, &lines)?
        }
        kind => pyproject::add_missing(kind, &manifest_path, &base, &wanted)?,
    };
    if after != base {
        plan.dependencies_added = wanted
            .iter()
            .filter(|w| !deps.has(w.project()))
            .map(|w| w.name.to_string())
            .collect();
    }
    if extra.is_some() {
        plan.dependencies_added
            .push(DJANGO_STORAGES.name.to_string());
    }
    plan.push(FileChange {
        path: manifest_path,
        before: Some(text),
        after,
        owner: Owner::User,
        encoding: Encoding::Utf8,
    });
    if let Some(ExtraEdit::Included(change)) = extra {
        plan.push(change);
    }

    // Saved choices, so a re-run needs no flags.
    let mut config = ConfigFile::locate(&facts.root, &facts.project_root)?;
    // When the choices live in pyproject.toml, which the dependency edit may have changed
    // already, they are stored on top of that edit: one change for the file.
    let earlier = plan.changes.iter().position(|c| c.path == config.path);
    if let Some(i) = earlier {
        config.text = Some(plan.changes[i].after.clone());
    }
    if let Some(change) = config.store(&options.saved)? {
        match earlier {
            Some(i) => plan.changes[i].after = change.after,
            None => plan.push(change),
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_command_is_exec_form_json() {
        assert_eq!(
            Server::Wsgi("mysite.wsgi:application".into()).command(),
            "[\"gunicorn\", \"--worker-class\", \"gthread\", \"--threads\", \"8\", \"--timeout\", \"0\", \"--graceful-timeout\", \"8\", \"mysite.wsgi:application\"]"
        );
        assert!(Server::Asgi("a.asgi:application".into())
            .command()
            .contains("\"uvicorn_worker.UvicornWorker\""));
        assert_eq!(
            gunicorn_target("config.wsgi.application"),
            "config.wsgi:application"
        );
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn local_requirements_wait_for_their_code_and_install_in_place() {
        let facts = crate::inspect::inspect(&fixture("pip-path-packages")).unwrap();
        let plan = local_plan(&facts).unwrap();
        assert_eq!(
            plan,
            LocalPlan {
                extra_files: vec!["wheels/depot_colors-1.0.0-py3-none-any.whl".into()],
                // `./packages/reports \` continues on line 3: both lines are set aside.
                set_aside: vec!["sed -i '2,3s/^/#/;4s/^/#/' requirements/base.txt".into()],
                local_copies: vec!["packages/reports".into(), "packages/audit".into()],
                local_install: "-e ./packages/reports -e ./packages/audit".into(),
                local_lines: vec!["requirements/base.txt lines 2 and 4".into()],
            }
        );

        // The project itself stands for every folder in it; extras keep their dependencies.
        let tmp = tempfile::tempdir().unwrap();
        let from = fixture("pip-editable-pkg");
        for entry in walkdir::WalkDir::new(&from) {
            let entry = entry.unwrap();
            let to = tmp.path().join(entry.path().strip_prefix(&from).unwrap());
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else {
                std::fs::copy(entry.path(), &to).unwrap();
            }
        }
        std::fs::write(
            tmp.path().join("requirements.txt"),
            "django\n-e ./packages/invoicing[pdf]\n-e .\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\n",
        )
        .unwrap();
        let facts = crate::inspect::inspect(tmp.path()).unwrap();
        let plan = local_plan(&facts).unwrap();
        assert_eq!(plan.local_copies, vec!["."]);
        assert_eq!(plan.local_install, "-e './packages/invoicing[pdf]' -e .");
        assert_eq!(
            plan.set_aside,
            vec!["sed -i '2s/^/#/;3s/^/#/' requirements.txt"]
        );

        // Nothing local, nothing to do.
        let facts = crate::inspect::inspect(&fixture("uv-groups")).unwrap();
        assert_eq!(local_plan(&facts).unwrap(), LocalPlan::default());
    }

    #[test]
    fn each_manager_is_told_to_install_the_sets_that_hold_the_server() {
        use crate::inspect::deps::{Deps, Manager, ServerSet};
        let set = |kind, name: &str| ServerSet {
            kind,
            name: name.into(),
        };
        let mut deps = Deps::none();
        deps.server_sets = vec![
            set("group", "prod"),
            set("group", "web"),
            set("extra", "asgi"),
        ];
        let flags = |deps: &Deps| server_flags(deps).join(" ");
        deps.manager = Manager::Uv;
        assert_eq!(flags(&deps), "--group prod --group web --extra asgi");
        deps.manager = Manager::Poetry;
        assert_eq!(flags(&deps), "--only main,prod,web --extras asgi");
        deps.manager = Manager::Pdm;
        deps.server_sets = vec![set("extra", "serve")];
        assert_eq!(flags(&deps), "--prod -G serve");
        // Nothing outside the production set: Poetry and PDM export that alone.
        deps.server_sets.clear();
        assert_eq!(flags(&deps), "--prod");
        deps.manager = Manager::Poetry;
        assert_eq!(flags(&deps), "--only main");
    }

    /// mysite's facts with `packages` (name, extras) added to its dependencies.
    fn mysite_with(packages: &[(&str, &[&str])]) -> ProjectFacts {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mysite");
        let mut facts = crate::inspect::inspect(&root).unwrap();
        for (name, extras) in packages {
            facts.deps.add_package(name, extras);
        }
        facts
    }

    #[test]
    fn native_packages_are_only_what_the_full_image_and_ldd_cannot_give() {
        // Headers and compilers for these are in the full image; the libraries they link
        // are found in the build.
        let compiled: &[(&str, &[&str])] = &[
            ("psycopg2", &[]),
            ("mysqlclient", &[]),
            ("psycopg", &["c"]),
            ("uwsgi", &[]),
        ];
        assert_eq!(
            native_packages(&mysite_with(compiled)),
            NativePackages::default()
        );
        assert_eq!(
            native_packages(&mysite_with(&[("psycopg", &["binary"])])),
            NativePackages::default()
        );
        let ldap = native_packages(&mysite_with(&[("python-ldap", &[])]));
        assert_eq!(ldap.build, ["libldap2-dev", "libsasl2-dev"]);
        assert_eq!(ldap.build_reasons.len(), 1);
        assert!(ldap.runtime.is_empty());
        // Pure-Python psycopg loads libpq by name; GeoDjango loads GDAL and GEOS.
        let mut facts = mysite_with(&[("psycopg", &[])]);
        facts.settings.gis = true;
        let by_name = native_packages(&facts);
        assert!(by_name.build.is_empty());
        assert_eq!(by_name.runtime, ["gdal-bin", "libpq5"]);
        assert_eq!(by_name.runtime_reasons.len(), 2);
    }

    #[test]
    fn the_app_user_gets_the_places_the_settings_write_and_no_more() {
        use crate::inspect::writes::Write;
        let place = |path: &str, folder: &str, kind: &'static str| Write {
            path: path.into(),
            folder: folder.into(),
            kind,
            at: crate::inspect::Location {
                file: "site/settings.py".into(),
                line: 1,
            },
        };
        let mysite = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/mysite");
        let mut facts = crate::inspect::inspect(&mysite).unwrap();
        assert!(writable_folders(&facts).is_empty(), "mysite writes nothing");
        facts.settings.writes = vec![
            place("secret.key", ".", "file"),
            place("logs/app.log", "logs", "log file"),
            place("logs", "logs", "folder"),
            place("/var/log/my site", "/var/log/my site", "folder"),
        ];
        assert_eq!(
            writable_folders(&facts),
            vec![
                // The project folder alone, and the one file, not the code beside it.
                "chown 10001 .",
                "if [ -e secret.key ]; then chown 10001 secret.key; fi",
                "mkdir -p logs",
                "chown -R 10001 logs",
                "mkdir -p '/var/log/my site'",
                "chown -R 10001 '/var/log/my site'",
            ]
        );
    }

    #[test]
    fn storages_style_follows_the_django_version() {
        assert!(django_before_4_2(Some("4.1")));
        assert!(django_before_4_2(Some("3.2")));
        assert!(!django_before_4_2(Some("4.2")));
        assert!(!django_before_4_2(Some("5.2")));
        assert!(!django_before_4_2(None));
    }
}
