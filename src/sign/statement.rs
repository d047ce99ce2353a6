//! in-toto Statements v1: what is signed. A Statement binds a predicate
//! (an image signature, a provenance record, an SBOM) to subjects named by
//! digest; a verifier trusts the predicate for exactly those digests.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";

/// The predicate types ironhull writes, and the names `verify
/// --attestation` takes for them (cosign's `--type` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredicateKind {
    /// cosign v3's image signature: an empty predicate over the digest.
    Signature,
    SlsaProvenanceV1,
    Spdx,
    CycloneDx,
}

impl PredicateKind {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Signature => "https://sigstore.dev/cosign/sign/v1",
            Self::SlsaProvenanceV1 => "https://slsa.dev/provenance/v1",
            Self::Spdx => "https://spdx.dev/Document",
            Self::CycloneDx => "https://cyclonedx.org/bom",
        }
    }
    /// `--attestation` names, as cosign spells them (`slsaprovenance1`,
    /// `spdxjson`, `cyclonedx`), plus the obvious short ones.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "slsaprovenance1" | "slsa" | "provenance" => Some(Self::SlsaProvenanceV1),
            "spdx" | "spdxjson" => Some(Self::Spdx),
            "cyclonedx" => Some(Self::CycloneDx),
            _ => None,
        }
    }
    pub fn from_uri(uri: &str) -> Option<Self> {
        [
            Self::Signature,
            Self::SlsaProvenanceV1,
            Self::Spdx,
            Self::CycloneDx,
        ]
        .into_iter()
        .find(|k| k.uri() == uri)
    }
    /// A short name for messages and `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::SlsaProvenanceV1 => "slsaprovenance1",
            Self::Spdx => "spdx",
            Self::CycloneDx => "cyclonedx",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    pub fn of(name: &str, d: &Digest) -> Self {
        Self {
            name: name.into(),
            digest: BTreeMap::from([("sha256".to_string(), d.hex().to_string())]),
        }
    }
    /// Whether this subject names `d` (by its sha256).
    pub fn names(&self, d: &Digest) -> bool {
        self.digest.get("sha256").map(String::as_str) == Some(d.hex())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error("the signed payload is not an in-toto Statement: {0}")]
    Json(String),
    #[error("the signed payload's _type is {0:?}, expected {STATEMENT_V1:?}")]
    Type(String),
}

impl Statement {
    pub fn new(kind: PredicateKind, subject: Vec<Subject>, predicate: serde_json::Value) -> Self {
        Self {
            type_: STATEMENT_V1.into(),
            subject,
            predicate_type: kind.uri().into(),
            predicate,
        }
    }
    /// Canonical JSON: the same statement is always the same bytes, so the
    /// same build gives the same (deterministic) signature.
    pub fn to_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        crate::cjson::to_vec(self)
    }
    /// Parses a *verified* payload.
    pub fn parse(bytes: &[u8]) -> Result<Self, StatementError> {
        let s: Statement =
            serde_json::from_slice(bytes).map_err(|e| StatementError::Json(e.to_string()))?;
        if s.type_ != STATEMENT_V1 {
            return Err(StatementError::Type(s.type_.chars().take(100).collect()));
        }
        Ok(s)
    }
    pub fn covers(&self, d: &Digest) -> bool {
        self.subject.iter().any(|s| s.names(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_coverage() {
        let d = Digest::of(b"m");
        let s = Statement::new(
            PredicateKind::Signature,
            vec![Subject::of("", &d)],
            serde_json::json!({}),
        );
        let b = s.to_bytes().unwrap();
        assert_eq!(
            String::from_utf8(b.clone()).unwrap(),
            format!(
                "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicate\":{{}},\"predicateType\":\"https://sigstore.dev/cosign/sign/v1\",\"subject\":[{{\"digest\":{{\"sha256\":\"{}\"}}}}]}}",
                d.hex()
            )
        );
        let p = Statement::parse(&b).unwrap();
        assert!(p.covers(&d));
        assert!(!p.covers(&Digest::of(b"n")));
        let bad = String::from_utf8(b)
            .unwrap()
            .replace("Statement/v1", "Statement/v0.1");
        assert!(matches!(
            Statement::parse(bad.as_bytes()),
            Err(StatementError::Type(_))
        ));
    }

    #[test]
    fn kinds_parse_both_spellings() {
        assert_eq!(
            PredicateKind::parse("slsaprovenance1"),
            Some(PredicateKind::SlsaProvenanceV1)
        );
        assert_eq!(PredicateKind::parse("spdxjson"), Some(PredicateKind::Spdx));
        assert_eq!(PredicateKind::parse("vuln"), None);
        for k in [PredicateKind::Signature, PredicateKind::Spdx] {
            assert_eq!(PredicateKind::from_uri(k.uri()), Some(k));
        }
    }
}
