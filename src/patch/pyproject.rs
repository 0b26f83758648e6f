//! Adding dependencies to TOML manifests (`pyproject.toml` PEP 621 or Poetry tables, and
//! `Pipfile`) through toml_edit: comments, order and formatting elsewhere are kept.

use crate::inspect::deps::{parse_requirement, Manifest};
use crate::patch::requirements::normalize_name;
use crate::{Error, Result};
use toml_edit::{Array, Item, Table, Value};

/// A dependency to add: its name and a PEP 440 version bound (`>=23.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted<'a> {
    /// The project name.
    pub name: &'a str,
    /// The version bound.
    pub bound: &'a str,
}

impl<'a> Wanted<'a> {
    /// The project name without extras: `psycopg` for `psycopg[binary]`.
    pub fn project(&self) -> &'a str {
        self.name.split('[').next().unwrap_or(self.name)
    }

    /// The extras: `["binary"]` for `psycopg[binary]`.
    pub fn extras(&self) -> Vec<&'a str> {
        match self.name.split_once('[') {
            Some((_, rest)) => rest
                .trim_end_matches(']')
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect(),
            None => Vec::new(),
        }
    }
}

fn malformed(file: &str, what: &str) -> Error {
    Error::input_hint(
        format!("`{file}`: `{what}` is not what djrun expects there"),
        format!("make `{what}` a table of dependencies as its tool documents, and run djrun again"),
    )
}

/// Return `text` with every absent `wanted` dependency added to the manifest's dependency
/// list. Unchanged text when nothing is absent.
pub fn add_missing(kind: Manifest, file: &str, text: &str, wanted: &[Wanted]) -> Result<String> {
    let mut doc = crate::text::parse_toml(text, file)?;
    let mut changed = false;
    match kind {
        Manifest::Pep621 => {
            let deps = doc
                .get_mut("project")
                .and_then(Item::as_table_like_mut)
                .ok_or_else(|| malformed(file, "project"))?
                .entry("dependencies")
                .or_insert(Item::Value(Value::Array(Array::new())));
            let array = deps
                .as_array_mut()
                .ok_or_else(|| malformed(file, "project.dependencies"))?;
            for w in wanted {
                let present = array
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(parse_requirement)
                    .any(|(n, _)| n == normalize_name(w.project()));
                if !present {
                    push_like_neighbours(array, format!("{}{}", w.name, w.bound));
                    changed = true;
                }
            }
        }
        Manifest::PoetryTable | Manifest::Pipfile => {
            let path: &[&str] = if kind == Manifest::Pipfile {
                &["packages"]
            } else {
                &["tool", "poetry", "dependencies"]
            };
            let mut item = doc.as_item_mut();
            for key in path {
                item = item
                    .as_table_like_mut()
                    .ok_or_else(|| malformed(file, &path.join(".")))?
                    .entry(key)
                    .or_insert(Item::Table(Table::new()));
            }
            let table = item
                .as_table_like_mut()
                .ok_or_else(|| malformed(file, &path.join(".")))?;
            for w in wanted {
                let present = table
                    .iter()
                    .any(|(k, _)| normalize_name(k) == normalize_name(w.project()));
                if !present {
                    let extras = w.extras();
                    if extras.is_empty() {
                        table.insert(w.name, toml_edit::value(w.bound));
                    } else {
                        // Poetry and Pipenv spell extras as a table: `{ version, extras }`.
                        let mut inline = toml_edit::InlineTable::new();
                        inline.insert("version", w.bound.into());
                        inline.insert("extras", Value::Array(extras.iter().copied().collect()));
                        table.insert(w.project(), toml_edit::value(inline));
                    }
                    changed = true;
                }
            }
        }
        Manifest::Requirements => unreachable!("requirements files are edited as lines"),
    }
    if !changed {
        return Ok(text.to_string());
    }
    Ok(keep_unedited_bytes(text, &doc.to_string()))
}

/// Return `text` with `extra` added to the dependency `name` the manifest already lists
/// without it: in a PEP 508 string (`django-storages==1.14.4` becomes
/// `django-storages[google]==1.14.4`), or in a Poetry or Pipfile table (a version string
/// becomes `{ version = ..., extras = [...] }`, a table gets `extra` in its `extras`).
/// Version, markers and other extras are kept; nothing else in the file changes. Unchanged
/// text when `name` is not there or asks for `extra` already.
pub fn add_extra(
    kind: Manifest,
    file: &str,
    text: &str,
    name: &str,
    extra: &str,
) -> Result<String> {
    let mut doc = crate::text::parse_toml(text, file)?;
    let wanted = normalize_name(name);
    let mut changed = false;
    match kind {
        Manifest::Pep621 => {
            let Some(array) = doc
                .get_mut("project")
                .and_then(|p| p.get_mut("dependencies"))
                .and_then(Item::as_array_mut)
            else {
                return Ok(text.to_string());
            };
            for value in array.iter_mut() {
                let Some(spec) = value.as_str() else {
                    continue;
                };
                let spec = spec.to_string();
                let Some((found, rest)) = pep508_name(&spec) else {
                    continue;
                };
                if normalize_name(found) != wanted {
                    continue;
                }
                if let Some((at, insert)) = crate::patch::requirements::extra_insertion(rest, extra)
                {
                    let at = found.len() + at;
                    let edited = format!("{}{insert}{}", &spec[..at], &spec[at..]);
                    let decor = value.decor().clone();
                    *value = Value::from(edited);
                    *value.decor_mut() = decor;
                    changed = true;
                }
            }
        }
        Manifest::PoetryTable | Manifest::Pipfile => {
            let path: &[&str] = if kind == Manifest::Pipfile {
                &["packages"]
            } else {
                &["tool", "poetry", "dependencies"]
            };
            let mut item = Some(doc.as_item_mut());
            for key in path {
                item = item.and_then(|i| i.get_mut(key));
            }
            let Some(table) = item.and_then(Item::as_table_like_mut) else {
                return Ok(text.to_string());
            };
            let keys: Vec<String> = table
                .iter()
                .map(|(k, _)| k.to_string())
                .filter(|k| normalize_name(k) == wanted)
                .collect();
            for key in keys {
                let Some(entry) = table.get_mut(&key) else {
                    continue;
                };
                changed |= entry_with_extra(entry, extra).map_err(|what| {
                    Error::input_hint(
                        format!("`{file}`: `{}.{key}` is {what}, where djrun must add the `{extra}` extra", path.join(".")),
                        format!("write it as `{key} = {{ version = \"...\", extras = [\"{extra}\"] }}` in `{file}`, then run djrun again"),
                    )
                })?;
            }
        }
        Manifest::Requirements => unreachable!("requirements files are edited as lines"),
    }
    if !changed {
        return Ok(text.to_string());
    }
    Ok(keep_unedited_bytes(text, &doc.to_string()))
}

/// The name at the start of a PEP 508 string and the text after it.
fn pep508_name(spec: &str) -> Option<(&str, &str)> {
    let start = spec.len() - spec.trim_start().len();
    let body = &spec[start..];
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(body.len());
    (end > 0).then(|| (&spec[..start + end], &spec[start + end..]))
}

/// Add `extra` to one Poetry or Pipfile dependency entry; whether it changed, or what the
/// entry is when djrun cannot.
fn entry_with_extra(entry: &mut Item, extra: &str) -> std::result::Result<bool, &'static str> {
    let has = |extras: &Array| {
        extras
            .iter()
            .filter_map(Value::as_str)
            .any(|e| normalize_name(e) == normalize_name(extra))
    };
    match entry {
        Item::Value(Value::String(version)) => {
            let decor = version.decor().clone();
            let mut inline = toml_edit::InlineTable::new();
            inline.insert("version", version.value().as_str().into());
            inline.insert("extras", Value::Array(std::iter::once(extra).collect()));
            let mut value = Value::InlineTable(inline);
            *value.decor_mut() = decor;
            *entry = Item::Value(value);
            Ok(true)
        }
        Item::Value(Value::InlineTable(t)) => match t.get_mut("extras") {
            Some(Value::Array(extras)) if has(extras) => Ok(false),
            Some(Value::Array(extras)) => {
                push_like_neighbours(extras, extra.to_string());
                Ok(true)
            }
            Some(_) => Err("a table whose `extras` is no list"),
            None => {
                // The space before the closing brace, if any, stays before it.
                let closing = t
                    .iter_mut()
                    .last()
                    .map(|(_, v)| {
                        let suffix = v.decor().suffix().and_then(|s| s.as_str()).unwrap_or("");
                        let suffix = suffix.to_string();
                        v.decor_mut().set_suffix("");
                        suffix
                    })
                    .unwrap_or_default();
                let mut value = Value::Array(std::iter::once(extra).collect());
                value.decor_mut().set_prefix(" ");
                value.decor_mut().set_suffix(closing);
                t.insert("extras", value);
                Ok(true)
            }
        },
        Item::Table(t) => match t.get_mut("extras") {
            Some(Item::Value(Value::Array(extras))) if has(extras) => Ok(false),
            Some(Item::Value(Value::Array(extras))) => {
                push_like_neighbours(extras, extra.to_string());
                Ok(true)
            }
            Some(_) => Err("a table whose `extras` is no list"),
            None => {
                t.insert(
                    "extras",
                    toml_edit::value(Value::Array(std::iter::once(extra).collect())),
                );
                Ok(true)
            }
        },
        // Poetry's multiple constraints: each table asks for the extra.
        Item::Value(Value::Array(list)) => {
            let mut changed = false;
            for value in list.iter_mut() {
                let mut item = Item::Value(value.clone());
                if matches!(item, Item::Value(Value::InlineTable(_))) {
                    changed |= entry_with_extra(&mut item, extra)?;
                    if let Item::Value(v) = item {
                        *value = v;
                    }
                } else {
                    return Err("a list of something other than tables");
                }
            }
            Ok(changed)
        }
        _ => Err("neither a version nor a table"),
    }
}

/// `edited` is toml_edit's rendering of `original` after an edit. toml_edit writes every
/// newline as LF, so a CRLF file would come back with every line changed. Return
/// `original` with only the part that differs replaced: every byte before and after it is
/// kept exactly as it was (CRLF, a stray LF, a lone CR, a BOM, which toml_edit drops), and
/// the replaced part takes the file's newline (CRLF when its first line ends with one).
pub(crate) fn keep_unedited_bytes(original: &str, edited: &str) -> String {
    let with_bom;
    let edited = if original.starts_with('\u{feff}') && !edited.starts_with('\u{feff}') {
        with_bom = format!("\u{feff}{edited}");
        with_bom.as_str()
    } else {
        edited
    };
    // toml_edit ends the last line with a newline: a file without one stays without.
    let edited = match edited.strip_suffix('\n') {
        Some(e) if !original.is_empty() && !original.ends_with('\n') => {
            e.strip_suffix('\r').unwrap_or(e)
        }
        _ => edited,
    };
    let (a, b) = (original.as_bytes(), edited.as_bytes());
    // The common prefix, where an original CRLF matches an edited LF.
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            (i, j) = (i + 1, j + 1);
        } else if a[i..].starts_with(b"\r\n") && b[j] == b'\n' {
            (i, j) = (i + 2, j + 1);
        } else {
            break;
        }
    }
    while !original.is_char_boundary(i) || !edited.is_char_boundary(j) {
        (i, j) = (i - 1, j - 1);
    }
    // The common suffix after that prefix, the same way from the end.
    let (mut k, mut l) = (a.len(), b.len());
    while k > i && l > j {
        if a[..k].ends_with(b"\r\n")
            && k - 2 >= i
            && b[l - 1] == b'\n'
            && !b[..l].ends_with(b"\r\n")
        {
            (k, l) = (k - 2, l - 1);
        } else if a[k - 1] == b[l - 1] {
            (k, l) = (k - 1, l - 1);
        } else {
            break;
        }
    }
    while !original.is_char_boundary(k) || !edited.is_char_boundary(l) {
        (k, l) = (k + 1, l + 1);
    }
    let middle = &edited[j..l];
    let mut out = String::with_capacity(original.len() + 2 * middle.len());
    out.push_str(&original[..i]);
    if crate::patch::settings::newline_of(original) == "\r\n" {
        let mut rest = middle;
        while let Some(n) = rest.find('\n') {
            out.push_str(&rest[..n]);
            out.push_str(if rest[..n].ends_with('\r') {
                "\n"
            } else {
                "\r\n"
            });
            rest = &rest[n + 1..];
        }
        out.push_str(rest);
    } else {
        out.push_str(middle);
    }
    out.push_str(&original[k..]);
    out
}

/// Append `spec` to `array` the way its existing items are laid out: one per line with the
/// same indent when the array is multi-line, else inline after a space.
fn push_like_neighbours(array: &mut Array, spec: String) {
    let last_prefix = array
        .iter()
        .last()
        .and_then(|v| v.decor().prefix())
        .and_then(|p| p.as_str())
        .map(str::to_string);
    let multiline = last_prefix.as_deref().is_some_and(|p| p.contains('\n'));
    let mut value = Value::from(spec);
    if multiline {
        // toml_edit keeps a comment that follows an item in the next item's prefix, and one
        // after the last item in the array's trailing text: the new item takes the indent
        // only, and a trailing comment stays on the line it was on.
        let last_prefix = last_prefix.unwrap_or_default();
        let indent = last_prefix
            .rsplit('\n')
            .next()
            .unwrap_or("    ")
            .to_string();
        let trailing = array.trailing().as_str().unwrap_or("").to_string();
        let (head, tail) = match trailing.rfind('\n') {
            Some(i) => (trailing[..i].to_string(), trailing[i + 1..].to_string()),
            None => (trailing.trim_end().to_string(), String::new()),
        };
        value.decor_mut().set_prefix(format!("{head}\n{indent}"));
        value.decor_mut().set_suffix("");
        array.push_formatted(value);
        array.set_trailing_comma(true);
        array.set_trailing(format!("\n{tail}"));
    } else {
        if array.is_empty() {
            value.decor_mut().set_prefix("");
        } else {
            value.decor_mut().set_prefix(" ");
        }
        array.push_formatted(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUNICORN: Wanted = Wanted {
        name: "gunicorn",
        bound: ">=23.0",
    };

    #[test]
    fn pep621_multiline_array_keeps_its_layout_and_comments() {
        let text = "[project]\nname = \"x\"\ndependencies = [\n    \"django>=5.2\",  # the framework\n    \"psycopg[binary]\",\n]\n\n[tool.uv]\ndev-dependencies = []\n";
        let out = add_missing(Manifest::Pep621, "pyproject.toml", text, &[GUNICORN]).unwrap();
        assert_eq!(
            out,
            "[project]\nname = \"x\"\ndependencies = [\n    \"django>=5.2\",  # the framework\n    \"psycopg[binary]\",\n    \"gunicorn>=23.0\",\n]\n\n[tool.uv]\ndev-dependencies = []\n"
        );
        assert_eq!(
            add_missing(Manifest::Pep621, "pyproject.toml", &out, &[GUNICORN]).unwrap(),
            out
        );
    }

    #[test]
    fn pep621_inline_array() {
        let text = "[project]\ndependencies = [\"Django>=5\"]\n";
        let out = add_missing(Manifest::Pep621, "pyproject.toml", text, &[GUNICORN]).unwrap();
        assert_eq!(
            out,
            "[project]\ndependencies = [\"Django>=5\", \"gunicorn>=23.0\"]\n"
        );
    }

    #[test]
    fn present_in_any_spelling_is_left_alone() {
        let text = "[project]\ndependencies = [\"Gunicorn[gevent] (>=22)\"]\n";
        assert_eq!(
            add_missing(Manifest::Pep621, "p", text, &[GUNICORN]).unwrap(),
            text
        );
        let text = "[tool.poetry.dependencies]\npython = \"^3.12\"\nGunicorn = \"*\"\n";
        assert_eq!(
            add_missing(Manifest::PoetryTable, "p", text, &[GUNICORN]).unwrap(),
            text
        );
    }

    #[test]
    fn poetry_and_pipfile_tables_get_a_key() {
        let text = "[tool.poetry.dependencies]\npython = \"^3.12\"  # runtime\nDjango = \"^5.2\"\n\n[tool.poetry.group.dev.dependencies]\npytest = \"*\"\n";
        let out = add_missing(Manifest::PoetryTable, "pyproject.toml", text, &[GUNICORN]).unwrap();
        assert_eq!(
            out,
            "[tool.poetry.dependencies]\npython = \"^3.12\"  # runtime\nDjango = \"^5.2\"\ngunicorn = \">=23.0\"\n\n[tool.poetry.group.dev.dependencies]\npytest = \"*\"\n"
        );
        let text = "[packages]\ndjango = \"*\"\n\n[dev-packages]\npytest = \"*\"\n";
        let out = add_missing(Manifest::Pipfile, "Pipfile", text, &[GUNICORN]).unwrap();
        assert_eq!(
            out,
            "[packages]\ndjango = \"*\"\ngunicorn = \">=23.0\"\n\n[dev-packages]\npytest = \"*\"\n"
        );
    }

    fn google(kind: Manifest, text: &str) -> Result<String> {
        add_extra(kind, "f", text, "django-storages", "google")
    }

    #[test]
    fn pep621_pins_get_the_extra_in_place() {
        let text = "[project]\ndependencies = [\n    \"django>=5.2\",\n    \"Django_Storages[azure] == 1.14.4 ; python_version >= '3.10'\",  # media\n    'gunicorn',\n]\n";
        let out = google(Manifest::Pep621, text).unwrap();
        assert_eq!(
            out,
            "[project]\ndependencies = [\n    \"django>=5.2\",\n    \"Django_Storages[azure,google] == 1.14.4 ; python_version >= '3.10'\",  # media\n    'gunicorn',\n]\n"
        );
        assert_eq!(google(Manifest::Pep621, &out).unwrap(), out);
        assert_eq!(
            google(
                Manifest::Pep621,
                "[project]\ndependencies = [\"django-storages==1.14.4\"]\r\n"
            )
            .unwrap(),
            "[project]\ndependencies = [\"django-storages[google]==1.14.4\"]\r\n"
        );
        // Not listed: nothing to do.
        let text = "[project]\ndependencies = [\"django\"]\n";
        assert_eq!(google(Manifest::Pep621, text).unwrap(), text);
    }

    #[test]
    fn poetry_and_pipfile_pins_become_tables_with_the_extra() {
        let text = "[tool.poetry.dependencies]\npython = \"^3.12\"\ndjango-storages = \"1.14.4\"  # media\nDjango = \"^5.2\"\n";
        let out = google(Manifest::PoetryTable, text).unwrap();
        assert_eq!(
            out,
            "[tool.poetry.dependencies]\npython = \"^3.12\"\ndjango-storages = { version = \"1.14.4\", extras = [\"google\"] }  # media\nDjango = \"^5.2\"\n"
        );
        assert_eq!(google(Manifest::PoetryTable, &out).unwrap(), out);
        let text = "[packages]\ndjango_storages = {version = \"==1.14.4\", extras = [\"azure\"], markers = \"os_name == 'posix'\"}\n";
        assert_eq!(
            google(Manifest::Pipfile, text).unwrap(),
            "[packages]\ndjango_storages = {version = \"==1.14.4\", extras = [\"azure\", \"google\"], markers = \"os_name == 'posix'\"}\n"
        );
        let text = "[packages]\ndjango-storages = {version = \"*\"}\n";
        assert_eq!(
            google(Manifest::Pipfile, text).unwrap(),
            "[packages]\ndjango-storages = {version = \"*\", extras = [\"google\"]}\n"
        );
        let text =
            "[tool.poetry.dependencies.django-storages]\nversion = \"^1.14\"\n\n[tool.black]\n";
        assert_eq!(
            google(Manifest::PoetryTable, text).unwrap(),
            "[tool.poetry.dependencies.django-storages]\nversion = \"^1.14\"\nextras = [\"google\"]\n\n[tool.black]\n"
        );
        let text = "[tool.poetry.dependencies]\ndjango-storages = [\n    { version = \"^1.14\", python = \"<3.12\" },\n    { version = \"^1.15\", python = \">=3.12\" },\n]\n";
        assert_eq!(
            google(Manifest::PoetryTable, text).unwrap(),
            "[tool.poetry.dependencies]\ndjango-storages = [\n    { version = \"^1.14\", python = \"<3.12\", extras = [\"google\"] },\n    { version = \"^1.15\", python = \">=3.12\", extras = [\"google\"] },\n]\n"
        );
        let err = google(
            Manifest::Pipfile,
            "[packages]\ndjango-storages = {version = \"*\", extras = \"google\"}\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`packages.django-storages` is a table whose `extras` is no list"),
            "{err}"
        );
    }

    #[test]
    fn crlf_files_keep_every_byte_outside_the_edit() {
        // A CRLF file with one LF line (in a multi-line string, where it is part of the
        // value): only the new item is written, with CRLF.
        let text = "[project]\r\ndescription = \"\"\"a\nb\"\"\"\r\ndependencies = [\r\n    \"django\",  # web\r\n]\r\n";
        let out = add_missing(Manifest::Pep621, "pyproject.toml", text, &[GUNICORN]).unwrap();
        assert_eq!(
            out,
            "[project]\r\ndescription = \"\"\"a\nb\"\"\"\r\ndependencies = [\r\n    \"django\",  # web\r\n    \"gunicorn>=23.0\",\r\n]\r\n"
        );
        let text =
            "[tool.poetry.dependencies]\r\npython = \"^3.12\"\r\n\r\n[tool.black]\nx = 1\r\n";
        let out = add_missing(Manifest::PoetryTable, "pyproject.toml", text, &[GUNICORN]).unwrap();
        assert_eq!(
            out,
            "[tool.poetry.dependencies]\r\npython = \"^3.12\"\r\ngunicorn = \">=23.0\"\r\n\r\n[tool.black]\nx = 1\r\n"
        );
    }

    #[test]
    fn keep_unedited_bytes_takes_only_the_changed_part() {
        assert_eq!(keep_unedited_bytes("a\r\nb\r\n", "a\nb\n"), "a\r\nb\r\n");
        assert_eq!(
            keep_unedited_bytes("a\r\nb\r\n", "a\nx\nb\n"),
            "a\r\nx\r\nb\r\n"
        );
        assert_eq!(keep_unedited_bytes("a\nb\n", "a\nb\nc\n"), "a\nb\nc\n");
        assert_eq!(keep_unedited_bytes("é\r\n", "é\nè\n"), "é\r\nè\r\n");
        assert_eq!(keep_unedited_bytes("", "x = 1\n"), "x = 1\n");
        assert_eq!(keep_unedited_bytes("a\nb", "a\nx\nb\n"), "a\nx\nb");
        let text = "\u{feff}[project]\r\nname = \"x\"\r\n";
        assert_eq!(
            add_missing(Manifest::Pep621, "pyproject.toml", text, &[GUNICORN]).unwrap(),
            "\u{feff}[project]\r\nname = \"x\"\r\ndependencies = [\"gunicorn>=23.0\"]\r\n",
            "the BOM stays"
        );
        let text = "[project]\ndependencies = []\n[tool.x]\ny = 1";
        assert_eq!(
            add_missing(Manifest::Pep621, "pyproject.toml", text, &[GUNICORN]).unwrap(),
            "[project]\ndependencies = [\"gunicorn>=23.0\"]\n[tool.x]\ny = 1",
            "no final newline is added"
        );
    }

    #[test]
    fn wrong_shapes_are_errors_not_panics() {
        let err = add_missing(
            Manifest::Pep621,
            "pyproject.toml",
            "project = 3\n",
            &[GUNICORN],
        )
        .unwrap_err();
        assert!(err.to_string().contains("`project`"), "{err}");
        let err = add_missing(
            Manifest::Pep621,
            "pyproject.toml",
            "[project]\ndependencies = \"x\"\n",
            &[GUNICORN],
        )
        .unwrap_err();
        assert!(err.to_string().contains("project.dependencies"), "{err}");
        let err = add_missing(
            Manifest::Pep621,
            "pyproject.toml",
            "[project\n",
            &[GUNICORN],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`pyproject.toml` line 1 is not valid TOML"),
            "{err}"
        );
    }
}
