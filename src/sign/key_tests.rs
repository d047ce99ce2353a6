//! Unit tests of the cosign key file format (kept apart from key.rs so the
//! format code stays short).

use super::*;
use crate::sign::signer::{KeySigner, Signer, verify};

const PW: &[u8] = b"correct horse battery staple";

fn fixed_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).unwrap()
}

/// The JSON body of a key file, decoded, for tests that rewrite one field.
fn body(pem_text: &str) -> serde_json::Value {
    serde_json::from_slice(&pem::decode(pem_text.as_bytes()).unwrap().bytes).unwrap()
}

fn rewrap(label: &str, v: &serde_json::Value) -> String {
    pem::encode(label, &serde_json::to_vec(v).unwrap())
}

/// Encrypts `key` exactly as cosign does but with any scrypt set, so the
/// other accepted sets are tested on real ciphertext.
fn encrypt_with(key: &SigningKey, password: &[u8], log_n: u8, label: &str) -> String {
    let salt = [3u8; SALT_LEN];
    let nonce = [5u8; NONCE_LEN];
    let k = derive(password, &salt, log_n).unwrap();
    let c = XSalsa20Poly1305::new_from_slice(k.as_slice()).unwrap();
    let der = key.to_pkcs8_der().unwrap();
    let ct = c
        .encrypt(Nonce::from_slice(&nonce), der.as_bytes())
        .unwrap();
    let v = serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": 1u64 << log_n, "r": 8, "p": 1}, "salt": STANDARD.encode(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": STANDARD.encode(nonce)},
        "ciphertext": STANDARD.encode(ct),
    });
    rewrap(label, &v)
}

#[test]
fn round_trip_writes_cosigns_current_format() {
    let key = generate();
    let pem_text = encrypt_private(&key, PW).unwrap();
    assert!(pem_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let v = body(&pem_text);
    assert_eq!(v["kdf"]["name"], "scrypt");
    assert_eq!(
        v["kdf"]["params"],
        serde_json::json!({"N": 65536, "r": 8, "p": 1})
    );
    assert_eq!(v["cipher"]["name"], "nacl/secretbox");
    let salt = STANDARD.decode(v["kdf"]["salt"].as_str().unwrap()).unwrap();
    let nonce = STANDARD
        .decode(v["cipher"]["nonce"].as_str().unwrap())
        .unwrap();
    assert_eq!((salt.len(), nonce.len()), (32, 24));
    // Go's json.Marshal field order: kdf, cipher, ciphertext.
    let json = String::from_utf8(pem::decode(pem_text.as_bytes()).unwrap().bytes).unwrap();
    assert!(
        json.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#)
    );
    let back = decrypt_private(pem_text.as_bytes(), PW).unwrap();
    assert_eq!(back.to_bytes(), key.to_bytes());
    // Fresh salt and nonce every time.
    assert_ne!(encrypt_private(&key, PW).unwrap(), pem_text);
}

#[test]
fn reads_the_legacy_label_every_accepted_set_and_an_empty_password() {
    let key = fixed_key();
    for (log_n, label, pw) in [
        (15, COSIGN_LABEL, &b""[..]),
        (16, SIGSTORE_LABEL, PW),
        (17, COSIGN_LABEL, PW),
    ] {
        let text = encrypt_with(&key, pw, log_n, label);
        let parsed = parse_encrypted(text.as_bytes(), "k").unwrap();
        assert_eq!(parsed.log_n(), log_n);
        assert_eq!(parsed.decrypt(pw).unwrap().to_bytes(), key.to_bytes());
    }
    let empty = encrypt_private(&key, b"").unwrap();
    assert_eq!(
        decrypt_private(empty.as_bytes(), b"").unwrap().to_bytes(),
        key.to_bytes()
    );
    assert!(matches!(
        decrypt_private(empty.as_bytes(), b"x"),
        Err(KeyError::WrongPassword { .. })
    ));
}

#[test]
fn a_decrypted_key_signs_what_its_public_pem_verifies() {
    let key = decrypt_private(encrypt_private(&fixed_key(), PW).unwrap().as_bytes(), PW).unwrap();
    let public = parse_public_pem(public_pem(key.verifying_key()).as_bytes()).unwrap();
    let sig = KeySigner::new(key).sign(b"payload").unwrap();
    assert!(verify(&public, b"payload", &sig));
}

#[test]
fn wrong_password_names_the_file_and_the_variables() {
    let text = encrypt_private(&fixed_key(), PW).unwrap();
    let e = decrypt_private_from(text.as_bytes(), b"wrong", "keys/cosign.key").unwrap_err();
    assert_eq!(
        e.to_string(),
        "the password does not decrypt keys/cosign.key: check IRONHULL_PASSWORD/COSIGN_PASSWORD"
    );
}

#[test]
fn unaccepted_scrypt_parameters_are_refused_before_any_kdf_runs() {
    let text = encrypt_private(&fixed_key(), PW).unwrap();
    for (n, r, p) in [
        (1u64 << 40, 8u64, 1u64),
        (1 << 20, 8, 1),
        (65536, 9, 1),
        (65536, 8, 2),
        (16384, 8, 1),
        (0, 0, 0),
    ] {
        let mut v = body(&text);
        v["kdf"]["params"] = serde_json::json!({"N": n, "r": r, "p": p});
        let e = parse_encrypted(rewrap(SIGSTORE_LABEL, &v).as_bytes(), "k").unwrap_err();
        assert_eq!(
            e,
            KeyError::UnsupportedKdf {
                origin: "k".into(),
                n,
                r,
                p
            }
        );
        assert!(
            e.to_string()
                .contains("accept only N=32768, 65536 or 131072")
        );
    }
}

#[test]
fn other_kdfs_and_ciphers_are_refused() {
    let text = encrypt_private(&fixed_key(), PW).unwrap();
    let mut v = body(&text);
    v["kdf"]["name"] = "pbkdf2".into();
    let e = parse_encrypted(rewrap(SIGSTORE_LABEL, &v).as_bytes(), "k").unwrap_err();
    assert!(e.to_string().contains("the kdf `pbkdf2`"), "{e}");
    let mut v = body(&text);
    v["cipher"]["name"] = "aes-gcm\u{1b}[2J".into();
    let e = parse_encrypted(rewrap(SIGSTORE_LABEL, &v).as_bytes(), "k").unwrap_err();
    assert!(e.to_string().contains("the cipher `aes-gcm?[2J`"), "{e}");
}

#[test]
fn corrupt_files_say_what_is_wrong() {
    let text = encrypt_private(&fixed_key(), PW).unwrap();
    let cases: Vec<(serde_json::Value, &str)> = {
        let mut out = Vec::new();
        let mut v = body(&text);
        v["cipher"]["nonce"] = STANDARD.encode([0u8; 12]).into();
        out.push((v, "its nonce is 12 bytes, not 24"));
        let mut v = body(&text);
        v["kdf"]["salt"] = "***".into();
        out.push((v, "its salt is not valid base64"));
        let mut v = body(&text);
        v["ciphertext"] = STANDARD.encode([1u8; 8]).into();
        out.push((v, "shorter than the secretbox tag"));
        let mut v = body(&text);
        v.as_object_mut().unwrap().remove("cipher");
        out.push((v, "its encrypted-key JSON is invalid"));
        let mut v = body(&text);
        v["kdf"]["params"]["N"] = "65536".into();
        out.push((v, "its encrypted-key JSON is invalid"));
        out
    };
    for (v, want) in cases {
        let e = parse_encrypted(rewrap(SIGSTORE_LABEL, &v).as_bytes(), "k").unwrap_err();
        assert!(matches!(e, KeyError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().contains(want), "{e} should contain {want}");
    }
    // A flipped ciphertext bit fails authentication.
    let mut v = body(&text);
    let mut ct = STANDARD.decode(v["ciphertext"].as_str().unwrap()).unwrap();
    ct[20] ^= 1;
    v["ciphertext"] = STANDARD.encode(ct).into();
    assert!(matches!(
        decrypt_private(rewrap(SIGSTORE_LABEL, &v).as_bytes(), PW),
        Err(KeyError::WrongPassword { .. })
    ));
    // Not PEM at all, and PEM around something that is not JSON.
    assert!(matches!(
        decrypt_private(b"hello", PW),
        Err(KeyError::NotPem { .. })
    ));
    let junk = pem::encode(SIGSTORE_LABEL, b"\x00\x01");
    assert!(matches!(
        decrypt_private(junk.as_bytes(), PW),
        Err(KeyError::Corrupt { .. })
    ));
}

#[test]
fn a_decrypted_document_that_is_not_a_p256_key_is_named() {
    // An RSA, Ed25519 or P-384 PKCS#8 inside a valid secretbox.
    let rsa_alg = hex::decode("300d06092a864886f70d0101010500").unwrap();
    let ed_alg = hex::decode("300506032b6570").unwrap();
    let p384_alg = hex::decode("301006072a8648ce3d020106052b81040022").unwrap();
    for (alg, found) in [
        (rsa_alg, "an RSA key"),
        (ed_alg, "an Ed25519 key"),
        (p384_alg, "an ECDSA P-384 key"),
    ] {
        // PrivateKeyInfo { version 0, algorithm, privateKey OCTET STRING }.
        let mut inner = vec![0x02, 0x01, 0x00];
        inner.extend_from_slice(&alg);
        inner.extend_from_slice(&[0x04, 0x04, 0x04, 0x02, 0xaa, 0xbb]);
        let mut der = vec![0x30, inner.len() as u8];
        der.extend_from_slice(&inner);
        let e = private_from_pkcs8(&der, "k").unwrap_err();
        assert_eq!(
            e,
            KeyError::KeyType {
                origin: "k".into(),
                found: found.into()
            }
        );
        assert!(e.to_string().contains("ECDSA P-256 keys only"));
    }
    assert!(matches!(
        private_from_pkcs8(b"\x30\x00", "k"),
        Err(KeyError::Corrupt { .. })
    ));
}

#[test]
fn public_and_private_keys_given_for_each_other_are_refused() {
    let key = fixed_key();
    let public = public_pem(key.verifying_key());
    assert_eq!(
        parse_encrypted(public.as_bytes(), "cosign.pub").unwrap_err(),
        KeyError::PublicNotPrivate {
            origin: "cosign.pub".into()
        }
    );
    let private = encrypt_private(&key, PW).unwrap();
    let e = parse_public_pem_from(private.as_bytes(), "cosign.key").unwrap_err();
    assert!(matches!(e, KeyError::PrivateNotPublic { .. }));
    assert!(e.to_string().contains("give the cosign.pub"));
    let plain = pem::encode("PRIVATE KEY", key.to_pkcs8_der().unwrap().as_bytes());
    assert!(matches!(
        parse_encrypted(plain.as_bytes(), "k"),
        Err(KeyError::Unencrypted { .. })
    ));
    assert!(matches!(
        parse_public_pem(plain.as_bytes()),
        Err(KeyError::PrivateNotPublic { .. })
    ));
    let cert = pem::encode("CERTIFICATE", b"\x30\x00");
    assert!(matches!(
        parse_encrypted(cert.as_bytes(), "k"),
        Err(KeyError::UnknownLabel { .. })
    ));
    assert!(matches!(
        parse_public_pem(cert.as_bytes()),
        Err(KeyError::UnknownLabel { .. })
    ));
}

#[test]
fn public_pem_is_cosigns_pkix_and_other_key_types_are_refused() {
    let key = fixed_key();
    let vk = *key.verifying_key();
    let der = public_der(&vk);
    assert_eq!(
        der,
        p256::pkcs8::EncodePublicKey::to_public_key_der(&vk)
            .unwrap()
            .as_bytes()
    );
    let text = public_pem(&vk);
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"));
    assert_eq!(parse_public_pem(text.as_bytes()).unwrap(), vk);
    // An Ed25519 SubjectPublicKeyInfo (RFC 8410 example key).
    let ed = hex::decode(
        "302a300506032b657003210019bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
    )
    .unwrap();
    let e = parse_public_pem(pem::encode("PUBLIC KEY", &ed).as_bytes()).unwrap_err();
    assert!(e.to_string().contains("an Ed25519 key"), "{e}");
    assert!(matches!(
        parse_public_pem(pem::encode("RSA PUBLIC KEY", b"\x30\x00").as_bytes()),
        Err(KeyError::KeyType { .. })
    ));
    // A P-256 header with a point that is not on the curve.
    let mut bad = der.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        parse_public_pem(pem::encode("PUBLIC KEY", &bad).as_bytes()),
        Err(KeyError::Corrupt { .. })
    ));
}

#[test]
fn no_error_or_debug_output_contains_the_password_or_key_bytes() {
    let key = fixed_key();
    let text = encrypt_private(&key, PW).unwrap();
    let secret_hex = hex::encode(key.to_bytes());
    let pw = std::str::from_utf8(PW).unwrap();
    let parsed = parse_encrypted(text.as_bytes(), "k").unwrap();
    let mut outputs = vec![format!("{parsed:?}")];
    for e in [
        parsed.decrypt(b"wrong").unwrap_err(),
        decrypt_private(b"nope", PW).unwrap_err(),
        parse_public_pem(text.as_bytes()).unwrap_err(),
    ] {
        outputs.push(e.to_string());
        outputs.push(format!("{e:?}"));
    }
    let body_b64 = text.lines().nth(1).unwrap().to_string();
    for o in outputs {
        assert!(!o.contains(pw), "{o}");
        assert!(!o.contains(&secret_hex), "{o}");
        assert!(!o.contains(&body_b64), "{o}");
    }
}
