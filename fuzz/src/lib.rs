//! The invariants the fuzz targets check, one function a target. Each panics on a
//! violation, which libFuzzer reports as a crash with the input that caused it.
//!
//! The same invariants as `tests/properties.rs`: input that parsed still parses, a second run
//! changes nothing, bytes outside the edited region are identical, and nothing panics. The
//! input is the file's bytes (not valid UTF-8 is read lossily, as a file djrun would refuse
//! anyway), so the fixtures' own files are good seeds.

use djrun::config::{ConfigFile, Saved};
use djrun::inspect::deps::Manifest;
use djrun::patch::pyproject::{self, Wanted};
use djrun::patch::requirements::{self, Requirements};
use djrun::patch::settings::{apply_block, find_block, newline_of, END_MARKER, START_MARKER};
use djrun::python::PyModule;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;
use toml_edit::{DocumentMut, Item, Table, Value};

// ---- helpers ----------------------------------------------------------------------------

/// Bare LFs (not preceded by CR).
fn bare_lfs(text: &str) -> usize {
    text.matches('\n').count() - text.matches("\r\n").count()
}

/// The smallest region of `before` that `after` replaced: `before[start..end]`.
fn changed_region(before: &str, after: &str) -> Range<usize> {
    let (a, b) = (before.as_bytes(), after.as_bytes());
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let max = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max)
        .take_while(|(x, y)| x == y)
        .count();
    prefix..a.len() - suffix
}

// ---- settings ---------------------------------------------------------------------------

/// djrun's real block (from the template) and a small literal one.
fn blocks() -> &'static (String, String) {
    static BLOCKS: OnceLock<(String, String)> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let real = djrun::render::render(
            djrun::render::SETTINGS_BLOCK,
            serde_json::json!({
                "allowed_hosts": true, "csrf_origins": true, "secret_key": true,
                "static_url": false, "static_root": "BASE_DIR / \"staticfiles\"",
                "whitenoise": true, "after_security": true, "storages": "merge",
                "static_backend": "site.settings.DjrunStaticFilesStorage", "tolerant_storage": true,
                "default_backend": "storages.backends.gcloud.GoogleCloudStorage",
                "database": {"parser": "dj_database_url", "var": "DATABASE_URL",
                             "has_databases": true, "health_checks": true, "cloud_sql": true},
                "media": {"public": false, "bucket_var": "GS_BUCKET_NAME"},
            }),
        );
        // Like the template's, the block's first statement is an import: after a last line
        // `X,` tree-sitter reads an assignment as part of that line, and djrun refuses.
        let small =
            format!("{START_MARKER}\nimport os  # noqa: E402\nDJRUN_FUZZ = 1\n{END_MARKER}\n");
        (real, small)
    })
}

/// The settings patcher: refuses what does not parse; otherwise the result parses, the
/// original is a prefix (or, with a block, only the block changed), the block is found
/// again, a second run changes nothing, and another block then this one gives the same file.
pub fn settings_patch(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let (block, other) = blocks();
    let valid = PyModule::is_valid(text);
    let Ok(once) = apply_block("settings.py", text, block) else {
        return; // an error is an answer; the CLI tests check its message
    };
    assert!(valid, "a file that does not parse was edited");
    assert!(PyModule::is_valid(&once), "the result does not parse");
    let module = PyModule::parse("settings.py", text).expect("it was valid");
    let crlf = newline_of(text) == "\r\n";
    let new = if crlf {
        block.replace('\n', "\r\n")
    } else {
        block.clone()
    };
    match find_block(&module).expect("apply_block accepted the markers") {
        None => {
            assert!(once.starts_with(text), "the original is not a prefix");
            let added = &once[text.len()..];
            assert!(added.ends_with(&new), "the block is not last");
            let separator = &added[..added.len() - new.len()];
            assert!(
                separator.bytes().all(|b| b == b'\r' || b == b'\n'),
                "more than newlines between the file and the block: {separator:?}"
            );
            if crlf {
                assert_eq!(bare_lfs(added), 0, "LF added to a CRLF file");
            } else {
                assert!(!added.contains('\r'), "CR added to an LF file");
            }
        }
        Some(range) => {
            assert_eq!(
                &once[..range.start],
                &text[..range.start],
                "bytes before the block"
            );
            assert_eq!(&once[range.start..range.start + new.len()], new.as_str());
            assert_eq!(
                &once[range.start + new.len()..],
                &text[range.end..],
                "bytes after the block"
            );
        }
    }
    let again = PyModule::parse("settings.py", &once).expect("valid");
    let range = find_block(&again)
        .expect("the block's markers are found again")
        .expect("the block is found again");
    assert_eq!(&once[range.start..range.end], new.as_str());
    let twice = apply_block("settings.py", &once, block).expect("second run");
    assert_eq!(twice, once, "a second run changed the file");
    let swapped = apply_block("settings.py", &once, other).expect("another block");
    let back = apply_block("settings.py", &swapped, block).expect("the block again");
    assert_eq!(back, once, "the block was not replaced in place");
}

// ---- requirements -----------------------------------------------------------------------

const REQUIREMENT_SETS: &[&[&str]] = &[
    &["gunicorn>=23.0"],
    &["gunicorn>=23.0", "whitenoise>=6.6", "uvicorn-worker>=0.3"],
];

/// The requirements editor: refuses only in hash-checking mode; otherwise appends only,
/// every package is there afterwards, nothing the file said changes, and a second run
/// changes nothing.
pub fn requirements_edit(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let before = Requirements::parse("requirements.txt", text);
    for lines in REQUIREMENT_SETS {
        let out = match requirements::add_missing(&before, text, lines) {
            Ok(out) => out,
            Err(e) => {
                assert!(
                    before.hash_mode_line().is_some(),
                    "refused outside hash-checking mode: {e}"
                );
                continue;
            }
        };
        assert!(out.starts_with(text), "the original is not a prefix");
        let added = &out[text.len()..];
        let crlf = text
            .find(['\r', '\n'])
            .is_some_and(|i| text[i..].starts_with("\r\n"));
        if crlf {
            assert_eq!(bare_lfs(added), 0, "LF added to a CRLF file");
        } else {
            assert!(!added.contains('\r'), "CR added to an LF file");
        }
        let after = Requirements::parse("requirements.txt", &out);
        for line in *lines {
            let name = line.split(['>', '=']).next().unwrap();
            assert!(after.has(name), "{name} is missing afterwards");
        }
        for name in before.names() {
            assert!(after.has(&name), "{name} was lost");
        }
        assert_eq!(after.includes(), before.includes());
        assert_eq!(after.django_version(), before.django_version());
        assert_eq!(after.hash_mode_line(), before.hash_mode_line());
        let again = requirements::add_missing(&after, &out, lines).expect("second run");
        assert_eq!(again, out, "a second run changed the file");
    }
}

// ---- TOML -------------------------------------------------------------------------------

/// A TOML value without its formatting.
#[derive(Debug, Clone, PartialEq)]
enum Plain {
    Str(String),
    Int(i64),
    Float(String),
    Bool(bool),
    Datetime(String),
    Array(Vec<Plain>),
    Table(BTreeMap<String, Plain>),
}

impl Plain {
    fn get_mut(&mut self, path: &[&str]) -> Option<&mut Plain> {
        let mut cur = self;
        for key in path {
            match cur {
                Plain::Table(map) => cur = map.get_mut(*key)?,
                _ => return None,
            }
        }
        Some(cur)
    }

    fn get(&self, path: &[&str]) -> Option<&Plain> {
        let mut cur = self;
        for key in path {
            match cur {
                Plain::Table(map) => cur = map.get(*key)?,
                _ => return None,
            }
        }
        Some(cur)
    }

    /// Remove `path`, then each ancestor left empty that did not exist in `before`.
    fn remove(&mut self, path: &[&str], before: &Plain) {
        let Some((key, parent)) = path.split_last() else {
            return;
        };
        if let Some(Plain::Table(p)) = self.get_mut(parent) {
            p.remove(*key);
        }
        for depth in (1..path.len()).rev() {
            let ancestor = &path[..depth];
            if before.get(ancestor).is_some() {
                break;
            }
            let (key, parent) = ancestor.split_last().unwrap();
            if let Some(Plain::Table(p)) = self.get_mut(parent) {
                if matches!(p.get(*key), Some(Plain::Table(t)) if t.is_empty()) {
                    p.remove(*key);
                }
            }
        }
    }
}

fn plain_value(v: &Value) -> Plain {
    match v {
        Value::String(s) => Plain::Str(s.value().clone()),
        Value::Integer(i) => Plain::Int(*i.value()),
        Value::Float(f) => Plain::Float(format!("{:?}", f.value())),
        Value::Boolean(b) => Plain::Bool(*b.value()),
        Value::Datetime(d) => Plain::Datetime(d.value().to_string()),
        Value::Array(a) => Plain::Array(a.iter().map(plain_value).collect()),
        Value::InlineTable(t) => Plain::Table(
            t.iter()
                .map(|(k, v)| (k.to_string(), plain_value(v)))
                .collect(),
        ),
    }
}

fn plain_table(t: &Table) -> Plain {
    Plain::Table(t.iter().map(|(k, v)| (k.to_string(), plain(v))).collect())
}

fn plain(item: &Item) -> Plain {
    match item {
        Item::None => Plain::Table(BTreeMap::new()),
        Item::Value(v) => plain_value(v),
        Item::Table(t) => plain_table(t),
        Item::ArrayOfTables(a) => Plain::Array(a.iter().map(plain_table).collect()),
    }
}

fn parse(text: &str) -> Option<Plain> {
    text.parse::<DocumentMut>()
        .ok()
        .map(|doc| plain(doc.as_item()))
}

/// The byte ranges of every key, value and table header outside `target` (and not an
/// ancestor of it): the bytes djrun must not touch.
fn foreign_spans(
    table: &Table,
    path: &mut Vec<String>,
    target: &[&str],
    out: &mut Vec<Range<usize>>,
) {
    for (key, item) in table.iter() {
        path.push(key.to_string());
        let is_target = path.iter().map(String::as_str).eq(target.iter().copied());
        let is_ancestor = target.len() > path.len()
            && path
                .iter()
                .map(String::as_str)
                .eq(target[..path.len()].iter().copied());
        if !is_target {
            if let Some(span) = table.key(key).and_then(|k| k.span()) {
                if !is_ancestor {
                    out.push(span);
                }
            }
            match item {
                Item::Value(v) if !is_ancestor => out.extend(v.span()),
                Item::Table(t) => {
                    out.extend(t.span());
                    foreign_spans(t, path, target, out);
                }
                Item::ArrayOfTables(a) => {
                    for t in a.iter() {
                        out.extend(t.span());
                        foreign_spans(t, path, target, out);
                    }
                }
                _ => {}
            }
        }
        path.pop();
    }
}

const WANTED: &[Wanted] = &[
    Wanted {
        name: "gunicorn",
        bound: ">=23.0",
    },
    Wanted {
        name: "whitenoise",
        bound: ">=6.6",
    },
];

/// The dependency manifest editor and the saved choices, on the same text.
pub fn toml_edit(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;
    let Some(before) = parse(text) else {
        // Not TOML: every editor refuses, none panics.
        for kind in [Manifest::Pep621, Manifest::PoetryTable, Manifest::Pipfile] {
            assert!(pyproject::add_missing(kind, "pyproject.toml", text, WANTED).is_err());
        }
        for pyproject in [true, false] {
            let file = config_file(text, pyproject);
            assert!(file.load().is_err() && file.store(&saved()).is_err());
        }
        return;
    };
    let spanned = toml_edit::Document::parse(text).expect("it parsed");
    for (kind, path) in [
        (Manifest::Pep621, &["project", "dependencies"][..]),
        (
            Manifest::PoetryTable,
            &["tool", "poetry", "dependencies"][..],
        ),
        (Manifest::Pipfile, &["packages"][..]),
    ] {
        manifest(text, &before, &spanned, kind, path);
    }
    for pyproject in [true, false] {
        saved_choices(text, &before, &spanned, pyproject);
    }
}

fn manifest(
    text: &str,
    before: &Plain,
    spanned: &toml_edit::Document<&str>,
    kind: Manifest,
    path: &[&str],
) {
    let Ok(out) = pyproject::add_missing(kind, "pyproject.toml", text, WANTED) else {
        return; // the wrong shape (`project = 3`), named in the message
    };
    let after = parse(&out).expect("the result is not TOML");
    // Every key and value is still there, and what was added is exactly what was missing.
    let mut restored = after.clone();
    match kind {
        Manifest::Pep621 => {
            let old = match before.get(path) {
                Some(Plain::Array(items)) => items.clone(),
                _ => Vec::new(),
            };
            let Some(Plain::Array(new)) = after.get(path) else {
                assert_eq!(
                    out, text,
                    "no dependencies afterwards, yet the file changed"
                );
                return;
            };
            assert!(new.starts_with(&old), "existing dependencies changed");
            for item in &new[old.len()..] {
                let Plain::Str(spec) = item else {
                    panic!("added {item:?}")
                };
                assert!(
                    WANTED
                        .iter()
                        .any(|w| spec == &format!("{}{}", w.name, w.bound)),
                    "added {spec}"
                );
            }
            if before.get(path).is_some() {
                *restored.get_mut(path).unwrap() = Plain::Array(old);
            } else {
                restored.remove(path, before);
            }
        }
        _ => {
            if let Some(Plain::Table(table)) = restored.get_mut(path) {
                for w in WANTED {
                    let existed = before.get(path).and_then(|t| t.get(&[w.name])).is_some();
                    if !existed {
                        if let Some(v) = table.remove(w.name) {
                            assert_eq!(v, Plain::Str(w.bound.into()), "{} added wrong", w.name);
                        }
                    }
                }
                if before.get(path).is_none() {
                    restored.remove(path, before);
                }
            }
        }
    }
    assert_eq!(&restored, before, "a key or value that was there changed");
    // No key, value or header outside the dependency list changed a byte.
    if out != text {
        let region = changed_region(text, &out);
        if region.start < region.end {
            let mut spans = Vec::new();
            foreign_spans(spanned.as_table(), &mut Vec::new(), path, &mut spans);
            for span in spans {
                assert!(
                    span.end <= region.start || region.end <= span.start,
                    "bytes {span:?} ({:?}) outside the dependencies changed",
                    &text[span.clone()]
                );
            }
        }
        if text.contains('\n') && bare_lfs(text) == 0 && newline_of(text) == "\r\n" {
            assert_eq!(bare_lfs(&out), 0, "LF added to a CRLF file");
        }
        if !text.contains('\r') {
            assert!(!out.contains('\r'), "CR added to an LF file");
        }
    }
    let again = pyproject::add_missing(kind, "pyproject.toml", &out, WANTED).expect("second run");
    assert_eq!(again, out, "a second run changed the file");
}

fn config_file(text: &str, pyproject: bool) -> ConfigFile {
    ConfigFile {
        path: if pyproject {
            "pyproject.toml"
        } else {
            "djrun.toml"
        }
        .into(),
        pyproject,
        text: Some(text.to_string()),
    }
}

fn saved() -> Saved {
    Saved {
        project: Some("fuzz-project-1".into()),
        region: Some("europe-west1".into()),
        service: None,
        python: Some("3.12".into()),
        public: Some(false),
        database: Some("cloudsql-postgres".into()),
        domains: Some(vec!["www.example.com".into()]),
        capacity: djrun::deployment::CapacityChoices {
            cpu: Some(2),
            ..Default::default()
        },
        ..Saved::default()
    }
}

const KEYS: [&str; 8] = [
    "project", "region", "service", "python", "public", "database", "domains", "cpu",
];

fn saved_choices(text: &str, before: &Plain, spanned: &toml_edit::Document<&str>, pyproject: bool) {
    let file = config_file(text, pyproject);
    // djrun loads the saved choices before it stores any: a file it cannot load stops it.
    if file.load().is_err() {
        return;
    }
    let Ok(change) = file.store(&saved()) else {
        return; // `tool` that is not a table, named in the message
    };
    let out = change.as_ref().map_or(text, |c| c.after.as_str());
    let after = parse(out).expect("the stored file is not TOML");
    let stored = config_file(out, pyproject);
    assert_eq!(
        stored.load().expect("load after store"),
        saved(),
        "store then load"
    );
    assert_eq!(
        stored.store(&saved()).expect("store again"),
        None,
        "a second store changed the file"
    );
    let table: &[&str] = if pyproject { &["tool", "djrun"] } else { &[] };
    let strip = |doc: &Plain| {
        let mut doc = doc.clone();
        if let Some(Plain::Table(t)) = doc.get_mut(table) {
            for key in KEYS {
                t.remove(key);
            }
        }
        // An empty [tool.djrun] (and `tool`) count as absent, on both sides.
        let empty = Plain::Table(BTreeMap::new());
        for path in [&["tool", "djrun"][..], &["tool"][..]] {
            if pyproject && doc.get(path) == Some(&empty) {
                doc.remove(path, &doc.clone());
            }
        }
        doc
    };
    assert_eq!(
        strip(&after),
        strip(before),
        "a key or value outside the saved choices changed"
    );
    if pyproject && out != text {
        let region = changed_region(text, out);
        if region.start < region.end {
            let mut spans = Vec::new();
            foreign_spans(spanned.as_table(), &mut Vec::new(), table, &mut spans);
            for span in spans {
                assert!(
                    span.end <= region.start || region.end <= span.start,
                    "bytes {span:?} ({:?}) outside [tool.djrun] changed",
                    &text[span.clone()]
                );
            }
        }
    }
    if out != text && text.contains('\n') && bare_lfs(text) == 0 && newline_of(text) == "\r\n" {
        assert_eq!(bare_lfs(out), 0, "LF added to a CRLF file");
    }
}
