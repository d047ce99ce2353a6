//! OS packages (issue 15): `[packages] install` from signed `[[repositories]]`,
//! with no package manager in the image and no maintainer script run.
//!
//! The flow, one way: repositories are opened and their signed indexes
//! verified ([`deb::repo`]: [`fetch`] over HTTP with no credentials ever, [`openpgp`] for keyrings and signatures), the request is resolved against them and the
//! base's own database (`solve`), giving one [`Pinned`] list per platform,
//! which is what `ironhull.lock` records. A build from the lock reads no
//! index: it fetches each pinned file by its sha256 ([`cache`]), reads it
//! strictly ([`deb::deb_file`]), plans where every file goes on the
//! hardened base ([`install`]) and writes package layers plus the package
//! database ([`deb::database`]). The same gate as for everything else then
//! judges the image.

pub mod apk;
pub mod cache;
pub mod deb;
pub mod effects;
pub mod install;
pub mod resolve;
pub mod solve;

use serde::{Deserialize, Serialize};

/// One package chosen for one platform: everything needed to fetch and
/// verify it without reading any index again. The lock stores these.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pinned {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// The repository's URL, as the spec gives it.
    pub repository: String,
    /// The file's path below the repository URL (`pool/main/…/x.deb`).
    pub path: String,
    pub size: u64,
    /// Hex sha256 of the file: from the signed index (deb), or measured
    /// when the lock was made, after the file was checked against its
    /// signed index entry (apk, whose index has no sha256).
    pub sha256: String,
    /// apk's control-segment checksum from the signed APKINDEX (`Q1…`,
    /// base64 SHA-1), checked again on every read; `None` for deb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// How the request reached it (`python3.11-minimal -> libssl3`): the
    /// first element is what the spec asked for.
    #[serde(default)]
    pub via: Vec<String>,
}

impl Pinned {
    /// `name=version/arch`, for messages.
    pub fn key(&self) -> String {
        format!("{}={}/{}", self.name, self.version, self.architecture)
    }
    /// The URL to download it from. The path is a file name, not a URL:
    /// every byte outside the unreserved set is percent-encoded, so a pool
    /// file named `x_1%3a2.deb` (apt-ftparchive writes epochs that way) is
    /// asked for as `x_1%253a2.deb`, as apt does.
    pub fn url(&self) -> String {
        let mut path = String::with_capacity(self.path.len());
        for b in self.path.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~+/".contains(&b) {
                path.push(char::from(b));
            } else {
                path.push_str(&format!("%{b:02X}"));
            }
        }
        format!("{}/{path}", self.repository.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_encode_the_file_name() {
        let p = super::Pinned {
            name: "zlib1g".into(),
            version: "1:1.2".into(),
            architecture: "amd64".into(),
            repository: "http://h/debian/".into(),
            path: "pool/main/z/zlib1g_1%3a1.2 x:y+z~_amd64.deb".into(),
            size: 0,
            sha256: String::new(),
            checksum: None,
            via: vec![],
        };
        assert_eq!(
            p.url(),
            "http://h/debian/pool/main/z/zlib1g_1%253a1.2%20x%3Ay+z~_amd64.deb"
        );
    }
}

/// The identity of a package request: the repositories (kind, URL, suite,
/// components and the keyring's bytes), what is installed and excluded. The
/// lock stores it; pins are reused only for the request they answer.
pub fn request_digest(
    repositories: &[crate::spec::packages::Repository],
    install: &[crate::spec::packages::Requested],
    exclude: &[String],
) -> crate::digest::Digest {
    let mut text = String::new();
    for r in repositories {
        let keyring = r
            .keyring()
            .map(|k| match keyring_digest(k) {
                Ok(d) => d,
                Err(e) => format!("unreadable:{e}"),
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "repo\0{}\0{}\0{}\0{}\0{keyring}\n",
            r.kind().as_str(),
            r.url(),
            r.suite().unwrap_or(""),
            r.components().join(",")
        ));
    }
    for i in install {
        text.push_str(&format!("install\0{}\n", i.text));
    }
    let mut ex = exclude.to_vec();
    ex.sort();
    for e in ex {
        text.push_str(&format!("exclude\0{e}\n"));
    }
    crate::digest::Digest::of(text.as_bytes())
}

/// sha256 of a keyring file, or of a directory's files (sorted by name).
fn keyring_digest(path: &std::path::Path) -> std::io::Result<String> {
    if path.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(path)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        let mut all = String::new();
        for n in names {
            let b = std::fs::read(&n)?;
            all.push_str(&format!(
                "{}:{}\n",
                n.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                crate::digest::Digest::of(&b).hex()
            ));
        }
        return Ok(crate::digest::Digest::of(all.as_bytes()).hex().to_string());
    }
    let b = std::fs::read(path)?;
    Ok(crate::digest::Digest::of(&b).hex().to_string())
}
pub mod fetch;
pub mod openpgp;
