//! The lock against the world: resolve the spec's inputs now and compare
//! them with `ironhull.lock`. This is `ironhull lock`, `ironhull outdated`,
//! the `build --locked` check, and the pin that makes a plain `build` pull
//! a registry base by the digest the lock recorded.

use super::{LOCK_FILE, Lock};
use crate::base::resolve::open;
use crate::digest::Digest;
use crate::error::ErrorClass;
use crate::image::ImageSet;
use crate::layer::LayerParams;
use crate::reference::Reference;
use crate::registry::RegistryOptions;
use crate::spec::Spec;
use crate::store::BlobStore;
use std::path::{Path, PathBuf};

/// A lock operation that failed, with the class the front end maps to an
/// exit code.
pub type LockRunError = crate::error::Failure;

fn err(class: ErrorClass, message: impl std::fmt::Display) -> LockRunError {
    LockRunError::new(class, message)
}

/// Resolves the spec's base (every platform the spec asks for) and computes
/// a fresh lock. `cache` is the cache directory (scratch space goes there).
/// Whether [`fresh`] resolves the spec's OS packages (which reads every
/// repository index) or leaves them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packages {
    Resolve,
    Skip,
}

pub fn fresh(
    spec: &Spec,
    cache: &Path,
    registry: &RegistryOptions,
    packages: Packages,
) -> Result<(Lock, ImageSet), LockRunError> {
    let work = crate::base::named::work_dir(cache, "lock")?;
    let stage = BlobStore::open(cache.join("blobs")).map_err(|e| err(ErrorClass::Io, e))?;
    let base = open(
        spec.base(),
        spec.image().platforms(),
        false,
        work.path(),
        &stage,
        &LayerParams::default(),
        registry,
    )
    .map_err(|e| err(ErrorClass::Input, e))?;
    let set = ImageSet {
        index_digest: base.digest.clone(),
        images: base.images.clone(),
    };
    let reference = spec.base().to_string();
    let mut l = super::compute(spec, &set, &reference).map_err(|e| err(ErrorClass::Io, e))?;
    let req = crate::build::PackagesReq {
        repositories: spec.repositories().to_vec(),
        install: spec.packages().install().to_vec(),
        exclude: spec.packages().exclude().to_vec(),
        locked: None,
    };
    if !req.is_empty() {
        l.package_request = Some(crate::packages::request_digest(
            &req.repositories,
            &req.install,
            &req.exclude,
        ));
        if packages == Packages::Resolve {
            l.packages = resolve_packages(&req, &base, &stage, &cache.join("cache"))?;
        }
    }
    Ok((l, set))
}

/// Every platform's packages, resolved on the base as the build sees it:
/// hardened, so a package hardening drops from the base is not counted as
/// installed.
fn resolve_packages(
    req: &crate::build::PackagesReq,
    base: &crate::base::resolve::ResolvedBase,
    stage: &BlobStore,
    cache_root: &Path,
) -> Result<Vec<super::LockedPackages>, LockRunError> {
    let fetch = crate::packages::fetch::HttpFetch::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = Vec::new();
    for img in &base.images {
        let hardened = crate::harden::harden(img, &base.blobs, stage, &LayerParams::default())
            .map_err(|e| err(ErrorClass::Input, e))?;
        if let Some(r) = req.repositories.first() {
            crate::packages::base_db::check(r.kind(), &hardened.tree)
                .map_err(|e| err(ErrorClass::Input, e))?;
        }
        let r = crate::packages::resolve::resolve(
            req,
            &img.platform,
            &hardened.tree,
            &fetch,
            now,
            true,
        )
        .map_err(|e| err(ErrorClass::Input, e))?;
        let mut pinned = r.pinned;
        crate::packages::apk::pins::measure(
            &mut pinned,
            &crate::packages::cache::PackageCache::new(cache_root),
            &fetch,
        )
        .map_err(|e| err(ErrorClass::Input, e))?;
        out.push(super::LockedPackages {
            platform: img.platform.to_string(),
            indexes: r.indexes,
            pinned,
        });
    }
    Ok(out)
}

/// What `ironhull lock` did.
#[derive(Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The lock file matches what the inputs resolve to.
    UpToDate(PathBuf),
    /// The lock file was written (new, or `update` asked for it).
    Written(PathBuf),
    /// The lock file differs and `update` was not asked for: the changes.
    OutOfDate { path: PathBuf, changes: Vec<String> },
}

/// `ironhull lock`: writes the lock beside the spec, or (when one exists and
/// `update` is false) says whether it still matches.
pub fn lock(
    spec: &Spec,
    spec_path: &Path,
    update: bool,
    cache: &Path,
    registry: &RegistryOptions,
) -> Result<LockOutcome, LockRunError> {
    let path = Lock::path_for(spec_path);
    let old = Lock::read(&path).map_err(|e| err(ErrorClass::Input, e))?;
    let (now, _) = fresh(spec, cache, registry, Packages::Resolve)?;
    match old {
        Some(old) if !update => {
            let changes = old.differences(&now);
            if changes.is_empty() {
                Ok(LockOutcome::UpToDate(path))
            } else {
                Ok(LockOutcome::OutOfDate { path, changes })
            }
        }
        _ => {
            now.write(&path).map_err(|e| err(ErrorClass::Io, e))?;
            Ok(LockOutcome::Written(path))
        }
    }
}

/// For `build --locked`: `Ok` when the inputs resolve exactly as the lock
/// says; otherwise an input error listing the differences.
pub fn check_locked(
    spec: &Spec,
    spec_path: &Path,
    cache: &Path,
    registry: &RegistryOptions,
) -> Result<(), LockRunError> {
    let path = Lock::path_for(spec_path);
    let Some(old) = Lock::read(&path).map_err(|e| err(ErrorClass::Input, e))? else {
        return Err(err(
            ErrorClass::Input,
            format!(
                "--locked: no {LOCK_FILE} beside {}; create it with `ironhull lock`",
                spec_path.display()
            ),
        ));
    };
    // The packages are not resolved again: the lock holds them, and a
    // locked build installs exactly those. What must match is the request.
    let (mut now, _) = fresh(spec, cache, registry, Packages::Skip)?;
    if now.package_request == old.package_request {
        now.packages = old.packages.clone();
    }
    let diffs = old.differences(&now);
    if diffs.is_empty() {
        return Ok(());
    }
    Err(err(
        ErrorClass::Input,
        format!(
            "--locked: the inputs no longer match {}:\n  {}\nrun `ironhull lock --update` if the changes are intended",
            path.display(),
            diffs.join("\n  ")
        ),
    ))
}

/// The digest the lock pins a registry base to, when the lock names the same
/// base the spec does: the index, or the one platform's manifest. Without
/// `--locked` this still makes rebuilds pull what was locked;
/// `ironhull lock --update` moves it.
pub fn pinned_base(spec_path: &Path, spec_base: &str, base: &Reference) -> Option<Digest> {
    if base.digest().is_some() {
        return None;
    }
    let l = Lock::read(&Lock::path_for(spec_path)).ok()??;
    if l.base.reference != spec_base {
        return None;
    }
    l.base
        .index
        .clone()
        .or_else(|| match l.base.platforms.as_slice() {
            [one] => Some(one.manifest.clone()),
            _ => None,
        })
}

/// One platform whose base moved since the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedPlatform {
    pub platform: String,
    pub locked: Option<Digest>,
    pub locked_created: Option<String>,
    pub current: Digest,
    pub current_created: Option<String>,
}

/// What `ironhull outdated` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outdated {
    /// The base as the spec writes it.
    pub base: String,
    pub locked_index: Option<Digest>,
    pub current_index: Option<Digest>,
    /// Platforms whose manifest moved (or that the lock lacks).
    pub moved: Vec<MovedPlatform>,
    /// Locked OS packages whose repository now resolves to another version
    /// (how security updates reach a rebuild).
    pub packages: Vec<NewerPackage>,
}

/// A locked package that resolves differently now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewerPackage {
    pub platform: String,
    pub name: String,
    pub locked: String,
    /// `None`: no longer resolved at all.
    pub current: Option<String>,
}

impl Outdated {
    pub fn index_moved(&self) -> bool {
        self.locked_index != self.current_index
    }

    /// True when a rebuild would use a different base or other packages.
    pub fn drifted(&self) -> bool {
        !self.moved.is_empty() || self.index_moved() || !self.packages.is_empty()
    }
}

/// `ironhull outdated`: has the base moved since the lock was written?
pub fn outdated(
    spec: &Spec,
    spec_path: &Path,
    cache: &Path,
    registry: &RegistryOptions,
) -> Result<Outdated, LockRunError> {
    let path = Lock::path_for(spec_path);
    let old = match Lock::read(&path).map_err(|e| err(ErrorClass::Input, e))? {
        Some(l) => l,
        None => {
            return Err(err(
                ErrorClass::Input,
                format!(
                    "no {LOCK_FILE} beside {}; create it with `ironhull lock`",
                    spec_path.display()
                ),
            ));
        }
    };
    let (now, _) = fresh(spec, cache, registry, Packages::Resolve)?;
    let mut moved = Vec::new();
    for p in &now.base.platforms {
        let locked = old.base.platforms.iter().find(|o| o.platform == p.platform);
        if locked.is_none_or(|o| o.manifest != p.manifest) {
            moved.push(MovedPlatform {
                platform: p.platform.clone(),
                locked: locked.map(|o| o.manifest.clone()),
                locked_created: locked.and_then(|o| o.created.clone()),
                current: p.manifest.clone(),
                current_created: p.created.clone(),
            });
        }
    }
    let mut packages = Vec::new();
    for lp in &old.packages {
        let current = now.packages.iter().find(|n| n.platform == lp.platform);
        for p in &lp.pinned {
            let c = current.and_then(|n| n.pinned.iter().find(|x| x.name == p.name));
            if c.is_none_or(|c| c.version != p.version || c.sha256 != p.sha256) {
                packages.push(NewerPackage {
                    platform: lp.platform.clone(),
                    name: p.name.clone(),
                    locked: p.version.clone(),
                    current: c.map(|c| c.version.clone()),
                });
            }
        }
    }
    Ok(Outdated {
        base: now.base.reference.clone(),
        locked_index: old.base.index.clone(),
        current_index: now.base.index.clone(),
        moved,
        packages,
    })
}
