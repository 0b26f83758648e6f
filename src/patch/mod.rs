//! Surgical edits of the user's files.

pub mod requirements;
pub mod settings;
