//! `djrun init`: inspect, resolve the choices, plan, show, ask, write.

use crate::config::{ConfigFile, Saved};
use crate::deployment::{self, DatabaseKind, Deployment, MediaKind, SqlInstance};
use crate::gcloud::GcloudDefaults;
use crate::generate::{self, Options};
use crate::inspect::deps::Manager;
use crate::inspect::{self, layout, ProjectFacts};
use crate::plan::Plan;
use crate::prompt::{Prompter, Question};
use crate::{apply, validate, Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct InitRequest {
    /// The folder to work in.
    pub root: PathBuf,
    /// `--project-dir`: the folder below `root` that holds manage.py.
    pub project_dir: Option<String>,
    /// `--project`.
    pub project: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--service`.
    pub service: Option<String>,
    /// `--python`.
    pub python: Option<String>,
    /// `--public` (`Some(true)`) or `--private` (`Some(false)`).
    pub public: Option<bool>,
    /// `--yes`: take every default, write without asking.
    pub yes: bool,
    /// `--dry-run`: show the plan, write nothing.
    pub dry_run: bool,
    /// `--check`: write nothing, report drift.
    pub check: bool,
    /// `--force`: overwrite files djrun did not generate.
    pub force: bool,
    /// `--allow-dirty`: edit files with uncommitted changes.
    pub allow_dirty: bool,
    /// `--domain`, each one, when given.
    pub domains: Option<Vec<String>>,
    /// `--ci`.
    pub ci: Option<String>,
    /// `--github-repo`.
    pub github_repo: Option<String>,
    /// `--settings`: the settings module the container runs with.
    pub settings: Option<String>,
    /// `--cpu`, `--memory`, `--min-instances`, `--max-instances`, `--db-max-connections`.
    pub capacity: crate::deployment::CapacityChoices,
    /// `--database`.
    pub database: Option<String>,
    /// `--sql-instance`.
    pub sql_instance: Option<String>,
    /// `--media`.
    pub media: Option<String>,
    /// `--bucket`.
    pub bucket: Option<String>,
    /// `--public-media` (`Some(true)`) or `--private-media` (`Some(false)`).
    pub public_media: Option<bool>,
    /// `--env NAME=VALUE`, each as given.
    pub env: Vec<String>,
    /// `--secret NAME`, each.
    pub secrets: Vec<String>,
    /// Colour the diff.
    pub color: bool,
    /// Whether questions can be asked (a terminal on stdin).
    pub interactive: bool,
}

/// How `init` ended, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Files were written.
    Written,
    /// Nothing would change.
    UpToDate,
    /// `--check` found files that would change (exit 1).
    Drift,
    /// `--dry-run` showed the plan.
    DryRun,
    /// The user answered no at the confirmation.
    Declined,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Drift => 1,
            _ => 0,
        }
    }
}

/// The default region offered when gcloud has none configured.
pub const FALLBACK_REGION: &str = "us-central1";

/// What a valid value of `flag` looks like, and where to find one.
fn example(flag: &str) -> &'static str {
    match flag {
        "--project" => "pass the project id that `gcloud projects list` shows, such as `--project my-shop-prod`",
        "--region" => "pass a region that `gcloud run regions list` shows, such as `--region europe-west1`",
        "--service" => "pass 1 to 49 lowercase letters, digits and hyphens, starting with a letter, such as `--service my-shop`",
        "--database" => "pass `--database cloudsql-postgres`, `cloudsql-mysql`, `url` (a database elsewhere) or `none` (keep the settings' own)",
        "--sql-instance" => "pass an instance name such as `--sql-instance shop-db`, or `PROJECT:REGION:NAME` for one in another project or region",
        "--media" => "pass `--media gcs` (a Cloud Storage bucket) or `--media none`",
        "--ci" => "pass `--ci github`",
        "--settings" => "pass a dotted module name, such as `--settings config.settings.production`",
        "--cpu" => "pass `--cpu 1`, `2`, `4`, `6` or `8`",
        "--memory" => "pass a size such as `--memory 512Mi` or `--memory 1Gi`",
        "--min-instances" => "pass a number no larger than `--max-instances`, such as `--min-instances 1`",
        "--max-instances" => "pass a number of at least 1, such as `--max-instances 5`",
        "--github-repo" => "pass the repository as OWNER/NAME, such as `--github-repo acme/shop`",
        "--domain" => "pass the host alone, such as `--domain www.example.com`",
        "--env" => "pass `--env NAME=VALUE` for a plain value, or `--secret NAME` for one that must stay out of files (`djrun deploy` reads it from `$NAME` or asks)",
        "--secret" => "pass the variable's name, such as `--secret STRIPE_API_KEY`; `djrun deploy` reads its value from `$STRIPE_API_KEY` or asks",
        "--bucket" => "pass a bucket name of lowercase letters, digits and hyphens, such as `--bucket my-shop-media`",
        _ => "pass the Python version as X.Y, such as `--python 3.13`",
    }
}

fn flag_error(flag: &str, why: String) -> Error {
    Error::input_hint(format!("`{flag}`: {why}"), example(flag))
}

fn saved_error(config: &ConfigFile, key: &str, why: String) -> Error {
    Error::input_hint(
        format!("`{}`: saved `{key}`: {why}", config.path),
        format!(
            "fix or remove `{key}` in `{}`, or pass `--{key}`",
            config.path
        ),
    )
}

/// Folder names that say where code lives, not what the project is called.
const GENERIC_FOLDERS: &[&str] = &[
    "api", "app", "backend", "django", "project", "server", "service", "site", "src", "web",
];

/// The service name djrun suggests: the project folder's name, or the repository's when
/// the project sits in a folder with a generic name such as `backend`.
pub fn default_service(facts: &ProjectFacts) -> String {
    let name_of = |dir: &Path| {
        std::fs::canonicalize(dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    };
    let project = name_of(&layout::join(&facts.root, &facts.project_root));
    let name = match project {
        Some(n) if !GENERIC_FOLDERS.contains(&n.to_ascii_lowercase().as_str()) => Some(n),
        _ => name_of(&facts.root),
    }
    .unwrap_or_else(|| {
        facts
            .settings_module
            .split('.')
            .next()
            .unwrap_or("")
            .to_string()
    });
    validate::service_name_from(&name)
}

/// Resolve every choice: flag, else saved config, else a question (or its default with
/// `--yes`), else the detected default. Every value is validated before it is used.
pub fn resolve(
    facts: &ProjectFacts,
    request: &InitRequest,
    config: &ConfigFile,
    gcloud: &GcloudDefaults,
    prompter: &mut dyn Prompter,
    warnings: &mut Vec<String>,
) -> Result<Options> {
    let saved = config.load()?;
    let ask = request.interactive && !request.yes;

    // Project id.
    let project = if let Some(p) = &request.project {
        validate::project_id(p).map_err(|why| flag_error("--project", why))?;
        p.clone()
    } else if let Some(p) = &saved.project {
        validate::project_id(p).map_err(|why| saved_error(config, "project", why))?;
        p.clone()
    } else {
        let default = gcloud
            .project
            .clone()
            .filter(|p| validate::project_id(p).is_ok());
        match (ask, default) {
            (true, default) => prompter.text(
                &Question {
                    prompt: "Google Cloud project id",
                    flag: "--project",
                },
                default.as_deref(),
                &|v| validate::project_id(v),
            )?,
            (false, Some(d)) => d,
            (false, None) => {
                return Err(Error::input_hint(
                    "no Google Cloud project given, saved or set in gcloud's configuration",
                    "pass `--project YOUR-PROJECT-ID`",
                ))
            }
        }
    };

    // Region.
    let region = if let Some(r) = &request.region {
        validate::region(r).map_err(|why| flag_error("--region", why))?;
        r.clone()
    } else if let Some(r) = &saved.region {
        validate::region(r).map_err(|why| saved_error(config, "region", why))?;
        r.clone()
    } else {
        let default = gcloud
            .region
            .clone()
            .filter(|r| validate::region(r).is_ok());
        match (ask, default) {
            (true, default) => {
                let mut items: Vec<String> = validate::REGIONS.iter().map(|r| r.to_string()).collect();
                let preferred = default.clone().unwrap_or_else(|| FALLBACK_REGION.to_string());
                if !items.contains(&preferred) {
                    items.insert(0, preferred.clone());
                }
                items.push("another region...".to_string());
                let index = items.iter().position(|r| *r == preferred).unwrap_or(0);
                let question = Question {
                    prompt: "Cloud Run region",
                    flag: "--region",
                };
                let chosen = prompter.select(&question, &items, index)?;
                if chosen + 1 == items.len() {
                    prompter.text(&question, None, &|v| validate::region(v).map(|_| ()))?
                } else {
                    items[chosen].clone()
                }
            }
            (false, Some(d)) => d,
            (false, None) => {
                return Err(Error::input_hint(
                    "no Cloud Run region given, saved or set in gcloud's configuration",
                    format!("pass `--region REGION`, for example `--region {FALLBACK_REGION}` (`gcloud run regions list` shows them all)"),
                ))
            }
        }
    };
    if let Ok(Some(warning)) = validate::region(&region) {
        warnings.push(warning);
    }

    // Service name.
    let derived = default_service(facts);
    let service = if let Some(s) = &request.service {
        validate::service_name(s).map_err(|why| flag_error("--service", why))?;
        s.clone()
    } else if let Some(s) = &saved.service {
        validate::service_name(s).map_err(|why| saved_error(config, "service", why))?;
        s.clone()
    } else if ask {
        prompter.text(
            &Question {
                prompt: "Cloud Run service name",
                flag: "--service",
            },
            Some(&derived),
            &|v| validate::service_name(v),
        )?
    } else {
        derived.clone()
    };

    // Python version: never asked; detected unless overridden.
    let detected = facts.python_version.version.clone();
    let python = if let Some(p) = &request.python {
        validate::python_version(p).map_err(|why| flag_error("--python", why))?;
        p.clone()
    } else if let Some(p) = &saved.python {
        validate::python_version(p).map_err(|why| saved_error(config, "python", why))?;
        p.clone()
    } else {
        detected.clone()
    };
    if let Some(eol) = crate::inspect::python_version::end_of_life(&python) {
        warnings.push(format!(
            "Python {python} reached its end of life in {eol}: it gets no more security fixes, and the image inherits every hole found since. Move the project to Python {} or newer, then update `.python-version` or pass `--python X.Y`",
            crate::inspect::python_version::oldest_supported()
        ));
    }
    if let Some(why) = crate::generate::manager_cannot_serve(&facts.deps, &python) {
        return Err(Error::input_hint(
            why,
            "pass `--python 3.10` or newer (and widen `requires-python` in `pyproject.toml` to match), or export the lock to a requirements file and build from that",
        ));
    }

    // Public or private.
    let public = if let Some(p) = request.public {
        p
    } else if let Some(p) = saved.public {
        p
    } else if ask {
        prompter.confirm(
            &Question {
                prompt: "Allow public (unauthenticated) access to the service?",
                flag: "--public or --private",
            },
            true,
        )?
    } else {
        true
    };

    // The database.
    let suggested = DatabaseKind::suggested(facts);
    let (database, database_from_user) = if let Some(d) = &request.database {
        let kind = DatabaseKind::parse(d).map_err(|why| flag_error("--database", why))?;
        (kind, true)
    } else if let Some(d) = &saved.database {
        let kind = DatabaseKind::parse(d).map_err(|why| saved_error(config, "database", why))?;
        (kind, true)
    } else if ask {
        let items: Vec<String> = DatabaseKind::ALL
            .iter()
            .map(|k| database_label(*k))
            .collect();
        let index = DatabaseKind::ALL
            .iter()
            .position(|k| *k == suggested)
            .unwrap_or(0);
        let chosen = prompter.select(
            &Question {
                prompt: "Database",
                flag: "--database",
            },
            &items,
            index,
        )?;
        (DatabaseKind::ALL[chosen], true)
    } else {
        (suggested, false)
    };
    if let Some(engine) = deployment::unsupported_engine(facts) {
        // Refused unless the user chose (by flag, saved choice or answer) how to proceed.
        if !database_from_user {
            let at = facts
                .settings
                .databases_at
                .as_ref()
                .map(|l| format!("`{}` line {}", l.file, l.line))
                .unwrap_or_else(|| format!("`{}`", facts.settings_file));
            return Err(Error::input_hint(
                format!(
                    "{at} uses the database engine `{engine}`, which Cloud SQL does not serve"
                ),
                "pass `--database url` to read the database from a `DATABASE_URL` secret, or `--database none` to keep the settings as they are",
            ));
        }
    }
    if let Some(note) = generate::other_server_note(facts) {
        warnings.push(note);
    }
    // A private repository is a warning, not a refusal: the build may reach what djrun
    // cannot see, and the files are right either way.
    for vcs in &facts.deps.sources.vcs {
        if let Some(message) = crate::inspect::sources::private_message(vcs) {
            warnings.push(message);
        }
    }
    if !facts.settings.skipped_includes.is_empty() {
        warnings.push(format!(
            "`{}` includes settings djrun cannot read (see `djrun inspect`); djrun's block sets ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS and DEBUG itself, since it runs after them",
            facts.settings_file
        ));
    }
    if facts.database == "unknown" && !database_from_user && facts.settings.databases_at.is_some() {
        warnings.push(format!(
            "djrun cannot tell from `{}` which database the project uses; the deployment keeps the settings' own. Pass `--database cloudsql-postgres`, `cloudsql-mysql` or `url` to take it from a `DATABASE_URL` secret",
            facts.settings_file
        ));
    }

    let default_instance = SqlInstance::default_for(&service, &project, &region);
    let sql_instance = if let Some(i) = &request.sql_instance {
        SqlInstance::parse(i, &project, &region).map_err(|why| flag_error("--sql-instance", why))?
    } else if let Some(i) = &saved.sql_instance {
        SqlInstance::parse(i, &project, &region)
            .map_err(|why| saved_error(config, "sql-instance", why))?
    } else {
        validate::sql_instance_name(&default_instance.name, &project)
            .map_err(|why| flag_error("--sql-instance", why))?;
        default_instance.clone()
    };

    // Media.
    let suggested_media = MediaKind::suggested(facts);
    let media = if let Some(m) = &request.media {
        MediaKind::parse(m).map_err(|why| flag_error("--media", why))?
    } else if let Some(m) = &saved.media {
        MediaKind::parse(m).map_err(|why| saved_error(config, "media", why))?
    } else if ask && suggested_media == MediaKind::Gcs {
        let keep = prompter.confirm(
            &Question {
                prompt: "Store uploaded files in a Cloud Storage bucket?",
                flag: "--media gcs or --media none",
            },
            true,
        )?;
        if keep {
            MediaKind::Gcs
        } else {
            MediaKind::None
        }
    } else {
        suggested_media
    };
    let default_bucket = deployment::default_bucket(&project, &service);
    let bucket = if let Some(b) = &request.bucket {
        validate::bucket_name(b).map_err(|why| flag_error("--bucket", why))?;
        b.clone()
    } else if let Some(b) = &saved.bucket {
        validate::bucket_name(b).map_err(|why| saved_error(config, "bucket", why))?;
        b.clone()
    } else {
        default_bucket.clone()
    };
    let public_media = request.public_media.or(saved.public_media).unwrap_or(false);
    let domains = if let Some(d) = &request.domains {
        for host in d {
            validate::domain(host).map_err(|why| flag_error("--domain", why))?;
        }
        d.clone()
    } else if let Some(d) = &saved.domains {
        for host in d {
            validate::domain(host).map_err(|why| saved_error(config, "domains", why))?;
        }
        d.clone()
    } else {
        Vec::new()
    };
    let mut domains_sorted: Vec<String> = Vec::new();
    for d in domains {
        if !domains_sorted.contains(&d) {
            domains_sorted.push(d);
        }
    }
    let domains = domains_sorted;
    if !domains.is_empty() && !deployment::domain_mapping_region(&region) {
        warnings.push(format!(
            "Cloud Run maps custom domains itself only in some regions, and `{region}` is not one of them: put a global external Application Load Balancer with a serverless network endpoint group in front of the service for {} (or choose a region such as `europe-west1`)",
            domains.join(", ")
        ));
    }

    // The CI workflow.
    let ci = match request.ci.as_deref().or(saved.ci.as_deref()) {
        None => None,
        Some("github") => Some("github"),
        Some(other) => {
            let why = format!("`{other}` is not a CI djrun writes for; it writes `github`");
            return Err(if request.ci.is_some() {
                flag_error("--ci", why)
            } else {
                saved_error(config, "ci", why)
            });
        }
    };
    let github = match ci {
        None => None,
        Some(_) => {
            let repository = if let Some(r) = &request.github_repo {
                deployment::github_repository(r).map_err(|why| flag_error("--github-repo", why))?;
                r.clone()
            } else if let Some(r) = &saved.github_repo {
                deployment::github_repository(r)
                    .map_err(|why| saved_error(config, "github-repo", why))?;
                r.clone()
            } else if let Some(r) = deployment::github_origin(&facts.root) {
                r
            } else {
                return Err(Error::input_hint(
                    "`--ci github` needs the GitHub repository the workflow deploys from, and git's `origin` names none",
                    "pass `--github-repo OWNER/NAME`",
                ));
            };
            let branch = saved
                .branch
                .clone()
                .or_else(|| deployment::default_branch(&facts.root))
                .unwrap_or_else(|| "main".to_string());
            Some(deployment::Github { repository, branch })
        }
    };

    // Capacity: each value from its flag, else saved; validated.
    let c = &request.capacity;
    let sc = &saved.capacity;
    let capacity = crate::deployment::CapacityChoices {
        cpu: c.cpu.or(sc.cpu),
        memory: c.memory.clone().or_else(|| sc.memory.clone()),
        min_instances: c.min_instances.or(sc.min_instances),
        max_instances: c.max_instances.or(sc.max_instances),
        db_max_connections: c.db_max_connections.or(sc.db_max_connections),
    };
    let from_flag = |flag: bool, name: &str, why: String| {
        if flag {
            flag_error(&format!("--{name}"), why)
        } else {
            saved_error(config, name, why)
        }
    };
    if let Some(cpu) = capacity.cpu {
        if !deployment::CPUS.contains(&cpu) {
            return Err(from_flag(
                c.cpu.is_some(),
                "cpu",
                format!("Cloud Run offers 1, 2, 4, 6 or 8 vCPUs, not {cpu}"),
            ));
        }
    }
    if let Some(m) = &capacity.memory {
        deployment::memory_mib(m).map_err(|why| from_flag(c.memory.is_some(), "memory", why))?;
    }
    if capacity.max_instances == Some(0) {
        return Err(from_flag(
            c.max_instances.is_some(),
            "max-instances",
            "0 instances would serve nothing".to_string(),
        ));
    }
    if let (Some(min), Some(max)) = (capacity.min_instances, capacity.max_instances) {
        if min > max {
            return Err(from_flag(
                c.min_instances.is_some(),
                "min-instances",
                format!("{min} minimum instances is more than the cap of {max}"),
            ));
        }
    }

    let (env, secrets) =
        resolve_configuration(facts, request, &saved, config, prompter, ask, warnings)?;
    for made in &facts.settings.operator_modules {
        warnings.push(format!(
            "`{}` line {} imports `{}`, which the repository has only as `{}`: djrun makes `{}` from it, {}{}. Commit it (with `git add -f` where .gitignore lists it), or a build from the repository lacks it",
            made.import.file,
            made.import.line,
            made.module,
            made.example,
            made.file,
            if made.from_env.is_empty() {
                "as it is".to_string()
            } else {
                format!(
                    "reading {} from the environment (`--env NAME=VALUE`, `--secret NAME`)",
                    made.from_env.join(", ")
                )
            },
            if made.kept.is_empty() {
                String::new()
            } else {
                format!("; {} keep the example's values: review them", made.kept.join(", "))
            },
        ));
    }

    let store = Saved {
        env: (!env.is_empty()).then(|| env.clone()),
        secrets: (!secrets.is_empty()).then(|| secrets.clone()),
        project: Some(project.clone()),
        region: Some(region.clone()),
        service: (service != derived).then(|| service.clone()),
        // A Python read from a Dockerfile is saved, and stays saved: djrun may replace that
        // Dockerfile, and its own is never evidence, so the next run would not find it again.
        python: (python != detected
            || facts.python_version.source.contains("Dockerfile")
            || (request.python.is_none() && saved.python.is_some()))
        .then(|| python.clone()),
        public: (!public).then_some(false),
        database: (database != suggested).then(|| database.as_str().to_string()),
        sql_instance: (database.is_cloud_sql() && sql_instance != default_instance).then(|| {
            if sql_instance.project == project && sql_instance.region == region {
                sql_instance.name.clone()
            } else {
                sql_instance.connection_name()
            }
        }),
        media: (media != suggested_media).then(|| media.as_str().to_string()),
        bucket: (media == MediaKind::Gcs && bucket != default_bucket).then(|| bucket.clone()),
        public_media: (media == MediaKind::Gcs && public_media).then_some(true),
        domains: (!domains.is_empty()).then(|| domains.clone()),
        ci: ci.map(str::to_string),
        github_repo: github.as_ref().map(|g| g.repository.clone()),
        branch: github.as_ref().map(|g| g.branch.clone()),
        capacity: capacity.clone(),
        settings: request.settings.clone().or_else(|| saved.settings.clone()),
    };
    Ok(Options {
        project,
        region,
        service,
        python,
        public,
        database,
        sql_instance,
        media,
        bucket,
        public_media,
        domains,
        github,
        capacity,
        env: env.into_iter().collect(),
        secrets,
        saved: store,
    })
}

/// The values the user gives the settings: `--env` over the saved ones, `--secret` beside
/// the saved ones, and each variable the settings require that nothing else gives: asked
/// (its example file's value the default), taken from the example file with `--yes`, or
/// refused naming where it is read. A variable whose name says it holds a secret is left to
/// `djrun deploy`, which reads it from `$NAME` or asks, and keeps it in Secret Manager.
fn resolve_configuration(
    facts: &ProjectFacts,
    request: &InitRequest,
    saved: &Saved,
    config: &ConfigFile,
    prompter: &mut dyn Prompter,
    ask: bool,
    warnings: &mut Vec<String>,
) -> Result<(std::collections::BTreeMap<String, String>, Vec<String>)> {
    use crate::configuration::{self, looks_secret, Provider};
    let variables = configuration::variables(facts);
    let djrun_sets = |name: &str| {
        variables
            .iter()
            .any(|v| v.name == name && v.provider == Provider::Djrun)
    };
    let check = |name: &str, value: Option<&str>, from_flag: bool| -> Result<()> {
        let fail = |why: String| {
            if from_flag {
                flag_error(if value.is_some() { "--env" } else { "--secret" }, why)
            } else {
                saved_error(config, if value.is_some() { "env" } else { "secrets" }, why)
            }
        };
        validate::env_name(name).map_err(&fail)?;
        if djrun_sets(name) {
            return Err(fail(format!("djrun's deploy sets `{name}` itself")));
        }
        if let Some(value) = value {
            if looks_secret(name) {
                return Err(fail(format!(
                    "`{name}` holds a secret, which must stay out of files and command lines: pass `--secret {name}` instead"
                )));
            }
            validate::env_value(value).map_err(|why| fail(format!("`{name}`: {why}")))?;
        }
        Ok(())
    };
    let mut env = saved.env.clone().unwrap_or_default();
    for (name, value) in &env {
        check(name, Some(value), false)?;
    }
    for pair in &request.env {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(flag_error(
                "--env",
                format!("`{pair}` has no `=` between the name and the value"),
            ));
        };
        check(name, Some(value), true)?;
        env.insert(name.to_string(), value.to_string());
    }
    let mut secrets: Vec<String> = Vec::new();
    let saved_secrets = saved.secrets.clone().unwrap_or_default();
    for (name, from_flag) in saved_secrets
        .iter()
        .map(|n| (n, false))
        .chain(request.secrets.iter().map(|n| (n, true)))
    {
        check(name, None, from_flag)?;
        if env.contains_key(name) {
            return Err(flag_error(
                "--secret",
                format!("`{name}` is given a plain value with `--env` too: keep one"),
            ));
        }
        if !secrets.contains(name) {
            secrets.push(name.clone());
        }
    }

    let examples = configuration::example_values(facts);
    for var in &variables {
        let given = env.contains_key(&var.name) || secrets.contains(&var.name);
        if var.provider != Provider::User || !var.required || given || looks_secret(&var.name) {
            continue;
        }
        let from_example = examples.iter().find(|(n, _, _)| *n == var.name);
        let value = if ask {
            let prompt = format!(
                "Value of `{}` on Cloud Run (the settings require it, at {})",
                var.name, var.source
            );
            prompter.text(
                &Question {
                    prompt: &prompt,
                    flag: "--env",
                },
                from_example.map(|(_, v, _)| v.as_str()),
                &|v| {
                    if v.is_empty() {
                        Err("the settings need a value".to_string())
                    } else {
                        validate::env_value(v)
                    }
                },
            )?
        } else if let Some((_, value, file)) = from_example {
            validate::env_value(value).map_err(|why| {
                Error::input_hint(format!("`{file}`: `{}`: {why}", var.name), example("--env"))
            })?;
            let local = ["localhost", "127.0.0.1", "0.0.0.0"]
                .iter()
                .any(|h| value.contains(h));
            warnings.push(format!(
                "`{}` is set to `{value}`, its value in `{file}`: the settings require it, at {}.{} Pass `--env {}=VALUE` to set another",
                var.name,
                var.source,
                if local { " That address is this machine's: on Cloud Run nothing listens there." } else { "" },
                var.name
            ));
            value.clone()
        } else {
            let (file, line) = var.source.rsplit_once(':').unwrap_or((&var.source, "?"));
            return Err(Error::input_hint(
                format!(
                    "`{file}` line {line}: the settings require `{}` ({}) at start-up, and nothing gives it a value",
                    var.name,
                    var.shape.as_str().replace('_', " ")
                ),
                format!(
                    "pass `--env {}=VALUE`, or `--secret {}` when the value is a secret (`djrun deploy` then reads it from `${}` or asks)",
                    var.name, var.name, var.name
                ),
            ));
        };
        env.insert(var.name.clone(), value);
    }
    Ok((env, secrets))
}

/// How the database question shows a kind.
fn database_label(kind: DatabaseKind) -> String {
    match kind {
        DatabaseKind::CloudSqlPostgres => "Cloud SQL for PostgreSQL (cloudsql-postgres)",
        DatabaseKind::CloudSqlMysql => "Cloud SQL for MySQL (cloudsql-mysql)",
        DatabaseKind::Url => "a database elsewhere, its URL in Secret Manager (url)",
        DatabaseKind::None => "keep the settings' own database (none)",
    }
    .to_string()
}

/// The project read, the choices resolved and the files planned: how `init` and `deploy`
/// both start.
pub struct Prepared {
    /// What the project is.
    pub facts: ProjectFacts,
    /// The resolved choices.
    pub options: Options,
    /// The files `init` would write; empty when the deployment files match the project.
    pub plan: Plan,
    /// Whether the lock file would need updating.
    pub lock: LockState,
    /// The folder that holds manage.py.
    pub project_dir: PathBuf,
}

/// Inspect the project, resolve the choices (printing their warnings to `err`) and plan the
/// files, as `djrun init` does.
pub fn prepare(
    request: &InitRequest,
    gcloud: &GcloudDefaults,
    prompter: &mut dyn Prompter,
    err: &mut dyn Write,
) -> Result<Prepared> {
    // The saved choices live beside manage.py or in the pyproject.toml above it; the settings
    // module among them decides what is inspected.
    let project_root = match &request.project_dir {
        Some(dir) => layout::chosen_project_dir(&request.root, dir)?,
        None => layout::find_project_dir(&request.root)?,
    };
    let config = ConfigFile::locate(&request.root, &project_root)?;
    let saved_settings = config.load()?.settings;
    let settings = match (&request.settings, &saved_settings) {
        (Some(m), _) => {
            validate::module_name(m).map_err(|why| flag_error("--settings", why))?;
            Some(m.clone())
        }
        (None, Some(m)) => {
            validate::module_name(m).map_err(|why| saved_error(&config, "settings", why))?;
            Some(m.clone())
        }
        (None, None) => None,
    };
    let facts = inspect::inspect_with(
        &request.root,
        &inspect::InspectOptions {
            project_dir: Some(&project_root),
            settings: settings.as_deref(),
            allow_unknown: false,
        },
    )?;
    let project_dir = layout::join(&facts.root, &facts.project_root);
    let mut warnings = Vec::new();
    let request_for_resolve = InitRequest {
        // --check never asks: it takes what is given, saved or configured.
        interactive: request.interactive && !request.check,
        ..request.clone()
    };
    let options = resolve(
        &facts,
        &request_for_resolve,
        &config,
        gcloud,
        prompter,
        &mut warnings,
    )?;
    for w in &warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    let plan = generate::plan(&facts, &options)?;
    let lock = LockState::of(&facts, &plan);
    Ok(Prepared {
        facts,
        options,
        plan,
        lock,
        project_dir,
    })
}

/// Run `djrun init`. Data (the diff) goes to `out`, messages to `err`.
pub fn run(
    request: &InitRequest,
    gcloud: &GcloudDefaults,
    prompter: &mut dyn Prompter,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Outcome> {
    let Prepared {
        facts,
        options,
        plan,
        lock,
        project_dir,
    } = prepare(request, gcloud, prompter, err)?;
    if plan.is_empty() {
        if let (true, Some(stale)) = (request.check, lock.stale_message()) {
            let _ = writeln!(err, "error: {stale}\n\nhint: {}", lock.hint());
            return Ok(Outcome::Drift);
        }
        if lock.needs_update() && !request.check {
            if request.dry_run {
                if let Some(note) = lock.dry_run_note() {
                    let _ = writeln!(err, "{note}");
                }
                let _ = writeln!(err, "Dry run: nothing was written or run.");
                return Ok(Outcome::DryRun);
            }
            if let Some(refusal) = lock.refusal() {
                return Err(refusal);
            }
            lock.update(err)?;
            return Ok(Outcome::Written);
        }
        let _ = writeln!(
            err,
            "Nothing to change: the deployment files in `{}` match the project.",
            project_dir.display()
        );
        return Ok(Outcome::UpToDate);
    }

    let _ = write!(out, "{}", plan.diff(request.color));
    let _ = out.flush();
    let paths: Vec<String> = plan
        .changes
        .iter()
        .map(|c| format!("`{}`", c.path))
        .collect();

    if request.check {
        let _ = writeln!(
            err,
            "error: {} file(s) differ from what djrun would generate: {}",
            plan.changes.len(),
            paths.join(", ")
        );
        if let Some(stale) = lock.stale_message() {
            let _ = writeln!(err, "error: {stale}");
        }
        let _ = writeln!(err, "\nhint: run `djrun init` and commit the result");
        return Ok(Outcome::Drift);
    }
    if request.dry_run {
        // Say now what would stop a real run, so the dry run is not a promise it cannot keep.
        if let Err(refusal) = apply::check_inside(&request.root, &plan)
            .and_then(|_| apply::check_foreign(&plan, request.force))
        {
            let _ = writeln!(err, "note: `djrun init` would stop here: {refusal}");
        }
        if let Some(note) = lock.dry_run_note() {
            let _ = writeln!(err, "{note}");
        }
        let _ = writeln!(
            err,
            "Dry run: nothing was written. {} file(s) would change.",
            plan.changes.len()
        );
        return Ok(Outcome::DryRun);
    }

    apply::check_inside(&request.root, &plan)?;
    apply::check_foreign(&plan, request.force)?;
    apply::check_dirty(&request.root, &plan, request.allow_dirty)?;
    // The image would not build without a lock that matches: stop before writing anything.
    if let Some(refusal) = lock.refusal() {
        return Err(refusal);
    }

    if !request.yes {
        let _ = writeln!(err, "\n{}", summary(&plan));
        let question = Question {
            prompt: "Write these changes?",
            flag: "--yes",
        };
        if !prompter.confirm(&question, true)? {
            let _ = writeln!(err, "Nothing was written.");
            return Ok(Outcome::Declined);
        }
    }
    apply::write_all(&request.root, &plan)?;
    let _ = writeln!(err, "Wrote {}.", paths.join(", "));
    if lock.needs_update() {
        lock.update(err)?;
    }
    let _ = write!(err, "{}", next_steps(&facts, &options));
    Ok(Outcome::Written)
}

/// One line that says what the diff above does: the files created, the files changed.
pub fn summary(plan: &Plan) -> String {
    let (created, changed): (Vec<_>, Vec<_>) =
        plan.changes.iter().partition(|c| c.before.is_none());
    let names = |list: &[&crate::plan::FileChange]| {
        list.iter()
            .map(|c| format!("`{}`", c.path))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (created.is_empty(), changed.is_empty()) {
        (false, false) => format!(
            "djrun will create {} and change {}.",
            names(&created),
            names(&changed)
        ),
        (false, true) => format!("djrun will create {}.", names(&created)),
        _ => format!("djrun will change {}.", names(&changed)),
    }
}

/// Whether the dependency manager's lock file needs writing or updating, and how.
pub struct LockState {
    manager: Manager,
    /// The folder of the dependency files, where the lock command runs.
    dir: PathBuf,
    /// The lock file the image build checks, as shown (`None` for pip).
    lock: Option<String>,
    /// Whether that lock file exists.
    exists: bool,
    manifest: String,
    /// Packages the manifest lists that the lock lacks.
    missing: Vec<String>,
    /// Whether the lock's hash of the manifest does not match it (Pipfile.lock).
    hash_stale: bool,
    /// What the plan adds to the manifest, as written there.
    added: Vec<String>,
}

impl LockState {
    /// The lock state for `facts` once `plan` is applied.
    pub fn of(facts: &ProjectFacts, plan: &Plan) -> LockState {
        let deps = &facts.deps;
        let shown = |name: &str| layout::under(&facts.dependency_root, name);
        LockState {
            manager: deps.manager,
            dir: layout::join(&facts.root, &facts.dependency_root),
            lock: deps.lock.as_deref().or(deps.manager.lock_file()).map(shown),
            exists: deps.lock.is_some(),
            manifest: shown(&deps.manifest),
            missing: deps.missing_from_lock(),
            hash_stale: deps.lock_hash_stale,
            added: plan.dependencies_added.clone(),
        }
    }

    /// Whether the lock file must be written or updated for the image to build: it is
    /// missing, stale, or will be once the plan's dependencies are added.
    pub fn needs_update(&self) -> bool {
        self.lock.is_some()
            && self.manager.lock_command().is_some()
            && (!self.exists || self.is_stale() || !self.added.is_empty())
    }

    /// Whether the lock file there is stale now, before djrun's edits.
    fn is_stale(&self) -> bool {
        self.exists && (!self.missing.is_empty() || self.hash_stale)
    }

    /// The lock command as typed.
    pub fn command_line(&self) -> String {
        self.manager.lock_command().unwrap_or(&[]).join(" ")
    }

    /// What is wrong with the lock file as it is, for `--check` and `deploy`: missing where
    /// the image build checks it, or stale.
    pub fn stale_message(&self) -> Option<String> {
        let lock = self.lock.as_ref()?;
        let check = self.manager.lock_check()?;
        if !self.exists {
            return Some(format!(
                "`{lock}` does not exist: the image build installs from it and checks it against `{}` (`{check}`)",
                self.manifest
            ));
        }
        if !self.missing.is_empty() {
            let missing: Vec<String> = self.missing.iter().map(|m| format!("`{m}`")).collect();
            return Some(format!(
                "`{lock}` is stale: it does not hold {}, which `{}` lists",
                missing.join(", "),
                self.manifest
            ));
        }
        if self.hash_stale {
            return Some(format!(
                "`{lock}` is stale: the hash of `{}` it records (`_meta.hash.sha256`) is not the file's, so `{check}` fails the image build",
                self.manifest
            ));
        }
        None
    }

    /// The fix for a missing or stale lock.
    pub fn hint(&self) -> String {
        let verb = if self.exists { "commit" } else { "add" };
        format!("run `{}` and {verb} the lock file", self.command_line())
    }

    /// What `init` says when a real run would write or update the lock: the command it
    /// runs, or why it would stop.
    pub fn dry_run_note(&self) -> Option<String> {
        if !self.needs_update() {
            return None;
        }
        Some(match self.missing_tool() {
            Some((message, hint)) => {
                format!("note: `djrun init` would stop here: {message}\nhint: {hint}")
            }
            None => format!(
                "After writing, `{}` runs in `{}` to {} `{}`.",
                self.command_line(),
                self.dir.display(),
                if self.exists { "update" } else { "write" },
                self.lock.as_deref().unwrap_or_default()
            ),
        })
    }

    /// The refusal when the lock must be written or updated and the manager's tool is not
    /// on PATH to do it: nothing is written then, since the image would not build.
    pub fn refusal(&self) -> Option<Error> {
        let (message, hint) = self.missing_tool()?;
        Some(Error::input_hint(
            format!("{message}, so djrun changed nothing"),
            hint,
        ))
    }

    /// What is wrong when the lock needs its tool and the tool is not on PATH, and the hint.
    fn missing_tool(&self) -> Option<(String, String)> {
        if !self.needs_update() {
            return None;
        }
        let command = self.manager.lock_command()?;
        if find_on_path(command[0]).is_some() {
            return None;
        }
        let lock = self.lock.as_deref()?;
        let check = self.manager.lock_check()?;
        let tool = command[0];
        let line = self.command_line();
        let dir = self.dir.display();
        let what = if !self.exists {
            format!("`{lock}` does not exist, and the image build installs from it and checks it against `{}` (`{check}`)", self.manifest)
        } else if let Some(stale) = self.stale_message().filter(|_| self.added.is_empty()) {
            stale
        } else {
            format!(
                "`{lock}` would no longer match `{}` once djrun adds {} to it, and the image build checks it (`{check}`)",
                self.manifest,
                english(&self.added)
            )
        };
        let hint = if self.added.is_empty() {
            format!("run `{line}` in `{dir}`, then run djrun again")
        } else {
            format!(
                "put `{tool}` on PATH and run djrun again, which then runs `{line}` after its edit; or add {} to `{}` yourself and run `{line}` in `{dir}` first",
                english(&self.added),
                self.manifest
            )
        };
        let verb = if self.exists { "update" } else { "write" };
        Some((
            format!("{what}; `{tool}` is not on PATH to {verb} it"),
            hint,
        ))
    }

    /// Run the lock command in the folder of the dependency files. [`LockState::refusal`]
    /// has said beforehand whether its tool is on PATH.
    pub fn update(&self, err: &mut dyn Write) -> Result<()> {
        let dir = self.dir.as_path();
        let Some(command) = self.manager.lock_command() else {
            return Ok(());
        };
        let lock = self.lock.as_deref().unwrap_or("the lock file");
        let Some(program) = find_on_path(command[0]) else {
            return match self.refusal() {
                Some(refusal) => Err(refusal),
                None => Ok(()),
            };
        };
        let _ = writeln!(
            err,
            "Running `{}` to {} `{lock}`...",
            self.command_line(),
            if self.exists { "update" } else { "write" }
        );
        let status = Command::new(program)
            .args(&command[1..])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .map_err(|e| Error::io("run", command[0], e))?;
        if !status.success() {
            return Err(Error::input_hint(
                format!(
                    "`{}` failed in `{}` ({status}); the other files were written",
                    self.command_line(),
                    dir.display()
                ),
                format!(
                    "fix what it reports, then run `{}` again",
                    self.command_line()
                ),
            ));
        }
        Ok(())
    }
}

/// `` `a` ``, `` `a` and `b` ``, `` `a`, `b` and `c` ``.
fn english(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The first executable called `name` on `PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

/// What to do after `init`: the exact commands, in order, from the one list of steps.
pub fn next_steps(facts: &ProjectFacts, options: &Options) -> String {
    let mut text = String::from("\nNext steps: `djrun deploy` does all of this, checking first what exists.\nBy hand, from `");
    text.push_str(&facts.root.display().to_string());
    text.push_str("`:\n");
    let Ok(deployment) = Deployment::new(facts, options) else {
        return text;
    };
    let steps = crate::steps::steps(&deployment, &[]);
    text.push_str(&crate::steps::as_shell(&steps));
    if let Some(actions) = crate::steps::superuser_steps(&deployment) {
        text.push_str(
            "Then, to create the first admin user (its password stays in Secret Manager):\n",
        );
        text.push_str(&crate::steps::actions_as_shell(&actions, "    "));
    }
    text.push_str(&format!(
        "To try the image on your machine first:\n    docker build -t {s} {context} && docker run --rm -p 8080:8080 -e K_SERVICE={s} -e DJANGO_SECRET_KEY=local-only -e CLOUDRUN_SERVICE_URLS=http://localhost:8080 {s}\n",
        s = options.service,
        context = facts.dependency_root,
    ));
    text.push_str(&format!(
        "Capacity: {}; {}.\n",
        deployment.capacity.arithmetic,
        deployment.capacity.min_cost()
    ));
    if let Some(warning) = deployment.capacity.over_budget() {
        text.push_str(&format!(
            "warning: {warning}\nhint: lower `--max-instances`, or pass `--db-max-connections N` if the database allows more\n"
        ));
    }
    if deployment.database.is_none() && facts.database == "sqlite" {
        text.push_str(&format!(
            "\nwarning: the database is SQLite (`{}`): this deployment is a demo. On Cloud Run the container's files live in memory: \
             every instance has its own copy of the database, nothing ran `migrate` on it, and all data is lost when an instance stops.\n\
             hint: run `djrun init --database cloudsql-postgres` to keep data in Cloud SQL, with migrations run before each deploy\n",
            facts.settings_file
        ));
    }
    text
}
