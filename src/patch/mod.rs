//! Surgical edits of the user's files.

pub mod requirements;
