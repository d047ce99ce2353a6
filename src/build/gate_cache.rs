//! Remembering gate verdicts. The manifest digest covers the config and every
//! layer, so the same digest under the same policy and ironhull version gives
//! the same report; a no-op rebuild need not read every layer again.
//!
//! Only passing reports are stored, as JSON keyed by digest. Each record is
//! sealed ([`crate::cache_auth`]) and bound to the exact manifest digest and
//! policy key, so a verdict planted in a restored cache directory, or one
//! copied from another image's record, is ignored with a warning and the
//! gate runs again. A record that does not parse, or names a check this
//! build does not know, is a miss.

use super::BuildRequest;
use crate::cache_auth::CacheAuth;
use crate::digest::Digest;
use crate::policy::{Finding, Report, Severity, catalog};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// What, besides the image, decides the verdict.
pub fn policy_key(req: &BuildRequest) -> Digest {
    policy_key_with(
        req.allow
            .iter()
            .map(|a| format!("{:?}", (&a.check, &a.path, &a.reason))),
    )
}

/// The policy key of a spec without `[[policy.allow]]` waivers (what the
/// cache-attack tests need to plant a verdict where a build would look).
pub fn policy_key_without_waivers() -> Digest {
    policy_key_with(std::iter::empty())
}

fn policy_key_with(waivers: impl Iterator<Item = String>) -> Digest {
    // The source fingerprint, not only the version: a development build with
    // other checks must not reuse a verdict an older one saved.
    let mut s = format!(
        "ironhull {} {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("IRONHULL_SOURCE_FINGERPRINT")
    );
    for w in waivers {
        s.push_str(&w);
        s.push('\n');
    }
    Digest::of(s.as_bytes())
}

fn path(root: &Path, manifest: &Digest, policy: &Digest) -> PathBuf {
    root.join("gate")
        .join(format!("{}-{}.json", manifest.hex(), &policy.hex()[..16]))
}

/// What the MAC of a verdict is bound to: the full manifest digest and policy key.
fn record_name(manifest: &Digest, policy: &Digest) -> String {
    format!("{manifest} {policy}")
}

const KIND: &str = "gate-verdict";

/// `warn` hears why a record on disk was not trusted.
pub fn load(
    root: &Path,
    manifest: &Digest,
    policy: &Digest,
    auth: &CacheAuth,
    warn: &dyn Fn(&str),
) -> Option<Report> {
    use std::io::Read;
    let p = path(root, manifest, policy);
    let mut bytes = Vec::new();
    std::fs::File::open(&p)
        .ok()?
        .take(16 << 20)
        .read_to_end(&mut bytes)
        .ok()?;
    let Some(body) = auth.open(KIND, &record_name(manifest, policy), &bytes) else {
        warn(&format!(
            "gate verdict {} is not authenticated by this machine's cache key (planted, or sealed with another key); ignoring it and running the gate",
            p.display()
        ));
        return None;
    };
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut findings = Vec::new();
    for f in v.get("findings")?.as_array()? {
        let check = catalog::lookup(f.get("id")?.as_str()?)?;
        let severity: Severity = f.get("severity")?.as_str()?.parse().ok()?;
        let layer = match f.get("layer") {
            Some(Value::String(d)) => Some(Digest::parse(d).ok()?),
            _ => None,
        };
        findings.push(Finding {
            id: check.id,
            severity,
            path: f.get("path").and_then(Value::as_str).map(String::from),
            layer,
            message: f.get("message")?.as_str()?.to_string(),
            fix: check.fix,
        });
    }
    Some(Report::new(findings, Vec::new()))
}

pub fn store(root: &Path, manifest: &Digest, policy: &Digest, report: &Report, auth: &CacheAuth) {
    let p = path(root, manifest, policy);
    let Some(dir) = p.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let v = json!({"findings": report.findings.iter().map(|f| json!({
        "id": f.id, "severity": f.severity.as_str(), "path": f.path,
        "layer": f.layer.as_ref().map(|d| d.to_string()), "message": f.message,
    })).collect::<Vec<_>>()});
    let sealed = auth.seal(
        KIND,
        &record_name(manifest, policy),
        v.to_string().as_bytes(),
    );
    if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
        && std::io::Write::write_all(&mut tmp, &sealed).is_ok()
    {
        let _ = tmp.persist(&p);
    }
}
