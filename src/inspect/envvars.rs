//! What the Django settings read from the environment.
//!
//! A setting that is already read from the environment (`ALLOWED_HOSTS`, the secret key, the
//! database) is not patched: djrun wires the variable it reads into the deploy instead. A
//! variable the settings need at import time, with no default, must exist while the image
//! runs `collectstatic`, so it gets a harmless build-only value ([`build_value`]) there and is
//! listed as something the deploy has to provide.
//!
//! Recognised readers:
//!
//! - the standard library: `os.environ["X"]` (required), `os.environ.get("X"[, default])`,
//!   `os.environ.pop`, `os.getenv("X"[, default])`, and `environ[...]`/`getenv(...)` after
//!   `from os import environ, getenv`. `os.environ.setdefault("X", ...)` and
//!   `os.environ["X"] = ...` are writes, not reads: a later read of `X` is not required;
//! - django-environ: a name bound to `environ.Env(...)`/`Env(...)` (or, when nothing in the
//!   module binds it, the conventional `env`, as star-imported from a base module), called
//!   (`env("X", cast, default)`) or through its typed methods, with the library's signatures
//!   (`env.str(var, default)`, but `env.list(var, cast, default)`), its schema defaults (`environ.Env(DEBUG=(bool, False))`) and the
//!   default variables of `env.db()`, `env.cache()`, `env.email_url()`;
//! - python-decouple: `config(option, default, cast)` from `decouple` (or an `AutoConfig(...)`/
//!   `Config(...)` instance), where a second positional argument is the default, as in
//!   decouple's own `Config.get`;
//! - dj-database-url: `dj_database_url.config()` reads `DATABASE_URL` (or `env=`) and is never
//!   required (it returns `{}` when the variable is unset); `dj_database_url.parse(...)` reads
//!   nothing itself, but what it parses is a database URL.
//!
//! What is read: module-level statements and the bodies of top-level `if`/`try`/`with`/`for`/
//! `while` blocks, with everything nested in their expressions. Function bodies (helpers such
//! as `def get_env(name): return os.environ[name]`, even when called at module level), class
//! bodies and lambdas are not read: keeping to what runs visibly at import time keeps the
//! answer predictable. A variable name that is not a plain string literal (an f-string, a
//! variable) is skipped.

use crate::python::{Block, Expr, ExprKind, PyModule};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One read of an environment variable by the settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvRead {
    /// The environment variable, e.g. `DJANGO_ALLOWED_HOSTS`.
    pub var: String,
    /// 1-based line of the read.
    pub line: usize,
    /// Whether importing the settings fails when the variable is missing: the read has no
    /// default, is not caught by an enclosing `try` whose `except` catches the reader's error,
    /// is not guarded by an `if` that mentions the variable (`if "X" in os.environ:`), and the
    /// variable was not `setdefault` before.
    pub required: bool,
    /// The module-level setting the read feeds: the read is (part of) the right side of an
    /// assignment to an upper-case name (`SECRET_KEY = env("DJANGO_SECRET_KEY")`), of an item
    /// assignment to one (`DATABASES["default"] = ...`), or an argument of a method called on
    /// one (`DATABASES["default"].update(...)`, `ALLOWED_HOSTS.extend(...)`).
    pub setting: Option<String>,
    /// What the reader makes of the value, which decides the build-only value.
    pub kind: ReadKind,
    /// Whether the read may not run on import: it sits in an `if` branch, a `try` (any part),
    /// a loop, or behind `or`/`and`/a conditional expression. `with` bodies always run.
    pub conditional: bool,
    /// The default the read falls back to, as written (`True`, `"1"`), when the call or
    /// django-environ's schema gives one.
    #[serde(skip)]
    pub default: Option<String>,
}

/// What type the reader expects the variable's value to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    /// A plain string (also what is left when nothing says otherwise).
    Str,
    /// A boolean (`env.bool`, `cast=bool`, `bool(...)`).
    Bool,
    /// A number (`env.int`, `env.float`, `cast=int`, `int(...)`, `float(...)`).
    Int,
    /// A comma-separated list (`env.list`, `env.tuple`, `Csv()`, `.split(",")`).
    List,
    /// A database URL (`env.db`, `dj_database_url`, decouple `cast=db_url`).
    Url,
    /// A cache URL (`env.cache`).
    CacheUrl,
    /// An email URL (`env.email_url`).
    EmailUrl,
    /// JSON (`env.json`, `json.loads(...)`).
    Json,
    /// django-environ's `key=value,...` dictionary (`env.dict`, `cast=dict`).
    Dict,
    /// A cast djrun does not know.
    Other,
}

/// The database URL used while building the image: a throwaway SQLite file.
const BUILD_DATABASE_URL: &str = "sqlite:////tmp/build-only.sqlite3";

/// The environment variables the settings read, in source order, one entry per read.
pub fn env_reads(module: &PyModule) -> Vec<EnvRead> {
    env_reads_chain(&[module]).pop().unwrap_or_default()
}

/// [`env_reads`] for a chain of settings modules in the order Python runs them (the
/// star-imported base first, then the module that imports it), one list per module. What the
/// earlier modules bind (`env = environ.Env(DEBUG=(bool, False))`, `from decouple import
/// config`) and `setdefault` carries into the later ones, as a star import does.
pub fn env_reads_chain(modules: &[&PyModule]) -> Vec<Vec<EnvRead>> {
    let mut scope = Scope::default();
    modules
        .iter()
        .map(|module| {
            scope.bind(module);
            let mut walker = Walker {
                scope: &mut scope,
                out: Vec::new(),
            };
            for statement in module.statements() {
                walker.statement(statement);
            }
            walker.out
        })
        .collect()
}

/// A harmless value for a required variable while the image runs `collectstatic`: enough for
/// the settings to import, never a real-looking secret. Database URLs get a throwaway SQLite
/// file, cache URLs the local-memory cache, email URLs the console backend, booleans
/// `false`, numbers `0`, lists `localhost`, JSON `{}`, `*_DSN` (Sentry) the empty string
/// (which disables the client instead of failing on a bad DSN), anything else `build-only`.
pub fn build_value(read: &EnvRead) -> String {
    let name = read.var.to_ascii_uppercase();
    let by_name = || {
        if name.contains("DATABASE_URL") {
            BUILD_DATABASE_URL
        } else if name.contains("CACHE_URL") || name.contains("REDIS_URL") {
            "locmemcache://"
        } else if name.contains("EMAIL_URL") {
            "consolemail://"
        } else if name.ends_with("_DSN") || name == "DSN" {
            ""
        } else {
            "build-only"
        }
    };
    match read.kind {
        ReadKind::Url => BUILD_DATABASE_URL,
        ReadKind::CacheUrl => "locmemcache://",
        ReadKind::EmailUrl => "consolemail://",
        ReadKind::Bool => "false",
        ReadKind::Int => "0",
        ReadKind::List => "localhost",
        ReadKind::Json => "{}",
        ReadKind::Dict => "",
        ReadKind::Str | ReadKind::Other => by_name(),
    }
    .to_string()
}

/// The build-time environment: each variable some read requires, once, in the order first
/// required, with its [`build_value`] (from its first required read).
pub fn build_env<'a>(reads: impl IntoIterator<Item = &'a EnvRead>) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    reads
        .into_iter()
        .filter(|r| r.required && seen.insert(r.var.clone()))
        .map(|r| (r.var.clone(), build_value(r)))
        .collect()
}

/// Whose error a missing variable raises, which decides which `except` clauses catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `os.environ[...]`: `KeyError`.
    Os,
    /// django-environ: `ImproperlyConfigured`.
    DjangoEnviron,
    /// python-decouple: `UndefinedValueError`.
    Decouple,
}

impl Family {
    /// Whether an `except` clause naming `types` (empty: bare `except:`) catches the error.
    fn caught_by(self, types: &[String]) -> bool {
        if types.is_empty() {
            return true;
        }
        types.iter().any(|t| {
            let last = t.rsplit('.').next().unwrap_or(t);
            matches!(last, "Exception" | "BaseException")
                || match self {
                    Family::Os => matches!(last, "KeyError" | "LookupError"),
                    Family::DjangoEnviron => last == "ImproperlyConfigured",
                    Family::Decouple => last == "UndefinedValueError",
                }
        })
    }
}

/// A variable in a django-environ schema: `DEBUG=bool` or `DEBUG=(bool, False)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SchemaEntry {
    kind: Option<ReadKind>,
    has_default: bool,
    /// The default, as written.
    default: Option<String>,
}

/// What a name stands for, as far as reading the environment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    /// The `os` module.
    Os,
    /// `os.environ`.
    Environ,
    /// `os.getenv`.
    Getenv,
    /// The `environ` module of django-environ.
    EnvironModule,
    /// `environ.Env`.
    EnvClass,
    /// An `environ.Env(...)` instance and its schema.
    Env(BTreeMap<String, SchemaEntry>),
    /// The `decouple` module.
    DecoupleModule,
    /// `decouple.config` or a `Config`/`AutoConfig` instance.
    DecoupleConfig,
    /// `decouple.Config` or `decouple.AutoConfig`.
    DecoupleConfigClass,
    /// `decouple.Csv`.
    Csv,
    /// The `dj_database_url` module.
    DjDatabaseUrl,
    /// `dj_database_url.config`.
    DjDatabaseUrlConfig,
    /// `dj_database_url.parse`.
    DjDatabaseUrlParse,
    /// Bound to something else: hides the conventional meaning of the name.
    Unknown,
}

/// The names bound so far, and the variables the settings set themselves.
#[derive(Debug, Default)]
struct Scope {
    names: HashMap<String, Binding>,
    set: HashSet<String>,
}

impl Scope {
    /// Bind what `module`'s imports and assignments bind. Later bindings win, except that an
    /// assignment djrun cannot read (`env = None` in an `except ImportError:`) does not hide a
    /// binding it recognised.
    fn bind(&mut self, module: &PyModule) {
        for import in module.imports() {
            let module_name = match &import.name {
                None if import.module.split('.').next() == Some(import.bound.as_str()) => {
                    import.bound.as_str()
                }
                _ => import.module.as_str(),
            };
            if let Some(binding) = import_binding(module_name, import.name.as_deref()) {
                self.names.insert(import.bound.clone(), binding);
            }
        }
        for statement in module.statements() {
            let Some(value) = &statement.value else {
                continue;
            };
            if statement.kind != "assignment" {
                continue;
            }
            let binding = self.value_binding(value);
            for target in &statement.targets {
                let ExprKind::Name(name) = &target.kind else {
                    continue;
                };
                match &binding {
                    Some(b) => {
                        self.names.insert(name.clone(), b.clone());
                    }
                    None => {
                        let known = self.names.get(name).is_some_and(|b| *b != Binding::Unknown);
                        if !known {
                            self.names.insert(name.clone(), Binding::Unknown);
                        }
                    }
                }
            }
        }
    }

    /// What assigning `value` to a name binds it to, when it is something djrun reads.
    fn value_binding(&self, value: &Expr) -> Option<Binding> {
        if let ExprKind::Call {
            function, keywords, ..
        } = &value.kind
        {
            match self.resolve(function) {
                Some(Binding::EnvClass) => {
                    let schema = keywords
                        .iter()
                        .map(|(name, spec)| (name.clone(), self.schema_entry(spec)))
                        .collect();
                    return Some(Binding::Env(schema));
                }
                Some(Binding::DecoupleConfigClass) => return Some(Binding::DecoupleConfig),
                _ => return None,
            }
        }
        self.resolve(value).filter(|b| *b != Binding::Unknown)
    }

    fn schema_entry(&self, spec: &Expr) -> SchemaEntry {
        match &spec.kind {
            ExprKind::Tuple(items) if items.len() == 2 => SchemaEntry {
                kind: Some(self.cast_kind(&items[0])),
                has_default: true,
                default: Some(items[1].text.clone()),
            },
            ExprKind::Tuple(items) if items.len() == 1 => SchemaEntry {
                kind: Some(self.cast_kind(&items[0])),
                has_default: false,
                default: None,
            },
            _ => SchemaEntry {
                kind: Some(self.cast_kind(spec)),
                has_default: false,
                default: None,
            },
        }
    }

    /// What `expr` stands for. Unbound names keep their conventional meaning: `os`,
    /// `environ` (django-environ's module; `environ[...]` and `environ.get` still read
    /// `os.environ`), `env` (a django-environ instance), `decouple`, `dj_database_url`.
    fn resolve(&self, expr: &Expr) -> Option<Binding> {
        match &expr.kind {
            ExprKind::Name(name) => match self.names.get(name) {
                Some(Binding::Unknown) => None,
                Some(b) => Some(b.clone()),
                None => match name.as_str() {
                    "os" => Some(Binding::Os),
                    "environ" => Some(Binding::EnvironModule),
                    "env" => Some(Binding::Env(BTreeMap::new())),
                    "decouple" => Some(Binding::DecoupleModule),
                    "dj_database_url" => Some(Binding::DjDatabaseUrl),
                    _ => None,
                },
            },
            ExprKind::Attribute { object, attribute } => {
                match (self.resolve(object)?, attribute.as_str()) {
                    (Binding::Os, "environ") => Some(Binding::Environ),
                    (Binding::Os, "getenv") => Some(Binding::Getenv),
                    (Binding::EnvironModule, "Env" | "FileAwareEnv") => Some(Binding::EnvClass),
                    (Binding::DecoupleModule, "config") => Some(Binding::DecoupleConfig),
                    (Binding::DecoupleModule, "AutoConfig" | "Config") => {
                        Some(Binding::DecoupleConfigClass)
                    }
                    (Binding::DecoupleModule, "Csv") => Some(Binding::Csv),
                    (Binding::DjDatabaseUrl, "config") => Some(Binding::DjDatabaseUrlConfig),
                    (Binding::DjDatabaseUrl, "parse") => Some(Binding::DjDatabaseUrlParse),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The kind a cast argument (`bool`, `Csv()`, `[str]`, `db_url`) gives.
    fn cast_kind(&self, cast: &Expr) -> ReadKind {
        match &cast.kind {
            ExprKind::List(_) | ExprKind::Tuple(_) => return ReadKind::List,
            ExprKind::Other { kind, .. } if kind == "dictionary" => return ReadKind::Dict,
            ExprKind::Call { function, .. } => {
                let csv = self.resolve(function) == Some(Binding::Csv)
                    || function.dotted().is_some_and(|d| d.ends_with("Csv"));
                return if csv { ReadKind::List } else { ReadKind::Other };
            }
            _ => {}
        }
        if self.resolve(cast) == Some(Binding::DjDatabaseUrlParse) {
            return ReadKind::Url;
        }
        let dotted = cast.dotted().unwrap_or_default();
        match dotted.as_str() {
            "str" => ReadKind::Str,
            "bool" => ReadKind::Bool,
            "int" | "float" => ReadKind::Int,
            "list" | "tuple" => ReadKind::List,
            "dict" => ReadKind::Dict,
            "json.loads" => ReadKind::Json,
            d if d.ends_with("db_url") || d.ends_with("db_url_config") => ReadKind::Url,
            _ => ReadKind::Other,
        }
    }
}

/// What `import module` (`name` is `None`) or `from module import name` binds.
fn import_binding(module: &str, name: Option<&str>) -> Option<Binding> {
    Some(match (module, name) {
        ("os", None) => Binding::Os,
        ("os", Some("environ")) => Binding::Environ,
        ("os", Some("getenv")) => Binding::Getenv,
        ("environ", None) => Binding::EnvironModule,
        ("environ", Some("Env" | "FileAwareEnv")) => Binding::EnvClass,
        ("decouple", None) => Binding::DecoupleModule,
        ("decouple", Some("config")) => Binding::DecoupleConfig,
        ("decouple", Some("AutoConfig" | "Config")) => Binding::DecoupleConfigClass,
        ("decouple", Some("Csv")) => Binding::Csv,
        ("dj_database_url", None) => Binding::DjDatabaseUrl,
        ("dj_database_url", Some("config")) => Binding::DjDatabaseUrlConfig,
        ("dj_database_url", Some("parse")) => Binding::DjDatabaseUrlParse,
        _ => return None,
    })
}

/// How a django-environ method takes its arguments: the variable's default name (for
/// `db`/`cache`/`email_url`), the position of `default` (after a `cast` for `list`, `tuple`
/// and `dict`, whose second positional argument is the cast), and the kind it returns.
/// These follow django-environ's signatures, e.g. `Env.str(var, default=NOTSET)`,
/// `Env.list(var, cast=None, default=NOTSET)`, `Env.db_url(var=DATABASE_URL, default=NOTSET)`.
fn env_method(method: &str) -> Option<(Option<&'static str>, usize, ReadKind)> {
    Some(match method {
        "str" | "unicode" | "bytes" | "path" | "url" => (None, 1, ReadKind::Str),
        "bool" => (None, 1, ReadKind::Bool),
        "int" | "float" => (None, 1, ReadKind::Int),
        "json" => (None, 1, ReadKind::Json),
        "list" | "tuple" => (None, 2, ReadKind::List),
        "dict" => (None, 2, ReadKind::Dict),
        "db" | "db_url" => (Some("DATABASE_URL"), 1, ReadKind::Url),
        "cache" | "cache_url" => (Some("CACHE_URL"), 1, ReadKind::CacheUrl),
        "email" | "email_url" => (Some("EMAIL_URL"), 1, ReadKind::EmailUrl),
        "search_url" => (Some("SEARCH_URL"), 1, ReadKind::Other),
        "channels" | "channels_url" => (Some("CHANNELS_URL"), 1, ReadKind::Other),
        _ => return None,
    })
}

/// A read found in an expression, before its context is applied.
struct Found<'e> {
    var: String,
    /// Required as far as the call itself goes (no default).
    required: bool,
    /// The kind the reader itself gives, if it says.
    kind: Option<ReadKind>,
    family: Family,
    /// The argument expressions other than the variable name, which run too.
    rest: Vec<&'e Expr>,
    /// The default, as written, when there is one.
    default: Option<String>,
}

/// What an expression is, as far as the environment goes.
enum Seen<'e> {
    Read(Found<'e>),
    /// `os.environ.setdefault("X", ...)`: sets `X`; the arguments run.
    SetDefault(String, Vec<&'e Expr>),
}

/// Where a statement sits.
struct Context<'s> {
    setting: Option<String>,
    conditional: bool,
    handlers: Vec<&'s [Vec<String>]>,
    guards: Vec<&'s Expr>,
}

struct Walker<'a> {
    scope: &'a mut Scope,
    out: Vec<EnvRead>,
}

/// Whether `name` looks like a Django setting: upper case, as Django only reads those.
fn is_setting_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The upper-case name at the root of `NAME`, `NAME[...]`, `NAME.attr`, `NAME[...].update`.
fn root_setting(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Name(name) => is_setting_name(name).then(|| name.clone()),
        ExprKind::Subscript { value, .. } => root_setting(value),
        ExprKind::Attribute { object, .. } => root_setting(object),
        _ => None,
    }
}

impl Walker<'_> {
    fn statement(&mut self, statement: &crate::python::Statement) {
        let mut context = Context {
            setting: None,
            conditional: false,
            handlers: Vec::new(),
            guards: Vec::new(),
        };
        for block in &statement.blocks {
            match block {
                Block::If { condition } => {
                    context.conditional = true;
                    context.guards.extend(condition);
                }
                Block::Try { handlers } => {
                    context.conditional = true;
                    context.handlers.push(handlers);
                }
                Block::TryClause | Block::Loop => context.conditional = true,
                Block::With => {}
            }
        }
        context.setting = match statement.targets.first() {
            Some(target) => root_setting(target),
            None if statement.kind == "expression_statement" => {
                match statement.value.as_ref().map(|v| &v.kind) {
                    // `DATABASES["default"].update(...)`, `ALLOWED_HOSTS.extend(...)`.
                    Some(ExprKind::Call { function, .. }) => match &function.kind {
                        ExprKind::Attribute { object, .. } => root_setting(object),
                        _ => None,
                    },
                    _ => None,
                }
            }
            None => None,
        };
        // `del os.environ["X"]` removes, it does not read.
        if let Some(value) = &statement.value {
            if statement.kind != "delete_statement" {
                self.visit(value, None, false, &context);
            }
        }
        for target in &statement.targets {
            // `os.environ["X"] = ...` sets `X` for what follows, once its right side has run.
            if let ExprKind::Subscript { value, index } = &target.kind {
                if let (Some(Binding::Environ | Binding::EnvironModule), [key]) =
                    (self.scope.resolve(value), index.as_slice())
                {
                    if let Some(var) = key.as_str() {
                        self.scope.set.insert(var.to_string());
                    }
                }
            }
        }
    }

    /// Find the reads in `expr`. `hint` is what the surrounding expression makes of the
    /// value (`int(...)`, `.split(",")`, `dj_database_url.parse(...)`); `conditional` is set
    /// behind `or`/`and` and in conditional expressions.
    fn visit(&mut self, expr: &Expr, hint: Option<ReadKind>, conditional: bool, ctx: &Context) {
        match self.seen(expr) {
            Some(Seen::Read(found)) => {
                let required = found.required
                    && !self.scope.set.contains(&found.var)
                    && !ctx
                        .handlers
                        .iter()
                        .any(|handlers| handlers.iter().any(|h| found.family.caught_by(h)))
                    && !ctx.guards.iter().any(|g| g.contains_str(&found.var));
                self.out.push(EnvRead {
                    var: found.var,
                    line: expr.line,
                    required,
                    setting: ctx.setting.clone(),
                    kind: found.kind.or(hint).unwrap_or(ReadKind::Str),
                    conditional: ctx.conditional || conditional,
                    default: found.default,
                });
                for e in found.rest {
                    self.visit(e, None, conditional, ctx);
                }
                return;
            }
            Some(Seen::SetDefault(var, rest)) => {
                self.scope.set.insert(var);
                for e in rest {
                    self.visit(e, None, conditional, ctx);
                }
                return;
            }
            None => {}
        }
        match &expr.kind {
            ExprKind::Call {
                function,
                args,
                keywords,
            } => {
                let arg_hint = self.argument_hint(function);
                match &function.kind {
                    ExprKind::Attribute { object, attribute } => {
                        let object_hint = match attribute.as_str() {
                            "split" | "rsplit" | "splitlines" => Some(ReadKind::List),
                            "lower" | "upper" | "strip" | "lstrip" | "rstrip" | "casefold"
                            | "title" => hint,
                            _ => None,
                        };
                        self.visit(object, object_hint, conditional, ctx);
                    }
                    _ => self.visit(function, None, conditional, ctx),
                }
                for arg in args {
                    self.visit(arg, arg_hint, conditional, ctx);
                }
                for (_, value) in keywords {
                    self.visit(value, None, conditional, ctx);
                }
            }
            ExprKind::Other { kind, children } => match kind.as_str() {
                // A lambda's body runs when it is called, not on import.
                "lambda" => {}
                // `a or b`: `b` runs only when `a` is falsy.
                "boolean_operator" => {
                    for (i, child) in children.iter().enumerate() {
                        self.visit(child, None, conditional || i > 0, ctx);
                    }
                }
                // `a if c else b`: only `c` always runs.
                "conditional_expression" => {
                    for (i, child) in children.iter().enumerate() {
                        self.visit(child, None, conditional || i != 1, ctx);
                    }
                }
                _ => {
                    for child in children {
                        self.visit(child, None, conditional, ctx);
                    }
                }
            },
            _ => {
                for child in expr.children() {
                    self.visit(child, None, conditional, ctx);
                }
            }
        }
    }

    /// What a call to `function` makes of its positional arguments.
    fn argument_hint(&self, function: &Expr) -> Option<ReadKind> {
        if self.scope.resolve(function) == Some(Binding::DjDatabaseUrlParse) {
            return Some(ReadKind::Url);
        }
        let dotted = function.dotted()?;
        let last = dotted.rsplit('.').next().unwrap_or(&dotted);
        match (dotted.as_str(), last) {
            ("int" | "float", _) => Some(ReadKind::Int),
            ("bool", _) | (_, "strtobool") => Some(ReadKind::Bool),
            ("json.loads", _) => Some(ReadKind::Json),
            (_, "db_url_config") => Some(ReadKind::Url),
            (_, "cache_url_config") => Some(ReadKind::CacheUrl),
            (_, "email_url_config") => Some(ReadKind::EmailUrl),
            _ => None,
        }
    }

    /// Whether `expr` itself reads (or sets) an environment variable.
    fn seen<'e>(&self, expr: &'e Expr) -> Option<Seen<'e>> {
        match &expr.kind {
            ExprKind::Subscript { value, index } => {
                let environ = matches!(
                    self.scope.resolve(value),
                    Some(Binding::Environ | Binding::EnvironModule)
                );
                match index.as_slice() {
                    [key] if environ => Some(Seen::Read(Found {
                        var: key.as_str()?.to_string(),
                        required: true,
                        kind: None,
                        family: Family::Os,
                        rest: Vec::new(),
                        default: None,
                    })),
                    _ => None,
                }
            }
            ExprKind::Call {
                function,
                args,
                keywords,
            } => self.seen_call(function, args, keywords),
            _ => None,
        }
    }

    fn seen_call<'e>(
        &self,
        function: &'e Expr,
        args: &'e [Expr],
        keywords: &'e [(String, Expr)],
    ) -> Option<Seen<'e>> {
        let keyword = |name: &str| keywords.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        // Everything but the variable name runs along with the read.
        let rest = |skip_first: bool| -> Vec<&'e Expr> {
            args.iter()
                .skip(usize::from(skip_first))
                .chain(keywords.iter().map(|(_, v)| v))
                .collect()
        };
        // A default counts unless it is django-environ's or decouple's "no default" marker.
        let is_default = |e: &Expr| {
            !e.dotted()
                .is_some_and(|d| d.ends_with("NOTSET") || d.ends_with("undefined"))
        };
        let default_of = |position: usize| {
            args.get(position)
                .or_else(|| keyword("default"))
                .filter(|e| is_default(e))
                .map(|e| e.text.clone())
        };
        let has_default = |position: usize| default_of(position).is_some();
        let string_arg = |name: &str| -> Option<(String, bool)> {
            match (args.first(), keyword(name)) {
                (Some(first), _) => Some((first.as_str()?.to_string(), true)),
                (None, Some(value)) => Some((value.as_str()?.to_string(), false)),
                _ => None,
            }
        };

        // Calls of a bound function or instance: `env(...)`, `config(...)`, `getenv(...)`.
        match self.scope.resolve(function) {
            Some(Binding::Getenv) => {
                let (var, positional) = string_arg("key")?;
                return Some(Seen::Read(Found {
                    var,
                    required: false,
                    kind: None,
                    family: Family::Os,
                    rest: rest(true),
                    default: default_of(usize::from(positional)),
                }));
            }
            Some(Binding::Env(schema)) => {
                // `Env.__call__(var, cast=None, default=NOTSET, parse_default=False)`.
                let (var, positional) = string_arg("var")?;
                let cast = args
                    .get(usize::from(positional))
                    .or_else(|| keyword("cast"))
                    .map(|c| self.scope.cast_kind(c));
                let entry = schema.get(&var);
                let kind = cast.or(entry.and_then(|e| e.kind));
                let default = has_default(2) || entry.is_some_and(|e| e.has_default);
                return Some(Seen::Read(Found {
                    var,
                    required: !default,
                    kind,
                    family: Family::DjangoEnviron,
                    rest: rest(positional),
                    default: default_of(2).or_else(|| entry.and_then(|e| e.default.clone())),
                }));
            }
            Some(Binding::DecoupleConfig) => {
                // `Config.get(option, default=undefined, cast=undefined)`.
                let (var, positional) = string_arg("option")?;
                let cast = args
                    .get(2)
                    .or_else(|| keyword("cast"))
                    .map(|c| self.scope.cast_kind(c));
                return Some(Seen::Read(Found {
                    var,
                    required: !has_default(1),
                    kind: cast,
                    family: Family::Decouple,
                    rest: rest(positional),
                    default: default_of(1),
                }));
            }
            Some(Binding::DjDatabaseUrlConfig) => {
                // `config(env="DATABASE_URL", default=None, ...)`: `{}` when unset.
                let (var, positional) =
                    string_arg("env").unwrap_or(("DATABASE_URL".to_string(), false));
                return Some(Seen::Read(Found {
                    var,
                    required: false,
                    kind: Some(ReadKind::Url),
                    family: Family::Os,
                    rest: rest(positional),
                    default: None,
                }));
            }
            _ => {}
        }

        // Methods: `os.environ.get(...)`, `env.bool(...)`.
        let ExprKind::Attribute { object, attribute } = &function.kind else {
            return None;
        };
        match (self.scope.resolve(object)?, attribute.as_str()) {
            (Binding::Environ | Binding::EnvironModule, "get" | "pop") => {
                let (var, positional) = string_arg("key")?;
                let required = attribute == "pop" && !has_default(1);
                Some(Seen::Read(Found {
                    var,
                    required,
                    kind: None,
                    family: Family::Os,
                    rest: rest(positional),
                    default: default_of(usize::from(positional)),
                }))
            }
            (Binding::Environ | Binding::EnvironModule, "setdefault") => {
                let (var, positional) = string_arg("key")?;
                Some(Seen::SetDefault(var, rest(positional)))
            }
            (Binding::Env(schema), method) => {
                let (default_var, default_at, kind) = env_method(method)?;
                let (var, positional) = match string_arg("var") {
                    Some(found) => found,
                    None if args.is_empty() && keyword("var").is_none() => {
                        (default_var?.to_string(), false)
                    }
                    None => return None,
                };
                // Without the variable as first argument, `default` moves up one place.
                let default_at = if positional { default_at } else { 0 };
                let entry = schema.get(&var);
                let default = has_default(default_at) || entry.is_some_and(|e| e.has_default);
                Some(Seen::Read(Found {
                    var,
                    required: !default,
                    kind: Some(kind),
                    family: Family::DjangoEnviron,
                    rest: rest(positional),
                    default: default_of(default_at)
                        .or_else(|| entry.and_then(|e| e.default.clone())),
                }))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reads, without their defaults (which `defaults_are_kept_as_written` checks).
    fn reads(text: &str) -> Vec<EnvRead> {
        let mut all = env_reads(&PyModule::parse("settings.py", text).unwrap());
        for read in &mut all {
            read.default = None;
        }
        all
    }

    #[test]
    fn defaults_are_kept_as_written() {
        let all = env_reads(
            &PyModule::parse(
                "settings.py",
                "import os, environ\nfrom decouple import config\nenv = environ.Env(S=(bool, True))\nA = os.environ.get('A', 'True')\nB = os.getenv('B')\nC = env.bool('C', default=True)\nD = env('D', bool, False)\nE = config('E', default='1', cast=bool)\nF = env.bool('S')\nG = env.bool('G', default=env.NOTSET)\nH = os.environ['H']\n",
            )
            .unwrap(),
        );
        let defaults: Vec<(&str, Option<&str>)> = all
            .iter()
            .map(|r| (r.var.as_str(), r.default.as_deref()))
            .collect();
        assert_eq!(
            defaults,
            vec![
                ("A", Some("'True'")),
                ("B", None),
                ("C", Some("True")),
                ("D", Some("False")),
                ("E", Some("'1'")),
                ("S", Some("True")),
                ("G", None),
                ("H", None),
            ]
        );
    }

    fn one(text: &str) -> EnvRead {
        let all = reads(text);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.into_iter().next().unwrap()
    }

    fn read(var: &str, line: usize, required: bool, setting: Option<&str>) -> EnvRead {
        EnvRead {
            var: var.to_string(),
            line,
            required,
            setting: setting.map(str::to_string),
            kind: ReadKind::Str,
            conditional: false,
            default: None,
        }
    }

    fn summary(all: &[EnvRead]) -> Vec<(&str, bool, Option<&str>, ReadKind)> {
        all.iter()
            .map(|r| (r.var.as_str(), r.required, r.setting.as_deref(), r.kind))
            .collect()
    }

    #[test]
    fn os_environ_subscript_is_required() {
        assert_eq!(
            one("import os\nSECRET_KEY = os.environ['DJANGO_SECRET_KEY']\n"),
            read("DJANGO_SECRET_KEY", 2, true, Some("SECRET_KEY"))
        );
    }

    #[test]
    fn os_environ_get_and_getenv_are_not_required() {
        let all = reads(
            "import os\nA = os.environ.get('A')\nB = os.environ.get('B', 'x')\nC = os.getenv('C')\nD = os.getenv('D', default='d')\n",
        );
        assert_eq!(
            all,
            vec![
                read("A", 2, false, Some("A")),
                read("B", 3, false, Some("B")),
                read("C", 4, false, Some("C")),
                read("D", 5, false, Some("D")),
            ]
        );
    }

    #[test]
    fn os_environ_pop_without_default_is_required() {
        let all = reads("import os\nA = os.environ.pop('A')\nB = os.environ.pop('B', None)\n");
        assert_eq!(
            summary(&all),
            vec![
                ("A", true, Some("A"), ReadKind::Str),
                ("B", false, Some("B"), ReadKind::Str)
            ]
        );
    }

    #[test]
    fn from_os_import_environ_and_getenv() {
        let all = reads(
            "from os import environ, getenv as ge\nA = environ['A']\nB = environ.get('B')\nC = ge('C')\n",
        );
        assert_eq!(
            summary(&all),
            vec![
                ("A", true, Some("A"), ReadKind::Str),
                ("B", false, Some("B"), ReadKind::Str),
                ("C", false, Some("C"), ReadKind::Str),
            ]
        );
    }

    #[test]
    fn setdefault_is_not_a_read_and_satisfies_later_reads() {
        let all = reads(
            "import os\nos.environ.setdefault('X', 'dev')\nos.environ['Y'] = 'y'\nA = os.environ['X']\nB = os.environ['Y']\nC = os.environ['Z']\n",
        );
        assert_eq!(
            summary(&all),
            vec![
                ("X", false, Some("A"), ReadKind::Str),
                ("Y", false, Some("B"), ReadKind::Str),
                ("Z", true, Some("C"), ReadKind::Str),
            ]
        );
    }

    #[test]
    fn django_environ_call_and_schema_defaults() {
        let all = reads(
            "import environ\nenv = environ.Env(DEBUG=(bool, False), PORT=int)\nDEBUG = env('DEBUG')\nPORT = env('PORT')\nSECRET_KEY = env('SECRET_KEY')\nX = env('X', bool)\nY = env('Y', default='y')\nZ = env('Z', str, 'z')\nW = env('W', cast=int, default=env.NOTSET)\n",
        );
        assert_eq!(
            summary(&all),
            vec![
                ("DEBUG", false, Some("DEBUG"), ReadKind::Bool),
                ("PORT", true, Some("PORT"), ReadKind::Int),
                ("SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str),
                ("X", true, Some("X"), ReadKind::Bool),
                ("Y", false, Some("Y"), ReadKind::Str),
                ("Z", false, Some("Z"), ReadKind::Str),
                ("W", true, Some("W"), ReadKind::Int),
            ]
        );
    }

    #[test]
    fn django_environ_typed_methods() {
        let all = reads(
            r#"from environ import Env
e = Env()
A = e.str("A", "a")
B = e.bool("B")
C = e.int("C", default=1)
D = e.list("D", str)
E = e.list("E", str, [])
F = e.json("F")
G = e.dict("G")
H = e.float("H")
"#,
        );
        assert_eq!(
            summary(&all),
            vec![
                ("A", false, Some("A"), ReadKind::Str),
                ("B", true, Some("B"), ReadKind::Bool),
                ("C", false, Some("C"), ReadKind::Int),
                ("D", true, Some("D"), ReadKind::List),
                ("E", false, Some("E"), ReadKind::List),
                ("F", true, Some("F"), ReadKind::Json),
                ("G", true, Some("G"), ReadKind::Dict),
                ("H", true, Some("H"), ReadKind::Int),
            ]
        );
    }

    #[test]
    fn django_environ_url_methods_have_default_variables() {
        let all = reads(
            "import environ\nenv = environ.Env()\nDATABASES = {'default': env.db()}\nCACHES = {'default': env.cache()}\nvars().update(env.email_url())\nDB2 = env.db_url('OTHER_DB', default='sqlite://')\nC2 = env.cache_url(var='REDIS_URL')\n",
        );
        assert_eq!(
            summary(&all),
            vec![
                ("DATABASE_URL", true, Some("DATABASES"), ReadKind::Url),
                ("CACHE_URL", true, Some("CACHES"), ReadKind::CacheUrl),
                ("EMAIL_URL", true, None, ReadKind::EmailUrl),
                ("OTHER_DB", false, Some("DB2"), ReadKind::Url),
                ("REDIS_URL", true, Some("C2"), ReadKind::CacheUrl),
            ]
        );
    }

    #[test]
    fn decouple_config() {
        let all = reads(
            r#"from decouple import config, Csv
from dj_database_url import parse as db_url
SECRET_KEY = config("SECRET_KEY")
DEBUG = config("DEBUG", default=False, cast=bool)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", cast=Csv())
PORT = config("PORT", "8000", cast=int)
DATABASES = {"default": config("DATABASE_URL", cast=db_url)}
TIMEOUT = config("TIMEOUT", cast=int)
"#,
        );
        assert_eq!(
            summary(&all),
            vec![
                ("SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str),
                ("DEBUG", false, Some("DEBUG"), ReadKind::Bool),
                ("ALLOWED_HOSTS", true, Some("ALLOWED_HOSTS"), ReadKind::List),
                ("PORT", false, Some("PORT"), ReadKind::Int),
                ("DATABASE_URL", true, Some("DATABASES"), ReadKind::Url),
                ("TIMEOUT", true, Some("TIMEOUT"), ReadKind::Int),
            ]
        );
    }

    #[test]
    fn decouple_autoconfig_instance() {
        let all = reads(
            "from decouple import AutoConfig\nconfig = AutoConfig(search_path='/app')\nSECRET_KEY = config('SECRET_KEY')\n",
        );
        assert_eq!(
            summary(&all),
            vec![("SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str)]
        );
    }

    #[test]
    fn dj_database_url_config_and_parse() {
        let all = reads(
            r#"import os
import dj_database_url
DATABASES = {"default": dj_database_url.config(default="sqlite:///db.sqlite3", conn_max_age=600)}
DATABASES["default"] = dj_database_url.config(env="MY_DB")
DATABASES["default"].update(dj_database_url.parse(os.environ["DATABASE_URL"]))
"#,
        );
        assert_eq!(
            summary(&all),
            vec![
                ("DATABASE_URL", false, Some("DATABASES"), ReadKind::Url),
                ("MY_DB", false, Some("DATABASES"), ReadKind::Url),
                ("DATABASE_URL", true, Some("DATABASES"), ReadKind::Url),
            ]
        );
    }

    #[test]
    fn nested_reads_feed_their_setting_and_kind() {
        let all = reads(
            r#"import os
ALLOWED_HOSTS = os.environ.get("HOSTS", "").split(",")
ALLOWED_HOSTS.extend(os.environ["MORE_HOSTS"].strip().split(","))
CONN_MAX_AGE = int(os.environ["CONN_MAX_AGE"])
DEBUG = os.environ.get("DEBUG", "0").lower() in ("1", "true")
local_only = os.environ["LOCAL"]
"#,
        );
        assert_eq!(
            summary(&all),
            vec![
                ("HOSTS", false, Some("ALLOWED_HOSTS"), ReadKind::List),
                ("MORE_HOSTS", true, Some("ALLOWED_HOSTS"), ReadKind::List),
                ("CONN_MAX_AGE", true, Some("CONN_MAX_AGE"), ReadKind::Int),
                ("DEBUG", false, Some("DEBUG"), ReadKind::Str),
                ("LOCAL", true, None, ReadKind::Str),
            ]
        );
    }

    #[test]
    fn reads_inside_defaults_run_too() {
        let all = reads("import os\nKEY = os.environ.get('NEW_KEY', os.environ['OLD_KEY'])\n");
        assert_eq!(
            summary(&all),
            vec![
                ("NEW_KEY", false, Some("KEY"), ReadKind::Str),
                ("OLD_KEY", true, Some("KEY"), ReadKind::Str),
            ]
        );
    }

    #[test]
    fn deleting_is_not_reading() {
        assert_eq!(reads("import os\ndel os.environ['X']\n"), vec![]);
    }

    #[test]
    fn names_that_are_not_string_literals_are_skipped() {
        let all = reads(
            "import os\nPREFIX = 'APP'\nname = 'X'\nA = os.environ[f'{PREFIX}_KEY']\nB = os.environ[name]\nC = os.getenv(name)\nD = env(name)\n",
        );
        assert_eq!(all, vec![]);
    }

    #[test]
    fn function_bodies_lambdas_and_classes_are_not_read() {
        let all = reads(
            "import os\ndef get(name):\n    return os.environ['INSIDE']\nclass C:\n    X = os.environ['CLASS']\nF = lambda: os.environ['LAMBDA']\nA = get('HELPER')\n",
        );
        assert_eq!(all, vec![]);
    }

    #[test]
    fn if_branches_are_conditional_and_guards_make_reads_optional() {
        let all = reads(
            r#"import os
if os.environ.get("USE_S3"):
    BUCKET = os.environ["BUCKET"]
if "DATABASE_URL" in os.environ:
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {"default": os.environ["SQLITE_PATH"]}
"#,
        );
        let got: Vec<_> = all
            .iter()
            .map(|r| (r.var.as_str(), r.required, r.conditional))
            .collect();
        assert_eq!(
            got,
            vec![
                ("USE_S3", false, false),
                ("BUCKET", true, true),
                ("DATABASE_URL", false, true),
                ("SQLITE_PATH", true, true),
            ]
        );
    }

    #[test]
    fn try_protects_only_reads_whose_error_it_catches() {
        let all = reads(
            r#"import os
import environ
env = environ.Env()
try:
    A = os.environ["A"]
    B = env("B")
    C = config("C")
except KeyError:
    A = "a"
try:
    D = env("D")
except environ.ImproperlyConfigured:
    pass
try:
    E = os.environ["E"]
except ImportError:
    pass
try:
    F = os.environ["F"]
except:
    pass
"#,
        );
        let got: Vec<_> = all
            .iter()
            .map(|r| (r.var.as_str(), r.required, r.conditional))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", false, true),
                ("B", true, true),
                ("D", false, true),
                ("E", true, true),
                ("F", false, true),
            ],
            "`config` is not bound to decouple here, so it is no read"
        );
    }

    #[test]
    fn short_circuits_are_conditional_and_with_bodies_are_not() {
        let all = reads(
            "import os\nSECRET_KEY = os.environ.get('A') or os.environ['B']\nwith open(os.environ['CONF']) as f:\n    X = os.environ['X']\n",
        );
        let got: Vec<_> = all
            .iter()
            .map(|r| (r.var.as_str(), r.required, r.conditional))
            .collect();
        assert_eq!(
            got,
            vec![
                ("A", false, false),
                ("B", true, true),
                ("CONF", true, false),
                ("X", true, false),
            ]
        );
    }

    #[test]
    fn rebinding_env_hides_the_convention() {
        let all = reads("env = 'production'\nX = env.upper()\nY = env('Y')\n");
        assert_eq!(all, vec![]);
        // But a fallback assignment does not hide a recognised binding.
        let all = reads(
            "try:\n    import environ\n    env = environ.Env()\nexcept ImportError:\n    env = None\nSECRET_KEY = env('SECRET_KEY')\n",
        );
        assert_eq!(
            summary(&all),
            vec![("SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str)]
        );
    }

    #[test]
    fn chain_carries_bindings_and_schema_from_the_base() {
        let base = PyModule::parse(
            "base.py",
            "import environ\nenv = environ.Env(DJANGO_DEBUG=(bool, False))\nfrom decouple import config\n",
        )
        .unwrap();
        let production = PyModule::parse(
            "production.py",
            "from .base import *  # noqa\nfrom .base import env\nDEBUG = env('DJANGO_DEBUG')\nKEY = config('KEY')\n",
        )
        .unwrap();
        let chain = env_reads_chain(&[&base, &production]);
        assert_eq!(chain[0], vec![]);
        assert_eq!(
            summary(&chain[1]),
            vec![
                ("DJANGO_DEBUG", false, Some("DEBUG"), ReadKind::Bool),
                ("KEY", true, Some("KEY"), ReadKind::Str),
            ]
        );
        // Alone, production.py still knows `env` by convention, without the schema.
        assert_eq!(
            summary(&env_reads(&production)),
            vec![("DJANGO_DEBUG", true, Some("DEBUG"), ReadKind::Str)]
        );
    }

    const COOKIECUTTER_PRODUCTION: &str = r#"# ruff: noqa: E501
from .base import *  # noqa: F403
from .base import DATABASES
from .base import INSTALLED_APPS
from .base import env

# GENERAL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/dev/ref/settings/#secret-key
SECRET_KEY = env("DJANGO_SECRET_KEY")
# https://docs.djangoproject.com/en/dev/ref/settings/#allowed-hosts
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["example.com"])

# DATABASES
# ------------------------------------------------------------------------------
DATABASES["default"] = env.db("DATABASE_URL")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)

# CACHES
# ------------------------------------------------------------------------------
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": env("REDIS_URL"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "IGNORE_EXCEPTIONS": True,
        },
    },
}

# SECURITY
# ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = 60
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
    default=True,
)

# STORAGES
# ------------------------------------------------------------------------------
GS_BUCKET_NAME = env("DJANGO_GCP_STORAGE_BUCKET_NAME")

# EMAIL
# ------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env(
    "DJANGO_DEFAULT_FROM_EMAIL",
    default="My Project <noreply@example.com>",
)
ADMIN_URL = env("DJANGO_ADMIN_URL")
INSTALLED_APPS += ["anymail"]
ANYMAIL = {
    "MAILGUN_API_KEY": env("MAILGUN_API_KEY"),
    "MAILGUN_SENDER_DOMAIN": env("MAILGUN_DOMAIN"),
    "MAILGUN_API_URL": env("MAILGUN_API_URL", default="https://api.mailgun.net/v3"),
}

# Sentry
# ------------------------------------------------------------------------------
SENTRY_DSN = env("SENTRY_DSN")
SENTRY_LOG_LEVEL = env.int("DJANGO_SENTRY_LOG_LEVEL", logging.INFO)

sentry_logging = LoggingIntegration(
    level=SENTRY_LOG_LEVEL,
    event_level=logging.ERROR,
)
sentry_sdk.init(
    dsn=SENTRY_DSN,
    environment=env("SENTRY_ENVIRONMENT", default="production"),
    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
)
"#;

    #[test]
    fn cookiecutter_django_production() {
        let all = reads(COOKIECUTTER_PRODUCTION);
        assert_eq!(
            summary(&all),
            vec![
                ("DJANGO_SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str),
                (
                    "DJANGO_ALLOWED_HOSTS",
                    false,
                    Some("ALLOWED_HOSTS"),
                    ReadKind::List
                ),
                ("DATABASE_URL", true, Some("DATABASES"), ReadKind::Url),
                ("CONN_MAX_AGE", false, Some("DATABASES"), ReadKind::Int),
                ("REDIS_URL", true, Some("CACHES"), ReadKind::Str),
                (
                    "DJANGO_SECURE_SSL_REDIRECT",
                    false,
                    Some("SECURE_SSL_REDIRECT"),
                    ReadKind::Bool
                ),
                (
                    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
                    false,
                    Some("SECURE_HSTS_INCLUDE_SUBDOMAINS"),
                    ReadKind::Bool
                ),
                (
                    "DJANGO_GCP_STORAGE_BUCKET_NAME",
                    true,
                    Some("GS_BUCKET_NAME"),
                    ReadKind::Str
                ),
                (
                    "DJANGO_DEFAULT_FROM_EMAIL",
                    false,
                    Some("DEFAULT_FROM_EMAIL"),
                    ReadKind::Str
                ),
                ("DJANGO_ADMIN_URL", true, Some("ADMIN_URL"), ReadKind::Str),
                ("MAILGUN_API_KEY", true, Some("ANYMAIL"), ReadKind::Str),
                ("MAILGUN_DOMAIN", true, Some("ANYMAIL"), ReadKind::Str),
                ("MAILGUN_API_URL", false, Some("ANYMAIL"), ReadKind::Str),
                ("SENTRY_DSN", true, Some("SENTRY_DSN"), ReadKind::Str),
                (
                    "DJANGO_SENTRY_LOG_LEVEL",
                    false,
                    Some("SENTRY_LOG_LEVEL"),
                    ReadKind::Int
                ),
                ("SENTRY_ENVIRONMENT", false, None, ReadKind::Str),
                ("SENTRY_TRACES_SAMPLE_RATE", false, None, ReadKind::Int),
            ]
        );
        assert_eq!(all[0].line, 10);
        assert_eq!(all[6].line, 37, "a multi-line call is at its first line");
        assert_eq!(
            build_env(&all),
            vec![
                ("DJANGO_SECRET_KEY".into(), "build-only".into()),
                (
                    "DATABASE_URL".into(),
                    "sqlite:////tmp/build-only.sqlite3".into()
                ),
                ("REDIS_URL".into(), "locmemcache://".into()),
                ("DJANGO_GCP_STORAGE_BUCKET_NAME".into(), "build-only".into()),
                ("DJANGO_ADMIN_URL".into(), "build-only".into()),
                ("MAILGUN_API_KEY".into(), "build-only".into()),
                ("MAILGUN_DOMAIN".into(), "build-only".into()),
                ("SENTRY_DSN".into(), String::new()),
            ]
        );
    }

    #[test]
    fn decouple_settings_file() {
        let all = reads(
            r#"from pathlib import Path
from decouple import config, Csv
import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = config("SECRET_KEY")
DEBUG = config("DEBUG", default=False, cast=bool)
ALLOWED_HOSTS = config("ALLOWED_HOSTS", cast=Csv())
DATABASES = {
    "default": dj_database_url.config(
        default=config("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    )
}
EMAIL_PORT = config("EMAIL_PORT", default=25, cast=int)
"#,
        );
        assert_eq!(
            summary(&all),
            vec![
                ("SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str),
                ("DEBUG", false, Some("DEBUG"), ReadKind::Bool),
                ("ALLOWED_HOSTS", true, Some("ALLOWED_HOSTS"), ReadKind::List),
                ("DATABASE_URL", false, Some("DATABASES"), ReadKind::Url),
                ("DATABASE_URL", false, Some("DATABASES"), ReadKind::Str),
                ("EMAIL_PORT", false, Some("EMAIL_PORT"), ReadKind::Int),
            ]
        );
        assert_eq!(
            build_env(&all),
            vec![
                ("SECRET_KEY".into(), "build-only".into()),
                ("ALLOWED_HOSTS".into(), "localhost".into()),
            ]
        );
    }

    #[test]
    fn plain_os_environ_settings_file() {
        let all = reads(
            r#"import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = os.environ.get("DJANGO_DEBUG", "False") == "True"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["POSTGRES_DB"],
        "USER": os.environ["POSTGRES_USER"],
        "PASSWORD": os.environ["POSTGRES_PASSWORD"],
        "HOST": os.environ.get("POSTGRES_HOST", "localhost"),
        "PORT": int(os.environ.get("POSTGRES_PORT", 5432)),
    }
}
"#,
        );
        assert_eq!(
            summary(&all),
            vec![
                ("DJANGO_SECRET_KEY", true, Some("SECRET_KEY"), ReadKind::Str),
                ("DJANGO_DEBUG", false, Some("DEBUG"), ReadKind::Str),
                (
                    "DJANGO_ALLOWED_HOSTS",
                    false,
                    Some("ALLOWED_HOSTS"),
                    ReadKind::List
                ),
                (
                    "CSRF_TRUSTED_ORIGINS",
                    false,
                    Some("CSRF_TRUSTED_ORIGINS"),
                    ReadKind::List
                ),
                ("POSTGRES_DB", true, Some("DATABASES"), ReadKind::Str),
                ("POSTGRES_USER", true, Some("DATABASES"), ReadKind::Str),
                ("POSTGRES_PASSWORD", true, Some("DATABASES"), ReadKind::Str),
                ("POSTGRES_HOST", false, Some("DATABASES"), ReadKind::Str),
                ("POSTGRES_PORT", false, Some("DATABASES"), ReadKind::Int),
            ]
        );
        assert_eq!(all[4].line, 14);
    }

    #[test]
    fn try_except_keyerror_settings_file() {
        let all = reads(
            r#"import os
from django.core.exceptions import ImproperlyConfigured

try:
    SECRET_KEY = os.environ["SECRET_KEY"]
except KeyError:
    raise ImproperlyConfigured("Set SECRET_KEY")

try:
    ALLOWED_HOSTS = os.environ["ALLOWED_HOSTS"].split(",")
except KeyError:
    ALLOWED_HOSTS = ["localhost"]

try:
    from .local import *  # noqa
except ImportError:
    pass
"#,
        );
        let got: Vec<_> = all
            .iter()
            .map(|r| {
                (
                    r.var.as_str(),
                    r.required,
                    r.conditional,
                    r.setting.as_deref(),
                    r.kind,
                )
            })
            .collect();
        // The first `except` re-raises, but djrun does not read handler bodies: it reports the
        // read as not required and leaves the variable to the deploy's next steps.
        assert_eq!(
            got,
            vec![
                ("SECRET_KEY", false, true, Some("SECRET_KEY"), ReadKind::Str),
                (
                    "ALLOWED_HOSTS",
                    false,
                    true,
                    Some("ALLOWED_HOSTS"),
                    ReadKind::List
                ),
            ]
        );
    }

    #[test]
    fn build_values_are_harmless() {
        let value = |var: &str, kind: ReadKind| {
            build_value(&EnvRead {
                kind,
                ..read(var, 1, true, None)
            })
        };
        assert_eq!(value("SECRET_KEY", ReadKind::Str), "build-only");
        assert_eq!(value("DEBUG", ReadKind::Bool), "false");
        assert_eq!(value("PORT", ReadKind::Int), "0");
        assert_eq!(value("HOSTS", ReadKind::List), "localhost");
        assert_eq!(
            value("DB", ReadKind::Url),
            "sqlite:////tmp/build-only.sqlite3"
        );
        assert_eq!(
            value("DATABASE_URL", ReadKind::Str),
            "sqlite:////tmp/build-only.sqlite3"
        );
        assert_eq!(value("MEMCACHE", ReadKind::CacheUrl), "locmemcache://");
        assert_eq!(value("CACHE_URL", ReadKind::Str), "locmemcache://");
        assert_eq!(value("REDIS_URL", ReadKind::Other), "locmemcache://");
        assert_eq!(value("MAIL", ReadKind::EmailUrl), "consolemail://");
        assert_eq!(value("EMAIL_URL", ReadKind::Str), "consolemail://");
        assert_eq!(value("FEATURES", ReadKind::Json), "{}");
        assert_eq!(value("MAP", ReadKind::Dict), "");
        assert_eq!(value("SENTRY_DSN", ReadKind::Str), "");
        assert_eq!(value("WEIRD", ReadKind::Other), "build-only");
    }

    #[test]
    fn build_env_lists_each_required_variable_once() {
        let all = reads(
            "import os\nA = os.environ.get('X')\nB = os.environ['X']\nC = os.environ['X']\nD = int(os.environ['N'])\n",
        );
        assert_eq!(
            build_env(&all),
            vec![("X".into(), "build-only".into()), ("N".into(), "0".into())]
        );
    }
}
