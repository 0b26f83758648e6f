//! The Cloud Run block in the production settings: appended once, rewritten in place by
//! later runs. The markers are found as module-level comments by the Python parser; bytes
//! outside the block never change.

use crate::python::PyModule;
use crate::{Error, Result};

/// The first line of djrun's block.
pub const START_MARKER: &str = "# >>> djrun: Cloud Run settings >>>";
/// The last line of djrun's block.
pub const END_MARKER: &str = "# <<< djrun <<<";

/// Where djrun's block sits in a settings file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    /// Byte offset of the start of the start marker's line.
    pub start: usize,
    /// Byte offset just past the end marker's line.
    pub end: usize,
}

/// Find djrun's block in a parsed module. A start without an end (or the reverse) is an
/// input error naming the line, since djrun cannot tell where its block ends.
pub fn find_block(module: &PyModule) -> Result<Option<BlockRange>> {
    let comments = module.module_comments();
    let starts: Vec<_> = comments.iter().filter(|c| c.text == START_MARKER).collect();
    let ends: Vec<_> = comments.iter().filter(|c| c.text == END_MARKER).collect();
    let file = module.file();
    match (starts.as_slice(), ends.as_slice()) {
        ([], []) => Ok(None),
        ([start], [end]) if start.line < end.line => Ok(Some(BlockRange {
            start: start.line_start,
            end: end.line_end,
        })),
        ([start, ..], []) => Err(Error::input_hint(
            format!("`{file}` line {}: djrun's block starts here but its end marker `{END_MARKER}` is missing", start.line),
            "restore the end marker, or delete djrun's block entirely, and run djrun again",
        )),
        ([], [end, ..]) => Err(Error::input_hint(
            format!("`{file}` line {}: djrun's end marker is here but its start marker `{START_MARKER}` is missing", end.line),
            "restore the start marker, or delete djrun's block entirely, and run djrun again",
        )),
        (starts, _) => Err(Error::input_hint(
            format!(
                "`{file}` line {}: djrun's block markers are repeated or out of order",
                starts.first().map_or(1, |s| s.line)
            ),
            "keep one block between the two markers, or delete them all, and run djrun again",
        )),
    }
}

/// The file's newline: CRLF when its first line ends with one, else LF. A file with no LF
/// that ends with a CR counts as CRLF: the newline djrun adds after it would make that CR
/// the first CRLF, and a second run must see the same newline as the first.
pub fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        None if text.ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// Put `block` (LF text ending in a newline) into the settings `text`: replace djrun's
/// block where there is one, else append it after a blank line. The result must parse.
/// An empty file (nothing but whitespace) is an input error: it holds no Django settings,
/// so it is not the module the project runs with.
pub fn apply_block(file: &str, text: &str, block: &str) -> Result<String> {
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        return Err(Error::input_hint(
            format!("`{file}` is empty, so it holds no Django settings for djrun to extend"),
            format!("write your settings into `{file}`, or point `DJANGO_SETTINGS_MODULE` in `manage.py` and the WSGI module at the module that has them, and run djrun again"),
        ));
    }
    let module = PyModule::parse(file, text)?;
    let newline = newline_of(text);
    let block = if newline == "\n" {
        block.to_string()
    } else {
        block.replace('\n', newline)
    };
    let existing = find_block(&module)?;
    let out = match existing {
        Some(range) => {
            let mut out = String::with_capacity(text.len() + block.len());
            out.push_str(&text[..range.start]);
            out.push_str(&block);
            out.push_str(&text[range.end..]);
            out
        }
        None => {
            let mut out = String::with_capacity(text.len() + block.len() + 4);
            out.push_str(text);
            let body = text.trim_start_matches('\u{feff}');
            if !body.is_empty() {
                if !text.ends_with('\n') {
                    out.push_str(newline);
                }
                if !text.ends_with(&format!("{newline}{newline}")) {
                    out.push_str(newline);
                }
            }
            out.push_str(&block);
            out
        }
    };
    // The result must parse, and the next run must find the block where it was put: the
    // parser can read a block as part of the statement before it (a last line `X,` continues
    // into an assignment), and a block it cannot find again would stop every later run.
    let placed = PyModule::parse_any_size(file, &out)
        .ok()
        .and_then(|m| find_block(&m).ok().flatten())
        .map(|r| (r.start, r.end));
    let start = existing.map_or(out.len() - block.len(), |r| r.start);
    if placed != Some((start, start + block.len())) {
        return Err(Error::input_hint(
            format!(
                "adding djrun's block to `{file}` would leave it unparseable; nothing was changed"
            ),
            "make sure the file ends with a complete statement, outside any open bracket or string, then run djrun again",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "# >>> djrun: Cloud Run settings >>>\nX = 1\n# <<< djrun <<<\n";

    #[test]
    fn appends_after_a_blank_line_and_keeps_the_original_as_a_prefix() {
        let text = "A = 1\n";
        let out = apply_block("s.py", text, BLOCK).unwrap();
        assert_eq!(out, format!("A = 1\n\n{BLOCK}"));
    }

    #[test]
    fn second_run_replaces_the_block_in_place() {
        let text = format!("A = 1\n\n{BLOCK}B = 2\n");
        let new_block = BLOCK.replace("X = 1", "X = 2");
        let out = apply_block("s.py", &text, &new_block).unwrap();
        assert_eq!(
            out,
            "A = 1\n\n# >>> djrun: Cloud Run settings >>>\nX = 2\n# <<< djrun <<<\nB = 2\n"
        );
        assert_eq!(apply_block("s.py", &out, &new_block).unwrap(), out);
    }

    #[test]
    fn keeps_crlf_and_bom() {
        let text = "\u{feff}A = 1\r\nB = 2";
        let out = apply_block("s.py", text, BLOCK).unwrap();
        assert!(out.starts_with("\u{feff}A = 1\r\nB = 2\r\n\r\n# >>> djrun"));
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "every newline is CRLF: {out:?}"
        );
    }

    #[test]
    fn a_file_ending_in_a_lone_cr_gets_the_same_newline_on_every_run() {
        for text in ["A = 1\r", "A = 1\r\r"] {
            let once = apply_block("s.py", text, BLOCK).unwrap();
            assert!(once.ends_with(&BLOCK.replace('\n', "\r\n")), "{once:?}");
            assert_eq!(apply_block("s.py", &once, BLOCK).unwrap(), once);
        }
    }

    #[test]
    fn a_missing_end_marker_is_an_error_naming_the_line() {
        let text = "A = 1\n# >>> djrun: Cloud Run settings >>>\nX = 1\n";
        let err = apply_block("mysite/settings.py", text, BLOCK).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`mysite/settings.py` line 2: djrun's block starts here but its end marker `# <<< djrun <<<` is missing"
        );
    }

    #[test]
    fn markers_inside_strings_are_not_markers() {
        let text = "A = '''\n# >>> djrun: Cloud Run settings >>>\n'''\n";
        let out = apply_block("s.py", text, BLOCK).unwrap();
        assert!(out.starts_with(text));
        assert!(out.ends_with(BLOCK));
    }

    #[test]
    fn a_block_the_parser_would_not_find_again_is_refused() {
        // tree-sitter-python reads a bare `X,` line and an assignment after it as one
        // assignment `X, A = 1`, comments between included: a block appended there could
        // not be found by the next run.
        let err = apply_block("s.py", "X,", BLOCK).unwrap_err();
        assert!(
            err.to_string().contains("would leave it unparseable"),
            "{err}"
        );
        let fine = "# >>> djrun: Cloud Run settings >>>\nimport os\n# <<< djrun <<<\n";
        let out = apply_block("s.py", "X,", fine).unwrap();
        assert_eq!(apply_block("s.py", &out, fine).unwrap(), out);
    }

    #[test]
    fn an_empty_file_is_refused_naming_it() {
        for text in ["", "\u{feff}", " \r\n\n\t"] {
            let err = apply_block("mysite/settings.py", text, BLOCK).unwrap_err();
            assert_eq!(
                err.to_string(),
                "`mysite/settings.py` is empty, so it holds no Django settings for djrun to extend"
            );
            assert!(err.hint().unwrap().contains("DJANGO_SETTINGS_MODULE"));
        }
    }

    #[test]
    fn a_block_right_after_a_bom_is_found_and_replaced_after_the_bom() {
        let text = format!("\u{feff}{BLOCK}A = 1\n");
        let new_block = BLOCK.replace("X = 1", "X = 2");
        let out = apply_block("s.py", &text, &new_block).unwrap();
        assert_eq!(out, format!("\u{feff}{new_block}A = 1\n"));
        assert_eq!(apply_block("s.py", &out, &new_block).unwrap(), out);
    }
}
