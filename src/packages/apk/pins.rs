//! From an apk resolution to pins a build can trust without any index.
//!
//! APKINDEX signs each package's control-segment checksum (`C:Q1…`), not a
//! digest of the file. So right after resolving, every package is
//! downloaded once and read in full: its control segment must hash to the
//! signed Q1, its data segment to the `datahash` that segment names. Only
//! then is the file's sha256 measured and written into the pin (and the
//! lock), so a build from the lock checks the whole file by sha256 first
//! and the Q1 chain again after; nothing is trusted on first use.

use super::apk_file::ApkFile;
use super::apkindex::parse_checksum;
use crate::packages::Pinned;
use crate::packages::cache::{PackageCache, PackageFileError};
use crate::packages::fetch::Fetch;

/// The signed control checksum of an apk pin.
pub fn q1_of(p: &Pinned) -> Result<[u8; 20], PackageFileError> {
    let text = p.checksum.as_deref().unwrap_or("");
    parse_checksum(text).map_err(|why| PackageFileError::Unverified {
        key: p.key(),
        url: p.url(),
        why: format!(
            "the pin's checksum {text:?} is unusable ({why}); run `ironhull lock --update`"
        ),
    })
}

/// Gives every apk pin that lacks one its measured sha256, after the
/// package was checked against its signed checksum (and stored in the
/// package cache, so the install that follows reads it from there).
pub fn measure(
    pins: &mut [Pinned],
    cache: &PackageCache,
    fetch: &dyn Fetch,
) -> Result<(), PackageFileError> {
    for p in pins.iter_mut() {
        if p.checksum.is_none() || !p.sha256.is_empty() {
            continue;
        }
        let q1 = q1_of(p)?;
        let check = |bytes: &[u8]| {
            ApkFile::parse(bytes, &q1)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let (_, sha256) = cache.get_unpinned(p, fetch, &check)?;
        p.sha256 = sha256;
    }
    Ok(())
}
