//! The plan: every change computed in memory, and the one diff function that serves
//! `--check`, `--dry-run`, the confirmation and the tests.

use similar::{ChangeTag, TextDiff};

/// Who owns a file djrun writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A whole file djrun generates (Dockerfile, cloudbuild.yaml, ...).
    Generated,
    /// A user's file that djrun edits in place (settings, requirements, pyproject).
    User,
}

/// One file to create or change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the root, `/`-separated.
    pub path: String,
    /// The current contents, `None` when the file does not exist.
    pub before: Option<String>,
    /// The contents djrun wants.
    pub after: String,
    /// Who owns the file.
    pub owner: Owner,
    /// How the file's text is written as bytes (as it was read).
    pub encoding: crate::text::Encoding,
}

impl FileChange {
    /// Whether applying this change would alter the file.
    pub fn changes_anything(&self) -> bool {
        self.before.as_deref() != Some(self.after.as_str())
    }
}

/// Everything `init` would do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Files to create or change, in a stable order. Unchanged files are left out.
    pub changes: Vec<FileChange>,
    /// Dependencies the plan adds to the project's manifest (a lock file must follow).
    pub dependencies_added: Vec<String>,
}

impl Plan {
    /// Add a change, unless it changes nothing.
    pub fn push(&mut self, change: FileChange) {
        if change.changes_anything() {
            self.changes.push(change);
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The unified diff of every change, one file after another.
    pub fn diff(&self, color: bool) -> String {
        self.changes.iter().map(|c| diff(c, color)).collect()
    }
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// A unified diff of one change (`/dev/null` as the old side of a new file), optionally
/// coloured. Line endings are shown as they are; a missing final newline is marked.
pub fn diff(change: &FileChange, color: bool) -> String {
    let before = change.before.as_deref().unwrap_or("");
    let old_name = if change.before.is_some() {
        format!("a/{}", change.path)
    } else {
        "/dev/null".to_string()
    };
    let new_name = format!("b/{}", change.path);
    let text_diff = TextDiff::from_lines(before, change.after.as_str());
    let mut out = String::new();
    let paint = |out: &mut String, code: &str, line: &str| {
        if color {
            out.push_str(code);
            out.push_str(line);
            out.push_str(RESET);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    };
    paint(&mut out, BOLD, &format!("--- {old_name}"));
    paint(&mut out, BOLD, &format!("+++ {new_name}"));
    for group in text_diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        let header = format!(
            "@@ -{} +{} @@",
            hunk_range(old.start, old.len()),
            hunk_range(new.start, new.len())
        );
        paint(&mut out, CYAN, &header);
        for op in &group {
            for change in text_diff.iter_changes(op) {
                let (sign, code) = match change.tag() {
                    ChangeTag::Delete => ("-", RED),
                    ChangeTag::Insert => ("+", GREEN),
                    ChangeTag::Equal => (" ", ""),
                };
                let value = change.value();
                let line = value.strip_suffix('\n').unwrap_or(value);
                let line = line.strip_suffix('\r').unwrap_or(line);
                // A token the user's file holds is never shown.
                let text = format!("{sign}{}", crate::inspect::sources::redact_line(line));
                if code.is_empty() {
                    out.push_str(&text);
                    out.push('\n');
                } else {
                    paint(&mut out, code, &text);
                }
                if !value.ends_with('\n') {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

fn hunk_range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: Option<&str>, after: &str) -> FileChange {
        FileChange {
            path: "x.txt".into(),
            before: before.map(str::to_string),
            after: after.into(),
            owner: Owner::User,
            encoding: crate::text::Encoding::Utf8,
        }
    }

    #[test]
    fn new_file_diff_is_all_additions() {
        let d = diff(&change(None, "a\nb\n"), false);
        assert_eq!(d, "--- /dev/null\n+++ b/x.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    }

    #[test]
    fn changed_file_diff_has_context_and_marks_missing_newline() {
        let d = diff(&change(Some("a\nb"), "a\nb\nc\n"), false);
        assert_eq!(
            d,
            "--- a/x.txt\n+++ b/x.txt\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n"
        );
    }

    #[test]
    fn color_only_when_asked() {
        assert!(!diff(&change(None, "a\n"), false).contains('\x1b'));
        assert!(diff(&change(None, "a\n"), true).contains(GREEN));
    }

    #[test]
    fn unchanged_files_are_not_planned() {
        let mut plan = Plan::default();
        plan.push(change(Some("same\n"), "same\n"));
        assert!(plan.is_empty());
        plan.push(change(Some("same\n"), "other\n"));
        assert_eq!(plan.changes.len(), 1);
    }
}
