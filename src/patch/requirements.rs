//! Reading and extending pip requirements files.
//!
//! [`Requirements::parse`] reads a file the way pip's own reader
//! (`pip._internal.req.req_file`) does, keeping only what djrun needs: which projects
//! are required, which files are included, whether hash-checking mode is on, and which
//! Django version is pinned. Like pip, it:
//!
//! - drops one leading BOM and splits lines as Python's `str.splitlines` does;
//! - joins a line ending in `\` with the next one (a whole-line comment ends the join);
//! - strips comments (a `#` at the start of the line or after whitespace) after joining;
//! - splits each line at the first space-separated token starting with `-` into a
//!   requirement part and an option part, and splits the options with shell quoting.
//!
//! [`add_missing`] appends lines and never changes a byte that was already in the file.
//!
//! All work is linear in the size of the file: no step rescans text it has already read.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::{Error, Result};

/// What kind of file an include line points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeKind {
    /// `-r X` / `--requirement X`: the requirements of `X` are installed too.
    Requirement,
    /// `-c X` / `--constraint X`: `X` constrains versions but installs nothing.
    Constraint,
}

/// One line of a requirements file that includes another file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// Whether the target is a requirements or a constraints file.
    pub kind: IncludeKind,
    /// The target as written (shell quoting removed), usually relative to the including file.
    pub target: String,
    /// The 1-based line of the `-r` / `-c` option.
    pub line: usize,
}

/// A requirement given by where it is rather than by a name an index serves: a VCS URL, a
/// path, an archive, a URL, `name @ url`, or any `-e` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The URL or path as written (for `name @ url`, the URL), without markers or extras.
    pub target: String,
    /// The normalised project name, where the line gives one (`name @ ...`, `#egg=`).
    pub name: Option<String>,
    /// Whether it is an `-e` / `--editable` line.
    pub editable: bool,
    /// The extras a path asks for, as written (`[dev]`), or empty.
    pub extras: String,
    /// The first and the last physical line (1-based) of the line, continuations included.
    pub lines: (usize, usize),
}

/// A parsed view of one requirements file (only what djrun needs).
#[derive(Debug, Clone)]
pub struct Requirements {
    /// The path shown in messages.
    file: String,
    /// PEP 503-normalised names of every requirement in the file.
    names: HashSet<String>,
    /// The extras requested for each name (normalised), where there are any.
    extras: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Include lines, in file order.
    includes: Vec<Include>,
    /// The first `--hash` or `--require-hashes` option.
    hash_mode: Option<HashOption>,
    /// The Django version as "X.Y", from the first Django line that pins or bounds it.
    django: Option<String>,
    /// Requirements given by location, in file order.
    located: Vec<Located>,
    /// `--find-links` / `-f` values, with their lines.
    find_links: Vec<(String, usize)>,
}

/// Where hash-checking mode is switched on, and by which option.
#[derive(Debug, Clone, Copy)]
struct HashOption {
    line: usize,
    option: &'static str,
}

/// Where a piece of a joined (logical) line starts, and the physical line it came from.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: usize,
    line: usize,
}

impl Requirements {
    /// Parse `text` (the whole file as read, already decoded from UTF-8; may start with a
    /// BOM `'\u{feff}'`). `file` is the path shown in messages (e.g. "requirements.txt").
    ///
    /// Never fails on odd lines: lines djrun does not understand are ignored, and the
    /// text itself is never rewritten.
    pub fn parse(file: &str, text: &str) -> Requirements {
        let mut req = Requirements {
            file: file.to_owned(),
            names: HashSet::new(),
            extras: std::collections::BTreeMap::new(),
            includes: Vec::new(),
            hash_mode: None,
            django: None,
            located: Vec::new(),
            find_links: Vec::new(),
        };
        let body = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut joined = String::new();
        let mut segments: Vec<Segment> = Vec::new();
        for (index, line) in physical_lines(body).enumerate() {
            let number = index + 1;
            let comment = is_comment_line(line);
            if line.ends_with('\\') && !comment {
                // A continuation line: pip strips backslashes from both ends and joins.
                segments.push(Segment {
                    start: joined.len(),
                    line: number,
                });
                joined.push_str(line.trim_matches('\\'));
            } else if segments.is_empty() {
                if !comment {
                    req.logical_line(
                        line,
                        &[Segment {
                            start: 0,
                            line: number,
                        }],
                    );
                }
            } else {
                // The last piece of a joined line. A whole-line comment ends the join and
                // is then stripped, so it adds nothing.
                if !comment {
                    segments.push(Segment {
                        start: joined.len(),
                        line: number,
                    });
                    joined.push_str(line);
                }
                req.logical_line(&joined, &segments);
                joined.clear();
                segments.clear();
            }
        }
        if !segments.is_empty() {
            req.logical_line(&joined, &segments);
        }
        req
    }

    /// Whether a requirement for `name` is present, comparing PEP 503-normalised names
    /// (case-insensitive; runs of `-`, `_` and `.` are equal).
    ///
    /// Whatever follows the name does not matter: extras (`gunicorn[gevent]`), versions
    /// (`gunicorn==23.0.0`, `gunicorn >= 22`), markers (`gunicorn; python_version>"3.8"`),
    /// direct references (`gunicorn @ https://...`), trailing comments and `\` line
    /// continuations. Commented-out lines (`# gunicorn`) and option lines (`-r`, `-c`,
    /// `--index-url`, ...) do not count. URL and path lines (`./pkg`,
    /// `git+https://...#egg=gunicorn`, `-e ...#egg=gunicorn`) count by their `#egg=` name
    /// only. Files included with `-r` are not read.
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(&normalize_name(name))
    }

    /// The PEP 503-normalised names of every requirement in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.names.iter().cloned().collect();
        names.sort();
        names
    }

    /// The extras requested for `name` (`psycopg[binary]` → `binary`), normalised.
    pub fn extras(&self, name: &str) -> std::collections::BTreeSet<String> {
        self.extras
            .get(&normalize_name(name))
            .cloned()
            .unwrap_or_default()
    }

    /// Lines that include other files: the targets of `-r X` / `--requirement X` /
    /// `--requirement=X` and `-c X` / `--constraint X` / `--constraint=X`, in file order,
    /// as written (relative paths), with their 1-based line numbers.
    ///
    /// As in pip, only lines without a requirement include files, and a line naming
    /// several files includes only its first `-r` (or, without one, its first `-c`).
    pub fn includes(&self) -> Vec<Include> {
        self.includes.clone()
    }

    /// The 1-based line of the first `--hash` (or `--require-hashes`) option, if the file
    /// uses pip's hash-checking mode.
    ///
    /// As in pip, `--hash` counts on a requirement line and `--require-hashes` on a line
    /// of its own; pip ignores them elsewhere (a `--hash` with no requirement, say).
    pub fn hash_mode_line(&self) -> Option<usize> {
        self.hash_mode.map(|h| h.line)
    }

    /// The Django version the file pins or bounds, as "X.Y".
    ///
    /// `Django==5.2.3` gives "5.2", `django>=5.2,<6.0` gives "5.2", `Django~=4.2.0` gives
    /// "4.2", `Django>=5` gives "5.0"; an unpinned `django`, an upper bound alone or a
    /// direct URL gives `None`. An exact pin (`==`, `===`) wins over lower bounds (`>=`,
    /// `~=`, `>`), and the highest lower bound wins over the others. The first Django
    /// line with a version decides.
    pub fn django_version(&self) -> Option<String> {
        self.django.clone()
    }

    /// Requirements given by location (URLs, VCS URLs, paths, `name @ url`, `-e`), in file
    /// order.
    pub fn located(&self) -> &[Located] {
        &self.located
    }

    /// The values of `--find-links` / `-f` options, with their 1-based lines.
    pub fn find_links(&self) -> &[(String, usize)] {
        &self.find_links
    }

    /// Take in one logical line: joined, not yet comment-stripped. `segments` maps byte
    /// offsets in `line` to physical line numbers.
    fn logical_line(&mut self, line: &str, segments: &[Segment]) {
        let line = strip_comment(line);
        let trimmed = line.trim_start_matches(is_py_space);
        let base = line.len() - trimmed.len();
        let trimmed = trimmed.trim_end_matches(is_py_space);
        if trimmed.is_empty() {
            return;
        }
        let (args, options, options_offset) = break_args_options(trimmed);
        let facts = parse_options(options);

        // As in pip, `--hash` counts on a requirement line (an editable one drops it),
        // and `--require-hashes` on a line without a requirement.
        let hash = if !args.is_empty() {
            facts.hash.map(|offset| (offset, "--hash"))
        } else if facts.editable.is_none() {
            facts
                .require_hashes
                .map(|offset| (offset, "--require-hashes"))
        } else {
            None
        };
        if let (None, Some((offset, option))) = (self.hash_mode, hash) {
            self.hash_mode = Some(HashOption {
                line: line_at(segments, base + options_offset + offset),
                option,
            });
        }

        let lines = (
            segments.first().map_or(0, |s| s.line),
            segments.last().map_or(0, |s| s.line),
        );
        if let Some((value, offset)) = &facts.find_links {
            self.find_links.push((
                value.clone(),
                line_at(segments, base + options_offset + offset),
            ));
        }
        if !args.is_empty() {
            self.requirement(args, lines);
            return;
        }
        if let Some(editable) = &facts.editable {
            let name = egg_name(editable).map(normalize_name);
            if let Some(name) = &name {
                self.names.insert(name.clone());
            }
            let (target, extras) = split_extras(location_part(editable));
            self.located.push(Located {
                target: target.to_string(),
                name,
                editable: true,
                extras: extras.to_string(),
                lines,
            });
        }
        let include = match (facts.requirement, facts.constraint) {
            (Some(found), _) => Some((IncludeKind::Requirement, found)),
            (None, Some(found)) => Some((IncludeKind::Constraint, found)),
            (None, None) => None,
        };
        if let Some((kind, (target, offset))) = include {
            self.includes.push(Include {
                kind,
                target,
                line: line_at(segments, base + options_offset + offset),
            });
        }
    }

    /// Take in the requirement part of a line.
    fn requirement(&mut self, args: &str, lines: (usize, usize)) {
        match requirement_name(args) {
            Some((name, rest)) => {
                let name = normalize_name(name);
                if let Some(url) = direct_url(rest) {
                    self.located.push(Located {
                        target: url.to_string(),
                        name: Some(name.clone()),
                        editable: false,
                        extras: String::new(),
                        lines,
                    });
                }
                if self.django.is_none() && name == "django" {
                    self.django = django_version_of(rest);
                }
                if let Some(inner) = rest.trim_start().strip_prefix('[') {
                    if let Some((list, _)) = inner.split_once(']') {
                        let extras = self.extras.entry(name.clone()).or_default();
                        extras.extend(
                            list.split(',')
                                .map(str::trim)
                                .filter(|e| !e.is_empty())
                                .map(normalize_name),
                        );
                    }
                }
                self.names.insert(name);
            }
            None => {
                let name = egg_name(args).map(normalize_name);
                if let Some(name) = &name {
                    self.names.insert(name.clone());
                }
                let (target, extras) = split_extras(location_part(args));
                self.located.push(Located {
                    target: target.to_string(),
                    name,
                    editable: false,
                    extras: extras.to_string(),
                    lines,
                });
            }
        }
    }
}

/// The URL of a `name @ url` requirement, from the text after the name (extras allowed).
fn direct_url(rest: &str) -> Option<&str> {
    let mut s = rest.trim_start_matches(is_py_space);
    if let Some(after) = s.strip_prefix('[') {
        s = after[after.find(']')? + 1..].trim_start_matches(is_py_space);
    }
    let url = s.strip_prefix('@')?.trim_start_matches(is_py_space);
    // As in PEP 508, markers follow a URL after whitespace.
    let end = url.find(|c: char| is_py_space(c)).unwrap_or(url.len());
    Some(&url[..end]).filter(|u| !u.is_empty())
}

/// A URL or path line without its markers: pip splits a URL at `; ` and a path at `;`.
fn location_part(args: &str) -> &str {
    let args = args.trim_matches(is_py_space);
    let end = if args.contains("://") || args.starts_with("file:") {
        args.find("; ").or_else(|| args.find(" ;"))
    } else {
        args.find(';')
    };
    args[..end.unwrap_or(args.len())].trim_matches(is_py_space)
}

/// A path and its trailing `[extras]` (`./pkg[dev]` -> `./pkg`, `[dev]`).
fn split_extras(target: &str) -> (&str, &str) {
    match (target.strip_suffix(']'), target.rfind('[')) {
        (Some(_), Some(open)) if open > 0 && !target.contains("://") => target.split_at(open),
        _ => (target, ""),
    }
}

/// Return `text` with `lines` (full requirement lines such as "gunicorn>=23.0") appended
/// for each package that [`Requirements::has`] says is absent from `req` (names compared
/// normalised; of several lines for one package only the first counts).
///
/// `req` must be the result of [`Requirements::parse`] on `text`.
///
/// - `text` is an exact prefix of the result: no byte of it changes. If `text` does not
///   end with a newline, one is added before the new lines.
/// - If the last line of `text` ends with a `\` continuation, a blank line is added
///   first, because pip would otherwise join the first new line onto it.
/// - New lines use the file's newline style (CRLF if its first line ending is CRLF, else
///   LF); a BOM stays where it is. An empty file gets just the lines.
/// - If nothing is absent, `text` is returned unchanged (byte-identical).
///
/// # Errors
///
/// - The file uses pip's hash-checking mode and a package is absent: pip would reject
///   a line without a hash. The message names the file and the line of the `--hash`.
/// - A line of `lines` is not a single requirement on one line.
pub fn add_missing(req: &Requirements, text: &str, lines: &[&str]) -> Result<String> {
    let mut missing: Vec<(&str, String)> = Vec::new();
    for &line in lines {
        let name = line_name(&req.file, line)?;
        if !req.has(&name) && !missing.iter().any(|(_, seen)| *seen == name) {
            missing.push((line, name));
        }
    }
    if missing.is_empty() {
        return Ok(text.to_owned());
    }
    if let Some(hash) = req.hash_mode {
        return Err(hash_mode_error(&req.file, hash, &missing));
    }

    let newline = newline_style(text);
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let added: usize = missing.iter().map(|(line, _)| line.len() + 2).sum();
    let mut out = String::with_capacity(text.len() + 2 * newline.len() + added);
    out.push_str(text);
    if !body.is_empty() {
        if !text.ends_with('\n') {
            out.push_str(newline);
        }
        if ends_in_continuation(body) {
            out.push_str(newline);
        }
    }
    for (line, _) in &missing {
        out.push_str(line);
        out.push_str(newline);
    }

    // Belt and braces: read the result back as pip would and make sure every new line
    // is seen. Cheap (linear), and it guards the user's file against a reader mismatch.
    let check = Requirements::parse(&req.file, &out);
    if let Some((line, _)) = missing.iter().find(|(_, name)| !check.has(name)) {
        return Err(Error::input_hint(
            format!(
                "djrun could not add `{line}` to `{}` safely: pip would not read it as a new line",
                req.file
            ),
            format!(
                "add `{line}` to `{}` by hand, then run djrun again",
                req.file
            ),
        ));
    }
    Ok(out)
}

/// Where `extra` goes in `rest`, the text after a PEP 508 name: `(offset, insertion)`, or
/// `None` when `rest` asks for `extra` already. `name[a]` gets `,extra` before the `]`,
/// `name` gets `[extra]` right after the name.
pub(crate) fn extra_insertion(rest: &str, extra: &str) -> Option<(usize, String)> {
    let trimmed = rest.trim_start_matches(is_py_space);
    if let Some(inner) = trimmed.strip_prefix('[') {
        let close = inner.find(']')?;
        let listed = &inner[..close];
        if listed
            .split(',')
            .any(|e| normalize_name(e.trim()) == normalize_name(extra))
        {
            return None;
        }
        let at = rest.len() - trimmed.len() + 1 + close;
        let body = listed.trim_end_matches(is_py_space);
        let at = at - (listed.len() - body.len());
        let text = if body.trim().is_empty() {
            extra.to_string()
        } else {
            format!(",{extra}")
        };
        return Some((at, text));
    }
    Some((0, format!("[{extra}]")))
}

/// Return `text` with `extra` added to every requirement line for `name` that does not ask
/// for it (`django-storages==1.14.4` becomes `django-storages[google]==1.14.4`), version,
/// markers, other extras, comments and line endings kept. Unchanged when there is no such
/// line.
///
/// # Errors
///
/// - The file uses pip's hash-checking mode: the extra's own dependencies would come
///   without hashes.
/// - pip would not read the result as the requirement with the extra (a name djrun cannot
///   edit in place, such as one given only by `#egg=`).
pub fn add_extra(req: &Requirements, text: &str, name: &str, extra: &str) -> Result<String> {
    let wanted = normalize_name(name);
    if !req.has(&wanted) || req.extras(&wanted).contains(&normalize_name(extra)) {
        return Ok(text.to_owned());
    }
    let with_extra = format!("{name}[{extra}]");
    if let Some(hash) = req.hash_mode {
        return Err(hash_mode_error(
            &req.file,
            hash,
            &[(with_extra.as_str(), name.to_string())],
        ));
    }
    let mut out = String::with_capacity(text.len() + extra.len() + 2);
    let mut continued = false;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let is_continuation = continued;
        continued = !is_comment_line(content) && content.ends_with('\\');
        let body = content.strip_prefix('\u{feff}').unwrap_or(content);
        let args = body.trim_start_matches(is_py_space);
        let start = content.len() - args.len();
        let edit = (!is_continuation && !is_comment_line(body))
            .then(|| requirement_name(strip_comment(args)))
            .flatten()
            .filter(|(found, _)| normalize_name(found) == wanted)
            .and_then(|(found, rest)| {
                extra_insertion(rest, extra).map(|(at, insert)| (start + found.len() + at, insert))
            });
        match edit {
            Some((at, insert)) => {
                out.push_str(&line[..at]);
                out.push_str(&insert);
                out.push_str(&line[at..]);
            }
            None => out.push_str(line),
        }
    }
    let check = Requirements::parse(&req.file, &out);
    if !check.extras(&wanted).contains(&normalize_name(extra)) {
        return Err(Error::input_hint(
            format!(
                "`{}` lists `{name}` in a way djrun cannot add the `{extra}` extra to, and the deployment needs it",
                req.file
            ),
            format!(
                "write it as `{with_extra}` in `{}` (keeping its version), then run djrun again",
                req.file
            ),
        ));
    }
    Ok(out)
}

/// PEP 503 normalisation of a project name: lowercase, with every run of `-`, `_` and
/// `.` replaced by a single `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
                in_separator = true;
            }
        } else {
            in_separator = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The normalised project name of a line djrun is asked to add, or an error if the
/// line is not exactly one requirement on one line.
fn line_name(file: &str, line: &str) -> Result<String> {
    let invalid = |why: &str| {
        Error::input(format!(
            "djrun cannot add `{}` to `{file}`: {why}",
            line.escape_debug()
        ))
    };
    if line.chars().any(is_line_break) {
        return Err(invalid("it spans several lines"));
    }
    if line.ends_with('\\') {
        return Err(invalid("it ends with a `\\` line continuation"));
    }
    let parsed = Requirements::parse(file, line);
    let mut names = parsed.names.into_iter();
    match (names.next(), names.next()) {
        (Some(name), None) => Ok(name),
        _ => Err(invalid("it is not a requirement line")),
    }
}

/// The error for a file in hash-checking mode that lacks some packages.
fn hash_mode_error(file: &str, hash: HashOption, missing: &[(&str, String)]) -> Error {
    let names: Vec<String> = missing
        .iter()
        .map(|(_, name)| format!("`{name}`"))
        .collect();
    let lines: Vec<String> = missing
        .iter()
        .map(|(line, _)| format!("`{line}`"))
        .collect();
    let (what, their, them) = if missing.len() == 1 {
        (
            format!("an added {} line without a hash", names[0]),
            "its",
            "it",
        )
    } else {
        (
            format!("added {} lines without hashes", english_list(&names)),
            "their",
            "them",
        )
    };
    Error::input_hint(
        format!(
            "`{file}` line {} uses `{}`: pip's hash-checking mode would reject {what}",
            hash.line, hash.option
        ),
        format!(
            "add {} to `{file}` with {their} hashes (for example, list {them} in the file \
             `{file}` is compiled from and run `pip-compile --generate-hashes` or \
             `uv pip compile --generate-hashes`), then run djrun again",
            english_list(&lines)
        ),
    )
}

/// "a", "a and b", "a, b and c".
fn english_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The newline to write: CRLF if the first line ending of `text` is CRLF, else LF.
fn newline_style(text: &str) -> &'static str {
    match text.find(['\r', '\n']) {
        Some(i) if text[i..].starts_with("\r\n") => "\r\n",
        _ => "\n",
    }
}

/// Whether pip would join a line appended after `body` onto its last line.
fn ends_in_continuation(body: &str) -> bool {
    physical_lines(body)
        .last()
        .is_some_and(|last| last.ends_with('\\') && !is_comment_line(last))
}

/// Python's `str.isspace`, which pip's `strip()` and `\s` use.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The line boundaries of Python's `str.splitlines` (`\r\n` counts once).
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// The lines of `text` as Python's `str.splitlines` gives them, without terminators.
fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.char_indices().find(|&(_, c)| is_line_break(c)) {
            Some((i, c)) => {
                let line = &rest[..i];
                let mut next = i + c.len_utf8();
                if c == '\r' && rest[next..].starts_with('\n') {
                    next += 1;
                }
                rest = &rest[next..];
                Some(line)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

/// A whole-line comment (pip's `COMMENT_RE.match`): `#` after optional whitespace.
fn is_comment_line(line: &str) -> bool {
    line.trim_start_matches(is_py_space).starts_with('#')
}

/// `line` without its comment: everything from the first `#` that starts the line or
/// follows whitespace.
fn strip_comment(line: &str) -> &str {
    let mut after_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && after_space {
            return &line[..i];
        }
        after_space = is_py_space(c);
    }
    line
}

/// pip's `break_args_options`: the requirement part, the option part (from the first
/// space-separated token that starts with `-`) and the offset of the option part.
fn break_args_options(line: &str) -> (&str, &str, usize) {
    if line.starts_with('-') {
        return ("", line, 0);
    }
    match line.find(" -") {
        Some(i) => (&line[..i], &line[i + 1..], i + 1),
        None => (line, "", line.len()),
    }
}

/// The physical line holding byte `offset` of a logical line.
fn line_at(segments: &[Segment], offset: usize) -> usize {
    let index = segments.partition_point(|s| s.start <= offset);
    segments
        .get(index.saturating_sub(1))
        .map_or(0, |segment| segment.line)
}

/// A word of an option string after shell unquoting, and where it starts.
#[derive(Debug)]
struct Token<'a> {
    text: Cow<'a, str>,
    start: usize,
}

/// Python's `shlex.split` (POSIX mode) as a lazy iterator, lenient: an unclosed quote or
/// a trailing escape ends the word instead of failing. Words without quotes or escapes
/// borrow from the input, so a huge line of tiny words costs no memory per word.
struct ShellWords<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for ShellWords<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Quote {
            None,
            Single,
            Double,
        }
        let is_space = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
        let s = self.s;
        let rest = &s[self.pos..];
        let start = self.pos + (rest.len() - rest.trim_start_matches(is_space).len());
        if start >= s.len() {
            self.pos = s.len();
            return None;
        }
        let mut owned: Option<String> = None;
        let mut quote = Quote::None;
        let mut end = s.len();
        let mut chars = s[start..]
            .char_indices()
            .map(|(j, c)| (start + j, c))
            .peekable();
        while let Some((i, c)) = chars.next() {
            if quote == Quote::None {
                if is_space(c) {
                    end = i;
                    break;
                }
                if !matches!(c, '\'' | '"' | '\\') {
                    if let Some(text) = owned.as_mut() {
                        text.push(c);
                    }
                    continue;
                }
            }
            let text = owned.get_or_insert_with(|| s[start..i].to_owned());
            match (quote, c) {
                (Quote::None, '\'') => quote = Quote::Single,
                (Quote::None, '"') => quote = Quote::Double,
                (Quote::None, '\\') => {
                    if let Some((_, next)) = chars.next() {
                        text.push(next);
                    }
                }
                (Quote::Single, '\'') | (Quote::Double, '"') => quote = Quote::None,
                (Quote::Double, '\\') => match chars.peek() {
                    Some(&(_, next)) if next == '"' || next == '\\' => {
                        text.push(next);
                        chars.next();
                    }
                    _ => text.push('\\'),
                },
                _ => text.push(c),
            }
        }
        self.pos = end;
        let text = match owned {
            Some(text) => Cow::Owned(text),
            None => Cow::Borrowed(&s[start..end]),
        };
        Some(Token { text, start })
    }
}

/// The options djrun cares about.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Opt {
    Requirement,
    Constraint,
    Editable,
    Hash,
    RequireHashes,
    FindLinks,
    Other,
}

/// pip's long options in requirements files: name, meaning, whether it takes a value.
const LONG_OPTIONS: &[(&str, Opt, bool)] = &[
    ("index-url", Opt::Other, true),
    ("extra-index-url", Opt::Other, true),
    ("no-index", Opt::Other, false),
    ("constraint", Opt::Constraint, true),
    ("requirement", Opt::Requirement, true),
    ("editable", Opt::Editable, true),
    ("find-links", Opt::FindLinks, true),
    ("no-binary", Opt::Other, true),
    ("only-binary", Opt::Other, true),
    ("prefer-binary", Opt::Other, false),
    ("require-hashes", Opt::RequireHashes, false),
    ("pre", Opt::Other, false),
    ("trusted-host", Opt::Other, true),
    ("use-feature", Opt::Other, true),
    ("global-option", Opt::Other, true),
    ("hash", Opt::Hash, true),
    ("config-settings", Opt::Other, true),
];

/// pip's short options in requirements files; all take a value.
const SHORT_OPTIONS: &[(char, Opt)] = &[
    ('i', Opt::Other),
    ('c', Opt::Constraint),
    ('r', Opt::Requirement),
    ('e', Opt::Editable),
    ('f', Opt::FindLinks),
    ('C', Opt::Other),
];

/// A long option by name or, as optparse allows, by a unique prefix of its name.
fn long_option(key: &str) -> Option<(Opt, bool)> {
    if key.is_empty() {
        return None;
    }
    if let Some(&(_, opt, value)) = LONG_OPTIONS.iter().find(|(name, ..)| *name == key) {
        return Some((opt, value));
    }
    let mut matches = LONG_OPTIONS
        .iter()
        .filter(|(name, ..)| name.starts_with(key));
    match (matches.next(), matches.next()) {
        (Some(&(_, opt, value)), None) => Some((opt, value)),
        _ => None,
    }
}

/// What the option part of one line says; offsets are those of the option word.
#[derive(Debug, Default)]
struct OptionFacts {
    requirement: Option<(String, usize)>,
    constraint: Option<(String, usize)>,
    editable: Option<String>,
    hash: Option<usize>,
    require_hashes: Option<usize>,
    find_links: Option<(String, usize)>,
}

/// Read the option part of a line as optparse would, keeping the first of each option
/// djrun cares about. Unknown options are skipped.
fn parse_options(options: &str) -> OptionFacts {
    let mut facts = OptionFacts::default();
    if options.is_empty() {
        return facts;
    }
    let mut tokens = ShellWords { s: options, pos: 0 };
    while let Some(token) = tokens.next() {
        let word = token.text.as_ref();
        if word == "--" {
            break;
        }
        let (opt, takes_value, inline) = if let Some(long) = word.strip_prefix("--") {
            let (key, inline) = match long.split_once('=') {
                Some((key, value)) => (key, Some(value)),
                None => (long, None),
            };
            match long_option(key) {
                Some((opt, takes_value)) => (opt, takes_value, inline),
                None => continue,
            }
        } else if let Some(short) = word.strip_prefix('-') {
            let mut chars = short.chars();
            let Some(letter) = chars.next() else {
                continue;
            };
            let Some(&(_, opt)) = SHORT_OPTIONS.iter().find(|(c, _)| *c == letter) else {
                continue;
            };
            let glued = chars.as_str();
            (opt, true, (!glued.is_empty()).then_some(glued))
        } else {
            continue;
        };
        let value = if !takes_value {
            None
        } else if let Some(inline) = inline {
            Some(inline.to_owned())
        } else {
            tokens.next().map(|next| next.text.into_owned())
        };
        match opt {
            Opt::Requirement if facts.requirement.is_none() => {
                facts.requirement = value.map(|v| (v, token.start));
            }
            Opt::Constraint if facts.constraint.is_none() => {
                facts.constraint = value.map(|v| (v, token.start));
            }
            Opt::Editable if facts.editable.is_none() => facts.editable = value,
            Opt::FindLinks if facts.find_links.is_none() => {
                facts.find_links = value.map(|v| (v, token.start));
            }
            Opt::Hash if facts.hash.is_none() => facts.hash = Some(token.start),
            Opt::RequireHashes if facts.require_hashes.is_none() => {
                facts.require_hashes = Some(token.start);
            }
            _ => {}
        }
    }
    facts
}

/// The length of the PEP 508 name at the start of `s`
/// (`[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?`), if there is one.
fn name_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if !bytes.first()?.is_ascii_alphanumeric() {
        return None;
    }
    let mut end = 1;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'.' | b'-' | b'_'))
    {
        end += 1;
    }
    while !bytes[end - 1].is_ascii_alphanumeric() {
        end -= 1;
    }
    Some(end)
}

/// The project name of a PEP 508 requirement and the text after it, or `None` for a URL
/// or path (`./pkg`, `git+https://...`, `C:\pkg`, `pkg-1.0.tar.gz`).
fn requirement_name(args: &str) -> Option<(&str, &str)> {
    let end = name_len(args)?;
    let (name, rest) = args.split_at(end);
    let named = match rest.chars().next() {
        None => true,
        Some(c) => is_py_space(c) || "[(<>=!~;@".contains(c),
    };
    (named && !names_an_archive(args)).then_some((name, rest))
}

/// Whether pip reads a (non-URL) requirement as an archive file name, which has no
/// project name: the text before the markers, without trailing `[extras]`, ends in an
/// archive extension, and it is not `name @ url`.
fn names_an_archive(args: &str) -> bool {
    let before = args
        .split(';')
        .next()
        .unwrap_or("")
        .trim_matches(is_py_space);
    let mut path = before;
    if let (Some(stripped), Some(open)) = (before.strip_suffix(']'), before.rfind('[')) {
        let extras = &stripped[(open + 1).min(stripped.len())..];
        if open > 0 && !extras.is_empty() && !extras.contains(']') {
            path = &before[..open];
        }
    }
    if !is_archive_file(path) {
        return false;
    }
    match before.split_once('@') {
        Some((head, _)) => looks_like_path(head),
        None => true,
    }
}

/// pip's `is_archive_file`: the extension (`.tar.*` counting as one) is an archive's.
fn is_archive_file(path: &str) -> bool {
    let file = &path[path.rfind('/').map_or(0, |i| i + 1)..];
    let Some(dot) = file.rfind('.') else {
        return false;
    };
    let (base, ext) = file.split_at(dot);
    if base.bytes().all(|b| b == b'.') {
        return false;
    }
    let is = |choices: &[&str]| choices.iter().any(|c| ext.eq_ignore_ascii_case(c));
    let base = base.as_bytes();
    if base.len() >= 4 && base[base.len() - 4..].eq_ignore_ascii_case(b".tar") {
        is(&[".bz2", ".xz", ".lz", ".lzma", ".gz"])
    } else {
        is(&[".zip", ".whl", ".tbz", ".txz", ".tlz", ".tgz", ".tar"])
    }
}

/// pip's `_looks_like_path` (POSIX): a `/` in it, or a leading `.`.
fn looks_like_path(s: &str) -> bool {
    s.contains('/') || s.starts_with('.')
}

/// The project name in a URL's `#egg=` (or `&egg=`) fragment.
fn egg_name(s: &str) -> Option<&str> {
    s.match_indices("egg=").find_map(|(i, _)| {
        if i == 0 || !matches!(s.as_bytes()[i - 1], b'#' | b'&') {
            return None;
        }
        let value = &s[i + "egg=".len()..];
        name_len(value).map(|end| &value[..end])
    })
}

/// The "X.Y" version a Django requirement pins or bounds; `rest` follows the name.
fn django_version_of(rest: &str) -> Option<String> {
    let mut s = rest.trim_start_matches(is_py_space);
    if let Some(after) = s.strip_prefix('[') {
        let close = after.find(']')?;
        s = after[close + 1..].trim_start_matches(is_py_space);
    }
    if s.starts_with('@') {
        return None;
    }
    let specifiers = s.split(';').next().unwrap_or("");
    let mut lower: Option<(String, String)> = None;
    for clause in specifiers.split(',') {
        let clause = clause.trim_matches(|c| is_py_space(c) || c == '(' || c == ')');
        let Some((op, version)) = split_operator(clause) else {
            continue;
        };
        let Some(version) = major_minor(version.trim_matches(is_py_space)) else {
            continue;
        };
        match op {
            "==" | "===" => return Some(format!("{}.{}", version.0, version.1)),
            "~=" | ">=" | ">"
                if lower
                    .as_ref()
                    .is_none_or(|low| version_key(&version) > version_key(low)) =>
            {
                lower = Some(version);
            }
            _ => {}
        }
    }
    lower.map(|(major, minor)| format!("{major}.{minor}"))
}

/// A version specifier's operator and the rest of the clause.
fn split_operator(clause: &str) -> Option<(&str, &str)> {
    ["===", "==", "~=", ">=", "<=", "!=", "<", ">"]
        .iter()
        .find_map(|op| clause.strip_prefix(op).map(|rest| (*op, rest)))
}

/// The major and minor release numbers of a PEP 440 version, without leading zeros; a
/// missing minor (`5`, `5.*`) is "0". The epoch is skipped.
fn major_minor(version: &str) -> Option<(String, String)> {
    fn digits(s: &str) -> usize {
        s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len()
    }
    fn number(s: &str) -> String {
        let trimmed = s.trim_start_matches('0');
        if trimmed.is_empty() { "0" } else { trimmed }.to_owned()
    }
    let mut s = version.strip_prefix(['v', 'V']).unwrap_or(version);
    let mut n = digits(s);
    if n > 0 && s[n..].starts_with('!') {
        s = &s[n + 1..];
        n = digits(s);
    }
    if n == 0 {
        return None;
    }
    let major = &s[..n];
    let minor = match s[n..].strip_prefix('.') {
        Some(after) => &after[..digits(after)],
        None => "",
    };
    Some((number(major), number(minor)))
}

/// A sort key for (major, minor) numbers written without leading zeros.
fn version_key(version: &(String, String)) -> (usize, &str, usize, &str) {
    (
        version.0.len(),
        version.0.as_str(),
        version.1.len(),
        version.1.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Requirements {
        Requirements::parse("requirements.txt", text)
    }

    fn add(text: &str, lines: &[&str]) -> Result<String> {
        add_missing(&parse(text), text, lines)
    }

    const ADD: &[&str] = &["gunicorn>=23.0", "whitenoise>=6.6"];

    fn google(text: &str) -> Result<String> {
        add_extra(&parse(text), text, "django-storages", "google")
    }

    #[test]
    fn the_extra_joins_the_pin_keeping_version_markers_extras_and_comments() {
        assert_eq!(
            google("django>=5.2\ndjango-storages==1.14.4\n").unwrap(),
            "django>=5.2\ndjango-storages[google]==1.14.4\n"
        );
        assert_eq!(
            google("Django_Storages[azure] >= 1.14 ; python_version >= \"3.10\"  # media\r\nx\r\n")
                .unwrap(),
            "Django_Storages[azure,google] >= 1.14 ; python_version >= \"3.10\"  # media\r\nx\r\n"
        );
        assert_eq!(
            google("  django-storages [ ]==1.14.4 --config-settings x=y").unwrap(),
            "  django-storages [google ]==1.14.4 --config-settings x=y"
        );
        assert_eq!(
            google("django-storages @ https://example.com/s.whl\n").unwrap(),
            "django-storages[google] @ https://example.com/s.whl\n"
        );
        // Already there, or not there at all: unchanged.
        let text = "django-storages[boto3,Google]==1.14.4\n";
        assert_eq!(google(text).unwrap(), text);
        let text = "# django-storages==1.14.4\ndjango\n";
        assert_eq!(google(text).unwrap(), text);
        // A continuation line is not a requirement of its own.
        let text = "django-storages==1.14.4 \\\n    --hash=sha256:abc\n";
        assert!(google(text).is_err(), "hash-checking mode");
        let text = "django-storages \\\n    ==1.14.4\nother \\\n  django-storages\n";
        assert_eq!(
            google(text).unwrap(),
            "django-storages[google] \\\n    ==1.14.4\nother \\\n  django-storages\n"
        );
        // A second run changes nothing.
        let once = google("django-storages==1.14.4\n").unwrap();
        assert_eq!(google(&once).unwrap(), once);
    }

    #[test]
    fn a_pin_djrun_cannot_give_the_extra_is_an_error_naming_the_fix() {
        let err = google("-e git+https://example.com/s.git#egg=django-storages\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("`requirements.txt` lists `django-storages`"),
            "{err}"
        );
        assert!(err
            .hint()
            .unwrap()
            .contains("write it as `django-storages[google]`"));
        let err = google("--require-hashes\ndjango-storages==1.14.4\n").unwrap_err();
        assert!(err.to_string().contains("hash-checking mode"), "{err}");
    }

    // ---- normalize_name -------------------------------------------------------------

    #[test]
    fn normalize_name_follows_pep_503() {
        assert_eq!(normalize_name("Django"), "django");
        assert_eq!(normalize_name("django_storages"), "django-storages");
        assert_eq!(normalize_name("Django.Storages"), "django-storages");
        assert_eq!(normalize_name("django-._-storages"), "django-storages");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name(""), "");
    }

    // ---- has ------------------------------------------------------------------------

    #[test]
    fn has_finds_plain_and_decorated_names() {
        for text in [
            "gunicorn",
            "gunicorn\n",
            "gunicorn[gevent]",
            "gunicorn [gevent] >= 22",
            "gunicorn==23.0.0",
            "gunicorn >= 22",
            "gunicorn>=22,<24",
            "gunicorn (>=22)",
            "gunicorn~=23.0",
            "gunicorn!=22.0",
            "gunicorn; python_version>\"3.8\"",
            "gunicorn;python_version>\"3.8\"",
            "gunicorn @ https://example.com/gunicorn-23.0.0.tar.gz",
            "gunicorn@https://example.com/gunicorn-23.0.0.tar.gz",
            "gunicorn==23.0.0  # the WSGI server",
            "gunicorn\t# the WSGI server",
            "   gunicorn   ",
            "django\ngunicorn\nwhitenoise",
            "gunicorn==23.0.0 --hash=sha256:abc",
            "gunicorn==23.0.0 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\n",
            "gunicorn\\\n==23.0.0",
            "\u{feff}gunicorn\r\n",
            "django\rgunicorn",
            "django\x0cgunicorn",
        ] {
            assert!(parse(text).has("gunicorn"), "{text:?}");
        }
    }

    #[test]
    fn has_compares_normalised_names() {
        let req = parse("Django_Storages[google]==1.14\nWhiteNoise\nzope.interface\n");
        assert!(req.has("django-storages"));
        assert!(req.has("django_storages"));
        assert!(req.has("DJANGO.STORAGES"));
        assert!(req.has("django--storages"));
        assert!(req.has("whitenoise"));
        assert!(req.has("Zope_Interface"));
        assert!(!req.has("django"));
        assert!(!req.has("djangostorages"));
    }

    #[test]
    fn names_and_extras() {
        let req = parse("psycopg[binary, Pool_x]>=3\nDjango\n# psycopg[c]\ngunicorn [gevent]\n");
        assert_eq!(req.names(), vec!["django", "gunicorn", "psycopg"]);
        let extras: Vec<String> = req.extras("Psycopg").into_iter().collect();
        assert_eq!(extras, vec!["binary", "pool-x"]);
        assert_eq!(req.extras("gunicorn").len(), 1);
        assert!(req.extras("django").is_empty());
        assert!(req.extras("absent").is_empty());
    }

    #[test]
    fn has_ignores_comments() {
        for text in [
            "# gunicorn",
            "#gunicorn==23.0",
            "   # gunicorn",
            "\t#gunicorn",
            "django # gunicorn",
            "django  #gunicorn",
            "# gunicorn \\\n",
        ] {
            let req = parse(text);
            assert!(!req.has("gunicorn"), "{text:?}");
        }
        assert!(parse("django # gunicorn").has("django"));
    }

    #[test]
    fn comment_ending_a_continued_line_swallows_the_next_line() {
        // pip joins before stripping comments, so the comment eats the next line.
        let req = parse("django # web framework \\\ngunicorn\nwhitenoise\n");
        assert!(req.has("django"));
        assert!(!req.has("gunicorn"));
        assert!(req.has("whitenoise"));
        // A whole-line comment never continues.
        let req = parse("# comment \\\ngunicorn\n");
        assert!(req.has("gunicorn"));
        // ... and ends a continuation.
        let req = parse("django \\\n# comment\ngunicorn\n");
        assert!(req.has("django"));
        assert!(req.has("gunicorn"));
    }

    #[test]
    fn has_ignores_option_lines() {
        for text in [
            "-r gunicorn.txt",
            "-rgunicorn.txt",
            "--requirement gunicorn",
            "-c gunicorn",
            "--constraint=gunicorn",
            "--index-url https://gunicorn.example.com/simple",
            "-i gunicorn",
            "--extra-index-url gunicorn",
            "-f gunicorn",
            "--find-links gunicorn",
            "--trusted-host gunicorn",
            "--no-binary gunicorn",
            "--only-binary=gunicorn",
            "--hash=sha256:gunicorn",
            "-e ./gunicorn",
            "--editable ./gunicorn",
            "--pre",
        ] {
            assert!(!parse(text).has("gunicorn"), "{text:?}");
        }
    }

    #[test]
    fn url_and_path_lines_count_by_egg_only() {
        for (text, present) in [
            (
                "git+https://github.com/benoitc/gunicorn.git#egg=gunicorn",
                true,
            ),
            (
                "git+https://github.com/benoitc/gunicorn.git@23.0.0#egg=Gunicorn",
                true,
            ),
            ("https://x/y.zip#subdirectory=src&egg=gunicorn", true),
            ("./vendor/gunicorn#egg=gunicorn[gevent]", true),
            (
                "-e git+https://github.com/benoitc/gunicorn.git#egg=gunicorn",
                true,
            ),
            ("--editable=./vendor/gunicorn#egg=gunicorn", true),
            ("git+https://github.com/benoitc/gunicorn.git", false),
            ("https://example.com/gunicorn-23.0.0.tar.gz", false),
            ("./gunicorn", false),
            ("gunicorn/", false),
            ("vendor/gunicorn", false),
            ("C:\\src\\gunicorn", false),
            ("gunicorn-23.0.0-py3-none-any.whl", false),
            ("gunicorn.tar.gz", false),
            ("gunicorn.TAR.GZ[extra]", false),
            ("gunicorn==23.0 gunicorn-23.0.zip", false),
            ("gunicorn @ https://example.com/gunicorn-23.0.tar.gz", true),
            (
                "gunicorn[gevent] @ file:///tmp/gunicorn-23.0-py3-none-any.whl",
                true,
            ),
            ("gunicorn.tar.gz ; python_version > '3'", false),
            ("gunicorn; python_version > '3' and x == 'a.tar.gz'", true),
            ("https://example.com/x.tar.gz #egg=gunicorn", false),
            ("https://example.com/x.tar.gz#eggs=gunicorn", false),
            ("-e ./gunicorn", false),
        ] {
            assert_eq!(parse(text).has("gunicorn"), present, "{text:?}");
        }
    }

    #[test]
    fn located_lines_keep_their_target_name_and_lines() {
        let req = parse(
            "django\n-e ./pkg[dev]\n./other \\\n    ; python_version > \"3.8\"\nlib @ git+https://x/lib.git@v1 ; python_version > \"3.8\"\ngit+ssh://git@x/y.git#egg=Y_Lib\nfile:vendor/a\n--find-links=./wheels\n-f dist\n",
        );
        type Row<'a> = (&'a str, Option<&'a str>, bool, (usize, usize));
        let got: Vec<Row> = req
            .located()
            .iter()
            .map(|l| (l.target.as_str(), l.name.as_deref(), l.editable, l.lines))
            .collect();
        assert_eq!(req.located()[0].extras, "[dev]");
        assert_eq!(req.located()[1].extras, "");
        assert_eq!(
            got,
            vec![
                ("./pkg", None, true, (2, 2)),
                ("./other", None, false, (3, 4)),
                ("git+https://x/lib.git@v1", Some("lib"), false, (5, 5)),
                (
                    "git+ssh://git@x/y.git#egg=Y_Lib",
                    Some("y-lib"),
                    false,
                    (6, 6)
                ),
                ("file:vendor/a", None, false, (7, 7)),
            ]
        );
        assert_eq!(
            req.find_links(),
            &[("./wheels".to_string(), 8), ("dist".to_string(), 9)]
        );
        // A name from an index is not located; a commented line is nothing.
        assert!(parse("django>=5\n# -e ./pkg\n").located().is_empty());
    }

    #[test]
    fn only_archive_extensions_make_a_file_name() {
        // pip's `splitext` reads `.tar.zip` as one (unknown) extension.
        assert!(parse("my.tar.zip").has("my.tar.zip"));
        assert!(parse("my-tar.gz").has("my-tar-gz"));
        assert!(parse("my.tgz2").has("my-tgz2"));
        assert!(!parse("my.tgz").has("my.tgz"));
        assert!(!parse("My.Tar.Lzma").has("my.tar.lzma"));
    }

    #[test]
    fn names_do_not_run_into_neighbours() {
        let req = parse("gunicorn-extras\ngunicorn2\nmy.gunicorn\n");
        assert!(!req.has("gunicorn"));
        assert!(req.has("gunicorn-extras"));
        assert!(req.has("gunicorn2"));
        assert!(req.has("my-gunicorn"));
    }

    #[test]
    fn has_survives_odd_input() {
        for text in [
            "",
            "\n",
            "\\",
            "\\\\\n\\",
            "#",
            " # ",
            "-",
            "--",
            "-r",
            "--requirement",
            "--hash",
            "-e",
            "[gevent]",
            "==1.0",
            "@",
            "\"",
            "'",
            "-r 'unclosed",
            "-r \"a\\",
            "===",
            "\u{feff}",
            "\u{feff}\u{feff}gunicorn",
            "égunicorn",
        ] {
            let req = parse(text);
            let _ = (req.has("gunicorn"), req.includes(), req.hash_mode_line());
            let _ = req.django_version();
        }
    }

    // ---- includes -------------------------------------------------------------------

    #[test]
    fn includes_reads_every_spelling() {
        let text = "\
-r base.txt
--requirement dev.txt
--requirement=prod.txt
-c constraints.txt
--constraint more.txt
--constraint=last.txt
-rglued.txt
-r \"with space.txt\"  # comment
--requirem=short.txt
django
";
        let got: Vec<(IncludeKind, String, usize)> = parse(text)
            .includes()
            .into_iter()
            .map(|i| (i.kind, i.target, i.line))
            .collect();
        use IncludeKind::{Constraint as C, Requirement as R};
        let want = vec![
            (R, "base.txt".to_owned(), 1),
            (R, "dev.txt".to_owned(), 2),
            (R, "prod.txt".to_owned(), 3),
            (C, "constraints.txt".to_owned(), 4),
            (C, "more.txt".to_owned(), 5),
            (C, "last.txt".to_owned(), 6),
            (R, "glued.txt".to_owned(), 7),
            (R, "with space.txt".to_owned(), 8),
            (R, "short.txt".to_owned(), 9),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn includes_line_numbers_follow_physical_lines() {
        let text = "\u{feff}django\r\n\r\n# -r commented.txt\r\n--index-url https://x \\\r\n  -r joined.txt\r\n-c c.txt\r\n";
        let includes = parse(text).includes();
        assert_eq!(
            includes,
            vec![
                Include {
                    kind: IncludeKind::Requirement,
                    target: "joined.txt".into(),
                    line: 5
                },
                Include {
                    kind: IncludeKind::Constraint,
                    target: "c.txt".into(),
                    line: 6
                },
            ]
        );
    }

    #[test]
    fn includes_follow_pip_rules() {
        // On a requirement line, -r is not an include.
        assert!(parse("gunicorn -r other.txt").includes().is_empty());
        // Only the first -r of a line, and -r before -c.
        let includes = parse("-c c.txt -r a.txt -r b.txt").includes();
        assert_eq!(includes.len(), 1);
        assert_eq!(includes[0].target, "a.txt");
        assert_eq!(includes[0].kind, IncludeKind::Requirement);
        // No target, no include; an ambiguous abbreviation (`--re`, `--con`) is no option.
        assert!(parse("-r\n--re x.txt\n--con y.txt\n-r # x.txt\n")
            .includes()
            .is_empty());
    }

    #[test]
    fn shell_words_unquote_like_shlex() {
        let words = |s: &str| -> Vec<(String, usize)> {
            ShellWords { s, pos: 0 }
                .map(|t| (t.text.into_owned(), t.start))
                .collect()
        };
        assert_eq!(words(""), vec![]);
        assert_eq!(words("  \t "), vec![]);
        assert_eq!(
            words("-r  a.txt\t--x=1 "),
            vec![("-r".into(), 0), ("a.txt".into(), 4), ("--x=1".into(), 10)]
        );
        assert_eq!(
            words(r#"'a b' "c \"d\" \\ \e" f\ g h'i'"j" '' "#),
            vec![
                ("a b".into(), 0),
                (r#"c "d" \ \e"#.into(), 6),
                ("f g".into(), 22),
                ("hij".into(), 27),
                ("".into(), 35),
            ]
        );
        // Lenient where shlex fails: unclosed quote, trailing escape.
        assert_eq!(words("'abc def"), vec![("abc def".into(), 0)]);
        assert_eq!(words("abc\\"), vec![("abc".into(), 0)]);
        assert_eq!(words("é 'ü'"), vec![("é".into(), 0), ("ü".into(), 3)]);
    }

    // ---- hash_mode_line -------------------------------------------------------------

    #[test]
    fn hash_mode_line_finds_the_first_hash() {
        let text = "\
# hashes below
django==5.2.3 \\
    --hash=sha256:aaa \\
    --hash=sha256:bbb
gunicorn==23.0.0 --hash sha256:ccc
";
        assert_eq!(parse(text).hash_mode_line(), Some(3));
        assert_eq!(
            parse("gunicorn==23.0 --hash=sha256:a").hash_mode_line(),
            Some(1)
        );
        assert_eq!(
            parse("django\n--require-hashes\n").hash_mode_line(),
            Some(2)
        );
        assert_eq!(
            parse("django\r\ngunicorn --has=sha256:a\r\n").hash_mode_line(),
            Some(2)
        );
    }

    #[test]
    fn hash_mode_line_ignores_comments_and_plain_files() {
        assert_eq!(parse("django\n# --hash=sha256:a\n").hash_mode_line(), None);
        assert_eq!(parse("django # --hash=sha256:a\n").hash_mode_line(), None);
        assert_eq!(parse("django==5.2\ngunicorn\n").hash_mode_line(), None);
        assert_eq!(parse("django--hash\n").hash_mode_line(), None);
        // pip ignores a `--hash` without a requirement, and `--require-hashes` after one.
        assert_eq!(parse("--hash=sha256:a\n").hash_mode_line(), None);
        assert_eq!(parse("-e ./pkg --hash=sha256:a\n").hash_mode_line(), None);
        assert_eq!(parse("django --require-hashes\n").hash_mode_line(), None);
        assert_eq!(parse("").hash_mode_line(), None);
    }

    // ---- django_version -------------------------------------------------------------

    #[test]
    fn django_version_variants() {
        for (text, want) in [
            ("Django==5.2.3", Some("5.2")),
            ("django>=5.2,<6.0", Some("5.2")),
            ("Django~=4.2.0", Some("4.2")),
            ("Django>=4.2,<5", Some("4.2")),
            ("Django<5,>=4.2", Some("4.2")),
            ("django[argon2]==5.1.4", Some("5.1")),
            (
                "django [argon2] == 5.1.4 ; python_version >= \"3.10\"",
                Some("5.1"),
            ),
            ("Django (>=4.2, <5.0)", Some("4.2")),
            ("Django>=4.2,==5.0.1", Some("5.0")),
            ("Django>=4.1,>=4.2", Some("4.2")),
            ("Django>4.2", Some("4.2")),
            ("Django>=5", Some("5.0")),
            ("Django==5.2.*", Some("5.2")),
            ("Django===5.2.3", Some("5.2")),
            ("Django==v05.02", Some("5.2")),
            ("Django==1!5.2", Some("5.2")),
            ("Django==5.2rc1", Some("5.2")),
            ("Django==5.2.3 \\\n    --hash=sha256:abc", Some("5.2")),
            ("DJANGO==4.2.1  # LTS", Some("4.2")),
            ("django", None),
            ("Django<6", None),
            ("Django!=5.0", None),
            ("Django @ https://example.com/Django-5.2.tar.gz", None),
            ("# Django==5.2", None),
            ("django-environ==0.11", None),
            ("djangorestframework==3.15", None),
            ("Django==latest", None),
            ("", None),
            ("django\nDjango==5.1", Some("5.1")),
            ("Django==4.2\nDjango==5.1", Some("4.2")),
        ] {
            assert_eq!(parse(text).django_version().as_deref(), want, "{text:?}");
        }
    }

    // ---- add_missing ----------------------------------------------------------------

    #[test]
    fn add_missing_appends_lf() {
        assert_eq!(
            add("django==5.2\n", ADD).unwrap(),
            "django==5.2\ngunicorn>=23.0\nwhitenoise>=6.6\n"
        );
    }

    #[test]
    fn add_missing_keeps_crlf() {
        assert_eq!(
            add("django==5.2\r\nrequests\n", ADD).unwrap(),
            "django==5.2\r\nrequests\ngunicorn>=23.0\r\nwhitenoise>=6.6\r\n"
        );
        // The first line ending decides, not later ones.
        assert_eq!(
            add("django\nrequests\r\n", &["gunicorn"]).unwrap(),
            "django\nrequests\r\ngunicorn\n"
        );
    }

    #[test]
    fn add_missing_keeps_the_bom() {
        assert_eq!(
            add("\u{feff}django\r\n", &["gunicorn>=23.0"]).unwrap(),
            "\u{feff}django\r\ngunicorn>=23.0\r\n"
        );
        assert_eq!(
            add("\u{feff}", &["gunicorn>=23.0"]).unwrap(),
            "\u{feff}gunicorn>=23.0\n"
        );
    }

    #[test]
    fn add_missing_adds_a_missing_final_newline() {
        assert_eq!(
            add("django==5.2", ADD).unwrap(),
            "django==5.2\ngunicorn>=23.0\nwhitenoise>=6.6\n"
        );
        assert_eq!(
            add("django==5.2\r\nrequests", &["gunicorn"]).unwrap(),
            "django==5.2\r\nrequests\r\ngunicorn\r\n"
        );
        assert_eq!(
            add("# only a comment", &["gunicorn"]).unwrap(),
            "# only a comment\ngunicorn\n"
        );
    }

    #[test]
    fn add_missing_fills_an_empty_file() {
        assert_eq!(add("", ADD).unwrap(), "gunicorn>=23.0\nwhitenoise>=6.6\n");
    }

    #[test]
    fn add_missing_leaves_a_complete_file_alone() {
        for text in [
            "Gunicorn==22.0\nwhite_noise\nWhiteNoise[brotli]\n",
            "gunicorn\r\nwhitenoise",
            "\u{feff}gunicorn whitenoise\nwhitenoise",
            "gunicorn==23 --hash=sha256:a\nwhitenoise==6.6 --hash=sha256:b",
        ] {
            assert_eq!(add(text, ADD).unwrap(), text);
        }
    }

    #[test]
    fn add_missing_adds_only_what_is_absent() {
        assert_eq!(
            add("WhiteNoise==6.9\n# gunicorn\n", ADD).unwrap(),
            "WhiteNoise==6.9\n# gunicorn\ngunicorn>=23.0\n"
        );
        // Several lines for one package: the first counts.
        assert_eq!(
            add("", &["gunicorn>=23.0", "Gunicorn>=22"]).unwrap(),
            "gunicorn>=23.0\n"
        );
    }

    #[test]
    fn add_missing_does_not_join_a_trailing_continuation() {
        // The last line continues into whatever follows: a blank line ends it first.
        assert_eq!(
            add("django==5.2 \\\n", &["gunicorn"]).unwrap(),
            "django==5.2 \\\n\ngunicorn\n"
        );
        assert_eq!(
            add("django==5.2 \\", &["gunicorn"]).unwrap(),
            "django==5.2 \\\n\ngunicorn\n"
        );
        assert!(add("django \\\r\n    --hash=sha256:a \\\r\n", &["gunicorn"]).is_err());
        assert_eq!(
            add("django # comment \\\r\n", &["gunicorn"]).unwrap(),
            "django # comment \\\r\n\r\ngunicorn\r\n"
        );
        // A whole-line comment does not continue: no blank line.
        assert_eq!(
            add("django\n# comment \\\n", &["gunicorn"]).unwrap(),
            "django\n# comment \\\ngunicorn\n"
        );
    }

    #[test]
    fn add_missing_refuses_hash_mode() {
        let text =
            "django==5.2.3 \\\n    --hash=sha256:aaa\nasgiref==3.8.1 \\\n    --hash=sha256:bbb\n";
        let err = add(text, &["gunicorn>=23.0"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`requirements.txt` line 2 uses `--hash`: pip's hash-checking mode would reject \
             an added `gunicorn` line without a hash"
        );
        let hint = err.hint().unwrap();
        assert!(hint.contains("`gunicorn>=23.0`"), "{hint}");
        assert!(hint.contains("pip-compile --generate-hashes"), "{hint}");
        assert!(hint.contains("uv pip compile --generate-hashes"), "{hint}");
        assert!(hint.contains("run djrun again"), "{hint}");

        let err = add("--require-hashes\ndjango\n", ADD).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`requirements.txt` line 1 uses `--require-hashes`: pip's hash-checking mode would \
             reject added `gunicorn` and `whitenoise` lines without hashes"
        );
        assert!(err
            .hint()
            .unwrap()
            .contains("`gunicorn>=23.0` and `whitenoise>=6.6`"));
    }

    #[test]
    fn add_missing_rejects_lines_that_are_not_requirements() {
        for line in [
            "",
            "# gunicorn",
            "-r x.txt",
            "gunicorn\nwhitenoise",
            "gunicorn \\",
            "./pkg",
        ] {
            assert!(add("django\n", &[line]).is_err(), "{line:?}");
        }
        assert_eq!(
            add("django\n", &["git+https://x/y.git#egg=gunicorn"]).unwrap(),
            "django\ngit+https://x/y.git#egg=gunicorn\n"
        );
    }

    // ---- size -----------------------------------------------------------------------

    #[test]
    fn large_inputs_take_linear_time() {
        // Big enough that quadratic work would take minutes, small enough for debug builds.
        let n = 1 << 18;
        let long_name = "a".repeat(n);
        let cases = [
            long_name.clone(),
            format!("{long_name}-"),
            "-".repeat(n),
            " -".repeat(n),
            "#".repeat(n),
            " #".repeat(n),
            "\\\n".repeat(n / 2),
            "a \\\n".repeat(n / 4),
            "egg=".repeat(n / 4),
            "x#egg=".repeat(n / 4),
            format!("django{}", ",>=1".repeat(n / 4)),
            format!("django[{}", "a".repeat(n)),
            format!("-r {}", "\"a".repeat(n / 2)),
            "--hash=x ".repeat(n / 8),
            "\r".repeat(n),
            "\u{2028}".repeat(n / 2),
        ];
        for text in &cases {
            let req = parse(text);
            let _ = (req.has("a"), req.includes(), req.hash_mode_line());
            let _ = req.django_version();
            let _ = add_missing(&req, text, ADD);
        }
    }

    // ---- properties -----------------------------------------------------------------

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn line() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "",
                    "   ",
                    "\t",
                    "gunicorn",
                    "Gunicorn==23.0.0",
                    "gunicorn[gevent] >= 22",
                    "whitenoise>=6.6",
                    "White_Noise",
                    "Django>=4.2,<5",
                    "django[argon2]==5.1.4",
                    "django; python_version>\"3.8\"",
                    "# gunicorn",
                    "  # whitenoise \\",
                    "django # comment \\",
                    "-r base.txt",
                    "-c constraints.txt",
                    "--requirement=dev.txt",
                    "--index-url https://pypi.org/simple",
                    "-e ./local",
                    "-e git+https://x/y.git#egg=gunicorn",
                    "git+https://x/y.git#egg=whitenoise",
                    "./vendor/pkg",
                    "gunicorn==23.0 \\",
                    "    --hash=sha256:abc \\",
                    "    --hash=sha256:def",
                    "--require-hashes",
                    "\\",
                    "\u{feff}",
                ])
                .prop_map(str::to_owned),
                "[a-zA-Z0-9 #\\\\=<>;@.,_\\-\\[\\]\"'~!:/+&()]{0,16}",
            ]
        }

        fn file() -> impl Strategy<Value = String> {
            (
                any::<bool>(),
                prop::collection::vec(
                    (
                        line(),
                        prop::sample::select(vec!["\n", "\r\n", "\n", "\r\n", "\r", "\x0c"]),
                    ),
                    0..12,
                ),
                any::<bool>(),
            )
                .prop_map(|(bom, lines, final_newline)| {
                    let mut text = String::from(if bom { "\u{feff}" } else { "" });
                    let count = lines.len();
                    for (i, (line, end)) in lines.into_iter().enumerate() {
                        text.push_str(&line);
                        if final_newline || i + 1 < count {
                            text.push_str(end);
                        }
                    }
                    text
                })
        }

        fn to_add() -> impl Strategy<Value = Vec<&'static str>> {
            prop::sample::subsequence(
                vec![
                    "gunicorn>=23.0",
                    "whitenoise>=6.6",
                    "Django>=4.2",
                    "django-storages",
                ],
                0..=4,
            )
        }

        fn exercise(req: &Requirements) {
            let _ = (req.has("gunicorn"), req.has(""), req.includes());
            let _ = (req.hash_mode_line(), req.django_version());
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn parse_never_panics(text in file()) {
                exercise(&Requirements::parse("requirements.txt", &text));
            }

            #[test]
            fn parse_never_panics_on_any_string(text in any::<String>()) {
                exercise(&Requirements::parse("requirements.txt", &text));
            }

            #[test]
            fn add_missing_keeps_the_text_as_a_prefix(text in file(), lines in to_add()) {
                let req = Requirements::parse("requirements.txt", &text);
                match add_missing(&req, &text, &lines) {
                    Ok(out) => prop_assert!(out.starts_with(&text)),
                    Err(_) => prop_assert!(req.hash_mode_line().is_some()),
                }
            }

            #[test]
            fn add_missing_is_idempotent(text in file(), lines in to_add()) {
                let req = Requirements::parse("requirements.txt", &text);
                if let Ok(once) = add_missing(&req, &text, &lines) {
                    let again = Requirements::parse("requirements.txt", &once);
                    let twice = add_missing(&again, &once, &lines).unwrap();
                    prop_assert_eq!(twice, once);
                }
            }

            #[test]
            fn add_missing_makes_every_package_present(text in file(), lines in to_add()) {
                let req = Requirements::parse("requirements.txt", &text);
                if let Ok(out) = add_missing(&req, &text, &lines) {
                    let after = Requirements::parse("requirements.txt", &out);
                    for line in &lines {
                        let name = line.split(['>', '=']).next().unwrap();
                        prop_assert!(after.has(name), "{} missing from {:?}", name, out);
                    }
                    // Nothing the file already had is lost.
                    for name in ["gunicorn", "whitenoise", "django", "django-storages"] {
                        if req.has(name) {
                            prop_assert!(after.has(name));
                        }
                    }
                }
            }

            #[test]
            fn add_missing_leaves_complete_files_unchanged(text in file()) {
                let req = Requirements::parse("requirements.txt", &text);
                let out = add_missing(&req, &text, &[]).unwrap();
                prop_assert_eq!(out, text);
            }
        }
    }
}
