//! `ironhull generate-key-pair`: a new P-256 key as `P.key` (cosign's
//! encrypted format, mode 0600) and `P.pub`.
//!
//! Why the care in writing: a key file is the one output that must never be
//! lost or half-written. Both files are written to temporary files in the
//! target directory first (created with O_EXCL and mode 0600, synced), and
//! only then moved into place: without `--force` with an atomic
//! no-overwrite rename (so a key that appeared meanwhile is not replaced
//! either), with `--force` with a plain atomic rename. If the second move
//! fails, the first file is removed again, so either both files are new or
//! nothing was written. Existing files are checked before the password is
//! asked for, so a user is not prompted twice for nothing.

use crate::error::Failure;
use crate::sign::key::{encrypt_private, generate, public_pem};
use crate::sign::password::{PasswordSource, Purpose};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct KeyPairJob {
    /// `P` in `P.key` / `P.pub` (cosign's `--output-key-prefix`).
    pub prefix: PathBuf,
    /// Replace existing files.
    pub force: bool,
}

/// Where the pair was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPairWritten {
    pub private_key: PathBuf,
    pub public_key: PathBuf,
}

/// `prefix` + `ext` (`cosign` + `.key`), keeping non-UTF-8 paths intact.
fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = OsString::from(prefix.as_os_str());
    s.push(ext);
    PathBuf::from(s)
}

/// Generates and writes the pair; see the module docs for the guarantees.
pub fn generate_key_pair(
    job: &KeyPairJob,
    passwords: &dyn PasswordSource,
) -> Result<KeyPairWritten, Failure> {
    let raw = job.prefix.as_os_str().as_encoded_bytes();
    if raw.is_empty() || raw.ends_with(b"/") || job.prefix.file_name().is_none() {
        return Err(Failure::input(format!(
            "--output-key-prefix `{}` does not name a file: give a prefix such as `cosign` or `keys/release` (ironhull adds .key and .pub)",
            job.prefix.display()
        )));
    }
    let private_key = with_suffix(&job.prefix, ".key");
    let public_key = with_suffix(&job.prefix, ".pub");
    if !job.force {
        for p in [&private_key, &public_key] {
            if std::fs::symlink_metadata(p).is_ok() {
                return Err(exists(p));
            }
        }
    }
    let password = passwords.password(Purpose::NewKey)?;
    let key = generate();
    let private_pem = encrypt_private(&key, password.as_bytes())?;
    drop(password);
    let public = public_pem(key.verifying_key());

    let dir = match job.prefix.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let private_tmp = staged(&dir, private_pem.as_bytes(), 0o600)?;
    let public_tmp = staged(&dir, public.as_bytes(), 0o644)?;
    place(private_tmp, &private_key, job.force)?;
    if let Err(e) = place(public_tmp, &public_key, job.force) {
        let _ = std::fs::remove_file(&private_key);
        return Err(e);
    }
    // Make the new directory entries durable too (best effort: some
    // filesystems cannot sync a directory).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(KeyPairWritten {
        private_key,
        public_key,
    })
}

fn exists(p: &Path) -> Failure {
    Failure::input(format!(
        "{} already exists: ironhull never overwrites a key file by accident; pass --force to replace it (the old key is lost), or choose another --output-key-prefix; nothing was written",
        p.display()
    ))
}

/// A synced temporary file in `dir` holding `bytes` with `mode`.
fn staged(dir: &Path, bytes: &[u8], mode: u32) -> Result<tempfile::NamedTempFile, Failure> {
    use std::os::unix::fs::PermissionsExt;
    let io = |e: std::io::Error| {
        Failure::io(format!(
            "cannot write the key pair in {}: {e}; nothing was written",
            dir.display()
        ))
    };
    // tempfile creates with O_CREAT|O_EXCL and mode 0600.
    let mut f = tempfile::Builder::new()
        .prefix(".ironhull-key-")
        .tempfile_in(dir)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io)?;
    f.as_file().sync_all().map_err(io)?;
    Ok(f)
}

/// Moves a staged file to `target`, refusing to replace one unless `force`.
fn place(tmp: tempfile::NamedTempFile, target: &Path, force: bool) -> Result<(), Failure> {
    let r = if force {
        tmp.persist(target)
    } else {
        tmp.persist_noclobber(target)
    };
    r.map(|_| ()).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            exists(target)
        } else {
            Failure::io(format!(
                "cannot write {}: {}; nothing was written",
                target.display(),
                e.error
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::sign::key::{decrypt_private, parse_public_pem};
    use crate::sign::key_error::KeyError;
    use crate::sign::password::Password;
    use std::os::unix::fs::PermissionsExt;

    struct Fixed(Result<&'static str, KeyError>);
    impl PasswordSource for Fixed {
        fn password(&self, _: Purpose) -> Result<Password, KeyError> {
            self.0.clone().map(|p| Password::new(p.as_bytes().to_vec()))
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_a_matching_pair_with_private_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let job = KeyPairJob {
            prefix: dir.path().join("release"),
            force: false,
        };
        let w = generate_key_pair(&job, &Fixed(Ok("pw"))).unwrap();
        assert_eq!(w.private_key, dir.path().join("release.key"));
        assert_eq!(listing(dir.path()), ["release.key", "release.pub"]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&w.private_key), 0o600);
        assert_eq!(mode(&w.public_key), 0o644);
        let key = decrypt_private(&std::fs::read(&w.private_key).unwrap(), b"pw").unwrap();
        let public = parse_public_pem(&std::fs::read(&w.public_key).unwrap()).unwrap();
        assert_eq!(*key.verifying_key(), public);
    }

    #[test]
    fn an_existing_file_is_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("cosign");
        std::fs::write(with_suffix(&prefix, ".pub"), "old").unwrap();
        let job = KeyPairJob {
            prefix: prefix.clone(),
            force: false,
        };
        // The password source must not even be asked.
        let e = generate_key_pair(&job, &Fixed(Err(KeyError::NoPassword))).unwrap_err();
        assert_eq!(e.class, ErrorClass::Input);
        assert!(e.message.contains("cosign.pub already exists"), "{e}");
        assert!(e.message.contains("--force"));
        assert_eq!(listing(dir.path()), ["cosign.pub"]);
        assert_eq!(
            std::fs::read_to_string(with_suffix(&prefix, ".pub")).unwrap(),
            "old"
        );

        let forced = KeyPairJob {
            prefix,
            force: true,
        };
        let w = generate_key_pair(&forced, &Fixed(Ok(""))).unwrap();
        assert_eq!(listing(dir.path()), ["cosign.key", "cosign.pub"]);
        assert!(
            std::fs::read_to_string(&w.public_key)
                .unwrap()
                .contains("PUBLIC KEY")
        );
    }

    #[test]
    fn a_target_that_appears_after_the_check_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("k");
        let private_tmp = staged(dir.path(), b"priv", 0o600).unwrap();
        let public_tmp = staged(dir.path(), b"pub", 0o644).unwrap();
        std::fs::write(with_suffix(&prefix, ".pub"), "raced").unwrap();
        place(private_tmp, &with_suffix(&prefix, ".key"), false).unwrap();
        let e = place(public_tmp, &with_suffix(&prefix, ".pub"), false).unwrap_err();
        assert!(e.message.contains("already exists"));
        assert_eq!(
            std::fs::read_to_string(with_suffix(&prefix, ".pub")).unwrap(),
            "raced"
        );
    }

    #[test]
    fn no_password_or_a_bad_prefix_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let job = KeyPairJob {
            prefix: dir.path().join("cosign"),
            force: false,
        };
        let e = generate_key_pair(&job, &Fixed(Err(KeyError::NoPassword))).unwrap_err();
        assert!(e.message.starts_with("no password"), "{e}");
        assert!(listing(dir.path()).is_empty());
        for bad in ["", "keys/"] {
            let job = KeyPairJob {
                prefix: bad.into(),
                force: false,
            };
            let e = generate_key_pair(&job, &Fixed(Ok("pw"))).unwrap_err();
            assert!(e.message.contains("does not name a file"), "{e}");
        }
        let job = KeyPairJob {
            prefix: dir.path().join("missing-dir/cosign"),
            force: false,
        };
        let e = generate_key_pair(&job, &Fixed(Ok("pw"))).unwrap_err();
        assert_eq!(e.class, ErrorClass::Io);
        assert!(e.message.contains("missing-dir"), "{e}");
    }
}
