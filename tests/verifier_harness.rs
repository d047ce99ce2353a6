//! The independent verifiers of tests/common/sigverify.rs can say no.
//!
//! The signing tests of issue 16 trust @sigstore/verify, securesystemslib,
//! in-toto-attestation and the simple-signing check to judge ironhull's
//! output. A verifier that accepts everything would make those tests pass
//! for nothing, so here each one is fed objects made by
//! tests/verifiers/make_signed.py (Python `cryptography`, none of ironhull's
//! code): a good one, which must pass, and copies with exactly one flaw each,
//! which must fail for the stated reason. These are the harness's own
//! mutation tests; they also pin the bundle shape the verifiers accept
//! (tlogEntries may be absent; the media type must be the v0.3 one).

mod common;

use common::sigverify::Verifiers;
use std::path::{Path, PathBuf};

const SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";
const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
const REFERENCE: &str = "127.0.0.1:5000/harness/app:v1";

fn digest() -> String {
    format!("sha256:{}", "ab".repeat(32))
}

fn other_digest() -> String {
    format!("sha256:{}", "cd".repeat(32))
}

/// The verifiers and a directory of freshly signed objects.
struct Signed {
    v: Verifiers,
    dir: tempfile::TempDir,
}

impl Signed {
    fn new() -> Option<Signed> {
        let v = Verifiers::require()?;
        let dir = tempfile::tempdir().unwrap();
        v.make_signed(dir.path(), &digest(), REFERENCE);
        Some(Signed { v, dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn pubkey(&self) -> PathBuf {
        self.path("pub.pem")
    }

    /// Writes `edit` applied to bundle.json as `name` and returns its path.
    fn edited_bundle(&self, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
        let mut b: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.path("bundle.json")).unwrap()).unwrap();
        edit(&mut b);
        let out = self.path(name);
        std::fs::write(&out, serde_json::to_vec(&b).unwrap()).unwrap();
        out
    }
}

#[track_caller]
fn rejected(r: Result<String, String>, because: &str) {
    match r {
        Ok(out) => panic!("expected a rejection ({because}), got a pass: {out}"),
        Err(e) => assert!(
            e.contains(because),
            "rejected, but not because of {because:?}: {e}"
        ),
    }
}

#[track_caller]
fn passed(r: Result<String, String>) -> serde_json::Value {
    match r {
        Ok(out) => serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("summary is not JSON ({e}): {out}")),
        Err(e) => panic!("expected a pass, got: {e}"),
    }
}

#[test]
fn good_bundle_passes_every_verifier() {
    let Some(s) = Signed::new() else { return };
    let d = digest();
    let out =
        passed(s.v.sigstore_verify(&s.path("bundle.json"), &s.pubkey(), &[&d], Some(SIGN_V1)));
    assert_eq!(out["verified"], true);
    assert_eq!(out["predicateType"], SIGN_V1);
    assert_eq!(out["subjects"][0], d.as_str());
    let out = passed(s.v.dsse_check(&s.path("bundle.json"), &s.pubkey(), false));
    assert_eq!(out["source"], "bundle");
    // cosign's sign/v1 Statement has an empty predicate (see dsse_check.py).
    assert_eq!(out["emptySignPredicate"], true);
    let out = passed(s.v.dsse_check(&s.path("envelope.json"), &s.pubkey(), false));
    assert_eq!(out["source"], "envelope");
    assert_eq!(out["subjects"][0], d.as_str());
}

#[test]
fn good_slsa_bundle_passes_and_schema_flaws_fail() {
    let Some(s) = Signed::new() else { return };
    let d = digest();
    let good = s.path("slsa_bundle.json");
    passed(s.v.sigstore_verify(&good, &s.pubkey(), &[&d], Some(SLSA_V1)));
    let out = passed(s.v.dsse_check(&good, &s.pubkey(), true));
    assert_eq!(out["slsa"]["resolvedDependencies"], 2);
    // Correctly signed, so only the schema check can object.
    for name in ["slsa_unknown_field.json", "slsa_no_builder_id.json"] {
        passed(s.v.sigstore_verify(&s.path(name), &s.pubkey(), &[&d], Some(SLSA_V1)));
    }
    rejected(
        s.v.dsse_check(&s.path("slsa_unknown_field.json"), &s.pubkey(), true),
        "has no field named \"notASlsaField\"",
    );
    rejected(
        s.v.dsse_check(&s.path("slsa_no_builder_id.json"), &s.pubkey(), true),
        "runDetails.builder.id required",
    );
    // --slsa on a non-provenance Statement is a wrong predicate type.
    rejected(
        s.v.dsse_check(&s.path("bundle.json"), &s.pubkey(), true),
        "want 'https://slsa.dev/provenance/v1'",
    );
}

#[test]
fn tampered_payload_fails() {
    let Some(s) = Signed::new() else { return };
    let b = s.path("bundle_tampered.json");
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[], None),
        "SIGNATURE_ERROR",
    );
    rejected(
        s.v.dsse_check(&b, &s.pubkey(), false),
        "does not verify with the given key",
    );
}

#[test]
fn signature_by_another_key_fails() {
    let Some(s) = Signed::new() else { return };
    let d = digest();
    // Hinting at the trusted key: the signature check must catch it.
    let b = s.path("bundle_other_key.json");
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[&d], None),
        "signature verification failed",
    );
    rejected(
        s.v.dsse_check(&b, &s.pubkey(), false),
        "does not verify with the given key",
    );
    // Hinting at its own key: the key lookup must catch it.
    let b = s.path("bundle_other_hint.json");
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[&d], None),
        "key not found",
    );
    rejected(
        s.v.dsse_check(&b, &s.pubkey(), false),
        "does not verify with the given key",
    );
    // And the good bundle fails against the other public key.
    let other = s.path("other_pub.pem");
    rejected(
        s.v.sigstore_verify(&s.path("bundle.json"), &other, &[&d], None),
        "key not found",
    );
    rejected(
        s.v.dsse_check(&s.path("bundle.json"), &other, false),
        "does not verify",
    );
}

#[test]
fn raw_r_s_signature_fails() {
    // A correct signature in the wrong encoding: cosign and every verifier
    // here want ASN.1 DER, not the raw 64-byte r||s form.
    let Some(s) = Signed::new() else { return };
    let b = s.path("bundle_raw_sig.json");
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[], None),
        "SIGNATURE_ERROR",
    );
    rejected(s.v.dsse_check(&b, &s.pubkey(), false), "does not verify");
}

#[test]
fn wrong_digest_or_predicate_type_fails() {
    let Some(s) = Signed::new() else { return };
    let b = s.path("bundle.json");
    let (d, o) = (digest(), other_digest());
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[&o], None),
        &format!("no Statement subject has digest {o}"),
    );
    // Every digest given must be a subject, not just one of them.
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[&d, &o], None),
        &format!("no Statement subject has digest {o}"),
    );
    rejected(
        s.v.sigstore_verify(&b, &s.pubkey(), &[&d], Some(SLSA_V1)),
        "predicateType is \"https://sigstore.dev/cosign/sign/v1\"",
    );
}

#[test]
fn bundle_shape_rules() {
    let Some(s) = Signed::new() else { return };
    let d = digest();
    let check = |p: &Path| s.v.sigstore_verify(p, &s.pubkey(), &[&d], Some(SIGN_V1));
    // tlogEntries may be left out: protobuf JSON reads it as [].
    let b = s.edited_bundle("no_tlog.json", |b| {
        b["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("tlogEntries");
    });
    passed(check(&b));
    // The legacy media type spelling is not what issue 16 emits.
    let b = s.edited_bundle("legacy_media_type.json", |b| {
        b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3".into();
    });
    rejected(check(&b), "mediaType is");
    // A key-signed bundle names its key.
    let b = s.edited_bundle("no_public_key.json", |b| {
        b["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("publicKey");
    });
    rejected(check(&b), "verificationMaterial.publicKey is missing");
    // The hint must be base64(sha256(SPKI DER)) of the trusted key.
    let b = s.edited_bundle("empty_hint.json", |b| {
        b["verificationMaterial"]["publicKey"]["hint"] = "".into();
    });
    rejected(check(&b), "key not found");
    // Exactly one DSSE signature (the library's rule).
    let b = s.edited_bundle("two_sigs.json", |b| {
        let sig = b["dsseEnvelope"]["signatures"][0].clone();
        b["dsseEnvelope"]["signatures"]
            .as_array_mut()
            .unwrap()
            .push(sig);
    });
    rejected(check(&b), "content.dsseEnvelope.signatures");
    // Node's lenient base64 must not repair a damaged payload string.
    let b = s.edited_bundle("bad_base64.json", |b| {
        let p = b["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
        b["dsseEnvelope"]["payload"] = format!("{p}!").into();
    });
    rejected(check(&b), "not canonical standard base64");
    // The payload type is part of what is signed, and must be in-toto's.
    let b = s.edited_bundle("payload_type.json", |b| {
        b["dsseEnvelope"]["payloadType"] = "application/json".into();
    });
    rejected(check(&b), "payloadType is \"application/json\"");
}

#[test]
fn simplesigning_good_passes_and_each_flaw_fails() {
    let Some(s) = Signed::new() else { return };
    let (d, o) = (digest(), other_digest());
    let check = |payload: &str, sig: &str, key: &str, digest: &str, reference: &str| {
        s.v.simplesigning_check(
            &s.path(payload),
            &s.path(sig),
            &s.path(key),
            digest,
            reference,
        )
    };
    let out = passed(check(
        "payload.json",
        "payload.sig",
        "pub.pem",
        &d,
        REFERENCE,
    ));
    assert_eq!(out["digest"], d.as_str());
    assert_eq!(out["reference"], REFERENCE);
    rejected(
        check(
            "payload_tampered.json",
            "payload.sig",
            "pub.pem",
            &d,
            REFERENCE,
        ),
        "cryptographic signature verification failed",
    );
    rejected(
        check(
            "payload.json",
            "payload.sig",
            "other_pub.pem",
            &d,
            REFERENCE,
        ),
        "cryptographic signature verification failed",
    );
    // Correctly signed, so only the strict parser can object.
    rejected(
        check(
            "payload_extra_critical.json",
            "payload_extra_critical.sig",
            "pub.pem",
            &d,
            REFERENCE,
        ),
        "payload.critical: unknown key 'extra'",
    );
    rejected(
        check(
            "payload_extra_image.json",
            "payload_extra_image.sig",
            "pub.pem",
            &d,
            REFERENCE,
        ),
        "payload.critical.image: unknown key 'extra'",
    );
    rejected(
        check("payload.json", "payload.sig", "pub.pem", &o, REFERENCE),
        &format!("payload signs {d}, not {o}"),
    );
    rejected(
        check(
            "payload.json",
            "payload.sig",
            "pub.pem",
            &d,
            "127.0.0.1:5000/harness/other:v1",
        ),
        "payload names",
    );
}
