//! Debian packages: versions, relations and control stanzas (the formats
//! of `Packages` indexes and `dpkg/status`).

pub mod control;
pub mod database;
pub mod deb_file;
pub mod relation;
pub mod universe;
pub mod version;

pub use version::DebVersion;
