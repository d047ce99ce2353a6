//! Debian packages: versions, relations and control stanzas (the formats
//! of `Packages` indexes and `dpkg/status`), and reading a signed
//! repository ([`repo::open_repository`]).

pub mod control;
pub mod database;
pub mod deb_file;
pub mod packages_index;
pub mod relation;
pub mod release;
pub mod repo;
pub mod repo_error;
pub mod universe;
pub mod version;

pub use packages_index::DebRecord;
pub use repo::{RepoIndex, RepoSpec, open_repository};
pub use repo_error::RepoError;
pub use version::DebVersion;
