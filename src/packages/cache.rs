//! Downloaded package files, content-addressed by the sha256 the signed
//! index gave them: `<cache>/packages/<hex>`. A file is only ever returned
//! after its bytes hash to the key and its size matches, so a planted or
//! truncated cache entry costs a download, never a different package. The
//! cache never changes an image.

use crate::digest::Digest;
use crate::packages::Pinned;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::packages::fetch::Fetch;

/// Why a package file cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PackageFileError {
    #[error(
        "downloading {key} from {url} failed: {why}; check the repository is reachable (a build from the lock needs each package once, then works offline)"
    )]
    Download {
        key: String,
        url: String,
        why: String,
    },
    #[error(
        "{key} from {url} is {got} bytes with sha256 {digest}, but the signed index said {size} bytes with sha256 {want}; the mirror serves a different file than it signed (tampered, or mid-sync): nothing was installed, retry later or use another mirror"
    )]
    Mismatch {
        key: String,
        url: String,
        got: u64,
        digest: String,
        size: u64,
        want: String,
    },
    #[error(
        "{key} from {url} does not match its signed index entry: {why}; the mirror serves a different file than it signed (tampered, or mid-sync): nothing was installed, retry later or use another mirror"
    )]
    Unverified {
        key: String,
        url: String,
        why: String,
    },
    #[error("the package cache at {}: {source}; check the cache directory is writable (or pass --cache-dir)", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The package cache directory under a build cache root.
pub struct PackageCache {
    dir: PathBuf,
}

/// `p`'s bytes from `url`, at most its size.
fn download(p: &Pinned, url: &str, fetch: &dyn Fetch) -> Result<Vec<u8>, PackageFileError> {
    fetch
        .get(url, p.size)
        .map_err(|e| PackageFileError::Download {
            key: p.key(),
            url: url.to_string(),
            why: e.to_string(),
        })
}

fn matches(bytes: &[u8], p: &Pinned) -> bool {
    bytes.len() as u64 == p.size && Digest::of(bytes).hex() == p.sha256
}

impl PackageCache {
    pub fn new(cache_root: &Path) -> Self {
        Self {
            dir: cache_root.join("packages"),
        }
    }

    fn path_of(&self, p: &Pinned) -> Option<PathBuf> {
        // The key must be a sha256 in hex: it becomes a file name.
        (p.sha256.len() == 64
            && p.sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| self.dir.join(&p.sha256))
    }

    /// The verified bytes of `p`, from the cache or else from `fetch` (then
    /// stored). Returns whether it came from the cache.
    pub fn get(&self, p: &Pinned, fetch: &dyn Fetch) -> Result<(Vec<u8>, bool), PackageFileError> {
        let path = self.path_of(p);
        if let Some(path) = &path
            && let Ok(f) = std::fs::File::open(path)
        {
            let mut bytes = Vec::new();
            if f.take(p.size.saturating_add(1))
                .read_to_end(&mut bytes)
                .is_ok()
                && matches(&bytes, p)
            {
                return Ok((bytes, true));
            }
            // Planted, truncated or rotten: fetch again, and replace it.
        }
        let url = p.url();
        let bytes = download(p, &url, fetch)?;
        if !matches(&bytes, p) {
            return Err(PackageFileError::Mismatch {
                key: p.key(),
                url,
                got: bytes.len() as u64,
                digest: Digest::of(&bytes).hex().to_string(),
                size: p.size,
                want: p.sha256.clone(),
            });
        }
        if let Some(path) = path {
            self.store(path, &bytes)?;
        }
        Ok((bytes, false))
    }

    /// Writes verified bytes at `path` in the cache, atomically.
    fn store(&self, path: PathBuf, bytes: &[u8]) -> Result<(), PackageFileError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| PackageFileError::Io {
            path: self.dir.clone(),
            source,
        })?;
        crate::store::atomic::replace(&path, bytes)
            .map_err(|source| PackageFileError::Io { path, source })
    }

    /// The bytes of `p` when its index gives no sha256 (apk's APKINDEX
    /// signs a checksum of the package's control segment instead):
    /// downloaded, checked by `check` against what the index signed, and
    /// only then hashed and stored under that sha256, which is returned for
    /// the lock. Later reads go through [`PackageCache::get`] with it.
    pub fn get_unpinned(
        &self,
        p: &Pinned,
        fetch: &dyn Fetch,
        check: &dyn Fn(&[u8]) -> Result<(), String>,
    ) -> Result<(Vec<u8>, String), PackageFileError> {
        let url = p.url();
        let bytes = download(p, &url, fetch)?;
        if bytes.len() as u64 != p.size {
            return Err(PackageFileError::Unverified {
                key: p.key(),
                url,
                why: format!("it is {} bytes, the index said {}", bytes.len(), p.size),
            });
        }
        check(&bytes).map_err(|why| PackageFileError::Unverified {
            key: p.key(),
            url: url.clone(),
            why,
        })?;
        let sha256 = Digest::of(&bytes).hex().to_string();
        self.store(self.dir.join(&sha256), &bytes)?;
        Ok((bytes, sha256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::fetch::FetchError;
    use std::cell::Cell;

    struct Serve(Vec<u8>, Cell<u32>);
    impl Fetch for Serve {
        fn get(&self, _url: &str, _limit: u64) -> Result<Vec<u8>, FetchError> {
            self.1.set(self.1.get() + 1);
            Ok(self.0.clone())
        }
    }

    fn pinned(bytes: &[u8]) -> Pinned {
        Pinned {
            name: "a".into(),
            version: "1".into(),
            architecture: "all".into(),
            repository: "http://127.0.0.1:1/r".into(),
            path: "pool/a.deb".into(),
            size: bytes.len() as u64,
            sha256: Digest::of(bytes).hex().to_string(),
            checksum: None,
            via: vec!["a".into()],
        }
    }

    #[test]
    fn fetches_once_then_serves_verified_bytes() {
        let d = tempfile::tempdir().unwrap();
        let c = PackageCache::new(d.path());
        let s = Serve(b"package".to_vec(), Cell::new(0));
        let p = pinned(b"package");
        assert_eq!(c.get(&p, &s).unwrap(), (b"package".to_vec(), false));
        assert_eq!(c.get(&p, &s).unwrap(), (b"package".to_vec(), true));
        assert_eq!(s.1.get(), 1);
    }

    #[test]
    fn a_planted_cache_file_is_replaced_not_used() {
        let d = tempfile::tempdir().unwrap();
        let c = PackageCache::new(d.path());
        let p = pinned(b"package");
        std::fs::create_dir_all(d.path().join("packages")).unwrap();
        std::fs::write(d.path().join("packages").join(&p.sha256), b"evilpkg").unwrap();
        let s = Serve(b"package".to_vec(), Cell::new(0));
        assert_eq!(c.get(&p, &s).unwrap().0, b"package");
        assert_eq!(s.1.get(), 1, "the planted file must not be served");
    }

    #[test]
    fn a_swapped_download_is_an_error_and_not_stored() {
        let d = tempfile::tempdir().unwrap();
        let c = PackageCache::new(d.path());
        let p = pinned(b"package");
        let e = c
            .get(&p, &Serve(b"swapped".to_vec(), Cell::new(0)))
            .unwrap_err();
        assert!(
            e.to_string().contains("different file than it signed"),
            "{e}"
        );
        assert!(!d.path().join("packages").join(&p.sha256).exists());
    }

    #[test]
    fn an_unpinned_file_is_stored_only_after_its_check_passes() {
        let d = tempfile::tempdir().unwrap();
        let c = PackageCache::new(d.path());
        let mut p = pinned(b"package");
        p.sha256.clear();
        let s = Serve(b"package".to_vec(), Cell::new(0));
        let e = c
            .get_unpinned(&p, &s, &|_| Err("control checksum differs".into()))
            .unwrap_err();
        assert!(e.to_string().contains("control checksum differs"), "{e}");
        assert!(
            std::fs::read_dir(d.path().join("packages"))
                .map(|r| r.count() == 0)
                .unwrap_or(true),
            "nothing may be stored for a file that failed its check"
        );
        let (bytes, sha) = c.get_unpinned(&p, &s, &|_| Ok(())).unwrap();
        assert_eq!(sha, Digest::of(b"package").hex());
        p.sha256 = sha;
        assert_eq!(c.get(&p, &s).unwrap(), (bytes, true));
        let mut short = pinned(b"pack");
        short.sha256.clear();
        let e = c.get_unpinned(&short, &s, &|_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("the index said 4"), "{e}");
    }
}
