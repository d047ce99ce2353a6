//! Everything that can be wrong with a key, a key reference or a password,
//! each said so a user can fix it.
//!
//! Why a type of its own: these messages end up on a terminal and in CI logs,
//! so no variant carries key bytes, decrypted bytes or a password — only
//! where the key came from (`origin`: a path or `env://VAR`), PEM labels and
//! KDF numbers. `Debug` is derived for that reason alone: there is nothing
//! secret in it to hide.

use crate::error::ErrorClass;

/// The scrypt parameter sets a cosign key file may use, as `(N, r, p)`:
/// exactly the allow-list of go-securesystemslib's `encrypted` package,
/// which cosign decrypts with (legacy 2^15, standard 2^16, OWASP 2^17).
pub const ACCEPTED_SCRYPT: [(u64, u64, u64); 3] = [(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key {origin} does not exist: check the --key path")]
    NotFound { origin: String },
    #[error("cannot read the key {origin}: {reason}")]
    Read { origin: String, reason: String },
    #[error(
        "{origin} is not a PEM key file ({reason}): give the cosign.key / cosign.pub that `ironhull generate-key-pair` or `cosign generate-key-pair` wrote"
    )]
    NotPem { origin: String, reason: String },
    #[error(
        "{origin} is a public key, but signing needs the private key: give the encrypted cosign.key of this pair (the .pub file is for verifying)"
    )]
    PublicNotPrivate { origin: String },
    #[error(
        "{origin} is a private key ({label}), but verifying needs only the public key: give the cosign.pub of this pair, and keep the private key out of verification setups"
    )]
    PrivateNotPublic { origin: String, label: String },
    #[error(
        "{origin} is an unencrypted private key (PEM `{label}`): ironhull only reads cosign's encrypted key files; convert it with `cosign import-key-pair --key {origin}` or make a new pair with `ironhull generate-key-pair`"
    )]
    Unencrypted { origin: String, label: String },
    #[error(
        "{origin} has the PEM label `{label}`, which is not a cosign key: expected `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older `ENCRYPTED COSIGN PRIVATE KEY`) for a private key, `PUBLIC KEY` for a public key"
    )]
    UnknownLabel { origin: String, label: String },
    #[error(
        "{origin} is corrupt: {what}; restore it from a backup or make a new pair with `ironhull generate-key-pair`"
    )]
    Corrupt { origin: String, what: String },
    #[error(
        "{origin} uses scrypt parameters N={n}, r={r}, p={p}, which are not accepted (a crafted key file could make decryption take unbounded time and memory): cosign and ironhull accept only N=32768, 65536 or 131072 with r=8, p=1; re-encrypt the key with `cosign import-key-pair` or make a new pair"
    )]
    UnsupportedKdf {
        origin: String,
        n: u64,
        r: u64,
        p: u64,
    },
    #[error(
        "{origin} is encrypted with {what}, which cosign does not write: expected kdf `scrypt` and cipher `nacl/secretbox`"
    )]
    UnsupportedCipher { origin: String, what: String },
    #[error("the password does not decrypt {origin}: check IRONHULL_PASSWORD/COSIGN_PASSWORD")]
    WrongPassword { origin: String },
    #[error(
        "{origin} holds {found}, but ironhull signs and verifies with ECDSA P-256 keys only (cosign's default): make a new pair with `ironhull generate-key-pair`"
    )]
    KeyType { origin: String, found: String },
    #[error("no password: set IRONHULL_PASSWORD (or COSIGN_PASSWORD) or run on a terminal")]
    NoPassword,
    #[error("the two passwords do not match: nothing was written; run again")]
    PasswordMismatch,
    #[error("cannot read the password from the terminal: {reason}")]
    Prompt { reason: String },
    #[error(
        "KMS keys are not supported yet: `{scheme}` keys cannot be used; give a key file path or env://VAR holding a cosign.key"
    )]
    Kms { scheme: String },
    #[error(
        "`{value}` is not a key reference: use a file path, env://VAR (the PEM is in the variable VAR), or a KMS URI (awskms://, gcpkms://, azurekms://, hashivault://, k8s://)"
    )]
    BadRef { value: String },
    #[error(
        "{origin}: the variable {var} is not set (or not UTF-8): export the key's PEM text in it, or give the key as a file path"
    )]
    EnvMissing { origin: String, var: String },
    #[error("the key cannot be encrypted: {reason}")]
    Encrypt { reason: String },
}

impl KeyError {
    /// The failure class, for the CLI's exit code: a file that cannot be read
    /// is I/O, everything else is bad input.
    pub fn class(&self) -> ErrorClass {
        match self {
            KeyError::Read { .. } | KeyError::Prompt { .. } | KeyError::Encrypt { .. } => {
                ErrorClass::Io
            }
            _ => ErrorClass::Input,
        }
    }
}

impl From<KeyError> for crate::error::Failure {
    fn from(e: KeyError) -> Self {
        crate::error::Failure::new(e.class(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_password_names_the_key_and_the_variables() {
        let e = KeyError::WrongPassword {
            origin: "ci/cosign.key".into(),
        };
        assert_eq!(
            e.to_string(),
            "the password does not decrypt ci/cosign.key: check IRONHULL_PASSWORD/COSIGN_PASSWORD"
        );
        assert_eq!(e.class(), ErrorClass::Input);
    }

    #[test]
    fn no_password_says_how_to_give_one() {
        assert_eq!(
            KeyError::NoPassword.to_string(),
            "no password: set IRONHULL_PASSWORD (or COSIGN_PASSWORD) or run on a terminal"
        );
    }

    #[test]
    fn read_failures_are_io() {
        let e = KeyError::Read {
            origin: "k".into(),
            reason: "gone".into(),
        };
        assert_eq!(e.class(), ErrorClass::Io);
        let f: crate::error::Failure = e.into();
        assert_eq!(f.class, ErrorClass::Io);
    }
}
