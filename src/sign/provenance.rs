//! SLSA provenance v1 for an ironhull build: what was built, from what, by
//! whom. Every field comes from what the build itself resolved and
//! verified (the spec's digest, the base's digest, each artifact's sha256,
//! each package's sha256), never from what a user claims, and nothing in it
//! depends on the clock unless `SOURCE_DATE_EPOCH` sets it: the same
//! inputs give the same bytes, so the provenance is as reproducible as the
//! image.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// ironhull's build type. What it means (every external parameter and
/// dependency kind below) is documented in the README, "Signing and
/// provenance".
pub const BUILD_TYPE: &str = "https://github.com/ironhull/ironhull/blob/main/docs/build-type/v1";

/// The default `runDetails.builder.id`: the tool, since ironhull runs
/// wherever CI runs it. CI systems should pass their own (`--builder-id`,
/// e.g. the workflow's URL), which is what a SLSA verifier matches on.
pub const DEFAULT_BUILDER_ID: &str = "https://github.com/ironhull/ironhull";

/// One resolved dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// What it is to the build (`base`, `base linux/amd64`, `artifact /app`).
    pub name: String,
    /// Where it came from (`docker://…`, `file:…`, a package URL).
    pub uri: String,
    /// Hex sha256.
    pub sha256: String,
    /// Extra facts (platform, package version), as SLSA annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Everything the predicate records.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The spec's path as the user gave it, and its hex sha256.
    pub spec_path: String,
    pub spec_sha256: String,
    pub platforms: Vec<String>,
    /// Flags that change the output (`locked`, `sbom`, …), by name.
    pub flags: BTreeMap<String, Value>,
    /// `SOURCE_DATE_EPOCH`, when set: the only clock the record uses.
    pub source_date_epoch: Option<u64>,
    pub dependencies: Vec<Dependency>,
    pub builder_id: String,
}

/// The predicate (`https://slsa.dev/provenance/v1`).
pub fn predicate(i: &Inputs) -> Value {
    let mut external = serde_json::Map::new();
    external.insert(
        "spec".into(),
        json!({"path": i.spec_path, "digest": {"sha256": i.spec_sha256}}),
    );
    external.insert("platforms".into(), json!(i.platforms));
    for (k, v) in &i.flags {
        external.insert(k.clone(), v.clone());
    }
    if let Some(e) = i.source_date_epoch {
        external.insert("sourceDateEpoch".into(), json!(e));
    }
    let deps: Vec<Value> = i
        .dependencies
        .iter()
        .map(|d| {
            let mut v = json!({"name": d.name, "uri": d.uri, "digest": {"sha256": d.sha256}});
            if !d.annotations.is_empty() {
                v["annotations"] = json!(d.annotations);
            }
            v
        })
        .collect();
    let mut run = json!({
        "builder": {
            "id": i.builder_id,
            "version": {"ironhull": env!("CARGO_PKG_VERSION")},
        },
    });
    if let Some(t) = i
        .source_date_epoch
        .and_then(|e| crate::layer::time::rfc3339(e).ok())
    {
        run["metadata"] = json!({"startedOn": t, "finishedOn": t});
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "resolvedDependencies": deps,
        },
        "runDetails": run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            spec_path: "builder.toml".into(),
            spec_sha256: "ab".repeat(32),
            platforms: vec!["linux/amd64".into()],
            flags: BTreeMap::from([("locked".into(), json!(true))]),
            source_date_epoch: None,
            dependencies: vec![Dependency {
                name: "base".into(),
                uri: "docker://example/base".into(),
                sha256: "cd".repeat(32),
                annotations: BTreeMap::new(),
            }],
            builder_id: DEFAULT_BUILDER_ID.into(),
        }
    }

    #[test]
    fn no_clock_without_source_date_epoch_and_its_time_with_it() {
        let p = predicate(&inputs());
        assert!(p["runDetails"].get("metadata").is_none());
        assert_eq!(p["buildDefinition"]["externalParameters"]["locked"], true);
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"],
            "cd".repeat(32)
        );
        let mut i = inputs();
        i.source_date_epoch = Some(1_700_000_000);
        let p = predicate(&i);
        assert_eq!(
            p["runDetails"]["metadata"]["startedOn"],
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["sourceDateEpoch"],
            1_700_000_000
        );
        assert_eq!(predicate(&i), p);
    }
}
