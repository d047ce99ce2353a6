//! Signature documents found near an image (Sigstore bundles, DSSE
//! envelopes, in-toto Statements, simple-signing payloads): any bytes are
//! parsed or refused, never a panic, and nothing verifies without the key
//! (the fuzzer holds no signing key, so `check` must always refuse).
#![no_main]
use ironhull::digest::Digest;
use ironhull::sign::statement::{PredicateKind, Statement};
use ironhull::sign::verify::{self, Candidate};
use ironhull::sign::{bundle, simple_signing};
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::SigningKey;

fuzz_target!(|data: &[u8]| {
    let key = *SigningKey::from_slice(&[7u8; 32]).unwrap().verifying_key();
    let subject = Digest::of(b"image");
    if let Ok(b) = bundle::parse(data) {
        let _ = b.envelope.verified_payload(&key);
    }
    let _ = Statement::parse(data);
    if let Ok(c) = simple_signing::parse(data) {
        // What parses is what ironhull would write for that claim.
        let again = simple_signing::payload(&c.reference, &c.digest).unwrap();
        assert_eq!(simple_signing::parse(&again).unwrap(), c);
    }
    let (payload, sig) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], String::from_utf8_lossy(&data[i + 1..]).into_owned()),
        None => (data, String::new()),
    };
    let candidates = [
        Candidate::Bundle {
            origin: "fuzz".into(),
            bytes: data.to_vec(),
        },
        Candidate::Legacy {
            origin: "fuzz".into(),
            payload: payload.to_vec(),
            signature: sig,
        },
    ];
    for want in [PredicateKind::Signature, PredicateKind::SlsaProvenanceV1] {
        assert!(verify::check(&candidates, &subject, &key, want).is_err());
    }
});
