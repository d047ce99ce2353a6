//! The one small interface every signature goes through.
//!
//! ironhull signs with a local cosign key today. KMS URIs (`awskms://`,
//! `gcpkms://`, `azurekms://`, `hashivault://`) name keys that never leave
//! their service; they will be other [`Signer`]s, so nothing above this file
//! knows where a key lives. All signatures are ECDSA P-256 over SHA-256 and
//! deterministic (RFC 6979), so the same payload and key give the same bytes
//! and tests can compare them.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::EncodePublicKey;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the public key cannot be encoded: {0}")]
    PublicKey(String),
}

/// Something that signs payloads with one key.
pub trait Signer: Send + Sync {
    /// The public key, as DER SubjectPublicKeyInfo (what cosign.pub holds
    /// in PEM, and what the bundle's key hint is a digest of).
    fn public_key_der(&self) -> Result<Vec<u8>, SignError>;
    /// An ASN.1 DER ECDSA signature over SHA-256 of `msg`.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A P-256 key held in memory (read from a cosign key file or variable).
pub struct KeySigner {
    key: SigningKey,
}

impl KeySigner {
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }
}

impl std::fmt::Debug for KeySigner {
    /// Never prints the key: only that there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySigner(<private key>)")
    }
}

impl Signer for KeySigner {
    fn public_key_der(&self) -> Result<Vec<u8>, SignError> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| SignError::PublicKey(e.to_string()))
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let sig: DerSignature = self
            .key
            .try_sign(msg)
            .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(sig.as_bytes().to_vec())
    }
}

/// Checks a DER ECDSA P-256/SHA-256 signature over `msg`.
pub fn verify(key: &VerifyingKey, msg: &[u8], der_sig: &[u8]) -> bool {
    match DerSignature::try_from(der_sig) {
        Ok(sig) => key.verify(msg, &sig).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let s = KeySigner::new(key());
        let a = s.sign(b"payload").unwrap();
        assert_eq!(a, s.sign(b"payload").unwrap());
        assert!(verify(&s.verifying_key(), b"payload", &a));
        assert!(!verify(&s.verifying_key(), b"payloae", &a));
        assert!(!verify(&s.verifying_key(), b"payload", &a[1..]));
        let other = KeySigner::new(SigningKey::from_slice(&[8u8; 32]).unwrap());
        assert!(!verify(&other.verifying_key(), b"payload", &a));
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(
            format!("{:?}", KeySigner::new(key())),
            "KeySigner(<private key>)"
        );
    }
}
