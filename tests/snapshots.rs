//! One combined snapshot per fixture project of everything `djrun init` would write:
//! generated files in full, edits of the user's files as diffs.

mod common;

use djrun::config::ConfigFile;
use djrun::gcloud::GcloudDefaults;
use djrun::init::{resolve, InitRequest};
use djrun::inspect::inspect;
use djrun::plan::Owner;
use djrun::prompt::NoTerminal;

fn rendered(name: &str) -> String {
    let (_tmp, dir) = common::copy_fixture(name);
    let facts = inspect(&dir).unwrap();
    let config = ConfigFile::locate(&dir, &facts.project_root).unwrap();
    let request = InitRequest {
        root: dir.clone(),
        project: Some("demo-project-123".into()),
        region: Some("europe-west1".into()),
        yes: true,
        env: common::user_env(name)
            .into_iter()
            .map(String::from)
            .collect(),
        ..InitRequest::default()
    };
    let mut warnings = Vec::new();
    let options = resolve(
        &facts,
        &request,
        &config,
        &GcloudDefaults::default(),
        &mut NoTerminal,
        &mut warnings,
    )
    .unwrap();
    let plan = djrun::generate::plan(&facts, &options).unwrap();
    let mut paths: Vec<&str> = plan.changes.iter().map(|c| c.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(
        paths.len(),
        plan.changes.len(),
        "one change per file in {name}"
    );
    let mut out = String::new();
    for change in &plan.changes {
        match change.owner {
            Owner::Generated => {
                out.push_str(&format!(
                    "================ {} ================\n",
                    change.path
                ));
                out.push_str(&change.after);
            }
            Owner::User => {
                out.push_str(&format!(
                    "================ {} (edit) ================\n",
                    change.path
                ));
                out.push_str(&djrun::plan::diff(change, false).replace('\r', "\\r"));
            }
        }
    }
    out
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}

fn check(name: &str) {
    let body = rendered(name);
    settings().bind(|| insta::assert_snapshot!(name.to_string(), body));
}

macro_rules! snapshot_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check($name);
            }
        )*
        const COVERED: &[&str] = &[$($name),*];
    };
}

snapshot_tests! {
    mysite => "mysite",
    channels_asgi => "channels-asgi",
    configured_app => "configured-app",
    cookiecutter_split => "cookiecutter-split",
    environ_settings => "environ-settings",
    geodjango => "geodjango",
    legacy_django32 => "legacy-django32",
    monorepo => "monorepo",
    notes_postgres => "notes-postgres",
    operator_config => "operator-config",
    pdm_project => "pdm-project",
    pipenv_project => "pipenv-project",
    poetry_classic => "poetry-classic",
    poetry2 => "poetry2",
    reqs_chain => "reqs-chain",
    uv_groups => "uv-groups",
    wagtail_start => "wagtail-start",
    wagtail_style => "wagtail-style",
    whitenoise_ready => "whitenoise-ready",
    dburl_site => "dburl-site",
    uv_server_group => "uv-server-group",
    mysql_shop => "mysql-shop",
    dotenv_settings => "dotenv-settings",
    asgi_only => "asgi-only",
    staff_directory => "staff-directory",
    split_settings => "split-settings",
    env_defaults => "env-defaults",
    gcp_secret_settings => "gcp-secret-settings",
    src_layout => "src-layout",
    poetry_server_group => "poetry-server-group",
    poetry_py38 => "poetry-py38",
    pip_git_requirements => "pip-git-requirements",
    pip_editable_pkg => "pip-editable-pkg",
    pip_editable_root => "pip-editable-root",
    pip_path_packages => "pip-path-packages",
    uv_workspace => "uv-workspace",
    uv_path_source => "uv-path-source",
    poetry_path_package => "poetry-path-package",
    compressor_offline => "compressor-offline",
    sass_processor => "sass-processor",
    pipenv_nolock => "pipenv-nolock",
    storages_pinned => "storages-pinned",
    asgi_package => "asgi-package",
    settings_package_empty_init => "settings-package-empty-init",
}

#[test]
fn every_fixture_has_a_snapshot_test() {
    let mut all: Vec<String> = common::fixtures().into_iter().map(|(n, _)| n).collect();
    all.sort();
    let mut covered: Vec<String> = COVERED.iter().map(|s| s.to_string()).collect();
    covered.sort();
    assert_eq!(all, covered, "add the new fixture to snapshot_tests!");
}
