//! The build pipeline: spec → plan → layers → image → gate. Outputs are written
//! by [`crate::output`] only after the gate has passed, so a refused build
//! leaves nothing behind.

pub mod artifacts;
pub mod cache;
pub mod config;
pub mod from_spec;
pub mod gate_cache;
pub mod inspect;
pub mod reproduce;
pub mod request;

pub use request::{Allowance, BuildRequest, UserReq};

use crate::base::resolve::{BaseError, resolve};
use crate::cjson;
use crate::digest::Digest;
use crate::fs::{Entry, EntryKind, ImagePath};
use crate::harden::{self, Change, HardenError, accounts};
use crate::image::{Descriptor, Index, LayerBlob, PlatformImage, annotation, media};
use crate::layer::{LayerError, LayerParams, LayerWriter};
use crate::policy::{self, Policy, Report};
use crate::store::{BlobError, BlobStore};
use artifacts::{ArtifactError, Content, Ownership, Planned};
use config::AddedLayer;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Base(#[from] BaseError),
    #[error(transparent)]
    Harden(#[from] HardenError),
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("{0}")]
    Account(#[from] accounts::AccountError),
    #[error("writing a layer: {0}")]
    Layer(#[from] LayerError),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    #[error("internal error serializing JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("writing the image: {0}")]
    PutImage(#[from] crate::store::PutImageError),
    #[error("policy: {0}")]
    Policy(#[from] policy::PolicyError),
    #[error("auditing the built image: {0}")]
    Audit(#[from] policy::AuditError),
    #[error("the built image fails the security gate ({} finding(s)); nothing was written", .0.findings.len())]
    Gate(Box<Report>),
    #[error("the build is not reproducible: {0}")]
    NotReproducible(String),
    #[error("invalid SOURCE_DATE_EPOCH: {0}")]
    Time(#[from] crate::layer::time::TimeError),
}

/// Where the build keeps its blobs and scratch files.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The content-addressed store the build writes into (a cache; not an output).
    pub store: PathBuf,
    /// Scratch space for extracted archives; removed afterwards.
    pub work: PathBuf,
    /// How to reach registries (for registry bases).
    pub registry: crate::registry::RegistryOptions,
    /// Staged output stores that receive every blob as soon as it is
    /// written (see [`BlobStore::mirror_to`]); empty for none. The caller
    /// calls `built.store.finish_mirror()` before writing outputs.
    pub mirror: Vec<BlobStore>,
    /// Where warnings go (cache records that were not trusted).
    pub reporter: crate::events::SharedReporter,
}

/// One built platform image.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub image: PlatformImage,
    pub report: Report,
    pub base_layers_rewritten: usize,
    pub base_layers_reused: usize,
}

/// The result of a build, ready for the outputs.
#[derive(Debug)]
pub struct Built {
    /// The top-level descriptor: the manifest for one platform, the index for several.
    pub top: Descriptor,
    pub images: Vec<BuiltImage>,
    /// Every blob the outputs must carry.
    pub blobs: Vec<Digest>,
    pub store: BlobStore,
    pub changes: Vec<Change>,
    pub dropped_packages: Vec<String>,
    pub base_name: String,
    /// The bytes of the top-level document (what `top` describes).
    pub top_bytes: Vec<u8>,
    /// The base, for cross-repository blob mounts when pushing.
    pub base: crate::reference::Transport,
    /// The stat cache, which also remembers the output blobs verified while
    /// writing outputs: [`Built::save_caches`] after the outputs.
    stat: std::sync::Arc<std::sync::Mutex<cache::StatCache>>,
}

impl Built {
    /// Saves the stat cache (sealed) with what the outputs verified, so the
    /// next no-op rebuild need not hash those blobs again. Best effort: a
    /// cache that cannot be written only costs time next run.
    pub fn save_caches(&self) {
        if let Ok(s) = self.stat.lock() {
            let _ = s.save();
        }
    }
}

/// Runs the pipeline up to and including the gate.
pub fn build(req: &BuildRequest, opts: &BuildOptions) -> Result<Built, BuildError> {
    let mut store = BlobStore::open_cache(&opts.store)?;
    let cache_root = opts
        .store
        .parent()
        .map(|p| p.join("cache"))
        .unwrap_or_else(|| opts.store.join("cache"));
    let warn = |msg: &str| opts.reporter.event(&crate::events::Event::Warning(msg));
    let auth = crate::cache_auth::CacheAuth::load();
    if let crate::cache_auth::KeySource::Ephemeral(why) = auth.source() {
        warn(&format!(
            "no cache key ({why}); nothing cached by earlier builds is trusted, everything is verified again"
        ));
    }
    let mut caches = Caches::open(&cache_root, auth.clone(), opts.reporter.clone());
    if let Some(why) = caches.stat().take_rejection() {
        warn(&why);
    }
    // Blobs already in the cache (or in an existing output) are kept only
    // when verified; the stat cache makes that cheap for untouched files.
    store.set_verifier(std::sync::Arc::new(cache::SharedStat(caches.stat.clone())));
    store.mirror_to(opts.mirror.clone())?;
    std::fs::create_dir_all(&opts.work).map_err(|e| BlobError::Io {
        path: opts.work.clone(),
        source: e,
    })?;
    let params = &req.layer_params;
    let created = crate::layer::time::rfc3339(params.mtime)?;
    let base = resolve(
        &req.base,
        &req.platforms,
        &opts.work,
        &store,
        params,
        &opts.registry,
    )?;
    let policy = gate_policy(req)?;

    let own = Ownership {
        uid: req.user.uid,
        gid: req.user.gid,
        mtime: params.mtime,
    };
    // Artifact entries per platform, checked before anything is hardened, so a
    // missing or wrong-architecture artifact fails fast.
    let mut per_platform = Vec::new();
    for base_img in &base.images {
        let mut lists = Vec::new();
        for a in &req.artifacts {
            let input = artifact_for(a, &base_img.platform)?;
            lists.push(artifacts::collect(&input, own, Some(&base_img.platform))?);
        }
        per_platform.push(group_layers(lists, req.layer_budget)?);
    }

    let mut images = Vec::new();
    let mut changes = Vec::new();
    let mut dropped = Vec::new();
    let policy_key = gate_cache::policy_key(req);
    // Identical artifact groups (same sources, same entries) across platforms
    // give identical layers: write each once.
    let mut written: Vec<WrittenGroup> = Vec::new();
    for (base_img, groups) in base.images.iter().zip(&per_platform) {
        let hardened = harden::harden(base_img, &base.blobs, &store, params)?;
        changes.extend(hardened.changes.iter().cloned());
        dropped.extend(hardened.dropped_packages.iter().cloned());
        let accounts_layer = write_accounts_layer(&hardened.tree, &req.user, &store, params)?;
        let mut art = Vec::new();
        // The gate need not read back the artifact layers written in this
        // build: their entries are known, and it keeps the secret verdict
        // the detector gave each file while it was written. A layer taken
        // from the layer cache has no verdict from this build and is read.
        let mut prepared = policy::Prepared::new();
        for g in groups {
            let key: Vec<(ImagePath, Content)> = g
                .iter()
                .map(|p| (p.entry.path.clone(), p.content.clone()))
                .collect();
            let (blob, verdicts) = match written.iter().find(|(k, _, _)| *k == key) {
                Some((_, b, v)) => (b.clone(), v.clone()),
                None => {
                    let (b, v) = caches.artifact_layer(g, &store, params)?;
                    written.push((key, b.clone(), v.clone()));
                    (b, v)
                }
            };
            if let Some(verdicts) = verdicts {
                prepared.insert(
                    blob.digest.clone(),
                    policy::PreparedLayer {
                        entries: g.iter().map(|p| p.entry.clone()).collect(),
                        verdicts,
                    },
                );
            }
            art.push((blob, describe_group(g)));
        }

        let mut layers = hardened.layers.clone();
        layers.push(accounts_layer);
        layers.extend(art.iter().map(|(l, _)| l.clone()));
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let mut added = vec![AddedLayer {
            created_by: format!(
                "ironhull: user {}:{} ({}), /etc/passwd, /etc/group",
                req.user.uid, req.user.gid, req.user.name
            ),
            comment: Some("ironhull".into()),
        }];
        added.extend(art.iter().map(|(_, d)| AddedLayer {
            created_by: format!("ironhull: add {d}"),
            comment: Some("ironhull".into()),
        }));
        let cfg = config::image_config(
            &base_img.config,
            &base_img.platform,
            &req.runtime,
            &diff_ids,
            &added,
            &created,
        );
        let mut ann: BTreeMap<String, String> = req.annotations.clone();
        // The built-in base has no external provenance; its digest says it all.
        if base.name != "static" {
            ann.insert(annotation::BASE_NAME.into(), base.name.clone());
        }
        if let Some(d) = &base.digest {
            ann.insert(annotation::BASE_DIGEST.into(), d.to_string());
        }
        ann.insert(annotation::CREATED.into(), created.clone());
        let image = crate::store::put_image(&store, base_img.platform.clone(), cfg, layers, ann)?;
        // The gate: the same engine as `ironhull audit`, over the blobs as built.
        // A manifest digest names its config and every layer, so an image
        // gated before under the same policy and ironhull version needs no
        // second reading.
        let report = match gate_cache::load(
            &cache_root,
            &image.manifest_digest,
            &policy_key,
            &auth,
            &warn,
        ) {
            Some(r) => r,
            None => {
                let r = policy::audit_image_with(&image, &store, &policy, &prepared)?;
                if !gate_fails(&r) {
                    gate_cache::store(&cache_root, &image.manifest_digest, &policy_key, &r, &auth);
                }
                r
            }
        };
        if gate_fails(&report) {
            return Err(BuildError::Gate(Box::new(report)));
        }
        let rewritten = hardened.rewritten.iter().filter(|r| **r).count();
        images.push(BuiltImage {
            base_layers_rewritten: rewritten,
            base_layers_reused: hardened.rewritten.len() - rewritten,
            image,
            report,
        });
    }

    let mut blobs = Vec::new();
    for b in &images {
        blobs.extend(crate::store::image_blobs(&b.image));
    }
    let (top, top_bytes) = if images.len() == 1 {
        let i = &images[0].image;
        let mut d = Descriptor::new(
            media::OCI_MANIFEST,
            i.manifest_digest.clone(),
            i.manifest_bytes.len() as u64,
        );
        d.platform = Some(i.platform.clone());
        (d, i.manifest_bytes.clone())
    } else {
        let idx = Index::new(
            images
                .iter()
                .map(|b| {
                    let mut d = Descriptor::new(
                        media::OCI_MANIFEST,
                        b.image.manifest_digest.clone(),
                        b.image.manifest_bytes.len() as u64,
                    );
                    d.platform = Some(b.image.platform.clone());
                    d
                })
                .collect(),
        );
        let bytes = cjson::to_vec(&idx)?;
        let d = store.put(&bytes)?;
        blobs.push(d.clone());
        (
            Descriptor::new(media::OCI_INDEX, d, bytes.len() as u64),
            bytes,
        )
    };
    if let Ok(s) = caches.stat.lock() {
        let _ = s.save();
    }
    blobs.sort();
    blobs.dedup();
    dropped.sort();
    dropped.dedup();
    Ok(Built {
        top,
        images,
        blobs,
        store,
        changes,
        dropped_packages: dropped,
        base_name: base.name.clone(),
        top_bytes,
        base: req.base.clone(),
        stat: caches.stat.clone(),
    })
}

/// The build gate fails on any finding of a core check, and on any other
/// finding of high or critical severity that the spec did not waive.
pub fn gate_fails(report: &Report) -> bool {
    report.findings.iter().any(|f| {
        policy::catalog::lookup(f.id).is_some_and(|c| c.core)
            || f.severity >= policy::Severity::High
    })
}

fn gate_policy(req: &BuildRequest) -> Result<Policy, BuildError> {
    let mut text = String::new();
    for a in &req.allow {
        text.push_str("[[allow]]\n");
        text.push_str(&format!("check = {}\n", toml_str(&a.check)));
        if let Some(p) = &a.path {
            text.push_str(&format!("path = {}\n", toml_str(p)));
        }
        text.push_str(&format!("reason = {}\n", toml_str(&a.reason)));
    }
    let p = Policy::parse(&text, std::path::Path::new("builder.toml [policy]"))?;
    Ok(p.for_build()?)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The artifact with its source resolved for one platform.
fn artifact_for(
    a: &artifacts::ArtifactInput,
    platform: &crate::image::Platform,
) -> Result<artifacts::ArtifactInput, ArtifactError> {
    let src = a.src_spec.for_platform(platform);
    let src = src.ok_or_else(|| ArtifactError::NoSourceForPlatform {
        number: a.number,
        dest: a.dest.to_abs(),
        platform: platform.to_string(),
    })?;
    Ok(artifacts::ArtifactInput { src, ..a.clone() })
}

/// Groups artifacts into at most `budget` layers: one per artifact, and the
/// ones beyond the budget share the last layer.
fn group_layers(lists: Vec<Vec<Planned>>, budget: usize) -> Result<Vec<Vec<Planned>>, BuildError> {
    let budget = budget.max(1);
    let mut groups: Vec<Vec<Vec<Planned>>> = Vec::new();
    for (i, l) in lists.into_iter().enumerate() {
        if i < budget {
            groups.push(vec![l]);
        } else if let Some(last) = groups.last_mut() {
            last.push(l);
        }
    }
    // Two artifacts writing the same path is an error even across layers.
    let mut seen: BTreeMap<ImagePath, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for g in groups {
        let merged = artifacts::merge_sorted(g)?;
        for p in &merged {
            if p.entry.is_dir() {
                continue;
            }
            if let Some(first) = seen.insert(p.entry.path.clone(), p.artifact) {
                return Err(ArtifactError::Conflict {
                    first,
                    second: p.artifact,
                    dest: p.entry.path.to_abs(),
                }
                .into());
            }
        }
        out.push(merged);
    }
    Ok(out)
}

/// An artifact group written (or taken from the cache) in this build: its
/// entries and contents, its layer, and the secret verdict of the write.
type WrittenGroup = (
    Vec<(ImagePath, Content)>,
    LayerBlob,
    Option<policy::Verdicts>,
);

fn describe_group(g: &[Planned]) -> String {
    let mut tops: Vec<String> = Vec::new();
    for p in g {
        let n = p.artifact;
        if !tops.iter().any(|t| t.starts_with(&format!("#{n} "))) {
            tops.push(format!("#{n} {}", p.entry.path.to_abs()));
        }
    }
    tops.iter()
        .map(|t| t.split_once(' ').map(|x| x.1).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(", ")
}

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
                let mut insp = inspect::Inspector::new(
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

/// The layer cache and the stat cache, used together: a group whose files
/// all have known content digests (size, mtime, ctime, inode unchanged) is
/// looked up by its content key without reading a byte; anything else is
/// written (one read per file) and then recorded.
struct Caches {
    layers: Option<cache::LayerCache>,
    stat: std::sync::Arc<std::sync::Mutex<cache::StatCache>>,
    reporter: crate::events::SharedReporter,
}

impl Caches {
    fn open(
        root: &std::path::Path,
        auth: crate::cache_auth::CacheAuth,
        reporter: crate::events::SharedReporter,
    ) -> Self {
        Self {
            reporter,
            layers: cache::LayerCache::open(root.join("layers"), auth.clone()).ok(),
            stat: std::sync::Arc::new(std::sync::Mutex::new(cache::StatCache::load(
                &root.join("stat"),
                auth,
            ))),
        }
    }

    /// The stat cache (a poisoned lock only means another thread panicked
    /// mid-update; its records are still individually valid).
    fn stat(&self) -> std::sync::MutexGuard<'_, cache::StatCache> {
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

    fn artifact_layer(
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
                cache::Lookup::Hit(blob) => return Ok((blob, None)),
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
fn write_accounts_layer(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::artifacts::ArtifactInput;
    use crate::build::config::Runtime;
    use crate::layer::Compression;
    use crate::reference::Transport;

    fn request(dir: &std::path::Path) -> BuildRequest {
        let bin = dir.join("app");
        std::fs::write(&bin, b"\x7fELF not really, but executable bytes").unwrap();
        BuildRequest {
            name: "t".into(),
            tags: vec!["1".into()],
            base: Transport::Static,
            platforms: vec![],
            user: UserReq {
                uid: 10001,
                gid: 10001,
                name: "app".into(),
                home: ImagePath::parse("/home/app").unwrap(),
            },
            artifacts: vec![ArtifactInput {
                number: 1,
                src_spec: crate::spec::ArtifactSrc::Path(bin.clone()),
                src: bin,
                dest: ImagePath::parse("/app/app").unwrap(),
                mode: Some(0o555),
                sha256: None,
                writable: false,
                strip_prefix: None,
                include: None,
                exclude: None,
            }],
            runtime: Runtime {
                user: "10001:10001".into(),
                entrypoint: Some(vec!["/app/app".into()]),
                ..Default::default()
            },
            annotations: Default::default(),
            layer_params: LayerParams {
                compression: Compression::Gzip { level: 6 },
                mtime: 0,
                keep_xattrs: false,
            },
            layer_budget: 8,
            allow: vec![],
        }
    }

    #[test]
    fn static_base_build_passes_gate_and_is_reproducible() {
        let d = tempfile::tempdir().unwrap();
        let req = request(d.path());
        let digest = reproduce::verify(&req, &d.path().join("r"), &Default::default()).unwrap();
        let opts = BuildOptions {
            store: d.path().join("s/blobs"),
            work: d.path().join("s/work"),
            registry: Default::default(),
            mirror: Vec::new(),
            reporter: Default::default(),
        };
        let b = build(&req, &opts).unwrap();
        assert_eq!(b.top.digest, digest);
        assert_eq!(b.images.len(), 1);
        let ids: Vec<_> = b.images[0].report.findings.iter().map(|f| f.id).collect();
        assert!(
            ids.iter().all(|id| *id == "CFG-001"),
            "only the info-level healthcheck note is expected: {ids:?}"
        );
        assert_eq!(b.images[0].base_layers_reused, 1);
        // Base + accounts + one artifact layer.
        assert_eq!(b.images[0].image.layers.len(), 3);
    }
}
