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
    })
}
