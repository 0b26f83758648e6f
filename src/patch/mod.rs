//! Surgical edits of the user's files.

pub mod pyproject;
pub mod requirements;
pub mod settings;
