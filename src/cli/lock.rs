//! `ironhull lock`, `ironhull outdated`, and the lock checks of `build --locked`.

use super::common::cache_dir;
use super::exit;
use ironhull::base::resolve::open;
use ironhull::image::ImageSet;
use ironhull::layer::LayerParams;
use ironhull::lock::{self, Lock};
use ironhull::registry::RegistryOptions;
use ironhull::spec::{self, Spec};
use ironhull::store::BlobStore;
use serde_json::json;
use std::path::{Path, PathBuf};

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

/// Resolves the spec's base (every platform the spec asks for) and computes a
/// fresh lock.
pub fn fresh_lock(
    spec: &Spec,
    cache: Option<&Path>,
    registry: &RegistryOptions,
) -> Result<(Lock, ImageSet), (i32, String)> {
    let text = lock::read_all(spec.path()).map_err(|e| (exit::IO, e.to_string()))?;
    let cache = cache_dir(cache);
    let work = std::fs::create_dir_all(&cache)
        .and_then(|_| tempfile::Builder::new().prefix("lock-").tempdir_in(&cache))
        .map_err(|e| {
            (
                exit::IO,
                format!("cannot create a work directory in {}: {e}", cache.display()),
            )
        })?;
    let stage = BlobStore::open(cache.join("blobs")).map_err(|e| (exit::IO, e.to_string()))?;
    let base = open(
        spec.base(),
        spec.image().platforms(),
        false,
        work.path(),
        &stage,
        &LayerParams::default(),
        registry,
    )
    .map_err(|e| (exit::INPUT, e.to_string()))?;
    let set = ImageSet {
        index_digest: base.digest.clone(),
        images: base.images.clone(),
    };
    let reference = base_reference(spec);
    let l = lock::compute(spec, &text, &set, &reference).map_err(|e| (exit::IO, e.to_string()))?;
    Ok((l, set))
}

/// `base.image` as the spec writes it (relative paths as written, not resolved).
pub fn base_reference(spec: &Spec) -> String {
    spec.base().to_string()
}

pub fn run_lock(a: LockArgs) -> i32 {
    let spec = match spec::load(&a.file) {
        Ok(s) => s,
        Err(e) => return fail(exit::INPUT, e),
    };
    let path = Lock::path_for(&a.file);
    let old = match Lock::read(&path) {
        Ok(l) => l,
        Err(e) => return fail(exit::INPUT, e),
    };
    let (now, _) = match fresh_lock(
        &spec,
        a.cache_dir.as_deref(),
        &a.registry.options(true, false),
    ) {
        Ok(x) => x,
        Err((code, msg)) => return fail(code, msg),
    };
    match old {
        Some(old) if !a.update => {
            let diffs = old.differences(&now);
            if diffs.is_empty() {
                eprintln!("{} is up to date", path.display());
                return exit::OK;
            }
            for d in &diffs {
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
        _ => {
            if let Err(e) = now.write(&path) {
                return fail(exit::IO, e);
            }
            eprintln!("wrote {}", path.display());
            exit::OK
        }
    }
}

/// For `build --locked`: the differences between the lock and now, or an error.
pub fn check_locked(
    spec: &Spec,
    spec_path: &Path,
    cache: Option<&Path>,
    registry: &RegistryOptions,
) -> Result<(), (i32, String)> {
    let path = Lock::path_for(spec_path);
    let Some(old) = Lock::read(&path).map_err(|e| (exit::INPUT, e.to_string()))? else {
        return Err((
            exit::INPUT,
            format!(
                "--locked: no {} beside {}; create it with `ironhull lock`",
                lock::LOCK_FILE,
                spec_path.display()
            ),
        ));
    };
    let (now, _) = fresh_lock(spec, cache, registry)?;
    let diffs = old.differences(&now);
    if diffs.is_empty() {
        return Ok(());
    }
    Err((
        exit::INPUT,
        format!(
            "--locked: the inputs no longer match {}:\n  {}\nrun `ironhull lock --update` if the changes are intended",
            path.display(),
            diffs.join("\n  ")
        ),
    ))
}

pub fn run_outdated(a: OutdatedArgs) -> i32 {
    let spec = match spec::load(&a.file) {
        Ok(s) => s,
        Err(e) => return fail(exit::INPUT, e),
    };
    let path = Lock::path_for(&a.file);
    let old = match Lock::read(&path) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return fail(
                exit::INPUT,
                format!(
                    "no {} beside {}; create it with `ironhull lock`",
                    lock::LOCK_FILE,
                    a.file.display()
                ),
            );
        }
        Err(e) => return fail(exit::INPUT, e),
    };
    let (now, _) = match fresh_lock(
        &spec,
        a.cache_dir.as_deref(),
        &a.registry.options(true, false),
    ) {
        Ok(x) => x,
        Err((code, msg)) => return fail(code, msg),
    };
    let mut moved = Vec::new();
    for p in &now.base.platforms {
        let locked = old.base.platforms.iter().find(|o| o.platform == p.platform);
        if locked.is_none_or(|o| o.manifest != p.manifest) {
            moved.push(json!({
                "platform": p.platform,
                "locked": locked.map(|o| o.manifest.to_string()),
                "lockedCreated": locked.and_then(|o| o.created.clone()),
                "current": p.manifest.to_string(),
                "currentCreated": p.created,
            }));
        }
    }
    let index_moved = old.base.index != now.base.index;
    let drifted = !moved.is_empty() || index_moved;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "base": now.base.reference,
                "upToDate": !drifted,
                "lockedIndex": old.base.index.as_ref().map(|d| d.to_string()),
                "currentIndex": now.base.index.as_ref().map(|d| d.to_string()),
                "platforms": moved,
            }))
            .unwrap_or_default()
        );
    } else if drifted {
        println!("base {} has moved:", now.base.reference);
        if index_moved {
            println!(
                "  index: {} → {}",
                old.base
                    .index
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "none".into()),
                now.base
                    .index
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "none".into())
            );
        }
        for m in &moved {
            println!(
                "  {}: {} (created {}) → {} (created {})",
                m["platform"].as_str().unwrap_or(""),
                m["locked"].as_str().unwrap_or("none"),
                m["lockedCreated"].as_str().unwrap_or("unknown"),
                m["current"].as_str().unwrap_or(""),
                m["currentCreated"].as_str().unwrap_or("unknown")
            );
        }
        println!("rebuild, then run `ironhull lock --update`");
    } else {
        println!("base {} is up to date", now.base.reference);
    }
    if drifted { exit::POLICY } else { exit::OK }
}
