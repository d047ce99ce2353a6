//! `ironhull lock` and `ironhull outdated`: arguments and rendering; the
//! work is [`ironhull::lock::check`].

use super::common::cache_dir;
use super::exit;
use ironhull::lock::{self, LockOutcome};
use ironhull::spec;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull lock                 # write ironhull.lock beside builder.toml\n  ironhull lock --update        # re-resolve the base and artifacts and rewrite it\n  ironhull build --locked       # fail if anything resolves differently than the lock says"
)]
pub struct LockArgs {
    /// The spec file.
    #[arg(short = 'f', long = "file", default_value = "builder.toml")]
    pub file: PathBuf,
    /// Rewrite an existing lock with what the inputs resolve to now.
    #[arg(long)]
    pub update: bool,
    /// Blob cache directory.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull outdated             # exit 0: up to date, 1: the base moved, 2: error\n  ironhull outdated --json\n\nRun it on a schedule in CI to trigger rebuilds when the base image is updated."
)]
pub struct OutdatedArgs {
    /// The spec file.
    #[arg(short = 'f', long = "file", default_value = "builder.toml")]
    pub file: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Blob cache directory.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
}

use super::common::fail;

pub fn run_lock(a: LockArgs) -> i32 {
    let spec = match spec::load(&a.file) {
        Ok(s) => s,
        Err(e) => return fail(exit::INPUT, e),
    };
    let cache = cache_dir(a.cache_dir.as_deref());
    match lock::check::lock(
        &spec,
        &a.file,
        a.update,
        &cache,
        &a.registry.options(true, false),
    ) {
        Ok(LockOutcome::UpToDate(path)) => {
            eprintln!("{} is up to date", path.display());
            exit::OK
        }
        Ok(LockOutcome::Written(path)) => {
            eprintln!("wrote {}", path.display());
            exit::OK
        }
        Ok(LockOutcome::OutOfDate { path, changes }) => {
            for d in &changes {
                eprintln!("  {d}");
            }
            fail(
                exit::POLICY,
                format!(
                    "{} is out of date; run `ironhull lock --update` to accept these changes",
                    path.display()
                ),
            )
        }
        Err(e) => fail(super::exit_code(e.class), e),
    }
}

pub fn run_outdated(a: OutdatedArgs) -> i32 {
    let spec = match spec::load(&a.file) {
        Ok(s) => s,
        Err(e) => return fail(exit::INPUT, e),
    };
    let cache = cache_dir(a.cache_dir.as_deref());
    let o = match lock::outdated(&spec, &a.file, &cache, &a.registry.options(true, false)) {
        Ok(o) => o,
        Err(e) => return fail(super::exit_code(e.class), e),
    };
    let shown = |d: &Option<ironhull::digest::Digest>| d.as_ref().map(|d| d.to_string());
    if a.json {
        let moved: Vec<_> = o
            .moved
            .iter()
            .map(|m| {
                json!({
                    "platform": m.platform,
                    "locked": shown(&m.locked),
                    "lockedCreated": m.locked_created,
                    "current": m.current.to_string(),
                    "currentCreated": m.current_created,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "base": o.base,
                "upToDate": !o.drifted(),
                "lockedIndex": shown(&o.locked_index),
                "currentIndex": shown(&o.current_index),
                "platforms": moved,
                "packages": o.packages.iter().map(|p| json!({
                    "platform": p.platform,
                    "name": p.name,
                    "locked": p.locked,
                    "current": p.current,
                })).collect::<Vec<_>>(),
            }))
            .unwrap_or_default()
        );
    } else if o.drifted() {
        if o.moved.is_empty() && !o.index_moved() {
            println!("base {} is up to date; packages have moved:", o.base);
        } else {
            println!("base {} has moved:", o.base);
        }
        if o.index_moved() {
            let or_none =
                |d: &Option<ironhull::digest::Digest>| shown(d).unwrap_or_else(|| "none".into());
            println!(
                "  index: {} → {}",
                or_none(&o.locked_index),
                or_none(&o.current_index)
            );
        }
        for m in &o.moved {
            println!(
                "  {}: {} (created {}) → {} (created {})",
                m.platform,
                shown(&m.locked).unwrap_or_else(|| "none".into()),
                m.locked_created.as_deref().unwrap_or("unknown"),
                m.current,
                m.current_created.as_deref().unwrap_or("unknown")
            );
        }
        for p in &o.packages {
            println!(
                "  package {} ({}): {} → {}",
                p.name,
                p.platform,
                p.locked,
                p.current.as_deref().unwrap_or("no longer resolved")
            );
        }
        println!("rebuild, then run `ironhull lock --update`");
    } else {
        println!("base {} is up to date", o.base);
    }
    if o.drifted() { exit::POLICY } else { exit::OK }
}
