//! ironhull: a secure, reproducible OCI image builder.
//!
//! Data flows one way: [`spec`] → [`build`] plan → [`layer`] blobs → [`image`]
//! documents → [`policy`] gate → [`output`]. The CLI in `main.rs` is a thin shell
//! over this library.

pub mod base;
pub mod build;
pub mod cache_auth;
pub mod cjson;
pub mod detect;
pub mod digest;
pub mod elf;
pub mod error;
pub mod fs;
pub mod harden;
pub mod image;
pub mod init;
pub mod inspect;
pub mod layer;
pub mod lock;
pub mod output;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod sbom;
pub mod secrets;
pub mod spec;
pub mod store;
pub mod vuln;
