//! `ironhull sbom` and `ironhull scan`: the inventory of an existing image as
//! an SPDX / CycloneDX document, and the offline vulnerability gate.

use super::common::{cache_dir, source_date_epoch, write_atomic};
use super::exit;
use ironhull::image::{Descriptor, Platform, PlatformImage};
use ironhull::reference::Transport;
use ironhull::sbom::{self, Inventory};
use ironhull::store::{self, Source};
use ironhull::vuln::{self, VulnSeverity, ignore, osv, report, scanner::Scanner};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    SpdxJson,
    CyclonedxJson,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull sbom oci:out/app:1.0 --format spdx-json -o app.spdx.json\n  SOURCE_DATE_EPOCH=0 ironhull sbom rootfs:alpine-minirootfs.tar.gz --format cyclonedx-json\n\nWith several platforms and -o FILE, one document per platform is written to FILE with the platform inserted before the extension (app.linux-amd64.spdx.json)."
)]
pub struct SbomArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or rootfs:FILE.
    pub image: String,
    /// Document format.
    #[arg(long, value_enum, default_value = "spdx-json")]
    pub format: SbomFormat,
    /// Write the document here instead of stdout.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Only this platform (os/arch[/variant]); for rootfs: the platform to assume (default: this machine's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Image name used in the document (default: image).
    #[arg(long, default_value = "image")]
    pub name: String,
    /// Blob cache directory, used for unpacking archives.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull scan oci:out/app:1.0 --db alpine-all.zip --fail-on high\n  ironhull scan oci:out/app --db osv/ --ignore-unfixed --ignore vuln-ignore.toml --format sarif > scan.sarif\n\nExit codes: 0 no finding at or above --fail-on (or no --fail-on), 1 a finding at or above it, 2 bad input, 3 I/O failure.\nUNKNOWN-severity findings only fail --fail-on unknown."
)]
pub struct ScanArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or rootfs:FILE.
    pub image: String,
    /// OSV records: a directory of JSON files, or an all.zip (Alpine:v3.20, Debian:12, ...).
    #[arg(long, required_unless_present = "scanner")]
    pub db: Option<PathBuf>,
    /// Fail (exit 1) when a finding is at least this severe: unknown, low, medium, high, critical.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<VulnSeverity>,
    /// Do not report or fail on vulnerabilities that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// TOML file of accepted risks: [[ignore]] id = "CVE-…", reason = "…", expires = "YYYY-MM-DD".
    #[arg(long)]
    pub ignore: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ScanFormat,
    /// Only this platform (os/arch[/variant]); for rootfs: the platform to assume.
    #[arg(long)]
    pub platform: Option<String>,
    /// Use an external scanner (run offline) instead of, or besides, --db.
    #[arg(long, value_enum)]
    pub scanner: Option<Scanner>,
    /// Blob cache directory, used for unpacking archives.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

fn parse_severity(s: &str) -> Result<VulnSeverity, String> {
    s.parse::<VulnSeverity>().map_err(|e| e.to_string())
}

use super::common::fail;

/// Opens a local image. Registry images must be copied to a layout first:
/// `sbom` and `scan` never touch the network.
fn open_image(
    image: &str,
    platform: Option<&Platform>,
    work: &Path,
) -> Result<Source, (i32, String)> {
    let t = Transport::parse(image).map_err(|e| (exit::INPUT, e.to_string()))?;
    let res = match &t {
        Transport::Oci { dir, tag } => store::read_oci_layout(dir, tag.as_deref()),
        Transport::OciArchive { file, tag } => store::read_oci_archive(file, tag.as_deref(), work),
        Transport::DockerArchive { file, reference } => {
            store::read_docker_archive(file, reference.as_deref(), work)
        }
        Transport::Rootfs { file } => {
            let p = platform.cloned().unwrap_or_else(Platform::host);
            store::read_rootfs(file, &p, work)
        }
        Transport::Docker(_) | Transport::Static => {
            return Err((
                exit::INPUT,
                format!(
                    "{image}: only local images can be inventoried (oci:, oci-archive:, docker-archive:, rootfs:); \
                     copy a registry image first, e.g. `skopeo copy docker://REF oci:DIR:TAG`"
                ),
            ));
        }
    };
    res.map_err(|e| {
        let code = match &e {
            store::StoreError::Io { .. } => exit::IO,
            _ => exit::INPUT,
        };
        (code, e.to_string())
    })
}

/// The platform images selected by `--platform` (all when absent).
fn select<'a>(
    src: &'a Source,
    platform: Option<&Platform>,
    image: &str,
) -> Result<Vec<&'a PlatformImage>, (i32, String)> {
    let all = &src.images.images;
    let chosen: Vec<&PlatformImage> = match platform {
        Some(p) => all.iter().filter(|i| p.matches(&i.platform)).collect(),
        None => all.iter().collect(),
    };
    if chosen.is_empty() {
        let have: Vec<String> = all.iter().map(|i| i.platform.to_string()).collect();
        return Err((
            exit::INPUT,
            format!(
                "{image} has no image for the requested platform; available: {}",
                have.join(", ")
            ),
        ));
    }
    Ok(chosen)
}

fn parse_platform(p: Option<&str>) -> Result<Option<Platform>, (i32, String)> {
    match p {
        None => Ok(None),
        Some(s) => Platform::parse(s).map(Some).ok_or_else(|| {
            (
                exit::INPUT,
                format!("--platform {s:?} is not os/arch[/variant], e.g. linux/amd64"),
            )
        }),
    }
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

fn work_dir(flag: Option<&Path>) -> Result<tempfile::TempDir, (i32, String)> {
    let cache = cache_dir(flag);
    std::fs::create_dir_all(&cache).map_err(|e| {
        (
            exit::IO,
            format!("cannot create the cache directory {}: {e}", cache.display()),
        )
    })?;
    tempfile::Builder::new()
        .prefix("inspect-")
        .tempdir_in(&cache)
        .map_err(|e| {
            (
                exit::IO,
                format!("cannot create a work directory in {}: {e}", cache.display()),
            )
        })
}

fn inventory_of(img: &PlatformImage, src: &Source) -> Result<Inventory, (i32, String)> {
    sbom::inventory_image(img, &src.blobs).map_err(|e| (exit::INPUT, e.to_string()))
}

/// The SBOM document bytes (pretty JSON with a final newline).
pub fn sbom_document(
    inv: &Inventory,
    img: &PlatformImage,
    format: SbomFormat,
    created: &str,
    name: &str,
) -> Vec<u8> {
    let v = match format {
        SbomFormat::SpdxJson => sbom::spdx::to_json_named(inv, img, created, name),
        SbomFormat::CyclonedxJson => sbom::cyclonedx::to_json_named(inv, img, created, name),
    };
    let mut b = serde_json::to_vec_pretty(&v).unwrap_or_default();
    b.push(b'\n');
    b
}

pub fn run_sbom(a: SbomArgs) -> i32 {
    match sbom_inner(&a) {
        Ok(()) => exit::OK,
        Err((code, msg)) => fail(code, msg),
    }
}

fn sbom_inner(a: &SbomArgs) -> Result<(), (i32, String)> {
    let platform = parse_platform(a.platform.as_deref())?;
    let created = source_date_epoch()
        .map_err(|e| (exit::INPUT, e))
        .and_then(|s| {
            ironhull::layer::time::rfc3339(s).map_err(|e| (exit::INPUT, e.to_string()))
        })?;
    let work = work_dir(a.cache_dir.as_deref())?;
    let src = open_image(&a.image, platform.as_ref(), work.path())?;
    let imgs = select(&src, platform.as_ref(), &a.image)?;
    if imgs.len() > 1 && a.output.is_none() {
        let have: Vec<String> = imgs.iter().map(|i| i.platform.to_string()).collect();
        return Err((
            exit::INPUT,
            format!(
                "{} holds {} platforms ({}); choose one with --platform, or pass -o FILE to write one document per platform",
                a.image,
                imgs.len(),
                have.join(", ")
            ),
        ));
    }
    for img in &imgs {
        let inv = inventory_of(img, &src)?;
        for w in &inv.warnings {
            eprintln!("warning: {w}");
        }
        let bytes = sbom_document(&inv, img, a.format, &created, &a.name);
        match &a.output {
            None => {
                use std::io::Write;
                std::io::stdout()
                    .write_all(&bytes)
                    .map_err(|e| (exit::IO, format!("cannot write to stdout: {e}")))?;
            }
            Some(o) => {
                let path = if imgs.len() > 1 {
                    per_platform_path(o, &img.platform)
                } else {
                    o.clone()
                };
                write_atomic(&path, &bytes)
                    .map_err(|e| (exit::IO, format!("cannot write {}: {e}", path.display())))?;
            }
        }
    }
    Ok(())
}

/// The exit code of a judged scan.
pub fn scan_exit_code(v: &vuln::Verdict) -> i32 {
    if v.failed { exit::POLICY } else { exit::OK }
}

pub fn run_scan(a: ScanArgs) -> i32 {
    match scan_inner(&a) {
        Ok(code) => code,
        Err((code, msg)) => fail(code, msg),
    }
}

fn scan_inner(a: &ScanArgs) -> Result<i32, (i32, String)> {
    let platform = parse_platform(a.platform.as_deref())?;
    let ignores = match &a.ignore {
        Some(p) => ignore::load(p).map_err(|e| {
            let code = if matches!(e, ignore::IgnoreError::Io { .. }) {
                exit::IO
            } else {
                exit::INPUT
            };
            (code, e.to_string())
        })?,
        None => Vec::new(),
    };
    let work = work_dir(a.cache_dir.as_deref())?;
    let src = open_image(&a.image, platform.as_ref(), work.path())?;
    let imgs = select(&src, platform.as_ref(), &a.image)?;
    let mut invs = Vec::new();
    let mut wanted = BTreeSet::new();
    for img in &imgs {
        let inv = inventory_of(img, &src)?;
        if let Some(os) = &inv.os {
            for p in &inv.packages {
                if let Some(e) = os.osv_ecosystem(p.ecosystem) {
                    wanted.insert(e);
                }
            }
        }
        invs.push(inv);
    }
    let db = match &a.db {
        Some(p) => {
            let db = osv::Database::load(p, Some(&wanted)).map_err(|e| {
                let code = if matches!(e, osv::OsvError::Io { .. }) {
                    exit::IO
                } else {
                    exit::INPUT
                };
                (code, e.to_string())
            })?;
            for w in db.warnings.iter().take(20) {
                eprintln!("warning: {w}");
            }
            Some(db)
        }
        None => None,
    };
    let policy = vuln::Policy {
        fail_on: a.fail_on,
        ignore_unfixed: a.ignore_unfixed,
        ignores,
        today: ignore::today_utc(),
    };
    let mut worst = exit::OK;
    let mut json_reports = Vec::new();
    let mut sarif_reports = Vec::new();
    for (img, inv) in imgs.iter().zip(&invs) {
        let mut res = match &db {
            Some(db) => vuln::scan(inv, db),
            None => vuln::ScanResult::default(),
        };
        if let Some(s) = a.scanner {
            let layout = work
                .path()
                .join(format!("scan-{}", img.manifest_digest.hex()));
            let top = Descriptor::new(
                &img.manifest_media_type,
                img.manifest_digest.clone(),
                img.manifest_bytes.len() as u64,
            );
            store::write_oci_layout(
                &layout,
                "latest",
                &top,
                &store::image_blobs(img),
                &src.blobs,
            )
            .map_err(|e| (exit::IO, e.to_string()))?;
            let found = vuln::scanner::run(s, &layout).map_err(|e| (exit::IO, e.to_string()))?;
            res.findings.extend(found);
            vuln::sort_findings(&mut res.findings);
            res.findings.dedup_by(|x, y| {
                x.id == y.id && x.package == y.package && x.installed == y.installed
            });
        }
        let verdict = vuln::judge(&res, &policy);
        let label = if imgs.len() > 1 {
            format!("{} ({})", a.image, img.platform)
        } else {
            a.image.clone()
        };
        match a.format {
            ScanFormat::Text => print!("{}", report::text(&verdict, &label, a.fail_on)),
            ScanFormat::Json => json_reports.push(report::json(&verdict, &label, a.fail_on)),
            ScanFormat::Sarif => sarif_reports.push(report::sarif(&verdict, &label)),
        }
        worst = worst.max(scan_exit_code(&verdict));
    }
    let doc = match a.format {
        ScanFormat::Text => None,
        ScanFormat::Json if json_reports.len() == 1 => json_reports.pop(),
        ScanFormat::Json => Some(serde_json::Value::Array(json_reports)),
        ScanFormat::Sarif => {
            // One SARIF log with one run per platform.
            let mut runs = Vec::new();
            for r in sarif_reports {
                if let Some(rs) = r.get("runs").and_then(|x| x.as_array()) {
                    runs.extend(rs.iter().cloned());
                }
            }
            Some(serde_json::json!({
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "version": "2.1.0",
                "runs": runs,
            }))
        }
    };
    if let Some(d) = doc {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    }
    Ok(worst)
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

    #[test]
    fn exit_codes_follow_the_verdict() {
        let mut v = vuln::Verdict::default();
        assert_eq!(scan_exit_code(&v), exit::OK);
        v.failed = true;
        assert_eq!(scan_exit_code(&v), exit::POLICY);
        assert_eq!(parse_severity("HIGH"), Ok(VulnSeverity::High));
        assert!(parse_severity("urgent").is_err());
    }

    #[test]
    fn registry_images_are_refused_offline() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_image("docker://alpine:3.20", None, dir.path()).unwrap_err();
        assert_eq!(e.0, exit::INPUT);
        assert!(e.1.contains("skopeo copy"), "{}", e.1);
        assert_eq!(
            open_image("nonsense", None, dir.path()).unwrap_err().0,
            exit::INPUT
        );
    }
}
