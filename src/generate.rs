//! `plan(facts, options) -> Plan`: render the deployment files and compute the edits of the
//! user's files, all in memory.

use crate::config::{ConfigFile, Saved};
use crate::inspect::settings::BaseDir;
use crate::inspect::{layout, read_text, ProjectFacts};
use crate::patch::{requirements, settings};
use crate::plan::{FileChange, Owner, Plan};
use crate::render;
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
    /// What to store as saved choices.
    pub saved: Saved,
}

/// The Artifact Registry repository the image goes to: the one `gcloud run deploy --source`
/// creates, so projects that tried that already have it.
pub const REPOSITORY: &str = "cloud-run-source-deploy";
/// gunicorn as djrun adds it: 23.0 fixed request smuggling.
pub const GUNICORN_REQUIREMENT: &str = "gunicorn>=23.0";
/// WhiteNoise as djrun adds it: 6.6 knows Django 5's STORAGES.
pub const WHITENOISE_REQUIREMENT: &str = "whitenoise>=6.6";

/// The Secret Manager secret that holds the service's Django secret key.
pub fn secret_name(service: &str) -> String {
    format!("{service}-django-secret-key")
}

#[derive(Serialize)]
struct DockerfileContext<'a> {
    service: &'a str,
    python_version: &'a str,
    settings_module: &'a str,
    dependency_files: Vec<String>,
    requirements: String,
    collectstatic: bool,
    command: String,
}

#[derive(Serialize)]
struct DockerignoreContext {
    local_folders: Vec<String>,
}

#[derive(Serialize)]
struct CloudbuildContext<'a> {
    service: &'a str,
    region: &'a str,
    repository: &'a str,
    access_flag: &'a str,
    secret_name: String,
}

#[derive(Serialize)]
struct SettingsBlockContext {
    static_url: bool,
    static_root: Option<String>,
    whitenoise: bool,
    after_security: bool,
    storages: &'static str,
}

/// What djrun adds so static files work on Cloud Run.
struct StaticPlan {
    block: SettingsBlockContext,
    collectstatic: bool,
    whitenoise_dependency: bool,
}

fn django_before_4_2(version: Option<&str>) -> bool {
    let Some((major, minor)) = version.and_then(|v| v.split_once('.')) else {
        return false;
    };
    match (major.parse::<u32>(), minor.parse::<u32>()) {
        (Ok(major), Ok(minor)) => (major, minor) < (4, 2),
        _ => false,
    }
}

fn static_plan(facts: &ProjectFacts) -> StaticPlan {
    let s = &facts.settings;
    // Static files are served by WhiteNoise unless the project already serves them
    // (WhiteNoise installed, or a storage of its own such as a bucket).
    let whitenoise =
        s.staticfiles_app && s.middleware && !s.whitenoise_middleware && !s.custom_static_storage;
    let collectstatic = s.staticfiles_app && !s.custom_static_storage;
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
    let storages = if django_before_4_2(facts.django_version.as_deref()) {
        "legacy"
    } else if s.storages {
        "merge"
    } else {
        "new"
    };
    StaticPlan {
        block: SettingsBlockContext {
            static_url: collectstatic && !s.static_url,
            static_root,
            whitenoise,
            after_security: s.security_middleware,
            storages,
        },
        collectstatic,
        whitenoise_dependency: whitenoise && !facts.has_whitenoise_dependency,
    }
}

/// The gunicorn command line, as a JSON array for an exec-form `CMD`.
fn gunicorn_command(target: &str) -> String {
    let args = [
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
    ];
    let quoted: Vec<String> = args
        .iter()
        .map(|a| serde_json::to_string(a).expect("strings serialize"))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// `mysite.wsgi.application` -> `mysite.wsgi:application`.
fn gunicorn_target(dotted: &str) -> String {
    match dotted.rsplit_once('.') {
        Some((module, attr)) => format!("{module}:{attr}"),
        None => dotted.to_string(),
    }
}

/// Path of a file in the project folder, relative to the root.
fn in_project(facts: &ProjectFacts, name: &str) -> String {
    if facts.project_root == "." {
        name.to_string()
    } else {
        format!("{}/{name}", facts.project_root)
    }
}

/// Path of a root-relative file, relative to the project folder.
fn from_project(facts: &ProjectFacts, path: &str) -> String {
    if facts.project_root == "." {
        path.to_string()
    } else {
        path.strip_prefix(&format!("{}/", facts.project_root))
            .unwrap_or(path)
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

fn generated(facts: &ProjectFacts, name: &str, after: String) -> Result<FileChange> {
    let path = in_project(facts, name);
    Ok(FileChange {
        before: current(facts, &path)?,
        path,
        after,
        owner: Owner::Generated,
    })
}

/// Compute every change `init` would make.
pub fn plan(facts: &ProjectFacts, options: &Options) -> Result<Plan> {
    let wsgi = facts.wsgi_application.as_deref().ok_or_else(|| {
        Error::input_hint(
            format!(
                "no WSGI application found: `{}` sets no `WSGI_APPLICATION` and there is no `wsgi.py` beside it",
                facts.settings_file
            ),
            "add `WSGI_APPLICATION = \"yourproject.wsgi.application\"` to your settings and run djrun again",
        )
    })?;
    let statics = static_plan(facts);
    let requirements_file = facts
        .dependency_files
        .first()
        .map(|f| from_project(facts, f))
        .unwrap_or_else(|| "requirements.txt".to_string());

    let mut plan = Plan::default();

    let dockerfile = render::render(
        render::DOCKERFILE,
        DockerfileContext {
            service: &options.service,
            python_version: &options.python,
            settings_module: &facts.settings_module,
            dependency_files: facts
                .dependency_files
                .iter()
                .map(|f| from_project(facts, f))
                .collect(),
            requirements: requirements_file.clone(),
            collectstatic: statics.collectstatic,
            command: gunicorn_command(&gunicorn_target(wsgi)),
        },
    );
    plan.push(generated(facts, "Dockerfile", dockerfile)?);

    let mut local_folders = Vec::new();
    if statics.block.static_root.is_some() {
        local_folders.push("staticfiles".to_string());
    }
    plan.push(generated(
        facts,
        ".dockerignore",
        render::render(render::DOCKERIGNORE, DockerignoreContext { local_folders }),
    )?);
    plan.push(generated(
        facts,
        ".gcloudignore",
        render::render(render::GCLOUDIGNORE, ()),
    )?);
    plan.push(generated(
        facts,
        "cloudbuild.yaml",
        render::render(
            render::CLOUDBUILD,
            CloudbuildContext {
                service: &options.service,
                region: &options.region,
                repository: REPOSITORY,
                access_flag: if options.public {
                    "--allow-unauthenticated"
                } else {
                    "--no-allow-unauthenticated"
                },
                secret_name: secret_name(&options.service),
            },
        ),
    )?);

    // The production settings get djrun's block.
    let block = render::render(render::SETTINGS_BLOCK, &statics.block);
    let settings_text = current(facts, &facts.settings_file)?.unwrap_or_default();
    let patched = settings::apply_block(&facts.settings_file, &settings_text, &block)?;
    plan.push(FileChange {
        path: facts.settings_file.clone(),
        before: Some(settings_text),
        after: patched,
        owner: Owner::User,
    });

    // Dependencies: gunicorn, and WhiteNoise when djrun serves static files with it.
    let mut wanted = vec![GUNICORN_REQUIREMENT];
    if statics.whitenoise_dependency {
        wanted.push(WHITENOISE_REQUIREMENT);
    }
    let requirements_path = in_project(facts, &requirements_file);
    let text = current(facts, &requirements_path)?.unwrap_or_default();
    let parsed = requirements::Requirements::parse(&requirements_path, &text);
    let after = requirements::add_missing(&parsed, &text, &wanted)?;
    plan.push(FileChange {
        path: requirements_path,
        before: Some(text),
        after,
        owner: Owner::User,
    });

    // Saved choices, so a re-run needs no flags.
    let project_dir = layout::join(&facts.root, &facts.project_root);
    let config = ConfigFile::locate(&project_dir, &facts.project_root)?;
    if let Some(change) = config.store(&options.saved)? {
        plan.push(change);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_command_is_exec_form_json() {
        assert_eq!(
            gunicorn_command("mysite.wsgi:application"),
            "[\"gunicorn\", \"--worker-class\", \"gthread\", \"--threads\", \"8\", \"--timeout\", \"0\", \"--graceful-timeout\", \"8\", \"mysite.wsgi:application\"]"
        );
        assert_eq!(
            gunicorn_target("config.wsgi.application"),
            "config.wsgi:application"
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
