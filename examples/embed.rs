//! Embedding ironhull: build an image, audit what was written, and report
//! progress through your own reporter, with the library API alone.
//!
//! ```text
//! cargo run --example embed -- SPEC OUT_DIR [CACHE_DIR]
//! ```
//!
//! SPEC is a `builder.toml`; the image is written to the OCI layout OUT_DIR
//! under the spec's first tag. It prints one line per stage and the audit's
//! verdict, and exits 1 when the audit finds a problem at or above high.

use ironhull::commands::audit::{AuditJob, audit};
use ironhull::events::{Event, Reporter, SharedReporter};
use ironhull::pipeline::{self, BuildJob};
use ironhull::policy::Severity;
use std::path::PathBuf;
use std::process::ExitCode;

/// A reporter of our own: stages and warnings on stderr, the rest dropped.
struct Log;

impl Reporter for Log {
    fn event(&self, e: &Event<'_>) {
        match e {
            Event::Stage(s) => eprintln!("embed: stage {s:?}"),
            Event::Warning(w) => eprintln!("embed: warning: {w}"),
            Event::OutputWritten { destination, .. } => eprintln!("embed: wrote {destination}"),
            _ => {}
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(spec), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: embed SPEC OUT_DIR [CACHE_DIR]");
        return ExitCode::from(2);
    };
    let cache = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| ironhull::env::cache_dir(None));
    let reporter = SharedReporter::new(Log);

    // Build, gate and write: everything `ironhull build -o oci:OUT` does.
    let job = BuildJob::new(spec, &cache).output(format!("oci:{out}"));
    let built = match pipeline::build(&job, &reporter) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("embed: build failed: {e}");
            return ExitCode::from(2);
        }
    };
    println!("digest {}", built.built.top.digest);

    // Audit what was written, as `ironhull audit oci:OUT` would.
    let audited = match audit(&AuditJob {
        image: format!("oci:{out}"),
        platform: None,
        policy: None,
        cache_dir: cache,
        registry: Default::default(),
    }) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("embed: audit failed: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for a in &audited {
        let worst = a.report.findings.iter().map(|f| f.severity).max();
        println!(
            "audit {}: {} finding(s), worst {}",
            a.name,
            a.report.findings.len(),
            worst.map_or("none", |s| s.as_str())
        );
        failed |= a.report.fails(Severity::High);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
