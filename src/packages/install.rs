//! Installing packages without a package manager: every file of every
//! package, read by ironhull's strict tar reader, placed where the base's
//! layout says (a merged-`/usr` base keeps its `/bin -> usr/bin` links; a
//! package's `./bin/x` lands in `usr/bin/x`), checked against the base and
//! the other packages, and judged by the same detectors as base layers and
//! artifacts before it is staged for a layer.
//!
//! What is refused, and why (the build stops, naming the package and the
//! chain that pulled it in):
//! - a shell, a package manager, a busybox toolbox (by name or content: the
//!   one detector, [`crate::detect`] and [`crate::harden::rules`]). A shell
//!   pulled in only as a dependency is still refused: the fix is `exclude`;
//! - whiteouts (a package cannot delete base files), device nodes;
//! - a file that another package or the base already has with other
//!   content, unless the later package declares `Replaces` on the owner;
//! - a path that would have to replace a base symlink or directory with
//!   something else (the base layout is never changed by a package).
//!
//! What is changed, and reported per package: setuid/setgid bits and world
//! write (outside sticky directories) are removed, as hardening does for
//! bases ([`crate::harden::rules::hardened_mode`]); files in package caches
//! are dropped. Owners are kept (root, mostly); mtimes become the build's.

use crate::detect::ContentDetector;
use crate::digest::Digest;
use crate::fs::merge::resolve_with;
use crate::fs::{Entry, EntryKind, ImagePath, LayerEvent, MergedTree, ReadError, ReadOptions};
use crate::harden::rules::{self, Reason};
use crate::packages::deb::deb_file::{DebFile, DebFileError};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

/// The error a package reader gives, kept whole for the message.
pub type DataError = Box<dyn std::error::Error + Send + Sync>;

/// A package's payload as the installer reads it: a `.deb`'s `data.tar` or
/// an `.apk`'s data segment. The installer does not care which: both are
/// streamed through the strict layer reader and judged the same way; only
/// the database each format keeps needs a different digest of every file.
pub trait PackageData {
    /// Streams the payload's entries through the strict reader with `opts`
    /// (the payload may ask for more, e.g. apk's per-file checksums).
    fn read_entries(
        &self,
        opts: &ReadOptions,
        visit: &mut dyn FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
    ) -> Result<(), DataError>;
    /// The maintainer scripts it carries (none is ever run).
    fn scripts(&self) -> Vec<String>;
    /// The digest its database records for every installed file.
    fn file_digest(&self) -> FileDigest;
}

/// Which digest of each installed file the format's database records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileDigest {
    /// dpkg's `md5sums`.
    Md5,
    /// apk's `Z:Q1…` lines: the SHA-1 the `.apk` reader already verified
    /// against the package's per-file checksum, carried on the entry.
    Sha1,
}

impl PackageData for DebFile {
    fn read_entries(
        &self,
        opts: &ReadOptions,
        visit: &mut dyn FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
    ) -> Result<(), DataError> {
        self.read_data(opts, visit)
            .map_err(|e: DebFileError| -> DataError { Box::new(e) })
    }
    fn scripts(&self) -> Vec<String> {
        self.scripts.clone()
    }
    fn file_digest(&self) -> FileDigest {
        FileDigest::Md5
    }
}

impl PackageData for crate::packages::apk::apk_file::ApkFile {
    fn read_entries(
        &self,
        opts: &ReadOptions,
        visit: &mut dyn FnMut(LayerEvent, &mut dyn Read) -> Result<(), ReadError>,
    ) -> Result<(), DataError> {
        self.read_data(opts, visit)
            .map_err(|e| -> DataError { Box::new(e) })
    }
    fn scripts(&self) -> Vec<String> {
        self.scripts.clone()
    }
    fn file_digest(&self) -> FileDigest {
        FileDigest::Sha1
    }
}

/// One package to install, with what it is for messages and the database.
pub struct ToInstall<'a> {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub data: &'a dyn PackageData,
    /// How the request reached it: `["python3.11-minimal",
    /// "libpython3.11-minimal", "libssl3"]`; one element when requested.
    pub chain: Vec<String>,
    /// Package names its `Replaces` field names.
    pub replaces: BTreeSet<String>,
}

/// A staged entry and its content.
#[derive(Clone, Debug)]
pub struct Staged {
    pub entry: Entry,
    pub content: Option<std::sync::Arc<Vec<u8>>>,
    /// The package (index into the plan's packages) that put it here.
    pub package: usize,
}

/// What installing one package did, for the build report and the database.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Installed {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Maintainer scripts present in the package; none was run.
    #[serde(rename = "scriptsNotRun")]
    pub scripts_not_run: Vec<String>,
    /// What ironhull did instead of the scripts, when anything was needed
    /// ([`super::effects`]).
    pub instead: Vec<String>,
    /// Changes made to its files (`/usr/bin/x: setuid bit removed`).
    pub changed: Vec<String>,
    /// `md5 path` lines of the files it installed, as written (deb).
    #[serde(skip_serializing, default)]
    pub md5sums: String,
    /// Every directory, file and link of the package at its final path
    /// with its final mode (hard links name their target's final path), in
    /// the order the package lists them: what apk's database records,
    /// directories the base already had included. A file's SHA-1 is the
    /// one its reader verified (`Entry::apk_sha1`); nothing hashes again.
    #[serde(skip, default)]
    pub files: Vec<Entry>,
}

/// Everything to write: per-package staged entries (in install order) and
/// what each package did.
pub struct InstallPlan {
    pub packages: Vec<Installed>,
    /// Final path → staged entry. Sorted, so any grouping of it is in
    /// layer order.
    pub staged: BTreeMap<ImagePath, Staged>,
}

/// Why a package cannot be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "package {package} {version} cannot be read: {source}; the file matched its signed index, so the repository serves a broken package; report it to the repository"
    )]
    Unreadable {
        package: String,
        version: String,
        #[source]
        source: DataError,
    },
    #[error(
        "package {package} is refused: {path} is {what}{}; {fix}",
        chain_text(chain)
    )]
    Refused {
        package: String,
        path: String,
        what: String,
        chain: Vec<String>,
        fix: String,
    },
    #[error(
        "package {package} and {other} both install {path} with different contents; add the one you do not need to [packages] exclude, or install only one of them"
    )]
    Clash {
        package: String,
        other: String,
        path: String,
    },
    #[error(
        "package {package} would replace the base's {path} ({base}) with {what}; the base's layout is kept, so this package does not fit this base: choose a base it was built for"
    )]
    BaseLayout {
        package: String,
        path: String,
        base: &'static str,
        what: &'static str,
    },
}

fn chain_text(chain: &[String]) -> String {
    if chain.len() > 1 {
        format!(", pulled in by {}", chain.join(" -> "))
    } else {
        String::new()
    }
}

fn kind_word(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::File => "a file",
        EntryKind::Dir => "a directory",
        EntryKind::Symlink { .. } => "a symlink",
        EntryKind::Hardlink { .. } => "a hard link",
        EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } => "a device node",
        EntryKind::Fifo => "a fifo",
    }
}

/// The most bytes one package's data may expand to.
const MAX_PACKAGE_BYTES: u64 = 4 << 30;

/// Plans the installation of `pkgs` (in install order) on `base`. `mtime`
/// is the build's file time.
pub fn plan(
    base: &MergedTree,
    pkgs: &[ToInstall<'_>],
    mtime: u64,
) -> Result<InstallPlan, InstallError> {
    plan_on(base, pkgs, mtime, BaseFiles::Keep)
}

/// Whether package files may replace the base's own files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaseFiles {
    /// A clash with a base file is an error (a real distribution base: its
    /// files belong to its packages).
    Keep,
    /// Package files replace base files (ironhull's built-in `static` base,
    /// whose os-release, nsswitch.conf and CA bundle stand in for the
    /// packages that would provide them). Directories and links that shape
    /// the layout are still kept.
    Replace,
}

/// [`plan`], saying what happens to base files a package also ships.
pub fn plan_on(
    base: &MergedTree,
    pkgs: &[ToInstall<'_>],
    mtime: u64,
    base_files: BaseFiles,
) -> Result<InstallPlan, InstallError> {
    let mut staged: BTreeMap<ImagePath, Staged> = BTreeMap::new();
    let mut packages = Vec::with_capacity(pkgs.len());
    for (index, p) in pkgs.iter().enumerate() {
        let installed = stage_package(base, &mut staged, pkgs, index, p, mtime, base_files)?;
        packages.push(installed);
    }
    Ok(InstallPlan { packages, staged })
}

/// What is at `p` in the base plus everything staged so far.
fn kind_at(
    base: &MergedTree,
    staged: &BTreeMap<ImagePath, Staged>,
    p: &ImagePath,
) -> Option<EntryKind> {
    if p.is_root() {
        return Some(EntryKind::Dir);
    }
    if let Some(s) = staged.get(p) {
        return Some(s.entry.kind.clone());
    }
    base.get(p).map(|n| n.entry.kind.clone())
}

fn refuse(p: &ToInstall<'_>, path: &ImagePath, what: String) -> InstallError {
    let fix = if p.chain.len() > 1 {
        format!(
            "nothing in the image may be one; add \"{}\" to [packages] exclude if the image works without it",
            p.name
        )
    } else {
        format!(
            "nothing in the image may be one; remove \"{}\" from [packages] install",
            p.name
        )
    };
    InstallError::Refused {
        package: p.name.clone(),
        path: path.to_abs(),
        what,
        chain: p.chain.clone(),
        fix,
    }
}

fn stage_package(
    base: &MergedTree,
    staged: &mut BTreeMap<ImagePath, Staged>,
    all: &[ToInstall<'_>],
    index: usize,
    p: &ToInstall<'_>,
    mtime: u64,
    base_files: BaseFiles,
) -> Result<Installed, InstallError> {
    let mut out = Installed {
        name: p.name.clone(),
        version: p.version.clone(),
        arch: p.arch.clone(),
        scripts_not_run: p.data.scripts(),
        ..Installed::default()
    };
    let digest_kind = p.data.file_digest();
    let deb_err = |source| InstallError::Unreadable {
        package: p.name.clone(),
        version: p.version.clone(),
        source,
    };
    let opts = ReadOptions {
        max_layer_bytes: MAX_PACKAGE_BYTES,
        keep_xattrs: false,
        ..ReadOptions::default()
    };
    // The reader's callback can only return a ReadError; the install error
    // it means is kept here and returned after.
    let mut failure: Option<InstallError> = None;
    // Where each of this package's paths went (its hard links name the
    // original paths).
    let mut moved: BTreeMap<ImagePath, ImagePath> = BTreeMap::new();
    let mut md5: Vec<(ImagePath, String)> = Vec::new();
    let stop = |e: InstallError, failure: &mut Option<InstallError>| {
        *failure = Some(e);
        ReadError::Io(std::io::Error::other("package refused"))
    };
    let mut files: Vec<Entry> = Vec::new();
    let res = p.data.read_entries(&opts, &mut |ev, r| {
        let entry = match ev {
            LayerEvent::Entry(e) => e,
            LayerEvent::Whiteout(w) | LayerEvent::Opaque(w) => {
                let e = refuse(
                    p,
                    &w,
                    "a whiteout, which would delete files of the base".into(),
                );
                return Err(stop(e, &mut failure));
            }
        };
        if entry.path.is_root() {
            return Ok(());
        }
        match place(base, staged, &moved, p, entry, mtime, base_files, &mut out) {
            Err(e) => Err(stop(e, &mut failure)),
            Ok(Placed::Skipped(None)) => Ok(()),
            Ok(Placed::Skipped(Some(e))) => {
                // Not written (the base has it), but still the package's.
                files.push(e);
                Ok(())
            }
            Ok(Placed::Write(original, mut e)) => {
                let mut content = None;
                if e.is_file() {
                    let mut buf = Vec::with_capacity(usize::try_from(e.size).unwrap_or(0));
                    r.read_to_end(&mut buf).map_err(ReadError::Io)?;
                    let mut d = ContentDetector::new();
                    d.feed(&buf);
                    if let Some(ev) = d.finish() {
                        return Err(stop(refuse(p, &e.path, ev.to_string()), &mut failure));
                    }
                    if digest_kind == FileDigest::Md5 {
                        md5.push((e.path.clone(), hex::encode(md5_of(&buf))));
                    }
                    content = Some(std::sync::Arc::new(buf));
                }
                // A hard link names its target where that went.
                if let EntryKind::Hardlink { target } = &e.kind {
                    let t = moved.get(target).cloned().unwrap_or_else(|| target.clone());
                    e.kind = EntryKind::Hardlink { target: t };
                }
                files.push(e.clone());
                if let Some(prev) = staged.get(&e.path) {
                    match same_or_replaces(prev, &e, content.as_deref(), all, p) {
                        Same::Identical => {
                            moved.insert(original, e.path.clone());
                            return Ok(());
                        }
                        Same::Replace => {}
                        Same::Clash(other) => {
                            let err = InstallError::Clash {
                                package: p.name.clone(),
                                other,
                                path: e.path.to_abs(),
                            };
                            return Err(stop(err, &mut failure));
                        }
                    }
                }
                moved.insert(original, e.path.clone());
                staged.insert(
                    e.path.clone(),
                    Staged {
                        entry: e,
                        content,
                        package: index,
                    },
                );
                Ok(())
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    res.map_err(deb_err)?;
    md5.sort();
    for (path, sum) in md5 {
        out.md5sums.push_str(&format!("{sum}  {}\n", path.as_str()));
    }
    out.files = files;
    Ok(out)
}

fn md5_of(b: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(b).into()
}

enum Same {
    Identical,
    Replace,
    Clash(String),
}

/// Whether `new` at a path already staged by an earlier package is the
/// same thing (nothing to do), a declared replacement, or a clash.
fn same_or_replaces(
    prev: &Staged,
    new: &Entry,
    content: Option<&Vec<u8>>,
    all: &[ToInstall<'_>],
    p: &ToInstall<'_>,
) -> Same {
    let other = all
        .get(prev.package)
        .map(|o| o.name.clone())
        .unwrap_or_default();
    let identical = prev.entry.kind == new.kind
        && prev.entry.mode == new.mode
        && match (&prev.content, content) {
            (Some(a), Some(b)) => Digest::of(a) == Digest::of(b),
            (None, None) => true,
            _ => false,
        };
    if identical || (prev.entry.is_dir() && new.is_dir()) {
        Same::Identical
    } else if p.replaces.contains(&other) {
        Same::Replace
    } else {
        Same::Clash(other)
    }
}

/// Where an entry went.
enum Placed {
    /// Written at its final path (the original path, for hard links).
    Write(ImagePath, Entry),
    /// Nothing written: a directory or link the base already has (the
    /// entry, at its final path, still belongs to the package), or a
    /// dropped cache file (`None`).
    Skipped(Option<Entry>),
}

/// Decides where `entry` goes and what it becomes.
// The placement needs the whole context (base, staged, this package's moves,
// the package, the entry, time, base-file rule, report); a struct would only
// rename these.
#[allow(clippy::too_many_arguments)]
fn place(
    base: &MergedTree,
    staged: &BTreeMap<ImagePath, Staged>,
    moved: &BTreeMap<ImagePath, ImagePath>,
    p: &ToInstall<'_>,
    mut entry: Entry,
    mtime: u64,
    base_files: BaseFiles,
    out: &mut Installed,
) -> Result<Placed, InstallError> {
    let original = entry.path.clone();
    match &entry.kind {
        EntryKind::CharDevice { .. } | EntryKind::BlockDevice { .. } | EntryKind::Fifo => {
            return Err(refuse(
                p,
                &entry.path,
                format!("{}, which no package may create", kind_word(&entry.kind)),
            ));
        }
        _ => {}
    }
    // The parent, as the base (and the packages before) lay it out.
    let parent = original.parent().unwrap_or_else(ImagePath::root);
    let parent = match moved.get(&parent) {
        Some(m) => m.clone(),
        None => {
            let lookup = |q: &ImagePath| kind_at(base, staged, q);
            match resolve_with(&lookup, &parent) {
                Some(r) => r,
                None => {
                    return Err(InstallError::BaseLayout {
                        package: p.name.clone(),
                        path: parent.to_abs(),
                        base: "path",
                        what: "a directory (a component is missing or not a directory)",
                    });
                }
            }
        }
    };
    let path = parent
        .join(original.file_name())
        .map_err(|_| InstallError::BaseLayout {
            package: p.name.clone(),
            path: original.to_abs(),
            base: "path",
            what: "an unusable path",
        })?;
    entry.path = path.clone();
    entry.mtime = mtime;
    entry.uname.clear();
    entry.gname.clear();

    if let Some(reason) = rules::classify(&entry) {
        match reason {
            Reason::Cache => {
                out.changed
                    .push(format!("{}: dropped (package cache)", path.to_abs()));
                return Ok(Placed::Skipped(None));
            }
            r => return Err(refuse(p, &path, format!("a {r}"))),
        }
    }
    let mode = rules::hardened_mode(&entry);
    if mode != entry.mode {
        let mut what = Vec::new();
        if entry.mode & 0o6000 != mode & 0o6000 {
            what.push("setuid/setgid bits removed");
        }
        if entry.mode & 0o002 != mode & 0o002 {
            what.push("world write removed");
        }
        out.changed
            .push(format!("{}: {}", path.to_abs(), what.join(", ")));
        entry.mode = mode;
    }

    // The base's layout wins: a directory the base has (directly or through
    // a symlink) is not written again, and a base symlink or directory is
    // never replaced by something else.
    if let Some(n) = base.get(&path) {
        let base_kind = &n.entry.kind;
        match (&entry.kind, base_kind) {
            (EntryKind::Dir, EntryKind::Dir) => return Ok(Placed::Skipped(Some(entry))),
            (EntryKind::Dir, EntryKind::Symlink { .. }) => {
                let lookup = |q: &ImagePath| kind_at(base, staged, q);
                if resolve_with(&lookup, &path)
                    .and_then(|r| kind_at(base, staged, &r))
                    .is_some_and(|k| k == EntryKind::Dir)
                {
                    return Ok(Placed::Skipped(Some(entry)));
                }
                return Err(InstallError::BaseLayout {
                    package: p.name.clone(),
                    path: path.to_abs(),
                    base: "symlink",
                    what: "a directory",
                });
            }
            (EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) if a == b => {
                return Ok(Placed::Skipped(Some(entry)));
            }
            (_, EntryKind::Dir) => {
                return Err(InstallError::BaseLayout {
                    package: p.name.clone(),
                    path: path.to_abs(),
                    base: "directory",
                    what: kind_word(&entry.kind),
                });
            }
            (_, EntryKind::File) | (_, EntryKind::Symlink { .. })
                if base_files == BaseFiles::Replace && !matches!(entry.kind, EntryKind::Dir) =>
            {
                out.changed.push(format!(
                    "{}: replaces the built-in base's file",
                    path.to_abs()
                ));
            }
            (_, _) => {
                return Err(InstallError::Clash {
                    package: p.name.clone(),
                    other: "the base image".into(),
                    path: path.to_abs(),
                });
            }
        }
    }
    Ok(Placed::Write(original, entry))
}
