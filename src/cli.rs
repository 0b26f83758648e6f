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

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the Dockerfile, .dockerignore, .gcloudignore and cloudbuild.yaml, and make
    /// the settings and dependencies ready for Cloud Run. Shows a diff and asks first.
    Init(InitArgs),
    /// Show what djrun detects in the project and where each fact comes from.
    Inspect(InspectArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the manual page, or write one page per command into a folder.
    Man(ManArgs),
}

/// `djrun init`.
#[derive(Debug, Args)]
pub struct InitArgs {
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
