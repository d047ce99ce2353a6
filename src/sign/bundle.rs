//! Sigstore bundles v0.3 holding a DSSE envelope, signed with a key (no
//! certificate, no transparency log entry, no timestamp: ironhull signs
//! offline). The bundle names its key only by a hint, base64(sha256(SPKI
//! DER)), so a verifier picks the right trusted key; the hint is never
//! trusted by itself, since only the signature check proves anything.

use super::dsse::Envelope;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The key hint of a public key, as sigstore-go writes it.
pub fn key_hint(spki_der: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(spki_der))
}

/// The bundle's JSON bytes (canonical, so deterministic).
pub fn to_bytes(envelope: &Envelope, spki_der: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    crate::cjson::to_vec(&serde_json::json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "publicKey": { "hint": key_hint(spki_der) },
            "tlogEntries": [],
        },
        "dsseEnvelope": envelope,
    }))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("not a Sigstore bundle: {0}")]
    Json(String),
    #[error("unsupported bundle media type {0:?}; ironhull reads {BUNDLE_V03}")]
    MediaType(String),
    #[error("the bundle holds no DSSE envelope (a message signature is for blobs, not images)")]
    NoEnvelope,
}

/// What a verifier reads from a bundle: the envelope and the key hint.
#[derive(Clone, Debug)]
pub struct ParsedBundle {
    pub envelope: Envelope,
    pub hint: Option<String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "mediaType")]
    media_type: String,
    #[serde(rename = "verificationMaterial", default)]
    material: Option<RawMaterial>,
    #[serde(rename = "dsseEnvelope")]
    envelope: Option<Envelope>,
}

#[derive(Deserialize)]
struct RawMaterial {
    #[serde(rename = "publicKey")]
    public_key: Option<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    hint: Option<String>,
}

/// Parses a bundle (hostile bytes: the caller caps their size).
pub fn parse(bytes: &[u8]) -> Result<ParsedBundle, BundleError> {
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
    // v0.3 has two spellings of its media type.
    if raw.media_type != BUNDLE_V03
        && raw.media_type != "application/vnd.dev.sigstore.bundle+json;version=0.3"
    {
        return Err(BundleError::MediaType(
            raw.media_type.chars().take(100).collect(),
        ));
    }
    let envelope = raw.envelope.ok_or(BundleError::NoEnvelope)?;
    Ok(ParsedBundle {
        envelope,
        hint: raw.material.and_then(|m| m.public_key).and_then(|k| k.hint),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::signer::{KeySigner, Signer};
    use p256::ecdsa::SigningKey;

    #[test]
    fn bundle_round_trip() {
        let s = KeySigner::new(SigningKey::from_slice(&[5u8; 32]).unwrap());
        let der = s.public_key_der().unwrap();
        let env = Envelope::sign(&s, b"{}").unwrap();
        let b = to_bytes(&env, &der).unwrap();
        let p = parse(&b).unwrap();
        assert_eq!(p.envelope, env);
        assert_eq!(p.hint.as_deref(), Some(key_hint(&der).as_str()));
        assert_eq!(key_hint(&der).len(), 44);
        assert_eq!(b, to_bytes(&env, &der).unwrap());
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse(b"[]"), Err(BundleError::Json(_))));
        assert!(matches!(
            parse(br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.1+json"}"#),
            Err(BundleError::MediaType(_))
        ));
        assert_eq!(
            parse(br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{}}"#)
                .unwrap_err(),
            BundleError::NoEnvelope
        );
    }
}
