//! djrun: take an existing Django project to a production-grade Google Cloud Run deployment.
//!
//! The pipeline is `inspect -> resolve -> plan -> present -> apply`; every step but the last
//! is pure, and the project root is always passed explicitly.

pub mod error;
pub mod gcloud;
pub mod patch;
pub mod validate;

pub use error::{Error, Result};
