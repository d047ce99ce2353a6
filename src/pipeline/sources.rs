//! The artifact sources, hashed after the build and held to what the build
//! wrote. A lock check or a provenance statement names a source by its
//! digest ([`crate::lock::tree`]); that digest is trusted only when every
//! file the artifact layers hold had, when it was written, the content the
//! digest covers. So the sources are hashed *after* the layers are written
//! and each written file is compared: a file edited while the build ran is
//! refused, never described.

use super::PipelineError;
use crate::build::BuildRequest;
use crate::error::ErrorClass;
use crate::lock::tree::{self, Tree};
use crate::pipeline::built::Built;
use std::path::PathBuf;

/// One artifact source of one platform.
#[derive(Clone, Debug)]
pub struct Source {
    /// The artifact's destination in the image, absolute.
    pub dest: String,
    pub platform: String,
    pub src: PathBuf,
    pub tree: Tree,
}

/// Hashes every artifact source of every built platform, then checks that
/// each file written into an artifact layer is what was hashed.
pub fn hashed(req: &BuildRequest, built: &Built) -> Result<Vec<Source>, PipelineError> {
    let mut out = Vec::new();
    for i in &built.images {
        for art in &req.artifacts {
            let Some(src) = art.src_spec.for_platform(&i.image.platform) else {
                continue;
            };
            let t = tree::tree(&src).map_err(|e| {
                PipelineError::plain(
                    ErrorClass::Io,
                    format!("hashing artifact {}: {e}", src.display()),
                )
            })?;
            out.push(Source {
                dest: art.dest.to_abs(),
                platform: i.image.platform.to_string(),
                src,
                tree: t,
            });
        }
    }
    if let Some(c) = Tree::changed(out.iter().map(|s| &s.tree), &built.artifact_reads) {
        let hashed = c
            .hashed
            .map_or_else(|| "absent".to_string(), |d| d.to_string());
        return Err(PipelineError::Failed {
            class: ErrorClass::Input,
            kind: Some("Artifact::Changed".into()),
            message: format!(
                "artifact file {} changed while the build ran: the image holds sha256 {}, the file now has {hashed}; nothing was written; build again once the file is stable",
                c.path.display(),
                c.written.hex()
            ),
        });
    }
    Ok(out)
}

/// With `--locked`: the sources as built still match the lock (the lock was
/// checked before the build, and a source may have moved since).
pub fn hold_to_lock(spec: &std::path::Path, sources: &[Source]) -> Result<(), PipelineError> {
    use crate::lock::Lock;
    let path = Lock::path_for(spec);
    let lock = Lock::read(&path)
        .map_err(|e| PipelineError::plain(ErrorClass::Input, e.to_string()))?
        .ok_or_else(|| {
            PipelineError::plain(
                ErrorClass::Input,
                format!("--locked: {} disappeared during the build", path.display()),
            )
        })?;
    for s in sources {
        let locked = lock
            .artifacts
            .iter()
            .find(|a| a.dest == s.dest && a.platform == s.platform);
        if locked.map(|a| &a.sha256) != Some(&s.tree.digest) {
            return Err(PipelineError::Failed {
                class: ErrorClass::Input,
                kind: Some("Lock::Mismatch".into()),
                message: format!(
                    "--locked: artifact {} ({}) changed during the build: now {} (locked: {}); nothing was written",
                    s.dest,
                    s.platform,
                    s.tree.digest,
                    locked.map_or_else(|| "absent".to_string(), |a| a.sha256.to_string())
                ),
            });
        }
    }
    Ok(())
}
