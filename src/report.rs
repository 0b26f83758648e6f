//! `djrun inspect`: the facts as JSON (the documented contract) or as an aligned summary.

use crate::inspect::ProjectFacts;

/// The facts as one pretty-printed JSON object.
pub fn json(facts: &ProjectFacts) -> String {
    serde_json::to_string_pretty(facts).expect("facts serialize")
}

/// The facts as a short, aligned summary, each with where it came from.
pub fn human(facts: &ProjectFacts) -> String {
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none found".to_string());
    let mut rows: Vec<(&str, String)> = vec![
        ("project", format!("{} (manage.py)", facts.project_root)),
        (
            "settings",
            format!("{} ({})", facts.settings_module, facts.settings_file),
        ),
        ("wsgi", or_none(&facts.wsgi_application)),
        ("asgi", or_none(&facts.asgi_application)),
        (
            "python",
            format!(
                "{} ({})",
                facts.python_version.version, facts.python_version.source
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
            format!(
                "{} ({})",
                facts.dependency_manager,
                facts.dependency_files.join(", ")
            ),
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
    if facts.database == "sqlite" {
        rows.last_mut().expect("rows").1 =
            "sqlite (data on Cloud Run is lost when an instance stops)".to_string();
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:>width$}  {v}\n"))
        .collect()
}
