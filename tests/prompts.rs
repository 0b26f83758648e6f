//! The questions `init` asks, through a scripted prompter: their defaults, the order, and
//! that a "no" writes nothing. And that `--yes` never asks.

mod common;

use djrun::gcloud::GcloudDefaults;
use djrun::init::{run, InitRequest, Outcome};
use djrun::prompt::{Prompter, Question};
use djrun::Result;

/// Answers every question with its default, except the ones scripted, and records them.
#[derive(Default)]
struct Scripted {
    asked: Vec<String>,
    public: bool,
    write: bool,
}

impl Prompter for Scripted {
    fn text(
        &mut self,
        question: &Question,
        default: Option<&str>,
        validate: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String> {
        self.asked
            .push(format!("{} [{}]", question.prompt, default.unwrap_or("")));
        let answer = default.unwrap_or("").to_string();
        assert!(
            validate(&answer).is_ok(),
            "the default offered must be valid: {answer}"
        );
        // A value the settings read may be any line of text; every other answer has a shape.
        let bad = if question.flag == "--env" {
            "two\nlines"
        } else {
            "Not Valid!"
        };
        assert!(
            validate(bad).is_err(),
            "the validator must reject bad input"
        );
        Ok(answer)
    }
    fn select(&mut self, question: &Question, items: &[String], default: usize) -> Result<usize> {
        self.asked
            .push(format!("{} [{}]", question.prompt, items[default]));
        Ok(default)
    }
    fn confirm(&mut self, question: &Question, default: bool) -> Result<bool> {
        self.asked.push(format!("{} [{default}]", question.prompt));
        Ok(if question.flag == "--yes" {
            self.write
        } else {
            self.public
        })
    }
    fn secret(&mut self, question: &Question) -> Result<String> {
        panic!("init never asks for a secret: {:?}", question.prompt)
    }
}

/// Fails the test if asked anything.
struct Forbidden;

impl Prompter for Forbidden {
    fn text(
        &mut self,
        q: &Question,
        _: Option<&str>,
        _: &dyn Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<String> {
        panic!("asked {:?} under --yes", q.prompt)
    }
    fn select(&mut self, q: &Question, _: &[String], _: usize) -> Result<usize> {
        panic!("asked {:?} under --yes", q.prompt)
    }
    fn confirm(&mut self, q: &Question, _: bool) -> Result<bool> {
        panic!("asked {:?} under --yes", q.prompt)
    }
    fn secret(&mut self, q: &Question) -> Result<String> {
        panic!("asked {:?} under --yes", q.prompt)
    }
}

fn gcloud() -> GcloudDefaults {
    GcloudDefaults {
        project: Some("gc-project-1".into()),
        region: Some("europe-west4".into()),
        source: None,
    }
}

#[test]
fn questions_offer_gcloud_and_project_defaults_and_no_writes_nothing() {
    let (_tmp, dir) = common::copy_fixture("mysite");
    let before = common::tree(&dir);
    let request = InitRequest {
        root: dir.clone(),
        interactive: true,
        ..InitRequest::default()
    };
    let mut prompter = Scripted::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = run(&request, &gcloud(), &mut prompter, &mut out, &mut err).unwrap();
    assert_eq!(outcome, Outcome::Declined);
    assert_eq!(
        prompter.asked,
        vec![
            "Google Cloud project id [gc-project-1]",
            "Cloud Run region [europe-west4]",
            "Cloud Run service name [mysite]",
            "Allow public (unauthenticated) access to the service? [true]",
            // SQLite in the settings: the suggestion keeps it, and the question says so.
            "Database [keep the settings' own database (none)]",
            "Write these changes? [true]",
        ]
    );
    let diff = String::from_utf8(out).unwrap();
    assert!(diff.contains("+  _REGION: europe-west4"), "{diff}");
    assert!(
        diff.contains("--no-allow-unauthenticated"),
        "the answer no to public access shows in the diff"
    );
    assert!(String::from_utf8(err)
        .unwrap()
        .contains("Nothing was written."));
    assert_eq!(common::tree(&dir), before);
}

#[test]
fn a_yes_writes_what_the_diff_showed() {
    let (_tmp, dir) = common::copy_fixture("mysite");
    let request = InitRequest {
        root: dir.clone(),
        interactive: true,
        ..InitRequest::default()
    };
    let mut prompter = Scripted {
        public: true,
        write: true,
        ..Scripted::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = run(&request, &gcloud(), &mut prompter, &mut out, &mut err).unwrap();
    assert_eq!(outcome, Outcome::Written);
    let saved = std::fs::read_to_string(dir.join("djrun.toml")).unwrap();
    assert!(
        saved.contains("project = \"gc-project-1\"") && saved.contains("region = \"europe-west4\"")
    );
    assert!(!saved.contains("public"), "the default is not stored");
}

#[test]
fn yes_never_asks() {
    let (_tmp, dir) = common::copy_fixture("mysite");
    let request = InitRequest {
        root: dir.clone(),
        interactive: true,
        yes: true,
        ..InitRequest::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = run(&request, &gcloud(), &mut Forbidden, &mut out, &mut err).unwrap();
    assert_eq!(outcome, Outcome::Written);
    assert!(std::fs::read_to_string(dir.join("cloudbuild.yaml"))
        .unwrap()
        .contains("_REGION: europe-west4"));
}

#[test]
fn each_required_value_is_asked_with_its_example_as_the_default() {
    let (_tmp, dir) = common::copy_fixture("configured-app");
    let request = InitRequest {
        root: dir.clone(),
        interactive: true,
        database: Some("cloudsql-postgres".into()),
        ..InitRequest::default()
    };
    let mut prompter = Scripted {
        public: true,
        write: true,
        ..Scripted::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = run(&request, &gcloud(), &mut prompter, &mut out, &mut err).unwrap();
    assert_eq!(outcome, Outcome::Written);
    let values: Vec<&String> = prompter
        .asked
        .iter()
        .filter(|q| q.starts_with("Value of"))
        .collect();
    assert_eq!(
        values,
        vec![
            "Value of `ADMIN_PATH` on Cloud Run (the settings require it, at ledger_site/settings.py:21) [admin/]",
            "Value of `SUPPORT_EMAIL` on Cloud Run (the settings require it, at ledger_site/settings.py:22) [help@ledger.example]",
            "Value of `REDIS_URL` on Cloud Run (the settings require it, at ledger_site/settings.py:26) [redis://localhost:6379/0]",
            // Read with a default, but the settings raise without it.
            "Value of `LEDGER_REGION` on Cloud Run (the settings require it, at ledger_site/settings.py:29) [eu]",
        ],
        "the secret (PAYMENTS_API_KEY) is never asked here, nor a value djrun gives"
    );
    let saved = std::fs::read_to_string(dir.join("djrun.toml")).unwrap();
    assert!(saved.contains(r#"ADMIN_PATH = "admin/""#), "{saved}");
}
