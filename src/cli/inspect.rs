//! `ironhull inspect IMAGE`: a one-screen summary of any image — platforms,
//! user, entrypoint, layers with sizes, how many OS packages it carries, and
//! whether it passes `ironhull audit` with the default policy at
//! `--fail-on high`. Meant for "what is this image?" before trusting it.
//!
//! The facts come from [`ironhull::inspect`]; this file opens the image,
//! renders text or JSON (shape documented in the README) and picks the exit
//! code.

use super::common::{fail, use_color};
use super::exit;
use ironhull::inspect::PlatformInspection;
use ironhull::policy::Severity;
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull inspect oci:ironhull-out/hello:1.0.0\n  ironhull inspect docker-archive:app.tar --json | jq .platforms[0].packages\n  ironhull inspect rootfs:alpine-minirootfs-3.20.3-x86_64.tar.gz\n\nThe audit verdict uses the default policy and fails at severity high, like `ironhull audit IMAGE`."
)]
pub struct InspectArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF] or rootfs:FILE.
    pub image: String,
    /// Machine-readable output (documented in the README).
    #[arg(long)]
    pub json: bool,
    /// Inspect only this platform (os/arch[/variant]); default: every platform.
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
    /// Blob cache directory for extracted archives.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

/// Human sizes: 1023 B, 1.5 KiB, 12.3 MiB.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// The JSON summary of one platform image (shape documented in the README).
fn to_json(p: &PlatformInspection) -> Value {
    let field = |v: &Option<Value>| v.clone().unwrap_or(Value::Null);
    let layers: Vec<Value> = p
        .layers
        .iter()
        .map(|l| json!({"digest": l.digest.to_string(), "size": l.size, "mediaType": l.media_type}))
        .collect();
    let counts: serde_json::Map<String, Value> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .map(|s| (s.as_str().to_string(), json!(p.audit.summary.count(*s))))
    .collect();
    let pk = &p.packages;
    json!({
        "platform": p.platform.to_string(),
        "manifest": p.manifest.to_string(),
        "config": p.config.to_string(),
        "user": field(&p.user),
        "entrypoint": field(&p.entrypoint),
        "cmd": field(&p.cmd),
        "layers": layers,
        "size": p.size(),
        "packages": {"apk": pk.apk, "dpkg": pk.dpkg, "total": pk.total()},
        "audit": {
            "passes": p.audit.passes,
            "failOn": p.audit.fail_on.as_str(),
            "findings": counts,
            "ids": p.audit.ids,
        },
    })
}

fn text(image: &str, p: &PlatformInspection, color: bool) -> String {
    let argv = |v: &Option<Value>| match v.as_ref().and_then(Value::as_array) {
        Some(a) => serde_json::to_string(a).unwrap_or_default(),
        None => "(none)".into(),
    };
    let mut o = format!("{image} ({})\n", p.platform);
    o.push_str(&format!("  manifest    {}\n", p.manifest));
    let user = match p.user.as_ref().and_then(Value::as_str) {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => "(unset: root)".into(),
    };
    o.push_str(&format!("  user        {user}\n"));
    o.push_str(&format!("  entrypoint  {}\n", argv(&p.entrypoint)));
    o.push_str(&format!("  cmd         {}\n", argv(&p.cmd)));
    o.push_str(&format!(
        "  layers      {} ({} compressed)\n",
        p.layers.len(),
        human_size(p.size())
    ));
    for l in &p.layers {
        o.push_str(&format!("    {:>10}  {}\n", human_size(l.size), l.digest));
    }
    let pk = &p.packages;
    o.push_str(&format!(
        "  packages    {} (apk {}, dpkg {})\n",
        pk.total(),
        pk.apk,
        pk.dpkg
    ));
    let verdict = match (p.audit.passes, color) {
        (true, true) => "\x1b[32mpasses\x1b[0m".to_string(),
        (true, false) => "passes".to_string(),
        (false, true) => "\x1b[31mFAILS\x1b[0m".to_string(),
        (false, false) => "FAILS".to_string(),
    };
    let ids = &p.audit.ids;
    o.push_str(&format!(
        "  audit       {verdict} at --fail-on {}{}\n",
        p.audit.fail_on.as_str(),
        if ids.is_empty() {
            String::new()
        } else {
            format!(" (findings: {}; see `ironhull audit`)", ids.join(", "))
        }
    ));
    o
}

pub fn run(a: InspectArgs) -> i32 {
    let job = ironhull::inspect::InspectJob {
        image: a.image.clone(),
        platform: a.platform.clone(),
        cache_dir: super::common::cache_dir(a.cache_dir.as_deref()),
        registry: a.registry.options(true, false),
    };
    let inspection = match ironhull::inspect::run(&job) {
        Ok(i) => i,
        Err(e) => return fail(super::exit_code(e.class), e),
    };
    if a.json {
        let per: Vec<Value> = inspection.platforms.iter().map(to_json).collect();
        let doc = json!({
            "image": a.image,
            "digest": inspection.digest.as_ref().map(|d| d.to_string()),
            "platforms": per,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let color = use_color() && {
            use std::io::IsTerminal;
            std::io::stdout().is_terminal()
        };
        for p in &inspection.platforms {
            print!("{}", text(&a.image, p, color));
        }
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
