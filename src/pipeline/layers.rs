//! The layers stage: what ironhull adds on top of the hardened base. The
//! accounts layer (passwd, group, shadow with every shell set to nologin,
//! the image user, its home) and one layer per artifact group, each file
//! streamed once through the inspector (pin, secrets, forbidden programs),
//! with the layer cache and the stat cache to skip unchanged groups.

use super::built::BuildError;
use crate::build::artifacts::{self, ArtifactError, Content, Planned};
use crate::build::{UserReq, cache, intake};
use crate::digest::Digest;
use crate::fs::{Entry, EntryKind, ImagePath};
use crate::harden::accounts;
use crate::image::LayerBlob;
use crate::layer::{LayerParams, LayerWriter};
use crate::policy;
use crate::store::BlobStore;
use std::io::Read;

/// An artifact group written (or taken from the cache) in this build: its
/// entries and contents, its layer, and the secret verdict of the write.
pub(crate) type WrittenGroup = (
    Vec<(ImagePath, Content)>,
    LayerBlob,
    Option<policy::Verdicts>,
);

/// Writes one artifact layer, streaming every file once through the
/// inspector (pin, secrets, forbidden programs). Returns the layer, each
/// entry's content digest (for the layer cache key) and the secret verdict
/// the detector gave for every file (for the gate, which does not read the
/// layer back). A file the detector flags stops the build here.
fn write_artifact_layer(
    group: &[Planned],
    store: &BlobStore,
    params: &LayerParams,
) -> Result<(LayerBlob, Vec<cache::ContentDigest>, policy::Verdicts), BuildError> {
    let mut w = LayerWriter::new(store, params)?;
    let mut digests = Vec::with_capacity(group.len());
    let mut verdicts = policy::Verdicts::new();
    for p in group {
        let secret = |hit: &crate::secrets::SecretHit| ArtifactError::Secret {
            number: p.artifact,
            dest: p.entry.path.to_abs(),
            why: match (hit.offset, &hit.member) {
                (_, Some(m)) => format!("{} in archive member {m}", hit.description),
                (Some(o), None) => format!("{} at byte {o}", hit.description),
                (None, None) => hit.description.to_string(),
            },
        };
        match &p.content {
            Content::None => {
                w.append(&p.entry, None)?;
                digests.push(None);
            }
            Content::Bytes(b) => {
                let hits = crate::secrets::scan_file_bytes(&p.entry.path, b);
                if let Some(hit) = hits.first() {
                    return Err(secret(hit).into());
                }
                w.append(&p.entry, Some(&mut &b[..]))?;
                digests.push(Some(Digest::of(b)));
                verdicts.insert(p.entry.path.clone(), hits);
            }
            Content::File(path) => {
                let f = artifacts::open_listed(p.artifact, path, p.source_id.as_ref())?;
                let mut insp = intake::Inspector::new(
                    std::io::BufReader::with_capacity(1 << 20, f),
                    &p.entry.path,
                );
                w.append(&p.entry, Some(&mut insp as &mut dyn Read))?;
                let found = insp.finish();
                if let Some(expected) = &p.pin
                    && expected != &found.digest
                {
                    return Err(ArtifactError::PinMismatch {
                        number: p.artifact,
                        src: path.clone(),
                        expected: expected.clone(),
                        actual: found.digest,
                    }
                    .into());
                }
                if let Some(hit) = found.secrets.first() {
                    return Err(secret(hit).into());
                }
                if let Some(evidence) = found.forbidden {
                    return Err(ArtifactError::ForbiddenContent {
                        number: p.artifact,
                        dest: p.entry.path.to_abs(),
                        evidence,
                    }
                    .into());
                }
                digests.push(Some(found.digest));
                verdicts.insert(p.entry.path.clone(), found.secrets);
            }
        }
    }
    Ok((w.finish()?, digests, verdicts))
}

/// Notes the host files of `group` and the content digests their entries
/// were written with.
fn record_reads(
    reads: &mut Vec<(std::path::PathBuf, Digest)>,
    group: &[Planned],
    digests: &[cache::ContentDigest],
) {
    for (p, d) in group.iter().zip(digests) {
        if let (Content::File(path), Some(d)) = (&p.content, d) {
            reads.push((path.clone(), d.clone()));
        }
    }
}

/// The layer cache and the stat cache, used together: a group whose files
/// all have known content digests (size, mtime, ctime, inode unchanged) is
/// looked up by its content key without reading a byte; anything else is
/// written (one read per file) and then recorded.
pub(crate) struct Caches {
    layers: Option<cache::LayerCache>,
    /// Every host file whose content is in an artifact layer of this build,
    /// with that content's digest (streamed, or the stat cache's on a layer
    /// cache hit): what a lock check or provenance must agree with.
    pub(crate) reads: Vec<(std::path::PathBuf, Digest)>,
    pub(crate) stat: std::sync::Arc<std::sync::Mutex<cache::StatCache>>,
    reporter: crate::events::SharedReporter,
}

impl Caches {
    pub(crate) fn open(
        root: &std::path::Path,
        auth: crate::cache_auth::CacheAuth,
        reporter: crate::events::SharedReporter,
    ) -> Self {
        Self {
            reporter,
            reads: Vec::new(),
            layers: cache::LayerCache::open(root.join("layers"), auth.clone()).ok(),
            stat: std::sync::Arc::new(std::sync::Mutex::new(cache::StatCache::load(
                &root.join("stat"),
                auth,
            ))),
        }
    }

    /// The layer cache, when its directory could be opened.
    pub(crate) fn layer_cache(&self) -> Option<&cache::LayerCache> {
        self.layers.as_ref()
    }

    /// The stat cache (a poisoned lock only means another thread panicked
    /// mid-update; its records are still individually valid).
    pub(crate) fn stat(&self) -> std::sync::MutexGuard<'_, cache::StatCache> {
        self.stat.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The content digests of a group when every file is known; pins are
    /// checked here too, since the write path is skipped on a hit.
    fn known_digests(
        &mut self,
        group: &[Planned],
    ) -> Result<Option<Vec<cache::ContentDigest>>, BuildError> {
        let mut out = Vec::with_capacity(group.len());
        for p in group {
            match &p.content {
                Content::None => out.push(None),
                Content::Bytes(b) => out.push(Some(Digest::of(b))),
                Content::File(path) => {
                    let Ok(meta) = std::fs::symlink_metadata(path) else {
                        return Ok(None);
                    };
                    let Some(d) = self.stat().lookup(path, &cache::StatKey::of(&meta)) else {
                        return Ok(None);
                    };
                    if let Some(expected) = &p.pin
                        && expected != &d
                    {
                        return Err(ArtifactError::PinMismatch {
                            number: p.artifact,
                            src: path.clone(),
                            expected: expected.clone(),
                            actual: d,
                        }
                        .into());
                    }
                    out.push(Some(d));
                }
            }
        }
        Ok(Some(out))
    }

    pub(crate) fn artifact_layer(
        &mut self,
        group: &[Planned],
        store: &BlobStore,
        params: &LayerParams,
    ) -> Result<(LayerBlob, Option<policy::Verdicts>), BuildError> {
        let entries = |d: &[cache::ContentDigest]| -> Vec<(Entry, cache::ContentDigest)> {
            group
                .iter()
                .zip(d)
                .map(|(p, d)| (p.entry.clone(), d.clone()))
                .collect()
        };
        let known = self.known_digests(group)?;
        if let (Some(lc), Some(d)) = (&self.layers, known) {
            let mut stat = self.stat();
            let mut verify = |p: &std::path::Path, d: &Digest| stat.holds(p, d);
            match lc.get(&cache::key(params, true, &entries(&d)), store, &mut verify) {
                // Not scanned in this build: the gate reads it back.
                cache::Lookup::Hit(blob) => {
                    drop(stat);
                    record_reads(&mut self.reads, group, &d);
                    return Ok((blob, None));
                }
                cache::Lookup::Miss => {}
                cache::Lookup::Rejected(why) => {
                    self.reporter.event(&crate::events::Event::Warning(&why))
                }
            }
        }
        let before: Vec<Option<cache::StatKey>> = group
            .iter()
            .map(|p| match &p.content {
                Content::File(path) => std::fs::symlink_metadata(path)
                    .ok()
                    .map(|m| cache::StatKey::of(&m)),
                _ => None,
            })
            .collect();
        let (blob, digests, verdicts) = write_artifact_layer(group, store, params)?;
        record_reads(&mut self.reads, group, &digests);
        for ((p, d), b) in group.iter().zip(&digests).zip(&before) {
            if let (Content::File(path), Some(d), Some(b)) = (&p.content, d, b) {
                // Record only if the file did not change while it was read.
                if std::fs::symlink_metadata(path)
                    .ok()
                    .map(|m| cache::StatKey::of(&m))
                    .as_ref()
                    == Some(b)
                {
                    self.stat().record(path, b, d);
                }
            }
        }
        if let Some(lc) = &self.layers {
            let _ = lc.put(&cache::key(params, true, &entries(&digests)), &blob);
        }
        Ok((blob, Some(verdicts)))
    }
}

/// The accounts layer: passwd and group (and shadow, when the base has one)
/// with every shell set to nologin and the image's user added, plus its home.
pub(crate) fn write_accounts_layer(
    tree: &crate::fs::merge::MergedTree,
    user: &UserReq,
    store: &BlobStore,
    params: &LayerParams,
) -> Result<LayerBlob, BuildError> {
    let home = user.home.to_abs();
    let u = accounts::User {
        name: &user.name,
        uid: user.uid,
        gid: user.gid,
        home: &home,
    };
    // The base's accounts as the runtime would read them. One that cannot
    // be read (a link to a file ironhull does not capture, or too big) is
    // refused: replacing it blindly would drop accounts the base relies on.
    let file = |p: &str| -> Result<(Option<Entry>, String), BuildError> {
        let ip = ImagePath::parse(p).unwrap_or_default();
        let node = tree.get(&ip).filter(|n| n.entry.is_file());
        let text = match accounts::read_db(tree, p) {
            accounts::AccountDb::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            accounts::AccountDb::Absent => String::new(),
            accounts::AccountDb::Unreadable(why) => {
                return Err(accounts::AccountError::Unreadable { why }.into());
            }
        };
        Ok((node.map(|n| n.entry.clone()), text))
    };
    let mut files: Vec<(ImagePath, Vec<u8>, u32, u64)> = Vec::new();
    let (pe, ptext) = file("etc/passwd")?;
    files.push((
        ImagePath::parse("etc/passwd").unwrap_or_default(),
        accounts::passwd(&ptext, &u)?.into_bytes(),
        pe.as_ref().map_or(0o644, |e| e.mode),
        pe.as_ref().map_or(0, |e| e.gid),
    ));
    let (ge, gtext) = file("etc/group")?;
    files.push((
        ImagePath::parse("etc/group").unwrap_or_default(),
        accounts::group(&gtext, &u)?.into_bytes(),
        ge.as_ref().map_or(0o644, |e| e.mode),
        ge.as_ref().map_or(0, |e| e.gid),
    ));
    let (se, stext) = file("etc/shadow")?;
    if let Some(se) = se {
        files.push((
            ImagePath::parse("etc/shadow").unwrap_or_default(),
            accounts::shadow(&stext, &u).into_bytes(),
            se.mode,
            se.gid,
        ));
    }
    // gshadow repeats group membership (admins and members); the image user
    // leaves the privileged groups there too.
    let (gse, gstext) = file("etc/gshadow")?;
    if let Some(gse) = gse {
        files.push((
            ImagePath::parse("etc/gshadow").unwrap_or_default(),
            accounts::gshadow(&gstext, &gtext, &u).into_bytes(),
            gse.mode,
            gse.gid,
        ));
    }
    let mut entries: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
    for (p, bytes, mode, gid) in files {
        let mut e = Entry::new(
            p,
            EntryKind::File,
            crate::harden::rules::hardened_mode(&Entry::new(
                ImagePath::root(),
                EntryKind::File,
                mode,
            )),
        );
        e.gid = gid;
        e.size = bytes.len() as u64;
        e.mtime = params.mtime;
        entries.push((e, Some(bytes)));
    }
    // The home directory, owned by the user; parents stay as the base has them.
    for anc in user.home.ancestors() {
        if tree.get(&anc).is_none() {
            let mut e = Entry::new(anc, EntryKind::Dir, 0o755);
            e.mtime = params.mtime;
            entries.push((e, None));
        }
    }
    let mut h = Entry::new(user.home.clone(), EntryKind::Dir, 0o700);
    h.uid = user.uid as u64;
    h.gid = user.gid as u64;
    h.mtime = params.mtime;
    entries.push((h, None));
    entries.sort_by(|a, b| crate::layer::path_order(&a.0.path, &b.0.path));
    let mut w = LayerWriter::new(store, params)?;
    for (e, content) in &entries {
        match content {
            Some(b) => w.append(e, Some(&mut &b[..]))?,
            None => w.append(e, None)?,
        }
    }
    Ok(w.finish()?)
}
