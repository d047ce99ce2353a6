//! `--key` values and loading what they name.
//!
//! A key is a file path, `env://VAR` (the PEM text is in the variable, as
//! cosign allows, which is how CI secrets usually arrive), or a KMS URI.
//! KMS keys never leave their service, so they will be other
//! [`Signer`](super::signer::Signer)s; the URIs are recognised now so that a
//! user gets "not supported yet" rather than "file not found", and so that
//! adding one touches only this file and a new signer.

use super::key::{parse_encrypted, parse_public_pem_from};
use super::key_error::KeyError;
use super::password::{Lookup, PasswordSource, ProcessEnv, Purpose};
use super::signer::{KeySigner, Signer};
use p256::ecdsa::VerifyingKey;
use std::io::Read;
use std::path::PathBuf;

/// Key files are a few hundred bytes; anything this large is not one, and
/// we do not read an unbounded file into memory to find out.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// The KMS schemes cosign knows; each is refused as not supported yet.
pub const KMS_SCHEMES: [&str; 5] = [
    "awskms://",
    "gcpkms://",
    "azurekms://",
    "hashivault://",
    "k8s://",
];

/// What a `--key` value names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRef {
    Path(PathBuf),
    /// `env://VAR`: the PEM text is the variable's value.
    Env(String),
    /// A KMS key (`awskms://…` and the others); `scheme` includes `://`.
    Kms {
        scheme: String,
    },
}

impl KeyRef {
    /// Parses a `--key` value.
    pub fn parse(value: &str) -> Result<KeyRef, KeyError> {
        let bad = || KeyError::BadRef {
            value: value.chars().take(80).collect(),
        };
        if value.is_empty() {
            return Err(bad());
        }
        if let Some(var) = value.strip_prefix("env://") {
            let valid = !var.is_empty()
                && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !var.as_bytes()[0].is_ascii_digit();
            return if valid {
                Ok(KeyRef::Env(var.to_string()))
            } else {
                Err(bad())
            };
        }
        if let Some(s) = KMS_SCHEMES.iter().find(|s| value.starts_with(**s)) {
            return Ok(KeyRef::Kms {
                scheme: (*s).to_string(),
            });
        }
        if value.starts_with("pkcs11:") {
            return Ok(KeyRef::Kms {
                scheme: "pkcs11:".into(),
            });
        }
        // Any other `scheme://` is a typo or a service we do not know, not a
        // file: say so instead of "no such file".
        if let Some((scheme, _)) = value.split_once("://")
            && !scheme.is_empty()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        {
            return Err(bad());
        }
        Ok(KeyRef::Path(PathBuf::from(value)))
    }

    /// How errors name the key: the path, or `env://VAR`.
    pub fn origin(&self) -> String {
        match self {
            KeyRef::Path(p) => p.display().to_string(),
            KeyRef::Env(v) => format!("env://{v}"),
            KeyRef::Kms { scheme } => scheme.clone(),
        }
    }
}

impl std::str::FromStr for KeyRef {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyRef::parse(s)
    }
}

/// The PEM text a file or variable key holds.
fn read_text(r: &KeyRef, env: &dyn Lookup) -> Result<Vec<u8>, KeyError> {
    let origin = r.origin();
    match r {
        KeyRef::Kms { scheme } => Err(KeyError::Kms {
            scheme: scheme.clone(),
        }),
        KeyRef::Env(var) => match env.var(var).and_then(|v| v.into_string().ok()) {
            Some(v) if !v.is_empty() => Ok(v.into_bytes()),
            _ => Err(KeyError::EnvMissing {
                origin,
                var: var.clone(),
            }),
        },
        KeyRef::Path(p) => {
            let read_err = |e: std::io::Error| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    KeyError::NotFound {
                        origin: origin.clone(),
                    }
                } else {
                    KeyError::Read {
                        origin: origin.clone(),
                        reason: e.to_string(),
                    }
                }
            };
            let f = std::fs::File::open(p).map_err(read_err)?;
            let mut buf = Vec::new();
            f.take(MAX_KEY_FILE + 1)
                .read_to_end(&mut buf)
                .map_err(read_err)?;
            if buf.len() as u64 > MAX_KEY_FILE {
                return Err(KeyError::NotPem {
                    origin,
                    reason: format!("it is larger than {} KiB", MAX_KEY_FILE / 1024),
                });
            }
            Ok(buf)
        }
    }
}

/// The signer for a `--key`, from the process environment.
pub fn load_signer(
    r: &KeyRef,
    passwords: &dyn PasswordSource,
) -> Result<Box<dyn Signer>, KeyError> {
    load_signer_in(r, passwords, &ProcessEnv)
}

/// The signer for a `--key`. The file is checked before the password is
/// asked for, so a public key or a corrupt file fails without a prompt.
pub fn load_signer_in(
    r: &KeyRef,
    passwords: &dyn PasswordSource,
    env: &dyn Lookup,
) -> Result<Box<dyn Signer>, KeyError> {
    let text = read_text(r, env)?;
    let encrypted = parse_encrypted(&text, &r.origin())?;
    let password = passwords.password(Purpose::Decrypt)?;
    let key = encrypted.decrypt(password.as_bytes())?;
    Ok(Box::new(KeySigner::new(key)))
}

/// The public key for verifying, from the process environment.
pub fn load_verifier_key(r: &KeyRef) -> Result<VerifyingKey, KeyError> {
    load_verifier_key_in(r, &ProcessEnv)
}

/// The public key for verifying. Only a `PUBLIC KEY` PEM is accepted: a
/// private key file is refused with a message saying to give the `.pub`,
/// because verification never needs the secret and a verifier holding it
/// could sign.
pub fn load_verifier_key_in(r: &KeyRef, env: &dyn Lookup) -> Result<VerifyingKey, KeyError> {
    let text = read_text(r, env)?;
    parse_public_pem_from(&text, &r.origin())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::key::{encrypt_private, public_pem};
    use crate::sign::password::Password;
    use crate::sign::signer::verify;
    use p256::ecdsa::SigningKey;
    use std::cell::Cell;
    use std::collections::HashMap;

    /// A fixed password that counts how often it was asked for.
    struct Fixed(&'static [u8], Cell<u32>);
    impl PasswordSource for Fixed {
        fn password(&self, _: Purpose) -> Result<Password, KeyError> {
            self.1.set(self.1.get() + 1);
            Ok(Password::new(self.0.to_vec()))
        }
    }

    fn key() -> SigningKey {
        SigningKey::from_slice(&[9u8; 32]).unwrap()
    }

    #[test]
    fn parses_paths_env_and_kms_uris() {
        assert_eq!(
            KeyRef::parse("ci/cosign.key").unwrap(),
            KeyRef::Path("ci/cosign.key".into())
        );
        assert_eq!(
            KeyRef::parse("env://COSIGN_KEY").unwrap(),
            KeyRef::Env("COSIGN_KEY".into())
        );
        for uri in [
            "awskms://localhost:4566/alias/x",
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
            "azurekms://vault.vault.azure.net/k",
            "hashivault://transit-key",
            "k8s://ns/secret",
            "pkcs11:token=t;object=o",
        ] {
            let r = KeyRef::parse(uri).unwrap();
            assert!(matches!(r, KeyRef::Kms { .. }), "{uri}");
            let e = load_verifier_key_in(&r, &HashMap::new()).unwrap_err();
            assert!(
                e.to_string().starts_with("KMS keys are not supported yet"),
                "{e}"
            );
        }
        for bad in [
            "",
            "env://",
            "env://1X",
            "env://A-B",
            "https://example/k.pub",
        ] {
            let e = KeyRef::parse(bad).unwrap_err();
            assert!(matches!(e, KeyError::BadRef { .. }), "{bad}");
            assert!(e.to_string().contains("env://VAR"));
        }
    }

    #[test]
    fn loads_a_signer_from_a_variable_and_a_file() {
        let text = encrypt_private(&key(), b"pw").unwrap();
        let env: HashMap<String, String> = [("K".to_string(), text.clone())].into();
        let pw = Fixed(b"pw", Cell::new(0));
        let s = load_signer_in(&KeyRef::Env("K".into()), &pw, &env).unwrap();
        let sig = s.sign(b"m").unwrap();
        assert!(verify(key().verifying_key(), b"m", &sig));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cosign.key");
        std::fs::write(&path, &text).unwrap();
        let s = load_signer_in(&KeyRef::Path(path), &pw, &env).unwrap();
        assert_eq!(s.sign(b"m").unwrap(), sig);
        assert_eq!(pw.1.get(), 2);
    }

    #[test]
    fn a_public_key_given_to_sign_fails_without_asking_for_the_password() {
        let env: HashMap<String, String> =
            [("K".to_string(), public_pem(key().verifying_key()))].into();
        let pw = Fixed(b"pw", Cell::new(0));
        let Err(e) = load_signer_in(&KeyRef::Env("K".into()), &pw, &env) else {
            panic!("a public key must not load as a signer");
        };
        assert_eq!(
            e,
            KeyError::PublicNotPrivate {
                origin: "env://K".into()
            }
        );
        assert_eq!(pw.1.get(), 0);
    }

    #[test]
    fn verifier_keys_accept_only_public_keys() {
        let env: HashMap<String, String> = [
            ("PUB".to_string(), public_pem(key().verifying_key())),
            ("PRIV".to_string(), encrypt_private(&key(), b"").unwrap()),
        ]
        .into();
        assert_eq!(
            load_verifier_key_in(&KeyRef::Env("PUB".into()), &env).unwrap(),
            *key().verifying_key()
        );
        assert!(matches!(
            load_verifier_key_in(&KeyRef::Env("PRIV".into()), &env),
            Err(KeyError::PrivateNotPublic { .. })
        ));
        assert!(matches!(
            load_verifier_key_in(&KeyRef::Env("UNSET".into()), &env),
            Err(KeyError::EnvMissing { .. })
        ));
    }

    #[test]
    fn missing_and_oversized_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pub");
        let e = load_verifier_key_in(&KeyRef::Path(missing.clone()), &HashMap::new()).unwrap_err();
        assert!(matches!(e, KeyError::NotFound { .. }));
        assert_eq!(e.class(), crate::error::ErrorClass::Input);
        assert!(e.to_string().contains(&missing.display().to_string()));
        // A directory cannot be read as a key: an I/O error naming it.
        let e =
            load_verifier_key_in(&KeyRef::Path(dir.path().into()), &HashMap::new()).unwrap_err();
        assert!(matches!(e, KeyError::Read { .. }), "{e:?}");
        let big = dir.path().join("big.pub");
        std::fs::write(&big, vec![b'A'; MAX_KEY_FILE as usize + 1]).unwrap();
        let e = load_verifier_key_in(&KeyRef::Path(big), &HashMap::new()).unwrap_err();
        assert!(e.to_string().contains("larger than 64 KiB"), "{e}");
    }
}
