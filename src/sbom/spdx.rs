//! SPDX 2.3 JSON documents.
//!
//! One document per platform image. The image is the described package,
//! identified by its manifest digest; the document namespace is derived from
//! that digest, and the creation time is passed in (from `SOURCE_DATE_EPOCH`),
//! so the same image always yields the same bytes.
//!
//! Artifact files are SPDX packages with purpose `FILE` rather than SPDX
//! `files`, because SPDX 2.3 requires a SHA-1 for every file and ironhull
//! only computes SHA-256 (SHA-1 adds nothing to integrity here).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::license::{license_ref, spdx_expression};
use super::{Inventory, purl};
use crate::image::PlatformImage;

/// Namespace prefix of ironhull's SPDX documents.
pub const NAMESPACE_PREFIX: &str = "https://ironhull.dev/spdx/";

/// Letters, digits, `.` and `-` only: the SPDX idstring alphabet.
pub(crate) fn spdx_id_part(s: &str) -> String {
    s.chars()
        .take(80)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The `pkg:oci` purl of the image itself.
pub(crate) fn image_purl(image: &PlatformImage, name: &str) -> String {
    purl::build(
        "oci",
        None,
        name,
        Some(&image.manifest_digest.to_string()),
        &[
            ("arch", &image.platform.architecture),
            ("os", &image.platform.os),
            ("variant", image.platform.variant.as_deref().unwrap_or("")),
        ],
    )
}

/// The document for `inv`, the inventory of `image`. `created` is an RFC 3339
/// UTC timestamp (`1970-01-01T00:00:00Z`). The image is called `image`; use
/// [`to_json_named`] to give it a name.
pub fn to_json(inv: &Inventory, image: &PlatformImage, created: &str) -> Value {
    to_json_named(inv, image, created, "image")
}

/// Like [`to_json`], with the image's name (the last component of its
/// repository, e.g. `hello`).
pub fn to_json_named(inv: &Inventory, image: &PlatformImage, created: &str, name: &str) -> Value {
    let hex = image.manifest_digest.hex();
    let mut packages = Vec::new();
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    packages.push(json!({
        "SPDXID": "SPDXRef-Image",
        "name": name,
        "versionInfo": image.manifest_digest.to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "checksums": [{"algorithm": "SHA256", "checksumValue": hex}],
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": image_purl(image, name),
        }],
        "comment": format!("platform {}", image.platform),
    }));
    let mut contains = |id: &str| {
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    };
    if let Some(os) = &inv.os {
        let mut p = json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": if os.id.is_empty() { "unknown" } else { os.id.as_str() },
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
        });
        if let Some(v) = os.full_version() {
            p["versionInfo"] = json!(v);
        }
        if let Some(pn) = &os.pretty_name {
            p["description"] = json!(pn);
        }
        packages.push(p);
        contains("SPDXRef-OperatingSystem");
    }
    // LicenseRef id → original text; a BTreeMap keeps the output sorted.
    let mut extracted: BTreeMap<String, String> = BTreeMap::new();
    for (i, pkg) in inv.packages.iter().enumerate() {
        let id = format!(
            "SPDXRef-Package-{}-{}-{}",
            pkg.ecosystem.purl_type(),
            i + 1,
            spdx_id_part(&pkg.name)
        );
        let declared = match pkg.license.as_deref() {
            None => "NOASSERTION".to_string(),
            Some(l) => match spdx_expression(l) {
                Some(e) => e,
                None => {
                    let mut r = license_ref(l);
                    // Two different texts that sanitise alike get distinct ids.
                    let mut n = 2;
                    while extracted.get(&r).is_some_and(|t| t != l) {
                        r = format!("{}-{n}", license_ref(l));
                        n += 1;
                    }
                    extracted.insert(r.clone(), l.to_string());
                    r
                }
            },
        };
        let mut p = json!({
            "SPDXID": id,
            "name": pkg.name,
            "versionInfo": pkg.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "LIBRARY",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "sourceInfo": format!(
                "built from source package {} {}",
                pkg.source,
                pkg.source_version.as_deref().unwrap_or(&pkg.version)
            ),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl::package(pkg, inv.os.as_ref()),
            }],
        });
        if let Some(a) = &pkg.arch {
            p["comment"] = json!(format!("architecture {a}"));
        }
        packages.push(p);
        contains(&id);
    }
    for (i, a) in inv.artifacts.iter().enumerate() {
        let id = format!(
            "SPDXRef-Artifact-{}-{}",
            i + 1,
            spdx_id_part(a.path.file_name())
        );
        let mut p = json!({
            "SPDXID": id,
            "name": a.path.to_abs(),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "FILE",
            "comment": format!("added by ironhull; mode {:04o}, size {} bytes", a.mode, a.size),
        });
        if let Some(d) = &a.sha256 {
            p["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": d.hex()}]);
        }
        packages.push(p);
        contains(&id);
    }
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{name}-{}-sha256-{}", spdx_id_part(&image.platform.to_string()), hex.get(..12).unwrap_or(hex)),
        "documentNamespace": format!("{NAMESPACE_PREFIX}{hex}"),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: ironhull-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !extracted.is_empty() {
        doc["hasExtractedLicensingInfos"] = Value::Array(
            extracted
                .into_iter()
                .map(|(id, text)| json!({"licenseId": id, "extractedText": text, "name": text}))
                .collect(),
        );
    }
    doc
}
