//! `ironhull build`.

use super::common::{cache_dir, source_date_epoch, write_atomic};
use super::exit;
use ironhull::build::{self, BuildError, BuildOptions, Built};
use ironhull::output::{self, Destination};
use ironhull::spec;
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
    /// Fail if the base or any artifact resolves differently than ironhull.lock says.
    #[arg(long)]
    pub locked: bool,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
    /// Only print errors.
    #[arg(short, long)]
    pub quiet: bool,
}

use super::common::fail;

/// Reports an error: always on stderr; with `--json` also as
/// `{"error": {"kind": "...", "message": "...", "exitCode": N}}` on stdout, where
/// `kind` names the error class (e.g. `Spec::RootUser`), stable for scripts.
fn fail_with<E: std::fmt::Display + std::fmt::Debug>(
    json: bool,
    code: i32,
    prefix: &str,
    e: &E,
) -> i32 {
    if json {
        let kind = super::common::error_kind(prefix, &format!("{e:?}"));
        println!(
            "{}",
            json!({"error": {"kind": kind, "message": super::common::sanitize(&e.to_string()), "exitCode": code}})
        );
    }
    fail(code, e)
}

pub fn run(a: BuildArgs) -> i32 {
    let spec = match spec::load(&a.file) {
        Ok(s) => s,
        Err(e) => return fail_with(a.json, exit::INPUT, "Spec", &e),
    };
    if a.locked
        && let Err((code, msg)) = super::lock::check_locked(
            &spec,
            &a.file,
            a.cache_dir.as_deref(),
            &a.registry.options(true, false),
        )
    {
        if a.json {
            println!(
                "{}",
                json!({"error": {"kind": "Lock::Mismatch", "message": msg, "exitCode": code}})
            );
        }
        return fail(code, msg);
    }
    let mtime = match source_date_epoch() {
        Ok(m) => m,
        Err(e) => return fail(exit::INPUT, e),
    };
    let mut req = match build::from_spec::request(&spec, mtime) {
        Ok(r) => r,
        Err(e) => return fail_with(a.json, exit::INPUT, "Request", &e),
    };
    if !a.platforms.is_empty() {
        let mut chosen = Vec::new();
        for p in &a.platforms {
            let Some(p) = ironhull::image::Platform::parse(p) else {
                return fail(
                    exit::INPUT,
                    format!(
                        "--platform {p:?} is not os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"
                    ),
                );
            };
            if !req.platforms.is_empty()
                && !req.platforms.iter().any(|s| s.matches(&p) || p.matches(s))
            {
                let listed: Vec<String> = req.platforms.iter().map(|p| p.to_string()).collect();
                return fail(
                    exit::INPUT,
                    format!(
                        "--platform {p} is not in [image] platforms of {} ({})",
                        a.file.display(),
                        listed.join(", ")
                    ),
                );
            }
            chosen.push(p);
        }
        req.platforms = chosen;
    }
    let mut dests = Vec::new();
    for o in &a.outputs {
        match Destination::parse(o) {
            Ok(d) => dests.push(d),
            Err(e) => return fail_with(a.json, exit::INPUT, "Output", &e),
        }
    }
    if dests.is_empty() {
        dests.push(output::default_destination(
            &req.name,
            req.tags.first().map(String::as_str).unwrap_or("latest"),
        ));
    }
    if !req.platforms.is_empty()
        && let Err(e) = output::preflight(&dests, req.platforms.len())
    {
        return fail_with(a.json, exit::INPUT, "Output", &e);
    }
    let cache = cache_dir(a.cache_dir.as_deref());
    if let Err(e) = std::fs::create_dir_all(&cache) {
        return fail(
            exit::IO,
            format!("cannot create the cache directory {}: {e}", cache.display()),
        );
    }
    let work = match tempfile::Builder::new().prefix("build-").tempdir_in(&cache) {
        Ok(w) => w,
        Err(e) => {
            return fail(
                exit::IO,
                format!("cannot create a work directory in {}: {e}", cache.display()),
            );
        }
    };
    let opts = BuildOptions {
        store: cache.join("blobs"),
        work: work.path().to_path_buf(),
        registry: a.registry.options(a.quiet, a.json),
    };

    if a.verify_reproducible {
        match build::reproduce::verify(&req, work.path(), &opts.registry) {
            Ok(d) => {
                if !a.quiet {
                    eprintln!("reproducible: two isolated builds gave {d}");
                }
            }
            Err(e) => return fail_with(a.json, build_exit(&e), "Build", &e),
        }
    }

    let built = match build::build(&req, &opts) {
        Ok(b) => b,
        Err(BuildError::Gate(report)) => {
            if a.json {
                println!(
                    "{}",
                    json!({"error": {"kind": "Build::Gate", "message": "the image fails the security gate; nothing was written", "exitCode": exit::POLICY, "audit": ironhull::policy::render::to_json(&req.name, &report)}})
                );
            }
            eprint!(
                "{}",
                ironhull::policy::render::to_text(&req.name, &report, super::common::use_color())
            );
            return fail(
                exit::POLICY,
                "the image fails the security gate; nothing was written",
            );
        }
        Err(e) => return fail_with(a.json, build_exit(&e), "Build", &e),
    };
    if !a.quiet && !a.json {
        print_report(&built);
    }
    if let Err(e) = output::preflight(&dests, built.images.len()) {
        return fail_with(a.json, exit::IO, "Output", &e);
    }
    for d in &dests {
        match output::write(&built, d, &req.name, &req.tags, &opts.registry) {
            Err(e) => {
                return fail_with(a.json, exit::IO, "Output", &e);
            }
            Ok(pushed) => {
                if !a.quiet && !a.json {
                    match pushed {
                        Some(d2) => eprintln!("pushed {d} ({d2})"),
                        None => eprintln!("wrote {d}"),
                    }
                }
            }
        }
    }
    let digest = built.top.digest.to_string();
    if let Some(f) = &a.digest_file
        && let Err(e) = write_atomic(f, format!("{digest}\n").as_bytes())
    {
        return fail(
            exit::IO,
            format!("cannot write the digest file {}: {e}", f.display()),
        );
    }
    if a.json {
        println!("{}", result_json(&built, &dests));
    } else {
        println!("{digest}");
    }
    exit::OK
}

fn build_exit(e: &BuildError) -> i32 {
    match e {
        BuildError::Gate(_) => exit::POLICY,
        BuildError::Blob(_) => exit::IO,
        BuildError::Layer(_) => exit::IO,
        _ => exit::INPUT,
    }
}

fn print_report(b: &Built) {
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
    json!({
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
    })
}
