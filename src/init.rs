//! `djrun init`: inspect, resolve the choices, plan, show, ask, write.

use crate::config::{ConfigFile, Saved};
use crate::gcloud::GcloudDefaults;
use crate::generate::{self, Options, REPOSITORY};
use crate::inspect::{self, layout, ProjectFacts};
use crate::prompt::{Prompter, Question};
use crate::{apply, validate, Error, Result};
use std::io::Write;
use std::path::PathBuf;

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct InitRequest {
    /// The folder to work in.
    pub root: PathBuf,
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

/// The service name djrun suggests: from the project folder's name.
pub fn default_service(facts: &ProjectFacts) -> String {
    let dir = layout::join(&facts.root, &facts.project_root);
    let name = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
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
    let facts = inspect::inspect(&request.root)?;
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

    if plan.is_empty() {
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
        let _ = writeln!(
            err,
            "Dry run: nothing was written. {} file(s) would change.",
            plan.changes.len()
        );
        return Ok(Outcome::DryRun);
    }

    apply::check_foreign(&plan, request.force)?;
    apply::check_dirty(&request.root, &plan, request.allow_dirty)?;

    if !request.yes {
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
    let _ = write!(err, "{}", next_steps(&facts, &options));
    Ok(Outcome::Written)
}

/// What to do after `init`: the exact commands, in order.
pub fn next_steps(facts: &ProjectFacts, options: &Options) -> String {
    let p = &options.project;
    let r = &options.region;
    let s = &options.service;
    let secret = generate::secret_name(s);
    let cd = if facts.project_root == "." {
        String::new()
    } else {
        format!("cd {} && ", facts.project_root)
    };
    let mut text = format!(
        "\nNext steps:\n\
         1. Enable the APIs the deployment uses (once per project):\n\
         \x20   gcloud services enable run.googleapis.com cloudbuild.googleapis.com artifactregistry.googleapis.com secretmanager.googleapis.com --project {p}\n\
         2. Create the image repository (once per region):\n\
         \x20   gcloud artifacts repositories create {REPOSITORY} --repository-format=docker --location={r} --project {p}\n\
         3. Keep a new Django secret key in Secret Manager, readable by the service (once):\n\
         \x20   python3 -c 'import secrets; print(secrets.token_urlsafe(50))' | gcloud secrets create {secret} --data-file=- --project {p}\n\
         \x20   gcloud secrets add-iam-policy-binding {secret} --member=serviceAccount:$(gcloud projects describe {p} --format='value(projectNumber)')-compute@developer.gserviceaccount.com --role=roles/secretmanager.secretAccessor --project {p}\n\
         4. Build and deploy:\n\
         \x20   {cd}gcloud builds submit --config cloudbuild.yaml --project {p}\n\
         5. Or build and run the image on your machine first:\n\
         \x20   {cd}docker build -t {s} . && docker run --rm -p 8080:8080 -e K_SERVICE={s} -e DJANGO_SECRET_KEY=local-only -e CLOUDRUN_SERVICE_URLS=http://localhost:8080 {s}\n"
    );
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
