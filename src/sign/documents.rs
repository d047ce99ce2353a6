//! Making the signed documents of an image, before anything is written:
//! the cosign v3 signature bundle, attestation bundles (provenance, SBOMs)
//! and the legacy simple-signing signatures. Signing is deterministic, so
//! the same image and key give the same bytes.

use super::bundle;
use super::dsse::Envelope;
use super::signer::{SignError, Signer};
use super::simple_signing;
use super::statement::{PredicateKind, Statement, Subject};
use crate::digest::Digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Which signature formats to write (`--signature-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureFormat {
    /// Sigstore bundles as OCI referrers (cosign v3).
    Bundle,
    /// `sha256-<hex>.sig` simple signing (cosign 1 and 2, containers/image).
    Legacy,
    #[default]
    Both,
}

impl SignatureFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bundle" => Some(Self::Bundle),
            "legacy" => Some(Self::Legacy),
            "both" => Some(Self::Both),
            _ => None,
        }
    }
    pub fn bundle(self) -> bool {
        matches!(self, Self::Bundle | Self::Both)
    }
    pub fn legacy(self) -> bool {
        matches!(self, Self::Legacy | Self::Both)
    }
}

/// A signed Sigstore bundle and what it states.
#[derive(Clone, Debug)]
pub struct SignedBundle {
    pub kind: PredicateKind,
    pub bytes: Vec<u8>,
}

/// A legacy signature of one digest.
#[derive(Clone, Debug)]
pub struct LegacySignature {
    pub subject: Digest,
    pub payload: Vec<u8>,
    /// base64 of the DER signature over the payload.
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("cannot encode the signed document: {0}")]
    Json(#[from] serde_json::Error),
}

/// Signs `predicate` of `kind` over `subjects` (name, digest) into a bundle.
pub fn attest(
    signer: &dyn Signer,
    kind: PredicateKind,
    subjects: &[(String, Digest)],
    predicate: serde_json::Value,
) -> Result<SignedBundle, DocumentError> {
    let st = Statement::new(
        kind,
        subjects.iter().map(|(n, d)| Subject::of(n, d)).collect(),
        predicate,
    );
    let payload = st.to_bytes()?;
    let env = Envelope::sign(signer, &payload)?;
    Ok(SignedBundle {
        kind,
        bytes: bundle::to_bytes(&env, &signer.public_key_der()?)?,
    })
}

/// The image signature in cosign v3's shape: an empty predicate of type
/// `https://sigstore.dev/cosign/sign/v1` over the digests. Subjects carry
/// no name, as cosign writes them: the digest is the identity.
pub fn image_signature(
    signer: &dyn Signer,
    subjects: &[Digest],
) -> Result<SignedBundle, DocumentError> {
    let named: Vec<(String, Digest)> = subjects
        .iter()
        .map(|d| (String::new(), d.clone()))
        .collect();
    attest(
        signer,
        PredicateKind::Signature,
        &named,
        serde_json::json!({}),
    )
}

/// The legacy signature of `subject`, claimed for `reference`.
pub fn legacy(
    signer: &dyn Signer,
    reference: &str,
    subject: &Digest,
) -> Result<LegacySignature, DocumentError> {
    let payload = simple_signing::payload(reference, subject)?;
    let sig = signer.sign(&payload)?;
    Ok(LegacySignature {
        subject: subject.clone(),
        payload,
        signature: STANDARD.encode(sig),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::signer::KeySigner;
    use p256::ecdsa::SigningKey;

    #[test]
    fn image_signature_bundle_verifies_and_covers_every_subject() {
        let s = KeySigner::new(SigningKey::from_slice(&[9u8; 32]).unwrap());
        let a = Digest::of(b"index");
        let b = Digest::of(b"manifest");
        let sb = image_signature(&s, &[a.clone(), b.clone()]).unwrap();
        let p = bundle::parse(&sb.bytes).unwrap();
        let st =
            Statement::parse(&p.envelope.verified_payload(&s.verifying_key()).unwrap()).unwrap();
        assert!(st.covers(&a) && st.covers(&b));
        assert!(!st.covers(&Digest::of(b"other")));
        assert_eq!(st.predicate_type, PredicateKind::Signature.uri());
        assert_eq!(sb.bytes, image_signature(&s, &[a, b]).unwrap().bytes);
    }

    #[test]
    fn legacy_signature_verifies_over_the_payload() {
        let s = KeySigner::new(SigningKey::from_slice(&[9u8; 32]).unwrap());
        let d = Digest::of(b"m");
        let l = legacy(&s, "r/app", &d).unwrap();
        let der = STANDARD.decode(&l.signature).unwrap();
        assert!(crate::sign::signer::verify(
            &s.verifying_key(),
            &l.payload,
            &der
        ));
        assert_eq!(simple_signing::parse(&l.payload).unwrap().digest, d);
    }
}
