//! The hash Pipenv records in `Pipfile.lock` (`_meta.hash.sha256`) and `pipenv verify`
//! compares with the Pipfile: SHA-256 of the Pipfile's parsed content as JSON.
//!
//! Pipenv (the version the image installs) builds
//! `{"_meta": {"sources": [[source]], "requires": [requires]}, "default": [packages],
//! "develop": [dev-packages], CATEGORY: [CATEGORY]...}`, with the package names of the
//! package tables in their PEP 503 form, a default PyPI source when the Pipfile names none,
//! and `[scripts]`, `[pipfile]` and `[pipenv]` left out; and writes it as Python's
//! `json.dumps(data, sort_keys=True, separators=(",", ":"))` does (keys sorted, no spaces,
//! every character outside printable ASCII escaped).

use crate::patch::requirements::normalize_name;
use std::collections::BTreeMap;
use toml_edit::{Item, Value};

/// The source Pipenv assumes when the Pipfile has no `[[source]]`.
const DEFAULT_SOURCE: &str =
    r#"[{"name":"pypi","url":"https://pypi.org/simple","verify_ssl":true}]"#;

/// Sections that are no package category.
const NOT_CATEGORIES: &[&str] = &[
    "source",
    "packages",
    "dev-packages",
    "requires",
    "scripts",
    "pipfile",
    "pipenv",
    "default",
    "develop",
];

/// Pipenv's hash of the Pipfile `text`, as hex; `None` when djrun cannot compute it exactly
/// (a TOML error, floats or dates, whose JSON spelling is Python's own, a category that is no
/// table, two spellings of one package name).
pub fn pipfile_hash(text: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let mut data: BTreeMap<String, String> = BTreeMap::new();
    let sources = match doc.get("source") {
        Some(item) => json_item(item)?,
        None => DEFAULT_SOURCE.to_string(),
    };
    let requires = match doc.get("requires") {
        Some(item) => json_item(item)?,
        None => "{}".to_string(),
    };
    data.insert(
        "_meta".into(),
        format!(
            "{{{}:{requires},{}:{sources}}}",
            json_string("requires"),
            json_string("sources")
        ),
    );
    let section = |key: &str| match doc.get(key) {
        Some(item) => packages(item),
        None => Some("{}".to_string()),
    };
    data.insert("default".into(), section("packages")?);
    data.insert("develop".into(), section("dev-packages")?);
    for (key, item) in doc.iter() {
        if !NOT_CATEGORIES.contains(&key) {
            data.insert(key.to_string(), packages(item)?);
        }
    }
    Some(hex(&sha256(object(&data).as_bytes())))
}

/// A package table with its names in their PEP 503 form.
fn packages(item: &Item) -> Option<String> {
    let table = item.as_table_like()?;
    let mut out = BTreeMap::new();
    for (name, value) in table.iter() {
        if out
            .insert(normalize_name(name), json_item(value)?)
            .is_some()
        {
            return None;
        }
    }
    Some(object(&out))
}

fn object(members: &BTreeMap<String, String>) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn json_item(item: &Item) -> Option<String> {
    match item {
        Item::None => None,
        Item::Value(v) => json_value(v),
        Item::Table(t) => {
            let mut out = BTreeMap::new();
            for (k, v) in t.iter() {
                out.insert(k.to_string(), json_item(v)?);
            }
            Some(object(&out))
        }
        Item::ArrayOfTables(a) => {
            let items: Option<Vec<String>> = a
                .iter()
                .map(|t| json_item(&Item::Table(t.clone())))
                .collect();
            Some(format!("[{}]", items?.join(",")))
        }
    }
}

fn json_value(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(json_string(s.value())),
        Value::Integer(i) => Some(i.value().to_string()),
        Value::Boolean(b) => Some(b.value().to_string()),
        Value::Float(_) | Value::Datetime(_) => None,
        Value::Array(a) => {
            let items: Option<Vec<String>> = a.iter().map(json_value).collect();
            Some(format!("[{}]", items?.join(",")))
        }
        Value::InlineTable(t) => {
            let mut out = BTreeMap::new();
            for (k, v) in t.iter() {
                out.insert(k.to_string(), json_value(v)?);
            }
            Some(object(&out))
        }
    }
}

/// A JSON string as Python's `json.dumps` writes it with `ensure_ascii`.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (FIPS 180-4).
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bits.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_the_standard_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // Padding that spills into a second block.
        assert_eq!(
            hex(&sha256(&[b'a'; 64])),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"
        );
    }

    #[test]
    fn json_strings_are_escaped_as_python_writes_them() {
        assert_eq!(json_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json_string("é\u{1}\u{7f}"), r#""\u00e9\u0001\u007f""#);
        assert_eq!(json_string("😀"), r#""\ud83d\ude00""#);
        assert_eq!(json_string("\n\t"), r#""\n\t""#);
    }

    /// Each hash below is the `_meta.hash.sha256` that `pipenv lock` (2026.10.3, the version
    /// the image installs) wrote for the Pipfile beside it.
    #[test]
    fn the_hash_is_the_one_pipenv_lock_records() {
        let plain = "# A comment\n[packages]\nDjango = \">=5.2,<6\"\ndjango_storages = {version = \"==1.14.4\", extras = [\"google\"]}\n\n[dev-packages]\n\n[requires]\npython_version = \"3.11\"\n";
        assert_eq!(
            pipfile_hash(plain).as_deref(),
            Some("55419a9cf22d7dfc96a0dfd5ed97b1b2c7b64b4a11c54aa3bc1e6374ffd94855")
        );
        // Comments, layout and a name's spelling do not count; a version does.
        let respelled = "[packages]\n\"django-storages\" = { extras = [\"google\"], version = \"==1.14.4\" }\nDJANGO = \">=5.2,<6\"  # web\n[requires]\npython_version = \"3.11\"\n";
        assert_eq!(pipfile_hash(respelled), pipfile_hash(plain));
        let changed = plain.replace("==1.14.4", "==1.14.5");
        assert_ne!(pipfile_hash(&changed), pipfile_hash(plain));
        // Sources, markers, a category of its own; `[scripts]` and `[pipenv]` do not count.
        let full = "[[source]]\nurl = \"https://pypi.org/simple\"\nverify_ssl = true\nname = \"pypi\"\n\n[packages]\n\"Django\" = \"==5.2.*\"\nGunicorn = {version = \">=23.0\", markers = \"sys_platform != 'win32'\"}\n\n[dev-packages]\npytest = \"*\"\n\n[docs]\nSphinx_RTD_theme = \"*\"\n\n[scripts]\nserve = \"python manage.py runserver\"\n\n[requires]\npython_version = \"3.11\"\n\n[pipenv]\nallow_prereleases = false\n";
        assert_eq!(
            pipfile_hash(full).as_deref(),
            Some("a296e5e6716a86c2524a8923caa0fcbaeaa3c6d4af1dde63eaabea5de367bb2f")
        );
        let scripts = full.replace("runserver\"", "runserver 0.0.0.0:8000\"");
        assert_eq!(pipfile_hash(&scripts), pipfile_hash(full));
        // What djrun cannot spell as Python does is not judged.
        assert_eq!(pipfile_hash("[requires]\npython_version = 3.11\n"), None);
        assert_eq!(pipfile_hash("[packages]\nx = \"*\"\nX = \"*\"\n"), None);
        assert_eq!(pipfile_hash("[packages\n"), None);
    }
}
