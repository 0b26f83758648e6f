//! Dependencies: which manager the project uses, which files hold its production
//! dependencies, what they contain, and whether the lock file knows about them.

use super::layout::under as shown;
use super::read_text;
use super::sources::{self, LocalRequirement, Target, VcsRequirement};
use crate::patch::requirements::{normalize_name, IncludeKind, Requirements};
use crate::text::parse_toml;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use toml_edit::Item;

/// A dependency manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// requirements files.
    Pip,
    /// `poetry.lock`, `[tool.poetry]`.
    Poetry,
    /// `uv.lock`.
    Uv,
    /// `Pipfile`, `Pipfile.lock`.
    Pipenv,
    /// `pdm.lock`.
    Pdm,
}

impl Manager {
    /// The name used in the JSON report and the templates.
    pub fn name(self) -> &'static str {
        match self {
            Manager::Pip => "pip",
            Manager::Poetry => "poetry",
            Manager::Uv => "uv",
            Manager::Pipenv => "pipenv",
            Manager::Pdm => "pdm",
        }
    }

    /// The command that brings the lock file in step with the manifest.
    pub fn lock_command(self) -> Option<&'static [&'static str]> {
        match self {
            Manager::Pip => None,
            Manager::Poetry => Some(&["poetry", "lock"]),
            Manager::Uv => Some(&["uv", "lock"]),
            Manager::Pipenv => Some(&["pipenv", "lock"]),
            Manager::Pdm => Some(&["pdm", "lock"]),
        }
    }

    /// The lock file the image build installs from and checks, for the managers that lock.
    pub fn lock_file(self) -> Option<&'static str> {
        match self {
            Manager::Pip => None,
            other => Some(lock_name(other)),
        }
    }

    /// The command in the generated Dockerfile that fails when the lock does not match the
    /// manifest.
    pub fn lock_check(self) -> Option<&'static str> {
        match self {
            Manager::Pip => None,
            Manager::Poetry => Some("poetry check --lock"),
            Manager::Uv => Some("uv sync --locked"),
            Manager::Pipenv => Some("pipenv verify"),
            Manager::Pdm => Some("pdm lock --check"),
        }
    }
}

/// Where djrun adds a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manifest {
    /// A requirements file: append a line.
    Requirements,
    /// `[project] dependencies` in pyproject.toml (PEP 621).
    Pep621,
    /// `[tool.poetry.dependencies]` in pyproject.toml.
    PoetryTable,
    /// `[packages]` in a Pipfile.
    Pipfile,
}

/// What djrun knows about the project's dependencies. Paths are relative to the folder that
/// holds them (the project folder, or the nearest folder above it with dependency files),
/// `/`-separated.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The manager.
    pub manager: Manager,
    /// Every file the image build needs to install dependencies, manifest first.
    pub files: Vec<String>,
    /// The file djrun edits to add a dependency.
    pub manifest: String,
    /// How that file is edited.
    pub manifest_kind: Manifest,
    /// The lock file, if any.
    pub lock: Option<String>,
    /// Normalised names of the production dependencies, with their extras.
    pub packages: Vec<(String, BTreeSet<String>)>,
    /// The files of `files` that pip reads as constraints (`-c`), which install nothing.
    pub constraint_files: Vec<String>,
    /// Normalised names the lock file holds, when there is a lock file.
    pub locked: Option<BTreeSet<String>>,
    /// Whether the lock records a hash of the manifest that the manifest no longer has
    /// (`Pipfile.lock`'s `_meta.hash.sha256`, which `pipenv verify` checks).
    pub lock_hash_stale: bool,
    /// The Django version, `X.Y`: from the lock when there is one, else the manifest's bound.
    pub django_version: Option<String>,
    /// 1-based line of pip's hash-checking mode in the manifest, if on.
    pub hash_mode_line: Option<usize>,
    /// Python constraints the dependency files state, with where they stand.
    pub python_constraints: Vec<(String, String, PythonSyntax)>,
    /// Dependency groups (PEP 735) and optional extras outside the production set that hold
    /// the project's WSGI/ASGI server, which the image installs too.
    pub server_sets: Vec<ServerSet>,
    /// Requirements from version control and from local paths.
    pub sources: Sources,
}

/// Requirements that do not come from a package index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// From version control.
    pub vcs: Vec<VcsRequirement>,
    /// From paths inside the project folder.
    pub local: Vec<LocalRequirement>,
    /// Paths outside the build context, which the image build cannot see: (file, line,
    /// path as written).
    pub outside: Vec<(String, usize, String)>,
    /// Folders inside the project that pip's `--find-links` reads.
    pub find_links: Vec<String>,
    /// Files of local packages the first install reads, project-relative (their
    /// `pyproject.toml` for uv, which checks the lock against them).
    pub manifests: Vec<String>,
}

impl Sources {
    /// Take in a URL or path one of the dependency files gives.
    fn add(
        &mut self,
        file: &str,
        lines: (usize, usize),
        target: &str,
        name: Option<String>,
        editable: bool,
    ) {
        self.add_with_extras(file, lines, target, name, editable, "");
    }

    /// [`Sources::add`], for a path that asks for extras (`./pkg[dev]`).
    fn add_with_extras(
        &mut self,
        file: &str,
        lines: (usize, usize),
        target: &str,
        name: Option<String>,
        editable: bool,
        extras: &str,
    ) {
        match sources::classify(target) {
            Target::Vcs => {
                if !self.vcs.iter().any(|v| v.name.is_some() && v.name == name) {
                    self.vcs.push(VcsRequirement {
                        file: file.to_string(),
                        line: lines.0,
                        name,
                        url: sources::redact(target),
                        private: sources::private(target),
                    });
                }
            }
            Target::Local(path) => self.local.push(LocalRequirement {
                file: file.to_string(),
                line: lines.0,
                archive: sources::is_archive(&path),
                path,
                editable,
                last_line: lines.1,
                extras: extras.to_string(),
            }),
            Target::Outside => self
                .outside
                .push((file.to_string(), lines.0, target.to_string())),
            Target::Other => {}
        }
    }
}

/// Whether a pyproject.toml states its project's dependencies itself (`[project]`, nothing
/// dynamic but the version), so uv reads them without building the package.
fn static_metadata(text: &str) -> bool {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return false;
    };
    let Some(project) = doc.get("project").and_then(Item::as_table_like) else {
        return false;
    };
    project
        .get("dynamic")
        .and_then(Item::as_array)
        .is_none_or(|d| d.iter().all(|v| v.as_str() == Some("version")))
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Where a TOML dependency file's entries stand: its text parsed keeping spans.
struct Spanned<'a> {
    text: &'a str,
    doc: Option<toml_edit::Document<&'a str>>,
}

impl<'a> Spanned<'a> {
    fn new(text: &'a str) -> Spanned<'a> {
        Spanned {
            text,
            doc: toml_edit::Document::parse(text).ok(),
        }
    }

    fn get(&self, path: &[&str]) -> Option<&Item> {
        let mut item = self.doc.as_ref()?.as_item();
        for key in path {
            item = item.get(key)?;
        }
        Some(item)
    }

    fn line(&self, span: Option<std::ops::Range<usize>>) -> usize {
        span.map_or(1, |s| line_of(self.text, s.start))
    }
}

/// The URLs and paths of PEP 508 strings (`name @ git+https://...`, `name @ file:...`) in an
/// array of a TOML file.
fn pep508_sources(spanned: &Spanned, path: &[&str], file: &str, out: &mut Sources) {
    let Some(list) = spanned.get(path).and_then(Item::as_array) else {
        return;
    };
    for value in list.iter() {
        let Some(spec) = value.as_str() else { continue };
        let parsed = Requirements::parse(file, spec);
        let line = spanned.line(value.span());
        for located in parsed.located() {
            out.add(
                file,
                (line, line),
                &located.target,
                located.name.clone(),
                false,
            );
        }
    }
}

/// `name = { git = "..." }` and `name = { path = "..." }` entries of a TOML dependency table
/// (Poetry's, the Pipfile's, `[tool.uv.sources]`).
fn table_sources(spanned: &Spanned, path: &[&str], file: &str, out: &mut Sources) {
    let Some(table) = spanned.get(path).and_then(Item::as_table_like) else {
        return;
    };
    for (name, value) in table.iter() {
        let line = spanned.line(table.key(name).and_then(|k| k.span()));
        let editable = value
            .get("editable")
            .or_else(|| value.get("develop"))
            .and_then(Item::as_bool)
            .unwrap_or(false);
        let name = Some(normalize_name(name));
        if let Some(git) = value.get("git").and_then(Item::as_str) {
            let url = if git.starts_with("git+") || sources::classify(git) == Target::Vcs {
                git.to_string()
            } else {
                format!("git+{git}")
            };
            out.add(file, (line, line), &url, name, false);
        } else if let Some(p) = value.get("path").and_then(Item::as_str) {
            out.add(file, (line, line), p, name, editable);
        }
    }
}

/// uv: git sources and local packages as uv.lock records them (`source = { git = ... }`,
/// `{ editable = ... }`, `{ directory = ... }`, `{ path = ... }`), each at the line of
/// `[tool.uv.sources]` that asks for it when there is one, else at the lock's.
fn uv_lock_sources(
    lock: &Spanned,
    lock_file: &str,
    pyproject: &Spanned,
    pyproject_file: &str,
    out: &mut Sources,
) {
    let Some(packages) = lock.get(&["package"]).and_then(Item::as_array_of_tables) else {
        return;
    };
    let declared = pyproject
        .get(&["tool", "uv", "sources"])
        .and_then(Item::as_table_like);
    for package in packages.iter() {
        let (Some(name), Some(source)) = (
            package.get("name").and_then(Item::as_str),
            package.get("source"),
        ) else {
            continue;
        };
        let n = normalize_name(name);
        let at = declared
            .and_then(|t| {
                t.iter()
                    .find(|(k, _)| normalize_name(k) == n)
                    .map(|(k, _)| k.to_string())
            })
            .map(|k| {
                let line = pyproject.line(declared.and_then(|t| t.key(&k)).and_then(|k| k.span()));
                (pyproject_file.to_string(), line)
            })
            .unwrap_or_else(|| (lock_file.to_string(), lock.line(source.span())));
        if let Some(git) = source.get("git").and_then(Item::as_str) {
            out.add(&at.0, (at.1, at.1), &format!("git+{git}"), Some(n), false);
            continue;
        }
        for (key, editable) in [("editable", true), ("directory", false), ("path", false)] {
            if let Some(p) = source.get(key).and_then(Item::as_str) {
                if p != "." {
                    out.add(&at.0, (at.1, at.1), p, Some(n.clone()), editable);
                }
            }
        }
    }
}

/// A dependency group or an extra that holds a server (`[dependency-groups] prod =
/// ["gunicorn"]`, `[project.optional-dependencies] server = ["gunicorn"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSet {
    /// `group` or `extra`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
}

/// The servers djrun can run or recognises.
pub const SERVERS: &[&str] = &[
    "gunicorn",
    "uvicorn",
    "uvicorn-worker",
    "daphne",
    "granian",
    "uwsgi",
];

/// How a Python constraint is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonSyntax {
    /// PEP 440 specifiers (`requires-python`).
    Pep440,
    /// Poetry's syntax (`^3.11`).
    Poetry,
    /// An exact `X.Y` (Pipfile `python_version`).
    Exact,
}

impl Deps {
    /// Whether `name` (any spelling) is a production dependency.
    pub fn has(&self, name: &str) -> bool {
        let n = normalize_name(name);
        self.packages.iter().any(|(p, _)| *p == n)
    }

    /// Count `name` with `extras` as a dependency (for what djrun is about to add).
    pub fn add_package(&mut self, name: &str, extras: &[&str]) {
        if !self.has(name) {
            self.packages.push((
                normalize_name(name),
                extras.iter().map(|e| e.to_string()).collect(),
            ));
        }
    }

    /// The extras requested for `name`, if it is a dependency.
    pub fn extras(&self, name: &str) -> Option<&BTreeSet<String>> {
        let n = normalize_name(name);
        self.packages.iter().find(|(p, _)| *p == n).map(|(_, e)| e)
    }

    /// Dependencies the manifest lists but the lock file does not hold.
    pub fn missing_from_lock(&self) -> Vec<String> {
        match &self.locked {
            None => Vec::new(),
            Some(locked) => self
                .packages
                .iter()
                .map(|(p, _)| p.clone())
                .filter(|p| !locked.contains(p))
                .collect(),
        }
    }
}

/// Requirement files tried, in order, when there is no `requirements.txt`.
const REQUIREMENTS_ENTRIES: &[&str] = &[
    "requirements/production.txt",
    "requirements/prod.txt",
    "requirements/base.txt",
    "requirements/common.txt",
    "requirements/requirements.txt",
];

/// Split a PEP 508 requirement into its normalised name and extras.
pub fn parse_requirement(spec: &str) -> Option<(String, BTreeSet<String>)> {
    let spec = spec.trim();
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..end];
    if name.is_empty() {
        return None;
    }
    let rest = spec[end..].trim_start();
    let mut extras = BTreeSet::new();
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some(close) = inner.find(']') {
            for e in inner[..close].split(',') {
                let e = e.trim();
                if !e.is_empty() {
                    extras.insert(normalize_name(e));
                }
            }
        }
    }
    Some((normalize_name(name), extras))
}

/// The version part of a PEP 508 requirement: after the name and extras, before markers,
/// without Poetry 2's parentheses.
fn version_part(spec: &str) -> &str {
    let spec = spec.split(';').next().unwrap_or("");
    let start = spec
        .find(|c: char| "<>=!~(".contains(c))
        .unwrap_or(spec.len());
    spec[start..]
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
}

/// `X.Y` from a version constraint such as `>=5.2,<6`, `==5.2.3`, `~5.2`, `^5.2`.
pub fn constraint_minor(spec: &str) -> Option<String> {
    let line = format!("django{}", normalize_constraint(spec));
    Requirements::parse("", &line).django_version()
}

/// Poetry's `^X.Y` / `~X.Y` / bare `X.Y` as PEP 440 enough to read a lower bound.
fn normalize_constraint(spec: &str) -> String {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix('^') {
        format!(">={rest}")
    } else if let Some(rest) = spec.strip_prefix('~').filter(|r| !r.starts_with('=')) {
        format!(">={rest}")
    } else if spec.starts_with(|c: char| c.is_ascii_digit()) {
        format!("=={spec}")
    } else {
        spec.to_string()
    }
}

/// Names of the packages a lock file holds (`[[package]] name = ...` in uv, Poetry and PDM
/// locks; the `default` section of Pipfile.lock).
fn locked_names(
    manager: Manager,
    text: &str,
    file: &str,
) -> Result<(BTreeSet<String>, Option<String>)> {
    let mut names = BTreeSet::new();
    let mut django = None;
    if manager == Manager::Pipenv {
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::input_hint(
                format!("`{file}` line {} is not valid JSON: {e}", e.line()),
                "run `pipenv lock` to write it again",
            )
        })?;
        if let Some(default) = json.get("default").and_then(|d| d.as_object()) {
            for (name, entry) in default {
                let n = normalize_name(name);
                if n == "django" {
                    django = entry
                        .get("version")
                        .and_then(|v| v.as_str())
                        .and_then(constraint_minor);
                }
                names.insert(n);
            }
        }
        return Ok((names, django));
    }
    let doc = parse_toml(text, file)?;
    if let Some(packages) = doc.get("package").and_then(Item::as_array_of_tables) {
        for package in packages {
            if let Some(name) = package.get("name").and_then(Item::as_str) {
                let n = normalize_name(name);
                if n == "django" {
                    django = package
                        .get("version")
                        .and_then(Item::as_str)
                        .and_then(|v| constraint_minor(&format!("=={v}")));
                }
                names.insert(n);
            }
        }
    }
    Ok((names, django))
}

/// Whether `Pipfile.lock` records a hash of the Pipfile other than the one Pipenv computes
/// for `pipfile`. A lock without a hash, or a Pipfile whose hash djrun cannot compute
/// exactly, is not judged.
fn pipfile_lock_stale(pipfile: &str, lock: &str) -> bool {
    let recorded = serde_json::from_str::<serde_json::Value>(lock)
        .ok()
        .and_then(|json| {
            json.pointer("/_meta/hash/sha256")?
                .as_str()
                .map(str::to_string)
        });
    match (recorded, super::pipfile_hash::pipfile_hash(pipfile)) {
        (Some(recorded), Some(computed)) => !recorded.eq_ignore_ascii_case(&computed),
        _ => false,
    }
}

impl Deps {
    /// No dependency files at all (`inspect` on a project without any).
    pub fn none() -> Deps {
        Deps {
            manager: Manager::Pip,
            files: Vec::new(),
            manifest: "requirements.txt".to_string(),
            manifest_kind: Manifest::Requirements,
            lock: None,
            packages: Vec::new(),
            locked: None,
            lock_hash_stale: false,
            constraint_files: Vec::new(),
            django_version: None,
            hash_mode_line: None,
            python_constraints: Vec::new(),
            server_sets: Vec::new(),
            sources: Sources::default(),
        }
    }
}

/// The files whose presence says a folder holds dependencies (besides `requirements/*.txt`).
pub const DEPENDENCY_FILES: &[&str] = &[
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "Pipfile.lock",
    "uv.lock",
    "poetry.lock",
    "pdm.lock",
];

/// Detect the dependencies of the project in `project` (shown with `prefix`).
pub fn detect(project: &Path, prefix: &str) -> Result<Deps> {
    for name in DEPENDENCY_FILES {
        if project.join(name).is_dir() {
            return Err(Error::input_hint(
                format!("`{}` is a folder, not a file", shown(prefix, name)),
                format!("djrun reads `{name}` as a dependency file: rename the folder and run djrun again"),
            ));
        }
    }
    let exists = |rel: &str| project.join(rel).is_file();
    let read = |rel: &str| read_text(&project.join(rel), &shown(prefix, rel));
    let pyproject = if exists("pyproject.toml") {
        let text = read("pyproject.toml")?;
        Some(parse_toml(&text, &shown(prefix, "pyproject.toml"))?)
    } else {
        None
    };
    let has_table = |path: &[&str]| {
        let mut item: Option<&Item> = pyproject.as_ref().map(|d| d.as_item());
        for key in path {
            item = item.and_then(|i| i.get(key));
        }
        item.is_some()
    };

    let manager = if exists("uv.lock") {
        Manager::Uv
    } else if exists("poetry.lock") {
        Manager::Poetry
    } else if exists("pdm.lock") {
        Manager::Pdm
    } else if exists("Pipfile.lock") || exists("Pipfile") {
        Manager::Pipenv
    } else if exists("requirements.txt") || REQUIREMENTS_ENTRIES.iter().any(|e| exists(e)) {
        Manager::Pip
    } else if has_table(&["tool", "poetry", "dependencies"]) {
        Manager::Poetry
    } else if has_table(&["tool", "pdm"]) {
        Manager::Pdm
    } else if has_table(&["project", "dependencies"]) {
        Manager::Uv
    } else {
        return Err(Error::input_hint(
            format!(
                "no dependency file found in `{prefix}`: djrun reads requirements.txt, requirements/*.txt, pyproject.toml (uv, Poetry, PDM) and Pipfile"
            ),
            format!(
                "list your dependencies in `{}` (`pip freeze > requirements.txt` in your virtualenv) and run djrun again",
                shown(prefix, "requirements.txt")
            ),
        ));
    };

    let mut python_constraints = Vec::new();
    if let Some(doc) = &pyproject {
        if let Some(spec) = doc
            .get("project")
            .and_then(|p| p.get("requires-python"))
            .and_then(Item::as_str)
        {
            python_constraints.push((
                spec.to_string(),
                format!("{} (requires-python)", shown(prefix, "pyproject.toml")),
                PythonSyntax::Pep440,
            ));
        }
        if let Some(spec) = doc
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|p| p.get("dependencies"))
            .and_then(|d| d.get("python"))
            .and_then(Item::as_str)
        {
            python_constraints.push((
                spec.to_string(),
                format!("{} (tool.poetry python)", shown(prefix, "pyproject.toml")),
                PythonSyntax::Poetry,
            ));
        }
    }

    let mut deps = match manager {
        Manager::Pip => pip(project, prefix)?,
        Manager::Pipenv => {
            let text = read("Pipfile")?;
            let doc = parse_toml(&text, &shown(prefix, "Pipfile"))?;
            let (packages, django) = doc
                .get("packages")
                .and_then(Item::as_table_like)
                .map(table_packages)
                .unwrap_or_default();
            if let Some(v) = doc
                .get("requires")
                .and_then(|r| r.get("python_version"))
                .and_then(Item::as_str)
            {
                python_constraints.push((
                    v.to_string(),
                    format!("{} (python_version)", shown(prefix, "Pipfile")),
                    PythonSyntax::Exact,
                ));
            }
            let lock = exists("Pipfile.lock").then(|| "Pipfile.lock".to_string());
            let mut files = vec!["Pipfile".to_string()];
            files.extend(lock.clone());
            Deps {
                manager,
                files,
                manifest: "Pipfile".into(),
                manifest_kind: Manifest::Pipfile,
                lock,
                packages,
                locked: None,
                lock_hash_stale: false,
                constraint_files: Vec::new(),
                django_version: django,
                hash_mode_line: None,
                python_constraints: Vec::new(),
                server_sets: Vec::new(),
                sources: {
                    let mut found = Sources::default();
                    let spanned = Spanned::new(&text);
                    table_sources(
                        &spanned,
                        &["packages"],
                        &shown(prefix, "Pipfile"),
                        &mut found,
                    );
                    found
                },
            }
        }
        Manager::Uv | Manager::Poetry | Manager::Pdm => {
            let doc = pyproject.as_ref().ok_or_else(|| {
                Error::input_hint(
                    format!(
                        "`{}` needs a `pyproject.toml` beside it",
                        shown(prefix, lock_name(manager))
                    ),
                    "restore `pyproject.toml`, or remove the stale lock file",
                )
            })?;
            let mut packages = Vec::new();
            let mut django = None;
            let mut kind = Manifest::Pep621;
            if let Some(list) = doc
                .get("project")
                .and_then(|p| p.get("dependencies"))
                .and_then(Item::as_array)
            {
                for spec in list.iter().filter_map(|v| v.as_str()) {
                    if let Some((n, extras)) = parse_requirement(spec) {
                        if n == "django" {
                            django = constraint_minor(version_part(spec));
                        }
                        packages.push((n, extras));
                    }
                }
            } else if let Some(table) = doc
                .get("tool")
                .and_then(|t| t.get("poetry"))
                .and_then(|p| p.get("dependencies"))
                .and_then(Item::as_table_like)
            {
                kind = Manifest::PoetryTable;
                (packages, django) = table_packages(table);
            }
            // A server kept in a group or an extra of its own counts, and is installed.
            let server_sets = server_sets(manager, doc, &mut packages);
            let lock = exists(lock_name(manager)).then(|| lock_name(manager).to_string());
            let mut files = vec!["pyproject.toml".to_string()];
            files.extend(lock.clone());
            Deps {
                manager,
                files,
                manifest: "pyproject.toml".into(),
                manifest_kind: kind,
                lock,
                packages,
                locked: None,
                lock_hash_stale: false,
                constraint_files: Vec::new(),
                django_version: django,
                hash_mode_line: None,
                python_constraints: Vec::new(),
                server_sets,
                sources: Sources::default(),
            }
        }
    };
    if manager != Manager::Pip && manager != Manager::Pipenv {
        let text = read("pyproject.toml")?;
        let file = shown(prefix, "pyproject.toml");
        let spanned = Spanned::new(&text);
        let found = &mut deps.sources;
        pep508_sources(&spanned, &["project", "dependencies"], &file, found);
        match manager {
            Manager::Poetry => {
                table_sources(&spanned, &["tool", "poetry", "dependencies"], &file, found)
            }
            Manager::Uv => {
                table_sources(&spanned, &["tool", "uv", "sources"], &file, found);
                if let Some(lock) = deps.lock.clone() {
                    let lock_text = read(&lock)?;
                    let from_lock = {
                        let mut f = Sources::default();
                        uv_lock_sources(
                            &Spanned::new(&lock_text),
                            &shown(prefix, &lock),
                            &spanned,
                            &file,
                            &mut f,
                        );
                        f
                    };
                    // The lock is what the image installs: its local packages replace the
                    // manifest's, its git sources join them.
                    found.local = from_lock.local;
                    for v in from_lock.vcs {
                        if !found
                            .vcs
                            .iter()
                            .any(|f| f.name.is_some() && f.name == v.name)
                        {
                            found.vcs.push(v);
                        }
                    }
                    found.outside.extend(from_lock.outside);
                }
                // A workspace member or path source's own pyproject.toml is read when the
                // lock is checked, before its code is copied; a package whose metadata uv
                // must build (no pyproject.toml, or dependencies set by its build) comes
                // whole.
                for local in &found.local {
                    if local.archive || local.path == "." {
                        continue;
                    }
                    let manifest = format!("{}/pyproject.toml", local.path);
                    let static_metadata = project.join(&manifest).is_file()
                        && read(&manifest)
                            .ok()
                            .is_some_and(|text| static_metadata(&text));
                    let needed = if static_metadata {
                        manifest
                    } else {
                        local.path.clone()
                    };
                    if !found.manifests.contains(&needed) {
                        found.manifests.push(needed);
                    }
                }
            }
            _ => {}
        }
        found.outside.dedup();
    }
    if let Some(lock) = deps.lock.clone() {
        let lock_text = read(&lock)?;
        if manager == Manager::Pipenv {
            deps.lock_hash_stale = pipfile_lock_stale(&read("Pipfile")?, &lock_text);
        }
        let (names, django) = locked_names(manager, &lock_text, &shown(prefix, &lock))?;
        deps.locked = Some(names);
        if django.is_some() {
            deps.django_version = django;
        }
    }
    deps.python_constraints = python_constraints;
    Ok(deps)
}

/// The dependency groups and extras outside the production set that hold a server, as the
/// manager installs them: uv's PEP 735 groups and extras, Poetry's groups and extras, PDM's
/// optional groups. Their packages join `packages`.
fn server_sets(
    manager: Manager,
    doc: &toml_edit::DocumentMut,
    packages: &mut Vec<(String, BTreeSet<String>)>,
) -> Vec<ServerSet> {
    let array_specs = |item: &Item| -> Vec<(String, BTreeSet<String>)> {
        item.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .filter_map(parse_requirement)
                    .collect()
            })
            .unwrap_or_default()
    };
    let optional = doc
        .get("project")
        .and_then(|p| p.get("optional-dependencies"))
        .and_then(Item::as_table_like);
    /// A package and its extras.
    type Spec = (String, BTreeSet<String>);
    // (kind, name, its packages)
    let mut sets: Vec<(&'static str, String, Vec<Spec>)> = Vec::new();
    let mut arrays = |kind: &'static str, table: Option<&dyn toml_edit::TableLike>| {
        for (name, list) in table.into_iter().flat_map(|t| t.iter()) {
            sets.push((kind, name.to_string(), array_specs(list)));
        }
    };
    match manager {
        Manager::Uv => {
            arrays(
                "group",
                doc.get("dependency-groups").and_then(Item::as_table_like),
            );
            arrays("extra", optional);
        }
        Manager::Pdm => arrays("extra", optional),
        Manager::Poetry => {
            arrays("extra", optional);
            let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
            // Poetry 1's extras name optional main dependencies.
            if let Some(extras) = poetry
                .and_then(|p| p.get("extras"))
                .and_then(Item::as_table_like)
            {
                for (name, list) in extras.iter() {
                    let names = list
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str())
                                .map(|n| (normalize_name(n), BTreeSet::new()))
                                .collect()
                        })
                        .unwrap_or_default();
                    sets.push(("extra", name.to_string(), names));
                }
            }
            if let Some(groups) = poetry
                .and_then(|p| p.get("group"))
                .and_then(Item::as_table_like)
            {
                for (name, group) in groups.iter() {
                    if let Some(table) = group.get("dependencies").and_then(Item::as_table_like) {
                        sets.push(("group", name.to_string(), table_packages(table).0));
                    }
                }
            }
        }
        Manager::Pip | Manager::Pipenv => {}
    }
    let mut found = Vec::new();
    for (kind, name, specs) in sets {
        if !specs.iter().any(|(n, _)| SERVERS.contains(&n.as_str())) {
            continue;
        }
        if !found
            .iter()
            .any(|s: &ServerSet| s.kind == kind && s.name == name)
        {
            found.push(ServerSet { kind, name });
        }
        for spec in specs {
            if !packages.iter().any(|(n, _)| *n == spec.0) {
                packages.push(spec);
            }
        }
    }
    found
}

/// The packages of a TOML dependency table (Poetry's `[tool.poetry.dependencies]`, the
/// Pipfile's `[packages]`): `name = "version"` or `name = { version = ..., extras = [...] }`.
/// Also the Django version it bounds. Poetry's `python` entry is not a package.
fn table_packages(
    table: &dyn toml_edit::TableLike,
) -> (Vec<(String, BTreeSet<String>)>, Option<String>) {
    let mut packages = Vec::new();
    let mut django = None;
    for (name, value) in table.iter() {
        if name.eq_ignore_ascii_case("python") {
            continue;
        }
        let n = normalize_name(name);
        let mut extras = BTreeSet::new();
        let version = match value {
            Item::Value(v) if v.is_str() => v.as_str().map(str::to_string),
            other => {
                if let Some(list) = other.get("extras").and_then(Item::as_array) {
                    extras = list
                        .iter()
                        .filter_map(|e| e.as_str())
                        .map(normalize_name)
                        .collect();
                }
                other
                    .get("version")
                    .and_then(Item::as_str)
                    .map(str::to_string)
            }
        };
        if n == "django" {
            django = version.as_deref().and_then(constraint_minor);
        }
        packages.push((n, extras));
    }
    (packages, django)
}

fn lock_name(manager: Manager) -> &'static str {
    match manager {
        Manager::Uv => "uv.lock",
        Manager::Poetry => "poetry.lock",
        Manager::Pdm => "pdm.lock",
        Manager::Pipenv => "Pipfile.lock",
        Manager::Pip => "requirements.txt",
    }
}

/// pip: the production entry file and every file it includes with `-r`/`-c`.
/// Production requirement files that may hold the server when `requirements.txt` does not.
const PRODUCTION_REQUIREMENTS: &[&str] = &[
    "requirements/production.txt",
    "requirements/prod.txt",
    "requirements-production.txt",
    "requirements-prod.txt",
    "requirements/deploy.txt",
];

fn pip(project: &Path, prefix: &str) -> Result<Deps> {
    let entry = if project.join("requirements.txt").is_file() {
        "requirements.txt".to_string()
    } else {
        REQUIREMENTS_ENTRIES
            .iter()
            .find(|e| project.join(e).is_file())
            .map(|e| e.to_string())
            .expect("detect() saw a requirements file")
    };
    let deps = pip_from(project, prefix, entry)?;
    let has_server = |d: &Deps| SERVERS.iter().any(|s| d.has(s));
    if !has_server(&deps) {
        // A production file with the server is what the deployment installs.
        for candidate in PRODUCTION_REQUIREMENTS {
            if *candidate != deps.manifest && project.join(candidate).is_file() {
                let production = pip_from(project, prefix, candidate.to_string())?;
                if has_server(&production) {
                    return Ok(production);
                }
            }
        }
    }
    Ok(deps)
}

fn pip_from(project: &Path, prefix: &str, entry: String) -> Result<Deps> {
    let mut files: Vec<String> = Vec::new();
    let mut packages: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut django = None;
    let mut hash_mode_line = None;
    let mut found = Sources::default();
    let mut constraint_files = Vec::new();
    let mut pending = vec![(entry.clone(), IncludeKind::Requirement)];
    while let Some((rel, kind)) = pending.pop() {
        if files.contains(&rel) || files.len() > 64 {
            continue;
        }
        let text = read_text(&project.join(&rel), &shown(prefix, &rel))?;
        let parsed = Requirements::parse(&shown(prefix, &rel), &text);
        if rel == entry {
            hash_mode_line = parsed.hash_mode_line();
        }
        if kind == IncludeKind::Requirement {
            for name in parsed.names() {
                if !packages.iter().any(|(p, _)| *p == name) {
                    packages.push((name.clone(), parsed.extras(&name)));
                }
            }
            if django.is_none() {
                django = parsed.django_version();
            }
            let file = shown(prefix, &rel);
            for located in parsed.located() {
                found.add_with_extras(
                    &file,
                    located.lines,
                    &located.target,
                    located.name.clone(),
                    located.editable,
                    &located.extras,
                );
            }
        }
        let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
        // As pip does, a `--find-links` path is relative to the requirements file when it
        // exists there, else to the folder pip runs in. One that is not in the project is
        // skipped by pip too, with a warning: the build goes on without it.
        for (target, _) in parsed.find_links() {
            let beside = (!dir.is_empty()).then(|| format!("{dir}/{target}"));
            let found_dir = [beside.as_deref(), Some(target.as_str())]
                .into_iter()
                .flatten()
                .find_map(|t| match sources::classify(t) {
                    Target::Local(path) if project.join(&path).is_dir() => Some(path),
                    _ => None,
                });
            if let Some(path) = found_dir.filter(|p| !found.find_links.contains(p)) {
                found.find_links.push(path);
            }
        }
        for include in parsed.includes() {
            let target = if include.target.starts_with('/') || dir.is_empty() {
                include.target.clone()
            } else {
                format!("{dir}/{}", include.target)
            };
            let target = normalize_path(&target);
            if !project.join(&target).is_file() {
                return Err(Error::input_hint(
                    format!(
                        "`{}` line {} includes `{}`, which does not exist",
                        shown(prefix, &rel),
                        include.line,
                        include.target
                    ),
                    format!("fix the `-r`/`-c` line in `{}`", shown(prefix, &rel)),
                ));
            }
            pending.push((target, include.kind));
        }
        if kind == IncludeKind::Constraint {
            constraint_files.push(rel.clone());
        }
        files.push(rel);
    }
    Ok(Deps {
        manager: Manager::Pip,
        files,
        manifest: entry,
        manifest_kind: Manifest::Requirements,
        lock: None,
        packages,
        locked: None,
        lock_hash_stale: false,
        constraint_files,
        django_version: django,
        hash_mode_line,
        python_constraints: Vec::new(),
        server_sets: Vec::new(),
        sources: found,
    })
}

/// Fold `.` and `..` in a relative `/`-separated path.
fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipfile_lock_with_another_hash_of_the_pipfile_is_stale() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipenv-project");
        let deps = detect(&fixture, ".").unwrap();
        assert_eq!(deps.lock.as_deref(), Some("Pipfile.lock"));
        assert!(
            !deps.lock_hash_stale,
            "the fixture's lock matches its Pipfile"
        );
        let dir = tempfile::tempdir().unwrap();
        let pipfile = std::fs::read_to_string(fixture.join("Pipfile")).unwrap();
        let lock = std::fs::read_to_string(fixture.join("Pipfile.lock")).unwrap();
        write(
            dir.path(),
            &[
                // A comment and another spelling of a name keep the hash.
                (
                    "Pipfile",
                    &format!("# deps\n{}", pipfile.replace("django =", "Django =")),
                ),
                ("Pipfile.lock", &lock),
            ],
        );
        assert!(!detect(dir.path(), ".").unwrap().lock_hash_stale);
        // Another version does not, though the lock holds every package.
        write(
            dir.path(),
            &[("Pipfile", &pipfile.replace("~=5.2.0", "~=5.2.1"))],
        );
        let deps = detect(dir.path(), ".").unwrap();
        assert!(deps.lock_hash_stale && deps.missing_from_lock().is_empty());
        // No recorded hash: not judged.
        write(dir.path(), &[("Pipfile.lock", "{\"default\": {}}")]);
        assert!(!detect(dir.path(), ".").unwrap().lock_hash_stale);
    }

    #[test]
    fn a_production_requirements_file_with_the_server_is_the_one_installed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("requirements")).unwrap();
        std::fs::write(
            p.join("requirements.txt"),
            "-r requirements/base.txt\ndjango-debug-toolbar\n",
        )
        .unwrap();
        std::fs::write(p.join("requirements/base.txt"), "django>=5.2\n").unwrap();
        std::fs::write(
            p.join("requirements/production.txt"),
            "-r base.txt\ngunicorn>=23\n",
        )
        .unwrap();
        let deps = detect(p, ".").unwrap();
        assert_eq!(deps.manifest, "requirements/production.txt");
        assert!(deps.has("gunicorn") && deps.has("django") && !deps.has("django-debug-toolbar"));
        // Without the server there, requirements.txt stays the one djrun edits.
        std::fs::write(p.join("requirements/production.txt"), "-r base.txt\n").unwrap();
        assert_eq!(detect(p, ".").unwrap().manifest, "requirements.txt");
    }

    #[test]
    fn a_server_in_a_group_or_an_extra_counts_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"django>=5.2\"]\n\n[project.optional-dependencies]\nserver = [\"uvicorn>=0.30\"]\nmail = [\"sendgrid\"]\n\n[dependency-groups]\ndev = [\"pytest\"]\nprod = [\"gunicorn>=23\"]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("uv.lock"), "version = 1\n").unwrap();
        let deps = detect(dir.path(), ".").unwrap();
        assert!(deps.has("gunicorn") && deps.has("uvicorn"));
        assert!(!deps.has("pytest") && !deps.has("sendgrid"));
        assert_eq!(
            deps.server_sets,
            vec![
                ServerSet {
                    kind: "group",
                    name: "prod".into()
                },
                ServerSet {
                    kind: "extra",
                    name: "server".into()
                },
            ]
        );
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn requirements_files_give_vcs_and_local_lines_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "requirements.txt",
                    "django\n-r requirements/extra.txt\n-e ./pkg\n--find-links ./wheels\n",
                ),
                (
                    "requirements/extra.txt",
                    "lib @ git+https://github.com/acme/lib.git@v1\n./vendor/x-1.0-py3-none-any.whl\n../outside\n-f ../wheels2\n-e ./pkg[api]\n",
                ),
                ("pkg/pyproject.toml", ""),
                ("wheels/.keep", ""),
                ("wheels2/.keep", ""),
            ],
        );
        let deps = detect(dir.path(), "site").unwrap();
        let s = &deps.sources;
        assert_eq!(s.vcs.len(), 1);
        assert_eq!(
            (
                s.vcs[0].file.as_str(),
                s.vcs[0].line,
                s.vcs[0].name.as_deref()
            ),
            ("site/requirements/extra.txt", 1, Some("lib"))
        );
        assert_eq!(s.vcs[0].private, None);
        let local: Vec<(&str, usize, &str, bool, bool)> = s
            .local
            .iter()
            .map(|l| {
                (
                    l.file.as_str(),
                    l.line,
                    l.path.as_str(),
                    l.editable,
                    l.archive,
                )
            })
            .collect();
        assert_eq!(
            local,
            vec![
                ("site/requirements.txt", 3, "pkg", true, false),
                (
                    "site/requirements/extra.txt",
                    2,
                    "vendor/x-1.0-py3-none-any.whl",
                    false,
                    true
                ),
                ("site/requirements/extra.txt", 5, "pkg", true, false),
            ]
        );
        assert_eq!(s.local[2].extras, "[api]");
        assert_eq!(
            s.outside,
            vec![(
                "site/requirements/extra.txt".to_string(),
                3,
                "../outside".to_string()
            )]
        );
        // `-f ../wheels2` is relative to its file (requirements/), as pip reads it.
        assert_eq!(s.find_links, vec!["wheels", "wheels2"]);
    }

    #[test]
    fn uv_checks_the_lock_against_local_metadata_or_the_whole_package() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                ("pyproject.toml", "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"a\", \"b\", \"c\"]\n"),
                ("libs/a/pyproject.toml", "[project]\nname = \"a\"\ndynamic = [\"version\"]\n"),
                ("libs/b/setup.py", "from setuptools import setup\nsetup(name=\"b\")\n"),
                ("libs/c/pyproject.toml", "[project]\nname = \"c\"\ndynamic = [\"version\", \"dependencies\"]\n"),
                (
                    "uv.lock",
                    "version = 1\n\n[[package]]\nname = \"a\"\nsource = { editable = \"libs/a\" }\n\n[[package]]\nname = \"b\"\nsource = { directory = \"libs/b\" }\n\n[[package]]\nname = \"c\"\nsource = { editable = \"libs/c\" }\n",
                ),
            ],
        );
        let deps = detect(dir.path(), ".").unwrap();
        assert_eq!(
            deps.sources.manifests,
            vec!["libs/a/pyproject.toml", "libs/b", "libs/c"]
        );
        assert!(!static_metadata("not toml ["));
        assert!(!static_metadata("[tool.x]\n"));
    }

    #[test]
    fn toml_dependency_files_give_git_and_path_sources_at_their_lines() {
        // Poetry: `{ git = ... }`, `{ path = ... }`.
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "pyproject.toml",
                    "[tool.poetry.dependencies]\npython = \"^3.12\"\ndjango = \"^5.2\"\nledger = { git = \"git@github.com:acme/ledger.git\", tag = \"v1\" }\nstyle = { git = \"https://github.com/acme/style.git\" }\nutil = { path = \"libs/util\", develop = true }\n",
                ),
                ("poetry.lock", ""),
            ],
        );
        let deps = detect(dir.path(), ".").unwrap();
        let vcs: Vec<(usize, Option<&str>, Option<&str>, &str)> = deps
            .sources
            .vcs
            .iter()
            .map(|v| (v.line, v.name.as_deref(), v.private, v.url.as_str()))
            .collect();
        assert_eq!(
            vcs,
            vec![
                (
                    4,
                    Some("ledger"),
                    Some("ssh"),
                    "git@github.com:acme/ledger.git"
                ),
                (
                    5,
                    Some("style"),
                    None,
                    "git+https://github.com/acme/style.git"
                ),
            ]
        );
        assert_eq!(deps.sources.local.len(), 1);
        assert_eq!(
            (
                deps.sources.local[0].line,
                deps.sources.local[0].path.as_str(),
                deps.sources.local[0].editable
            ),
            (6, "libs/util", true)
        );

        // PEP 621 (`name @ url`), `[tool.uv.sources]` and uv.lock.
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                (
                    "pyproject.toml",
                    "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\n    \"django>=5.2\",\n    \"tags @ git+https://${TOKEN}@github.com/acme/tags.git\",\n    \"core\",\n]\n\n[tool.uv.sources]\ncore = { workspace = true }\n",
                ),
                ("packages/core/pyproject.toml", "[project]\nname = \"core\"\n"),
                (
                    "uv.lock",
                    "version = 1\n\n[[package]]\nname = \"core\"\nversion = \"1\"\nsource = { editable = \"packages/core\" }\n\n[[package]]\nname = \"deep\"\nversion = \"1\"\nsource = { git = \"https://github.com/acme/deep?rev=v2#abc\" }\n\n[[package]]\nname = \"x\"\nversion = \"1\"\nsource = { virtual = \".\" }\n",
                ),
            ],
        );
        let deps = detect(dir.path(), ".").unwrap();
        let vcs: Vec<(&str, usize, Option<&str>, Option<&str>)> = deps
            .sources
            .vcs
            .iter()
            .map(|v| (v.file.as_str(), v.line, v.name.as_deref(), v.private))
            .collect();
        assert_eq!(
            vcs,
            vec![
                ("pyproject.toml", 6, Some("tags"), Some("variable")),
                ("uv.lock", 11, Some("deep"), None),
            ]
        );
        let local = &deps.sources.local;
        assert_eq!(local.len(), 1, "{local:?}");
        assert_eq!(
            (
                local[0].file.as_str(),
                local[0].line,
                local[0].path.as_str(),
                local[0].editable
            ),
            ("pyproject.toml", 11, "packages/core", true)
        );
        assert_eq!(deps.sources.manifests, vec!["packages/core/pyproject.toml"]);

        // Pipfile.
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[(
                "Pipfile",
                "[packages]\ndjango = \"*\"\nlib = { git = \"https://user:pw@example.com/lib.git\", ref = \"main\" }\nlocal = { path = \"./local\", editable = true }\n",
            )],
        );
        let deps = detect(dir.path(), ".").unwrap();
        assert_eq!(deps.sources.vcs[0].line, 3);
        assert_eq!(deps.sources.vcs[0].private, Some("credentials"));
        assert_eq!(
            deps.sources.vcs[0].url,
            "git+https://***:***@example.com/lib.git"
        );
        assert_eq!(deps.sources.local[0].line, 4);
    }

    #[test]
    fn poetry_groups_and_extras_and_pdm_optional_groups_with_a_server_count() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "pyproject.toml",
            "[tool.poetry]\nname = \"x\"\n\n[tool.poetry.dependencies]\npython = \"^3.12\"\nDjango = \"~5.2\"\nuvicorn = { version = \"^0.30\", optional = true }\n\n[tool.poetry.extras]\nasgi = [\"uvicorn\"]\nmail = [\"sendgrid\"]\n\n[tool.poetry.group.web.dependencies]\nGunicorn = \"^23\"\n\n[tool.poetry.group.dev.dependencies]\npytest = \"^8\"\n",
        );
        write("poetry.lock", "[metadata]\n");
        let deps = detect(dir.path(), ".").unwrap();
        assert_eq!(deps.manager, Manager::Poetry);
        assert!(deps.has("gunicorn") && !deps.has("pytest"));
        let named: Vec<(&str, &str)> = deps
            .server_sets
            .iter()
            .map(|s| (s.kind, s.name.as_str()))
            .collect();
        assert_eq!(named, vec![("extra", "asgi"), ("group", "web")]);

        write(
            "pyproject.toml",
            "[project]\nname = \"x\"\nversion = \"1\"\ndependencies = [\"django>=5.2\"]\n\n[project.optional-dependencies]\nserve = [\"gunicorn>=23\"]\ndocs = [\"sphinx\"]\n\n[tool.pdm]\ndistribution = false\n",
        );
        std::fs::remove_file(dir.path().join("poetry.lock")).unwrap();
        write("pdm.lock", "[metadata]\n");
        let deps = detect(dir.path(), ".").unwrap();
        assert_eq!(deps.manager, Manager::Pdm);
        assert_eq!(
            deps.server_sets,
            vec![ServerSet {
                kind: "extra",
                name: "serve".into()
            }]
        );
        assert!(deps.has("gunicorn") && !deps.has("sphinx"));
    }

    #[test]
    fn requirement_names_and_extras() {
        let (n, e) = parse_requirement("psycopg[binary,pool]>=3.2").unwrap();
        assert_eq!(n, "psycopg");
        assert_eq!(e.into_iter().collect::<Vec<_>>(), vec!["binary", "pool"]);
        assert_eq!(
            parse_requirement("Django (>=5.2,<6.0)").unwrap().0,
            "django"
        );
        assert!(parse_requirement("  ").is_none());
        assert_eq!(
            version_part("django (>=5.2,<6.0) ; python_version > '3.10'"),
            ">=5.2,<6.0"
        );
        assert_eq!(version_part("django[argon2]>=5.1"), ">=5.1");
    }

    #[test]
    fn constraint_minors() {
        assert_eq!(constraint_minor(">=5.2,<6.0").as_deref(), Some("5.2"));
        assert_eq!(constraint_minor("^5.1").as_deref(), Some("5.1"));
        assert_eq!(constraint_minor("~5.2").as_deref(), Some("5.2"));
        assert_eq!(constraint_minor("~=5.2.0").as_deref(), Some("5.2"));
        assert_eq!(constraint_minor("==5.2.19").as_deref(), Some("5.2"));
        assert_eq!(constraint_minor("*"), None);
    }

    #[test]
    fn paths_fold_dots() {
        assert_eq!(
            normalize_path("requirements/../requirements/base.txt"),
            "requirements/base.txt"
        );
        assert_eq!(normalize_path("./a//b"), "a/b");
    }
}
