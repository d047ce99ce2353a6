//! Authenticating what the build cache stores.
//!
//! CI systems save and restore the cache directory (examples/ci/caching.md),
//! so anyone who can write that directory could plant records: a passing
//! gate verdict, a layer record pointing at their own blob, a stat record
//! claiming a file has another content. Every record is therefore sealed
//! with an HMAC-SHA256 (RFC 2104) under a key kept OUTSIDE the cache
//! directory, bound to what the record is about (its kind and its name, so a
//! valid record cannot be moved to another key). A record that does not
//! open is never trusted: the caller re-does the work the slow way and
//! seals the result again.
//!
//! The key is `IRONHULL_CACHE_KEY` (64 hex digits, or base64 of at least 16
//! bytes; for CI, from a secret), else the file
//! `$XDG_STATE_HOME/ironhull/cache.key` (default
//! `~/.local/state/ironhull/cache.key`), created on first use with 32 random
//! bytes and mode 0600. The key is never logged.

use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)), with keys
/// longer than a block hashed first.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Compares two MACs in time independent of where they differ.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where the key came from (for messages; never the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    /// No usable key: an in-memory one for this run, so nothing restored
    /// from an earlier run is trusted.
    Ephemeral(String),
}

/// The sealing key. `Debug` does not show it.
#[derive(Clone)]
pub struct CacheAuth {
    key: Vec<u8>,
    source: KeySource,
}

impl std::fmt::Debug for CacheAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheAuth")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "IRONHULL_CACHE_KEY is set but is neither 64 hex digits nor base64 of at least 16 bytes; generate one with `openssl rand -hex 32`"
    )]
    BadEnv,
    #[error("cache key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "cache key file {path} is readable or writable by other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Mode { path: PathBuf, mode: u32 },
    #[error("cache key file {path} does not hold exactly 32 bytes; delete it to get a new key")]
    BadFile { path: PathBuf },
}

impl CacheAuth {
    /// A fixed key (tests, or a caller that manages keys itself).
    pub fn from_key(key: &[u8]) -> Self {
        Self {
            key: key.to_vec(),
            source: KeySource::Env,
        }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The key from `IRONHULL_CACHE_KEY`, else the key file (created when
    /// missing). Never fails: when no key can be had, a random key for this
    /// run is used (everything cached earlier is then re-verified) and the
    /// reason is in [`KeySource::Ephemeral`].
    pub fn load() -> Self {
        match Self::try_load() {
            Ok(a) => a,
            Err(e) => Self {
                key: random_key().unwrap_or_else(|_| {
                    // No randomness at all: a per-process value still keeps
                    // earlier runs' records from verifying.
                    let t = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0);
                    Sha256::digest(format!("{t}-{}", std::process::id())).to_vec()
                }),
                source: KeySource::Ephemeral(e.to_string()),
            },
        }
    }

    fn try_load() -> Result<Self, KeyError> {
        if let Some(v) = std::env::var_os("IRONHULL_CACHE_KEY").filter(|v| !v.is_empty()) {
            let v = v.to_str().ok_or(KeyError::BadEnv)?.trim();
            return Ok(Self {
                key: parse_env_key(v).ok_or(KeyError::BadEnv)?,
                source: KeySource::Env,
            });
        }
        let path = key_path().ok_or_else(|| KeyError::Io {
            path: PathBuf::from("~/.local/state/ironhull/cache.key"),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                "neither XDG_STATE_HOME nor HOME is set",
            ),
        })?;
        Ok(Self {
            key: load_or_create(&path)?,
            source: KeySource::File(path),
        })
    }

    /// The MAC of a record of `kind` named `name` with `body`.
    fn mac(&self, kind: &str, name: &str, body: &[u8]) -> [u8; 32] {
        let len = |b: &[u8]| (b.len() as u64).to_le_bytes();
        hmac_sha256(
            &self.key,
            &[
                b"ironhull-cache-record-v1\0",
                &len(kind.as_bytes()),
                kind.as_bytes(),
                &len(name.as_bytes()),
                name.as_bytes(),
                &len(body),
                body,
            ],
        )
    }

    /// Seals `body` as the record `kind`/`name`: the file content to store.
    pub fn seal(&self, kind: &str, name: &str, body: &[u8]) -> Vec<u8> {
        let mut out = hex::encode(self.mac(kind, name, body)).into_bytes();
        out.push(b'\n');
        out.extend_from_slice(body);
        out
    }

    /// The body of a sealed record, when its MAC is valid for `kind`/`name`.
    pub fn open<'a>(&self, kind: &str, name: &str, sealed: &'a [u8]) -> Option<&'a [u8]> {
        let (mac_hex, body) = sealed.split_at_checked(65)?;
        let mac_hex = mac_hex.strip_suffix(b"\n")?;
        let mac = hex::decode(mac_hex).ok()?;
        ct_eq(&mac, &self.mac(kind, name, body)).then_some(body)
    }
}

fn parse_env_key(v: &str) -> Option<Vec<u8>> {
    if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(v).ok();
    }
    use base64::Engine as _;
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(v).ok())
        .filter(|k| k.len() >= 16)
}

/// `$XDG_STATE_HOME/ironhull/cache.key`, else `~/.local/state/ironhull/cache.key`.
pub fn key_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p).join("ironhull").join("cache.key"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty())?;
    Some(
        PathBuf::from(home)
            .join(".local")
            .join("state")
            .join("ironhull")
            .join("cache.key"),
    )
}

fn random_key() -> io::Result<Vec<u8>> {
    let mut k = vec![0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut k)?;
    Ok(k)
}

/// Reads the key file, or creates it race-free: the random key is written
/// to a private temporary file (mode 0600) and hard-linked to the final
/// name, which fails if another process got there first (then its key is
/// read). A reader never sees a partial key.
fn load_or_create(path: &Path) -> Result<Vec<u8>, KeyError> {
    let ioe = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    match read_key(path) {
        Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(ioe)?;
    }
    let key = random_key().map_err(ioe)?;
    // tempfile creates with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".cache.key.tmp-")
        .tempfile_in(dir)
        .map_err(ioe)?;
    tmp.write_all(&key).map_err(ioe)?;
    tmp.as_file().sync_all().map_err(ioe)?;
    match std::fs::hard_link(tmp.path(), path) {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(ioe(e)),
    }
}

fn read_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    use std::os::unix::fs::MetadataExt;
    let ioe = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = crate::store::blobs::open_nofollow(path).map_err(ioe)?;
    let meta = f.metadata().map_err(ioe)?;
    if meta.mode() & 0o077 != 0 {
        return Err(KeyError::Mode {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o777,
        });
    }
    let mut key = Vec::new();
    f.take(33).read_to_end(&mut key).map_err(ioe)?;
    if key.len() != 32 {
        return Err(KeyError::BadFile {
            path: path.to_path_buf(),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4231 test cases 1-4, 6 and 7 (5 is a truncated MAC).
    #[test]
    fn rfc4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                h("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (i, (key, msg, want)) in cases.iter().enumerate() {
            assert_eq!(hex::encode(hmac_sha256(key, &[msg])), *want, "case {i}");
            // Split input gives the same MAC.
            let (a, b) = msg.split_at(msg.len() / 2);
            assert_eq!(
                hex::encode(hmac_sha256(key, &[a, b])),
                *want,
                "case {i} split"
            );
        }
    }

    #[test]
    fn seal_binds_kind_name_body_and_key() {
        let a = CacheAuth::from_key(&[7; 32]);
        let s = a.seal("layer", "abc", b"{\"x\":1}");
        assert_eq!(a.open("layer", "abc", &s), Some(&b"{\"x\":1}"[..]));
        assert_eq!(a.open("layer", "abd", &s), None, "moved to another name");
        assert_eq!(a.open("gate", "abc", &s), None, "other kind");
        let other = CacheAuth::from_key(&[8; 32]);
        assert_eq!(other.open("layer", "abc", &s), None, "other key");
        let mut t = s.clone();
        *t.last_mut().unwrap() ^= 1;
        assert_eq!(a.open("layer", "abc", &t), None, "body changed");
        for junk in [&b""[..], b"\n", &s[..64], &s[..65]] {
            assert_eq!(a.open("layer", "abc", junk), None);
        }
        // An empty body round-trips.
        assert_eq!(a.open("k", "n", &a.seal("k", "n", b"")), Some(&b""[..]));
    }

    #[test]
    fn env_key_formats() {
        let hexkey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert_eq!(parse_env_key(hexkey).unwrap().len(), 32);
        assert_eq!(
            parse_env_key("AAECAwQFBgcICQoLDA0ODw==").unwrap(),
            (0u8..16).collect::<Vec<_>>()
        );
        assert!(parse_env_key("short").is_none());
        assert!(parse_env_key("AAEC").is_none(), "too few bytes");
    }

    #[test]
    fn key_file_created_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state/ironhull/cache.key");
        let k1 = load_or_create(&p).unwrap();
        assert_eq!(k1.len(), 32);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&p).unwrap(), k1, "same key next time");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // Concurrent creators agree on one key.
        let q = d.path().join("race/cache.key");
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&q).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        // A group-readable key file is refused, with the fix in the message.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load_or_create(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        // A symlink in place of the key is not followed.
        let r = d.path().join("link.key");
        std::os::unix::fs::symlink(&p, &r).unwrap();
        assert!(read_key(&r).is_err());
    }
}
