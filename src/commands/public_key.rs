//! `ironhull public-key --key K`: the public key of a private key, as the
//! `PUBLIC KEY` PEM cosign writes (cosign's `public-key` command). It is how
//! a user recovers a lost `cosign.pub`, and how CI checks that a key secret
//! and its password still go together before a release signs with them.

use crate::error::Failure;
use crate::sign::key::PUBLIC_LABEL;
use crate::sign::key_ref::{KeyRef, load_signer};
use crate::sign::password::PasswordSource;
use crate::sign::pem;
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct PublicKeyJob {
    /// A `--key` value: a path, `env://VAR`, or a KMS URI (refused for now).
    pub key: String,
    /// Write the PEM here (atomically) instead of returning it for stdout.
    pub outfile: Option<PathBuf>,
}

/// The public key PEM; written to `outfile` when there is one.
pub fn public_key(job: &PublicKeyJob, passwords: &dyn PasswordSource) -> Result<String, Failure> {
    let key_ref = KeyRef::parse(&job.key)?;
    let signer = load_signer(&key_ref, passwords)?;
    let der = signer
        .public_key_der()
        .map_err(|e| Failure::input(format!("{}: {e}", key_ref.origin())))?;
    let text = pem::encode(PUBLIC_LABEL, &der);
    if let Some(out) = &job.outfile {
        write_atomically(out, text.as_bytes())?;
    }
    Ok(text)
}

/// A temporary file in the target's directory, renamed over the target.
fn write_atomically(out: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e: std::io::Error| {
        Failure::io(format!(
            "cannot write {}: {e}; nothing was written",
            out.display()
        ))
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut f = tempfile::Builder::new()
        .prefix(".ironhull-pub-")
        .tempfile_in(dir)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io)?;
    f.as_file().sync_all().map_err(io)?;
    f.persist(out).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::sign::key::{encrypt_private, public_pem};
    use crate::sign::key_error::KeyError;
    use crate::sign::password::{Password, Purpose};
    use p256::ecdsa::SigningKey;

    struct Fixed(&'static str);
    impl PasswordSource for Fixed {
        fn password(&self, _: Purpose) -> Result<Password, KeyError> {
            Ok(Password::new(self.0.as_bytes().to_vec()))
        }
    }

    #[test]
    fn prints_and_writes_the_public_half() {
        let key = SigningKey::from_slice(&[4u8; 32]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cosign.key");
        std::fs::write(&path, encrypt_private(&key, b"pw").unwrap()).unwrap();
        let out = dir.path().join("out.pub");
        let job = PublicKeyJob {
            key: path.display().to_string(),
            outfile: Some(out.clone()),
        };
        let text = public_key(&job, &Fixed("pw")).unwrap();
        assert_eq!(text, public_pem(key.verifying_key()));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), text);

        let e = public_key(&job, &Fixed("nope")).unwrap_err();
        assert_eq!(e.class, ErrorClass::Input);
        assert!(
            e.message.starts_with("the password does not decrypt"),
            "{e}"
        );
        let kms = PublicKeyJob {
            key: "awskms:///alias/k".into(),
            outfile: None,
        };
        let e = public_key(&kms, &Fixed("pw")).unwrap_err();
        assert!(
            e.message.starts_with("KMS keys are not supported yet"),
            "{e}"
        );
    }
}
