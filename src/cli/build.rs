//! `ironhull build`.

use super::common::cache_dir;
use super::exit;
use ironhull::build::Built;
use ironhull::output::Destination;
use ironhull::pipeline::{self, BuildJob, PipelineError, vuln_gate::VulnGate};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull build\n  ironhull build -f examples/hello-static/builder.toml -o oci:out/hello:1.0.0\n  ironhull build -o oci-archive:hello.tar -o docker-archive:hello-docker.tar --digest-file hello.digest\n  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ironhull build --verify-reproducible"
)]
pub struct BuildArgs {
    /// The spec file.
    #[arg(short = 'f', long = "file", default_value = "builder.toml")]
    pub file: PathBuf,
    /// Destination(s): oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]. Repeatable. Default: oci:./ironhull-out/<name>.
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Write the image digest to this file.
    #[arg(long)]
    pub digest_file: Option<PathBuf>,
    /// Print a machine-readable JSON result on stdout.
    #[arg(long)]
    pub json: bool,
    /// Build twice in isolated directories and fail if the digests differ.
    #[arg(long)]
    pub verify_reproducible: bool,
    /// Blob cache directory (default: $IRONHULL_CACHE_DIR, $XDG_CACHE_HOME/ironhull or ~/.cache/ironhull).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Build only these platforms (os/arch[/variant]) of the spec's; repeatable.
    /// Needed for docker-archive outputs of a multi-platform spec.
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Write an SBOM beside each output (and attach it to pushed images as an
    /// OCI 1.1 referrer): spdx-json (default) or cyclonedx-json.
    #[arg(long, num_args = 0..=1, default_missing_value = "spdx-json", value_name = "FORMAT")]
    pub sbom: Option<String>,
    /// Gate the build on known vulnerabilities from an offline OSV database
    /// (a directory of OSV JSON records or an osv.dev all.zip).
    #[arg(long, value_name = "PATH")]
    pub scan_db: Option<PathBuf>,
    /// With --scan-db: fail when a vulnerability is at least this severe
    /// (unknown, low, medium, high, critical).
    #[arg(long, default_value = "high", value_name = "SEVERITY")]
    pub fail_on: String,
    /// With --scan-db: ignore vulnerabilities that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// With --scan-db: a TOML file of vulnerabilities to ignore, each with a reason.
    #[arg(long, value_name = "FILE")]
    pub ignore: Option<PathBuf>,
    /// Fail if the base or any artifact resolves differently than ironhull.lock says.
    #[arg(long)]
    pub locked: bool,
    /// Sign the image, its SLSA provenance and its SBOMs with --key
    /// (cosign-compatible; offline).
    #[arg(long, requires = "key")]
    pub sign: bool,
    /// The private key for --sign: a cosign.key path or env://VAR.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// With --sign: bundle (cosign v3 referrers), legacy (.sig tag) or both.
    #[arg(long, default_value = "both", value_name = "FORMAT")]
    pub signature_format: String,
    /// With --sign: the provenance's runDetails.builder.id (e.g. your CI
    /// workflow's URL).
    #[arg(long, value_name = "URI", default_value = ironhull::sign::provenance::DEFAULT_BUILDER_ID)]
    pub builder_id: String,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
    /// Only print errors.
    #[arg(short, long)]
    pub quiet: bool,
}

use super::common::fail;

pub fn run(a: BuildArgs) -> i32 {
    let registry = a.registry.options(a.quiet, a.json);
    // The key is read (and its password asked) before anything is built,
    // so a wrong password costs nothing and writes nothing.
    let signing = if a.sign {
        let format = match super::sign::signature_format(&a.signature_format) {
            Ok(f) => f,
            Err(e) => return super::common::fail(exit::INPUT, e),
        };
        let key = a.key.as_deref().unwrap_or_default();
        match super::sign::load_signer(key) {
            Ok(s) => Some(pipeline::attach::Signing {
                signer: std::sync::Arc::from(s),
                format,
                builder_id: a.builder_id.clone(),
            }),
            Err(e) => return super::common::fail(exit::INPUT, e),
        }
    } else {
        if a.key.is_some() {
            return super::common::fail(
                exit::INPUT,
                "--key is for --sign: add --sign, or drop --key",
            );
        }
        None
    };
    let job = BuildJob {
        spec: a.file.clone(),
        outputs: a.outputs.clone(),
        platforms: a.platforms.clone(),
        cache_dir: cache_dir(a.cache_dir.as_deref()),
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH").ok(),
        locked: a.locked,
        verify_reproducible: a.verify_reproducible,
        sbom: a.sbom.clone(),
        vuln: a.scan_db.as_ref().map(|db| VulnGate {
            db: db.clone(),
            fail_on: a.fail_on.clone(),
            ignore_unfixed: a.ignore_unfixed,
            ignore: a.ignore.clone(),
        }),
        digest_file: a.digest_file.clone(),
        registry: registry.clone(),
        signing,
    };
    match pipeline::build(&job, &registry.reporter) {
        Ok(done) => {
            if a.json {
                println!("{}", result_json(&done.built, &done.destinations));
            } else {
                println!("{}", done.built.top.digest);
            }
            exit::OK
        }
        Err(e) => render_error(&e, a.json),
    }
}

/// Reports a failed build: always on stderr; with `--json` also as
/// `{"error": {"kind": "...", "message": "...", "exitCode": N}}` on stdout, where
/// `kind` names the error class (e.g. `Spec::RootUser`), stable for scripts.
fn render_error(e: &PipelineError, json: bool) -> i32 {
    let code = super::exit_code(e.class());
    match e {
        PipelineError::Gate { name, report } => {
            if json {
                println!(
                    "{}",
                    json!({"error": {"kind": "Build::Gate", "message": e.to_string(), "exitCode": code, "audit": ironhull::policy::render::to_json(name, report)}})
                );
            }
            eprint!(
                "{}",
                ironhull::policy::render::to_text(name, report, super::common::use_color())
            );
        }
        PipelineError::Vulnerable { reports, .. } => {
            for r in reports {
                eprint!("{r}");
            }
        }
        PipelineError::Failed {
            kind: Some(kind),
            message,
            ..
        } if json => {
            println!(
                "{}",
                json!({"error": {"kind": kind, "message": super::common::sanitize(message), "exitCode": code}})
            );
        }
        PipelineError::Failed { .. } => {}
    }
    fail(code, e)
}

pub(super) fn print_report(b: &Built) {
    let removed = b.changes.iter().filter(|c| c.what == "removed").count();
    if b.changes.is_empty() {
        eprintln!(
            "hardening: base {} needed no changes (layers reused byte for byte)",
            b.base_name
        );
    } else {
        eprintln!(
            "hardening: base {}: {} path(s) removed, {} changed",
            b.base_name,
            removed,
            b.changes.len() - removed
        );
        for (why, (n, first)) in ironhull::harden::summarize(&b.changes) {
            let more = if n > first.len() {
                format!(", … (+{})", n - first.len())
            } else {
                String::new()
            };
            eprintln!("  {why}: {n}: {}{more}", first.join(", "));
        }
        if !b.dropped_packages.is_empty() {
            eprintln!(
                "  packages dropped from the package database: {}",
                b.dropped_packages.join(", ")
            );
        }
    }
    for (platform, pkgs) in &b.installed_packages {
        eprintln!(
            "{platform}: {} OS package(s) installed; no maintainer script was run",
            pkgs.len()
        );
        for p in pkgs {
            let scripts = if p.scripts_not_run.is_empty() {
                String::new()
            } else {
                format!(" (not run: {})", p.scripts_not_run.join(", "))
            };
            eprintln!("  {} {} {}{scripts}", p.name, p.version, p.arch);
            for c in &p.instead {
                eprintln!("    instead: {c}");
            }
            for c in &p.changed {
                eprintln!("    {c}");
            }
        }
    }
    for i in &b.images {
        eprintln!(
            "{}: manifest {} ({} layers: {} base reused, {} base rewritten)",
            i.image.platform,
            i.image.manifest_digest,
            i.image.layers.len(),
            i.base_layers_reused,
            i.base_layers_rewritten
        );
        for f in &i.report.findings {
            eprintln!("  note: {} {} {}", f.id, f.severity, f.message);
        }
    }
}

/// The `--json` result. Its shape is documented in the README and kept stable.
pub fn result_json(b: &Built, dests: &[Destination]) -> serde_json::Value {
    let mut v = json!({
        "digest": b.top.digest.to_string(),
        "mediaType": b.top.media_type,
        "platforms": b.images.iter().map(|i| json!({
            "platform": i.image.platform.to_string(),
            "manifest": i.image.manifest_digest.to_string(),
            "config": i.image.config_digest.to_string(),
            "layers": i.image.layers.len(),
            "baseLayersReused": i.base_layers_reused,
            "baseLayersRewritten": i.base_layers_rewritten,
            "findings": i.report.findings.iter().map(|f| json!({"id": f.id, "severity": f.severity.as_str(), "path": f.path, "message": f.message})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "outputs": dests.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "hardening": {
            "changes": b.changes,
            "droppedPackages": b.dropped_packages,
        },
    });
    // Only builds that install OS packages carry the key, so every other
    // build's document is unchanged.
    if !b.installed_packages.is_empty() {
        v["packages"] = json!(
            b.installed_packages
                .iter()
                .map(|(platform, pkgs)| json!({
                    "platform": platform,
                    "installed": pkgs,
                }))
                .collect::<Vec<_>>()
        );
    }
    v
}
