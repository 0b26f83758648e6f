//! One error type for the whole crate.
//!
//! Every error is something a person reads: it says what happened and where, and
//! carries a `hint` with the next step when there is one. Every error maps to exit
//! code 2; drift found by `--check` is not an error (it is exit code 1).

use std::fmt;
use std::path::PathBuf;

/// The result type used throughout djrun.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong.
#[derive(Debug)]
pub enum Error {
    /// The user's input (a file, a flag, a saved choice) is not what djrun can act on.
    Input {
        /// What is wrong, naming the file, line or flag.
        message: String,
        /// What to do about it.
        hint: Option<String>,
    },
    /// djrun will not do what was asked without an explicit flag (dirty tree, foreign file).
    Refused {
        /// What djrun refused and why.
        message: String,
        /// The flag or step that gets past the refusal.
        hint: Option<String>,
    },
    /// A gcloud command failed: its own message, and what to do about it.
    Cloud {
        /// What failed, with gcloud's message.
        message: String,
        /// The role to grant or the command to run.
        hint: Option<String>,
    },
    /// Reading or writing a file failed.
    Io {
        /// What djrun was doing.
        action: &'static str,
        /// The file it was doing it to.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl Error {
    /// An input error with a message and no hint.
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: None,
        }
    }

    /// An input error with a message and a hint.
    pub fn input_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A refusal with a hint naming the flag that overrides it.
    pub fn refused(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Refused {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A failed gcloud command, with a hint.
    pub fn cloud(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Cloud {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// The hint line, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Input { hint, .. } | Error::Refused { hint, .. } | Error::Cloud { hint, .. } => {
                hint.as_deref()
            }
            Error::Io { .. } => None,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        2
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input { message, .. }
            | Error::Refused { message, .. }
            | Error::Cloud { message, .. } => f.write_str(message),
            Error::Io {
                action,
                path,
                source,
            } => write!(f, "could not {action} `{}`: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
