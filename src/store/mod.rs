//! Local stores: the content-addressed blob store, OCI layouts and archives.
pub mod blobs;
pub use blobs::{BlobError, BlobStore};
