//! Staging fresh `oci:` layouts, and the advisory locks that keep
//! concurrent builds into one layout from losing each other's work.
//!
//! **Stages.** A fresh layout is built in a hidden sibling directory
//! `.<name>.tmp-<random>` and renamed into place. The process that owns a
//! stage holds an exclusive `flock` on the stage directory for the stage's
//! whole life; the kernel drops the lock when the process dies, even by
//! `kill -9`. So the next build into the same destination tells a stale
//! stage (unlocked: its owner is gone, it is removed) from a live one
//! (locked: another build is running, it is left alone). A stage is created
//! as `.<name>.new-<random>`, locked, and only then renamed to its `.tmp-`
//! name, so no unlocked `.tmp-` stage of a live process is ever visible.
//!
//! **index.json.** Adding a tag to an existing layout is a read-modify-write
//! of `index.json`. Writers take an exclusive `flock` on the layout
//! directory itself (no extra file in the layout) around it, so two builds
//! tagging one layout both keep their tag. Blobs are copied before the lock
//! (content-addressed, so concurrent copies are harmless), the index is
//! written last.

use super::blobs::BlobStore;
use super::error::StoreError;
use super::layout::{parent_of, write_oci_layout};
use crate::digest::Digest;
use crate::image::Descriptor;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// An exclusive advisory lock on a directory, held until dropped.
#[derive(Debug)]
pub(crate) struct DirLock(#[allow(dead_code)] File);

impl DirLock {
    /// Blocks until the lock on `dir` is held.
    pub(crate) fn exclusive(dir: &Path) -> Result<Self, StoreError> {
        let f = File::open(dir).map_err(StoreError::io(dir))?;
        f.lock().map_err(StoreError::io(dir))?;
        Ok(Self(f))
    }

    /// The lock on `dir` when no other process holds it.
    fn try_exclusive(dir: &Path) -> Option<Self> {
        let f = File::open(dir).ok()?;
        f.try_lock().ok()?;
        Some(Self(f))
    }
}

/// A fresh `oci:` layout directory, staged as a hidden temporary directory
/// beside its final path before the build has finished, so blobs can be
/// copied (and fsynced) into it while later layers are still being
/// compressed (see [`BlobStore::mirror_to`]). [`StagedLayout::commit`]
/// writes the index and renames it into place; dropping it removes it, so a
/// failed build still leaves nothing behind; a killed build leaves a stage
/// that the next build into `dir` removes (see the module docs).
#[derive(Debug)]
pub struct StagedLayout {
    dir: PathBuf,
    tmp: PathBuf,
    store: BlobStore,
    committed: bool,
    _lock: DirLock,
}

fn stage_prefix(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "layout".into());
    format!(".{name}.tmp-")
}

/// Removes the stages of `dir` whose owner is gone (unlocked), and returns
/// how many. Live stages (locked by a running build) are left alone; so is
/// anything that is not a plain directory.
pub fn remove_stale_stages(dir: &Path) -> usize {
    let parent = parent_of(dir);
    let prefix = stage_prefix(dir);
    let Ok(rd) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(&prefix) {
            continue;
        }
        let p = e.path();
        if !fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if let Some(lock) = DirLock::try_exclusive(&p) {
            if fs::remove_dir_all(&p).is_ok() {
                removed += 1;
            }
            drop(lock);
        }
    }
    removed
}

impl StagedLayout {
    /// Stages `dir`, or returns `None` when it already exists (an existing
    /// layout is updated in place at output time instead). Stale stages of
    /// `dir` left by killed builds are removed first.
    pub fn new(dir: &Path) -> Result<Option<Self>, StoreError> {
        match fs::metadata(dir) {
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = parent_of(dir);
                fs::create_dir_all(parent).map_err(StoreError::io(parent))?;
                remove_stale_stages(dir);
                let prefix = stage_prefix(dir);
                let new_prefix = format!("{}new-", prefix.trim_end_matches("tmp-"));
                let born = tempfile::Builder::new()
                    .prefix(&new_prefix)
                    .tempdir_in(parent)
                    .map_err(StoreError::io(parent))?;
                let lock = DirLock::exclusive(born.path())?;
                let suffix = born
                    .path()
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(&new_prefix))
                    .unwrap_or("x")
                    .to_string();
                let tmp = parent.join(format!("{prefix}{suffix}"));
                fs::rename(born.path(), &tmp).map_err(StoreError::io(&tmp))?;
                // Renamed away: the TempDir guard must not remove anything now.
                let _ = born.keep();
                let mut staged = Self {
                    dir: dir.to_path_buf(),
                    tmp,
                    store: BlobStore::existing(PathBuf::new()),
                    committed: false,
                    _lock: lock,
                };
                staged.store = BlobStore::open(staged.tmp.join("blobs"))
                    .map_err(StoreError::from_blob(staged.tmp.display()))?;
                Ok(Some(staged))
            }
            Err(e) => Err(StoreError::Io {
                path: dir.into(),
                source: e,
            }),
        }
    }

    /// The (durable) blob store inside the staged directory.
    pub fn store(&self) -> &BlobStore {
        &self.store
    }

    /// Where the layout goes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`write_oci_layout`] into the staged directory: copies whatever blob
    /// is still missing, removes staged blobs the image does not reference
    /// (the mirror copies every blob the build wrote), writes `oci-layout`
    /// and `index.json`, and renames the directory into place. If `dir`
    /// appeared meanwhile (another build got there first), it is written
    /// the normal, locked way instead.
    pub fn commit(
        mut self,
        tag: &str,
        top: &Descriptor,
        blobs: &[Digest],
        src: &BlobStore,
    ) -> Result<(), StoreError> {
        if fs::metadata(&self.dir).is_ok() {
            return write_oci_layout(&self.dir, tag, top, blobs, src);
        }
        super::layout::validate_tag(tag)?;
        let all = super::layout::blob_set(top, blobs, src)?;
        let sha = self.store.root().join("sha256");
        for e in fs::read_dir(&sha).map_err(StoreError::io(&sha))? {
            let e = e.map_err(StoreError::io(&sha))?;
            let keep = e
                .file_name()
                .to_str()
                .and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
                .is_some_and(|d| all.contains(&d));
            if !keep {
                fs::remove_file(e.path()).map_err(StoreError::io(&e.path()))?;
            }
        }
        super::layout::populate(&self.tmp, tag, top, &all, src)?;
        match fs::rename(&self.tmp, &self.dir) {
            Ok(()) => {
                self.committed = true;
                Ok(())
            }
            // Lost the race to another build: add our tag to its layout.
            Err(_) if fs::metadata(&self.dir).is_ok() => {
                write_oci_layout(&self.dir, tag, top, blobs, src)
            }
            Err(e) => Err(StoreError::Io {
                path: self.dir.clone(),
                source: e,
            }),
        }
    }
}

impl Drop for StagedLayout {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_stages_are_removed_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("out");
        // A stage whose owner died: nobody holds its lock.
        let stale = d.path().join(".out.tmp-dead");
        fs::create_dir_all(stale.join("blobs/sha256")).unwrap();
        fs::write(stale.join("blobs/sha256/x"), b"partial").unwrap();
        // A live stage of another build.
        let live = StagedLayout::new(&d.path().join("elsewhere/out")).unwrap();
        let live_other = StagedLayout::new(&dir).unwrap().unwrap();
        let live_path = live_other.tmp.clone();
        // Not a stage of ours, and a symlink posing as one.
        fs::create_dir(d.path().join(".other.tmp-x")).unwrap();
        let victim = d.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("keep"), b"k").unwrap();
        std::os::unix::fs::symlink(&victim, d.path().join(".out.tmp-link")).unwrap();

        assert!(!stale.exists(), "StagedLayout::new removed the stale stage");
        assert!(live_path.is_dir(), "a live stage is never removed");
        assert_eq!(remove_stale_stages(&dir), 0);
        assert!(live_path.is_dir());
        assert!(d.path().join(".other.tmp-x").is_dir());
        assert!(victim.join("keep").is_file(), "a symlink is not followed");
        drop(live_other);
        assert!(!live_path.exists(), "dropped without commit: removed");
        drop(live);
    }
}
