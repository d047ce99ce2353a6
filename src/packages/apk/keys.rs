//! apk keyrings: RSA public keys known by their file name, because an apk
//! signature names its key (`.SIGN.RSA.<keyname>`) rather than carrying a
//! fingerprint. The keyring is the spec's `keyring` (one key file, or a
//! directory of `*.rsa.pub`), else the base's own `/etc/apk/keys`.
//!
//! WHY the `rsa` crate at 0.9 with a hand-built DigestInfo: 0.9.10 is
//! already in the tree (through `pgp`), but it speaks `digest` 0.10 while
//! ironhull's `sha1`/`sha2` are 0.11, so `Pkcs1v15Sign::new::<Sha1>()`
//! does not type-check. Depending on pgp's 0.10 copies under other names
//! only for their OIDs would be two more direct dependencies to keep in
//! step; the two fixed DER prefixes below (the DigestInfo headers of
//! RFC 8017 §9.2, note 1) say the same thing, and with `hash_len` set rsa
//! checks the digest length as well. PEM is decoded here (base64, one
//! block) so rsa's `pem` feature is not needed.

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use std::path::Path;

/// DER DigestInfo prefix for SHA-1 (RFC 8017 §9.2).
const SHA1_PREFIX: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
/// DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2).
const SHA256_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Largest key file read (a 4096-bit PEM key is under 1 KiB).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Which digest an apk v2 signature is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigDigest {
    /// `.SIGN.RSA.`: SHA-1 (what Alpine's own indexes use).
    Sha1,
    /// `.SIGN.RSA256.`: SHA-256.
    Sha256,
}

/// The trusted keys, by file name, sorted by name.
#[derive(Clone, Debug, Default)]
pub struct ApkKeyring {
    keys: Vec<(String, RsaPublicKey)>,
    /// Where the keys came from, for messages.
    pub source: String,
}

/// Why a keyring cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {why}")]
    Read { path: String, why: String },
    #[error(
        "{path}: not an RSA public key ({why}); apk keys are PEM \"BEGIN PUBLIC KEY\" or \"BEGIN RSA PUBLIC KEY\" files, as in /etc/apk/keys"
    )]
    Parse { path: String, why: String },
    #[error(
        "{source_}: no *.rsa.pub key in it; put the repository's signing key there (Alpine's are in the alpine-keys package)"
    )]
    Empty { source_: String },
}

/// Decodes one PEM key: PKIX (`BEGIN PUBLIC KEY`) or PKCS#1
/// (`BEGIN RSA PUBLIC KEY`).
pub fn parse_public_key(bytes: &[u8]) -> Result<RsaPublicKey, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not text".to_string())?;
    let mut label = None;
    let mut body = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if label.is_some() {
                return Err("it holds more than one PEM block".into());
            }
            label = Some(l.to_string());
        } else if line.starts_with("-----END ") {
            break;
        } else if label.is_some() {
            body.push_str(line);
        }
    }
    let label = label.ok_or("it has no PEM \"-----BEGIN ...-----\" line")?;
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| format!("the PEM body is not base64: {e}"))?;
    match label.as_str() {
        "PUBLIC KEY" => RsaPublicKey::from_public_key_der(&der).map_err(|e| e.to_string()),
        "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&der).map_err(|e| e.to_string()),
        other => Err(format!("a PEM {other:?} block is not a public key")),
    }
}

impl ApkKeyring {
    /// From (file name, bytes) pairs, e.g. the base's `/etc/apk/keys`.
    /// Files not named `*.rsa.pub` are skipped, as apk skips them.
    pub fn from_files(source: &str, files: &[(String, Vec<u8>)]) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (name, bytes) in files {
            if !name.ends_with(".rsa.pub") {
                continue;
            }
            let key = parse_public_key(bytes).map_err(|why| KeyError::Parse {
                path: format!("{source}/{name}"),
                why,
            })?;
            keys.push((name.clone(), key));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty {
                source_: source.to_string(),
            });
        }
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self {
            keys,
            source: source.to_string(),
        })
    }

    /// From the spec's `keyring`: one key file (known by its file name,
    /// whatever it ends with) or a directory of `*.rsa.pub`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let read = |p: &Path| -> Result<Vec<u8>, KeyError> {
            let err = |why: String| KeyError::Read {
                path: p.display().to_string(),
                why,
            };
            let meta = std::fs::metadata(p).map_err(|e| err(e.to_string()))?;
            if meta.len() > MAX_KEY_FILE {
                return Err(err(format!("larger than {MAX_KEY_FILE} bytes: not a key")));
            }
            std::fs::read(p).map_err(|e| err(e.to_string()))
        };
        let meta = std::fs::metadata(path).map_err(|e| KeyError::Read {
            path: shown.clone(),
            why: format!("{e}; `keyring` is relative to builder.toml"),
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            let entries = std::fs::read_dir(path).map_err(|e| KeyError::Read {
                path: shown.clone(),
                why: e.to_string(),
            })?;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".rsa.pub") && e.path().is_file() {
                    files.push((name, read(&e.path())?));
                }
            }
            return Self::from_files(&shown, &files);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = parse_public_key(&read(path)?).map_err(|why| KeyError::Parse {
            path: shown.clone(),
            why,
        })?;
        Ok(Self {
            keys: vec![(name, key)],
            source: shown,
        })
    }

    /// The key file names, for messages.
    pub fn names(&self) -> Vec<&str> {
        self.keys.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The key named `name`.
    pub fn get(&self, name: &str) -> Option<&RsaPublicKey> {
        self.keys.iter().find(|(n, _)| n == name).map(|(_, k)| k)
    }

    /// Whether `signature` is a PKCS#1 v1.5 signature of `data` by key
    /// `name`. `None` when the keyring has no such key.
    pub fn verify(
        &self,
        name: &str,
        digest: SigDigest,
        data: &[u8],
        signature: &[u8],
    ) -> Option<bool> {
        let key = self.get(name)?;
        use sha1::Digest as _;
        let (hash, scheme) = match digest {
            SigDigest::Sha1 => (
                sha1::Sha1::digest(data).to_vec(),
                Pkcs1v15Sign {
                    hash_len: Some(20),
                    prefix: SHA1_PREFIX.into(),
                },
            ),
            SigDigest::Sha256 => (
                sha2::Sha256::digest(data).to_vec(),
                Pkcs1v15Sign {
                    hash_len: Some(32),
                    prefix: SHA256_PREFIX.into(),
                },
            ),
        };
        Some(key.verify(scheme, &hash, signature).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_key_files_are_named() {
        for (bytes, want) in [
            (&b"hello"[..], "no PEM"),
            (
                b"-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n",
                "not base64",
            ),
            (
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "not a public key",
            ),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "",
            ),
        ] {
            let e =
                ApkKeyring::from_files("/etc/apk/keys", &[("a.rsa.pub".into(), bytes.to_vec())])
                    .unwrap_err()
                    .to_string();
            assert!(
                e.contains("/etc/apk/keys/a.rsa.pub") && e.contains(want),
                "{e}"
            );
        }
        let e = ApkKeyring::from_files("/etc/apk/keys", &[("README".into(), b"x".to_vec())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no *.rsa.pub"), "{e}");
    }
}
