//! Reading a Debian repository with the whole trust chain verified:
//! `InRelease` (clearsigned), else `Release` + `Release.gpg`, against the
//! spec's keyring; then each `Packages` index that the signed Release
//! lists, by exact size and SHA256, before it is decompressed or parsed.
//! Nothing unsigned or unverified reaches a [`DebRecord`].
//!
//! Flat repositories (`suite = "./"` or any suite ending in `/`, no
//! components) keep `Release` and `Packages` in that directory.

use super::packages_index::{self, DebRecord};
use super::release::{self, Release};
use super::repo_error::RepoError;
use crate::packages::fetch::Fetch;
use crate::packages::openpgp::{self, Keyring, SigProblem};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// Largest `InRelease` / `Release` / `Release.gpg` accepted.
const MAX_RELEASE: u64 = 32 * 1024 * 1024;
/// Largest decompressed `Packages` (Debian main amd64 is ~50 MB).
const MAX_PACKAGES: u64 = 1024 * 1024 * 1024;

/// One `[[repositories]]` entry of kind `deb`, as the reader needs it.
#[derive(Clone, Debug)]
pub struct RepoSpec {
    /// Archive root (`http://deb.debian.org/debian`) or flat repo URL.
    pub url: String,
    /// `bookworm`, or `./` (any value ending in `/`) for a flat repository.
    pub suite: String,
    /// Empty for a flat repository.
    pub components: Vec<String>,
    /// Debian architecture name (`amd64`, `arm64`); `all` is read too.
    pub arch: String,
    /// File or directory of OpenPGP public keys.
    pub keyring: PathBuf,
    /// Position in the spec's list, copied into every record.
    pub position: usize,
}

/// What a verified repository offers for one architecture.
#[derive(Clone, Debug)]
pub struct RepoIndex {
    pub url: String,
    pub release: Release,
    /// `InRelease` or `Release`: the file whose signature was checked.
    pub release_file: String,
    /// SHA256 of that file's bytes, for the lock.
    pub release_sha256: String,
    /// Fingerprint of the key that made the good signature.
    pub signer: String,
    /// The Packages files read, suite-relative, with their SHA256.
    pub indexes: Vec<(String, String)>,
    pub records: Vec<DebRecord>,
}

impl RepoSpec {
    pub fn is_flat(&self) -> bool {
        self.suite.ends_with('/')
    }

    /// URL of the directory that holds Release (`dists/<suite>/` or the
    /// flat directory), ending with `/`.
    fn release_dir(&self) -> String {
        let root = self.url.trim_end_matches('/');
        if self.is_flat() {
            let sub = self.suite.trim_start_matches("./").trim_matches('/');
            if sub.is_empty() {
                format!("{root}/")
            } else {
                format!("{root}/{sub}/")
            }
        } else {
            format!("{root}/dists/{}/", self.suite)
        }
    }
}

/// Fetches and verifies the repository's Release and Packages indexes for
/// `spec.arch` (and `all`). `now` is Unix seconds, used for key expiry;
/// `Valid-Until` is checked separately by [`check_fresh`].
pub fn open_repository(
    spec: &RepoSpec,
    fetch: &dyn Fetch,
    now: u64,
) -> Result<RepoIndex, RepoError> {
    let url = spec.url.clone();
    check_spec(spec)?;
    let keyring = Keyring::load(&spec.keyring).map_err(|e| RepoError::Keyring {
        url: url.clone(),
        keyring: spec.keyring.clone(),
        why: match e {
            openpgp::PgpError::Keyring { why, .. } => why,
            other => other.to_string(),
        },
    })?;
    let dir = spec.release_dir();
    let ts = openpgp::timestamp(now);
    let fetch_err = |source| RepoError::Fetch {
        url: url.clone(),
        source,
    };
    let sig_err = |file: &str, e: openpgp::PgpError| {
        let fix = match &e {
            openpgp::PgpError::Signature {
                problem: SigProblem::Untrusted,
                ..
            }
            | openpgp::PgpError::Keyring { .. } => format!(
                "check keyring = {} holds the repository's current signing key",
                spec.keyring.display()
            ),
            openpgp::PgpError::Signature {
                problem: SigProblem::Tampered,
                ..
            } => "the mirror serves forged or corrupted data: do not use it, pick another mirror"
                .to_string(),
            openpgp::PgpError::Signature {
                problem: SigProblem::Malformed,
                ..
            } => "the mirror serves a damaged or forged file; retry, or pick another mirror"
                .to_string(),
        };
        RepoError::Signature {
            url: url.clone(),
            file: file.to_string(),
            why: e.to_string(),
            fix,
        }
    };

    let (release_file, bytes, text, signer) =
        match fetch.get(&format!("{dir}InRelease"), MAX_RELEASE) {
            Ok(bytes) => {
                let v = keyring
                    .verify_cleartext(&bytes, ts)
                    .map_err(|e| sig_err("InRelease", e))?;
                ("InRelease", bytes, v.text, v.signer)
            }
            Err(e) if e.is_not_found() => {
                let bytes = match fetch.get(&format!("{dir}Release"), MAX_RELEASE) {
                    Ok(b) => b,
                    Err(e) if e.is_not_found() => {
                        return Err(RepoError::NoRelease {
                            url,
                            inrelease: format!("{dir}InRelease"),
                            release: format!("{dir}Release"),
                        });
                    }
                    Err(e) => return Err(fetch_err(e)),
                };
                let sig = match fetch.get(&format!("{dir}Release.gpg"), MAX_RELEASE) {
                    Ok(s) => s,
                    Err(e) if e.is_not_found() => {
                        return Err(RepoError::Unsigned {
                            url,
                            release: format!("{dir}Release"),
                            signature: format!("{dir}Release.gpg"),
                        });
                    }
                    Err(e) => return Err(fetch_err(e)),
                };
                let signer = keyring
                    .verify_detached(&bytes, &sig, ts)
                    .map_err(|e| sig_err("Release.gpg", e))?;
                let text = String::from_utf8(bytes.clone()).map_err(|_| RepoError::BadRelease {
                    url: url.clone(),
                    file: "Release".to_string(),
                    line: 1,
                    why: "not UTF-8 text".to_string(),
                })?;
                ("Release", bytes, text, signer)
            }
            Err(e) => return Err(fetch_err(e)),
        };
    let release_sha256 = hex::encode(Sha256::digest(&bytes));
    let release = release::parse(&text).map_err(|e| RepoError::BadRelease {
        url: url.clone(),
        file: release_file.to_string(),
        line: e.line,
        why: e.why,
    })?;

    let mut indexes = Vec::new();
    let mut records: Vec<DebRecord> = Vec::new();
    let components: Vec<&str> = if spec.is_flat() {
        vec![""]
    } else {
        spec.components.iter().map(String::as_str).collect()
    };
    for comp in components {
        for arch in [spec.arch.as_str(), "all"] {
            let base = if spec.is_flat() {
                String::new()
            } else {
                format!("{comp}/binary-{arch}/")
            };
            // A flat repository has one Packages for every architecture.
            if spec.is_flat() && arch == "all" {
                continue;
            }
            let Some((path, listed)) =
                ["Packages.xz", "Packages.gz", "Packages"]
                    .iter()
                    .find_map(|n| {
                        let p = format!("{base}{n}");
                        release.sha256.get(&p).map(|f| (p, f.clone()))
                    })
            else {
                if arch == "all" {
                    continue; // binary-all is optional: `all` packages are usually in binary-<arch>
                }
                return Err(RepoError::NoIndex {
                    url,
                    release: release_file.to_string(),
                    what: if spec.is_flat() {
                        "the flat repository (Packages)".to_string()
                    } else {
                        format!("{comp}/binary-{arch}")
                    },
                    architectures: release.architectures.join(" "),
                    components: release.components.join(" "),
                });
            };
            let data = fetch_index(spec, fetch, &dir, &release, &path, &listed)?;
            let text = decompress(&path, &data).map_err(|why| RepoError::Decompress {
                url: url.clone(),
                file: path.clone(),
                why,
            })?;
            let mut recs =
                packages_index::parse(&text, spec.position).map_err(|e| RepoError::BadStanza {
                    url: url.clone(),
                    file: path.clone(),
                    line: e.line,
                    field: e.field,
                    why: e.why,
                })?;
            indexes.push((path, listed.sha256.clone()));
            records.append(&mut recs);
        }
    }
    dedup(&mut records).map_err(|why| RepoError::Spec {
        url: url.clone(),
        why,
    })?;
    Ok(RepoIndex {
        url,
        release,
        release_file: release_file.to_string(),
        release_sha256,
        signer,
        indexes,
        records,
    })
}

/// `Valid-Until` against `now` (Unix seconds): resolving calls this,
/// building from a lock does not.
pub fn check_fresh(index: &RepoIndex, now: u64) -> Result<(), RepoError> {
    release::check_valid_until(&index.release, now).map_err(|why| RepoError::Expired {
        url: index.url.clone(),
        file: index.release_file.clone(),
        why,
    })
}

fn check_spec(spec: &RepoSpec) -> Result<(), RepoError> {
    let bad = |why: String| RepoError::Spec {
        url: spec.url.clone(),
        why,
    };
    crate::packages::fetch::check_url(&spec.url).map_err(|e| bad(e.to_string()))?;
    let word_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'~'))
            && s != "."
            && s != ".."
    };
    if spec.is_flat() {
        if !spec.components.is_empty() {
            return Err(bad(format!(
                "suite {:?} is a flat repository, which has no components; remove components =",
                spec.suite
            )));
        }
        if spec.suite.split('/').any(|c| c == "..") {
            return Err(bad(format!("suite {:?} may not contain `..`", spec.suite)));
        }
    } else {
        if !spec.suite.split('/').all(word_ok) {
            return Err(bad(format!("suite {:?} is not a suite name", spec.suite)));
        }
        if spec.components.is_empty() {
            return Err(bad(format!(
                "suite {:?} needs components = (e.g. [\"main\"]); for a flat repository use suite = \"./\"",
                spec.suite
            )));
        }
        for c in &spec.components {
            if !c.split('/').all(word_ok) {
                return Err(bad(format!("component {c:?} is not a component name")));
            }
        }
    }
    if !word_ok(&spec.arch) {
        return Err(bad(format!("{:?} is not an architecture name", spec.arch)));
    }
    Ok(())
}

/// Fetches one index at exactly the listed size and checks its SHA256.
/// With `Acquire-By-Hash: yes` the by-hash path is read first (it cannot
/// change under a mirror sync), the named path when by-hash is absent.
fn fetch_index(
    spec: &RepoSpec,
    fetch: &dyn Fetch,
    dir: &str,
    release: &Release,
    path: &str,
    listed: &release::IndexFile,
) -> Result<Vec<u8>, RepoError> {
    let url = &spec.url;
    let fetch_err = |source| RepoError::Fetch {
        url: url.clone(),
        source,
    };
    if listed.size > MAX_PACKAGES {
        return Err(RepoError::Spec {
            url: url.clone(),
            why: format!(
                "Release lists {path} at {} bytes, over the {MAX_PACKAGES} byte limit for an index; nothing was downloaded",
                listed.size
            ),
        });
    }
    let mut data = None;
    if release.acquire_by_hash {
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        let sep = if parent.is_empty() { "" } else { "/" };
        let by_hash = format!("{dir}{parent}{sep}by-hash/SHA256/{}", listed.sha256);
        match fetch.get(&by_hash, listed.size) {
            Ok(d) => data = Some(d),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(fetch_err(e)),
        }
    }
    let data = match data {
        Some(d) => d,
        None => fetch
            .get(&format!("{dir}{path}"), listed.size)
            .map_err(|e| match e {
                crate::packages::fetch::FetchError::TooLarge { .. } => RepoError::Digest {
                    url: url.clone(),
                    file: path.to_string(),
                    expected: format!("{} bytes", listed.size),
                    got: format!("more than {} bytes", listed.size),
                },
                e => fetch_err(e),
            })?,
    };
    if data.len() as u64 != listed.size {
        return Err(RepoError::Digest {
            url: url.clone(),
            file: path.to_string(),
            expected: format!("{} bytes", listed.size),
            got: format!("{} bytes", data.len()),
        });
    }
    let got = hex::encode(Sha256::digest(&data));
    if got != listed.sha256 {
        return Err(RepoError::Digest {
            url: url.clone(),
            file: path.to_string(),
            expected: format!("sha256:{}", listed.sha256),
            got: format!("sha256:{got}"),
        });
    }
    Ok(data)
}

/// Decompresses by the name Release gave it, capped at [`MAX_PACKAGES`].
fn decompress(path: &str, data: &[u8]) -> Result<String, String> {
    let mut out = Vec::new();
    let capped = |r: &mut dyn Read, out: &mut Vec<u8>| -> Result<(), String> {
        r.take(MAX_PACKAGES + 1)
            .read_to_end(out)
            .map_err(|e| e.to_string())?;
        if out.len() as u64 > MAX_PACKAGES {
            return Err(format!("it decompresses to more than {MAX_PACKAGES} bytes"));
        }
        Ok(())
    };
    if path.ends_with(".xz") {
        capped(&mut liblzma::read::XzDecoder::new(data), &mut out)?;
    } else if path.ends_with(".gz") {
        capped(&mut flate2::read::MultiGzDecoder::new(data), &mut out)?;
    } else {
        out = data.to_vec();
    }
    String::from_utf8(out)
        .map_err(|e| format!("not UTF-8 text at byte {}", e.utf8_error().valid_up_to()))
}

/// The same package can be listed twice (binary-<arch> and binary-all):
/// identical entries collapse; the same name, version and architecture
/// with a different file is refused.
fn dedup(records: &mut Vec<DebRecord>) -> Result<(), String> {
    let mut seen: HashMap<(String, String, String), String> = HashMap::new();
    let mut err = None;
    records.retain(|r| {
        let key = (r.package.clone(), r.version.as_str().to_string(), r.architecture.clone());
        match seen.get(&key) {
            None => {
                seen.insert(key, r.sha256.clone());
                true
            }
            Some(h) if *h == r.sha256 => false,
            Some(_) => {
                err.get_or_insert_with(|| {
                    format!(
                        "{} {} ({}) is listed twice with different files; the repository is inconsistent",
                        key.0, key.1, key.2
                    )
                });
                true
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(suite: &str, comps: &[&str]) -> RepoSpec {
        RepoSpec {
            url: "http://127.0.0.1:1/debian/".to_string(),
            suite: suite.to_string(),
            components: comps.iter().map(|c| c.to_string()).collect(),
            arch: "amd64".to_string(),
            keyring: PathBuf::from("/nonexistent"),
            position: 0,
        }
    }

    #[test]
    fn release_dirs() {
        assert_eq!(
            spec("bookworm", &["main"]).release_dir(),
            "http://127.0.0.1:1/debian/dists/bookworm/"
        );
        assert_eq!(spec("./", &[]).release_dir(), "http://127.0.0.1:1/debian/");
        assert_eq!(
            spec("sub/", &[]).release_dir(),
            "http://127.0.0.1:1/debian/sub/"
        );
    }

    #[test]
    fn bad_specs_are_refused_before_any_fetch() {
        for (s, why) in [
            (spec("bookworm", &[]), "needs components"),
            (spec("./", &["main"]), "no components"),
            (spec("../x", &["main"]), "not a suite name"),
            (spec("bookworm", &["../main"]), "not a component name"),
            (spec("../", &[]), "`..`"),
        ] {
            let e = check_spec(&s).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        let mut s = spec("bookworm", &["main"]);
        s.url = "ftp://x/".to_string();
        assert!(check_spec(&s).is_err());
        s.url = "http://x/".to_string();
        s.arch = "amd64/../x".to_string();
        assert!(check_spec(&s).is_err());
    }

    #[test]
    fn decompression_by_name() {
        use std::io::Write;
        let text = "Package: aa\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            decompress("main/binary-amd64/Packages.gz", &gz).unwrap(),
            text
        );
        assert_eq!(decompress("Packages", text.as_bytes()).unwrap(), text);
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(text.as_bytes()).unwrap();
        let xz = xz.finish().unwrap();
        assert_eq!(decompress("Packages.xz", &xz).unwrap(), text);
        assert!(decompress("Packages.xz", &gz).is_err());
        assert!(decompress("Packages", &[0xff, 0xfe]).is_err());
    }
}
