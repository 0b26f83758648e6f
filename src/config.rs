//! Saved choices: `[tool.djrun]` in `pyproject.toml` when the project has one, else
//! `djrun.toml`. Edited with toml_edit, so the rest of the file is kept as written; only
//! values that differ from what djrun would pick by itself are stored.

use crate::inspect::read_text;
use crate::plan::{FileChange, Owner};
use crate::{Error, Result};
use std::path::Path;
use toml_edit::{DocumentMut, Item, Table, Value};

/// The saved choices, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// GCP project id.
    pub project: Option<String>,
    /// Cloud Run region.
    pub region: Option<String>,
    /// Cloud Run service name.
    pub service: Option<String>,
    /// Python version of the image.
    pub python: Option<String>,
    /// Whether the service allows unauthenticated access.
    pub public: Option<bool>,
    /// `--database`.
    pub database: Option<String>,
    /// `--sql-instance`.
    pub sql_instance: Option<String>,
    /// `--media`.
    pub media: Option<String>,
    /// `--bucket`.
    pub bucket: Option<String>,
    /// `--public-media`.
    pub public_media: Option<bool>,
    /// `--domain`, every one.
    pub domains: Option<Vec<String>>,
    /// `--ci`.
    pub ci: Option<String>,
    /// `--github-repo`.
    pub github_repo: Option<String>,
    /// The branch the CI workflow deploys.
    pub branch: Option<String>,
    /// CPU, memory and instance counts.
    pub capacity: crate::deployment::CapacityChoices,
    /// `--settings`.
    pub settings: Option<String>,
    /// `--env`, every value by name.
    pub env: Option<std::collections::BTreeMap<String, String>>,
    /// `--secret`, every name.
    pub secrets: Option<Vec<String>>,
}

/// Where the saved choices live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Path relative to the root.
    pub path: String,
    /// Whether it is a `pyproject.toml` (`[tool.djrun]`) rather than `djrun.toml`.
    pub pyproject: bool,
    /// Current contents, if the file exists.
    pub text: Option<String>,
}

impl ConfigFile {
    /// Where to read and write the saved choices for the project in `project_root` (relative
    /// to `root`, `.` for the root itself): the project folder's `djrun.toml` or
    /// `pyproject.toml`, else those of the nearest folder above it, up to the root, that has
    /// either (a packaged app keeps its pyproject.toml at the repository root), else a new
    /// `djrun.toml` beside manage.py.
    pub fn locate(root: &Path, project_root: &str) -> Result<ConfigFile> {
        for dir in crate::inspect::layout::ancestors(project_root) {
            if let Some(found) = Self::in_folder(&crate::inspect::layout::join(root, &dir), &dir)? {
                return Ok(found);
            }
        }
        Ok(ConfigFile {
            path: crate::inspect::layout::under(project_root, "djrun.toml"),
            pyproject: false,
            text: None,
        })
    }

    /// The config file in `folder` (shown as `prefix`), if it has one.
    fn in_folder(folder: &Path, prefix: &str) -> Result<Option<ConfigFile>> {
        let shown = |name: &str| crate::inspect::layout::under(prefix, name);
        for (name, pyproject) in [("pyproject.toml", true), ("djrun.toml", false)] {
            let path = folder.join(name);
            if path.is_file() {
                let text = read_text(&path, &shown(name))?;
                if pyproject || !text.is_empty() || !folder.join("pyproject.toml").is_file() {
                    return Ok(Some(ConfigFile {
                        path: shown(name),
                        pyproject,
                        text: Some(text),
                    }));
                }
            }
        }
        Ok(None)
    }

    fn parse(&self) -> Result<DocumentMut> {
        crate::text::parse_toml(self.text.as_deref().unwrap_or(""), &self.path)
    }

    fn table<'a>(&self, doc: &'a DocumentMut) -> Option<&'a Table> {
        if self.pyproject {
            doc.get("tool")?.get("djrun")?.as_table()
        } else {
            Some(doc.as_table())
        }
    }

    /// Read the saved choices. Values of the wrong type are input errors naming the key.
    pub fn load(&self) -> Result<Saved> {
        let doc = self.parse()?;
        let Some(table) = self.table(&doc) else {
            return Ok(Saved::default());
        };
        let prefix = if self.pyproject { "tool.djrun." } else { "" };
        let string = |key: &str| -> Result<Option<String>> {
            match table.get(key) {
                None => Ok(None),
                Some(item) => item.as_str().map(|s| Some(s.to_string())).ok_or_else(|| {
                    Error::input_hint(
                        format!("`{}`: `{prefix}{key}` must be a string", self.path),
                        format!("write it as `{key} = \"...\"` or remove it"),
                    )
                }),
            }
        };
        let boolean = |key: &str, hint: &str| -> Result<Option<bool>> {
            match table.get(key) {
                None => Ok(None),
                Some(item) => item.as_bool().map(Some).ok_or_else(|| {
                    Error::input_hint(
                        format!("`{}`: `{prefix}{key}` must be true or false", self.path),
                        hint.to_string(),
                    )
                }),
            }
        };
        // A list of strings: `what` names its items, `example` shows one.
        let strings = |key: &str, what: &str, example: &str| -> Result<Option<Vec<String>>> {
            let Some(item) = table.get(key) else {
                return Ok(None);
            };
            let bad = || {
                Error::input_hint(
                    format!("`{}`: `{prefix}{key}` must be a list of {what}", self.path),
                    format!("write it as `{key} = [\"{example}\"]` or remove it"),
                )
            };
            let array = item.as_array().ok_or_else(bad)?;
            let mut out = Vec::new();
            for v in array.iter() {
                out.push(v.as_str().ok_or_else(bad)?.to_string());
            }
            Ok(Some(out))
        };
        let domains = strings("domains", "host names", "www.example.com")?;
        let number = |key: &str| -> Result<Option<u32>> {
            match table.get(key) {
                None => Ok(None),
                Some(item) => item
                    .as_integer()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        Error::input_hint(
                            format!("`{}`: `{prefix}{key}` must be a whole number", self.path),
                            format!("write it as `{key} = 2` or remove it"),
                        )
                    }),
            }
        };
        let capacity = crate::deployment::CapacityChoices {
            cpu: number("cpu")?,
            memory: string("memory")?,
            min_instances: number("min-instances")?,
            max_instances: number("max-instances")?,
            db_max_connections: number("db-max-connections")?,
        };
        let env = match table.get("env") {
            None => None,
            Some(item) => {
                let bad = || {
                    Error::input_hint(
                        format!(
                            "`{}`: `{prefix}env` must be a table of names and string values",
                            self.path
                        ),
                        "write it as `env = { ADMIN_URL = \"admin/\" }` or remove it",
                    )
                };
                let table = item.as_table_like().ok_or_else(bad)?;
                let mut out = std::collections::BTreeMap::new();
                for (k, v) in table.iter() {
                    out.insert(k.to_string(), v.as_str().ok_or_else(bad)?.to_string());
                }
                Some(out)
            }
        };
        let secrets = strings("secrets", "variable names", "STRIPE_API_KEY")?;
        Ok(Saved {
            env,
            secrets,
            settings: string("settings")?,
            capacity,
            domains,
            ci: string("ci")?,
            github_repo: string("github-repo")?,
            branch: string("branch")?,
            project: string("project")?,
            region: string("region")?,
            service: string("service")?,
            python: string("python")?,
            public: boolean(
                "public",
                "write `public = false` for a private service, or remove the key",
            )?,
            database: string("database")?,
            sql_instance: string("sql-instance")?,
            media: string("media")?,
            bucket: string("bucket")?,
            public_media: boolean(
                "public-media",
                "write `public-media = true` for media anyone may read, or remove the key",
            )?,
        })
    }

    /// The change that stores `saved` (only the keys that are `Some`), keeping everything else
    /// in the file. `None` when the file would not change.
    pub fn store(&self, saved: &Saved) -> Result<Option<FileChange>> {
        let mut doc = self.parse()?;
        let is_new = self.text.as_deref().is_none_or(|t| t.trim().is_empty());
        {
            let table: &mut Table = if self.pyproject {
                let tool = doc
                    .entry("tool")
                    .or_insert_with(|| {
                        let mut t = Table::new();
                        t.set_implicit(true);
                        Item::Table(t)
                    })
                    .as_table_mut()
                    .ok_or_else(|| {
                        Error::input(format!("`{}`: `tool` is not a table", self.path))
                    })?;
                let exists = tool.contains_key("djrun");
                let djrun = tool
                    .entry("djrun")
                    .or_insert_with(|| Item::Table(Table::new()));
                let djrun = djrun.as_table_mut().ok_or_else(|| {
                    Error::input(format!("`{}`: `tool.djrun` is not a table", self.path))
                })?;
                if !exists {
                    djrun
                        .decor_mut()
                        .set_prefix("\n# Choices for `djrun init`; flags override them.\n");
                }
                djrun
            } else {
                doc.as_table_mut()
            };
            // A value that changes keeps its comments and place; an equal value (however
            // it is quoted) is left as written.
            let mut set = |key: &str, v: Option<Value>| match v {
                Some(new) => match table.get_mut(key).and_then(Item::as_value_mut) {
                    Some(old) if same_value(old, &new) => {}
                    Some(old) => {
                        let decor = old.decor().clone();
                        *old = new;
                        *old.decor_mut() = decor;
                    }
                    None => {
                        table.insert(key, Item::Value(new));
                    }
                },
                None => {
                    table.remove(key);
                }
            };
            set("project", saved.project.as_deref().map(Value::from));
            set("region", saved.region.as_deref().map(Value::from));
            set("service", saved.service.as_deref().map(Value::from));
            set("python", saved.python.as_deref().map(Value::from));
            set("public", saved.public.map(Value::from));
            set("database", saved.database.as_deref().map(Value::from));
            set(
                "sql-instance",
                saved.sql_instance.as_deref().map(Value::from),
            );
            set("media", saved.media.as_deref().map(Value::from));
            set("bucket", saved.bucket.as_deref().map(Value::from));
            set("public-media", saved.public_media.map(Value::from));
            let int = |n: Option<u32>| n.map(|n| Value::from(i64::from(n)));
            let c = &saved.capacity;
            set("cpu", int(c.cpu));
            set("memory", c.memory.as_deref().map(Value::from));
            set("min-instances", int(c.min_instances));
            set("max-instances", int(c.max_instances));
            set("db-max-connections", int(c.db_max_connections));
            set("settings", saved.settings.as_deref().map(Value::from));
            set("ci", saved.ci.as_deref().map(Value::from));
            set("github-repo", saved.github_repo.as_deref().map(Value::from));
            set("branch", saved.branch.as_deref().map(Value::from));
            set(
                "domains",
                saved
                    .domains
                    .as_ref()
                    .map(|d| Value::Array(d.iter().map(|s| s.as_str()).collect())),
            );
            set(
                "secrets",
                saved
                    .secrets
                    .as_ref()
                    .map(|d| Value::Array(d.iter().map(|s| s.as_str()).collect())),
            );
            set(
                "env",
                saved.env.as_ref().map(|env| {
                    let mut t = toml_edit::InlineTable::new();
                    for (k, v) in env {
                        t.insert(k, Value::from(v.as_str()));
                    }
                    Value::InlineTable(t)
                }),
            );
        }
        let mut after = doc.to_string();
        if let Some(text) = &self.text {
            // Only what changed is written: a CRLF file keeps its line endings.
            after = crate::patch::pyproject::keep_unedited_bytes(text, &after);
        }
        if is_new && !self.pyproject {
            if saved == &Saved::default() {
                return Ok(None);
            }
            let newline = crate::patch::settings::newline_of(self.text.as_deref().unwrap_or(""));
            after = format!("# Choices for `djrun init`; flags override them.{newline}{after}");
        }
        if self.text.as_deref() == Some(after.as_str()) {
            return Ok(None);
        }
        Ok(Some(FileChange {
            path: self.path.clone(),
            before: self.text.clone(),
            after,
            owner: Owner::User,
            encoding: crate::text::Encoding::Utf8,
        }))
    }
}

/// Whether two saved values are the same string or the same boolean.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.value() == b.value(),
        (Value::Boolean(a), Value::Boolean(b)) => a.value() == b.value(),
        (Value::Integer(a), Value::Integer(b)) => a.value() == b.value(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_value(x, y))
        }
        (Value::InlineTable(a), Value::InlineTable(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_value(x, y)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(pyproject: bool, text: Option<&str>) -> ConfigFile {
        ConfigFile {
            path: if pyproject {
                "pyproject.toml"
            } else {
                "djrun.toml"
            }
            .into(),
            pyproject,
            text: text.map(str::to_string),
        }
    }

    fn saved() -> Saved {
        Saved {
            project: Some("my-project".into()),
            region: Some("europe-west1".into()),
            public: Some(false),
            ..Saved::default()
        }
    }

    #[test]
    fn djrun_toml_round_trips() {
        let change = file(false, None).store(&saved()).unwrap().unwrap();
        assert_eq!(
            change.after,
            "# Choices for `djrun init`; flags override them.\nproject = \"my-project\"\nregion = \"europe-west1\"\npublic = false\n"
        );
        let again = file(false, Some(&change.after));
        assert_eq!(again.load().unwrap(), saved());
        assert_eq!(
            again.store(&saved()).unwrap(),
            None,
            "storing again changes nothing"
        );
    }

    #[test]
    fn pyproject_keeps_everything_else() {
        let text = "[project]\nname = \"x\"  # the name\n\n[tool.black]\nline-length = 100\n";
        let change = file(true, Some(text)).store(&saved()).unwrap().unwrap();
        assert!(change.after.starts_with(text), "{}", change.after);
        assert!(change
            .after
            .contains("[tool.djrun]\nproject = \"my-project\""));
        assert_eq!(file(true, Some(&change.after)).load().unwrap(), saved());
    }

    #[test]
    fn values_back_at_their_defaults_are_removed() {
        let text = "project = \"a-project\"\nservice = \"custom\"\n";
        let s = Saved {
            project: Some("a-project".into()),
            ..Saved::default()
        };
        let change = file(false, Some(text)).store(&s).unwrap().unwrap();
        assert_eq!(change.after, "project = \"a-project\"\n");
    }

    #[test]
    fn storing_keeps_comments_quotes_and_crlf() {
        let text = "[tool.djrun]\r\n# the project\r\nproject = \"old\"  # why\r\nregion = 'europe-west1' # closest\r\n";
        let change = file(true, Some(text)).store(&saved()).unwrap().unwrap();
        assert_eq!(
            change.after,
            "[tool.djrun]\r\n# the project\r\nproject = \"my-project\"  # why\r\nregion = 'europe-west1' # closest\r\npublic = false\r\n"
        );
        assert_eq!(file(true, Some(&change.after)).load().unwrap(), saved());
        assert_eq!(
            file(true, Some(&change.after)).store(&saved()).unwrap(),
            None
        );
    }

    #[test]
    fn a_blank_crlf_djrun_toml_gets_a_crlf_header() {
        let change = file(false, Some("\r\n")).store(&saved()).unwrap().unwrap();
        assert!(change
            .after
            .starts_with("# Choices for `djrun init`; flags override them.\r\n"));
        assert!(
            !change.after.replace("\r\n", "").contains('\n'),
            "{:?}",
            change.after
        );
    }

    #[test]
    fn broken_toml_names_file_and_line() {
        let err = file(true, Some("[project]\nname = \n")).load().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`pyproject.toml` line 2 is not valid TOML"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let err = file(true, Some("[tool.djrun]\npublic = \"no\"\n"))
            .load()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`pyproject.toml`: `tool.djrun.public` must be true or false"
        );
    }
}
