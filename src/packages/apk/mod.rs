//! Alpine apk packages: versions and dependency atoms as apk-tools 2.14
//! reads them, signed `APKINDEX.tar.gz` repositories, the adapter to the
//! format-neutral resolver ([`crate::packages::solve`]), `.apk` files
//! (verified Q1 → datahash → per-file SHA-1) and the installed database.

pub mod apk_file;
pub mod apkindex;
pub mod database;
pub mod dependency;
pub mod index;
pub mod keys;
pub mod pins;
pub mod pkginfo;
pub mod repo;
pub mod repo_error;
pub mod resolve;
pub mod universe;
pub mod version;

pub use version::ApkVersion;
