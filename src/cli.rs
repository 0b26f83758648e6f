//! The command line, as clap derive types only. `main` converts them to library requests.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Take a Django project to a production-grade Google Cloud Run deployment.
#[derive(Debug, Parser)]
#[command(name = "djrun", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Parsed once per run, so the size of the largest variant costs nothing.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Generate the Dockerfile, .dockerignore, .gcloudignore and cloudbuild.yaml, and make
    /// the settings and dependencies ready for Cloud Run. Shows a diff and asks first.
    Init(InitArgs),
    /// Check what exists in Google Cloud, show the plan, ask, set up what is missing, then
    /// build and deploy.
    Deploy(DeployArgs),
    /// Show what djrun detects in the project and where each fact comes from.
    Inspect(InspectArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the manual page, or write one page per command into a folder.
    Man(ManArgs),
}

/// The choices that shape the deployment, shared by `init` and `deploy`.
#[derive(Debug, Args)]
pub struct ChoiceArgs {
    /// The project folder; manage.py may sit in a subfolder.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The folder below PATH that holds manage.py, when PATH holds several projects.
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<String>,
    /// Google Cloud project id (else saved choice, gcloud's configuration, a question).
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,
    /// Cloud Run region (else saved choice, gcloud's configuration, a question).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Cloud Run service name (else saved choice, derived from the project folder).
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Python version of the image, X.Y (else detected from the project).
    #[arg(long, value_name = "X.Y")]
    pub python: Option<String>,
    /// Allow unauthenticated access to the service (the default).
    #[arg(long, conflicts_with = "private")]
    pub public: bool,
    /// Require authentication: only callers with the Cloud Run Invoker role get through.
    #[arg(long)]
    pub private: bool,
    /// The database: cloudsql-postgres, cloudsql-mysql, url (an external database whose
    /// DATABASE_URL lives in Secret Manager) or none (keep what the settings say).
    #[arg(long, value_name = "KIND")]
    pub database: Option<String>,
    /// The Cloud SQL instance, NAME or PROJECT:REGION:NAME (else `<service>-db`).
    #[arg(long, value_name = "NAME")]
    pub sql_instance: Option<String>,
    /// Where uploaded files go: gcs (a Cloud Storage bucket) or none (gcs by default when
    /// the project stores uploads).
    #[arg(long, value_name = "KIND")]
    pub media: Option<String>,
    /// The media bucket (else `<project>-<service>-media`).
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// Let anyone read uploaded files through plain URLs (else private, with signed URLs).
    #[arg(long, conflicts_with = "private_media")]
    pub public_media: bool,
    /// Keep uploaded files private, served through signed URLs (the default).
    #[arg(long)]
    pub private_media: bool,
    /// A custom domain the service answers on, such as www.example.com; repeat for more.
    /// Replaces the saved list.
    #[arg(long = "domain", value_name = "HOST")]
    pub domains: Vec<String>,
    /// Also write a CI workflow that checks on pull requests and deploys on pushes: github.
    #[arg(long, value_name = "KIND")]
    pub ci: Option<String>,
    /// The GitHub repository the workflow deploys from, OWNER/NAME (else from git's `origin`).
    #[arg(long, value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// The settings module the container runs with (else detected; saved).
    #[arg(long, value_name = "MODULE")]
    pub settings: Option<String>,
    /// vCPUs per instance: 1, 2, 4, 6 or 8 (one gunicorn worker each; default 1).
    #[arg(long, value_name = "N")]
    pub cpu: Option<u32>,
    /// Memory per instance, such as 512Mi or 1Gi (default 512Mi per vCPU).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Instances kept warm, billed while idle (default 0).
    #[arg(long, value_name = "N")]
    pub min_instances: Option<u32>,
    /// The instance cap (default: what the database's connections allow, else 10).
    #[arg(long, value_name = "N")]
    pub max_instances: Option<u32>,
    /// The database's max_connections, where the Cloud SQL tier's default is not it.
    #[arg(long, value_name = "N")]
    pub db_max_connections: Option<u32>,
    /// A value the settings read, set on the service and the migrate job (saved); repeat for
    /// more. Secrets go with --secret.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// A variable whose value is a secret: kept in Secret Manager, its value read by `djrun
    /// deploy` from $NAME or asked, never written to a file (saved); repeat for more.
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
}

/// `djrun init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// What the deployment is.
    #[command(flatten)]
    pub choices: ChoiceArgs,
    /// Accept every default and write without asking.
    #[arg(short, long)]
    pub yes: bool,
    /// Print the changes as a diff and write nothing.
    #[arg(long, conflicts_with = "check")]
    pub dry_run: bool,
    /// Write nothing; exit 1 when any file would change, 0 when none would.
    #[arg(long)]
    pub check: bool,
    /// Allow overwriting a Dockerfile, .dockerignore, .gcloudignore or cloudbuild.yaml that djrun did not generate.
    #[arg(long)]
    pub force: bool,
    /// Allow editing files that have uncommitted changes.
    #[arg(long)]
    pub allow_dirty: bool,
}

/// `djrun deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// What the deployment is (the same choices as `init`, normally saved by it).
    #[command(flatten)]
    pub choices: ChoiceArgs,
    /// Set up and deploy without asking.
    #[arg(short, long)]
    pub yes: bool,
    /// Show the plan; run only read-only gcloud commands.
    #[arg(long)]
    pub dry_run: bool,
}

/// `djrun inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The project folder; manage.py may sit in a subfolder.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The folder below PATH that holds manage.py, when PATH holds several projects.
    #[arg(long, value_name = "DIR")]
    pub project_dir: Option<String>,
    /// The settings module the container runs with (else detected).
    #[arg(long, value_name = "MODULE")]
    pub settings: Option<String>,
    /// Print the facts as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `djrun completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `djrun man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write djrun.1 and a page per command (djrun-init.1, ...) into this folder instead of
    /// printing djrun.1.
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
