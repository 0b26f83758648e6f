//! The template registry: every file in `templates/` is embedded in the binary and rendered
//! with minijinja. Templates only interpolate and branch; values are computed in Rust.

use include_dir::{include_dir, Dir};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The Dockerfile.
pub const DOCKERFILE: &str = "Dockerfile.j2";
/// The .dockerignore.
pub const DOCKERIGNORE: &str = "dockerignore.j2";
/// The .gcloudignore.
pub const GCLOUDIGNORE: &str = "gcloudignore.j2";
/// The cloudbuild.yaml.
pub const CLOUDBUILD: &str = "cloudbuild.yaml.j2";
/// The block appended to the production settings.
pub const SETTINGS_BLOCK: &str = "settings_block.py.j2";
/// The GitHub Actions workflow that checks and deploys.
pub const GITHUB_DEPLOY: &str = "github_deploy.yml.j2";

/// Every template key, so a test can render each one.
pub const ALL: &[&str] = &[
    DOCKERFILE,
    DOCKERIGNORE,
    GCLOUDIGNORE,
    CLOUDBUILD,
    SETTINGS_BLOCK,
    GITHUB_DEPLOY,
];

/// Partials, included by the templates above: their names start with `_`.
pub const PARTIALS: &[&str] = &["_ignore_patterns.j2"];

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for file in TEMPLATES.files() {
        let name = file.path().to_string_lossy().into_owned();
        let source = file
            .contents_utf8()
            .expect("templates are UTF-8 text")
            .to_string();
        env.add_template_owned(name, source)
            .expect("embedded templates compile (checked by the render tests)");
    }
    env
}

/// Render template `name` with `context`: LF line endings, exactly one trailing newline.
///
/// Templates are compiled into the binary, so a failure here is a bug in djrun, never in the
/// user's project; it panics with the template error, which the render tests catch first.
pub fn render(name: &str, context: impl Serialize) -> String {
    let env = environment();
    let template = env
        .get_template(name)
        .unwrap_or_else(|e| panic!("unknown template {name}: {e}"));
    let out = template
        .render(context)
        .unwrap_or_else(|e| panic!("template {name} failed to render: {e:#}"));
    let mut out = out.replace("\r\n", "\n");
    while out.ends_with("\n\n") {
        out.pop();
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_is_a_registered_template() {
        let mut embedded: Vec<String> = TEMPLATES
            .files()
            .map(|f| f.path().to_string_lossy().into_owned())
            .collect();
        embedded.sort();
        let mut all: Vec<String> = ALL.iter().chain(PARTIALS).map(|s| s.to_string()).collect();
        all.sort();
        assert_eq!(embedded, all);
    }

    #[test]
    fn undefined_variables_are_errors() {
        let env = environment();
        let err = env
            .get_template(DOCKERFILE)
            .unwrap()
            .render(minijinja::context! {})
            .unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
    }
}
