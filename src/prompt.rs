//! Questions to the user. This is the only module that uses dialoguer; the rest of djrun
//! asks through [`Prompter`], which tests replace with one that refuses to be asked.

use crate::{Error, Result};

/// A question djrun asks, with the flag that answers it without asking.
pub struct Question<'a> {
    /// The question text.
    pub prompt: &'a str,
    /// The flag that gives the answer (`--project`).
    pub flag: &'a str,
}

/// Something that can answer djrun's questions.
pub trait Prompter {
    /// Free text with an optional default, re-asked until `validate` accepts it.
    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String>;
    /// One of `items`; returns its index.
    fn select(&mut self, question: &Question, items: &[String], default: usize) -> Result<usize>;
    /// Yes or no.
    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool>;
    /// A secret value, typed without echo. `question.flag` names the environment variable
    /// that gives it without asking.
    fn secret(&mut self, question: &Question) -> Result<String>;
}

/// Asks on the terminal (stderr), with dialoguer.
pub struct Terminal {
    theme: dialoguer::theme::SimpleTheme,
}

impl Terminal {
    /// A terminal prompter.
    pub fn new() -> Self {
        Terminal {
            theme: dialoguer::theme::SimpleTheme,
        }
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

fn interrupted(e: dialoguer::Error) -> Error {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == std::io::ErrorKind::Interrupted {
        Error::refused(
            "stopped at a question; nothing was changed",
            "run `djrun init` again when you are ready",
        )
    } else {
        Error::io("ask on", "the terminal", io)
    }
}

impl Prompter for Terminal {
    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String> {
        let mut input = dialoguer::Input::<String>::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .validate_with(|v: &String| validate(v.trim()));
        if let Some(d) = default {
            input = input.default(d.to_string());
        }
        input
            .interact_text()
            .map(|s| s.trim().to_string())
            .map_err(interrupted)
    }

    fn select(&mut self, question: &Question, items: &[String], default: usize) -> Result<usize> {
        dialoguer::Select::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .items(items)
            .default(default)
            .max_length(12)
            .interact()
            .map_err(interrupted)
    }

    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool> {
        dialoguer::Confirm::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .default(default)
            .interact()
            .map_err(interrupted)
    }

    fn secret(&mut self, question: &Question) -> Result<String> {
        dialoguer::Password::with_theme(&self.theme)
            .with_prompt(question.prompt)
            .interact()
            .map_err(interrupted)
    }
}

/// Never asks: every question is an error that names the flag to pass. Used without a
/// terminal and in tests.
pub struct NoTerminal;

impl NoTerminal {
    fn refuse(question: &Question) -> Error {
        Error::input_hint(
            format!(
                "djrun needs an answer to \"{}\" but there is no terminal to ask on",
                question.prompt
            ),
            format!("pass `{}`", question.flag),
        )
    }
}

impl Prompter for NoTerminal {
    fn text(
        &mut self,
        question: &Question,
        _default: Option<&str>,
        _validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String> {
        Err(Self::refuse(question))
    }

    fn select(&mut self, question: &Question, _items: &[String], _default: usize) -> Result<usize> {
        Err(Self::refuse(question))
    }

    fn confirm(&mut self, question: &Question, _default: bool) -> Result<bool> {
        Err(Self::refuse(question))
    }

    fn secret(&mut self, question: &Question) -> Result<String> {
        Err(Error::input_hint(
            format!(
                "djrun needs a value for \"{}\" but there is no terminal to ask on",
                question.prompt
            ),
            format!(
                "set the environment variable `{}` for djrun; its value goes to Secret Manager on standard input and is never shown",
                question.flag
            ),
        ))
    }
}
