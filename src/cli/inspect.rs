//! `ironhull inspect IMAGE`: a one-screen summary of any image — platforms,
//! user, entrypoint, layers with sizes, how many OS packages it carries, and
//! whether it passes `ironhull audit` with the default policy at
//! `--fail-on high`. Meant for "what is this image?" before trusting it.

use super::common::use_color;
use super::exit;
use ironhull::fs::{ImagePath, MergedTree};
use ironhull::image::PlatformImage;
use ironhull::policy::{self, Policy, Severity};
use ironhull::store::BlobStore;
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

/// Package counts by database.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Packages {
    pub apk: usize,
    pub dpkg: usize,
}

/// Counts `P:` records of an apk `installed` database.
pub fn count_apk(db: &[u8]) -> usize {
    db.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"P:"))
        .count()
}

/// Counts installed stanzas of a dpkg `status` file (or one `status.d`
/// file): stanzas with a `Package:` field whose `Status:`, when present,
/// ends in `installed` (distroless' status.d files carry no Status).
pub fn count_dpkg(db: &[u8]) -> usize {
    let text = String::from_utf8_lossy(db);
    text.split("\n\n")
        .filter(|stanza| {
            let mut has_pkg = false;
            let mut installed = true;
            for l in stanza.lines() {
                if l.starts_with("Package:") {
                    has_pkg = true;
                } else if let Some(s) = l.strip_prefix("Status:") {
                    installed = s.trim().ends_with(" installed");
                }
            }
            has_pkg && installed
        })
        .count()
}

fn packages(tree: &MergedTree) -> Packages {
    let mut p = Packages::default();
    for path in ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"] {
        if let Some(db) = ImagePath::parse(path).ok().and_then(|ip| tree.content(&ip)) {
            p.apk = p.apk.max(count_apk(db));
        }
    }
    if let Some(db) = ImagePath::parse("/var/lib/dpkg/status")
        .ok()
        .and_then(|ip| tree.content(&ip))
    {
        p.dpkg += count_dpkg(db);
    }
    if let Ok(dir) = ImagePath::parse("/var/lib/dpkg/status.d") {
        for (path, _) in tree.children(&dir) {
            // status.d also holds `<pkg>.md5sums` files: only stanzas count.
            if path.as_str().ends_with(".md5sums") {
                continue;
            }
            if let Some(db) = tree.content(path) {
                p.dpkg += count_dpkg(db);
            }
        }
    }
    p
}

fn config_field<'a>(img: &'a PlatformImage, key: &str) -> Option<&'a Value> {
    img.config
        .get("config")
        .and_then(|c| c.get(key))
        .filter(|v| !v.is_null())
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
fn summarize(img: &PlatformImage, blobs: &BlobStore) -> Result<Value, String> {
    let report = policy::audit_image(img, blobs, &Policy::default())
        .map_err(|e| format!("{}: {e}", img.platform))?;
    let (tree, _) =
        policy::scan_layers(&img.layers, blobs).map_err(|e| format!("{}: {e}", img.platform))?;
    let pk = packages(&tree);
    let layers: Vec<Value> = img
        .layers
        .iter()
        .map(|l| json!({"digest": l.digest.to_string(), "size": l.size, "mediaType": l.media_type}))
        .collect();
    let total: u64 = img.layers.iter().map(|l| l.size).sum();
    let counts: serde_json::Map<String, Value> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .map(|s| (s.as_str().to_string(), json!(report.summary.count(*s))))
    .collect();
    Ok(json!({
        "platform": img.platform.to_string(),
        "manifest": img.manifest_digest.to_string(),
        "config": img.config_digest.to_string(),
        "user": config_field(img, "User").cloned().unwrap_or(Value::Null),
        "entrypoint": config_field(img, "Entrypoint").cloned().unwrap_or(Value::Null),
        "cmd": config_field(img, "Cmd").cloned().unwrap_or(Value::Null),
        "layers": layers,
        "size": total,
        "packages": {"apk": pk.apk, "dpkg": pk.dpkg, "total": pk.apk + pk.dpkg},
        "audit": {
            "passes": !report.fails(Severity::High),
            "failOn": "high",
            "findings": counts,
            "ids": report.ids().into_iter().collect::<Vec<_>>(),
        },
    }))
}

fn text(image: &str, p: &Value, color: bool) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let argv = |v: &Value| match v.as_array() {
        Some(a) => serde_json::to_string(a).unwrap_or_default(),
        None => "(none)".into(),
    };
    let mut o = format!("{image} ({})\n", s(&p["platform"]));
    o.push_str(&format!("  manifest    {}\n", s(&p["manifest"])));
    let user = match p["user"].as_str() {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => "(unset: root)".into(),
    };
    o.push_str(&format!("  user        {user}\n"));
    o.push_str(&format!("  entrypoint  {}\n", argv(&p["entrypoint"])));
    o.push_str(&format!("  cmd         {}\n", argv(&p["cmd"])));
    let layers = p["layers"].as_array().cloned().unwrap_or_default();
    o.push_str(&format!(
        "  layers      {} ({} compressed)\n",
        layers.len(),
        human_size(p["size"].as_u64().unwrap_or(0))
    ));
    for l in &layers {
        o.push_str(&format!(
            "    {:>10}  {}\n",
            human_size(l["size"].as_u64().unwrap_or(0)),
            s(&l["digest"])
        ));
    }
    let pk = &p["packages"];
    o.push_str(&format!(
        "  packages    {} (apk {}, dpkg {})\n",
        pk["total"], pk["apk"], pk["dpkg"]
    ));
    let a = &p["audit"];
    let passes = a["passes"].as_bool().unwrap_or(false);
    let verdict = match (passes, color) {
        (true, true) => "\x1b[32mpasses\x1b[0m".to_string(),
        (true, false) => "passes".to_string(),
        (false, true) => "\x1b[31mFAILS\x1b[0m".to_string(),
        (false, false) => "FAILS".to_string(),
    };
    let ids: Vec<String> = a["ids"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    o.push_str(&format!(
        "  audit       {verdict} at --fail-on high{}\n",
        if ids.is_empty() {
            String::new()
        } else {
            format!(" (findings: {}; see `ironhull audit`)", ids.join(", "))
        }
    ));
    o
}

use super::common::fail;

pub fn run(a: InspectArgs) -> i32 {
    let (image, _work) = match super::common::open_image(
        &a.image,
        a.platform.as_deref(),
        a.cache_dir.as_deref(),
        &a.registry.options(true, false),
        "inspect",
    ) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let mut per = Vec::new();
    for img in &image.images {
        match summarize(img, &image.blobs) {
            Ok(v) => per.push(v),
            Err(e) => return fail(exit::INPUT, e),
        }
    }
    if a.json {
        let doc = json!({
            "image": a.image,
            "digest": image.digest.as_ref().map(|d| d.to_string()),
            "platforms": per,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let color = use_color() && {
            use std::io::IsTerminal;
            std::io::stdout().is_terminal()
        };
        for p in &per {
            print!("{}", text(&a.image, p, color));
        }
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apk_and_dpkg_counts() {
        assert_eq!(count_apk(b"C:x\nP:musl\nV:1\n\nP:busybox\nV:2\n"), 2);
        assert_eq!(count_apk(b""), 0);
        let status = "Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok config-files\n\nPackage: c\nVersion: 1\n";
        assert_eq!(count_dpkg(status.as_bytes()), 2);
        assert_eq!(count_dpkg(b"\xff\xfe garbage"), 0);
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
