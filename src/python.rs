//! A small, read-only view of a Python module, built on tree-sitter-python.
//!
//! djrun never edits Python with regular expressions: it parses the module, finds the
//! nodes it cares about (module-level assignments, calls, comments) and edits by byte range.

use crate::{Error, Result};
use std::collections::HashSet;
use std::sync::OnceLock;
use tree_sitter::{Node, Parser, Tree};

/// A parsed Python module and its source text.
pub struct PyModule {
    file: String,
    text: String,
    tree: Tree,
    /// Every module-level assignment, collected on first use: the settings reader asks for
    /// a dozen names, and each question must not walk the whole tree again.
    assignments: OnceLock<Vec<Assignment>>,
    /// Every plain string literal at module level, collected on first use.
    strings: OnceLock<HashSet<String>>,
    /// Every module-level statement as owned expressions, built on first use.
    statements: OnceLock<Vec<Statement>>,
    /// The comments, by byte range, when the tree was parsed from the text with its comments
    /// blanked out (see [`parse_linear`]); `None` when the tree holds the comments itself.
    blanked_comments: Option<Vec<(usize, usize)>>,
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

/// The largest Python file djrun reads: 16 MB, hundreds of times any real settings module.
/// The work is linear in the size of the file; the limit only guards against input that is
/// not source at all (a database dump saved as `settings.py`).
pub const MAX_MODULE_BYTES: usize = 16_000_000;

/// The byte ranges of every comment in `text` (from `#` to the end of its line), found by a
/// single pass that skips string literals.
fn scan_comments(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n);
                out.push((i, end));
                i = end;
            }
            quote @ (b'\'' | b'"') => {
                let triple = b[i..].starts_with(&[quote, quote, quote]);
                i += if triple { 3 } else { 1 };
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 2,
                        c if c == quote && !triple => {
                            i += 1;
                            break;
                        }
                        c if c == quote && b[i..].starts_with(&[quote, quote, quote]) => {
                            i += 3;
                            break;
                        }
                        // An unterminated one-line string ends at its line.
                        b'\n' if !triple => break,
                        _ => i += 1,
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Parse `text` in time linear in its size.
///
/// tree-sitter-python's scanner, at the end of each line, looks past every comment line that
/// follows for the next line of code (to decide indentation), and then lexes those comments
/// one by one, each time looking ahead again: a run of k comment lines costs k² steps (45,000
/// lines took minutes). So the parser gets the text with every comment replaced by spaces
/// (same bytes offsets, same lines and columns), and the comments are kept aside by range.
/// A comment that the blanked parse shows inside a string literal means the pre-scan misread
/// a string; then the text is parsed as it is.
fn parse_linear(text: &str) -> Option<Parsed> {
    parse_linear_with(&mut parser(), text)
}

type Parsed = (Tree, Option<Vec<(usize, usize)>>);

fn parse_linear_with(parser: &mut Parser, text: &str) -> Option<Parsed> {
    let comments = scan_comments(text);
    if comments.is_empty() {
        return Some((parser.parse(text, None)?, None));
    }
    let mut blanked = text.as_bytes().to_vec();
    for &(start, end) in &comments {
        blanked[start..end].fill(b' ');
    }
    let tree = parser.parse(&blanked, None)?;
    // The string literals, outermost only, in source order.
    let mut strings = Vec::new();
    {
        let mut cursor = tree.walk();
        'walk: loop {
            let node = cursor.node();
            let descend = if node.kind() == "string" {
                strings.push((node.start_byte(), node.end_byte()));
                false
            } else {
                true
            };
            if descend && cursor.goto_first_child() {
                continue;
            }
            while !cursor.goto_next_sibling() {
                if !cursor.goto_parent() {
                    break 'walk;
                }
            }
        }
    }
    let mut next = 0;
    for &(start, _) in &comments {
        while next < strings.len() && strings[next].1 <= start {
            next += 1;
        }
        if next < strings.len() && strings[next].0 <= start {
            return Some((parser.parse(text, None)?, None));
        }
    }
    Some((tree, Some(comments)))
}

impl PyModule {
    /// Parse `text`; a syntax error is an input error naming `file` and the line, and a file
    /// larger than [`MAX_MODULE_BYTES`] is an input error naming `file`.
    pub fn parse(file: &str, text: &str) -> Result<PyModule> {
        if text.len() > MAX_MODULE_BYTES {
            // In MB rounded up, so a file just over the limit never reads as "1.0 MB".
            let tenths = text.len().div_ceil(100_000);
            return Err(Error::input_hint(
                format!(
                    "`{file}` is {}.{} MB, larger than any Python module djrun reads (16 MB at most)",
                    tenths / 10,
                    tenths % 10
                ),
                format!("check that `{file}` is the module you meant; if it is, move the bulk of it into a module it imports, and run djrun again"),
            ));
        }
        Self::parse_any_size(file, text)
    }

    /// [`PyModule::parse`] without the size limit, for text djrun itself made from a file
    /// that was within it.
    pub(crate) fn parse_any_size(file: &str, text: &str) -> Result<PyModule> {
        let (tree, blanked_comments) = parse_linear(text)
            .ok_or_else(|| Error::input(format!("could not parse `{file}` as Python")))?;
        let module = PyModule {
            file: file.to_string(),
            text: text.to_string(),
            tree,
            assignments: OnceLock::new(),
            strings: OnceLock::new(),
            statements: OnceLock::new(),
            blanked_comments,
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
        parse_linear(text).is_some_and(|(tree, _)| !tree.root_node().has_error())
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
        self.cached_assignments().to_vec()
    }

    fn cached_assignments(&self) -> &[Assignment] {
        self.assignments.get_or_init(|| self.collect_assignments())
    }

    fn collect_assignments(&self) -> Vec<Assignment> {
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
            .cached_assignments()
            .iter()
            .filter(|a| a.name == name)
            .collect();
        all.iter()
            .rev()
            .find(|a| !a.conditional)
            .or(all.last())
            .map(|a| (*a).clone())
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

    /// Whether a plain string literal equal to `value` appears anywhere in the module outside
    /// function and class bodies (in a list of apps, say, however the list is built).
    pub fn has_string(&self, value: &str) -> bool {
        self.strings
            .get_or_init(|| {
                let mut strings = HashSet::new();
                let mut stack: Vec<Node> = self
                    .module_statements()
                    .into_iter()
                    .map(|(node, _)| node)
                    .collect();
                while let Some(node) = stack.pop() {
                    if node.kind() == "string" {
                        strings.extend(self.string_value(node));
                        continue;
                    }
                    let mut cursor = node.walk();
                    stack.extend(node.named_children(&mut cursor));
                }
                strings
            })
            .contains(value)
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
        // A BOM is not part of the first line: a marker right after it is still alone on its
        // line, and the line (so an edit of it) starts after the BOM.
        let first_line = if self.text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        // Line starts and numbers come from one pass over the text, not one per comment.
        let (mut scanned, mut line_start, mut line) = (0, first_line, 1);
        let mut advance_to = |start: usize| {
            for (i, &b) in bytes[scanned..start].iter().enumerate() {
                if b == b'\n' {
                    line_start = scanned + i + 1;
                    line += 1;
                }
            }
            scanned = start;
            (line_start, line)
        };
        let mut found: Vec<(usize, usize, usize, usize)> = Vec::new();
        match &self.blanked_comments {
            // The tree holds the comments: the module's own are its children.
            None => {
                for c in root.children(&mut cursor).filter(|c| c.kind() == "comment") {
                    let (line_start, line) = advance_to(c.start_byte());
                    found.push((c.start_byte(), c.end_byte(), line_start, line));
                }
            }
            // The comments were kept aside: the module's own are those outside every
            // top-level statement, except those the parser would keep in the indented block
            // that ends the statement before them (indented at least as deep as that block,
            // before any comment less indented).
            Some(comments) => {
                let statements: Vec<Node> = root.named_children(&mut cursor).collect();
                let mut next = 0;
                let mut gap: Option<(usize, Option<usize>)> = None;
                for &(start, end) in comments {
                    while next < statements.len() && statements[next].end_byte() <= start {
                        next += 1;
                    }
                    if next < statements.len() && statements[next].start_byte() <= start {
                        continue;
                    }
                    let (line_start, line) = advance_to(start);
                    let block = match gap {
                        Some((after, block)) if after == next => block,
                        _ => next
                            .checked_sub(1)
                            .and_then(|prev| indented_block_column(statements[prev])),
                    };
                    let block =
                        block.filter(|&column| indent_width(&bytes[line_start..start]) >= column);
                    gap = Some((next, block));
                    if block.is_none() {
                        found.push((start, end, line_start, line));
                    }
                }
            }
        }
        found
            .into_iter()
            .filter(|&(start, _, line_start, _)| self.text[line_start..start].trim().is_empty())
            .map(|(start, end, line_start, line)| {
                let mut line_end = end;
                while line_end < bytes.len() && bytes[line_end] != b'\n' {
                    line_end += 1;
                }
                if line_end < bytes.len() {
                    line_end += 1;
                }
                Comment {
                    text: self.text[start..end].trim_end().to_string(),
                    line_start,
                    line_end,
                    line,
                }
            })
            .collect()
    }
}

/// The indentation the scanner counts for the whitespace before a comment: a space is one
/// column, a tab eight, a carriage return or form feed starts again.
fn indent_width(prefix: &[u8]) -> usize {
    prefix.iter().fold(0, |width, &b| match b {
        b' ' => width + 1,
        b'\t' => width + 8,
        _ => 0,
    })
}

/// The column of the outermost indented block that ends `node` (an `if`, `def`, `class`,
/// ...), if one does: comments after it that are indented this deep still belong to it.
fn indented_block_column(node: Node) -> Option<usize> {
    let mut current = node;
    loop {
        let last = current.named_child(current.named_child_count().checked_sub(1)?)?;
        if last.kind() == "block" && last.start_position().row > current.start_position().row {
            return Some(last.start_position().column);
        }
        current = last;
    }
}

/// A simplified, owned view of an expression: enough to read calls, subscripts and literals
/// without touching tree-sitter. Built by [`PyModule::statements`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// 1-based line where the expression starts.
    pub line: usize,
    /// The source text as written.
    pub text: String,
}

/// The shape of an [`Expr`]. Parentheses around a single expression are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// A plain string literal, decoded (not an f-string, a bytes literal or a concatenation).
    Str(String),
    /// A bare name: `os`, `bool`, `BASE_DIR`.
    Name(String),
    /// `object.attribute`.
    Attribute {
        /// The expression before the dot.
        object: Box<Expr>,
        /// The name after the dot.
        attribute: String,
    },
    /// `function(args, name=value)`. `*args` and `**kwargs` are in `args` as [`ExprKind::Other`].
    Call {
        /// The called expression.
        function: Box<Expr>,
        /// Positional arguments, in order.
        args: Vec<Expr>,
        /// Keyword arguments, in order.
        keywords: Vec<(String, Expr)>,
    },
    /// `value[index]`; `a[1, 2]` has two indexes.
    Subscript {
        /// The subscripted expression.
        value: Box<Expr>,
        /// The index expressions.
        index: Vec<Expr>,
    },
    /// A tuple display: `(a, b)`.
    Tuple(Vec<Expr>),
    /// A list display: `[a, b]`.
    List(Vec<Expr>),
    /// Anything else, with tree-sitter's kind (`binary_operator`, `boolean_operator`,
    /// `conditional_expression`, `dictionary`, `pair`, `lambda`, `integer`, `true`, ...) and its
    /// named sub-nodes in source order. A statement that is neither an assignment nor an
    /// expression (`import`, `raise`, `assert`, ...) is one of these too.
    Other {
        /// tree-sitter's node kind.
        kind: String,
        /// The sub-nodes, in source order.
        children: Vec<Expr>,
    },
}

impl Expr {
    /// `os.environ.get` for a chain of names and attributes; `None` for anything else.
    pub fn dotted(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Name(name) => Some(name.clone()),
            ExprKind::Attribute { object, attribute } => {
                Some(format!("{}.{attribute}", object.dotted()?))
            }
            _ => None,
        }
    }

    /// The decoded value of a plain string literal.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of keyword argument `name` when this is a call that passes it.
    pub fn keyword(&self, name: &str) -> Option<&Expr> {
        match &self.kind {
            ExprKind::Call { keywords, .. } => {
                keywords.iter().find(|(k, _)| k == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The direct sub-expressions, in source order (a call's function, then its arguments and
    /// keyword values).
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Str(_) | ExprKind::Name(_) => Vec::new(),
            ExprKind::Attribute { object, .. } => vec![object],
            ExprKind::Call {
                function,
                args,
                keywords,
            } => std::iter::once(function.as_ref())
                .chain(args)
                .chain(keywords.iter().map(|(_, v)| v))
                .collect(),
            ExprKind::Subscript { value, index } => {
                std::iter::once(value.as_ref()).chain(index).collect()
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => items.iter().collect(),
            ExprKind::Other { children, .. } => children.iter().collect(),
        }
    }

    /// Whether this expression or any expression inside it is the string literal `value`.
    pub fn contains_str(&self, value: &str) -> bool {
        self.as_str() == Some(value) || self.children().iter().any(|c| c.contains_str(value))
    }
}

/// A compound statement that a [`Statement`] sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A branch of an `if`: the `if` or an `elif` body with the condition that guards it, or
    /// the `else` body (and an `elif` condition, evaluated only when the branches before it
    /// were not taken) with `None`.
    If {
        /// The condition that must hold for the body to run, when there is one.
        condition: Option<Expr>,
    },
    /// The body of a `try`, with the exception types each `except` clause names, as written
    /// (`KeyError`, `environ.ImproperlyConfigured`); a bare `except:` gives an empty list.
    Try {
        /// One entry per `except` clause.
        handlers: Vec<Vec<String>>,
    },
    /// An `except`, `else` or `finally` clause of a `try`.
    TryClause,
    /// The body of a `with`.
    With,
    /// The body of a `for` or `while`, or its `else` clause.
    Loop,
}

/// A simple statement at module level, also inside top-level compound statements (`if`,
/// `try`, `with`, `for`, `while`), never inside a function or class body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `assignment`, `augmented_assignment`, `expression_statement` for a bare expression,
    /// the statement's own kind for other statements (`import_statement`, `raise_statement`),
    /// or the compound statement's kind (`if_statement`, `elif_clause`, `while_statement`,
    /// `for_statement`, `with_statement`) for the expression in its header.
    pub kind: String,
    /// 1-based line.
    pub line: usize,
    /// What an assignment assigns to, outermost first (`A = B = x` gives `A` and `B`).
    pub targets: Vec<Expr>,
    /// The assigned value, the bare expression, the header expression, or the whole
    /// statement for other statements; `None` for an annotation without a value (`X: int`).
    pub value: Option<Expr>,
    /// The compound statements it sits in, outermost first; empty at the top level.
    pub blocks: Vec<Block>,
}

/// One name bound by a module-level import (also inside top-level compound statements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The module as written: `os`, `os.path`, `.base`, `decouple`.
    pub module: String,
    /// The imported name for `from module import name`; `None` for `import module`.
    pub name: Option<String>,
    /// The name the import binds: `os` for `import os.path`, the alias after `as`.
    pub bound: String,
    /// 1-based line.
    pub line: usize,
}

impl PyModule {
    /// Every simple statement at module level, in source order, with owned expressions.
    /// Function and class bodies are skipped: they do not run at import time (class bodies do,
    /// but settings do not put settings there).
    pub fn statements(&self) -> &[Statement] {
        self.statements.get_or_init(|| {
            let mut out = Vec::new();
            self.collect_statements(self.tree.root_node(), &[], &mut out);
            out
        })
    }

    /// Every name bound by an `import` or `from ... import` at module level, in source order.
    /// Star imports are not here (see [`PyModule::star_imports`]).
    pub fn imports(&self) -> Vec<Import> {
        let mut out = Vec::new();
        for (stmt, _) in self.module_statements() {
            let from = match stmt.kind() {
                "import_statement" => None,
                "import_from_statement" => match stmt.child_by_field_name("module_name") {
                    Some(module) => Some(self.node_text(module).to_string()),
                    None => continue,
                },
                _ => continue,
            };
            let line = stmt.start_position().row + 1;
            let mut cursor = stmt.walk();
            for name in stmt.children_by_field_name("name", &mut cursor) {
                let (written, alias) = match name.kind() {
                    "aliased_import" => (
                        name.child_by_field_name("name")
                            .map(|n| self.node_text(n).to_string()),
                        name.child_by_field_name("alias")
                            .map(|n| self.node_text(n).to_string()),
                    ),
                    _ => (Some(self.node_text(name).to_string()), None),
                };
                let Some(written) = written else { continue };
                out.push(match &from {
                    Some(module) => Import {
                        module: module.clone(),
                        bound: alias.unwrap_or_else(|| written.clone()),
                        name: Some(written),
                        line,
                    },
                    None => Import {
                        bound: alias.unwrap_or_else(|| {
                            written.split('.').next().unwrap_or(&written).to_string()
                        }),
                        module: written,
                        name: None,
                        line,
                    },
                });
            }
        }
        out
    }

    fn collect_statements(&self, node: Node, blocks: &[Block], out: &mut Vec<Statement>) {
        let nested = |block: Block| -> Vec<Block> {
            let mut inner = blocks.to_vec();
            inner.push(block);
            inner
        };
        let header =
            |kind: &str, expr: Option<Node>, blocks: Vec<Block>, out: &mut Vec<Statement>| {
                if let Some(expr) = expr {
                    out.push(Statement {
                        kind: kind.to_string(),
                        line: expr.start_position().row + 1,
                        targets: Vec::new(),
                        value: Some(self.expr(expr)),
                        blocks,
                    });
                }
            };
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "comment" | "function_definition" | "class_definition" | "decorated_definition" => {
                }
                "if_statement" => {
                    let condition = child.child_by_field_name("condition");
                    header("if_statement", condition, blocks.to_vec(), out);
                    if let Some(body) = child.child_by_field_name("consequence") {
                        let guard = Block::If {
                            condition: condition.map(|c| self.expr(c)),
                        };
                        self.collect_statements(body, &nested(guard), out);
                    }
                    let mut alternatives = child.walk();
                    for alt in child.children_by_field_name("alternative", &mut alternatives) {
                        let condition = alt.child_by_field_name("condition");
                        header(
                            "elif_clause",
                            condition,
                            nested(Block::If { condition: None }),
                            out,
                        );
                        let body = alt
                            .child_by_field_name("consequence")
                            .or_else(|| alt.child_by_field_name("body"));
                        if let Some(body) = body {
                            let guard = Block::If {
                                condition: condition.map(|c| self.expr(c)),
                            };
                            self.collect_statements(body, &nested(guard), out);
                        }
                    }
                }
                "try_statement" => {
                    let mut clauses = child.walk();
                    let clauses: Vec<Node> = child
                        .named_children(&mut clauses)
                        .filter(|c| c.kind().ends_with("_clause"))
                        .collect();
                    let handlers = clauses
                        .iter()
                        .filter(|c| matches!(c.kind(), "except_clause" | "except_group_clause"))
                        .map(|c| self.exception_types(*c))
                        .collect();
                    if let Some(body) = child.child_by_field_name("body") {
                        self.collect_statements(body, &nested(Block::Try { handlers }), out);
                    }
                    for clause in clauses {
                        let mut inner = clause.walk();
                        let body = clause
                            .named_children(&mut inner)
                            .find(|c| c.kind() == "block");
                        if let Some(body) = body {
                            self.collect_statements(body, &nested(Block::TryClause), out);
                        }
                    }
                }
                "with_statement" => {
                    let mut inner = child.walk();
                    for clause in child.named_children(&mut inner) {
                        if clause.kind() != "with_clause" {
                            continue;
                        }
                        let mut items = clause.walk();
                        for item in clause.named_children(&mut items) {
                            let value = item.child_by_field_name("value");
                            header("with_statement", value, blocks.to_vec(), out);
                        }
                    }
                    if let Some(body) = child.child_by_field_name("body") {
                        self.collect_statements(body, &nested(Block::With), out);
                    }
                }
                "for_statement" | "while_statement" => {
                    let head = child
                        .child_by_field_name("right")
                        .or_else(|| child.child_by_field_name("condition"));
                    header(child.kind(), head, blocks.to_vec(), out);
                    if let Some(body) = child.child_by_field_name("body") {
                        self.collect_statements(body, &nested(Block::Loop), out);
                    }
                    if let Some(alt) = child.child_by_field_name("alternative") {
                        if let Some(body) = alt.child_by_field_name("body") {
                            self.collect_statements(body, &nested(Block::Loop), out);
                        }
                    }
                }
                "expression_statement" => {
                    let mut inner = child.walk();
                    for expr in child.named_children(&mut inner) {
                        if expr.kind() == "comment" {
                            continue;
                        }
                        out.push(self.simple_statement(expr, blocks));
                    }
                }
                _ => out.push(Statement {
                    kind: child.kind().to_string(),
                    line: child.start_position().row + 1,
                    targets: Vec::new(),
                    value: Some(self.expr(child)),
                    blocks: blocks.to_vec(),
                }),
            }
        }
    }

    /// An assignment (flattening `A = B = x`) or a bare expression.
    fn simple_statement(&self, node: Node, blocks: &[Block]) -> Statement {
        let kind = node.kind();
        let mut targets = Vec::new();
        let mut value = Some(node);
        if matches!(kind, "assignment" | "augmented_assignment") {
            let mut current = node;
            loop {
                if let Some(left) = current.child_by_field_name("left") {
                    targets.push(self.expr(left));
                }
                value = current.child_by_field_name("right");
                match value {
                    Some(right)
                        if matches!(right.kind(), "assignment" | "augmented_assignment") =>
                    {
                        current = right;
                    }
                    _ => break,
                }
            }
        }
        Statement {
            kind: if targets.is_empty() {
                "expression_statement".to_string()
            } else {
                kind.to_string()
            },
            line: node.start_position().row + 1,
            targets,
            value: value.map(|v| self.expr(v)),
            blocks: blocks.to_vec(),
        }
    }

    /// The exception types an `except` clause names, as written; empty for a bare `except:`.
    fn exception_types(&self, clause: Node) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = clause.walk();
        let mut values: Vec<Node> = clause
            .children_by_field_name("value", &mut cursor)
            .collect();
        if values.is_empty() {
            // Older grammars wrap `except E as e` in an `as_pattern`.
            let mut inner = clause.walk();
            values = clause
                .named_children(&mut inner)
                .filter(|c| !matches!(c.kind(), "block" | "comment"))
                .take(1)
                .collect();
        }
        for value in values {
            let expr = self.expr(value);
            let mut pending = vec![expr];
            while let Some(e) = pending.pop() {
                match e.kind {
                    ExprKind::Tuple(items) => pending.extend(items.into_iter().rev()),
                    ExprKind::Other { kind, mut children } if kind == "as_pattern" => {
                        children.truncate(1);
                        pending.extend(children);
                    }
                    _ => out.push(e.dotted().unwrap_or(e.text)),
                }
            }
        }
        out
    }

    /// The owned view of the expression at `node`.
    fn expr(&self, node: Node) -> Expr {
        fn named(n: Node<'_>) -> Vec<Node<'_>> {
            let mut cursor = n.walk();
            n.named_children(&mut cursor)
                .filter(|c| c.kind() != "comment")
                .collect()
        }
        let line = node.start_position().row + 1;
        let text = self.node_text(node).to_string();
        let other = |n: Node| ExprKind::Other {
            kind: n.kind().to_string(),
            children: named(n).into_iter().map(|c| self.expr(c)).collect(),
        };
        let kind = match node.kind() {
            "parenthesized_expression" => match named(node).as_slice() {
                [inner] => return self.expr(*inner),
                _ => other(node),
            },
            "string" => match self.string_value(node) {
                Some(value) => ExprKind::Str(value),
                None => other(node),
            },
            "identifier" => ExprKind::Name(text.clone()),
            "attribute" => match (
                node.child_by_field_name("object"),
                node.child_by_field_name("attribute"),
            ) {
                (Some(object), Some(attribute)) => ExprKind::Attribute {
                    object: Box::new(self.expr(object)),
                    attribute: self.node_text(attribute).to_string(),
                },
                _ => other(node),
            },
            "call" => match (
                node.child_by_field_name("function"),
                node.child_by_field_name("arguments"),
            ) {
                (Some(function), Some(arguments)) => {
                    let mut args = Vec::new();
                    let mut keywords = Vec::new();
                    if arguments.kind() == "argument_list" {
                        for arg in named(arguments) {
                            match (
                                arg.kind(),
                                arg.child_by_field_name("name"),
                                arg.child_by_field_name("value"),
                            ) {
                                ("keyword_argument", Some(name), Some(value)) => keywords
                                    .push((self.node_text(name).to_string(), self.expr(value))),
                                _ => args.push(self.expr(arg)),
                            }
                        }
                    } else {
                        args.push(self.expr(arguments));
                    }
                    ExprKind::Call {
                        function: Box::new(self.expr(function)),
                        args,
                        keywords,
                    }
                }
                _ => other(node),
            },
            "subscript" => match node.child_by_field_name("value") {
                Some(value) => {
                    let mut cursor = node.walk();
                    let index = node
                        .children_by_field_name("subscript", &mut cursor)
                        .map(|i| self.expr(i))
                        .collect();
                    ExprKind::Subscript {
                        value: Box::new(self.expr(value)),
                        index,
                    }
                }
                None => other(node),
            },
            "tuple" => ExprKind::Tuple(named(node).into_iter().map(|c| self.expr(c)).collect()),
            "list" => ExprKind::List(named(node).into_iter().map(|c| self.expr(c)).collect()),
            _ => other(node),
        };
        Expr { kind, line, text }
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
    fn finds_string_literals_however_lists_are_built() {
        let m = PyModule::parse(
            "s.py",
            "DJANGO_APPS = ['django.contrib.admin']\nTHIRD = ('whitenoise.runserver_nostatic',)\nINSTALLED_APPS = DJANGO_APPS + list(THIRD) + ['django.contrib.staticfiles']\ndef f():\n    return 'django.contrib.gis'\n",
        )
        .unwrap();
        assert!(m.has_string("django.contrib.staticfiles"));
        assert!(m.has_string("whitenoise.runserver_nostatic"));
        assert!(
            !m.has_string("django.contrib.gis"),
            "function bodies do not count"
        );
        assert!(!m.has_string("django.contrib"));
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
    fn an_enormous_module_is_refused_by_its_size_and_lookups_do_not_rewalk_the_tree() {
        let line = "SETTING = 'a value of forty bytes or so, padded'\n";
        let huge = line.repeat(MAX_MODULE_BYTES / line.len() + 1);
        let err = PyModule::parse("mysite/settings.py", &huge).err().unwrap();
        assert!(
            err.to_string()
                .starts_with("`mysite/settings.py` is 16.1 MB, larger than any Python module"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("mysite/settings.py"));

        // A thousand lookups cost one walk of the statements, not a thousand.
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("S{i} = 'v{i}'\n"));
        }
        let m = PyModule::parse("settings.py", &text).unwrap();
        for i in 0..1_000 {
            assert_eq!(
                m.assignment(&format!("S{i}")).unwrap().value,
                format!("'v{i}'")
            );
            assert!(m.has_string(&format!("v{i}")));
        }
        assert!(m.assignment("MISSING").is_none() && !m.has_string("missing"));
        assert_eq!(m.assignments.get().map(Vec::len), Some(20_000));
        assert_eq!(m.strings.get().map(HashSet::len), Some(20_000));
    }

    /// What `module_comments` returned when the tree held the comments: the module's own
    /// comment children, each alone on its line.
    fn comments_from_the_tree(text: &str) -> Vec<(String, usize, usize, usize)> {
        let tree = parser().parse(text, None).unwrap();
        let root = tree.root_node();
        let mut cursor = root.walk();
        let first_line = if text.starts_with('\u{feff}') { 3 } else { 0 };
        root.children(&mut cursor)
            .filter(|c| c.kind() == "comment")
            .filter_map(|c| {
                let start = c.start_byte();
                let line_start = text[..start].rfind('\n').map_or(first_line, |i| i + 1);
                if !text[line_start..start].trim().is_empty() {
                    return None;
                }
                let line_end = text[c.end_byte()..]
                    .find('\n')
                    .map_or(text.len(), |i| c.end_byte() + i + 1);
                let comment = text[c.byte_range()].trim_end().to_string();
                Some((comment, line_start, line_end, c.start_position().row + 1))
            })
            .collect()
    }

    #[test]
    fn comments_kept_aside_are_the_ones_the_tree_would_hold() {
        let cases = [
            "# a\n# b\nX = 1  # trailing\n# c\n",
            "\u{feff}# >>> mark >>>\nX = 1\n",
            "X = [\n    # inside\n    1,\n]\n# after\n",
            "if A:\n    B = 1\n    # in the block\n# at the top\nC = 2\n",
            "if A:\n    B = 1\n  # less indented\nC = 2\n",
            "if A: B = 1\n    # after a one-line if\nC = 2\n",
            "def f():\n    return 1\n    # end of body\n",
            "class K:\n    x = 1\n# top\n",
            "S = '''\n# not a comment\n'''\n# a comment\n",
            "S = \"#\" # c\nT = '\\'#' \n# d\n",
            "A = 1\r\n# crlf\r\nB = 2\r\n",
            "A = 1\r# lone cr\rB = 2\r",
            "# only\r",
            "X = f\"{'#'}\"  # c\n# d\n",
            "try:\n    import x\n# between\nexcept ImportError:\n    pass\n# end\n",
            "   # indented at the top\nA = 1\n",
            "A = 1 + \\\n    2\n# c\n",
        ];
        for text in cases {
            let m = PyModule::parse_any_size("s.py", text).unwrap();
            let got: Vec<_> = m
                .module_comments()
                .into_iter()
                .map(|c| (c.text, c.line_start, c.line_end, c.line))
                .collect();
            assert_eq!(got, comments_from_the_tree(text), "{text:?}");
        }
    }

    #[test]
    fn a_string_the_pre_scan_misreads_falls_back_to_the_plain_parse() {
        // Python 3.12 f-strings may nest the quote that opened them: the pre-scan takes the
        // inner `"""` for the end, and the comment-like line for a comment.
        let text = "X = f\"\"\"{\"\"\"a\"\"\"}\n# in the string\n\"\"\"\nY = 1\n";
        let plain = parser().parse(text, None).unwrap();
        let (tree, blanked) = parse_linear(text).unwrap();
        assert_eq!(tree.root_node().to_sexp(), plain.root_node().to_sexp());
        assert!(blanked.is_none(), "parsed as it is");
    }

    /// How many characters the lexer reads (consumed or skipped) to parse `text`.
    fn lexer_steps(text: &str) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let steps = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&steps);
        let mut p = parser();
        p.set_logger(Some(Box::new(move |kind, message| {
            if kind == tree_sitter::LogType::Lex
                && (message.starts_with("skip") || message.starts_with("consume"))
            {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })));
        parse_linear_with(&mut p, text).unwrap();
        steps.load(Ordering::Relaxed)
    }

    #[test]
    fn parsing_reads_each_character_a_bounded_number_of_times() {
        let settings = |lines: usize| {
            let mut text = String::from("import os\nA = 1\n");
            for i in 0..lines {
                text.push_str(&format!(
                    "# note {i:05}: a line that holds only a comment\n"
                ));
                if i % 3 == 0 {
                    text.push_str(&format!(
                        "if os.environ.get('X{i}'):\n    # guarded\n    B{i} = [\n        # in\n        1,\n    ]\n"
                    ));
                }
            }
            text
        };
        for lines in [200, 2_000] {
            let text = settings(lines);
            let steps = lexer_steps(&text);
            assert!(
                steps < 4 * text.len(),
                "{steps} lexer steps for {} bytes ({lines} comment lines)",
                text.len()
            );
        }
        // The plain parse of a run of comment lines reads them over and over.
        let mut p = parser();
        let steps = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&steps);
        p.set_logger(Some(Box::new(move |_, m| {
            if m.starts_with("skip") || m.starts_with("consume") {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })));
        let run = format!("A = 1\n{}", "# a comment line\n".repeat(1_000));
        p.parse(&run, None).unwrap();
        assert!(steps.load(std::sync::atomic::Ordering::Relaxed) > 50 * run.len());
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

    #[test]
    fn a_comment_right_after_a_bom_stands_alone_and_its_line_starts_after_the_bom() {
        let m = PyModule::parse("settings.py", "\u{feff}# >>> mark >>>\nX = 1\n").unwrap();
        let comments = m.module_comments();
        assert_eq!(comments.len(), 1);
        assert_eq!(comments[0].text, "# >>> mark >>>");
        assert_eq!(
            (comments[0].line_start, comments[0].line_end),
            (3, 18),
            "the BOM stays outside the comment's line"
        );
    }

    #[test]
    fn statements_carry_targets_values_and_blocks() {
        let m = PyModule::parse(
            "settings.py",
            r#"import os
A = B = os.environ["X"]  # both
if os.environ.get("Y"):
    C: int = 1
elif D:
    pass
else:
    E += 2
try:
    F = 1
except (KeyError, environ.ImproperlyConfigured) as e:
    G = 2
except:
    pass
with open("x") as f:
    H = 3
def f():
    I = 4
"#,
        )
        .unwrap();
        let s = m.statements();
        let ab = &s[1];
        assert_eq!(ab.kind, "assignment");
        assert_eq!(
            ab.targets
                .iter()
                .map(|t| t.text.as_str())
                .collect::<Vec<_>>(),
            vec!["A", "B"]
        );
        let value = ab.value.as_ref().unwrap();
        match &value.kind {
            ExprKind::Subscript { value, index } => {
                assert_eq!(value.dotted().as_deref(), Some("os.environ"));
                assert_eq!(index[0].as_str(), Some("X"));
            }
            other => panic!("{other:?}"),
        }
        let header = &s[2];
        assert_eq!((header.kind.as_str(), header.line), ("if_statement", 3));
        assert!(header.blocks.is_empty());
        let c = s.iter().find(|st| st.line == 4).unwrap();
        match &c.blocks[..] {
            [Block::If {
                condition: Some(cond),
            }] => assert_eq!(cond.text, r#"os.environ.get("Y")"#),
            other => panic!("{other:?}"),
        }
        let elif = s.iter().find(|st| st.kind == "elif_clause").unwrap();
        assert_eq!(elif.blocks, vec![Block::If { condition: None }]);
        let e = s.iter().find(|st| st.line == 8).unwrap();
        assert_eq!(e.kind, "augmented_assignment");
        let f = s.iter().find(|st| st.line == 10).unwrap();
        assert_eq!(
            f.blocks,
            vec![Block::Try {
                handlers: vec![
                    vec![
                        "KeyError".to_string(),
                        "environ.ImproperlyConfigured".to_string()
                    ],
                    vec![]
                ]
            }]
        );
        let g = s.iter().find(|st| st.line == 12).unwrap();
        assert_eq!(g.blocks, vec![Block::TryClause]);
        let with = s.iter().find(|st| st.kind == "with_statement").unwrap();
        assert_eq!(with.value.as_ref().unwrap().text, r#"open("x") as f"#);
        let h = s.iter().find(|st| st.line == 16).unwrap();
        assert_eq!(h.blocks, vec![Block::With]);
        assert!(
            s.iter().all(|st| st.line != 18),
            "function bodies are skipped"
        );
    }

    #[test]
    fn expressions_expose_calls_keywords_and_literals() {
        let m = PyModule::parse(
            "settings.py",
            "X = env.list('HOSTS', str, default=['a', \"b\"])  # c\nY = (f'{A}', (bool, False))\n",
        )
        .unwrap();
        let s = m.statements();
        let x = s[0].value.as_ref().unwrap();
        let ExprKind::Call { function, args, .. } = &x.kind else {
            panic!("{x:?}")
        };
        assert_eq!(function.dotted().as_deref(), Some("env.list"));
        assert_eq!(args[0].as_str(), Some("HOSTS"));
        assert_eq!(args[1].dotted().as_deref(), Some("str"));
        let default = x.keyword("default").unwrap();
        assert!(matches!(&default.kind, ExprKind::List(items) if items.len() == 2));
        assert!(x.contains_str("b") && !x.contains_str("c"));
        let y = s[1].value.as_ref().unwrap();
        let ExprKind::Tuple(items) = &y.kind else {
            panic!("{y:?}")
        };
        assert_eq!(items[0].as_str(), None, "f-strings are not plain strings");
        assert!(matches!(&items[1].kind, ExprKind::Tuple(pair) if pair.len() == 2));
    }

    #[test]
    fn imports_name_what_they_bind() {
        let m = PyModule::parse(
            "settings.py",
            "import os, os.path\nimport environ as django_environ\nfrom decouple import config, Csv as C\ntry:\n    from .local import *\n    import dj_database_url\nexcept ImportError:\n    pass\n",
        )
        .unwrap();
        let got: Vec<_> = m
            .imports()
            .into_iter()
            .map(|i| (i.module, i.name, i.bound, i.line))
            .collect();
        let s = |v: &str| v.to_string();
        assert_eq!(
            got,
            vec![
                (s("os"), None, s("os"), 1),
                (s("os.path"), None, s("os"), 1),
                (s("environ"), None, s("django_environ"), 2),
                (s("decouple"), Some(s("config")), s("config"), 3),
                (s("decouple"), Some(s("Csv")), s("C"), 3),
                (s("dj_database_url"), None, s("dj_database_url"), 6),
            ]
        );
    }
}
