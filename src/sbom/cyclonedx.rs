//! CycloneDX 1.6 JSON documents.
//!
//! Same content and determinism rules as the SPDX writer: the image (by
//! manifest digest) is `metadata.component`, the serial number is a UUID
//! derived from that digest, and the timestamp is passed in.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::license::spdx_expression;
use super::spdx::image_purl;
use super::{Inventory, purl};
use crate::digest::Digest;
use crate::image::PlatformImage;

/// A name-based (version 5 layout) UUID URN derived from the manifest digest,
/// so the serial number is stable for the same image and unique across images.
pub fn serial_number(image: &PlatformImage) -> String {
    let d = Digest::of(format!("ironhull-cyclonedx:{}", image.manifest_digest).as_bytes());
    let h = d.hex().as_bytes();
    let s = |a: usize, b: usize| String::from_utf8_lossy(h.get(a..b).unwrap_or(b"0")).into_owned();
    // Version nibble 5, variant bits 10xx.
    let variant = match h.get(16) {
        Some(c) => ["8", "9", "a", "b"][usize::from(c % 4)],
        None => "8",
    };
    format!(
        "urn:uuid:{}-{}-5{}-{}{}-{}",
        s(0, 8),
        s(8, 12),
        s(13, 16),
        variant,
        s(17, 20),
        s(20, 32)
    )
}

/// The document for `inv`, the inventory of `image`; `created` is RFC 3339 UTC.
pub fn to_json(inv: &Inventory, image: &PlatformImage, created: &str) -> Value {
    to_json_named(inv, image, created, "image")
}

/// Like [`to_json`], with the image's name.
pub fn to_json_named(inv: &Inventory, image: &PlatformImage, created: &str, name: &str) -> Value {
    let mut components = Vec::new();
    let mut refs: BTreeSet<String> = BTreeSet::new();
    let mut unique = |base: String| {
        let mut r = base.clone();
        let mut n = 2;
        while !refs.insert(r.clone()) {
            r = format!("{base}#{n}");
            n += 1;
        }
        r
    };
    if let Some(os) = &inv.os {
        let mut c = json!({
            "type": "operating-system",
            "bom-ref": unique("os".into()),
            "name": if os.id.is_empty() { "unknown" } else { os.id.as_str() },
        });
        if let Some(v) = os.full_version() {
            c["version"] = json!(v);
        }
        if let Some(pn) = &os.pretty_name {
            c["description"] = json!(pn);
        }
        components.push(c);
    }
    for pkg in &inv.packages {
        let p = purl::package(pkg, inv.os.as_ref());
        let mut c = json!({
            "type": "library",
            "bom-ref": unique(p.clone()),
            "name": pkg.name,
            "version": pkg.version,
            "purl": p,
        });
        if let Some(l) = pkg.license.as_deref() {
            c["licenses"] = match spdx_expression(l) {
                Some(e) => json!([{"expression": e}]),
                None => json!([{"license": {"name": l}}]),
            };
        }
        let mut props = vec![json!({"name": "ironhull:package:source", "value": pkg.source})];
        if let Some(sv) = &pkg.source_version {
            props.push(json!({"name": "ironhull:package:source-version", "value": sv}));
        }
        if let Some(a) = &pkg.arch {
            props.push(json!({"name": "ironhull:package:arch", "value": a}));
        }
        c["properties"] = Value::Array(props);
        components.push(c);
    }
    for a in &inv.artifacts {
        let mut c = json!({
            "type": "file",
            "bom-ref": unique(format!("file:{}", a.path.to_abs())),
            "name": a.path.to_abs(),
            "properties": [
                {"name": "ironhull:file:mode", "value": format!("{:04o}", a.mode)},
                {"name": "ironhull:file:size", "value": a.size.to_string()},
            ],
        });
        if let Some(d) = &a.sha256 {
            c["hashes"] = json!([{"alg": "SHA-256", "content": d.hex()}]);
        }
        components.push(c);
    }
    let image_ref = unique("image".into());
    let depends: Vec<Value> = components
        .iter()
        .filter_map(|c| c.get("bom-ref").cloned())
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(image),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{
                "type": "application",
                "name": "ironhull",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "container",
                "bom-ref": image_ref,
                "name": name,
                "version": image.manifest_digest.to_string(),
                "hashes": [{"alg": "SHA-256", "content": image.manifest_digest.hex()}],
                "purl": image_purl(image, name),
                "properties": [{"name": "ironhull:image:platform", "value": image.platform.to_string()}],
            },
        },
        "components": components,
        "dependencies": [{"ref": image_ref, "dependsOn": depends}],
    })
}
