//! The digest of an artifact source, as the lock and provenance record it:
//! a file's sha256, or a directory's sorted listing of
//! `type path exec-bit digest-or-target` lines. Host metadata other than
//! the executable bit does not reach the image, so it does not reach the
//! digest.
//!
//! The walk also returns the digest of every regular file it read. The
//! build reads the same files again to write them into layers; comparing
//! the two ([`Tree::changed`]) is what lets a recorded digest be trusted:
//! a file edited between the hashing and the layer write would otherwise
//! leave a lock check or a provenance statement describing bytes the image
//! does not hold.

use crate::digest::{Digest, HashingReader};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// An artifact source, hashed.
#[derive(Clone, Debug)]
pub struct Tree {
    pub digest: Digest,
    /// Every regular file read, by host path, with its content digest.
    pub files: BTreeMap<PathBuf, Digest>,
}

/// A file whose content in a layer is not what was hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub path: PathBuf,
    /// `None`: the walk did not see the file at all.
    pub hashed: Option<Digest>,
    pub written: Digest,
}

impl Tree {
    /// The first file of `written` (host path, content digest as streamed
    /// into a layer) that does not match what the walks hashed.
    pub fn changed<'a>(
        trees: impl IntoIterator<Item = &'a Tree> + Clone,
        written: &[(PathBuf, Digest)],
    ) -> Option<Changed> {
        written.iter().find_map(|(path, d)| {
            let hashed = trees
                .clone()
                .into_iter()
                .find_map(|t| t.files.get(path))
                .cloned();
            (hashed.as_ref() != Some(d)).then(|| Changed {
                path: path.clone(),
                hashed,
                written: d.clone(),
            })
        })
    }
}

/// Hashes the artifact source at `path` (a symlink named by the spec is
/// followed, as the build follows it; links inside a directory are listed,
/// not followed).
pub fn tree(path: &Path) -> io::Result<Tree> {
    let meta = fs::metadata(path)?;
    let mut files = BTreeMap::new();
    if meta.is_file() {
        let d = file_digest(path, true)?;
        files.insert(path.to_path_buf(), d.clone());
        return Ok(Tree { digest: d, files });
    }
    let mut lines = Vec::new();
    walk(path, Path::new(""), &mut lines, &mut files)?;
    lines.sort();
    Ok(Tree {
        digest: Digest::of(lines.join("\n").as_bytes()),
        files,
    })
}

/// Only the digest of [`tree`].
pub fn tree_digest(path: &Path) -> io::Result<Digest> {
    tree(path).map(|t| t.digest)
}

/// A regular file's sha256; inside a walk it is opened with `O_NOFOLLOW`,
/// so a file swapped for a symlink is not hashed through the link.
fn file_digest(path: &Path, follow: bool) -> io::Result<Digest> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = fs::OpenOptions::new();
    o.read(true);
    o.custom_flags(if follow {
        libc::O_NONBLOCK
    } else {
        libc::O_NOFOLLOW | libc::O_NONBLOCK
    });
    let f = o.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut hr = HashingReader::new(f);
    io::copy(&mut hr, &mut io::sink())?;
    Ok(hr.finish().0)
}

fn walk(
    root: &Path,
    rel: &Path,
    out: &mut Vec<String>,
    files: &mut BTreeMap<PathBuf, Digest>,
) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for e in fs::read_dir(root.join(rel))? {
        let e = e?;
        let r = rel.join(e.file_name());
        let full = root.join(&r);
        let m = fs::symlink_metadata(&full)?;
        let name = r.to_string_lossy();
        if m.is_dir() {
            out.push(format!("d {name}"));
            walk(root, &r, out, files)?;
        } else if m.file_type().is_symlink() {
            out.push(format!(
                "l {name} {}",
                fs::read_link(&full)?.to_string_lossy()
            ));
        } else if m.is_file() {
            let d = file_digest(&full, false)?;
            let x = if m.permissions().mode() & 0o111 != 0 {
                "x"
            } else {
                "-"
            };
            out.push(format!("f {name} {x} {d}"));
            files.insert(full, d);
        } else {
            // Devices, fifos and sockets are refused as artifacts; listing
            // them by kind keeps the digest stable without opening them.
            out.push(format!("o {name}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_mtime_but_sees_content_and_exec_bit() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("t")).unwrap();
        fs::write(d.path().join("t/a"), "1").unwrap();
        let a = tree_digest(&d.path().join("t")).unwrap();
        fs::File::open(d.path().join("t/a"))
            .unwrap()
            .set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert_eq!(tree_digest(&d.path().join("t")).unwrap(), a);
        fs::set_permissions(d.path().join("t/a"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(tree_digest(&d.path().join("t")).unwrap(), a);
    }

    #[test]
    fn changed_names_the_first_file_whose_written_bytes_were_not_hashed() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("t")).unwrap();
        fs::write(d.path().join("t/a"), "1").unwrap();
        let t = tree(&d.path().join("t")).unwrap();
        let a = d.path().join("t/a");
        assert_eq!(t.files.get(&a), Some(&Digest::of(b"1")));
        assert_eq!(Tree::changed([&t], &[(a.clone(), Digest::of(b"1"))]), None);
        let c = Tree::changed([&t], &[(a.clone(), Digest::of(b"2"))]).unwrap();
        assert_eq!((c.path, c.hashed), (a, Some(Digest::of(b"1"))));
        let other = d.path().join("elsewhere");
        let c = Tree::changed([&t], &[(other, Digest::of(b"1"))]).unwrap();
        assert_eq!(c.hashed, None);
    }

    #[test]
    fn a_symlink_inside_a_directory_is_listed_not_followed() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("t")).unwrap();
        fs::write(d.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), d.path().join("t/l")).unwrap();
        let t = tree(&d.path().join("t")).unwrap();
        assert!(t.files.is_empty());
    }
}
