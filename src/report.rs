//! `djrun inspect`: the facts as JSON (the documented contract) or as an aligned summary.

use crate::deployment::{unsupported_engine, DatabaseKind, MediaKind};
use crate::generate::{native_packages, Server};
use crate::inspect::ProjectFacts;
use serde::Serialize;

/// What djrun derives from the facts, reported beside them (keys added to the documented
/// contract, which allows more keys).
#[derive(Serialize)]
struct Derived<'a> {
    #[serde(flatten)]
    facts: &'a ProjectFacts,
    /// `wsgi` or `asgi`, and the gunicorn target.
    server: Option<ServerReport>,
    /// Settings the project already reads from the environment, and variables it requires.
    environment: Environment<'a>,
    /// Debian packages the image installs for native dependencies beyond the full python
    /// image (build) and the libraries the compiled modules link against, which the build
    /// finds itself: headers the full image lacks, libraries loaded by name (run).
    system_packages: SystemPackages,
    /// What `djrun init` chooses for the database and uploads unless told otherwise.
    defaults: Defaults<'a>,
    /// Concurrency and the instance cap with those defaults, and the arithmetic behind them.
    capacity: CapacityReport,
    /// Dependency groups and extras outside the production set that hold the server, which
    /// the image installs too (`group prod`, `extra server`).
    server_sets: Vec<String>,
    /// Dependencies fetched from version control, each with why the build cannot reach it.
    vcs_requirements: &'a [crate::inspect::sources::VcsRequirement],
    /// Dependencies installed from paths inside the project, after their code is copied.
    local_requirements: &'a [crate::inspect::sources::LocalRequirement],
    /// Every variable the settings read, its shape, default, source and who gives it.
    configuration: Vec<crate::configuration::Variable>,
    /// Places the settings write to when they start, which the image makes writable.
    writes: &'a [crate::inspect::writes::Write],
    /// Configuration modules the settings import that `init` makes from their example.
    operator_modules: &'a [crate::inspect::operator::OperatorModule],
}

#[derive(Serialize)]
struct CapacityReport {
    concurrency: u32,
    max_instances: u32,
    arithmetic: String,
}

#[derive(Serialize)]
struct Defaults<'a> {
    /// `--database`: `cloudsql-postgres`, `cloudsql-mysql`, `url` or `none`.
    database: &'static str,
    /// An engine Cloud SQL does not serve, which makes `init` ask for `--database`.
    unsupported_engine: Option<&'a str>,
    /// `--media`: `gcs` or `none`.
    media: &'static str,
}

#[derive(Serialize)]
struct ServerReport {
    interface: &'static str,
    target: String,
}

#[derive(Serialize)]
struct Environment<'a> {
    allowed_hosts: Option<&'a str>,
    csrf_trusted_origins: Option<&'a str>,
    secret_key: Option<&'a str>,
    required: Vec<&'a str>,
}

#[derive(Serialize)]
struct SystemPackages {
    build: Vec<&'static str>,
    runtime: Vec<&'static str>,
}

fn derived(facts: &ProjectFacts) -> Derived<'_> {
    let s = &facts.settings;
    let native = native_packages(facts);
    Derived {
        facts,
        server: Server::choose(facts).ok().map(|server| match server {
            Server::Wsgi(target) => ServerReport {
                interface: "wsgi",
                target,
            },
            Server::Asgi(target) => ServerReport {
                interface: "asgi",
                target,
            },
        }),
        environment: Environment {
            allowed_hosts: s.allowed_hosts_env.as_deref(),
            csrf_trusted_origins: s.csrf_origins_env.as_deref(),
            secret_key: s.secret_key_env.as_deref(),
            required: s.build_values.iter().map(|(n, _)| n.as_str()).collect(),
        },
        system_packages: SystemPackages {
            build: native.build,
            runtime: native.runtime,
        },
        capacity: {
            let kind = Some(DatabaseKind::suggested(facts)).filter(|k| k.has_url());
            let c = crate::deployment::Capacity::new(kind, &Default::default());
            CapacityReport {
                concurrency: c.concurrency,
                max_instances: c.max_instances,
                arithmetic: c.arithmetic,
            }
        },
        server_sets: facts
            .deps
            .server_sets
            .iter()
            .map(|s| format!("{} {}", s.kind, s.name))
            .collect(),
        vcs_requirements: &facts.deps.sources.vcs,
        local_requirements: &facts.deps.sources.local,
        configuration: crate::configuration::variables(facts),
        writes: &facts.settings.writes,
        operator_modules: &facts.settings.operator_modules,
        defaults: Defaults {
            database: DatabaseKind::suggested(facts).as_str(),
            unsupported_engine: unsupported_engine(facts),
            media: MediaKind::suggested(facts).as_str(),
        },
    }
}

/// The facts as one pretty-printed JSON object.
pub fn json(facts: &ProjectFacts) -> String {
    serde_json::to_string_pretty(&derived(facts)).expect("facts serialize")
}

fn or_dash(list: &[&str]) -> String {
    if list.is_empty() {
        "-".to_string()
    } else {
        list.join(" ")
    }
}

/// The facts as a short, aligned summary, each with where it came from.
pub fn human(facts: &ProjectFacts) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none found".to_string());
    let mut rows: Vec<(&str, String)> = vec![
        ("project", format!("{} (manage.py)", facts.project_root)),
        (
            "settings",
            match facts.settings_source.as_str() {
                "unknown" => "unknown (pass --settings MODULE)".to_string(),
                "inferred" => format!(
                    "{} ({}, inferred)",
                    facts.settings_module, facts.settings_file
                ),
                "flag" => format!(
                    "{} ({}, --settings)",
                    facts.settings_module, facts.settings_file
                ),
                _ => format!("{} ({})", facts.settings_module, facts.settings_file),
            },
        ),
        ("wsgi", or_none(&facts.wsgi_application)),
        ("asgi", or_none(&facts.asgi_application)),
        (
            "python",
            format!(
                "{} ({}){}",
                facts.python_version.version,
                facts.python_version.source,
                facts
                    .python_version
                    .end_of_life
                    .as_ref()
                    .map(|eol| format!("; past its end of life ({eol}): no more security fixes"))
                    .unwrap_or_default()
            ),
        ),
        (
            "django",
            facts
                .django_version
                .clone()
                .map(|v| format!("{v} ({})", facts.dependency_files.join(", ")))
                .unwrap_or_else(|| "version not pinned".to_string()),
        ),
        (
            "dependencies",
            if facts.dependency_files.is_empty() {
                "unknown (no dependency file)".to_string()
            } else {
                let above = if facts.dependency_root == facts.project_root {
                    String::new()
                } else {
                    format!(
                        "; above the project folder, so the image is built from `{}`",
                        facts.dependency_root
                    )
                };
                format!(
                    "{} ({}{above})",
                    facts.dependency_manager,
                    facts.dependency_files.join(", ")
                )
            },
        ),
        (
            "gunicorn",
            if facts.has_gunicorn {
                "present".to_string()
            } else {
                "missing (djrun adds it)".to_string()
            },
        ),
        (
            "allowed hosts",
            facts
                .allowed_hosts
                .as_ref()
                .map(|l| format!("{} line {}", l.file, l.line))
                .unwrap_or_else(|| "not set".to_string()),
        ),
        (
            "static files",
            match (facts.static_root, facts.whitenoise) {
                (_, true) => "served by WhiteNoise".to_string(),
                (true, false) => "STATIC_ROOT set, no WhiteNoise".to_string(),
                (false, false) => "no STATIC_ROOT, no WhiteNoise".to_string(),
            },
        ),
        ("database", facts.database.clone()),
    ];
    for step in &facts.asset_steps {
        rows.push((
            "asset step",
            format!(
                "`{}` {} ({}, {} line {})",
                step.command,
                step.when.as_str(),
                step.tool,
                step.evidence.file,
                step.evidence.line
            ),
        ));
    }
    let d = derived(facts);
    rows.push((
        "deploy db",
        match d.defaults.unsupported_engine {
            Some(engine) => format!(
                "`{engine}` is not a Cloud SQL engine: pass `--database url` or `--database none`"
            ),
            None => match d.defaults.database {
                "none" => "none: the settings' own database (`--database` to choose)".to_string(),
                kind => format!(
                    "{kind}, with DATABASE_URL from Secret Manager{}",
                    facts
                        .database_url_env
                        .as_ref()
                        .map(|v| format!(" (the settings read ${v})"))
                        .unwrap_or_default()
                ),
            },
        },
    ));
    if !d.server_sets.is_empty() {
        rows.push((
            "server from",
            format!("{} (the image installs it)", d.server_sets.join(", ")),
        ));
    }
    if !d.vcs_requirements.is_empty() {
        let list: Vec<String> = d
            .vcs_requirements
            .iter()
            .map(|v| {
                format!(
                    "{} ({} line {}{})",
                    v.name.as_deref().unwrap_or(&v.url),
                    v.file,
                    v.line,
                    v.private
                        .map(|p| format!(", private: {p}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        rows.push(("from git", list.join(", ")));
    }
    if !d.local_requirements.is_empty() {
        let list: Vec<String> = d
            .local_requirements
            .iter()
            .map(|l| {
                format!(
                    "{} ({} line {}{})",
                    if l.path == "." {
                        "the project folder"
                    } else {
                        &l.path
                    },
                    l.file,
                    l.line,
                    if l.archive {
                        ", installed with the dependencies"
                    } else {
                        ", installed after its code is copied"
                    }
                )
            })
            .collect();
        rows.push(("local", list.join(", ")));
    }
    rows.push(("capacity", d.capacity.arithmetic.clone()));
    rows.push((
        "uploads",
        match (&facts.upload_field, &facts.media_root, d.defaults.media) {
            (Some(l), _, "gcs") => format!(
                "{} line {} stores files: a Cloud Storage bucket",
                l.file, l.line
            ),
            (None, Some(l), "gcs") => format!(
                "MEDIA_ROOT at {} line {}: a Cloud Storage bucket",
                l.file, l.line
            ),
            (Some(_), _, _) | (_, Some(_), _) => "stored by the project's own storage".to_string(),
            _ => "none found".to_string(),
        },
    ));
    rows.push((
        "server",
        match &d.server {
            Some(ServerReport {
                interface: "asgi",
                target,
            }) => format!("gunicorn with uvicorn workers, {target} (ASGI)"),
            Some(ServerReport { target, .. }) => format!("gunicorn, threads, {target} (WSGI)"),
            None => "no WSGI or ASGI application found".to_string(),
        },
    ));
    for evidence in &facts.server_evidence {
        rows.push(("evidence", evidence.clone()));
    }
    if let Some(note) = crate::generate::other_server_note(facts) {
        rows.push(("server note", note));
    }
    let python = &facts.python_version.version;
    if let Some(why) = crate::generate::manager_cannot_serve(&facts.deps, python) {
        rows.push((
            "lock",
            format!("{why}: `djrun init` refuses it; pass `--python 3.10` or newer"),
        ));
    } else if crate::generate::exports_on_its_own_python(&facts.deps, python) {
        rows.push((
            "lock",
            format!(
                "exported in a stage of its own on Python {}: the pinned {} runs on Python 3.10 or newer",
                crate::generate::EXPORT_PYTHON,
                facts.dependency_manager
            ),
        ));
    }
    let from_env: Vec<String> = [
        ("ALLOWED_HOSTS", d.environment.allowed_hosts),
        ("CSRF_TRUSTED_ORIGINS", d.environment.csrf_trusted_origins),
        ("SECRET_KEY", d.environment.secret_key),
    ]
    .iter()
    .filter_map(|(setting, var)| var.map(|v| format!("{setting} from ${v}")))
    .collect();
    if !from_env.is_empty() {
        rows.push((
            "from env",
            format!("{} (the deploy sets them)", from_env.join(", ")),
        ));
    }
    if !d.environment.required.is_empty() {
        rows.push((
            "needs env",
            format!(
                "{} (read at import without a default)",
                d.environment.required.join(", ")
            ),
        ));
    }
    if let Some(row) = configuration_row(&d.configuration) {
        rows.push(("configuration", row));
    }
    for made in d.operator_modules {
        rows.push((
            "makes",
            format!(
                "`{}` from `{}` ({} imports it, and the repository has only the example): {}{}",
                made.file,
                made.example,
                format_args!("{}:{}", made.import.file, made.import.line),
                if made.from_env.is_empty() {
                    "the example as it is".to_string()
                } else {
                    format!("{} from the environment", made.from_env.join(", "))
                },
                if made.kept.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} keep the example's values: review them",
                        made.kept.join(", ")
                    )
                }
            ),
        ));
    }
    if !d.writes.is_empty() {
        let places: Vec<String> = d.writes.iter().map(|w| w.describe()).collect();
        rows.push((
            "writes",
            format!(
                "{}; the image lets the app write there, but Cloud Run keeps it in memory and loses it when an instance stops: send logs to stdout, keep files in a bucket",
                places.join(", ")
            ),
        ));
    }
    if let Some(row) = startup_row(facts) {
        rows.push(("start-up", row));
    }
    if !d.system_packages.runtime.is_empty() || !d.system_packages.build.is_empty() {
        rows.push((
            "system libs",
            format!(
                "build: {}; run: {} (besides what compiled modules link, which the build finds)",
                or_dash(&d.system_packages.build),
                or_dash(&d.system_packages.runtime)
            ),
        ));
    }
    if facts.database == "sqlite" {
        if let Some(row) = rows.iter_mut().find(|(k, _)| *k == "database") {
            row.1 = "sqlite (data on Cloud Run is lost when an instance stops)".to_string();
        }
    }
    if facts.settings_source == "inferred" {
        let at = rows
            .iter()
            .position(|(k, _)| *k == "settings")
            .map_or(0, |i| i + 1);
        for (i, evidence) in facts.settings_evidence.iter().enumerate() {
            rows.insert(at + i, ("evidence", evidence.clone()));
        }
    }
    for hint in &facts.hints {
        rows.push(("hint", hint.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:>width$}  {v}\n"))
        .collect()
}

/// What the settings expect at start-up, when they load configuration themselves.
fn startup_row(facts: &ProjectFacts) -> Option<String> {
    let startup = &facts.startup_config;
    let secret = startup.secret_manager.as_ref().map(|s| {
        let name = match (&s.secret, &s.secret_env) {
            (Some(id), Some(var)) => format!("secret `{id}` (${var} overrides the name)"),
            (Some(id), None) => format!("secret `{id}`"),
            (None, _) => "a secret djrun cannot name".to_string(),
        };
        let when = s
            .guard_env
            .as_ref()
            .map(|v| format!(" when ${v} is set"))
            .unwrap_or_default();
        format!(
            "reads {name} from Secret Manager{when} ({} line {})",
            s.file, s.line
        )
    });
    let dotenv = startup
        .dotenv
        .as_ref()
        .map(|l| format!("loads a .env file ({} line {})", l.file, l.line));
    let guarded = startup
        .secret_manager
        .as_ref()
        .is_some_and(|s| s.guard_env.is_some());
    match (secret, dotenv) {
        (Some(secret), Some(dotenv)) if guarded => Some(format!("{secret}; else {dotenv}")),
        (Some(secret), Some(dotenv)) => Some(format!("{secret}; {dotenv}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

/// Who gives the variables the settings read: counted, with the ones the user must give
/// named where they are read.
fn configuration_row(vars: &[crate::configuration::Variable]) -> Option<String> {
    use crate::configuration::Provider;
    if vars.is_empty() {
        return None;
    }
    let of = |p: Provider| vars.iter().filter(move |v| v.provider == p);
    let mut parts = vec![format!(
        "{} variable{} read",
        vars.len(),
        if vars.len() == 1 { "" } else { "s" }
    )];
    let djrun = of(Provider::Djrun).count();
    if djrun > 0 {
        parts.push(format!("{djrun} set by djrun"));
    }
    let site: Vec<&str> = of(Provider::ServiceUrl).map(|v| v.name.as_str()).collect();
    if !site.is_empty() {
        parts.push(format!("the service URL in {}", site.join(", ")));
    }
    let user: Vec<String> = of(Provider::User)
        .map(|v| format!("{} ({})", v.name, v.source))
        .collect();
    if !user.is_empty() {
        parts.push(format!(
            "yours to give with --env NAME=VALUE or --secret NAME: {}",
            user.join(", ")
        ));
    }
    let defaults = of(Provider::Default).count();
    if defaults > 0 {
        parts.push(format!("{defaults} keep their defaults"));
    }
    Some(parts.join("; "))
}
