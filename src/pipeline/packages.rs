//! The packages stage: the pinned packages of one platform, fetched by
//! sha256 (through the package cache), installed on the hardened base by
//! ironhull ([`crate::packages::install`]), written as package layers in
//! install order (grouped under the layer budget) plus one layer with the
//! package database. It runs after hardening, so the base's database it
//! extends is the hardened one, and before the accounts and artifact
//! layers, so they land on top exactly as without packages.
//!
//! Layers are cached by the sha256 of the packages they hold, the base's
//! layers and the layer parameters: a rebuild from the same lock unpacks
//! and compresses nothing.

use super::built::BuildError;
use crate::build::cache::{self, LayerCache, Lookup};
use crate::fs::{Entry, EntryKind, MergedTree};
use crate::image::LayerBlob;
use crate::layer::{LayerParams, LayerWriter, path_order};
use crate::packages::apk::apk_file::ApkFile;
use crate::packages::cache::{PackageCache, PackageFileError};
use crate::packages::deb::database::{self, Record};
use crate::packages::deb::deb_file::DebFile;
use crate::packages::fetch::Fetch;
use crate::packages::install::{self, DataError, InstallError, Installed, PackageData, ToInstall};
use crate::packages::{Pinned, deb::relation};
use crate::store::BlobStore;

/// Why the packages stage failed.
#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    #[error(transparent)]
    File(#[from] PackageFileError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Database(#[from] database::DatabaseError),
    #[error("ironhull.lock has no packages for {platform}; run `ironhull lock --update`")]
    NotLocked { platform: String },
    #[error(transparent)]
    Resolve(#[from] crate::packages::resolve::ResolveError),
    #[error(transparent)]
    Kind(#[from] crate::packages::base_db::KindMismatch),
    #[error(
        "the base's apk database {path} cannot be extended: {why}; remove that package from [packages] install if the base already has it, or use a base whose database is intact"
    )]
    ApkDatabase { path: String, why: String },
}

/// What the stage added for one platform.
pub struct PackageLayers {
    /// The package layers, then the database layer, each with what it holds.
    pub layers: Vec<(LayerBlob, String)>,
    pub installed: Vec<Installed>,
    /// Package files taken from the cache / downloaded.
    pub cached: usize,
    pub downloaded: usize,
}

/// Most bytes one package file may have (the index's size is checked too).
const MAX_DEB_BYTES: u64 = 2 << 30;

fn replaces_of(control: &str) -> Vec<String> {
    let Ok(stanzas) = crate::packages::deb::control::parse(control) else {
        return Vec::new();
    };
    let Some(field) = stanzas.first().and_then(|s| s.get("Replaces")) else {
        return Vec::new();
    };
    relation::parse(field)
        .map(|r| r.into_iter().flatten().map(|a| a.name).collect())
        .unwrap_or_default()
}

/// Splits `n` packages into at most `budget` consecutive groups of nearly
/// equal size (the first ones one larger), so the split depends only on
/// `n` and `budget`.
fn groups(n: usize, budget: usize) -> Vec<std::ops::Range<usize>> {
    let g = budget.max(1).min(n);
    let mut out = Vec::with_capacity(g);
    let mut start = 0;
    for i in 0..g {
        let len = n / g + usize::from(i < n % g);
        out.push(start..start + len);
        start += len;
    }
    out
}

/// The packages to install for one platform: the lock's pins when the
/// request has them (no index is read), else a fresh resolution against
/// the repositories and the hardened base's own database.
pub(crate) fn pins_for(
    req: &crate::build::BuildRequest,
    base_img: &crate::image::PlatformImage,
    tree: &MergedTree,
    fetch: &dyn Fetch,
    cache_root: &std::path::Path,
) -> Result<Vec<Pinned>, BuildError> {
    let platform = base_img.platform.to_string();
    if let Some(r) = req.packages.repositories.first() {
        crate::packages::base_db::check(r.kind(), tree).map_err(PackagesError::from)?;
    }
    if let Some(locked) = &req.packages.locked {
        return locked
            .get(&platform)
            .cloned()
            .ok_or_else(|| PackagesError::NotLocked { platform }.into());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r = crate::packages::resolve::resolve(
        &req.packages,
        &base_img.platform,
        tree,
        fetch,
        now,
        true,
    )
    .map_err(PackagesError::from)?;
    let mut pinned = r.pinned;
    crate::packages::apk::pins::measure(&mut pinned, &PackageCache::new(cache_root), fetch)
        .map_err(PackagesError::from)?;
    Ok(pinned)
}

/// Installs `pins` (in install order) on `tree`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn install_packages(
    pins: &[Pinned],
    tree: &MergedTree,
    base_layers: &[LayerBlob],
    store: &BlobStore,
    params: &LayerParams,
    budget: usize,
    static_base: bool,
    cache_root: &std::path::Path,
    layer_cache: Option<&LayerCache>,
    verify: &mut dyn FnMut(&std::path::Path, &crate::digest::Digest) -> bool,
    fetch: &dyn Fetch,
    auth: &crate::cache_auth::CacheAuth,
) -> Result<PackageLayers, BuildError> {
    let files = PackageCache::new(cache_root);
    let mut out = PackageLayers {
        layers: Vec::new(),
        installed: Vec::new(),
        cached: 0,
        downloaded: 0,
    };
    if pins.is_empty() {
        return Ok(out);
    }
    // The whole set's key: any change to a package, the base or the layer
    // parameters is a different key.
    let mut parts: Vec<(&str, Vec<u8>)> = Vec::new();
    for l in base_layers {
        parts.push(("base", l.diff_id.to_string().into_bytes()));
    }
    for p in pins {
        parts.push((
            "package",
            format!("{}\0{}\0{}", p.sha256, p.name, p.via.join(">")).into_bytes(),
        ));
    }
    parts.push(("budget", budget.to_le_bytes().to_vec()));
    let ranges = groups(pins.len(), budget);
    let keys: Vec<cache::CacheKey> = (0..=ranges.len())
        .map(|i| {
            let mut p = parts.clone();
            p.push(("layer", i.to_le_bytes().to_vec()));
            cache::key_of_parts(params, "packages", &p)
        })
        .collect();
    let hits: Vec<Option<LayerBlob>> = keys
        .iter()
        .map(|k| match layer_cache.map(|c| c.get(k, store, verify)) {
            Some(Lookup::Hit(b)) => Some(b),
            _ => None,
        })
        .collect();
    let describe = |r: &std::ops::Range<usize>| {
        pins[r.clone()]
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect::<Vec<_>>()
            .join(", ")
    };

    // Every layer cached, and the report of the install that made them
    // sealed beside them: nothing to read, unpack or compress. (The layers
    // were made by a plan that passed every check, and the gate judges the
    // image again.)
    let report_path = cache_root
        .join("packages")
        .join(format!("report-{}.json", keys[ranges.len()].digest().hex()));
    if hits.iter().all(Option::is_some)
        && let Some(installed) = read_report(&report_path, auth)
    {
        for (gi, r) in ranges.iter().enumerate() {
            if let Some(b) = &hits[gi] {
                out.layers
                    .push((b.clone(), format!("packages: {}", describe(r))));
            }
        }
        if let Some(b) = &hits[ranges.len()] {
            out.layers.push((b.clone(), "the package database".into()));
        }
        out.installed = installed;
        out.cached = pins.len();
        return Ok(out);
    }

    let apk_db = match crate::packages::base_db::of(tree) {
        crate::packages::base_db::BaseDb::Apk(p) => Some(p),
        _ => None,
    };
    let mut payloads = Vec::with_capacity(pins.len());
    for p in pins {
        let (bytes, cached) = files.get(p, fetch).map_err(PackagesError::from)?;
        if cached {
            out.cached += 1;
        } else {
            out.downloaded += 1;
        }
        let unreadable = |e: DataError| {
            PackagesError::Install(InstallError::Unreadable {
                package: p.name.clone(),
                version: p.version.clone(),
                source: e,
            })
        };
        payloads.push(if apk_db.is_some() {
            let q1 = crate::packages::apk::pins::q1_of(p).map_err(PackagesError::from)?;
            Payload::Apk(Box::new(
                ApkFile::parse(&bytes, &q1).map_err(|e| unreadable(Box::new(e)))?,
            ))
        } else {
            Payload::Deb(
                DebFile::parse(&bytes, MAX_DEB_BYTES).map_err(|e| unreadable(Box::new(e)))?,
            )
        });
    }
    let to_install: Vec<ToInstall<'_>> = pins
        .iter()
        .zip(&payloads)
        .map(|(p, payload)| ToInstall {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.architecture.clone(),
            chain: if p.via.is_empty() {
                vec![p.name.clone()]
            } else {
                p.via.clone()
            },
            replaces: payload.replaces(),
            data: payload.data(),
        })
        .collect();
    // The plan is always made, even when every layer is cached: it is what
    // refuses a shell and reports what was changed, and it is cheap next to
    // compressing.
    let base_files = if static_base {
        install::BaseFiles::Replace
    } else {
        install::BaseFiles::Keep
    };
    let mut plan = install::plan_on(tree, &to_install, params.mtime, base_files)
        .map_err(PackagesError::from)?;
    crate::packages::effects::apply(&mut plan, tree, params.mtime);

    for (gi, r) in ranges.iter().enumerate() {
        let blob = match &hits[gi] {
            Some(b) => b.clone(),
            None => {
                let mut entries: Vec<&install::Staged> = plan
                    .staged
                    .values()
                    .filter(|s| r.contains(&s.package))
                    .collect();
                entries.sort_by(|a, b| path_order(&a.entry.path, &b.entry.path));
                let mut w = LayerWriter::new(store, params)?;
                for s in entries {
                    match &s.content {
                        Some(c) => w.append(&s.entry, Some(&mut &c[..]))?,
                        None => w.append(&s.entry, None)?,
                    }
                }
                let b = w.finish()?;
                if let Some(c) = layer_cache {
                    let _ = c.put(&keys[gi], &b);
                }
                b
            }
        };
        out.layers
            .push((blob, format!("packages: {}", describe(r))));
    }

    let db_index = ranges.len();
    let db = match &hits[db_index] {
        Some(b) => b.clone(),
        None => {
            let entries = match &apk_db {
                Some(path) => apk_database(tree, path, &plan.packages, &payloads, params.mtime)?,
                None => {
                    let records: Vec<Record<'_>> = plan
                        .packages
                        .iter()
                        .zip(&payloads)
                        .filter_map(|(i, d)| match d {
                            Payload::Deb(d) => Some(Record {
                                name: &i.name,
                                control: &d.control,
                                md5sums: &i.md5sums,
                            }),
                            Payload::Apk(_) => None,
                        })
                        .collect();
                    database::entries(tree, &records, params.mtime).map_err(PackagesError::from)?
                }
            };
            let mut w = LayerWriter::new(store, params)?;
            for (e, bytes) in &entries {
                let mut e: Entry = e.clone();
                if e.kind == EntryKind::File {
                    e.size = bytes.len() as u64;
                }
                w.append(&e, Some(&mut &bytes[..]))?;
            }
            let b = w.finish()?;
            if let Some(c) = layer_cache {
                let _ = c.put(&keys[db_index], &b);
            }
            b
        }
    };
    out.layers.push((db, "the package database".into()));
    write_report(&report_path, auth, &plan.packages);
    out.installed = plan.packages;
    Ok(out)
}

/// A package file, read and verified.
enum Payload {
    Deb(DebFile),
    Apk(Box<ApkFile>),
}

impl Payload {
    fn data(&self) -> &dyn PackageData {
        match self {
            Payload::Deb(d) => d,
            Payload::Apk(a) => a.as_ref(),
        }
    }

    /// The package names it declares it may overwrite files of (deb
    /// `Replaces`, apk `r:`).
    fn replaces(&self) -> std::collections::BTreeSet<String> {
        match self {
            Payload::Deb(d) => replaces_of(&d.control).into_iter().collect(),
            Payload::Apk(a) => a
                .pkginfo
                .replaces
                .iter()
                .map(|r| {
                    let end = r.find(['=', '<', '>', '~']).unwrap_or(r.len());
                    r[..end].to_string()
                })
                .collect(),
        }
    }
}

/// The apk database layer: the base's `installed` at `path` with one
/// stanza per installed package appended, listing every path the package
/// owns with its mode as installed and its verified SHA-1.
fn apk_database(
    tree: &MergedTree,
    path: &crate::fs::ImagePath,
    installed: &[Installed],
    payloads: &[Payload],
    mtime: u64,
) -> Result<Vec<(Entry, Vec<u8>)>, BuildError> {
    use crate::packages::apk::database::{self as apkdb, DbPackage, InstalledPath};
    let db_err = |e: apkdb::DbError| PackagesError::ApkDatabase {
        path: path.to_abs(),
        why: e.to_string(),
    };
    let mut stanzas = Vec::with_capacity(installed.len());
    for (i, p) in installed.iter().zip(payloads) {
        let Payload::Apk(a) = p else { continue };
        let paths: Vec<InstalledPath> = i
            .files
            .iter()
            .map(|e| InstalledPath::from_entry(e, e.mode))
            .collect();
        stanzas.push(apkdb::stanza(&DbPackage::of(a), &paths).map_err(db_err)?);
    }
    let base = tree
        .content(path)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let text = apkdb::append(&base, &stanzas).map_err(db_err)?;
    let mut e = match tree.get(path) {
        Some(n) => n.entry.clone(),
        None => Entry::new(path.clone(), EntryKind::File, 0o644),
    };
    e.mtime = mtime;
    e.size = text.len() as u64;
    Ok(vec![(e, text.into_bytes())])
}

const KIND_REPORT: &str = "package-install-report";

/// The sealed report of an earlier install with the same key, if this
/// machine's cache key authenticates it.
fn read_report(
    path: &std::path::Path,
    auth: &crate::cache_auth::CacheAuth,
) -> Option<Vec<Installed>> {
    let bytes = std::fs::read(path).ok()?;
    let name = path.file_name()?.to_str()?;
    let body = auth.open(KIND_REPORT, name, &bytes)?;
    serde_json::from_slice(body).ok()
}

fn write_report(
    path: &std::path::Path,
    auth: &crate::cache_auth::CacheAuth,
    installed: &[Installed],
) {
    let (Ok(body), Some(name)) = (
        serde_json::to_vec(installed),
        path.file_name().and_then(|n| n.to_str()),
    ) else {
        return;
    };
    let sealed = auth.seal(KIND_REPORT, name, &body);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A report that cannot be written only costs the next build a replan.
    let _ = crate::store::atomic::replace(path, &sealed);
}

#[cfg(test)]
mod tests {
    use super::groups;

    #[test]
    fn groups_split_evenly_and_cover_everything() {
        assert_eq!(
            groups(10, 8),
            vec![0..2, 2..4, 4..5, 5..6, 6..7, 7..8, 8..9, 9..10]
        );
        assert_eq!(groups(3, 8), vec![0..1, 1..2, 2..3]);
        assert_eq!(groups(5, 1), vec![0..5]);
        assert_eq!(groups(4, 0), vec![0..4]);
    }
}
