//! Property tests for the three editors of the user's files (issue 4, "never lose a byte"):
//! the settings patcher, the requirements editor and the TOML editors (dependency manifests
//! and saved choices). For each: input that parsed still parses, a second run changes
//! nothing, bytes outside the edited region are identical, and nothing panics.
//!
//! The generators build files from realistic pieces (and from the fixture projects' own
//! files), in LF and CRLF, with and without a BOM and a final newline. The whole file runs
//! in a few seconds under plain `cargo test`.

use djrun::config::{ConfigFile, Saved};
use djrun::inspect::deps::Manifest;
use djrun::patch::pyproject::{self, Wanted};
use djrun::patch::requirements::{self, Requirements};
use djrun::patch::settings::{apply_block, find_block, END_MARKER, START_MARKER};
use djrun::python::PyModule;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Cases per property: enough to find the bugs these tests found, small enough that the
/// file stays well under 20 s in a debug build. `PROPTEST_CASES` overrides it (the fuzz
/// script's fallback runs with many more).
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- shared helpers ---------------------------------------------------------------------

/// The region of `before` that differs from `after`: `before[start..end]` was replaced.
/// Computed from the longest common prefix and suffix, so it is the smallest single region.
fn changed_region(before: &str, after: &str) -> (usize, usize) {
    let (a, b) = (before.as_bytes(), after.as_bytes());
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    (prefix, a.len() - suffix)
}

/// Whether every newline in `text` is CRLF (and there is at least one).
fn all_crlf(text: &str) -> bool {
    text.contains('\n') && !text.replace("\r\n", "").contains('\n')
}

/// Bare LFs (not preceded by CR) in `text`.
fn bare_lfs(text: &str) -> usize {
    text.matches('\n').count() - text.matches("\r\n").count()
}

/// Files below the fixtures (and the example) whose path satisfies `keep`, as text.
fn fixture_files(keep: impl Fn(&Path) -> bool) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for root in ["tests/fixtures", "examples"] {
        for entry in walkdir::WalkDir::new(manifest.join(root))
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
        {
            let rel = entry.path().strip_prefix(manifest).unwrap();
            if rel.components().any(|c| c.as_os_str() == ".venv") || !keep(rel) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                out.push(text);
            }
        }
    }
    assert!(!out.is_empty(), "the fixtures have files of this kind");
    out
}

/// How a generated file's lines end and begin.
#[derive(Debug, Clone, Copy)]
struct Shape {
    crlf: bool,
    bom: bool,
    final_newline: bool,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(crlf, bom, final_newline)| Shape {
            crlf,
            bom,
            final_newline,
        })
}

/// Join LF `pieces` into a file of `shape`, returning the text and the byte range each
/// piece ended up at.
fn assemble(pieces: &[String], separator: &str, shape: Shape) -> (String, Vec<(usize, usize)>) {
    let nl = if shape.crlf { "\r\n" } else { "\n" };
    let mut text = String::from(if shape.bom { "\u{feff}" } else { "" });
    let mut ranges = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            text.push_str(&separator.replace('\n', nl));
        }
        let start = text.len();
        text.push_str(&piece.replace('\n', nl));
        ranges.push((start, text.len()));
    }
    if shape.final_newline && !pieces.is_empty() {
        text.push_str(nl);
    }
    (text, ranges)
}

// ---- settings ---------------------------------------------------------------------------

mod settings {
    use super::*;

    /// djrun's real block, rendered with the template the planner uses.
    fn rendered_block(variant: usize) -> String {
        let context = match variant {
            0 => serde_json::json!({
                "allowed_hosts": true, "csrf_origins": true, "secret_key": true,
                "static_url": false, "static_root": "BASE_DIR / \"staticfiles\"",
                "whitenoise": true, "after_security": true, "storages": "merge",
                "static_backend": null, "tolerant_storage": false, "default_backend": null,
                "database": null, "media": null,
            }),
            1 => serde_json::json!({
                "allowed_hosts": false, "csrf_origins": true, "secret_key": false,
                "static_url": true, "static_root": false,
                "whitenoise": true, "after_security": false, "storages": "legacy",
                "static_backend": null, "tolerant_storage": false, "default_backend": null,
                "database": null, "media": null,
            }),
            2 => serde_json::json!({
                "allowed_hosts": true, "csrf_origins": false, "secret_key": true,
                "static_url": false, "static_root": false,
                "whitenoise": false, "after_security": false, "storages": "new",
                "static_backend": null, "tolerant_storage": false, "default_backend": null,
                "database": null, "media": null,
            }),
            // A database from a URL and uploads in a bucket.
            3 => serde_json::json!({
                "allowed_hosts": true, "csrf_origins": true, "secret_key": true,
                "static_url": false, "static_root": "BASE_DIR / \"staticfiles\"",
                "whitenoise": true, "after_security": true, "storages": "new",
                "static_backend": "site.settings.DjrunStaticFilesStorage", "tolerant_storage": true,
                "default_backend": "storages.backends.gcloud.GoogleCloudStorage",
                "database": {"parser": "dj_database_url", "var": "DATABASE_URL",
                             "has_databases": true, "health_checks": true, "cloud_sql": true},
                "media": {"public": false, "bucket_var": "GS_BUCKET_NAME"},
            }),
            // The project reads its own URL; legacy storages; public media.
            _ => serde_json::json!({
                "allowed_hosts": false, "csrf_origins": false, "secret_key": false,
                "static_url": false, "static_root": false,
                "whitenoise": false, "after_security": false, "storages": "legacy",
                "static_backend": null, "tolerant_storage": false,
                "default_backend": "storages.backends.gcloud.GoogleCloudStorage",
                "database": {"parser": "project", "var": "DB_URL",
                             "has_databases": false, "health_checks": false, "cloud_sql": false},
                "media": {"public": true, "bucket_var": "GS_BUCKET_NAME"},
            }),
        };
        djrun::render::render(djrun::render::SETTINGS_BLOCK, context)
    }

    /// Blocks to put in: five rendered variants and a minimal literal one.
    fn blocks() -> Vec<String> {
        let mut out: Vec<String> = (0..5).map(rendered_block).collect();
        // Like the template's, the block's first statement is an import: after a last line
        // `X,` tree-sitter reads an assignment as part of that line, and djrun refuses.
        out.push(format!(
            "{START_MARKER}\nimport os  # noqa: E402\nDJRUN_SMALL = 1\n{END_MARKER}\n"
        ));
        for block in &out {
            assert!(block.starts_with(START_MARKER) && block.ends_with(&format!("{END_MARKER}\n")));
            assert!(PyModule::is_valid(block), "{block}");
        }
        out
    }

    /// One module-level statement (or comment, or blank line) as LF text without a final
    /// newline. Strings and comments look like markers without being markers.
    fn chunk() -> impl Strategy<Value = String> {
        let fixed = prop::sample::select(vec![
            "",
            "   ",
            "from pathlib import Path",
            "import os",
            "from .base import *  # noqa: F401,F403",
            "BASE_DIR = Path(__file__).resolve().parent.parent",
            "SECRET_KEY = 'django-insecure-abc#123'",
            "DEBUG = True",
            "ALLOWED_HOSTS = []",
            "ALLOWED_HOSTS = ['example.com', \"www.example.com\"]  # hosts",
            "INSTALLED_APPS = [\n    'django.contrib.admin',\n    # 'debug_toolbar',\n    'django.contrib.auth',\n]",
            "DATABASES = {\n    'default': {\n        'ENGINE': 'django.db.backends.sqlite3',\n        'NAME': BASE_DIR / 'db.sqlite3',\n    }\n}",
            "MIDDLEWARE = (\n    'django.middleware.security.SecurityMiddleware',\n)",
            "NOTE = '# >>> djrun: Cloud Run settings >>>'",
            "DOC = \"\"\"\n# >>> djrun: Cloud Run settings >>>\nnot djrun's block\n# <<< djrun <<<\n\"\"\"",
            "RAW = r'''\n# <<< djrun <<<\n'''",
            "# >>> djrun: Cloud Run settings >>> (a look-alike, not the marker)",
            "#>>> djrun: Cloud Run settings >>>",
            "# <<< djrun <<< but more",
            "def marker():\n    # >>> djrun: Cloud Run settings >>>\n    return '# <<< djrun <<<'",
            "class Conf:\n    x = 1\n    # a comment inside the class",
            "if DEBUG:\n    INSTALLED_APPS += ['debug_toolbar']\nelse:\n    pass",
            "if DEBUG:\n    X = 1\nelif os.environ.get('CI'):\n    X = 2",
            "try:\n    from .local import *  # noqa\nexcept ImportError:\n    pass",
            "try:\n    X = 1\n    # indented trailing comment\nexcept Exception:\n    X = 2\n    # another one",
            "if True:\n    A = 1\n# a dedented comment right after a block",
            "if True:\n    A = 1\n\n\n",
            "with open(os.devnull) as f:\n    DATA = f.read()",
            "for _i in range(3):\n    pass",
            "GREETING = 'café ☕ 日本語 🚀'",
            "# Ünïcödé comment — with dashes and ☕",
            "PATH = r'C:\\Users\\x'",
            "F = f'{BASE_DIR}/static'",
            "TOTAL = (1 +\n         2)",
            "LONG = 'a' \\\n    'b'",
            "async def h():\n    await x",
            "X: int = 3",
            "L = lambda x: x",
            "B = b'\\x00\\xff'",
            "Y = 1; Z = 2",
            "X = {'a': [1, 2, {'b': (3,)}]}",
            "# -*- coding: utf-8 -*-",
            "\t# a tab-indented comment",
            "    # an indented comment at module level",
            "pass",
            "print('x', end='')  # trailing",
            "STATIC_URL = 'static/'",
            "STATIC_ROOT = BASE_DIR / 'staticfiles'",
        ])
        .prop_map(str::to_string);
        let random = prop_oneof![
            ("[A-Z][A-Z_]{0,8}", "[0-9]{1,4}").prop_map(|(n, v)| format!("{n} = {v}")),
            ("[A-Z][A-Z_]{0,8}", "[a-zA-Z0-9 #<>:;,.é☕-]{0,20}")
                .prop_map(|(n, v)| format!("{n} = '{v}'")),
            "[a-zA-Z0-9 #<>:;,.'\"é☕-]{0,30}".prop_map(|c| format!("# {c}")),
        ];
        prop_oneof![4 => fixed, 1 => random]
    }

    /// An old djrun block (different from every block the properties put in).
    const OLD_BLOCK: &str = "# >>> djrun: Cloud Run settings >>>\n# Generated by djrun (an older version)\nif __import__('os').environ.get('K_SERVICE'):\n    DEBUG = False\n# <<< djrun <<<";

    /// A generated settings file: its text, and the byte range of an old djrun block when
    /// it has one.
    #[derive(Debug, Clone)]
    struct Settings {
        text: String,
        block: Option<(usize, usize)>,
    }

    fn settings_file() -> impl Strategy<Value = Settings> {
        let fixtures = fixture_files(|p| {
            p.extension().is_some_and(|e| e == "py") && p.to_string_lossy().contains("settings")
        });
        let base = prop_oneof![
            3 => prop::collection::vec(chunk(), 0..14),
            1 => (prop::sample::select(fixtures), prop::collection::vec(chunk(), 0..3)).prop_map(
                |(text, extra)| {
                    let mut pieces: Vec<String> =
                        vec![text.trim_end_matches('\n').to_string()];
                    pieces.extend(extra);
                    pieces
                }
            ),
        ];
        (
            base,
            prop::option::weighted(0.3, any::<prop::sample::Index>()),
            shape(),
        )
            .prop_map(|(mut pieces, old_block_at, shape)| {
                let at = old_block_at.map(|i| i.index(pieces.len() + 1));
                if let Some(at) = at {
                    pieces.insert(at, OLD_BLOCK.to_string());
                }
                let (text, ranges) = assemble(&pieces, "\n", shape);
                let nl = if shape.crlf { 2 } else { 1 };
                let block = at.map(|i| {
                    let (start, end) = ranges[i];
                    // The block's range runs to just past its end marker's line ending.
                    (start, (end + nl).min(text.len()))
                });
                Settings { text, block }
            })
    }

    fn with_newlines(block: &str, crlf: bool) -> String {
        if crlf {
            block.replace('\n', "\r\n")
        } else {
            block.to_string()
        }
    }

    /// Every property of one application of `block` to a parsed file, and of the runs after.
    fn check(file: &Settings, blocks: &[String], which: usize) -> Result<(), TestCaseError> {
        let text = &file.text;
        let valid = PyModule::is_valid(text);
        let block = &blocks[which];
        let result = apply_block("settings.py", text, block);
        if !valid || text.trim_start_matches('\u{feff}').trim().is_empty() {
            prop_assert!(
                result.is_err(),
                "a file that does not parse, or is empty, is refused"
            );
            return Ok(());
        }
        // An old block that ended without a newline (the file's last line) is completed.
        let old_block_at_end = file.block.is_some_and(|(_, end)| end == text.len());
        let once = match result {
            Ok(out) => out,
            Err(e) => return Err(TestCaseError::fail(format!("valid input refused: {e}"))),
        };
        prop_assert!(PyModule::is_valid(&once), "the result parses: {once:?}");
        // The file's newline is its first line's.
        let crlf = text.find('\n').is_some_and(|i| text[..i].ends_with('\r'));
        let new = with_newlines(block, crlf);
        match file.block {
            None => {
                prop_assert!(once.starts_with(text.as_str()), "the original is a prefix");
                let added = &once[text.len()..];
                prop_assert!(added.ends_with(new.as_str()), "the block comes last");
                prop_assert!(
                    added[..added.len() - new.len()]
                        .chars()
                        .all(|c| c == '\r' || c == '\n'),
                    "only newlines separate the file from the block: {added:?}"
                );
                if crlf && all_crlf(text) {
                    prop_assert_eq!(bare_lfs(added), 0, "CRLF file, CRLF additions");
                }
                if !text.contains('\r') {
                    prop_assert!(!added.contains('\r'), "LF file, LF additions");
                }
            }
            Some((start, end)) => {
                prop_assert_eq!(&once[..start], &text[..start], "bytes before the block");
                if !old_block_at_end {
                    prop_assert_eq!(
                        &once[start + new.len()..],
                        &text[end..],
                        "bytes after the block"
                    );
                    prop_assert_eq!(&once[start..start + new.len()], new.as_str());
                }
            }
        }
        // The block is found again, and it is exactly what was put in.
        let module = PyModule::parse("settings.py", &once).expect("parses");
        let range = find_block(&module)
            .map_err(|e| TestCaseError::fail(format!("block not found again: {e}")))?
            .expect("a block is there");
        prop_assert_eq!(&once[range.start..range.end], new.as_str());
        // Idempotent.
        let twice = apply_block("settings.py", &once, block).expect("second run");
        prop_assert_eq!(&twice, &once, "a second run changes nothing");
        // Replaced in place: another block, then this one again, gives the first result.
        let other = &blocks[(which + 1) % blocks.len()];
        let swapped = apply_block("settings.py", &once, other).expect("other block");
        prop_assert!(PyModule::is_valid(&swapped));
        prop_assert_eq!(&swapped[..range.start], &once[..range.start]);
        prop_assert_eq!(
            &swapped[range.start + with_newlines(other, crlf).len()..],
            &once[range.end..]
        );
        let back = apply_block("settings.py", &swapped, block).expect("back");
        prop_assert_eq!(back, once, "the block is replaced in place");
        Ok(())
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn apply_block_keeps_every_byte_and_is_idempotent(
            file in settings_file(),
            which in 0usize..4,
        ) {
            check(&file, &blocks(), which)?;
        }

        /// Damaged files: a generated file cut at any point or with junk spliced in. Either
        /// refused, or every property holds.
        #[test]
        fn damaged_files_are_refused_or_edited_safely(
            file in settings_file(),
            at in any::<prop::sample::Index>(),
            junk in prop_oneof![
                Just(String::new()),
                "[\\[\\](){}'\"#:\\\\ \n\r\t\u{feff}a-z0-9=]{1,6}",
                Just(START_MARKER.to_string()),
                Just(format!("\n{END_MARKER}\n")),
            ],
            cut in any::<bool>(),
        ) {
            let text = &file.text;
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let damaged = if cut {
                text[..at].to_string()
            } else {
                format!("{}{junk}{}", &text[..at], &text[at..])
            };
            let blocks = blocks();
            match apply_block("settings.py", &damaged, &blocks[3]) {
                Err(_) => {}
                Ok(out) => {
                    prop_assert!(PyModule::is_valid(&out));
                    let again = apply_block("settings.py", &out, &blocks[3]).expect("again");
                    prop_assert_eq!(&again, &out);
                    if !damaged.contains("djrun <<<") && !damaged.contains(">>> djrun") {
                        prop_assert!(out.starts_with(damaged.as_str()));
                    }
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let blocks = blocks();
            if let Ok(out) = apply_block("settings.py", &text, &blocks[3]) {
                prop_assert!(PyModule::is_valid(&out));
                let again = apply_block("settings.py", &out, &blocks[3]).expect("again");
                prop_assert_eq!(again, out);
            }
        }
    }

    /// Cases the generators found, kept as plain tests.
    #[test]
    fn a_block_right_after_a_bom_is_found_again_and_the_bom_stays() {
        let blocks = blocks();
        let text = format!("\u{feff}{}A = 1\n", blocks[3]);
        assert_eq!(apply_block("settings.py", &text, &blocks[3]).unwrap(), text);
        let swapped = apply_block("settings.py", &text, &blocks[0]).unwrap();
        assert_eq!(
            swapped,
            format!("\u{feff}{}A = 1\n", blocks[0]),
            "the BOM stays"
        );
    }

    #[test]
    fn a_file_ending_in_a_lone_cr_gets_one_newline_style_on_every_run() {
        let blocks = blocks();
        for text in ["A = 1\r", "A = 1\r\r"] {
            let once = apply_block("settings.py", text, &blocks[3]).unwrap();
            assert_eq!(apply_block("settings.py", &once, &blocks[3]).unwrap(), once);
        }
    }
}

// ---- requirements -----------------------------------------------------------------------

mod requirements_txt {
    use super::*;

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "",
                "django>=5.2,<6",
                "Django==4.2.16  # LTS",
                "psycopg[binary]>=3.2",
                "gunicorn==22.0.0",
                "White_Noise>=6",
                "uvicorn-worker",
                "# gunicorn is added by djrun",
                "-r base.txt",
                "--requirement=common.txt",
                "-c constraints.txt",
                "--index-url https://pypi.org/simple",
                "-e git+https://github.com/x/y.git#egg=gunicorn",
                "./vendor/pkg",
                "requests \\",
                "    >=2.31",
                "celery[redis] ; python_version >= \"3.10\"",
                "Pillow>=10  # images — café",
                "\t",
            ])
            .prop_map(str::to_string),
            "[a-zA-Z0-9 #=<>;@.,_\\-\\[\\]~!/+]{0,24}",
        ]
    }

    fn file() -> impl Strategy<Value = (String, Shape)> {
        let fixtures = fixture_files(|p| {
            p.extension().is_some_and(|e| e == "txt")
                && p.to_string_lossy().contains("requirements")
        });
        let pieces = prop_oneof![
            3 => prop::collection::vec(line(), 0..12),
            1 => (prop::sample::select(fixtures), prop::collection::vec(line(), 0..3))
                .prop_map(|(text, extra)| {
                    let mut pieces: Vec<String> =
                        text.trim_end_matches('\n').lines().map(str::to_string).collect();
                    pieces.extend(extra);
                    pieces
                }),
        ];
        (pieces, shape()).prop_map(|(pieces, shape)| (assemble(&pieces, "\n", shape).0, shape))
    }

    /// Requirements files with django-storages pinned in the ways people write it.
    fn storages_file() -> impl Strategy<Value = (String, Shape)> {
        let pin = prop::sample::select(vec![
            "django-storages==1.14.4",
            "Django_Storages[azure] >= 1.14 ; python_version >= \"3.10\"  # media",
            "django-storages[google]",
            "django-storages[ ]~=1.14",
            "django.storages @ https://example.com/django_storages-1.14.4-py3-none-any.whl",
            "django-storages \\",
            "# django-storages==1.14.4",
            "django-storages==1.14.4 --hash=sha256:0000",
        ])
        .prop_map(str::to_string);
        let pieces = prop::collection::vec(prop_oneof![3 => line(), 1 => pin], 0..10);
        (pieces, shape()).prop_map(|(pieces, shape)| (assemble(&pieces, "\n", shape).0, shape))
    }

    fn wanted() -> impl Strategy<Value = Vec<&'static str>> {
        prop::sample::subsequence(
            vec!["gunicorn>=23.0", "whitenoise>=6.6", "uvicorn-worker>=0.3"],
            0..=3,
        )
    }

    fn name_of(line: &str) -> &str {
        line.split(['>', '=']).next().unwrap()
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn add_missing_appends_only_and_is_idempotent((text, shape) in file(), lines in wanted()) {
            let file = "requirements/base.txt";
            let before = Requirements::parse(file, &text);
            match requirements::add_missing(&before, &text, &lines) {
                Err(e) => {
                    let line = before.hash_mode_line();
                    prop_assert!(line.is_some(), "only hash-checking mode is refused: {}", e);
                    let msg = e.to_string();
                    prop_assert!(msg.contains(&format!("`{file}` line {}", line.unwrap())), "{}", msg);
                    prop_assert!(msg.contains("hash"), "{}", msg);
                    prop_assert!(e.hint().is_some_and(|h| h.contains("--generate-hashes")));
                }
                Ok(out) => {
                    prop_assert!(out.starts_with(text.as_str()), "the original is a prefix");
                    let added = &out[text.len()..];
                    if shape.crlf && all_crlf(&text) {
                        prop_assert_eq!(bare_lfs(added), 0, "CRLF file, CRLF additions");
                    }
                    if !text.contains('\r') {
                        prop_assert!(!added.contains('\r'));
                    }
                    let after = Requirements::parse(file, &out);
                    for line in &lines {
                        prop_assert!(after.has(name_of(line)), "{} is there afterwards", line);
                        if before.has(name_of(line)) {
                            prop_assert!(!added.contains(line), "present ones are not added");
                        }
                    }
                    // Nothing the file said changes meaning.
                    for name in before.names() {
                        prop_assert!(after.has(&name), "{} kept", name);
                    }
                    prop_assert_eq!(after.includes(), before.includes());
                    prop_assert_eq!(after.django_version(), before.django_version());
                    prop_assert_eq!(after.hash_mode_line(), before.hash_mode_line());
                    let again = requirements::add_missing(&after, &out, &lines).expect("again");
                    prop_assert_eq!(again, out, "a second run changes nothing");
                }
            }
        }

        #[test]
        fn add_extra_edits_only_the_pin_and_is_idempotent((text, _shape) in storages_file()) {
            let file = "requirements/base.txt";
            let before = Requirements::parse(file, &text);
            match requirements::add_extra(&before, &text, "django-storages", "google") {
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(msg.contains(&format!("`{file}`")), "{}", msg);
                    prop_assert!(e.hint().is_some(), "{}", msg);
                }
                Ok(out) => {
                    let after = Requirements::parse(file, &out);
                    if before.has("django-storages") {
                        prop_assert!(after.extras("django-storages").contains("google"));
                    } else {
                        prop_assert_eq!(&out, &text, "no pin, no change");
                    }
                    // Only `[google]` / `,google` is inserted: every byte of the original
                    // is there in order, and nothing else changes meaning.
                    let mut rest = out.as_str();
                    for c in text.chars() {
                        let at = rest.find(c);
                        prop_assert!(at.is_some(), "the original's bytes are kept");
                        rest = &rest[at.unwrap() + c.len_utf8()..];
                    }
                    prop_assert_eq!(out.matches('\n').count(), text.matches('\n').count());
                    prop_assert_eq!(after.names(), before.names());
                    prop_assert_eq!(after.includes(), before.includes());
                    prop_assert_eq!(after.django_version(), before.django_version());
                    for name in before.names().iter().filter(|n| *n != "django-storages") {
                        prop_assert_eq!(after.extras(name), before.extras(name));
                    }
                    let again = requirements::add_extra(&after, &out, "django-storages", "google")
                        .expect("again");
                    prop_assert_eq!(again, out, "a second run changes nothing");
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>(), lines in wanted()) {
            let req = Requirements::parse("requirements.txt", &text);
            if let Ok(out) = requirements::add_extra(&req, &text, "django-storages", "google") {
                let again = Requirements::parse("requirements.txt", &out);
                prop_assert_eq!(
                    requirements::add_extra(&again, &out, "django-storages", "google").unwrap(),
                    out
                );
            }
            if let Ok(out) = requirements::add_missing(&req, &text, &lines) {
                prop_assert!(out.starts_with(text.as_str()));
                let again = Requirements::parse("requirements.txt", &out);
                prop_assert_eq!(requirements::add_missing(&again, &out, &lines).unwrap(), out);
            }
        }
    }
}

// ---- TOML: dependency manifests and saved choices ---------------------------------------

mod toml {
    use super::*;
    use toml_edit::{DocumentMut, Item, Value};

    /// A TOML value with nothing about its formatting, for comparing documents.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Plain {
        Str(String),
        Int(i64),
        /// Floats as written by Rust, so `nan` equals `nan`.
        Float(String),
        Bool(bool),
        Datetime(String),
        Array(Vec<Plain>),
        Table(BTreeMap<String, Plain>),
    }

    impl Plain {
        pub fn get_mut(&mut self, path: &[&str]) -> Option<&mut Plain> {
            let mut cur = self;
            for key in path {
                match cur {
                    Plain::Table(map) => cur = map.get_mut(*key)?,
                    _ => return None,
                }
            }
            Some(cur)
        }

        pub fn get(&self, path: &[&str]) -> Option<&Plain> {
            let mut cur = self;
            for key in path {
                match cur {
                    Plain::Table(map) => cur = map.get(*key)?,
                    _ => return None,
                }
            }
            Some(cur)
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

    pub fn plain(item: &Item) -> Plain {
        match item {
            Item::None => Plain::Table(BTreeMap::new()),
            Item::Value(v) => plain_value(v),
            Item::Table(t) => {
                Plain::Table(t.iter().map(|(k, v)| (k.to_string(), plain(v))).collect())
            }
            Item::ArrayOfTables(a) => {
                Plain::Array(a.iter().map(|t| plain(&Item::Table(t.clone()))).collect())
            }
        }
    }

    pub fn parse(text: &str) -> Option<Plain> {
        text.parse::<DocumentMut>()
            .ok()
            .map(|doc| plain(doc.as_item()))
    }

    /// PEP 503 name of a requirement string (enough for the generator's strings).
    fn req_name(spec: &str) -> String {
        let end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .unwrap_or(spec.len());
        requirements::normalize_name(&spec[..end])
    }

    // -- generator --

    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Kind {
        Pep621,
        Poetry,
        Pipfile,
    }

    impl Kind {
        pub fn manifest(self) -> Manifest {
            match self {
                Kind::Pep621 => Manifest::Pep621,
                Kind::Poetry => Manifest::PoetryTable,
                Kind::Pipfile => Manifest::Pipfile,
            }
        }
    }

    /// Tables that are not the dependency table, for before and after it.
    fn other_table() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"",
            "[tool.black]\nline-length = 100  # wide screens",
            "# Lint settings.\n[tool.ruff.lint]\nselect = [\n  \"E\",\n  \"F\", # pyflakes\n]",
            "[[tool.mypy.overrides]]\nmodule = \"a.*\"\nignore_missing_imports = true",
            "[tool.values]\ns = '''\nmulti\nline'''\nwhen = 1979-05-27T07:32:00Z\nf = 3.14\ninf_ = inf\nn = nan\nhex = 0xdead_beef",
            "[tool.unicode]\nname = \"café ☕\"\n\"quoted key\" = 1\n'dotted.in.quotes' = true",
            "[tool.djrun]\nproject = \"saved-project\"  # kept\nregion = 'europe-west1'",
            "[tool.uv]\ndev-dependencies = []",
            "[tool.pdm.dev-dependencies]\ntest = [\"pytest\"]",
        ])
        .prop_map(str::to_string)
    }

    fn pep621_array() -> impl Strategy<Value = Option<String>> {
        prop::sample::select(vec![
            None,
            Some("dependencies = []"),
            Some("dependencies = [\"django>=5.2\"]"),
            Some("dependencies = [\"django>=5.2\", \"psycopg[binary]\"]"),
            Some("dependencies = [ \"django>=5.2\" , ]"),
            Some("dependencies = [\n    \"django>=5.2\",\n    \"psycopg[binary]>=3.2\",\n]"),
            Some("dependencies = [\n    \"django>=5.2\",\n    \"psycopg\"\n]"),
            Some("dependencies = [\n    \"django>=5.2\",  # framework\n    \"psycopg\",  # db\n]"),
            Some("dependencies = [\n    # web\n    \"django>=5.2\",\n\n    # server\n    \"gunicorn>=22\",\n]"),
            Some("dependencies = [\"Django\", \"WhiteNoise[brotli]>=6\"]"),
            Some("dependencies = [\n\t\"django\",\n]"),
            Some("dependencies = [\n  \"django\",\n  \"uvicorn_worker\",\n]"),
            Some("dependencies = [\n    \"django\"\n    # trailing comment\n]"),
            Some("dependencies = [ # head comment\n]"),
            Some("dependencies = [\n]"),
            Some("dependencies = [\"django (>=5.2)\", \"café-lib\"]"),
        ])
        .prop_map(|s| s.map(str::to_string))
    }

    fn main_table(kind: Kind) -> BoxedStrategy<String> {
        match kind {
            Kind::Pep621 => (
                pep621_array(),
                any::<bool>(),
                prop::sample::select(vec!["", "\n\n[project.optional-dependencies]\ndev = [\"pytest\"]", "\n[project.urls]\nHome = \"https://example.com\"  # home"]),
            )
                .prop_map(|(deps, requires, sub)| {
                    let mut t = String::from("[project]\nname = \"demo\"\nversion = \"0.1.0\"");
                    if requires {
                        t.push_str("\nrequires-python = \">=3.12\"  # keep");
                    }
                    if let Some(deps) = deps {
                        t.push('\n');
                        t.push_str(&deps);
                    }
                    t.push_str("\nreadme = \"README.md\"");
                    t.push_str(sub);
                    t
                })
                .boxed(),
            Kind::Poetry => prop::sample::select(vec![
                "[tool.poetry]\nname = \"demo\"\nversion = \"0.1.0\"\n\n[tool.poetry.dependencies]\npython = \"^3.12\"\nDjango = \"^5.2\"\npsycopg = { version = \"^3.2\", extras = [\"binary\"] }  # db",
                "[tool.poetry]\nname = \"demo\"\n\n[tool.poetry.dependencies]\npython = \"^3.12\"\ngunicorn = \"*\"\n# a comment at the end of the table",
                "[tool.poetry]\nname = \"demo\"\ndependencies = { python = \"^3.12\", django = \"*\" }",
                "[tool.poetry]\nname = \"demo\"",
                "[tool.poetry.dependencies]\npython = \"^3.12\"\nWhite-Noise = \"^6\"\n\n[tool.poetry.group.dev.dependencies]\npytest = \"*\"",
            ])
            .prop_map(str::to_string)
            .boxed(),
            Kind::Pipfile => prop::sample::select(vec![
                "[packages]\ndjango = \"*\"\ngunicorn = {version = \">=22\"}",
                "[packages]\ndjango = \"==5.2\"  # pinned\n# between\n\n[dev-packages]\npytest = \"*\"",
                "[packages]",
                "[dev-packages]\npytest = \"*\"",
            ])
            .prop_map(str::to_string)
            .boxed(),
        }
    }

    /// A generated manifest: its kind, its text, and the byte range of the table that holds
    /// the dependencies (where djrun may change bytes).
    #[derive(Debug, Clone)]
    pub struct Doc {
        pub kind: Kind,
        pub text: String,
        pub main: (usize, usize),
        pub shape: Shape,
        /// A CRLF file with one LF line in it.
        pub mixed: bool,
    }

    pub fn doc() -> impl Strategy<Value = Doc> {
        prop_oneof![Just(Kind::Pep621), Just(Kind::Poetry), Just(Kind::Pipfile)]
            .prop_flat_map(|kind| {
                (
                    Just(kind),
                    prop::option::weighted(
                        0.3,
                        Just("# Top comment\ntitle = \"root key\"".to_string()),
                    ),
                    prop::collection::vec(other_table(), 0..3),
                    main_table(kind),
                    prop::collection::vec(other_table(), 0..3),
                    prop::sample::select(vec!["\n", "\n\n", "\n\n\n"]),
                    shape(),
                    prop::bool::weighted(0.15),
                )
            })
            .prop_map(|(kind, root, before, main, after, sep, shape, mixed)| {
                let mut pieces: Vec<String> = root.into_iter().collect();
                let mut main_index = 0;
                for table in before.iter().chain([&main]).chain(&after) {
                    if *table == main {
                        main_index = pieces.len();
                    } else if duplicates(table, &main) || pieces.contains(table) {
                        continue; // a table defined twice is not TOML
                    }
                    pieces.push(table.clone());
                }
                let (mut text, ranges) = assemble(&pieces, sep, shape);
                // The main table runs to the next table: the blank lines after it are where
                // a new key or table goes.
                let start = ranges[main_index].0;
                let end = ranges.get(main_index + 1).map_or(text.len(), |r| r.0);
                let mixed = mixed && shape.crlf && main_index > 0;
                if mixed {
                    // One LF line, before the main table, in a CRLF file (not the first
                    // line: that one decides the file's newline).
                    let first = text.find("\r\n").unwrap();
                    let first = text[first + 2..]
                        .find("\r\n")
                        .map_or(usize::MAX, |i| first + 2 + i);
                    if first < start {
                        text.replace_range(first..first + 2, "\n");
                        return Doc {
                            kind,
                            text,
                            main: (start - 1, end - 1),
                            shape,
                            mixed,
                        };
                    }
                }
                Doc {
                    kind,
                    text,
                    main: (start, end),
                    shape,
                    mixed: false,
                }
            })
    }

    /// Whether another table would define the main table's tables a second time.
    fn duplicates(table: &str, main: &str) -> bool {
        (table.contains("[tool.poetry") && main.contains("[tool.poetry"))
            || (table.starts_with("[tool.djrun]") && main.contains("[tool.djrun]"))
    }

    pub fn wanted() -> impl Strategy<Value = Vec<Wanted<'static>>> {
        prop::sample::subsequence(
            vec![
                Wanted {
                    name: "gunicorn",
                    bound: ">=23.0",
                },
                Wanted {
                    name: "whitenoise",
                    bound: ">=6.6",
                },
                Wanted {
                    name: "uvicorn-worker",
                    bound: ">=0.3",
                },
            ],
            0..=3,
        )
    }

    /// `after` with what `add_missing` added taken out again; `None` when what was added is
    /// not exactly the missing names.
    fn without_added(
        kind: Kind,
        before: &Plain,
        after: &Plain,
        wanted: &[Wanted],
    ) -> Result<Plain, String> {
        let mut out = after.clone();
        match kind {
            Kind::Pep621 => {
                let old: Vec<Plain> = match before.get(&["project", "dependencies"]) {
                    Some(Plain::Array(items)) => items.clone(),
                    None => Vec::new(),
                    Some(other) => return Err(format!("dependencies were {other:?}")),
                };
                let present: Vec<String> = old
                    .iter()
                    .filter_map(|p| match p {
                        Plain::Str(s) => Some(req_name(s)),
                        _ => None,
                    })
                    .collect();
                let mut expected = old.clone();
                for w in wanted {
                    let name = requirements::normalize_name(w.name);
                    if !present.contains(&name)
                        && !expected.contains(&Plain::Str(format!("{}{}", w.name, w.bound)))
                    {
                        expected.push(Plain::Str(format!("{}{}", w.name, w.bound)));
                    }
                }
                let Some(Plain::Array(got)) = out.get(&["project", "dependencies"]).cloned() else {
                    if expected.is_empty() {
                        return Ok(out);
                    }
                    return Err("no dependencies afterwards".into());
                };
                if got != expected {
                    return Err(format!("dependencies {got:?}, expected {expected:?}"));
                }
                let Some(Plain::Table(project)) = out.get_mut(&["project"]) else {
                    unreachable!()
                };
                if before.get(&["project", "dependencies"]).is_some() {
                    project.insert("dependencies".into(), Plain::Array(old));
                } else {
                    project.remove("dependencies");
                }
            }
            Kind::Poetry | Kind::Pipfile => {
                let path: &[&str] = if kind == Kind::Pipfile {
                    &["packages"]
                } else {
                    &["tool", "poetry", "dependencies"]
                };
                let old = before.get(path).cloned();
                let present: Vec<String> = match &old {
                    Some(Plain::Table(t)) => {
                        t.keys().map(|k| requirements::normalize_name(k)).collect()
                    }
                    _ => Vec::new(),
                };
                let missing = wanted
                    .iter()
                    .any(|w| !present.contains(&requirements::normalize_name(w.name)));
                let Some(Plain::Table(table)) = out.get_mut(path) else {
                    if !missing && old.is_none() {
                        return Ok(out); // nothing to add, so no table is created
                    }
                    return Err(format!("no table {path:?} afterwards"));
                };
                for w in wanted {
                    if present.contains(&requirements::normalize_name(w.name)) {
                        continue;
                    }
                    match table.remove(w.name) {
                        Some(Plain::Str(b)) if b == w.bound => {}
                        other => return Err(format!("{} is {other:?}", w.name)),
                    }
                }
                if old.is_none() {
                    // Take out the tables djrun created on the way.
                    for depth in (1..=path.len()).rev() {
                        if before.get(&path[..depth]).is_some() {
                            break;
                        }
                        let (parent, key) = (&path[..depth - 1], path[depth - 1]);
                        if let Some(Plain::Table(p)) = out.get_mut(parent) {
                            if matches!(p.get(key), Some(Plain::Table(t)) if t.is_empty()) {
                                p.remove(key);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn check_manifest(doc: &Doc, wanted: &[Wanted]) -> Result<(), TestCaseError> {
        let text = &doc.text;
        let before = parse(text)
            .ok_or_else(|| TestCaseError::fail(format!("generator made invalid TOML: {text}")))?;
        let out = match pyproject::add_missing(doc.kind.manifest(), "pyproject.toml", text, wanted)
        {
            Ok(out) => out,
            Err(e) => return Err(TestCaseError::fail(format!("refused: {e}"))),
        };
        let after =
            parse(&out).ok_or_else(|| TestCaseError::fail(format!("output is not TOML: {out}")))?;
        let restored =
            without_added(doc.kind, &before, &after, wanted).map_err(TestCaseError::fail)?;
        prop_assert_eq!(
            &restored,
            &before,
            "every key and value that was there is still there"
        );
        // Only the dependency table's bytes change.
        if out != *text {
            let (mut start, mut end) = changed_region(text, &out);
            // A pure insertion can slide left over text that repeats its last bytes (a new
            // `[tool.poetry.dependencies]` after a blank line and before `[[tool...`).
            let inserted = out.len() - text.len();
            while start == end
                && start > doc.main.1
                && text.as_bytes()[start - 1] == out.as_bytes()[start - 1 + inserted]
            {
                (start, end) = (start - 1, end - 1);
            }
            // A table that did not exist (and whose parent did not either) is inserted
            // between two tables: a pure insertion, every old byte kept in order.
            let parent: &[&str] = match doc.kind {
                Kind::Pep621 => &["project"],
                Kind::Poetry => &["tool", "poetry"],
                Kind::Pipfile => &["packages"],
            };
            let appended = before.get(parent).is_none() && start == end;
            prop_assert!(
                (doc.main.0 <= start && end <= doc.main.1) || appended,
                "changed {:?} = {:?} outside the table {:?} = {:?}\n--- before\n{}\n--- after\n{}",
                (start, end),
                &text[start..end],
                doc.main,
                &text[doc.main.0..doc.main.1],
                text,
                out
            );
            if doc.shape.crlf && all_crlf(text) {
                prop_assert_eq!(bare_lfs(&out), 0, "a CRLF file stays CRLF");
            }
            if doc.mixed {
                prop_assert_eq!(bare_lfs(&out), 1, "the one LF line stays LF");
            }
            if !text.contains('\r') {
                prop_assert!(!out.contains('\r'), "an LF file stays LF");
            }
        }
        let again = pyproject::add_missing(doc.kind.manifest(), "pyproject.toml", &out, wanted)
            .map_err(|e| TestCaseError::fail(format!("second run: {e}")))?;
        prop_assert_eq!(again, out, "a second run changes nothing");
        Ok(())
    }

    fn saved() -> impl Strategy<Value = Saved> {
        let value = || {
            prop::option::of(prop_oneof![
                "[a-z][a-z0-9-]{4,28}[a-z0-9]",
                Just("europe-west1".to_string()),
                // Values are validated before they are stored (no newlines); any other
                // character round-trips.
                "[^\\p{C}\n\r]{0,12}",
                Just("quote \" backslash \\ tab \t hash # é".to_string()),
            ])
        };
        (
            (
                value(),
                value(),
                value(),
                value(),
                prop::option::of(any::<bool>()),
            ),
            (
                value(),
                value(),
                value(),
                value(),
                prop::option::of(any::<bool>()),
            ),
            prop::option::of(prop::collection::vec("[a-z]{1,8}\\.[a-z]{2,5}", 1..3)),
            (value(), value(), value()),
            (
                prop::option::of(prop::collection::btree_map(
                    "[A-Z_][A-Z0-9_]{0,10}",
                    "[^\\p{C}\n\r]{0,12}",
                    1..3,
                )),
                prop::option::of(prop::collection::vec("[A-Z_][A-Z0-9_]{0,10}", 1..3)),
            ),
        )
            .prop_map(
                |(
                    (project, region, service, python, public),
                    (database, sql_instance, media, bucket, public_media),
                    domains,
                    (ci, github_repo, branch),
                    (env, secrets),
                )| Saved {
                    env,
                    secrets,
                    domains,
                    ci,
                    github_repo,
                    branch,
                    capacity: Default::default(),
                    settings: None,
                    project,
                    region,
                    service,
                    python,
                    public,
                    database,
                    sql_instance,
                    media,
                    bucket,
                    public_media,
                },
            )
    }

    /// A `djrun.toml` as a person might have edited it: comments, quoting, other keys.
    fn djrun_toml() -> impl Strategy<Value = String> {
        let line = prop::sample::select(vec![
            "# Choices for `djrun init`; flags override them.",
            "# a comment of the user's — café",
            "",
            "project = \"my-project-123\"",
            "project = 'literal-quotes'  # why this project",
            "region = \"europe-west1\" # closest",
            "service = \"\"\"multi\"\"\"",
            "python = \"3.12\"",
            "public = false  # private by default",
            "public = true",
            "unknown = [1, 2]  # djrun does not know it",
        ]);
        (prop::collection::vec(line, 0..8), shape()).prop_map(|(lines, shape)| {
            let mut seen = Vec::new();
            let mut pieces = Vec::new();
            for l in lines {
                let key = l.split(' ').next().unwrap_or("");
                if !l.starts_with('#') && !l.is_empty() {
                    if seen.contains(&key) {
                        continue; // a key defined twice is not TOML
                    }
                    seen.push(key);
                }
                pieces.push(l.to_string());
            }
            assemble(&pieces, "\n", shape).0
        })
    }

    const KEYS: [&str; 16] = [
        "project",
        "region",
        "service",
        "python",
        "public",
        "database",
        "sql-instance",
        "media",
        "bucket",
        "public-media",
        "domains",
        "ci",
        "github-repo",
        "branch",
        "env",
        "secrets",
    ];

    fn check_config(
        text: Option<&str>,
        pyproject: bool,
        saved: &Saved,
    ) -> Result<(), TestCaseError> {
        let file = ConfigFile {
            path: if pyproject {
                "pyproject.toml"
            } else {
                "djrun.toml"
            }
            .into(),
            pyproject,
            text: text.map(str::to_string),
        };
        let change = match file.store(saved) {
            Ok(change) => change,
            Err(e) => return Err(TestCaseError::fail(format!("store refused: {e}"))),
        };
        let after_text = change
            .as_ref()
            .map_or(text.unwrap_or(""), |c| c.after.as_str());
        let stored = ConfigFile {
            text: Some(after_text.to_string()),
            ..file.clone()
        };
        let loaded = stored
            .load()
            .map_err(|e| TestCaseError::fail(format!("load: {e}")))?;
        prop_assert_eq!(&loaded, saved, "store then load gives back the choices");
        prop_assert_eq!(
            stored
                .store(saved)
                .map_err(|e| TestCaseError::fail(e.to_string()))?,
            None,
            "storing again changes nothing"
        );
        if let Some(text) = text {
            // Everything else in the file is still there, with the same values.
            let strip = |doc: &Plain| {
                let mut doc = doc.clone();
                let path: &[&str] = if pyproject { &["tool", "djrun"] } else { &[] };
                if let Some(Plain::Table(t)) = doc.get_mut(path) {
                    for key in KEYS {
                        t.remove(key);
                    }
                }
                if pyproject {
                    for depth in [2, 1] {
                        let (parent, key) = (&path[..depth - 1], path[depth - 1]);
                        if let Some(Plain::Table(p)) = doc.get_mut(parent) {
                            if matches!(p.get(key), Some(Plain::Table(t)) if t.is_empty()) {
                                p.remove(key);
                            }
                        }
                    }
                }
                doc
            };
            let before = parse(text).expect("generated TOML parses");
            let after = parse(after_text)
                .ok_or_else(|| TestCaseError::fail(format!("not TOML: {after_text}")))?;
            prop_assert_eq!(strip(&after), strip(&before));
            if text.contains('\n') && all_crlf(text) {
                prop_assert_eq!(
                    bare_lfs(after_text),
                    0,
                    "a CRLF file stays CRLF: {:?}",
                    after_text
                );
            }
            // Comments survive, but for those on (or just above) a key that goes back to
            // djrun's default and is removed.
            let removed: Vec<&str> = KEYS
                .iter()
                .zip([&saved.project, &saved.region, &saved.service, &saved.python])
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| *k)
                .chain(saved.public.is_none().then_some("public"))
                .collect();
            let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let Some(comment) = line.find('#').map(|i| &line[i..]) else {
                    continue;
                };
                if comment.contains('"') || comment.contains('\'') {
                    continue; // a `#` inside a string
                }
                let owner = lines[n..]
                    .iter()
                    .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
                    .map_or("", |l| l.split('=').next().unwrap_or("").trim());
                if removed.contains(&owner) {
                    continue;
                }
                prop_assert!(
                    after_text.contains(comment.trim_end()),
                    "comment {:?} kept in {:?}",
                    comment,
                    after_text
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn add_missing_keeps_everything_else(doc in doc(), wanted in wanted()) {
            check_manifest(&doc, &wanted)?;
        }

        #[test]
        fn saved_choices_round_trip_and_keep_everything_else(
            doc in doc(),
            flat in djrun_toml(),
            saved in saved(),
        ) {
            check_config(Some(&doc.text), true, &saved)?;
            check_config(Some(&flat), false, &saved)?;
            check_config(None, false, &saved)?;
        }

        #[test]
        fn add_extra_changes_only_the_pinned_entry(
            (kind, entry) in prop_oneof![
                prop::sample::select(vec![
                    "\"django-storages==1.14.4\"",
                    "'Django_Storages[azure] >= 1.14 ; python_version >= \"3.10\"'",
                    "\"django-storages [google]\"",
                ]).prop_map(|e| (Kind::Pep621, e)),
                (
                    prop_oneof![Just(Kind::Poetry), Just(Kind::Pipfile)],
                    prop::sample::select(vec![
                        "django-storages = \"1.14.4\"  # media",
                        "Django_Storages = {version = \"*\", extras = [\"azure\"]}",
                        "django-storages = { version = \"^1.14\", markers = \"os_name == 'posix'\" }",
                        "django-storages = { git = \"https://example.com/s.git\", extras = [\"google\"] }",
                    ]),
                ),
            ],
            other in other_table(),
            crlf in any::<bool>(),
        ) {
            let body = match kind {
                Kind::Pep621 => format!("[project]\nname = \"x\"\ndependencies = [\n    \"django>=5.2\",  # web\n    {entry},\n]\n\n{other}\n"),
                Kind::Poetry => format!("[tool.poetry.dependencies]\npython = \"^3.12\"\n{entry}\nDjango = \"^5.2\"\n\n{other}\n"),
                Kind::Pipfile => format!("[packages]\ndjango = \"*\"\n{entry}\n\n[dev-packages]\npytest = \"*\"\n"),
            };
            let text = if crlf { body.replace('\n', "\r\n") } else { body };
            let out = pyproject::add_extra(kind.manifest(), "f", &text, "django-storages", "google").unwrap();
            let again = pyproject::add_extra(kind.manifest(), "f", &out, "django-storages", "google").unwrap();
            prop_assert_eq!(&again, &out, "a second run changes nothing");
            // The lines around the entry keep every byte, line endings included; an entry that
            // asks for `google` already is not touched.
            if entry.contains("\"google\"") || entry.contains("[google]") {
                prop_assert_eq!(&out, &text);
            } else {
                let (start, end) = changed_region(&text, &out);
                let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
                let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
                prop_assert!(
                    text[line_start..line_end].to_ascii_lowercase().contains("storages"),
                    "only the entry's line changes: {:?} -> {:?}", text, out
                );
            }
            if crlf {
                prop_assert_eq!(bare_lfs(&out), 0);
            }
            // The entry asks for `google` (and what it asked before); nothing else differs.
            let packages = |text: &str| {
                let dir = tempfile::tempdir().unwrap();
                let name = if kind == Kind::Pipfile { "Pipfile" } else { "pyproject.toml" };
                std::fs::write(dir.path().join(name), text).unwrap();
                djrun::inspect::deps::detect(dir.path(), ".").unwrap().packages
            };
            let (deps, before) = (packages(&out), packages(&text));
            prop_assert_eq!(deps.len(), before.len());
            prop_assert!(deps.iter().any(|(n, e)| n == "django-storages" && e.contains("google")));
            for ((n, e), (bn, be)) in deps.iter().zip(before.iter()) {
                prop_assert_eq!(n, bn);
                if n != "django-storages" {
                    prop_assert_eq!(e, be);
                } else {
                    prop_assert!(be.is_subset(e));
                }
            }
        }

        #[test]
        fn any_manifest_kind_on_any_text_never_panics(
            text in prop_oneof![any::<String>(), doc().prop_map(|d| d.text)],
            kind in prop_oneof![Just(Kind::Pep621), Just(Kind::Poetry), Just(Kind::Pipfile)],
            wanted in wanted(),
            saved in saved(),
        ) {
            if let Ok(out) = pyproject::add_missing(kind.manifest(), "pyproject.toml", &text, &wanted) {
                prop_assert!(parse(&out).is_some());
                let again = pyproject::add_missing(kind.manifest(), "pyproject.toml", &out, &wanted).unwrap();
                prop_assert_eq!(again, out);
            }
            if let Ok(out) = pyproject::add_extra(kind.manifest(), "pyproject.toml", &text, "django-storages", "google") {
                prop_assert!(parse(&out).is_some());
                let again = pyproject::add_extra(kind.manifest(), "pyproject.toml", &out, "django-storages", "google").unwrap();
                prop_assert_eq!(again, out);
            }
            for pyproject in [true, false] {
                let file = ConfigFile { path: "x.toml".into(), pyproject, text: Some(text.clone()) };
                let _ = file.load();
                if let Ok(Some(change)) = file.store(&saved) {
                    prop_assert!(parse(&change.after).is_some());
                }
            }
        }
    }
}
