//! DSSE envelopes (Dead Simple Signing Envelope, v1): what every ironhull
//! signature over an in-toto Statement is.
//!
//! The signature covers the pre-authentication encoding (PAE) of the
//! payload type and the payload, never the JSON of the envelope, so a
//! verifier needs no canonicalization and an attacker cannot smuggle a
//! second meaning into the envelope's own fields.

use super::signer::{SignError, Signer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto Statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// base64 of the DER ECDSA signature.
    pub sig: String,
    /// Empty: the key is named by the bundle's hint, not here (what cosign
    /// and sigstore-go write, and what securesystemslib matches on).
    #[serde(default)]
    pub keyid: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// base64 of the payload bytes.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsseError {
    #[error("the DSSE payload is not valid base64")]
    Payload,
    #[error("the envelope has no signatures")]
    NoSignature,
    #[error(
        "no signature in the envelope verifies with this key (payload tampered with, or signed by another key)"
    )]
    BadSignature,
    #[error("the envelope's payload type is {0:?}, expected {INTOTO_PAYLOAD_TYPE:?}")]
    PayloadType(String),
}

impl Envelope {
    /// Signs `payload` as an in-toto Statement envelope.
    pub fn sign(signer: &dyn Signer, payload: &[u8]) -> Result<Self, SignError> {
        let sig = signer.sign(&pae(INTOTO_PAYLOAD_TYPE, payload))?;
        Ok(Self {
            payload: STANDARD.encode(payload),
            payload_type: INTOTO_PAYLOAD_TYPE.into(),
            signatures: vec![Signature {
                sig: STANDARD.encode(sig),
                keyid: String::new(),
            }],
        })
    }

    /// The payload, if some signature verifies with `key` over its PAE.
    /// Only then may the caller read it: an unverified payload is hostile.
    pub fn verified_payload(&self, key: &VerifyingKey) -> Result<Vec<u8>, DsseError> {
        if self.payload_type != INTOTO_PAYLOAD_TYPE {
            return Err(DsseError::PayloadType(
                self.payload_type.chars().take(100).collect(),
            ));
        }
        let payload = STANDARD
            .decode(&self.payload)
            .map_err(|_| DsseError::Payload)?;
        if self.signatures.is_empty() {
            return Err(DsseError::NoSignature);
        }
        let msg = pae(&self.payload_type, &payload);
        let ok = self.signatures.iter().any(|s| {
            STANDARD
                .decode(&s.sig)
                .map(|der| super::signer::verify(key, &msg, &der))
                .unwrap_or(false)
        });
        if ok {
            Ok(payload)
        } else {
            Err(DsseError::BadSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::signer::KeySigner;
    use p256::ecdsa::SigningKey;

    #[test]
    fn pae_matches_the_spec_example() {
        // The DSSE protocol document's test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_then_verify_and_every_tampering_fails() {
        let s = KeySigner::new(SigningKey::from_slice(&[3u8; 32]).unwrap());
        let key = s.verifying_key();
        let e = Envelope::sign(&s, b"{\"a\":1}").unwrap();
        assert_eq!(e.verified_payload(&key).unwrap(), b"{\"a\":1}");
        assert_eq!(e, Envelope::sign(&s, b"{\"a\":1}").unwrap(), "RFC 6979");

        let mut t = e.clone();
        t.payload = STANDARD.encode(b"{\"a\":2}");
        assert_eq!(t.verified_payload(&key), Err(DsseError::BadSignature));
        let mut t = e.clone();
        t.payload_type = "text/plain".into();
        assert!(matches!(
            t.verified_payload(&key),
            Err(DsseError::PayloadType(_))
        ));
        let mut t = e.clone();
        t.signatures.clear();
        assert_eq!(t.verified_payload(&key), Err(DsseError::NoSignature));
        let mut t = e.clone();
        t.signatures[0].sig = "!!".into();
        assert_eq!(t.verified_payload(&key), Err(DsseError::BadSignature));
        let other = KeySigner::new(SigningKey::from_slice(&[4u8; 32]).unwrap());
        assert_eq!(
            e.verified_payload(&other.verifying_key()),
            Err(DsseError::BadSignature)
        );
    }
}
