//! cosign's key files: the encrypted private key (`cosign.key`) and the
//! public key (`cosign.pub`), read and written byte-compatibly with cosign.
//!
//! The private key file is PEM (label `ENCRYPTED SIGSTORE PRIVATE KEY`, or
//! the older `ENCRYPTED COSIGN PRIVATE KEY`) around go-securesystemslib's
//! `encrypted` JSON:
//! `{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":B64},
//!   "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}`,
//! with standard padded base64 (Go's `[]byte` JSON encoding), a 32-byte salt,
//! a 24-byte nonce, the secretbox key `scrypt(password, salt, N, r, p, 32)`,
//! and as plaintext the PKCS#8 DER of the ECDSA P-256 key. The public key is
//! a PKIX `PUBLIC KEY` PEM.
//!
//! Reading is split in two on purpose: [`parse_encrypted`] checks everything
//! an attacker controls (framing, JSON, names, lengths, and the scrypt
//! parameters against the allow-list) before [`EncryptedKey::decrypt`] runs
//! the expensive KDF, so a crafted file cannot make us run scrypt with
//! N=2^40, and the fuzzer reaches every parser without paying for scrypt.

use super::key_error::{ACCEPTED_SCRYPT, KeyError};
use super::pem;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, ObjectIdentifier};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What cosign writes today.
pub const SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// What cosign wrote before v2; still read by cosign and by us.
pub const COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
pub const PUBLIC_LABEL: &str = "PUBLIC KEY";

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const BOX_KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// cosign's default ("standard", 2^16).
const WRITE_LOG_N: u8 = 16;
const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";

/// The origin named in errors when the caller has no path.
const NO_ORIGIN: &str = "the key";

const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// DER SubjectPublicKeyInfo header for an uncompressed P-256 point: SEQUENCE,
/// AlgorithmIdentifier(id-ecPublicKey, prime256v1), BIT STRING of 66 bytes.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

// Field order matches go-securesystemslib's structs, so our JSON is the same
// bytes `json.Marshal` writes.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: Params,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Params {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// A parsed, checked, still encrypted private key: decrypting it costs one
/// scrypt run with parameters from the allow-list.
pub struct EncryptedKey {
    origin: String,
    log_n: u8,
    salt: Vec<u8>,
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl std::fmt::Debug for EncryptedKey {
    /// Parameters and sizes only, never the ciphertext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EncryptedKey({}, scrypt N=2^{}, {} ciphertext bytes)",
            self.origin,
            self.log_n,
            self.ciphertext.len()
        )
    }
}

/// A new random P-256 key from the operating system's generator.
pub fn generate() -> SigningKey {
    SigningKey::random(&mut OsRng)
}

/// `key` as a cosign private key file (PEM `ENCRYPTED SIGSTORE PRIVATE KEY`,
/// scrypt N=2^16, r=8, p=1, fresh random salt and nonce).
pub fn encrypt_private(key: &SigningKey, password: &[u8]) -> Result<String, KeyError> {
    let fail = |reason: &str| KeyError::Encrypt {
        reason: reason.to_string(),
    };
    let der = key
        .to_pkcs8_der()
        .map_err(|_| fail("PKCS#8 encoding failed"))?;
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut salt)
        .and_then(|()| OsRng.try_fill_bytes(&mut nonce))
        .map_err(|_| fail("the operating system's random generator failed"))?;
    let box_key = derive(password, &salt, WRITE_LOG_N).map_err(|()| fail("scrypt failed"))?;
    let cipher = XSalsa20Poly1305::new_from_slice(box_key.as_slice())
        .map_err(|_| fail("bad secretbox key length"))?;
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), der.as_bytes())
        .map_err(|_| fail("secretbox failed"))?;
    let env = Envelope {
        kdf: Kdf {
            name: KDF_NAME.into(),
            params: Params {
                n: 1 << WRITE_LOG_N,
                r: 8,
                p: 1,
            },
            salt: STANDARD.encode(salt),
        },
        cipher: Cipher {
            name: CIPHER_NAME.into(),
            nonce: STANDARD.encode(nonce),
        },
        ciphertext: STANDARD.encode(&ciphertext),
    };
    let json = serde_json::to_vec(&env).map_err(|_| fail("JSON encoding failed"))?;
    Ok(pem::encode(SIGSTORE_LABEL, &json))
}

/// Decrypts a cosign private key file; see [`decrypt_private_from`].
pub fn decrypt_private(pem: &[u8], password: &[u8]) -> Result<SigningKey, KeyError> {
    decrypt_private_from(pem, password, NO_ORIGIN)
}

/// Decrypts a cosign private key file (either label, any accepted scrypt
/// set, an empty password too). `origin` (a path, `env://VAR`) names the key
/// in errors.
pub fn decrypt_private_from(
    pem: &[u8],
    password: &[u8],
    origin: &str,
) -> Result<SigningKey, KeyError> {
    parse_encrypted(pem, origin)?.decrypt(password)
}

/// Everything about a private key file that can be checked without the
/// password, in the order a reader meets it. No KDF runs here.
pub fn parse_encrypted(text: &[u8], origin: &str) -> Result<EncryptedKey, KeyError> {
    let o = || origin.to_string();
    let corrupt = |what: &str| KeyError::Corrupt {
        origin: o(),
        what: what.to_string(),
    };
    let block = pem::decode(text).map_err(|reason| KeyError::NotPem {
        origin: o(),
        reason,
    })?;
    match block.label.as_str() {
        SIGSTORE_LABEL | COSIGN_LABEL => {}
        PUBLIC_LABEL => return Err(KeyError::PublicNotPrivate { origin: o() }),
        "PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
            return Err(KeyError::Unencrypted {
                origin: o(),
                label: block.label,
            });
        }
        _ => {
            return Err(KeyError::UnknownLabel {
                origin: o(),
                label: block.label,
            });
        }
    }
    let env: Envelope = serde_json::from_slice(&block.bytes)
        .map_err(|e| corrupt(&format!("its encrypted-key JSON is invalid ({e})")))?;
    if env.kdf.name != KDF_NAME {
        return Err(KeyError::UnsupportedCipher {
            origin: o(),
            what: format!("the kdf `{}`", printable(&env.kdf.name)),
        });
    }
    if env.cipher.name != CIPHER_NAME {
        return Err(KeyError::UnsupportedCipher {
            origin: o(),
            what: format!("the cipher `{}`", printable(&env.cipher.name)),
        });
    }
    let Params { n, r, p } = env.kdf.params;
    if !ACCEPTED_SCRYPT.contains(&(n, r, p)) {
        return Err(KeyError::UnsupportedKdf {
            origin: o(),
            n,
            r,
            p,
        });
    }
    // N is one of the accepted powers of two, so this is exact.
    let log_n = n.trailing_zeros() as u8;
    let b64 = |field: &str, v: &str| {
        STANDARD
            .decode(v)
            .map_err(|_| corrupt(&format!("its {field} is not valid base64")))
    };
    let salt = b64("salt", &env.kdf.salt)?;
    let nonce_v = b64("nonce", &env.cipher.nonce)?;
    let nonce: [u8; NONCE_LEN] = nonce_v.as_slice().try_into().map_err(|_| {
        corrupt(&format!(
            "its nonce is {} bytes, not {NONCE_LEN}",
            nonce_v.len()
        ))
    })?;
    let ciphertext = b64("ciphertext", &env.ciphertext)?;
    if ciphertext.len() < TAG_LEN {
        return Err(corrupt("its ciphertext is shorter than the secretbox tag"));
    }
    Ok(EncryptedKey {
        origin: o(),
        log_n,
        salt,
        nonce,
        ciphertext,
    })
}

impl EncryptedKey {
    /// The scrypt cost the file asks for, as log2(N).
    pub fn log_n(&self) -> u8 {
        self.log_n
    }

    /// Runs scrypt and opens the secretbox. A failed open means the wrong
    /// password (or a tampered file: secretbox cannot tell them apart).
    pub fn decrypt(&self, password: &[u8]) -> Result<SigningKey, KeyError> {
        let box_key = derive(password, &self.salt, self.log_n).map_err(|()| KeyError::Encrypt {
            reason: "scrypt failed".into(),
        })?;
        let cipher = XSalsa20Poly1305::new_from_slice(box_key.as_slice()).map_err(|_| {
            KeyError::Encrypt {
                reason: "bad secretbox key length".into(),
            }
        })?;
        let plain = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(&self.nonce), self.ciphertext.as_slice())
                .map_err(|_| KeyError::WrongPassword {
                    origin: self.origin.clone(),
                })?,
        );
        private_from_pkcs8(&plain, &self.origin)
    }
}

/// scrypt(password, salt, 2^log_n, 8, 1, 32), in a buffer wiped on drop.
fn derive(password: &[u8], salt: &[u8], log_n: u8) -> Result<Zeroizing<[u8; BOX_KEY_LEN]>, ()> {
    let params = scrypt::Params::new(log_n, 8, 1, BOX_KEY_LEN).map_err(|_| ())?;
    let mut out = Zeroizing::new([0u8; BOX_KEY_LEN]);
    scrypt::scrypt(password, salt, &params, out.as_mut_slice()).map_err(|_| ())?;
    Ok(out)
}

/// The P-256 key in a decrypted PKCS#8 document, or which other kind of key
/// it is.
fn private_from_pkcs8(der: &[u8], origin: &str) -> Result<SigningKey, KeyError> {
    let info = p256::pkcs8::PrivateKeyInfo::try_from(der).map_err(|_| KeyError::Corrupt {
        origin: origin.to_string(),
        what: "the decrypted key is not a PKCS#8 private key".into(),
    })?;
    check_algorithm(
        info.algorithm.oid,
        info.algorithm.parameters_oid().ok(),
        origin,
    )?;
    SigningKey::from_pkcs8_der(der).map_err(|_| KeyError::Corrupt {
        origin: origin.to_string(),
        what: "the decrypted P-256 key is invalid".into(),
    })
}

/// Refuses every key but ECDSA P-256, naming what it is instead.
fn check_algorithm(
    oid: ObjectIdentifier,
    curve: Option<ObjectIdentifier>,
    origin: &str,
) -> Result<(), KeyError> {
    if oid == OID_EC && curve == Some(OID_P256) {
        return Ok(());
    }
    let found = match (oid.to_string().as_str(), curve.map(|c| c.to_string())) {
        ("1.2.840.10045.2.1", Some(c)) => match c.as_str() {
            "1.3.132.0.34" => "an ECDSA P-384 key".to_string(),
            "1.3.132.0.35" => "an ECDSA P-521 key".to_string(),
            "1.3.132.0.10" => "an ECDSA secp256k1 key".to_string(),
            other => format!("an EC key on the curve {other}"),
        },
        ("1.2.840.10045.2.1", None) => "an EC key without a named curve".to_string(),
        ("1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10", _) => "an RSA key".to_string(),
        ("1.3.101.112", _) => "an Ed25519 key".to_string(),
        ("1.3.101.113", _) => "an Ed448 key".to_string(),
        (other, _) => format!("a key of the algorithm {other}"),
    };
    Err(KeyError::KeyType {
        origin: origin.to_string(),
        found,
    })
}

/// The public key as cosign writes `cosign.pub`: PKIX DER in a `PUBLIC KEY`
/// PEM (uncompressed point, as Go's `x509.MarshalPKIXPublicKey`).
pub fn public_pem(key: &VerifyingKey) -> String {
    pem::encode(PUBLIC_LABEL, &public_der(key))
}

/// The DER SubjectPublicKeyInfo of a P-256 key. Built from the fixed header
/// so it cannot fail.
pub fn public_der(key: &VerifyingKey) -> Vec<u8> {
    let point = key.to_encoded_point(false);
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(point.as_bytes());
    der
}

/// Reads a public key PEM; see [`parse_public_pem_from`].
pub fn parse_public_pem(text: &[u8]) -> Result<VerifyingKey, KeyError> {
    parse_public_pem_from(text, NO_ORIGIN)
}

/// Reads a `PUBLIC KEY` PEM holding an ECDSA P-256 key. A private key is
/// refused: verifying never needs the secret, and a setup that hands it out
/// for verification leaks it.
pub fn parse_public_pem_from(text: &[u8], origin: &str) -> Result<VerifyingKey, KeyError> {
    let o = || origin.to_string();
    let block = pem::decode(text).map_err(|reason| KeyError::NotPem {
        origin: o(),
        reason,
    })?;
    match block.label.as_str() {
        PUBLIC_LABEL => {}
        SIGSTORE_LABEL
        | COSIGN_LABEL
        | "PRIVATE KEY"
        | "EC PRIVATE KEY"
        | "RSA PRIVATE KEY"
        | "ENCRYPTED PRIVATE KEY" => {
            return Err(KeyError::PrivateNotPublic {
                origin: o(),
                label: block.label,
            });
        }
        "RSA PUBLIC KEY" => {
            return Err(KeyError::KeyType {
                origin: o(),
                found: "an RSA key".into(),
            });
        }
        _ => {
            return Err(KeyError::UnknownLabel {
                origin: o(),
                label: block.label,
            });
        }
    }
    let spki = p256::pkcs8::spki::SubjectPublicKeyInfoRef::try_from(block.bytes.as_slice())
        .map_err(|_| KeyError::Corrupt {
            origin: o(),
            what: "the public key is not a PKIX SubjectPublicKeyInfo".into(),
        })?;
    check_algorithm(
        spki.algorithm.oid,
        spki.algorithm.parameters_oid().ok(),
        origin,
    )?;
    VerifyingKey::from_public_key_der(&block.bytes).map_err(|_| KeyError::Corrupt {
        origin: o(),
        what: "the P-256 public key is not a point on the curve".into(),
    })
}

/// Text from a hostile file, cut short and limited to printable ASCII, for
/// an error message.
fn printable(s: &str) -> String {
    s.chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
