//! `ironhull sbom`: the inventory of a local image as an SPDX or CycloneDX
//! document, one per platform. Offline: registry images are refused.

use crate::base::named::{open_local, parse_platform, select, work_dir};
use crate::error::Failure;
use crate::image::{Platform, PlatformImage};
use crate::sbom::{self, Inventory};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    SpdxJson,
    CyclonedxJson,
}

#[derive(Clone, Debug)]
pub struct SbomJob {
    pub image: String,
    pub format: Format,
    /// Write here (one file per platform, named by [`per_platform_path`],
    /// when there are several); `None` returns the documents for stdout.
    pub output: Option<PathBuf>,
    pub platform: Option<String>,
    /// The document's name for the image.
    pub name: String,
    /// The raw `SOURCE_DATE_EPOCH`, for the documents' creation time.
    pub source_date_epoch: Option<String>,
    pub cache_dir: PathBuf,
}

/// One platform's document.
#[derive(Clone, Debug)]
pub struct SbomDoc {
    pub platform: Platform,
    /// Where it was written; `None` when the job has no output.
    pub path: Option<PathBuf>,
    pub bytes: Vec<u8>,
    /// What the package readers could not make sense of.
    pub warnings: Vec<String>,
}

/// `app.spdx.json` + `linux/arm64/v8` → `app.linux-arm64-v8.spdx.json`.
pub fn per_platform_path(out: &Path, platform: &Platform) -> PathBuf {
    let tag = platform.to_string().replace('/', "-");
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new = match name.split_once('.') {
        Some((stem, ext)) => format!("{stem}.{tag}.{ext}"),
        None => format!("{name}.{tag}"),
    };
    out.with_file_name(new)
}

/// The SBOM document bytes (pretty JSON with a final newline).
pub fn document(
    inv: &Inventory,
    img: &PlatformImage,
    format: Format,
    created: &str,
    name: &str,
) -> Vec<u8> {
    let v = match format {
        Format::SpdxJson => sbom::spdx::to_json_named(inv, img, created, name),
        Format::CyclonedxJson => sbom::cyclonedx::to_json_named(inv, img, created, name),
    };
    let mut b = serde_json::to_vec_pretty(&v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// Makes (and, with an output, writes atomically) every selected
/// platform's document.
pub fn sbom(job: &SbomJob) -> Result<Vec<SbomDoc>, Failure> {
    let platform = parse_platform(job.platform.as_deref())?;
    let created = crate::env::parse_source_date_epoch(job.source_date_epoch.as_deref())
        .map_err(Failure::input)
        .and_then(|s| crate::layer::time::rfc3339(s).map_err(Failure::input))?;
    let work = work_dir(&job.cache_dir, "inspect")?;
    let src = open_local(&job.image, platform.as_ref(), work.path())?;
    let imgs = select(&src, platform.as_ref(), &job.image)?;
    if imgs.len() > 1 && job.output.is_none() {
        let have: Vec<String> = imgs.iter().map(|i| i.platform.to_string()).collect();
        return Err(Failure::input(format!(
            "{} holds {} platforms ({}); choose one with --platform, or pass -o FILE to write one document per platform",
            job.image,
            imgs.len(),
            have.join(", ")
        )));
    }
    let mut docs = Vec::new();
    for img in &imgs {
        let inv = sbom::inventory_image(img, &src.blobs).map_err(Failure::input)?;
        let bytes = document(&inv, img, job.format, &created, &job.name);
        let path = job.output.as_ref().map(|o| {
            if imgs.len() > 1 {
                per_platform_path(o, &img.platform)
            } else {
                o.clone()
            }
        });
        if let Some(p) = &path {
            crate::store::write_atomic(p, &bytes)
                .map_err(|e| Failure::io(format!("cannot write {}: {e}", p.display())))?;
        }
        docs.push(SbomDoc {
            platform: img.platform.clone(),
            path,
            bytes,
            warnings: inv.warnings.clone(),
        });
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_platform_paths() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(
            per_platform_path(Path::new("out/app.spdx.json"), &p),
            Path::new("out/app.linux-arm64-v8.spdx.json")
        );
        assert_eq!(
            per_platform_path(Path::new("sbom"), &p),
            Path::new("sbom.linux-arm64-v8")
        );
    }
}
