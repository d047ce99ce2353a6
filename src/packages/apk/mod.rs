//! Alpine apk packages: versions and dependency atoms as apk-tools 2.14
//! reads them, signed `APKINDEX.tar.gz` repositories, and the adapter to
//! the format-neutral resolver ([`crate::packages::solve`]).

pub mod apkindex;
pub mod dependency;
pub mod index;
pub mod keys;
pub mod repo;
pub mod repo_error;
pub mod resolve;
pub mod universe;
pub mod version;

pub use version::ApkVersion;
