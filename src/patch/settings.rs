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

/// The file's newline: CRLF when its first line ends with one, else LF.
pub fn newline_of(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Put `block` (LF text ending in a newline) into the settings `text`: replace djrun's
/// block where there is one, else append it after a blank line. The result must parse.
pub fn apply_block(file: &str, text: &str, block: &str) -> Result<String> {
    let module = PyModule::parse(file, text)?;
    let newline = newline_of(text);
    let block = if newline == "\n" {
        block.to_string()
    } else {
        block.replace('\n', newline)
    };
    let out = match find_block(&module)? {
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
    if !PyModule::is_valid(&out) {
        return Err(Error::input_hint(
            format!(
                "adding djrun's block to `{file}` would leave it unparseable; nothing was changed"
            ),
            "make sure the file ends outside any open bracket or string, then run djrun again",
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
    fn empty_file_gets_just_the_block() {
        assert_eq!(apply_block("s.py", "", BLOCK).unwrap(), BLOCK);
    }
}
