//! `djrun init`: inspect, resolve the choices, plan, show, ask, write.

use crate::config::{ConfigFile, Saved};
use crate::gcloud::GcloudDefaults;
use crate::generate::{self, Options, REPOSITORY};
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

    let store = Saved {
        project: Some(project.clone()),
        region: Some(region.clone()),
        service: (service != derived).then(|| service.clone()),
        python: (python != detected).then(|| python.clone()),
        public: (!public).then_some(false),
    };
    Ok(Options {
        project,
        region,
        service,
        python,
        public,
        saved: store,
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
    let facts = inspect::inspect_in(&request.root, request.project_dir.as_deref())?;
    let project_dir = layout::join(&facts.root, &facts.project_root);
    let config = ConfigFile::locate(&project_dir, &facts.project_root)?;
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
    if plan.is_empty() {
        if let (true, Some(stale)) = (request.check, lock.stale_message()) {
            let _ = writeln!(err, "error: {stale}\n\nhint: {}", lock.hint());
            return Ok(Outcome::Drift);
        }
        if lock.needs_update() && !request.dry_run && !request.check {
            lock.update(&project_dir, err)?;
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
            "error: {} file(s) differ from what djrun would generate: {}\n\nhint: run `djrun init` and commit the result",
            plan.changes.len(),
            paths.join(", ")
        );
        return Ok(Outcome::Drift);
    }
    if request.dry_run {
        // Say now what would stop a real run, so the dry run is not a promise it cannot keep.
        if let Err(refusal) = apply::check_inside(&request.root, &plan)
            .and_then(|_| apply::check_foreign(&plan, request.force))
        {
            let _ = writeln!(err, "note: `djrun init` would stop here: {refusal}");
        }
        if lock.needs_update() {
            let _ = writeln!(
                err,
                "After writing, `{}` runs in `{}` to update the lock file.",
                lock.command_line(),
                project_dir.display()
            );
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
        lock.update(&project_dir, err)?;
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

/// Whether the dependency manager's lock file needs updating, and how.
pub struct LockState {
    manager: Manager,
    lock: Option<String>,
    manifest: String,
    /// Packages the manifest lists that the lock lacks.
    missing: Vec<String>,
    /// Whether the plan adds dependencies to the manifest.
    adds_dependencies: bool,
}

impl LockState {
    /// The lock state for `facts` once `plan` is applied.
    pub fn of(facts: &ProjectFacts, plan: &Plan) -> LockState {
        let deps = &facts.deps;
        LockState {
            manager: deps.manager,
            lock: deps.lock.clone(),
            manifest: deps.manifest.clone(),
            missing: deps.missing_from_lock(),
            adds_dependencies: !plan.dependencies_added.is_empty(),
        }
    }

    /// Whether there is a lock file that will not match the manifest.
    pub fn needs_update(&self) -> bool {
        self.lock.is_some()
            && self.manager.lock_command().is_some()
            && (self.adds_dependencies || !self.missing.is_empty())
    }

    /// The lock command as typed.
    pub fn command_line(&self) -> String {
        self.manager.lock_command().unwrap_or(&[]).join(" ")
    }

    /// What is stale, for `--check`.
    pub fn stale_message(&self) -> Option<String> {
        let lock = self.lock.as_ref()?;
        if self.missing.is_empty() || self.manager.lock_command().is_none() {
            return None;
        }
        let missing: Vec<String> = self.missing.iter().map(|m| format!("`{m}`")).collect();
        Some(format!(
            "`{lock}` is stale: it does not hold {}, which `{}` lists",
            missing.join(", "),
            self.manifest
        ))
    }

    /// The fix for a stale lock.
    pub fn hint(&self) -> String {
        format!("run `{}` and commit the lock file", self.command_line())
    }

    /// Run the lock command in `dir` when its tool is installed, else say what to run.
    pub fn update(&self, dir: &Path, err: &mut dyn Write) -> Result<()> {
        let Some(command) = self.manager.lock_command() else {
            return Ok(());
        };
        let lock = self.lock.as_deref().unwrap_or("the lock file");
        let Some(program) = find_on_path(command[0]) else {
            let _ = writeln!(
                err,
                "\nwarning: `{lock}` no longer matches `{}`, and `{}` is not installed here.\nhint: run `{}` in `{}` before you build; the image build checks the lock",
                self.manifest,
                command[0],
                self.command_line(),
                dir.display()
            );
            return Ok(());
        };
        let _ = writeln!(
            err,
            "Running `{}` to update `{lock}`...",
            self.command_line()
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

/// The first executable called `name` on `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
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

/// The commands that create each secret the deploy reads, and let the service read it.
fn secret_steps(facts: &ProjectFacts, options: &Options) -> String {
    let p = &options.project;
    let mut out = String::new();
    for (i, (var, secret)) in generate::deploy_secrets(facts, &options.service)
        .into_iter()
        .enumerate()
    {
        let secret = if i == 0 {
            generate::secret_name(&options.service)
        } else {
            secret
        };
        let source = if i == 0 {
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'".to_string()
        } else {
            format!("printf '%s' \"${var}\"")
        };
        out.push_str(&format!(
            "    {source} | gcloud secrets create {secret} --data-file=- --project {p}\n\
             \x20   gcloud secrets add-iam-policy-binding {secret} --member=serviceAccount:$(gcloud projects describe {p} --format='value(projectNumber)')-compute@developer.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project {p}\n"
        ));
    }
    out
}

/// What to do after `init`: the exact commands, in order.
pub fn next_steps(facts: &ProjectFacts, options: &Options) -> String {
    let p = &options.project;
    let r = &options.region;
    let s = &options.service;
    let context = &facts.project_root;
    let text = format!(
        "\nNext steps:\n\
         1. Enable the APIs the deployment uses (once per project):\n\
         \x20   gcloud services enable run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com secretmanager.googleapis.com --project {p}\n\
         2. Create the image repository (once per region):\n\
         \x20   gcloud artifacts repositories create {REPOSITORY} --repository-format=docker --location={r} --project {p}\n\
         3. Keep the secrets in Secret Manager, readable by the service (once):\n\
         {secrets}\
         4. Build and deploy, from `{root}`:\n\
         \x20   gcloud builds submit --config cloudbuild.yaml --project {p}\n\
         5. Or build and run the image on your machine first:\n\
         \x20   docker build -t {s} {context} && docker run --rm -p 8080:8080 -e K_SERVICE={s} -e DJANGO_SECRET_KEY=local-only -e CLOUDRUN_SERVICE_URLS=http://localhost:8080 {s}\n",
        root = facts.root.display(),
        secrets = secret_steps(facts, options),
    );
    let mut text = text;
    if facts.database == "sqlite" {
        text.push_str(&format!(
            "\nwarning: the database is SQLite (`{}`). On Cloud Run the container's files live in memory: \
             every instance has its own copy, and data is lost when an instance stops.\n\
             hint: use Cloud SQL for data you keep (read `DATABASES` from an environment variable and attach the instance with `--add-cloudsql-instances`)\n",
            facts.settings_file
        ));
    }
    text
}
