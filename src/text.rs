//! Text encodings of the files djrun edits: UTF-8, and for Python source the Latin-1 a PEP 263
//! declaration (`# -*- coding: latin-1 -*-`) may name. A file is written back in the encoding
//! it was read in.

use crate::{Error, Result};
use std::path::Path;

/// How a file's bytes map to text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (a BOM, if any, is part of the text).
    #[default]
    Utf8,
    /// ISO-8859-1: every byte is the character of the same number.
    Latin1,
}

impl Encoding {
    /// The bytes of `text` in this encoding; `Err` names the first character it cannot hold.
    pub fn encode(self, text: &str) -> std::result::Result<Vec<u8>, char> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).map_err(|_| c))
                .collect(),
        }
    }
}

/// The encoding a PEP 263 declaration names in the first two lines, lowercased, if any.
fn declared(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n').take(2);
    lines.find_map(|line| {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim_start_matches('\u{feff}').trim_start();
        if !trimmed.starts_with('#') {
            return None;
        }
        let at = trimmed.find("coding")?;
        let rest = trimmed[at + "coding".len()..].strip_prefix([':', '='])?;
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        (!name.is_empty()).then(|| name.to_ascii_lowercase().replace('_', "-"))
    })
}

/// The 1-based line of byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Decode `bytes` as UTF-8, naming the file and line of the first bad byte.
pub fn decode_utf8(bytes: Vec<u8>, shown: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let line = line_of(e.as_bytes(), e.utf8_error().valid_up_to());
        Error::input_hint(
            format!("`{shown}` line {line} is not valid UTF-8"),
            format!("save `{shown}` as UTF-8 and run djrun again"),
        )
    })
}

/// Read Python source: UTF-8 unless a coding declaration names Latin-1.
pub fn read_python(path: &Path, shown: &str) -> Result<(String, Encoding)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", shown, e))?;
    match declared(&bytes).as_deref() {
        None | Some("utf-8" | "utf8" | "utf-8-sig") => {
            Ok((decode_utf8(bytes, shown)?, Encoding::Utf8))
        }
        Some("latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "iso-latin-1") => Ok((
            bytes.iter().map(|&b| char::from(b)).collect(),
            Encoding::Latin1,
        )),
        Some(other) => Err(Error::input_hint(
            format!(
                "`{shown}` declares the encoding `{other}`; djrun edits UTF-8 and Latin-1 files"
            ),
            format!("save `{shown}` as UTF-8 (and drop the coding line) and run djrun again"),
        )),
    }
}

/// Parse a TOML document, naming the file and line of a syntax error.
pub fn parse_toml(text: &str, file: &str) -> Result<toml_edit::DocumentMut> {
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        Error::input_hint(
            format!(
                "`{file}` line {line} is not valid TOML: {}",
                e.message().trim()
            ),
            format!("fix `{file}` and run djrun again"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pep_263_declarations_in_the_first_two_lines_only() {
        assert_eq!(
            declared(b"# -*- coding: latin-1 -*-\nx = 1\n").as_deref(),
            Some("latin-1")
        );
        assert_eq!(
            declared(b"#!/usr/bin/env python\n# vim: set fileencoding=ISO_8859_1 :\n").as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(declared(b"x = 1\ny = 2\n# coding: latin-1\n"), None);
        assert_eq!(declared(b"x = '# coding: latin-1'\n"), None);
    }

    #[test]
    fn latin1_round_trips_and_refuses_what_it_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.py");
        let bytes = b"# -*- coding: latin-1 -*-\nG = 'caf\xe9'\n".to_vec();
        std::fs::write(&path, &bytes).unwrap();
        let (text, encoding) = read_python(&path, "s.py").unwrap();
        assert_eq!(encoding, Encoding::Latin1);
        assert!(text.contains("caf\u{e9}"));
        assert_eq!(encoding.encode(&text).unwrap(), bytes);
        assert_eq!(Encoding::Latin1.encode("\u{20ac}"), Err('\u{20ac}'));
    }

    #[test]
    fn other_declared_encodings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.py");
        std::fs::write(&path, b"# coding: shift_jis\n").unwrap();
        let err = read_python(&path, "s.py").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`s.py` declares the encoding `shift-jis`; djrun edits UTF-8 and Latin-1 files"
        );
        std::fs::write(&path, b"A = 1\nB = '\xff'\n").unwrap();
        let err = read_python(&path, "s.py").unwrap_err();
        assert_eq!(err.to_string(), "`s.py` line 2 is not valid UTF-8");
    }
}
