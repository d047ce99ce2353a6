//! Stage 4 of the build: what is attached to the image. Today the SBOM of
//! each platform (SPDX or CycloneDX); signatures and provenance join here.
//! Documents are made before any output exists, so a failure writes nothing,
//! and once per platform, whatever the number of destinations.

use super::PipelineError;
use crate::build::Built;
use crate::error::ErrorClass;
use crate::output::sbom::{self, SbomFormat};

/// The attachments of one build.
#[derive(Debug, Default)]
pub struct Attachments {
    /// Created time stamp (RFC 3339) the documents carry.
    pub created: String,
    pub sbom: Option<SbomFormat>,
    /// One SBOM document per platform, in `built.images` order.
    pub sboms: Vec<Vec<u8>>,
    /// `--sign`: the signed documents.
    pub signed: Option<Signed>,
}

pub fn sboms(
    built: &Built,
    format: Option<SbomFormat>,
    mtime: u64,
    name: &str,
) -> Result<Attachments, PipelineError> {
    let Some(format) = format else {
        return Ok(Attachments::default());
    };
    let io = |e: String| PipelineError::kinded(ErrorClass::Io, "Output", &e);
    let created = crate::layer::time::rfc3339(mtime).map_err(|e| io(e.to_string()))?;
    let mut docs = Vec::new();
    for i in &built.images {
        docs.push(
            sbom::document(&i.image, &built.store, format, &created, name)
                .map_err(|e| io(e.to_string()))?,
        );
    }
    Ok(Attachments {
        created,
        sbom: Some(format),
        sboms: docs,
        signed: None,
    })
}

/// `build --sign`: the key and what to sign with it.
#[derive(Clone)]
pub struct Signing {
    pub signer: std::sync::Arc<dyn crate::sign::signer::Signer>,
    pub format: crate::sign::documents::SignatureFormat,
    /// `runDetails.builder.id` of the provenance.
    pub builder_id: String,
}

impl std::fmt::Debug for Signing {
    /// The signer is never printed (it may hold a private key).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signing")
            .field("format", &self.format)
            .field("builder_id", &self.builder_id)
            .finish_non_exhaustive()
    }
}

/// The signed documents of one build, made before any output is written.
#[derive(Debug, Default)]
pub struct Signed {
    /// The referrer manifests' `org.opencontainers.image.created`.
    pub created: String,
    /// The image signature and the provenance: attached to the top
    /// document and to every platform manifest.
    pub bundles: Vec<crate::sign::documents::SignedBundle>,
    /// SBOM attestations, one per platform, in `built.images` order.
    pub sbom_bundles: Vec<crate::sign::documents::SignedBundle>,
    /// Per destination (in the order given), the legacy signatures of
    /// every subject: their payload names the destination's repository.
    pub legacy: Vec<Vec<crate::sign::documents::LegacySignature>>,
}

/// Everything provenance needs that the build itself does not hold.
#[derive(Clone, Debug)]
pub struct ProvenanceContext<'a> {
    pub spec: &'a std::path::Path,
    /// sha256 of the spec text the build was made from (not re-read).
    pub spec_digest: &'a crate::digest::Digest,
    /// The artifact sources, hashed after the build and held to what it
    /// wrote ([`super::sources`]).
    pub sources: &'a [super::sources::Source],
    pub source_date_epoch: Option<u64>,
    pub locked: bool,
}

/// The subjects of a build: the top document, then each platform manifest
/// (once, when the top is the only manifest).
pub fn subjects(built: &Built) -> Vec<crate::output::referrer::Subject> {
    use crate::output::referrer::Subject;
    let mut v = vec![Subject::of_descriptor(&built.top)];
    for i in &built.images {
        if i.image.manifest_digest != built.top.digest {
            v.push(Subject::of_image(&i.image));
        }
    }
    v
}

pub fn sign(
    s: &Signing,
    built: &Built,
    req: &crate::build::BuildRequest,
    a: &Attachments,
    ctx: &ProvenanceContext<'_>,
    dests: &[crate::output::Destination],
) -> Result<Signed, PipelineError> {
    use crate::sign::documents;
    use crate::sign::statement::PredicateKind;
    let fail = |e: String| PipelineError::kinded(ErrorClass::Input, "Sign", &e);
    let digests: Vec<_> = subjects(built).into_iter().map(|s| s.digest).collect();
    let mut out = Signed {
        created: crate::layer::time::rfc3339(ctx.source_date_epoch.unwrap_or(0))
            .map_err(|e| fail(e.to_string()))?,
        ..Signed::default()
    };
    if s.format.bundle() {
        out.bundles.push(
            documents::image_signature(&*s.signer, &digests).map_err(|e| fail(e.to_string()))?,
        );
    }
    let named: Vec<_> = digests
        .iter()
        .map(|d| (req.name.clone(), d.clone()))
        .collect();
    let predicate = crate::sign::provenance::predicate(&provenance_inputs(s, built, req, a, ctx)?);
    out.bundles.push(
        documents::attest(
            &*s.signer,
            PredicateKind::SlsaProvenanceV1,
            &named,
            predicate,
        )
        .map_err(|e| fail(e.to_string()))?,
    );
    if let Some(format) = a.sbom {
        let kind = match format {
            SbomFormat::Spdx => PredicateKind::Spdx,
            SbomFormat::CycloneDx => PredicateKind::CycloneDx,
        };
        for (i, doc) in built.images.iter().zip(&a.sboms) {
            let v: serde_json::Value =
                serde_json::from_slice(doc).map_err(|e| fail(e.to_string()))?;
            out.sbom_bundles.push(
                documents::attest(
                    &*s.signer,
                    kind,
                    &[(req.name.clone(), i.image.manifest_digest.clone())],
                    v,
                )
                .map_err(|e| fail(e.to_string()))?,
            );
        }
    }
    for d in dests {
        let mut l = Vec::new();
        if s.format.legacy() {
            let reference = match &d.transport {
                crate::reference::Transport::Docker(r) => r.name().to_string(),
                _ => req.name.clone(),
            };
            for dg in &digests {
                l.push(
                    documents::legacy(&*s.signer, &reference, dg)
                        .map_err(|e| fail(e.to_string()))?,
                );
            }
        }
        out.legacy.push(l);
    }
    Ok(out)
}

fn provenance_inputs(
    s: &Signing,
    built: &Built,
    req: &crate::build::BuildRequest,
    a: &Attachments,
    ctx: &ProvenanceContext<'_>,
) -> Result<crate::sign::provenance::Inputs, PipelineError> {
    use crate::sign::provenance::{Dependency, Inputs};
    use std::collections::BTreeMap;
    let mut deps = Vec::new();
    let base_uri = req.base.to_string();
    if let Some(d) = &built.base_digest {
        deps.push(Dependency {
            name: "base".into(),
            uri: base_uri.clone(),
            sha256: d.hex().into(),
            annotations: BTreeMap::new(),
        });
    }
    for (platform, d) in &built.base_manifests {
        if Some(d) == built.base_digest.as_ref() {
            continue;
        }
        deps.push(Dependency {
            name: format!("base {platform}"),
            uri: base_uri.clone(),
            sha256: d.hex().into(),
            annotations: BTreeMap::from([("platform".to_string(), platform.clone())]),
        });
    }
    for src in ctx.sources {
        deps.push(Dependency {
            name: format!("artifact {}", src.dest),
            uri: format!("file:{}", src.src.display()),
            sha256: src.tree.digest.hex().into(),
            annotations: BTreeMap::from([("platform".to_string(), src.platform.clone())]),
        });
    }
    for (platform, pins) in &built.package_pins {
        for p in pins {
            deps.push(Dependency {
                name: format!("package {}", p.name),
                uri: format!("{}/{}", p.repository.trim_end_matches('/'), p.path),
                sha256: p.sha256.clone(),
                annotations: BTreeMap::from([
                    ("platform".to_string(), platform.clone()),
                    ("version".to_string(), p.version.clone()),
                    ("architecture".to_string(), p.architecture.clone()),
                ]),
            });
        }
    }
    let mut flags = BTreeMap::new();
    flags.insert("locked".to_string(), serde_json::json!(ctx.locked));
    if let Some(f) = a.sbom {
        flags.insert("sbom".to_string(), serde_json::json!(f.media_type()));
    }
    Ok(Inputs {
        spec_path: ctx.spec.display().to_string(),
        spec_sha256: ctx.spec_digest.hex().into(),
        platforms: built
            .images
            .iter()
            .map(|i| i.image.platform.to_string())
            .collect(),
        flags,
        source_date_epoch: ctx.source_date_epoch,
        dependencies: deps,
        builder_id: s.builder_id.clone(),
    })
}
