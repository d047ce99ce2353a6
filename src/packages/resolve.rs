//! From the spec's request to pinned packages, for one platform: every
//! repository opened and verified ([`super::deb::repo`]), the candidates for
//! the platform's architecture, the hardened base's own database as what is
//! already installed, and the resolver ([`super::solve`]). The result is
//! what the lock records and what the packages stage installs.

use super::Pinned;
use super::deb::DebVersion;
use super::deb::packages_index::DebRecord;
use super::deb::repo::{self, RepoSpec};
use super::deb::repo_error::RepoError;
use super::deb::universe;
use super::fetch::Fetch;
use super::solve::{self, Installed, Request, SolveError, Universe};
use crate::build::PackagesReq;
use crate::fs::{ImagePath, MergedTree};
use crate::image::Platform;
use crate::lock::LockedIndex;

/// A platform's resolution.
pub struct Resolution {
    pub pinned: Vec<Pinned>,
    pub indexes: Vec<LockedIndex>,
}

/// Why packages could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Repo(#[from] Box<RepoError>),
    #[error("resolving [packages] for {platform}: {source}")]
    Solve {
        platform: String,
        #[source]
        source: SolveError,
    },
    #[error(
        "{platform} has no Debian architecture name ironhull knows; build it without packages or for another platform"
    )]
    Arch { platform: String },
    #[error("[packages] install {text:?}: {why}")]
    Request { text: String, why: String },
    #[error(
        "the base's package database ({path}) does not parse: {why}; the base is broken, rebuild it"
    )]
    BaseDatabase { path: String, why: String },
    #[error(transparent)]
    ApkRepo(#[from] Box<super::apk::repo_error::ApkRepoError>),
    #[error(
        "{platform} has no apk architecture name ironhull knows; build it without packages or for another platform"
    )]
    ApkArch { platform: String },
}

/// Debian's name for a platform's architecture.
pub fn deb_arch(p: &Platform) -> Option<&'static str> {
    Some(match (p.architecture.as_str(), p.variant.as_deref()) {
        ("amd64", _) => "amd64",
        ("arm64", _) => "arm64",
        ("arm", Some("v7")) => "armhf",
        ("arm", Some("v5" | "v6")) => "armel",
        ("386", _) => "i386",
        ("ppc64le", _) => "ppc64el",
        ("s390x", _) => "s390x",
        ("riscv64", _) => "riscv64",
        _ => return None,
    })
}

/// What the base already has installed, from its dpkg database (the
/// `status` file, and distroless's `status.d/` files).
pub fn base_installed(base: &MergedTree) -> Result<Vec<Installed<DebVersion>>, ResolveError> {
    let mut out = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    if let Ok(p) = ImagePath::parse("var/lib/dpkg/status")
        && let Some(b) = base.content(&p)
    {
        texts.push((p.to_abs(), String::from_utf8_lossy(b).into_owned()));
    }
    if let Ok(dir) = ImagePath::parse("var/lib/dpkg/status.d") {
        for (p, n) in base.children(&dir) {
            if n.entry.is_file()
                && !p.file_name().ends_with(".md5sums")
                && let Some(b) = base.content(p)
            {
                texts.push((p.to_abs(), String::from_utf8_lossy(b).into_owned()));
            }
        }
    }
    for (path, text) in texts {
        out.extend(
            universe::installed(&text).map_err(|e| ResolveError::BaseDatabase {
                path,
                why: e.to_string(),
            })?,
        );
    }
    Ok(out)
}

/// Resolves `req` for `platform` on `base`. `now` is Unix seconds;
/// `check_valid_until` is true when resolving for a lock or a build
/// without one (a lock may legitimately hold an expired snapshot).
pub fn resolve(
    req: &PackagesReq,
    platform: &Platform,
    base: &MergedTree,
    fetch: &dyn Fetch,
    now: u64,
    check_valid_until: bool,
) -> Result<Resolution, ResolveError> {
    if req
        .repositories
        .iter()
        .all(|r| r.kind() == crate::spec::packages::RepoKind::Apk)
        && !req.repositories.is_empty()
    {
        // The spec has checked that repositories are all of one kind.
        return super::apk::resolve::resolve(req, platform, base, fetch);
    }
    let platform_name = platform.to_string();
    let arch = deb_arch(platform).ok_or_else(|| ResolveError::Arch {
        platform: platform_name.clone(),
    })?;
    let mut records: Vec<DebRecord> = Vec::new();
    let mut indexes = Vec::new();
    for (position, r) in req.repositories.iter().enumerate() {
        if r.kind() != crate::spec::packages::RepoKind::Deb {
            return Err(ResolveError::Request {
                text: r.url().to_string(),
                why: "deb and apk repositories cannot be mixed".into(),
            });
        }
        let spec = RepoSpec {
            url: r.url().to_string(),
            suite: r.suite().unwrap_or("./").to_string(),
            components: r.components().to_vec(),
            arch: arch.to_string(),
            keyring: r.keyring().map(|k| k.to_path_buf()).unwrap_or_default(),
            position,
        };
        let index = repo::open_repository(&spec, fetch, now).map_err(Box::new)?;
        if check_valid_until {
            repo::check_fresh(&index, now).map_err(Box::new)?;
        }
        indexes.push(LockedIndex {
            repository: r.url().to_string(),
            file: index.release_file.clone(),
            sha256: index.release_sha256.clone(),
        });
        records.extend(index.records);
    }
    // The universe's candidates and the records they came from, in step:
    // the solution names candidates by position.
    let mut candidates = Vec::new();
    let mut sources: Vec<&DebRecord> = Vec::new();
    for r in &records {
        if let Some(c) = universe::candidate_of_record(r, arch) {
            candidates.push(c);
            sources.push(r);
        }
    }
    let universe = Universe { candidates };
    let mut install = Vec::new();
    for i in &req.install {
        let rel = super::deb::relation::parse(&i.text).map_err(|e| ResolveError::Request {
            text: i.text.clone(),
            why: e.to_string(),
        })?;
        match rel.as_slice() {
            [one] if one.len() == 1 => install.push(universe::req_of(&one[0])),
            _ => {
                return Err(ResolveError::Request {
                    text: i.text.clone(),
                    why: "give one package, optionally with one version relation".into(),
                });
            }
        }
    }
    let request = Request {
        install,
        exclude: req.exclude.clone(),
        installed: base_installed(base)?,
    };
    let solution = solve::solve(&universe, &request).map_err(|source| ResolveError::Solve {
        platform: platform_name.clone(),
        source,
    })?;
    let mut pinned = Vec::new();
    for p in solution.packages {
        let Some(r) = sources.get(p.index) else {
            continue;
        };
        let repository = req
            .repositories
            .get(r.repository)
            .map(|x| x.url().to_string())
            .unwrap_or_default();
        pinned.push(Pinned {
            name: r.package.clone(),
            version: r.version.to_string(),
            architecture: r.architecture.clone(),
            repository,
            path: r.filename.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
            checksum: None,
            via: p.chain,
        });
    }
    Ok(Resolution { pinned, indexes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{CaptureSet, Entry, EntryKind};

    #[test]
    fn base_installed_reads_status_d_files_not_md5sums() {
        let mut t = MergedTree::with_capture(CaptureSet::standard());
        let put = |t: &mut MergedTree, p: &str, body: &[u8]| {
            let ip = ImagePath::parse(p).unwrap();
            let mut e = Entry::new(ip.clone(), EntryKind::File, 0o644);
            e.size = body.len() as u64;
            t.insert(0, e);
            t.set_content(&ip, body.to_vec());
        };
        for d in ["var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status.d"] {
            t.insert(
                0,
                Entry::new(ImagePath::parse(d).unwrap(), EntryKind::Dir, 0o755),
            );
        }
        put(
            &mut t,
            "var/lib/dpkg/status.d/libc6",
            b"Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\n",
        );
        put(
            &mut t,
            "var/lib/dpkg/status.d/libc6.md5sums",
            b"abc  usr/lib/x\n",
        );
        put(
            &mut t,
            "var/lib/dpkg/status.d-other",
            b"Package: nope\nVersion: 1\n",
        );
        let got = base_installed(&t).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "libc6");
    }
}
