//! The Python version for the image, from every constraint a Django project states.
//!
//! A project says which Python it wants in several places: `.python-version`,
//! `runtime.txt`, `Pipfile`'s `python_version`, an existing Dockerfile's
//! `FROM python:X.Y`, `requires-python` in `pyproject.toml` and Poetry's `python`
//! dependency. The readers here turn one file's text into the spec of a [`Constraint`]
//! (callers read the files and name the sources); [`choose`] weighs them together with
//! the project's Django version and picks an `X.Y`, saying which source decided.
//!
//! djrun builds images for Python 3.8 to 3.14. Versions are thought of as minors: Python
//! 3.11 satisfies a constraint when some release of 3.11 does, so `>=3.11.4` allows 3.11,
//! and `>3.12` allows 3.12 (3.12.1 > 3.12 under PEP 440, whose rule that `>V` excludes
//! some versions only covers post-releases of `V`). When several constraints apply, one
//! release has to satisfy all of them: `>=3.11.4` and `<3.11.2` together allow no 3.11.

use crate::{Error, Result};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// The oldest Python minor djrun builds images for (3.8).
const OLDEST_MINOR: u64 = 8;
/// The newest stable Python minor (3.14). No Django release supports 3.15 yet.
const NEWEST_MINOR: u64 = 14;
/// The Pythons djrun builds, for messages.
const BUILDABLE: &str = "3.8 to 3.14";
/// The end of every hint that tells the user how to decide for djrun.
const OR_PASS: &str = "or pass `--python X.Y`";

/// When each Python minor stops getting security fixes (PEP 569, 596, 619, 664, 693, 745):
/// `(minor, year, month)`.
const END_OF_LIFE: &[(u64, i64, u32)] = &[
    (8, 2024, 10),
    (9, 2025, 10),
    (10, 2026, 10),
    (11, 2027, 10),
    (12, 2028, 10),
    (13, 2029, 10),
    (14, 2030, 10),
];

/// The minor of a Python `3.Y` (`3.9` -> 9).
pub fn minor_of(version: &str) -> Option<u64> {
    version.strip_prefix("3.")?.parse().ok()
}

/// `Some("October 2025")` when Python `version` (`3.9`) is past its end of life at `today`
/// (`(year, month)`), else `None`.
pub fn end_of_life_at(version: &str, today: (i64, u32)) -> Option<String> {
    let minor = minor_of(version)?;
    let (year, month) = END_OF_LIFE
        .iter()
        .find(|(m, _, _)| *m == minor)
        .map(|(_, y, mo)| (*y, *mo))?;
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    ((year, month) < today).then(|| format!("{} {year}", MONTHS[(month - 1) as usize]))
}

/// The oldest Python minor still getting security fixes today (`3.11`).
pub fn oldest_supported() -> String {
    let today = this_month();
    END_OF_LIFE
        .iter()
        .find(|(_, y, m)| (*y, *m) >= today)
        .map_or_else(
            || format!("3.{NEWEST_MINOR}"),
            |(minor, _, _)| format!("3.{minor}"),
        )
}

/// [`end_of_life_at`] today.
pub fn end_of_life(version: &str) -> Option<String> {
    end_of_life_at(version, this_month())
}

/// The current `(year, month)`, in UTC: by `SOURCE_DATE_EPOCH` when it is set, as tools with
/// reproducible output read it, else by the system clock.
fn this_month() -> (i64, u32) {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    // Howard Hinnant's civil-from-days.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// One statement about the Python version, and where it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// What the source says, as written: `3.12` for a pin, `>=3.10,<3.13` for a range,
    /// `^3.11` for Poetry.
    pub spec: String,
    /// Where it was said, for messages: a file, optionally followed by the setting in
    /// parentheses (`.python-version`, `pyproject.toml (requires-python)`). A pin whose
    /// file is a Dockerfile or Containerfile (`Dockerfile`, `docker/Dockerfile.prod`) is
    /// only a hint; see [`choose`].
    pub source: String,
    /// How to read `spec`.
    pub kind: ConstraintKind,
}

impl Constraint {
    /// A [`ConstraintKind::Pin`] from `source`.
    pub fn pin(spec: impl Into<String>, source: impl Into<String>) -> Self {
        Constraint {
            spec: spec.into(),
            source: source.into(),
            kind: ConstraintKind::Pin,
        }
    }

    /// A [`ConstraintKind::Range`] from `source`.
    pub fn range(spec: impl Into<String>, source: impl Into<String>) -> Self {
        Constraint {
            spec: spec.into(),
            source: source.into(),
            kind: ConstraintKind::Range,
        }
    }

    /// A [`ConstraintKind::Poetry`] constraint from `source`.
    pub fn poetry(spec: impl Into<String>, source: impl Into<String>) -> Self {
        Constraint {
            spec: spec.into(),
            source: source.into(),
            kind: ConstraintKind::Poetry,
        }
    }
}

/// How a [`Constraint`]'s spec is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// An exact `X.Y` (or `X.Y.Z`) wish: `.python-version`, `runtime.txt`, `Pipfile`'s
    /// `python_version`, a Dockerfile's `FROM python:X.Y`.
    Pin,
    /// PEP 440 specifiers, as in `requires-python`: `>=`, `>`, `<=`, `<`, `==` (and
    /// `==X.Y.*`), `!=` (and `!=X.Y.*`), `~=`, `===`, comma-separated, whitespace anywhere.
    Range,
    /// Poetry's constraint syntax, as in `[tool.poetry.dependencies] python`: `^3.11`,
    /// `~3.11`, `~=3.11`, `>=3.10,<3.13` (comma or space means "and"), `3.12.*`, `*`,
    /// a bare `3.11` (meaning `==3.11.*`), and `||` or `|` between alternatives.
    Poetry,
}

/// The Python version for the image and what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// `X.Y`, such as `3.13`.
    pub version: String,
    /// What decided it, for people: `.python-version`, `.python-version (Dockerfile says
    /// 3.11)`, `newest Python that satisfies pyproject.toml (requires-python >=3.11) and
    /// Django 5.2`.
    pub source: String,
}

/// Choose the Python version from every constraint and the Django version (`X.Y` from
/// the dependencies; `None` when unknown).
///
/// - The first pin (in the given order, so list them as trusted: `.python-version`,
///   `runtime.txt`, `Pipfile`, then the Dockerfile) that every range, Poetry constraint
///   and Django allows wins; pins that disagree with it are listed in the source text. A pin that
///   is not a Python version, is outside 3.8 to 3.14, or breaks a range or Django's
///   supported Pythons is an input error, unless it comes from a Dockerfile: an
///   existing image may be stale, so such a pin is only used when it fits, and is
///   otherwise ignored (and mentioned in the source text).
/// - Without a usable pin: the newest Python from 3.8 to 3.14 that every range, Poetry
///   constraint and Django allows; an input error naming the constraints when there is
///   none.
/// - Django's supported Pythons by feature release: 3.2 → 3.6–3.10, 4.0 → 3.8–3.10,
///   4.1 → 3.8–3.11, 4.2 → 3.8–3.12, 5.0 → 3.10–3.12, 5.1 → 3.10–3.13, 5.2 → 3.10–3.14,
///   6.0 and later → 3.12–3.14. An unknown Django limits nothing.
/// - Ranges or Poetry constraints djrun cannot read are input errors naming the source
///   and the spec.
pub fn choose(constraints: &[Constraint], django: Option<&str>) -> Result<Choice> {
    let django = DjangoPythons::new(django)?;
    let mut specs: Vec<Parsed<'_>> = Vec::new();
    let mut pins: Vec<&Constraint> = Vec::new();
    for constraint in constraints {
        let spec = match constraint.kind {
            ConstraintKind::Pin => {
                pins.push(constraint);
                continue;
            }
            ConstraintKind::Range => parse_pep440(&constraint.spec),
            ConstraintKind::Poetry => parse_poetry(&constraint.spec),
        };
        let spec = spec.map_err(|why| unreadable(constraint, &why))?;
        specs.push(Parsed { constraint, spec });
    }

    // Pins: the first that fits wins; Dockerfile pins that do not fit are dropped.
    let mut winner: Option<(&Constraint, (u64, u64))> = None;
    let mut others: Vec<String> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    for pin in pins {
        let hint_only = is_dockerfile(&pin.source);
        let Some(version) = parse_pin(&pin.spec) else {
            if hint_only {
                continue;
            }
            let file = file_of(&pin.source);
            return Err(Error::input_hint(
                format!(
                    "{} says `{}`, which is not a Python version",
                    shown(&pin.source),
                    pin.spec.trim()
                ),
                format!("write a version such as `3.13` in `{file}`, {OR_PASS}"),
            ));
        };
        let (major, minor) = version;
        if let Some((_, won)) = winner {
            if won != version {
                others.push(format!("{} says {major}.{minor}", pin.source));
            }
            continue;
        }
        match check_pin(pin, version, &specs, django.as_ref()) {
            Ok(()) => winner = Some((pin, version)),
            Err((why, _)) if hint_only => {
                others.push(format!("{} says {major}.{minor}", pin.source));
                ignored.push(format!(
                    "{} says {major}.{minor}, ignored: {why}",
                    pin.source
                ));
            }
            Err((why, hint)) => {
                return Err(Error::input_hint(
                    format!(
                        "{} asks for Python {major}.{minor}, but {why}",
                        shown(&pin.source)
                    ),
                    hint,
                ))
            }
        }
    }
    if let Some((pin, (major, minor))) = winner {
        let mut source = pin.source.clone();
        if !others.is_empty() {
            source = format!("{source} ({})", others.join(", "));
        }
        return Ok(Choice {
            version: format!("{major}.{minor}"),
            source,
        });
    }

    // No pin: the newest Python everything allows.
    let all: Vec<&Spec> = specs.iter().map(|p| &p.spec).collect();
    let newest = (OLDEST_MINOR..=NEWEST_MINOR)
        .rev()
        .find(|&m| django.as_ref().is_none_or(|d| d.allows(m)) && satisfiable(m, &all));
    let Some(minor) = newest else {
        return Err(no_version(&specs, django.as_ref()));
    };
    let mut source = if specs.is_empty() {
        match &django {
            Some(d) => format!("newest Python that Django {} supports", d.name),
            None => "newest Python that current Django supports".to_string(),
        }
    } else {
        let mut parts: Vec<String> = specs
            .iter()
            .map(|p| with_spec(&p.constraint.source, &p.constraint.spec))
            .collect();
        if let Some(d) = &django {
            parts.push(format!("Django {}", d.name));
        }
        format!("newest Python that satisfies {}", join_and(&parts))
    };
    if !ignored.is_empty() {
        source = format!("{source} ({})", ignored.join("; "));
    }
    Ok(Choice {
        version: format!("3.{minor}"),
        source,
    })
}

/// The version `.python-version` asks for, as `X.Y`: the first entry of the first line
/// that is not empty or a comment (pyenv lists fallbacks after it).
///
/// `3.12.4`, `3.12`, `3.13t`, `3.12-dev`, `3.12.4/envs/app`, uv's `cpython@3.12` and
/// `cpython-3.12.4-linux-x86_64-gnu` all read as the CPython minor. PyPy's `pypy3.10`
/// reads as `3.10`, the Python language it implements. `system`, a bare major (`3`,
/// "any Python 3") and names such as a pyenv virtualenv or `miniconda3-latest` state no
/// version: `None`. An entry that starts like a number but is not `X.Y` is returned as
/// written, so [`choose`] reports it.
pub fn from_python_version_file(text: &str) -> Option<String> {
    let line = first_line(text)?;
    let token = line.split_whitespace().next()?;
    let lower = token.to_ascii_lowercase();
    if lower == "system" {
        return None;
    }
    const PREFIXES: &[&str] = &[
        "cpython-", "cpython@", "cpython", "python-", "python@", "python", "pypy-", "pypy@", "pypy",
    ];
    let bare = PREFIXES
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .unwrap_or(&lower);
    pin_from(bare, token)
}

/// The version `runtime.txt` (Heroku's format) asks for, as `X.Y`: `python-3.12.1` →
/// `3.12`. A bare `3.12.1` is read too. Another runtime (`pypy3`, `ruby-3.2`) states no
/// Python version: `None`. A `python-` line that is not `X.Y` is returned as written,
/// so [`choose`] reports it.
pub fn from_runtime_txt(text: &str) -> Option<String> {
    let line = first_line(text)?;
    let lower = line.to_ascii_lowercase();
    match lower.strip_prefix("python-") {
        Some(rest) => match leading_version(rest) {
            Some((major, minor)) => Some(format!("{major}.{minor}")),
            None => Some(line.to_string()),
        },
        None => pin_from(&lower, line),
    }
}

/// The version an existing Dockerfile builds on, as `X.Y`: the tag of the last `FROM`
/// that names a `python` image with a versioned tag (the stage nearest to what runs).
///
/// Reads `FROM python:3.12-slim`, `FROM python:3.13`, `FROM --platform=$BUILDPLATFORM
/// docker.io/library/python:3.11.4-bookworm AS build` and digests (`@sha256:…`).
/// `${VAR}`, `$VAR` and `${VAR:-default}` in a `FROM` are filled from `ARG` defaults
/// given before the first `FROM` (`ARG PYTHON_VERSION=3.12`); a `FROM` that uses an
/// argument without a default, or an untagged or `latest` image, states nothing.
pub fn from_dockerfile(text: &str) -> Option<String> {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut in_stage = false;
    let mut found = None;
    for instruction in dockerfile_instructions(text) {
        let instruction = instruction.trim();
        let (keyword, rest) = instruction
            .split_once(char::is_whitespace)
            .unwrap_or((instruction, ""));
        if keyword.eq_ignore_ascii_case("ARG") {
            // Only arguments declared before the first FROM are visible to FROM lines.
            if in_stage {
                continue;
            }
            for declaration in rest.split_whitespace() {
                if let Some((name, value)) = declaration.split_once('=') {
                    args.insert(name.to_string(), unquote(value).to_string());
                }
            }
        } else if keyword.eq_ignore_ascii_case("FROM") {
            in_stage = true;
            let version = rest
                .split_whitespace()
                .find(|word| !word.starts_with("--"))
                .and_then(|image| expand_args(image, &args))
                .and_then(|image| python_image_version(&image));
            if let Some((major, minor)) = version {
                found = Some(format!("{major}.{minor}"));
            }
        }
    }
    found
}

/// The version `Pipfile` asks for, as `X.Y`: `[requires] python_version`, else
/// `python_full_version`. `None` when neither is set or the file is not valid TOML.
/// A value that starts like a number but is not `X.Y` is returned as written, so
/// [`choose`] reports it.
pub fn from_pipfile(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let requires = doc.get("requires")?;
    let raw = requires
        .get("python_version")
        .and_then(|v| v.as_str())
        .or_else(|| requires.get("python_full_version").and_then(|v| v.as_str()))?
        .trim();
    pin_from(raw, raw)
}

/// `[project] requires-python` from `pyproject.toml`, as written (a
/// [`ConstraintKind::Range`] spec). `None` when it is not set, is empty, or the file is
/// not valid TOML.
pub fn from_requires_python(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let spec = doc.get("project")?.get("requires-python")?.as_str()?.trim();
    (!spec.is_empty()).then(|| spec.to_string())
}

/// `[tool.poetry.dependencies] python` from `pyproject.toml`, as written (a
/// [`ConstraintKind::Poetry`] spec); the `version` key when it is a table. `None` when
/// it is not set, is empty, or the file is not valid TOML.
pub fn from_poetry(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let python = doc
        .get("tool")?
        .get("poetry")?
        .get("dependencies")?
        .get("python")?;
    let spec = python
        .as_str()
        .or_else(|| python.get("version").and_then(|v| v.as_str()))?
        .trim();
    (!spec.is_empty()).then(|| spec.to_string())
}

/// A range or Poetry constraint with its parsed spec.
struct Parsed<'a> {
    constraint: &'a Constraint,
    spec: Spec,
}

/// The Pythons a Django feature release supports.
struct DjangoPythons {
    /// `5.2`.
    name: String,
    /// The oldest supported 3.x minor.
    oldest: u64,
    /// The newest supported 3.x minor.
    newest: u64,
}

impl DjangoPythons {
    /// Django's supported Pythons, or `None` when the version is unknown (or not
    /// `X.Y`). A Django too old for any Python djrun builds is an input error.
    fn new(django: Option<&str>) -> Result<Option<Self>> {
        let Some(name) = django.map(str::trim).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let Some((major, minor)) = leading_version(name) else {
            return Ok(None);
        };
        let (oldest, newest) = match (major, minor) {
            (0..=1, _) | (2, 0) => (4, 7),
            (2, 1) => (5, 7),
            (2, _) => (5, 9),
            (3, 0..=1) => (6, 9),
            (3, _) => (6, 10),
            (4, 0) => (8, 10),
            (4, 1) => (8, 11),
            (4, _) => (8, 12),
            (5, 0) => (10, 12),
            (5, 1) => (10, 13),
            (5, _) => (10, 14),
            _ => (12, 14),
        };
        let name = format!("{major}.{minor}");
        if newest < OLDEST_MINOR {
            return Err(Error::input_hint(
                format!(
                    "Django {name} supports Python 3.{oldest} to 3.{newest}, older than any Python djrun builds ({BUILDABLE})"
                ),
                "upgrade Django to 4.2 or newer in your dependencies and run djrun again",
            ));
        }
        Ok(Some(DjangoPythons {
            name,
            oldest,
            newest,
        }))
    }

    /// Whether Django supports Python 3.`minor`.
    fn allows(&self, minor: u64) -> bool {
        (self.oldest..=self.newest).contains(&minor)
    }

    /// `Django 5.2 needs 3.10 to 3.14`.
    fn needs(&self) -> String {
        format!(
            "Django {} needs 3.{} to 3.{}",
            self.name, self.oldest, self.newest
        )
    }
}

/// Why a pin does not fit, and the hint, or `Ok` when it does.
fn check_pin(
    pin: &Constraint,
    (major, minor): (u64, u64),
    specs: &[Parsed<'_>],
    django: Option<&DjangoPythons>,
) -> std::result::Result<(), (String, String)> {
    let file = file_of(&pin.source);
    if major != 3 || !(OLDEST_MINOR..=NEWEST_MINOR).contains(&minor) {
        return Err((
            format!("djrun builds Python {BUILDABLE}"),
            format!("write a version from {BUILDABLE} in `{file}`, {OR_PASS}"),
        ));
    }
    for parsed in specs {
        if !satisfiable(minor, &[&parsed.spec]) {
            let other = &parsed.constraint;
            return Err((
                format!("{} allows `{}`", shown(&other.source), other.spec.trim()),
                format!(
                    "write a version that `{}` allows in `{file}`, change that constraint, {OR_PASS}",
                    file_of(&other.source)
                ),
            ));
        }
    }
    if let Some(d) = django {
        if !d.allows(minor) {
            return Err((
                d.needs(),
                format!("write a supported version in `{file}`, {OR_PASS}"),
            ));
        }
    }
    let all: Vec<&Spec> = specs.iter().map(|p| &p.spec).collect();
    if !satisfiable(minor, &all) {
        let listed: Vec<String> = specs
            .iter()
            .map(|p| shown_with_spec(&p.constraint.source, &p.constraint.spec))
            .collect();
        return Err((
            format!(
                "no release of 3.{minor} satisfies {} together",
                join_and(&listed)
            ),
            format!("write a version they all allow in `{file}`, {OR_PASS}"),
        ));
    }
    Ok(())
}

/// The error when no Python satisfies the ranges and Django: names the smallest set of
/// constraints that conflicts.
fn no_version(specs: &[Parsed<'_>], django: Option<&DjangoPythons>) -> Error {
    let any = |set: &[&Spec], with_django: bool| {
        (OLDEST_MINOR..=NEWEST_MINOR)
            .any(|m| (!with_django || django.is_none_or(|d| d.allows(m))) && satisfiable(m, set))
    };
    for parsed in specs {
        let c = parsed.constraint;
        if !any(&[&parsed.spec], false) {
            return Error::input_hint(
                format!(
                    "{} allows `{}`, which no Python djrun builds ({BUILDABLE}) satisfies",
                    shown(&c.source),
                    c.spec.trim()
                ),
                format!(
                    "change that constraint in `{}` to include a version from {BUILDABLE}, {OR_PASS}",
                    file_of(&c.source)
                ),
            );
        }
    }
    if let Some(d) = django {
        for parsed in specs {
            let c = parsed.constraint;
            if !any(&[&parsed.spec], true) {
                return Error::input_hint(
                    format!(
                        "{} allows `{}`, but {}",
                        shown(&c.source),
                        c.spec.trim(),
                        d.needs()
                    ),
                    format!(
                        "change that constraint in `{}` or the Django version so they share a Python version, {OR_PASS}",
                        file_of(&c.source)
                    ),
                );
            }
        }
    }
    let mut listed: Vec<String> = specs
        .iter()
        .map(|p| shown_with_spec(&p.constraint.source, &p.constraint.spec))
        .collect();
    if let Some(d) = django {
        listed.push(format!(
            "Django {} (3.{} to 3.{})",
            d.name, d.oldest, d.newest
        ));
    }
    Error::input_hint(
        format!("no Python version satisfies {} together", join_and(&listed)),
        format!("change the constraints so they share a version from {BUILDABLE}, {OR_PASS}"),
    )
}

/// The input error for a range or Poetry constraint djrun cannot read.
fn unreadable(c: &Constraint, why: &str) -> Error {
    let example = match c.kind {
        ConstraintKind::Poetry => "a Poetry constraint such as `^3.11` or `>=3.10,<3.14`",
        _ => "PEP 440 specifiers such as `>=3.11` or `>=3.10,<3.14`",
    };
    Error::input_hint(
        format!(
            "{} says `{}`, which djrun cannot read: {why}",
            shown(&c.source),
            c.spec.trim()
        ),
        format!("write {example} in `{}`, {OR_PASS}", file_of(&c.source)),
    )
}

/// Whether a Dockerfile (or Containerfile) made this statement.
fn is_dockerfile(source: &str) -> bool {
    let file = file_of(source).to_ascii_lowercase();
    let name = file.rsplit('/').next().unwrap_or(&file);
    name.contains("dockerfile") || name.contains("containerfile")
}

/// The file part of a source: `pyproject.toml (requires-python)` → `pyproject.toml`.
fn file_of(source: &str) -> &str {
    source
        .split_once(" (")
        .map_or(source, |(file, _)| file)
        .trim()
}

/// A source for messages, its file in backticks: `` `pyproject.toml` (requires-python) ``.
fn shown(source: &str) -> String {
    match source.split_once(" (") {
        Some((file, rest)) => format!("`{file}` ({rest}"),
        None => format!("`{source}`"),
    }
}

/// A source with its spec, for messages: `` `pyproject.toml` (requires-python `>=3.11`) ``.
fn shown_with_spec(source: &str, spec: &str) -> String {
    let spec = spec.trim();
    match source.split_once(" (") {
        Some((file, rest)) if rest.ends_with(')') => {
            format!("`{file}` ({} `{spec}`)", &rest[..rest.len() - 1])
        }
        _ => format!("`{source}` (`{spec}`)"),
    }
}

/// A source with its spec: `pyproject.toml (requires-python >=3.11)`.
fn with_spec(source: &str, spec: &str) -> String {
    let spec = spec.split_whitespace().collect::<Vec<_>>().join(" ");
    match source.strip_suffix(')') {
        Some(open) if open.contains(" (") => format!("{open} {spec})"),
        _ => format!("{source} ({spec})"),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The first line that is neither empty nor a comment, trimmed.
fn first_line(text: &str) -> Option<&str> {
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// `X.Y` from a pin file's entry (`bare`, lowercased and without an interpreter prefix):
/// `None` for a bare major or a name, `raw` for a malformed number.
fn pin_from(bare: &str, raw: &str) -> Option<String> {
    if let Some((major, minor)) = leading_version(bare) {
        return Some(format!("{major}.{minor}"));
    }
    let starts_with_digit = bare.starts_with(|c: char| c.is_ascii_digit());
    let bare_major = bare.chars().all(|c| c.is_ascii_digit());
    (starts_with_digit && !bare_major).then(|| raw.to_string())
}

/// `(X, Y)` from text that starts with `X.Y` (anything may follow).
fn leading_version(text: &str) -> Option<(u64, u64)> {
    let (major, rest) = leading_number(text)?;
    let (minor, _) = leading_number(rest.strip_prefix('.')?)?;
    Some((major, minor))
}

/// A number at the start of `text`, and the rest.
fn leading_number(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    Some((text[..end].parse().ok()?, &text[end..]))
}

/// `(X, Y)` from a pin's spec: `X.Y` or `X.Y.Z`, nothing else.
fn parse_pin(spec: &str) -> Option<(u64, u64)> {
    let spec = spec.trim();
    let parts: Vec<&str> = spec.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    Some((parts[0].parse().ok()?, parts[1].parse().ok()?))
}

/// A Dockerfile's instructions: continuation lines joined, comments and blank lines
/// dropped.
fn dockerfile_instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        out.push(std::mem::take(&mut current));
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// A value without surrounding quotes.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// `text` with `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME-default}` filled from
/// `args`; `None` when a name has no value and no default, or the syntax is another.
fn expand_args(text: &str, args: &HashMap<String, String>) -> Option<String> {
    let is_name =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let lookup = |name: &str| args.get(name).filter(|v| !v.is_empty()).cloned();
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let value = if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}')?;
            let expression = &inner[..end];
            rest = &inner[end + 1..];
            let (name, default) = match expression.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => match expression.split_once('-') {
                    Some((name, default)) => (name, Some(default)),
                    None => (expression, None),
                },
            };
            if !is_name(name) {
                return None;
            }
            lookup(name).or_else(|| default.map(str::to_string))?
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            rest = &rest[end..];
            if !is_name(name) {
                return None;
            }
            lookup(name)?
        };
        out.push_str(&value);
    }
    out.push_str(rest);
    Some(out)
}

/// `(X, Y)` from an image reference whose repository is `python` and whose tag starts
/// with `X.Y`: `docker.io/library/python:3.11.4-bookworm@sha256:…` → `(3, 11)`.
fn python_image_version(image: &str) -> Option<(u64, u64)> {
    let image = image.split('@').next()?;
    let colon = image.rfind(':')?;
    let (name, tag) = (&image[..colon], &image[colon + 1..]);
    if tag.contains('/') {
        // A registry port (`host:5000/python`), not a tag.
        return None;
    }
    let repository = name.rsplit('/').next()?;
    if !repository.eq_ignore_ascii_case("python") {
        return None;
    }
    leading_version(tag)
}

// ---------------------------------------------------------------------------------------
// Version specifiers.

/// Where a version stands against the final release of its release numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    /// A pre-release or development release (`3.13.0rc1`, `3.13.0.dev1`): just before.
    Pre,
    /// A final release.
    Final,
    /// A post-release (`3.12.0.post1`): just after.
    Post,
}

/// A version named in a specifier. Candidates are always final releases, so a suffix
/// only matters as "just before" or "just after" its release numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    release: Vec<u64>,
    suffix: Suffix,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    /// `==X.Y.*`.
    EqPrefix,
    /// `!=X.Y.*`.
    NePrefix,
}

/// One comparison against a version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    op: Op,
    version: Version,
}

/// Alternatives (any of) of clauses that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    any_of: Vec<Vec<Clause>>,
}

impl Spec {
    /// Whether the final release `release` satisfies this spec.
    fn matches(&self, release: &[u64]) -> bool {
        self.any_of
            .iter()
            .any(|all| all.iter().all(|clause| clause.matches(release)))
    }
}

impl Clause {
    /// Whether the final release `release` satisfies this clause.
    fn matches(&self, release: &[u64]) -> bool {
        let order = compare(release, &self.version);
        match self.op {
            Op::Lt => order == Ordering::Less,
            Op::Le => order != Ordering::Greater,
            Op::Gt => order == Ordering::Greater,
            Op::Ge => order != Ordering::Less,
            Op::Eq => order == Ordering::Equal,
            Op::Ne => order != Ordering::Equal,
            Op::EqPrefix => has_prefix(release, &self.version.release),
            Op::NePrefix => !has_prefix(release, &self.version.release),
        }
    }
}

/// A final release against a version, padding the shorter with zeros (PEP 440).
fn compare(release: &[u64], version: &Version) -> Ordering {
    let n = release.len().max(version.release.len());
    (0..n)
        .map(|i| {
            let a = release.get(i).copied().unwrap_or(0);
            let b = version.release.get(i).copied().unwrap_or(0);
            a.cmp(&b)
        })
        .find(|o| o.is_ne())
        .unwrap_or_else(|| Suffix::Final.cmp(&version.suffix))
}

/// Whether `release`, padded with zeros, starts with `prefix`.
fn has_prefix(release: &[u64], prefix: &[u64]) -> bool {
    prefix
        .iter()
        .enumerate()
        .all(|(i, n)| release.get(i).copied().unwrap_or(0) == *n)
}

/// Whether some release of Python 3.`minor` satisfies every spec at once.
///
/// Whether a release 3.`minor`.p satisfies a clause changes only next to the patch
/// numbers the clauses name, so trying p = 0 and each named patch and its neighbours
/// decides it exactly.
fn satisfiable(minor: u64, specs: &[&Spec]) -> bool {
    let mut patches = BTreeSet::from([0u64]);
    for spec in specs {
        for clause in spec.any_of.iter().flatten() {
            let release = &clause.version.release;
            if release.first() == Some(&3) && release.get(1).copied().unwrap_or(0) == minor {
                let patch = release.get(2).copied().unwrap_or(0);
                patches.extend([patch.saturating_sub(1), patch, patch.saturating_add(1)]);
            }
        }
    }
    patches
        .into_iter()
        .any(|patch| specs.iter().all(|spec| spec.matches(&[3, minor, patch])))
}

/// PEP 440 specifiers, comma-separated, whitespace anywhere. Empty means any version.
fn parse_pep440(text: &str) -> std::result::Result<Spec, String> {
    let mut all = Vec::new();
    for part in text.split(',') {
        let clause: String = part.chars().filter(|c| !c.is_whitespace()).collect();
        if !clause.is_empty() {
            all.extend(parse_pep440_clause(&clause)?);
        }
    }
    Ok(Spec { any_of: vec![all] })
}

/// One PEP 440 specifier (no whitespace): `>=3.11`, `==3.12.*`, `~=3.11.2`.
fn parse_pep440_clause(clause: &str) -> std::result::Result<Vec<Clause>, String> {
    const OPS: &[&str] = &["===", "~=", "==", "!=", "<=", ">=", "<", ">"];
    let Some((op, rest)) = OPS
        .iter()
        .find_map(|op| clause.strip_prefix(op).map(|rest| (*op, rest)))
    else {
        return Err(if clause.starts_with(|c: char| c.is_ascii_digit()) {
            format!("`{clause}` has no comparison; write `>={clause}` or `=={clause}.*`")
        } else {
            format!("`{clause}` is not a version specifier")
        });
    };
    if rest.is_empty() {
        return Err(format!("`{op}` has no version after it"));
    }
    let clause_of = |op: Op, version: Version| Clause { op, version };
    match op {
        "==" | "!=" => {
            if let Some(prefix) = rest.strip_suffix(".*") {
                let version = parse_final(prefix)?;
                let op = if op == "==" {
                    Op::EqPrefix
                } else {
                    Op::NePrefix
                };
                Ok(vec![clause_of(op, version)])
            } else {
                let op = if op == "==" { Op::Eq } else { Op::Ne };
                Ok(vec![clause_of(op, parse_version(rest)?)])
            }
        }
        "===" => Ok(vec![clause_of(Op::Eq, parse_version(rest)?)]),
        "~=" => compatible(rest),
        _ => {
            if rest.contains('*') {
                return Err(format!(
                    "`{clause}`: a `.*` wildcard only works with `==` and `!=`"
                ));
            }
            let op = match op {
                "<=" => Op::Le,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                _ => Op::Gt,
            };
            Ok(vec![clause_of(op, parse_version(rest)?)])
        }
    }
}

/// `~=V`: `>=V` and the same release numbers but the last (`~=3.11.2` → `>=3.11.2,==3.11.*`).
fn compatible(text: &str) -> std::result::Result<Vec<Clause>, String> {
    let version = parse_version(text)?;
    if version.release.len() < 2 {
        return Err(format!(
            "`~={text}` needs at least two numbers, such as `~={text}.0`"
        ));
    }
    let prefix = Version {
        release: version.release[..version.release.len() - 1].to_vec(),
        suffix: Suffix::Final,
    };
    Ok(vec![
        Clause {
            op: Op::Ge,
            version,
        },
        Clause {
            op: Op::EqPrefix,
            version: prefix,
        },
    ])
}

/// Poetry's constraint syntax: `||` or `|` between alternatives; within one, constraints
/// separated by commas or spaces. Empty means any version.
fn parse_poetry(text: &str) -> std::result::Result<Spec, String> {
    if text.trim().is_empty() {
        return Ok(Spec {
            any_of: vec![Vec::new()],
        });
    }
    let mut any_of = Vec::new();
    for alternative in text.replace("||", "|").split('|') {
        let words: Vec<&str> = alternative
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Err("an alternative around `||` is empty".to_string());
        }
        // `>= 3.10` is one constraint: join an operator to the version after it.
        let mut all = Vec::new();
        let mut pending = String::new();
        for word in words {
            if word.chars().all(|c| "<>=!~^".contains(c)) {
                pending.push_str(word);
                continue;
            }
            let term = format!("{pending}{word}");
            pending.clear();
            all.extend(parse_poetry_term(&term)?);
        }
        if !pending.is_empty() {
            return Err(format!("`{pending}` has no version after it"));
        }
        any_of.push(all);
    }
    Ok(Spec { any_of })
}

/// One Poetry constraint: `^3.11`, `~3.11`, `~=3.11`, `>=3.10`, `==3.12.*`, `3.12.*`,
/// `3.11`, `*`.
fn parse_poetry_term(term: &str) -> std::result::Result<Vec<Clause>, String> {
    if term == "*" {
        return Ok(Vec::new());
    }
    if let Some(rest) = term.strip_prefix("~=") {
        return compatible(rest);
    }
    if let Some(rest) = term.strip_prefix('^') {
        let version = parse_version(rest)?;
        let release = &version.release;
        let first_nonzero = release
            .iter()
            .position(|&n| n != 0)
            .unwrap_or(release.len() - 1);
        let mut upper = release[..first_nonzero].to_vec();
        upper.push(release[first_nonzero].saturating_add(1));
        return Ok(bounded(version, upper));
    }
    if let Some(rest) = term.strip_prefix('~') {
        let version = parse_version(rest)?;
        let release = &version.release;
        let upper = match release.as_slice() {
            [major] => vec![major.saturating_add(1)],
            [major, minor, ..] => vec![*major, minor.saturating_add(1)],
            [] => return Err(format!("`{rest}` is not a version")),
        };
        return Ok(bounded(version, upper));
    }
    const OPS: &[(&str, Op)] = &[
        ("==", Op::Eq),
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("<=", Op::Le),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
    ];
    let (op, rest) = OPS
        .iter()
        .find_map(|(text, op)| term.strip_prefix(text).map(|rest| (Some(*op), rest)))
        .unwrap_or((None, term));
    if rest.is_empty() {
        return Err(format!("`{term}` has no version after it"));
    }
    let (base, wildcard) = strip_wildcard(rest);
    let clause = match (op, wildcard) {
        // A bare version means any release of it: `3.11` is `==3.11.*`.
        (None, _) | (Some(Op::Eq), true) => Clause {
            op: Op::EqPrefix,
            version: parse_final(base)?,
        },
        (Some(Op::Ne), true) => Clause {
            op: Op::NePrefix,
            version: parse_final(base)?,
        },
        // `>=3.7.*` is read as `>=3.7`, as Poetry does.
        (Some(op), _) => Clause {
            op,
            version: parse_version(base)?,
        },
    };
    Ok(vec![clause])
}

/// `>=version,<upper`.
fn bounded(version: Version, upper: Vec<u64>) -> Vec<Clause> {
    vec![
        Clause {
            op: Op::Ge,
            version,
        },
        Clause {
            op: Op::Lt,
            version: Version {
                release: upper,
                suffix: Suffix::Final,
            },
        },
    ]
}

/// `3.12.*`, `3.12.x` → (`3.12`, true).
fn strip_wildcard(text: &str) -> (&str, bool) {
    for suffix in [".*", ".x", ".X"] {
        if let Some(base) = text.strip_suffix(suffix) {
            return (base, true);
        }
    }
    (text, false)
}

/// A version with no pre- or post-release part, for prefix matches.
fn parse_final(text: &str) -> std::result::Result<Version, String> {
    let version = parse_version(text)?;
    if version.suffix != Suffix::Final {
        return Err(format!(
            "`{text}.*`: a wildcard cannot follow a pre- or post-release"
        ));
    }
    Ok(version)
}

/// A PEP 440 version without epoch or local part: `3.11`, `v3.11.2`, `3.13.0rc1`,
/// `3.12.0.post1`, `3.13.0.dev2`.
fn parse_version(text: &str) -> std::result::Result<Version, String> {
    let not_a_version = || format!("`{text}` is not a version");
    let lower = text.trim().to_ascii_lowercase();
    let body = lower.strip_prefix('v').unwrap_or(&lower);
    if body.contains('!') {
        return Err(format!(
            "`{text}` has an epoch, which Python versions do not use"
        ));
    }
    if body.contains('+') {
        return Err(format!(
            "`{text}` has a local version label, which Python versions do not use"
        ));
    }
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (mut numbers, mut rest) = body.split_at(end);
    if let Some(trimmed) = numbers.strip_suffix('.') {
        if rest.is_empty() {
            return Err(not_a_version());
        }
        // `3.12.post1`: the dot separates the suffix.
        numbers = trimmed;
        rest = &body[end - 1..];
    }
    let release = numbers
        .split('.')
        .map(|n| {
            if n.is_empty() {
                None
            } else {
                n.parse::<u64>().ok()
            }
        })
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(not_a_version)?;
    let suffix = parse_suffix(rest).ok_or_else(not_a_version)?;
    Ok(Version { release, suffix })
}

/// The kind of a version's pre-, post- or development-release part (`rc1`, `.post1`,
/// `-1`, `.dev0`, `a1.dev2`), by its first segment. `None` when it is not one.
fn parse_suffix(text: &str) -> Option<Suffix> {
    let is_separator = |c: char| matches!(c, '.' | '-' | '_');
    let mut kind = None;
    let mut rest = text;
    while !rest.is_empty() {
        let implicit_post = rest.starts_with('-')
            && rest[1..].starts_with(|c: char| c.is_ascii_digit())
            && kind.is_none();
        rest = rest.strip_prefix(is_separator).unwrap_or(rest);
        let word_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        rest = &rest[word_end..];
        if !word.is_empty() {
            // `rc.1`, `post-2`: a separator may come before the number.
            if let Some(after) = rest.strip_prefix(is_separator) {
                if after.starts_with(|c: char| c.is_ascii_digit()) {
                    rest = after;
                }
            }
        }
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let digits = &rest[..digits_end];
        rest = &rest[digits_end..];
        let this = match word {
            "a" | "alpha" | "b" | "beta" | "c" | "rc" | "pre" | "preview" | "dev" => Suffix::Pre,
            "post" | "rev" | "r" => Suffix::Post,
            "" if implicit_post && !digits.is_empty() => Suffix::Post,
            _ => return None,
        };
        kind.get_or_insert(this);
    }
    Some(kind.unwrap_or(Suffix::Final))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_life_is_said_once_the_month_has_passed() {
        assert_eq!(
            end_of_life_at("3.9", (2026, 12)).as_deref(),
            Some("October 2025")
        );
        assert_eq!(
            end_of_life_at("3.10", (2026, 12)).as_deref(),
            Some("October 2026")
        );
        assert_eq!(end_of_life_at("3.10", (2026, 10)), None);
        assert_eq!(end_of_life_at("3.13", (2026, 12)), None);
        assert_eq!(end_of_life_at("2.7", (2026, 1)), None);
        // The clock (or SOURCE_DATE_EPOCH, if the test runner sets it) says a real month.
        let (year, month) = this_month();
        assert!((2024..2200).contains(&year) && (1..=12).contains(&month));
    }

    fn pick(constraints: &[Constraint], django: Option<&str>) -> Choice {
        choose(constraints, django).unwrap()
    }

    fn version(constraints: &[Constraint], django: Option<&str>) -> String {
        pick(constraints, django).version
    }

    fn range(spec: &str) -> Constraint {
        Constraint::range(spec, "pyproject.toml (requires-python)")
    }

    fn poetry(spec: &str) -> Constraint {
        Constraint::poetry(spec, "pyproject.toml (tool.poetry.dependencies.python)")
    }

    fn error(constraints: &[Constraint], django: Option<&str>) -> (String, String) {
        let err = choose(constraints, django).unwrap_err();
        (err.to_string(), err.hint().unwrap_or("").to_string())
    }

    // ----- readers

    #[test]
    fn python_version_file_reads_the_first_entry_as_a_minor() {
        assert_eq!(
            from_python_version_file("3.12.4\n").as_deref(),
            Some("3.12")
        );
        assert_eq!(from_python_version_file("3.12").as_deref(), Some("3.12"));
        assert_eq!(
            from_python_version_file("# pinned\n\n  3.11.2  \n3.10\n").as_deref(),
            Some("3.11")
        );
        assert_eq!(from_python_version_file("3.13t\n").as_deref(), Some("3.13"));
        assert_eq!(
            from_python_version_file("3.12-dev").as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_python_version_file("3.12.4/envs/app").as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_python_version_file("cpython@3.12").as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_python_version_file("cpython-3.12.4-linux-x86_64-gnu").as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_python_version_file("pypy3.10-7.3.12").as_deref(),
            Some("3.10")
        );
        assert_eq!(
            from_python_version_file("3.12.4 3.11.9").as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_python_version_file("\u{feff}3.13\n").as_deref(),
            Some("3.13")
        );
    }

    #[test]
    fn python_version_file_that_names_no_version_states_nothing() {
        assert_eq!(from_python_version_file(""), None);
        assert_eq!(from_python_version_file("# only a comment\n\n"), None);
        assert_eq!(from_python_version_file("system\n"), None);
        assert_eq!(from_python_version_file("3\n"), None);
        assert_eq!(from_python_version_file("my-virtualenv\n"), None);
        assert_eq!(from_python_version_file("miniconda3-latest\n"), None);
        // A malformed number is kept, so choose() reports it.
        assert_eq!(from_python_version_file("3.x\n").as_deref(), Some("3.x"));
    }

    #[test]
    fn runtime_txt_reads_herokus_format() {
        assert_eq!(from_runtime_txt("python-3.12.1\n").as_deref(), Some("3.12"));
        assert_eq!(from_runtime_txt("python-3.11").as_deref(), Some("3.11"));
        assert_eq!(from_runtime_txt("Python-3.10.4").as_deref(), Some("3.10"));
        assert_eq!(from_runtime_txt("3.9.2").as_deref(), Some("3.9"));
        assert_eq!(from_runtime_txt(""), None);
        assert_eq!(from_runtime_txt("ruby-3.2.0"), None);
        assert_eq!(from_runtime_txt("python-3").as_deref(), Some("python-3"));
    }

    #[test]
    fn dockerfile_reads_the_last_python_stage() {
        assert_eq!(
            from_dockerfile("FROM python:3.12-slim\nRUN pip install x\n").as_deref(),
            Some("3.12")
        );
        assert_eq!(from_dockerfile("FROM python:3.13").as_deref(), Some("3.13"));
        assert_eq!(
            from_dockerfile("from docker.io/library/python:3.11.4-bookworm AS build\n").as_deref(),
            Some("3.11")
        );
        assert_eq!(
            from_dockerfile("FROM --platform=$BUILDPLATFORM python:3.10@sha256:abc AS x\n")
                .as_deref(),
            Some("3.10")
        );
        let multi = "FROM python:3.11 AS build\nRUN make\nFROM node:20 AS assets\n\
                     FROM python:3.12-slim\nCOPY --from=build /a /a\n";
        assert_eq!(from_dockerfile(multi).as_deref(), Some("3.12"));
        let final_is_distroless = "FROM python:3.12 AS build\nFROM gcr.io/distroless/python3\n";
        assert_eq!(
            from_dockerfile(final_is_distroless).as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_dockerfile("FROM \\\n  python:3.9-alpine \\\n  AS base\n").as_deref(),
            Some("3.9")
        );
        assert_eq!(
            from_dockerfile("FROM localhost:5000/python:3.12\n").as_deref(),
            Some("3.12")
        );
    }

    #[test]
    fn dockerfile_without_a_versioned_python_image_states_nothing() {
        assert_eq!(from_dockerfile(""), None);
        assert_eq!(from_dockerfile("FROM python\n"), None);
        assert_eq!(from_dockerfile("FROM python:latest\n"), None);
        assert_eq!(from_dockerfile("FROM python:3-slim\n"), None);
        assert_eq!(from_dockerfile("FROM node:20\n"), None);
        assert_eq!(from_dockerfile("FROM localhost:5000/python\n"), None);
        assert_eq!(
            from_dockerfile("# FROM python:3.12\nFROM ubuntu:24.04\n"),
            None
        );
    }

    #[test]
    fn dockerfile_fills_arguments_declared_before_from() {
        let text = "ARG PYTHON_VERSION=3.12\nFROM python:${PYTHON_VERSION}-slim\n";
        assert_eq!(from_dockerfile(text).as_deref(), Some("3.12"));
        let text = "ARG PYTHON_VERSION=\"3.11\"\nFROM python:$PYTHON_VERSION\n";
        assert_eq!(from_dockerfile(text).as_deref(), Some("3.11"));
        let text = "ARG BASE=python:3.10-slim\nFROM $BASE\n";
        assert_eq!(from_dockerfile(text).as_deref(), Some("3.10"));
        let text = "FROM python:${PYTHON_VERSION:-3.13}-slim\n";
        assert_eq!(from_dockerfile(text).as_deref(), Some("3.13"));
        // No default: the tag is unknown.
        let text = "ARG PYTHON_VERSION\nFROM python:${PYTHON_VERSION}-slim\n";
        assert_eq!(from_dockerfile(text), None);
        // An ARG inside a stage does not reach a later FROM.
        let text = "FROM python:3.11 AS a\nARG V=3.12\nFROM python:${V}\n";
        assert_eq!(from_dockerfile(text).as_deref(), Some("3.11"));
    }

    #[test]
    fn pipfile_and_pyproject_readers() {
        assert_eq!(
            from_pipfile("[packages]\ndjango = \"*\"\n\n[requires]\npython_version = \"3.12\"\n")
                .as_deref(),
            Some("3.12")
        );
        assert_eq!(
            from_pipfile("[requires]\npython_full_version = \"3.11.4\"\n").as_deref(),
            Some("3.11")
        );
        assert_eq!(from_pipfile("[packages]\n"), None);
        assert_eq!(from_pipfile("not toml ["), None);
        assert_eq!(
            from_requires_python("[project]\nname = \"x\"\nrequires-python = \">=3.11\"\n")
                .as_deref(),
            Some(">=3.11")
        );
        assert_eq!(from_requires_python("[project]\nname = \"x\"\n"), None);
        assert_eq!(
            from_poetry("[tool.poetry.dependencies]\npython = \"^3.11\"\ndjango = \"^5.0\"\n")
                .as_deref(),
            Some("^3.11")
        );
        assert_eq!(
            from_poetry("[tool.poetry.dependencies]\npython = { version = \">=3.10,<3.13\" }\n")
                .as_deref(),
            Some(">=3.10,<3.13")
        );
        assert_eq!(from_poetry("[tool.poetry]\nname = \"x\"\n"), None);
    }

    // ----- Django alone

    #[test]
    fn nothing_known_means_the_newest_python() {
        let choice = pick(&[], None);
        assert_eq!(choice.version, "3.14");
        assert_eq!(choice.source, "newest Python that current Django supports");
    }

    #[test]
    fn django_alone_decides_the_newest_it_supports() {
        let choice = pick(&[], Some("5.1"));
        assert_eq!(choice.version, "3.13");
        assert_eq!(choice.source, "newest Python that Django 5.1 supports");
        for (django, python) in [
            ("3.2", "3.10"),
            ("4.0", "3.10"),
            ("4.1", "3.11"),
            ("4.2", "3.12"),
            ("5.0", "3.12"),
            ("5.2", "3.14"),
            ("6.0", "3.14"),
            ("6.2", "3.14"),
            ("7.0", "3.14"),
            ("2.2", "3.9"),
        ] {
            assert_eq!(version(&[], Some(django)), python, "Django {django}");
        }
        // Unknown or unreadable Django limits nothing.
        assert_eq!(version(&[], Some("")), "3.14");
        assert_eq!(version(&[], Some("5")), "3.14");
    }

    #[test]
    fn django_older_than_any_buildable_python_is_an_error() {
        let (message, hint) = error(&[], Some("2.1"));
        assert!(
            message.contains("Django 2.1 supports Python 3.5 to 3.7"),
            "{message}"
        );
        assert!(hint.contains("upgrade Django"), "{hint}");
    }

    #[test]
    fn django_oldest_python_limits_pins() {
        // Django 6.0 needs 3.12 or newer.
        let (message, _) = error(&[Constraint::pin("3.11", ".python-version")], Some("6.0"));
        assert_eq!(
            message,
            "`.python-version` asks for Python 3.11, but Django 6.0 needs 3.12 to 3.14"
        );
    }

    // ----- pins

    #[test]
    fn a_pin_wins() {
        let choice = pick(&[Constraint::pin("3.12", ".python-version")], Some("5.2"));
        assert_eq!(choice.version, "3.12");
        assert_eq!(choice.source, ".python-version");
        let choice = pick(
            &[
                Constraint::pin("3.11.4", "runtime.txt"),
                range(">=3.10"),
                poetry("^3.10"),
            ],
            Some("4.2"),
        );
        assert_eq!(choice.version, "3.11");
        assert_eq!(choice.source, "runtime.txt");
    }

    #[test]
    fn the_first_of_disagreeing_pins_wins_and_the_rest_are_listed() {
        let choice = pick(
            &[
                Constraint::pin("3.12", ".python-version"),
                Constraint::pin("3.12", "runtime.txt"),
                Constraint::pin("3.10", "Pipfile (python_version)"),
                Constraint::pin("3.11", "Dockerfile"),
            ],
            None,
        );
        assert_eq!(choice.version, "3.12");
        assert_eq!(
            choice.source,
            ".python-version (Pipfile (python_version) says 3.10, Dockerfile says 3.11)"
        );
    }

    #[test]
    fn a_pin_django_does_not_support_is_an_error() {
        let (message, hint) = error(&[Constraint::pin("3.9", ".python-version")], Some("5.2"));
        assert_eq!(
            message,
            "`.python-version` asks for Python 3.9, but Django 5.2 needs 3.10 to 3.14"
        );
        assert_eq!(
            hint,
            "write a supported version in `.python-version`, or pass `--python X.Y`"
        );
    }

    #[test]
    fn a_pin_outside_a_range_is_an_error_naming_both() {
        let (message, hint) = error(
            &[Constraint::pin("3.10", "runtime.txt"), range(">=3.11")],
            Some("5.2"),
        );
        assert_eq!(
            message,
            "`runtime.txt` asks for Python 3.10, but `pyproject.toml` (requires-python) allows `>=3.11`"
        );
        assert!(hint.contains("`runtime.txt`"), "{hint}");
        assert!(hint.contains("`pyproject.toml`"), "{hint}");
        assert!(hint.contains("--python"), "{hint}");
    }

    #[test]
    fn a_pin_djrun_cannot_build_is_an_error() {
        let (message, hint) = error(&[Constraint::pin("3.7", ".python-version")], None);
        assert_eq!(
            message,
            "`.python-version` asks for Python 3.7, but djrun builds Python 3.8 to 3.14"
        );
        assert!(hint.contains("3.8 to 3.14"), "{hint}");
        assert!(choose(&[Constraint::pin("3.15", ".python-version")], None).is_err());
        assert!(choose(&[Constraint::pin("2.7", "runtime.txt")], None).is_err());
    }

    #[test]
    fn a_pin_that_is_not_a_version_is_an_error() {
        let (message, hint) = error(&[Constraint::pin("3.x", ".python-version")], None);
        assert_eq!(
            message,
            "`.python-version` says `3.x`, which is not a Python version"
        );
        assert_eq!(
            hint,
            "write a version such as `3.13` in `.python-version`, or pass `--python X.Y`"
        );
        // Even when an earlier pin already won.
        assert!(choose(
            &[
                Constraint::pin("3.12", ".python-version"),
                Constraint::pin("python-3", "runtime.txt"),
            ],
            None
        )
        .is_err());
    }

    #[test]
    fn a_dockerfile_pin_is_used_when_it_fits() {
        let choice = pick(&[Constraint::pin("3.11", "Dockerfile")], Some("5.2"));
        assert_eq!(choice.version, "3.11");
        assert_eq!(choice.source, "Dockerfile");
    }

    #[test]
    fn a_dockerfile_pin_that_conflicts_is_ignored() {
        let choice = pick(&[Constraint::pin("3.9", "Dockerfile")], Some("5.2"));
        assert_eq!(choice.version, "3.14");
        assert_eq!(
            choice.source,
            "newest Python that Django 5.2 supports (Dockerfile says 3.9, ignored: Django 5.2 needs 3.10 to 3.14)"
        );
        let choice = pick(
            &[
                Constraint::pin("3.10", "docker/Dockerfile.prod"),
                range(">=3.11,<3.13"),
            ],
            None,
        );
        assert_eq!(choice.version, "3.12");
        assert!(
            choice.source.starts_with(
                "newest Python that satisfies pyproject.toml (requires-python >=3.11,<3.13) (docker/Dockerfile.prod says 3.10, ignored:"
            ),
            "{}",
            choice.source
        );
        // A later pin that fits wins, and the ignored one is listed.
        let choice = pick(
            &[
                Constraint::pin("3.9", "Dockerfile"),
                Constraint::pin("3.12", ".python-version"),
            ],
            Some("5.2"),
        );
        assert_eq!(choice.version, "3.12");
        assert_eq!(choice.source, ".python-version (Dockerfile says 3.9)");
        // Garbage from a Dockerfile is dropped too.
        assert_eq!(
            version(&[Constraint::pin("latest", "Dockerfile")], None),
            "3.14"
        );
    }

    // ----- ranges

    #[test]
    fn ranges_with_django() {
        let choice = pick(&[range(">=3.10,<3.13")], Some("5.2"));
        assert_eq!(choice.version, "3.12");
        assert_eq!(
            choice.source,
            "newest Python that satisfies pyproject.toml (requires-python >=3.10,<3.13) and Django 5.2"
        );
        let choice = pick(&[range(">=3.11")], Some("5.2"));
        assert_eq!(choice.version, "3.14");
        assert_eq!(
            choice.source,
            "newest Python that satisfies pyproject.toml (requires-python >=3.11) and Django 5.2"
        );
        let choice = pick(&[range(">=3.11")], None);
        assert_eq!(
            choice.source,
            "newest Python that satisfies pyproject.toml (requires-python >=3.11)"
        );
        assert_eq!(version(&[poetry("^3.11")], Some("4.2")), "3.12");
    }

    #[test]
    fn pep440_operators() {
        let v = |spec: &str| version(&[range(spec)], None);
        assert_eq!(v("~=3.11.2"), "3.11");
        assert_eq!(v("~=3.11"), "3.14");
        assert_eq!(v("~=3.10.0"), "3.10");
        assert_eq!(v("==3.12.*"), "3.12");
        assert_eq!(v("==3.12"), "3.12");
        assert_eq!(v("==3.11.4"), "3.11");
        assert_eq!(v("===3.10.2"), "3.10");
        assert_eq!(v("!=3.14.*"), "3.13");
        assert_eq!(v("!=3.14.*, !=3.13.*"), "3.12");
        // Some 3.14 release is not 3.14.0.
        assert_eq!(v("!=3.14"), "3.14");
        // 3.12.1 > 3.12, so 3.12 satisfies `>3.12`; 3.14 is still the newest.
        assert_eq!(v(">3.12"), "3.14");
        assert_eq!(v(">3.12, <3.13"), "3.12");
        assert_eq!(v("<3.13"), "3.12");
        assert_eq!(v("<=3.13"), "3.13");
        assert_eq!(v("<=3.12.0"), "3.12");
        assert_eq!(v("<3.12.0"), "3.11");
        assert_eq!(v("<3.12.5"), "3.12");
        assert_eq!(v(">=3.9"), "3.14");
        assert_eq!(v(">=3.11.4, <3.12"), "3.11");
        assert_eq!(v("==3.*"), "3.14");
        assert_eq!(v("<4"), "3.14");
        assert_eq!(v(""), "3.14");
        // Whitespace anywhere.
        assert_eq!(v(" > = 3.10 , < 3.12 "), "3.11");
        // Pre- and post-releases.
        assert_eq!(v("<3.13.0rc1"), "3.12");
        assert_eq!(v(">=3.13.0rc1, <3.14"), "3.13");
        assert_eq!(v("<=3.12.post1"), "3.12");
        assert_eq!(v(">3.14.0.post1"), "3.14");
        assert!(choose(&[range(">3.13.0.post1, <3.13.1")], None).is_err());
    }

    #[test]
    fn one_release_must_satisfy_every_constraint() {
        // Each allows some 3.11 release on its own; no release satisfies both.
        let constraints = [range(">=3.11.4"), poetry("<3.11.2 || >=3.12,<3.13")];
        assert_eq!(version(&constraints, None), "3.12");
        let (message, _) = error(
            &[
                Constraint::pin("3.11", ".python-version"),
                range(">=3.11.4"),
                poetry("<3.11.2"),
            ],
            None,
        );
        assert!(
            message.contains("no release of 3.11 satisfies"),
            "{message}"
        );
    }

    #[test]
    fn poetry_syntax() {
        let v = |spec: &str| version(&[poetry(spec)], None);
        assert_eq!(v("^3.11"), "3.14");
        assert_eq!(v("^3"), "3.14");
        assert_eq!(v("~3.11"), "3.11");
        assert_eq!(v("~3.11.2"), "3.11");
        assert_eq!(v("~3"), "3.14");
        assert_eq!(v("~=3.11"), "3.14");
        assert_eq!(v("3.12.*"), "3.12");
        assert_eq!(v("3.12.x"), "3.12");
        assert_eq!(v("3.11"), "3.11");
        assert_eq!(v("3.11.4"), "3.11");
        assert_eq!(v("==3.10"), "3.10");
        assert_eq!(v("==3.10.*"), "3.10");
        assert_eq!(v("=3.10"), "3.10");
        assert_eq!(v("*"), "3.14");
        assert_eq!(v(">=3.10,<3.13"), "3.12");
        assert_eq!(v(">=3.10 <3.13"), "3.12");
        assert_eq!(v(">= 3.10, < 3.13"), "3.12");
        assert_eq!(v("!=3.14.*"), "3.13");
        assert_eq!(v("3.10 || 3.11"), "3.11");
        assert_eq!(v("~3.9 | ~3.12"), "3.12");
        assert_eq!(v(">=3.8,<3.9 || >=3.11,<3.12"), "3.11");
        assert_eq!(v(">=3.7.*"), "3.14");
        assert_eq!(version(&[poetry("^3.11")], Some("4.2")), "3.12");
    }

    #[test]
    fn caret_and_tilde_bounds() {
        let spec = parse_poetry("^0.2.3").unwrap();
        assert!(spec.matches(&[0, 2, 9]));
        assert!(!spec.matches(&[0, 3, 0]));
        let spec = parse_poetry("^0.0").unwrap();
        assert!(spec.matches(&[0, 0, 5]));
        assert!(!spec.matches(&[0, 1, 0]));
        let spec = parse_poetry("^3.11").unwrap();
        assert!(spec.matches(&[3, 99, 0]));
        assert!(!spec.matches(&[4, 0, 0]));
        assert!(!spec.matches(&[3, 10, 9]));
        let spec = parse_poetry("~3.11.2").unwrap();
        assert!(!spec.matches(&[3, 11, 1]));
        assert!(spec.matches(&[3, 11, 2]));
        assert!(!spec.matches(&[3, 12, 0]));
    }

    #[test]
    fn several_ranges_and_django_together() {
        let choice = pick(&[range(">=3.10"), poetry("^3.10,<3.14")], Some("5.1"));
        assert_eq!(choice.version, "3.13");
        assert_eq!(
            choice.source,
            "newest Python that satisfies pyproject.toml (requires-python >=3.10), \
             pyproject.toml (tool.poetry.dependencies.python ^3.10,<3.14) and Django 5.1"
        );
        let choice = pick(&[Constraint::range("<3.13", "setup.cfg")], None);
        assert_eq!(
            choice.source,
            "newest Python that satisfies setup.cfg (<3.13)"
        );
    }

    #[test]
    fn no_satisfying_version_names_the_constraints() {
        let (message, hint) = error(&[range("<3.8")], None);
        assert_eq!(
            message,
            "`pyproject.toml` (requires-python) allows `<3.8`, which no Python djrun builds (3.8 to 3.14) satisfies"
        );
        assert!(hint.contains("`pyproject.toml`"), "{hint}");
        let (message, hint) = error(&[range(">=3.13")], Some("4.2"));
        assert_eq!(
            message,
            "`pyproject.toml` (requires-python) allows `>=3.13`, but Django 4.2 needs 3.8 to 3.12"
        );
        assert!(hint.contains("--python"), "{hint}");
        let (message, _) = error(&[range(">=3.12"), poetry("<3.12")], None);
        assert_eq!(
            message,
            "no Python version satisfies `pyproject.toml` (requires-python `>=3.12`) and \
             `pyproject.toml` (tool.poetry.dependencies.python `<3.12`) together"
        );
    }

    #[test]
    fn garbage_specs_are_errors_naming_source_and_spec() {
        for spec in [
            ">=3.x",
            "3.11",
            ">=",
            "~=3",
            ">=3.*",
            "latest",
            ">=3.11;",
            "==3.12.0rc1.*",
            ">=1!3",
        ] {
            let (message, hint) = error(&[range(spec)], None);
            assert!(
                message.starts_with(&format!(
                    "`pyproject.toml` (requires-python) says `{spec}`, which djrun cannot read: "
                )),
                "{spec}: {message}"
            );
            assert!(hint.contains("PEP 440"), "{hint}");
        }
        for spec in ["^three", ">= ", "3.11 ||", "~", "^3.*"] {
            let (message, hint) = error(&[poetry(spec)], None);
            assert!(
                message.contains("which djrun cannot read"),
                "{spec}: {message}"
            );
            assert!(hint.contains("Poetry"), "{hint}");
        }
    }

    #[test]
    fn version_parsing() {
        assert_eq!(
            parse_version("v3.11.2").unwrap(),
            Version {
                release: vec![3, 11, 2],
                suffix: Suffix::Final
            }
        );
        assert_eq!(parse_version("3.13.0rc1").unwrap().suffix, Suffix::Pre);
        assert_eq!(parse_version("3.13.0.dev2").unwrap().suffix, Suffix::Pre);
        assert_eq!(parse_version("3.13.0a1.post1").unwrap().suffix, Suffix::Pre);
        assert_eq!(parse_version("3.12.0.post1").unwrap().suffix, Suffix::Post);
        assert_eq!(parse_version("3.12.post1").unwrap().suffix, Suffix::Post);
        assert_eq!(parse_version("3.12.0-1").unwrap().suffix, Suffix::Post);
        assert_eq!(parse_version("3.12.0rc.1").unwrap().suffix, Suffix::Pre);
        assert!(parse_version("3..12").is_err());
        assert!(parse_version("3.12.").is_err());
        assert!(parse_version("3.12foo").is_err());
        assert!(parse_version("3.12+local").is_err());
    }

    #[test]
    fn end_to_end_from_file_texts() {
        let mut constraints = Vec::new();
        if let Some(v) = from_python_version_file("3.12.4\n") {
            constraints.push(Constraint::pin(v, ".python-version"));
        }
        if let Some(v) = from_dockerfile("FROM python:3.11-slim\n") {
            constraints.push(Constraint::pin(v, "Dockerfile"));
        }
        if let Some(v) = from_requires_python("[project]\nrequires-python = \">=3.10\"\n") {
            constraints.push(Constraint::range(v, "pyproject.toml (requires-python)"));
        }
        let choice = pick(&constraints, Some("5.2"));
        assert_eq!(choice.version, "3.12");
        assert_eq!(choice.source, ".python-version (Dockerfile says 3.11)");
    }
}
