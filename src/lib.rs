//! djrun: take an existing Django project to a production-grade Google Cloud Run deployment.
//!
//! The pipeline is `inspect -> resolve -> plan -> present -> apply`; every step but the last
//! is pure, and the project root is always passed explicitly.

pub mod apply;
pub mod cli;
pub mod config;
pub mod configuration;
pub mod deploy;
pub mod deployment;
pub mod docs;
pub mod error;
pub mod gcloud;
pub mod gcloud_run;
pub mod generate;
pub mod init;
pub mod inspect;
pub mod patch;
pub mod plan;
pub mod prompt;
pub mod python;
pub mod render;
pub mod report;
pub mod steps;
pub mod text;
pub mod validate;

pub use error::{Error, Result};
