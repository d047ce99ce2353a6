//! Deciding whether an image is signed: a valid signature, by the given
//! key, over a statement (or payload) that names the image's digest, with
//! the requested predicate type. Every candidate is hostile until its
//! signature verifies; only then is its payload parsed.

use super::bundle::{self, key_hint};
use super::dsse::DsseError;
use super::simple_signing;
use super::statement::{PredicateKind, Statement};
use crate::digest::Digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::EncodePublicKey;
use serde::Serialize;

/// A signature found near an image, not yet trusted.
#[derive(Clone, Debug)]
pub enum Candidate {
    /// A Sigstore bundle (from a referrer).
    Bundle { origin: String, bytes: Vec<u8> },
    /// A `.sig` layer: its payload and base64 signature annotation.
    Legacy {
        origin: String,
        payload: Vec<u8>,
        signature: String,
    },
}

/// What was verified (`verify --json`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Verified {
    pub digest: String,
    /// `bundle` or `legacy`.
    pub format: &'static str,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// Where it was found (`referrer sha256:…`, `tag sha256-….sig`).
    pub origin: String,
    /// Every digest the signed statement names.
    pub subjects: Vec<String>,
    #[serde(rename = "keyHint")]
    pub key_hint: String,
}

/// Why no candidate was accepted, most telling first.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("no signature found for {0}")]
    NoSignature(String),
    #[error(
        "a valid signature by this key exists, but for {found} (not {digest}): it was made for another image"
    )]
    OtherDigest { digest: String, found: String },
    #[error(
        "signed by this key and naming {digest}, but as {found}, not {wanted} (use --attestation to ask for another type)"
    )]
    OtherType {
        digest: String,
        found: String,
        wanted: String,
    },
    #[error(
        "the signature does not verify with this key although the bundle names it: the signed payload was changed after signing"
    )]
    Tampered,
    #[error(
        "signed by another key (bundle key hint {found}, this key's is {ours}); pass the public key that signed it"
    )]
    OtherKey { found: String, ours: String },
    #[error(
        "the legacy signature does not verify with this key: the payload was changed, or another key signed it"
    )]
    LegacyInvalid,
    #[error("no usable signature: {0}")]
    Malformed(String),
}

impl Rejected {
    /// Lower is more telling: the message a user sees when several
    /// candidates all fail.
    fn rank(&self) -> u8 {
        match self {
            Rejected::OtherDigest { .. } => 0,
            Rejected::Tampered => 1,
            Rejected::LegacyInvalid => 2,
            Rejected::OtherKey { .. } => 3,
            // A valid signature of another type (the provenance beside a
            // tampered image signature) must not hide the tampering.
            Rejected::OtherType { .. } => 4,
            Rejected::Malformed(_) => 5,
            Rejected::NoSignature(_) => 6,
        }
    }
}

/// Checks `candidates` for `digest`. `want` is the predicate asked for:
/// [`PredicateKind::Signature`] accepts the image-signature bundle and the
/// legacy `.sig`; an attestation kind accepts only bundles of that type.
pub fn check(
    candidates: &[Candidate],
    digest: &Digest,
    key: &VerifyingKey,
    want: PredicateKind,
) -> Result<Verified, Rejected> {
    let ours = key
        .to_public_key_der()
        .map(|d| key_hint(d.as_bytes()))
        .map_err(|e| Rejected::Malformed(e.to_string()))?;
    let mut best: Option<Rejected> = None;
    for c in candidates {
        match one(c, digest, key, want, &ours) {
            Ok(v) => return Ok(v),
            Err(r) => {
                if best.as_ref().is_none_or(|b| r.rank() < b.rank()) {
                    best = Some(r);
                }
            }
        }
    }
    Err(best.unwrap_or_else(|| Rejected::NoSignature(digest.to_string())))
}

fn one(
    c: &Candidate,
    digest: &Digest,
    key: &VerifyingKey,
    want: PredicateKind,
    ours: &str,
) -> Result<Verified, Rejected> {
    match c {
        Candidate::Bundle { origin, bytes } => {
            let b = bundle::parse(bytes).map_err(|e| Rejected::Malformed(e.to_string()))?;
            let payload = match b.envelope.verified_payload(key) {
                Ok(p) => p,
                Err(DsseError::BadSignature) => {
                    return Err(match b.hint {
                        Some(h) if h != ours => Rejected::OtherKey {
                            found: h.chars().take(64).collect(),
                            ours: ours.into(),
                        },
                        _ => Rejected::Tampered,
                    });
                }
                Err(e) => return Err(Rejected::Malformed(e.to_string())),
            };
            let st = Statement::parse(&payload).map_err(|e| Rejected::Malformed(e.to_string()))?;
            if !st.covers(digest) {
                return Err(Rejected::OtherDigest {
                    digest: digest.to_string(),
                    found: subjects_of(&st).join(", "),
                });
            }
            if st.predicate_type != want.uri() {
                return Err(Rejected::OtherType {
                    digest: digest.to_string(),
                    found: st.predicate_type.chars().take(200).collect(),
                    wanted: want.uri().into(),
                });
            }
            Ok(Verified {
                digest: digest.to_string(),
                format: "bundle",
                predicate_type: st.predicate_type.clone(),
                origin: origin.clone(),
                subjects: subjects_of(&st),
                key_hint: ours.into(),
            })
        }
        Candidate::Legacy {
            origin,
            payload,
            signature,
        } => {
            let der = STANDARD
                .decode(signature)
                .map_err(|_| Rejected::Malformed("the .sig signature is not base64".into()))?;
            if !super::signer::verify(key, payload, &der) {
                return Err(Rejected::LegacyInvalid);
            }
            let claim =
                simple_signing::parse(payload).map_err(|e| Rejected::Malformed(e.to_string()))?;
            if &claim.digest != digest {
                return Err(Rejected::OtherDigest {
                    digest: digest.to_string(),
                    found: claim.digest.to_string(),
                });
            }
            if want != PredicateKind::Signature {
                return Err(Rejected::OtherType {
                    digest: digest.to_string(),
                    found: "a legacy image signature".into(),
                    wanted: want.uri().into(),
                });
            }
            Ok(Verified {
                digest: digest.to_string(),
                format: "legacy",
                predicate_type: simple_signing::SIGNATURE_TYPE.into(),
                origin: origin.clone(),
                subjects: vec![claim.digest.to_string()],
                key_hint: ours.into(),
            })
        }
    }
}

fn subjects_of(st: &Statement) -> Vec<String> {
    st.subject
        .iter()
        .map(|s| match s.digest.get("sha256") {
            Some(h) => format!("sha256:{}", h.chars().take(64).collect::<String>()),
            None => "<no sha256>".into(),
        })
        .take(20)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::documents;
    use crate::sign::signer::KeySigner;
    use p256::ecdsa::SigningKey;

    fn signer(b: u8) -> KeySigner {
        KeySigner::new(SigningKey::from_slice(&[b; 32]).unwrap())
    }
    fn bundle(b: Vec<u8>) -> Candidate {
        Candidate::Bundle {
            origin: "test".into(),
            bytes: b,
        }
    }

    #[test]
    fn each_failure_says_which() {
        let s = signer(1);
        let key = s.verifying_key();
        let d = Digest::of(b"image");
        let good = documents::image_signature(&s, std::slice::from_ref(&d)).unwrap();
        let v = check(
            &[bundle(good.bytes.clone())],
            &d,
            &key,
            PredicateKind::Signature,
        )
        .unwrap();
        assert_eq!(v.format, "bundle");

        assert_eq!(
            check(&[], &d, &key, PredicateKind::Signature),
            Err(Rejected::NoSignature(d.to_string()))
        );
        let other_digest = documents::image_signature(&s, &[Digest::of(b"x")]).unwrap();
        assert!(matches!(
            check(
                &[bundle(other_digest.bytes)],
                &d,
                &key,
                PredicateKind::Signature
            ),
            Err(Rejected::OtherDigest { .. })
        ));
        let other_key = documents::image_signature(&signer(2), std::slice::from_ref(&d)).unwrap();
        assert!(matches!(
            check(
                &[bundle(other_key.bytes)],
                &d,
                &key,
                PredicateKind::Signature
            ),
            Err(Rejected::OtherKey { .. })
        ));
        // Tamper with the payload: swap the signed subject.
        let mut v: serde_json::Value = serde_json::from_slice(&good.bytes).unwrap();
        let p = STANDARD
            .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let t = String::from_utf8(p)
            .unwrap()
            .replace(d.hex(), Digest::of(b"evil").hex());
        v["dsseEnvelope"]["payload"] = STANDARD.encode(t).into();
        assert_eq!(
            check(
                &[bundle(serde_json::to_vec(&v).unwrap())],
                &Digest::of(b"evil"),
                &key,
                PredicateKind::Signature
            ),
            Err(Rejected::Tampered)
        );
        assert!(matches!(
            check(
                &[bundle(good.bytes.clone())],
                &d,
                &key,
                PredicateKind::SlsaProvenanceV1
            ),
            Err(Rejected::OtherType { .. })
        ));
        // The most telling reason wins over a later valid-looking one.
        let r = check(
            &[bundle(b"junk".to_vec()), bundle(good.bytes)],
            &d,
            &key,
            PredicateKind::Signature,
        );
        assert!(r.is_ok());
    }

    #[test]
    fn legacy_signatures() {
        let s = signer(1);
        let key = s.verifying_key();
        let d = Digest::of(b"image");
        let l = documents::legacy(&s, "r/app", &d).unwrap();
        let c = |payload: Vec<u8>, signature: String| Candidate::Legacy {
            origin: "t".into(),
            payload,
            signature,
        };
        assert_eq!(
            check(
                &[c(l.payload.clone(), l.signature.clone())],
                &d,
                &key,
                PredicateKind::Signature
            )
            .unwrap()
            .format,
            "legacy"
        );
        let mut tampered = l.payload.clone();
        tampered[20] ^= 1;
        assert_eq!(
            check(
                &[c(tampered, l.signature.clone())],
                &d,
                &key,
                PredicateKind::Signature
            ),
            Err(Rejected::LegacyInvalid)
        );
        assert!(matches!(
            check(
                &[c(l.payload.clone(), l.signature.clone())],
                &Digest::of(b"other"),
                &key,
                PredicateKind::Signature
            ),
            Err(Rejected::OtherDigest { .. })
        ));
        assert_eq!(
            check(
                &[c(l.payload, l.signature)],
                &d,
                &signer(3).verifying_key(),
                PredicateKind::Signature
            ),
            Err(Rejected::LegacyInvalid)
        );
    }
}
