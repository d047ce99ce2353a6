//! The policy engine: checks with stable IDs, severities and fixes, evaluated
//! over an image config plus its filesystem (merged view and every layer).
//! Shared by the build gate and `ironhull audit`.

pub mod catalog;
pub mod file;
pub mod report;

pub use catalog::{Check, Severity, SeverityError, catalog};
pub use file::{Policy, PolicyError};
pub use report::{Finding, Report, Summary, Waived};
