//! The apk half of [`crate::packages::resolve`]: every `kind = "apk"`
//! repository opened and verified ([`super::repo`]) with the spec's keyring
//! or the base's `/etc/apk/keys`, the base's `lib/apk/db/installed` as what
//! is already there, the request solved ([`crate::packages::solve`]), then
//! install_if packages added and solved again to a fixed point.
//!
//! The pins carry apk's `Q1` checksum from the signed index and an empty
//! sha256: APKINDEX has no file digest, so the installer measures it after
//! checking the downloaded package against the checksum.

use super::ApkVersion;
use super::apkindex::ApkRecord;
use super::keys::ApkKeyring;
use super::repo::{self, ApkRepoSpec};
use super::repo_error::ApkRepoError;
use super::universe::{self, Present};
use crate::build::PackagesReq;
use crate::fs::{ImagePath, MergedTree};
use crate::image::Platform;
use crate::lock::LockedIndex;
use crate::packages::Pinned;
use crate::packages::fetch::Fetch;
use crate::packages::resolve::{Resolution, ResolveError};
use crate::packages::solve::{self, Installed, Request, Universe};

/// install_if rounds before giving up (each round adds at least one name,
/// so this only bounds a pathological index).
const MAX_ROUNDS: usize = 64;

/// The base's `/etc/apk/keys/*.rsa.pub` as a keyring.
fn base_keyring(base: &MergedTree) -> Result<ApkKeyring, super::keys::KeyError> {
    let mut files = Vec::new();
    if let Ok(dir) = ImagePath::parse("etc/apk/keys") {
        for (p, n) in base.children(&dir) {
            if n.entry.is_file()
                && let Some(b) = base.content(p)
            {
                files.push((p.file_name().to_string(), b.to_vec()));
            }
        }
    }
    ApkKeyring::from_files("the base's /etc/apk/keys", &files)
}

/// What the base has installed, from its apk database.
pub fn base_installed(base: &MergedTree) -> Result<Vec<Installed<ApkVersion>>, ResolveError> {
    // Where the base keeps it (`lib/apk/db` or `usr/lib/apk/db`).
    let crate::packages::base_db::BaseDb::Apk(p) = crate::packages::base_db::of(base) else {
        return Ok(Vec::new());
    };
    let Some(b) = base.content(&p) else {
        return Ok(Vec::new());
    };
    let bad = |why: String| ResolveError::BaseDatabase {
        path: p.to_abs(),
        why,
    };
    let text = std::str::from_utf8(b).map_err(|e| bad(e.to_string()))?;
    universe::installed(text).map_err(|e| bad(e.to_string()))
}

/// Resolves `req` (all repositories of kind apk) for `platform` on `base`.
pub fn resolve(
    req: &PackagesReq,
    platform: &Platform,
    base: &MergedTree,
    fetch: &dyn Fetch,
) -> Result<Resolution, ResolveError> {
    let platform_name = platform.to_string();
    let arch = repo::apk_arch(platform).ok_or_else(|| ResolveError::ApkArch {
        platform: platform_name.clone(),
    })?;
    let mut records: Vec<ApkRecord> = Vec::new();
    let mut indexes = Vec::new();
    for (position, r) in req.repositories.iter().enumerate() {
        let keyring = match r.keyring() {
            Some(k) => ApkKeyring::load(k),
            None => base_keyring(base),
        }
        .map_err(|source| {
            Box::new(ApkRepoError::Keyring {
                url: r.url().to_string(),
                source,
            })
        })?;
        let spec = ApkRepoSpec {
            url: r.url().to_string(),
            arch: arch.to_string(),
            keyring,
            position,
        };
        let index = repo::open_repository(&spec, fetch).map_err(Box::new)?;
        indexes.push(LockedIndex {
            repository: r.url().to_string(),
            file: index.file.clone(),
            sha256: index.sha256.clone(),
        });
        records.extend(index.records);
    }
    let mut install = Vec::new();
    for i in &req.install {
        let d = super::dependency::parse_request(&i.text).map_err(|e| ResolveError::Request {
            text: i.text.clone(),
            why: e.to_string(),
        })?;
        install.push(d.req());
    }
    let installed = base_installed(base)?;
    let solution =
        solve_records(&records, &install, &req.exclude, &installed).map_err(|source| {
            ResolveError::Solve {
                platform: platform_name.clone(),
                source,
            }
        })?;
    let mut pinned = Vec::new();
    for p in solution.packages {
        let Some(r) = records.get(p.index) else {
            continue;
        };
        let repository = req
            .repositories
            .get(r.repository)
            .map(|x| x.url().to_string())
            .unwrap_or_default();
        pinned.push(Pinned {
            name: r.name.clone(),
            version: r.version.to_string(),
            architecture: r.arch.clone(),
            repository,
            path: r.path(arch),
            size: r.size,
            sha256: String::new(),
            checksum: Some(r.checksum_text()),
            via: p.chain,
        });
    }
    Ok(Resolution { pinned, indexes })
}

/// Solves `install` over `records` on top of `installed`, then adds every
/// package whose install_if holds over base + solution and solves again,
/// until nothing more is added. The solution's indexes are `records`'.
pub fn solve_records(
    records: &[ApkRecord],
    install: &[solve::Req<ApkVersion>],
    exclude: &[String],
    installed: &[Installed<ApkVersion>],
) -> Result<solve::Solution, solve::SolveError> {
    let universe = Universe {
        candidates: records.iter().map(universe::candidate_of_record).collect(),
    };
    let mut extra: Vec<String> = Vec::new();
    let mut rounds = 0;
    loop {
        let mut all = install.to_vec();
        all.extend(extra.iter().map(solve::Req::any));
        let request = Request {
            install: all,
            exclude: exclude.to_vec(),
            installed: installed.to_vec(),
        };
        let solution = solve::solve(&universe, &request)?;
        let mut present: Vec<Present<'_>> = installed
            .iter()
            .map(|i| Present {
                name: &i.name,
                version: &i.version,
                provides: &i.provides,
            })
            .collect();
        present.extend(solution.packages.iter().filter_map(|p| {
            records.get(p.index).map(|r| Present {
                name: &r.name,
                version: &r.version,
                provides: &r.provides,
            })
        }));
        let new: Vec<String> = universe::install_if_round(records, &present, exclude)
            .into_iter()
            .filter(|n| !extra.contains(n))
            .collect();
        rounds += 1;
        if new.is_empty() || rounds >= MAX_ROUNDS {
            return Ok(solution);
        }
        extra.extend(new);
    }
}
