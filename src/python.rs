//! A small, read-only view of a Python module, built on tree-sitter-python.
//!
//! djrun never edits Python with regular expressions: it parses the module, finds the
//! nodes it cares about (module-level assignments, calls, comments) and edits by byte range.

use crate::{Error, Result};
use tree_sitter::{Node, Parser, Tree};

/// A parsed Python module and its source text.
pub struct PyModule {
    file: String,
    text: String,
    tree: Tree,
}

/// One module-level assignment `NAME = value` (also inside top-level `if`/`try`/`with`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The assigned name.
    pub name: String,
    /// 1-based line of the assignment.
    pub line: usize,
    /// The right-hand side as written.
    pub value: String,
    /// tree-sitter's kind of the right-hand side (`list`, `string`, `call`, ...).
    pub value_kind: String,
    /// Whether the assignment is nested in a top-level compound statement (`if`, `try`, ...).
    pub conditional: bool,
}

/// A call such as `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The function as written (`os.environ.setdefault`).
    pub function: String,
    /// String literal arguments, decoded; `None` for arguments that are not plain strings.
    pub string_args: Vec<Option<String>>,
    /// 1-based line.
    pub line: usize,
}

/// A comment that stands alone on its line at module level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment text including `#`.
    pub text: String,
    /// Byte offset of the start of the comment's line.
    pub line_start: usize,
    /// Byte offset just past the comment's line ending.
    pub line_end: usize,
    /// 1-based line.
    pub line: usize,
}

fn parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("the bundled tree-sitter-python grammar matches the tree-sitter runtime");
    parser
}

impl PyModule {
    /// Parse `text`; a syntax error is an input error naming `file` and the line.
    pub fn parse(file: &str, text: &str) -> Result<PyModule> {
        let tree = parser()
            .parse(text, None)
            .ok_or_else(|| Error::input(format!("could not parse `{file}` as Python")))?;
        let module = PyModule {
            file: file.to_string(),
            text: text.to_string(),
            tree,
        };
        if let Some(line) = module.first_error_line() {
            return Err(Error::input_hint(
                format!("`{file}` line {line} is not valid Python, so djrun cannot tell what to change in it"),
                format!("fix the syntax error (`python -m py_compile {file}` shows it) and run djrun again"),
            ));
        }
        Ok(module)
    }

    /// Whether `text` parses as Python without any error node.
    pub fn is_valid(text: &str) -> bool {
        parser()
            .parse(text, None)
            .is_some_and(|tree| !tree.root_node().has_error())
    }

    /// The file name used in messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    fn first_error_line(&self) -> Option<usize> {
        let root = self.tree.root_node();
        if !root.has_error() {
            return None;
        }
        let mut cursor = root.walk();
        let mut node = root;
        // Descend towards the first error or missing node.
        'outer: loop {
            if node.is_error() || node.is_missing() {
                return Some(node.start_position().row + 1);
            }
            for child in node.children(&mut cursor) {
                if child.has_error() || child.is_error() || child.is_missing() {
                    node = child;
                    continue 'outer;
                }
            }
            return Some(node.start_position().row + 1);
        }
    }

    fn node_text(&self, node: Node) -> &str {
        &self.text[node.byte_range()]
    }

    /// Statements at module level, descending into top-level compound statements
    /// (`if`, `try`, `with`, `for`) but not into functions or classes.
    fn module_statements(&self) -> Vec<(Node<'_>, bool)> {
        fn collect<'t>(node: Node<'t>, nested: bool, out: &mut Vec<(Node<'t>, bool)>) {
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                match child.kind() {
                    "function_definition" | "class_definition" | "decorated_definition" => {}
                    "if_statement" | "try_statement" | "with_statement" | "for_statement"
                    | "while_statement" | "block" | "else_clause" | "elif_clause"
                    | "except_clause" | "finally_clause" => collect(child, true, out),
                    _ => out.push((child, nested)),
                }
            }
        }
        let mut out = Vec::new();
        collect(self.tree.root_node(), false, &mut out);
        out
    }

    /// Every module-level assignment to a plain name, in source order.
    pub fn assignments(&self) -> Vec<Assignment> {
        let mut out = Vec::new();
        for (stmt, conditional) in self.module_statements() {
            if stmt.kind() != "expression_statement" {
                continue;
            }
            let mut cursor = stmt.walk();
            for expr in stmt.named_children(&mut cursor) {
                let (Some(left), Some(right)) = (
                    expr.child_by_field_name("left"),
                    expr.child_by_field_name("right"),
                ) else {
                    continue;
                };
                if !matches!(expr.kind(), "assignment" | "augmented_assignment") {
                    continue;
                }
                if left.kind() == "identifier" {
                    out.push(Assignment {
                        name: self.node_text(left).to_string(),
                        line: expr.start_position().row + 1,
                        value: self.node_text(right).to_string(),
                        value_kind: right.kind().to_string(),
                        conditional,
                    });
                }
            }
        }
        out
    }

    /// The last unconditional assignment to `name`, else the last conditional one.
    pub fn assignment(&self, name: &str) -> Option<Assignment> {
        let all: Vec<_> = self
            .assignments()
            .into_iter()
            .filter(|a| a.name == name)
            .collect();
        all.iter()
            .rev()
            .find(|a| !a.conditional)
            .or(all.last())
            .cloned()
    }

    /// Modules imported with `from X import *`, as written (`.base`, `config.settings.base`).
    pub fn star_imports(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (stmt, _) in self.module_statements() {
            if stmt.kind() != "import_from_statement" {
                continue;
            }
            let mut cursor = stmt.walk();
            let star = stmt
                .named_children(&mut cursor)
                .any(|c| c.kind() == "wildcard_import");
            if let (true, Some(module)) = (star, stmt.child_by_field_name("module_name")) {
                out.push(self.node_text(module).to_string());
            }
        }
        out
    }

    /// Every call anywhere in the module, with its string arguments decoded.
    pub fn calls(&self) -> Vec<Call> {
        let mut out = Vec::new();
        let mut stack = vec![self.tree.root_node()];
        while let Some(node) = stack.pop() {
            if node.kind() == "call" {
                if let (Some(function), Some(args)) = (
                    node.child_by_field_name("function"),
                    node.child_by_field_name("arguments"),
                ) {
                    let mut cursor = args.walk();
                    let string_args = args
                        .named_children(&mut cursor)
                        .filter(|a| a.kind() != "comment")
                        .map(|a| self.string_value(a))
                        .collect();
                    out.push(Call {
                        function: self.node_text(function).to_string(),
                        string_args,
                        line: node.start_position().row + 1,
                    });
                }
            }
            let mut cursor = node.walk();
            let children: Vec<_> = node.named_children(&mut cursor).collect();
            stack.extend(children.into_iter().rev());
        }
        out.sort_by_key(|c| c.line);
        out
    }

    /// The decoded value of a plain string literal node (no f-strings, no concatenation).
    fn string_value(&self, node: Node) -> Option<String> {
        if node.kind() != "string" {
            return None;
        }
        let mut cursor = node.walk();
        let mut value = String::new();
        for part in node.named_children(&mut cursor) {
            match part.kind() {
                "string_start" => {
                    let prefix = self.node_text(part).to_ascii_lowercase();
                    if prefix.contains('f') || prefix.contains('b') {
                        return None;
                    }
                }
                "string_content" => value.push_str(self.node_text(part)),
                "string_end" => {}
                _ => return None,
            }
        }
        Some(value)
    }

    /// The strings in the list or tuple literal assigned to `name` (last assignment), if it is one.
    pub fn string_list(&self, name: &str) -> Option<Vec<String>> {
        let assignment = self.assignment(name)?;
        let node = self.find_assignment_value(name, assignment.line)?;
        if !matches!(node.kind(), "list" | "tuple") {
            return None;
        }
        let mut cursor = node.walk();
        Some(
            node.named_children(&mut cursor)
                .filter_map(|c| self.string_value(c))
                .collect(),
        )
    }

    /// The string literal assigned to `name`, if it is a plain string.
    pub fn string_setting(&self, name: &str) -> Option<String> {
        let assignment = self.assignment(name)?;
        let node = self.find_assignment_value(name, assignment.line)?;
        self.string_value(node)
    }

    fn find_assignment_value(&self, name: &str, line: usize) -> Option<Node<'_>> {
        for (stmt, _) in self.module_statements() {
            if stmt.start_position().row + 1 > line || stmt.end_position().row + 1 < line {
                continue;
            }
            let mut cursor = stmt.walk();
            for expr in stmt.named_children(&mut cursor) {
                if expr.kind() != "assignment" {
                    continue;
                }
                let left = expr.child_by_field_name("left")?;
                if left.kind() == "identifier" && self.node_text(left) == name {
                    return expr.child_by_field_name("right");
                }
            }
        }
        None
    }

    /// Comments that stand alone on a line at module level, in order.
    pub fn module_comments(&self) -> Vec<Comment> {
        let root = self.tree.root_node();
        let mut cursor = root.walk();
        let bytes = self.text.as_bytes();
        root.children(&mut cursor)
            .filter(|c| c.kind() == "comment")
            .filter_map(|c| {
                let start = c.start_byte();
                let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
                if !self.text[line_start..start].trim().is_empty() {
                    return None;
                }
                let mut line_end = c.end_byte();
                while line_end < bytes.len() && bytes[line_end] != b'\n' {
                    line_end += 1;
                }
                if line_end < bytes.len() {
                    line_end += 1;
                }
                Some(Comment {
                    text: self.node_text(c).trim_end().to_string(),
                    line_start,
                    line_end,
                    line: c.start_position().row + 1,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = r#"
from pathlib import Path
import os
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = 'abc'
DEBUG = True
ALLOWED_HOSTS = []
if os.environ.get("X"):
    ALLOWED_HOSTS = ["x.example.com"]
MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    "django.contrib.sessions.middleware.SessionMiddleware",  # sessions
]
def f():
    STATIC_ROOT = "nope"
# a comment
STATIC_URL = 'static/'
"#;

    #[test]
    fn finds_module_level_assignments_not_function_locals() {
        let m = PyModule::parse("settings.py", SETTINGS).unwrap();
        let names: Vec<_> = m.assignments().into_iter().map(|a| a.name).collect();
        assert!(names.contains(&"BASE_DIR".to_string()));
        assert!(!names.contains(&"STATIC_ROOT".to_string()));
        let hosts = m.assignment("ALLOWED_HOSTS").unwrap();
        assert_eq!(hosts.line, 7, "the unconditional assignment wins");
        assert_eq!(hosts.value, "[]");
    }

    #[test]
    fn decodes_string_lists_and_strings() {
        let m = PyModule::parse("settings.py", SETTINGS).unwrap();
        assert_eq!(
            m.string_list("MIDDLEWARE").unwrap(),
            vec![
                "django.middleware.security.SecurityMiddleware",
                "django.contrib.sessions.middleware.SessionMiddleware"
            ]
        );
        assert_eq!(m.string_setting("STATIC_URL").as_deref(), Some("static/"));
        assert_eq!(m.string_setting("BASE_DIR"), None);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let err = PyModule::parse("mysite/settings.py", "A = 1\nB = [\n\nC = 3 +\n")
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(msg.starts_with("`mysite/settings.py` line "), "{msg}");
        assert!(err.hint().unwrap().contains("py_compile"));
    }

    #[test]
    fn finds_setdefault_calls() {
        let m = PyModule::parse(
            "manage.py",
            "import os\ndef main():\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', \"mysite.settings\")\n",
        )
        .unwrap();
        let call = m
            .calls()
            .into_iter()
            .find(|c| c.function.ends_with("setdefault"))
            .unwrap();
        assert_eq!(
            call.string_args,
            vec![
                Some("DJANGO_SETTINGS_MODULE".to_string()),
                Some("mysite.settings".to_string())
            ]
        );
        assert_eq!(call.line, 3);
    }

    #[test]
    fn star_imports_and_comments() {
        let m = PyModule::parse(
            "prod.py",
            "from .base import *  # noqa\nfrom os import path\n# >>> mark >>>\nX = 1\n",
        )
        .unwrap();
        assert_eq!(m.star_imports(), vec![".base"]);
        let comments = m.module_comments();
        assert_eq!(
            comments.len(),
            1,
            "the trailing comment is not alone on its line"
        );
        assert_eq!(comments[0].text, "# >>> mark >>>");
        assert_eq!(comments[0].line, 3);
        assert_eq!(
            &m.text()[comments[0].line_start..comments[0].line_end],
            "# >>> mark >>>\n"
        );
    }
}
