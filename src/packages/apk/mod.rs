//! Alpine apk packages: versions and dependency atoms as apk-tools 2.14
//! reads them, signed `APKINDEX.tar.gz` repositories, and the adapter to
//! the format-neutral resolver ([`crate::packages::solve`]).

pub mod dependency;
pub mod version;

pub use version::ApkVersion;
