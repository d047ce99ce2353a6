//! Turning the spec's artifacts into layer entries, and refusing the ones that
//! would make the image insecure (a shell, a package manager, a secret, a
//! symlink that climbs out of the image).
//!
//! Metadata comes from the spec, never from the host: owner, mtime and mode are
//! fixed, so the same bytes give the same layer whoever builds them, wherever.

use crate::digest::Digest;
use crate::fs::{Entry, EntryKind, ImagePath};
use crate::harden::rules::{is_package_manager_name, is_shell_name};
use globset::GlobSet;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One artifact, as the builder needs it (mapped from the validated spec).
#[derive(Clone, Debug)]
pub struct ArtifactInput {
    /// Position in the spec (1-based), for messages.
    pub number: usize,
    /// The source for the platform being built (placeholders expanded).
    pub src: PathBuf,
    /// The source as the spec gives it, per platform.
    pub src_spec: crate::spec::ArtifactSrc,
    pub dest: ImagePath,
    pub mode: Option<u32>,
    pub sha256: Option<Digest>,
    pub writable: bool,
    pub strip_prefix: Option<String>,
    pub include: Option<GlobSet>,
    pub exclude: Option<GlobSet>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(
        "artifact #{number} ({dest}) has no source for platform {platform}; add `\"{platform}\" = \"path\"` to its src table or use a src with placeholders such as \"dist/{{arch}}/app\""
    )]
    NoSourceForPlatform {
        number: usize,
        dest: String,
        platform: String,
    },
    #[error(
        "artifact #{number}: {src} is an ELF binary for {found}, but the image platform is {platform}; build it for {platform} (or give a per-platform src)"
    )]
    WrongArchitecture {
        number: usize,
        src: PathBuf,
        found: String,
        platform: String,
    },
    #[error(
        "artifact #{number}: src {src} does not exist; paths are relative to the directory of builder.toml — build the artifact first or fix `src`"
    )]
    Missing { number: usize, src: PathBuf },
    #[error(
        "artifact #{number}: {path} changed after the directory walk listed it ({why}); refusing to read it, so nothing is read through a swapped file or symlink; rebuild once the artifacts are no longer being modified"
    )]
    Changed {
        number: usize,
        path: PathBuf,
        why: String,
    },
    #[error("artifact #{number}: cannot read {path}: {source}")]
    Io {
        number: usize,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "artifact #{number}: {path} is a {kind}; only regular files, directories and symlinks can be added"
    )]
    UnsupportedType {
        number: usize,
        path: PathBuf,
        kind: &'static str,
    },
    #[error(
        "artifact #{number}: symlink {path} -> {target} points outside the image root; make it relative to a path inside the image, or replace it with the file"
    )]
    SymlinkEscape {
        number: usize,
        path: PathBuf,
        target: String,
    },
    #[error("artifact #{number}: {path} is not valid UTF-8 or contains `..`; rename it")]
    BadName { number: usize, path: PathBuf },
    #[error(
        "artifact #{number}: {dest} would be a {what}; ironhull images never ship one. Remove it from the artifact"
    )]
    Forbidden {
        number: usize,
        dest: String,
        what: &'static str,
    },
    #[error(
        "artifact #{number}: {dest} {why}; an artifact may not replace account or privilege files (set the account in [user] instead, and exclude the file from the artifact)"
    )]
    AccountFile {
        number: usize,
        dest: String,
        why: &'static str,
    },
    #[error(
        "artifact #{number}: {path} has the extended attribute {name} (a {what}), which would grant privilege to whoever runs it; ironhull images never carry one. Remove it (setcap -r {path}) and give the program no capabilities"
    )]
    PrivilegedXattr {
        number: usize,
        path: PathBuf,
        name: String,
        what: &'static str,
    },
    #[error(
        "artifact #{number}: {dest} looks like a secret ({why}); inject secrets at runtime (a mounted file or your orchestrator's secret store), never bake them into an image"
    )]
    Secret {
        number: usize,
        dest: String,
        why: String,
    },
    #[error(
        "artifact #{number}: {dest} is {evidence}; ironhull images never ship a shell or a package manager, under any name: build your program without one, or ship only the program itself"
    )]
    ForbiddenContent {
        number: usize,
        dest: String,
        evidence: crate::detect::Evidence,
    },
    #[error(
        "artifact #{number}: sha256 pin mismatch for {src}: expected {expected}, got {actual}; update the pin if the change is intended"
    )]
    PinMismatch {
        number: usize,
        src: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "artifact #{number}: `sha256` pins a single file, but {src} is a directory; remove the pin or point src at a file"
    )]
    PinOnDirectory { number: usize, src: PathBuf },
    #[error("artifacts #{first} and #{second} both write {dest}; give them different `dest` paths")]
    Conflict {
        first: usize,
        second: usize,
        dest: String,
    },
    #[error(
        "artifact #{number}: nothing matched in {src} (after strip_prefix/include/exclude); fix the filters"
    )]
    Empty { number: usize, src: PathBuf },
}

/// Where an entry's content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    None,
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// One entry to write, with its content source and the artifact it came from.
#[derive(Clone, Debug)]
pub struct Planned {
    pub entry: Entry,
    pub content: Content,
    pub artifact: usize,
    pub pin: Option<Digest>,
    /// For [`Content::File`]: the file the walk saw, which
    /// [`open_listed`] insists on.
    pub source_id: Option<FileId>,
}

/// The identity of a host file when the walk listed it: device and inode
/// (a regular file), and whether the path itself was a symlink that the
/// spec named as the artifact (only then is it followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub follow: bool,
}

impl FileId {
    fn of(meta: &fs::Metadata, follow: bool) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            follow,
        }
    }
}

/// Opens an artifact file for reading its content, refusing anything but
/// the regular file the walk saw: opened with `O_NOFOLLOW` (a file swapped
/// for a symlink after the walk is never read through the link), then
/// checked with `fstat` against the walk's device, inode and type (a file
/// renamed over it is refused too).
pub fn open_listed(
    number: usize,
    path: &Path,
    id: Option<&FileId>,
) -> Result<fs::File, ArtifactError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let mut o = fs::OpenOptions::new();
    o.read(true);
    if !id.is_some_and(|i| i.follow) {
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    } else {
        o.custom_flags(libc::O_NONBLOCK);
    }
    let changed = |why: String| ArtifactError::Changed {
        number,
        path: path.to_path_buf(),
        why,
    };
    let f = o.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            changed("it is now a symlink".into())
        } else {
            ArtifactError::Io {
                number,
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    let meta = f.metadata().map_err(|e| ArtifactError::Io {
        number,
        path: path.to_path_buf(),
        source: e,
    })?;
    if !meta.is_file() {
        return Err(changed("it is no longer a regular file".into()));
    }
    if let Some(id) = id
        && (meta.dev(), meta.ino()) != (id.dev, id.ino)
    {
        return Err(changed(format!(
            "it is now another file: device {} inode {}, listed as device {} inode {}",
            meta.dev(),
            meta.ino(),
            id.dev,
            id.ino
        )));
    }
    Ok(f)
}

/// Owner and mtime applied to artifact entries.
#[derive(Clone, Copy, Debug)]
pub struct Ownership {
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
}

fn forbidden_name(name: &str) -> Option<&'static str> {
    if is_shell_name(name) {
        Some("shell")
    } else if is_package_manager_name(name) {
        Some("package manager")
    } else {
        None
    }
}

fn file_mode(a: &ArtifactInput, host_mode: u32) -> u32 {
    if let Some(m) = a.mode {
        return m & 0o777;
    }
    let exec = host_mode & 0o111 != 0;
    match (a.writable, exec) {
        (false, true) => 0o555,
        (false, false) => 0o444,
        (true, true) => 0o755,
        (true, false) => 0o644,
    }
}

/// Reads an ELF header's machine ([`crate::elf`]): its `e_machine` value,
/// OCI architecture and name (`unknown` for a machine ironhull does not
/// know); `None` for anything that is not ELF.
pub fn elf_machine(path: &Path) -> Option<(u16, &'static str, &'static str)> {
    use std::io::Read;
    let mut head = [0u8; crate::elf::MACHINE_BYTES];
    let mut f = fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    let e = crate::elf::parse(&head)?;
    let (arch, name) = e.arch().unwrap_or(("unknown", "an unknown machine"));
    Some((e.machine, arch, name))
}

/// Refuses an ELF file built for another architecture than `platform`.
fn check_elf(
    n: usize,
    path: &Path,
    platform: Option<&crate::image::Platform>,
) -> Result<(), ArtifactError> {
    let Some(p) = platform else { return Ok(()) };
    if let Some((_, arch, name)) = elf_machine(path)
        && arch != "unknown"
        && arch != p.architecture
    {
        return Err(ArtifactError::WrongArchitecture {
            number: n,
            src: path.to_path_buf(),
            found: format!("{name} ({arch})"),
            platform: p.to_string(),
        });
    }
    Ok(())
}

/// Collects the entries of one artifact, sorted by path. With a platform, ELF
/// files must be built for its architecture.
pub fn collect(
    a: &ArtifactInput,
    own: Ownership,
    platform: Option<&crate::image::Platform>,
) -> Result<Vec<Planned>, ArtifactError> {
    let n = a.number;
    let meta = fs::metadata(&a.src).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ArtifactError::Missing {
                number: n,
                src: a.src.clone(),
            }
        } else {
            ArtifactError::Io {
                number: n,
                path: a.src.clone(),
                source: e,
            }
        }
    })?;
    let (uid, gid) = if a.writable {
        (own.uid as u64, own.gid as u64)
    } else {
        (0, 0)
    };
    let mk = |path: ImagePath, kind: EntryKind, mode: u32, size: u64| {
        let mut e = Entry::new(path, kind, mode);
        e.uid = uid;
        e.gid = gid;
        e.size = size;
        e.mtime = own.mtime;
        e
    };
    let mut out = Vec::new();
    if meta.is_file() {
        check_name(n, &a.dest)?;
        check_xattrs(n, &a.src)?;
        check_elf(n, &a.src, platform)?;
        use std::os::unix::fs::PermissionsExt;
        let mode = file_mode(a, meta.permissions().mode());
        let follow = fs::symlink_metadata(&a.src).is_ok_and(|m| m.file_type().is_symlink());
        out.push(Planned {
            entry: mk(a.dest.clone(), EntryKind::File, mode, meta.len()),
            content: Content::File(a.src.clone()),
            artifact: n,
            pin: a.sha256.clone(),
            source_id: Some(FileId::of(&meta, follow)),
        });
        return Ok(out);
    }
    if !meta.is_dir() {
        return Err(ArtifactError::UnsupportedType {
            number: n,
            path: a.src.clone(),
            kind: "special file",
        });
    }
    if a.sha256.is_some() {
        return Err(ArtifactError::PinOnDirectory {
            number: n,
            src: a.src.clone(),
        });
    }
    if let Some(why) = crate::harden::accounts::account_file(&a.dest) {
        return Err(ArtifactError::AccountFile {
            number: n,
            dest: a.dest.to_abs(),
            why,
        });
    }
    let dir_mode = if a.writable { 0o755 } else { 0o555 };
    out.push(Planned {
        entry: mk(a.dest.clone(), EntryKind::Dir, dir_mode, 0),
        content: Content::None,
        artifact: n,
        pin: None,
        source_id: None,
    });
    let mut files = Vec::new();
    walk(n, &a.src, Path::new(""), &mut files)?;
    let mut dirs_needed: BTreeMap<ImagePath, ()> = BTreeMap::new();
    for (rel, host) in files {
        let rel_str = rel.to_str().ok_or_else(|| ArtifactError::BadName {
            number: n,
            path: host.clone(),
        })?;
        let rel_str = match &a.strip_prefix {
            Some(p) => match rel_str.strip_prefix(p.trim_end_matches('/')) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                    rest.trim_start_matches('/').to_string()
                }
                _ => continue,
            },
            None => rel_str.to_string(),
        };
        if rel_str.is_empty() {
            continue;
        }
        if let Some(inc) = &a.include
            && !inc.is_match(&rel_str)
        {
            continue;
        }
        if let Some(exc) = &a.exclude
            && exc.is_match(&rel_str)
        {
            continue;
        }
        let dest = a.dest.join(&rel_str).map_err(|_| ArtifactError::BadName {
            number: n,
            path: host.clone(),
        })?;
        check_name(n, &dest)?;
        let lmeta = fs::symlink_metadata(&host).map_err(|e| ArtifactError::Io {
            number: n,
            path: host.clone(),
            source: e,
        })?;
        for anc in dest.ancestors() {
            if anc.starts_with(&a.dest) && anc != a.dest {
                dirs_needed.insert(anc, ());
            }
        }
        let ft = lmeta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&host).map_err(|e| ArtifactError::Io {
                number: n,
                path: host.clone(),
                source: e,
            })?;
            let target = target
                .to_str()
                .ok_or_else(|| ArtifactError::BadName {
                    number: n,
                    path: host.clone(),
                })?
                .to_string();
            if escapes_root(&dest, &target) {
                return Err(ArtifactError::SymlinkEscape {
                    number: n,
                    path: host,
                    target,
                });
            }
            if let Some(what) = forbidden_name(dest.resolve_link_target(&target).file_name()) {
                return Err(ArtifactError::Forbidden {
                    number: n,
                    dest: dest.to_abs(),
                    what,
                });
            }
            out.push(Planned {
                entry: mk(dest, EntryKind::Symlink { target }, 0o777, 0),
                content: Content::None,
                artifact: n,
                pin: None,
                source_id: None,
            });
        } else if ft.is_file() {
            use std::os::unix::fs::PermissionsExt;
            check_xattrs(n, &host)?;
            check_elf(n, &host, platform)?;
            let mode = file_mode(a, lmeta.permissions().mode());
            out.push(Planned {
                entry: mk(dest, EntryKind::File, mode, lmeta.len()),
                content: Content::File(host),
                artifact: n,
                pin: None,
                source_id: Some(FileId::of(&lmeta, false)),
            });
        } else {
            return Err(ArtifactError::UnsupportedType {
                number: n,
                path: host,
                kind: "special file (fifo, socket or device)",
            });
        }
    }
    // An empty writable directory is a useful artifact (a cache or data
    // directory owned by the user); an empty read-only one is a mistake.
    if out.len() == 1 && !a.writable {
        return Err(ArtifactError::Empty {
            number: n,
            src: a.src.clone(),
        });
    }
    for (d, ()) in dirs_needed {
        out.push(Planned {
            entry: mk(d, EntryKind::Dir, dir_mode, 0),
            content: Content::None,
            artifact: n,
            pin: None,
            source_id: None,
        });
    }
    out.sort_by(|x, y| crate::layer::path_order(&x.entry.path, &y.entry.path));
    Ok(out)
}

/// Walks a host directory without following symlinks; yields files and links
/// (directories are implied by their contents), sorted for determinism.
fn walk(
    n: usize,
    root: &Path,
    rel: &Path,
    out: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<(), ArtifactError> {
    let dir = root.join(rel);
    let rd = fs::read_dir(&dir).map_err(|e| ArtifactError::Io {
        number: n,
        path: dir.clone(),
        source: e,
    })?;
    let mut names: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let r = rel.join(&name);
        let host = root.join(&r);
        let ft = fs::symlink_metadata(&host)
            .map_err(|e| ArtifactError::Io {
                number: n,
                path: host.clone(),
                source: e,
            })?
            .file_type();
        if ft.is_dir() {
            walk(n, root, &r, out)?;
        } else {
            out.push((r, host));
        }
    }
    Ok(())
}

/// True if a relative symlink at `at` climbs above the image root. Absolute
/// targets are resolved from the image root by the runtime, so they stay inside.
pub fn escapes_root(at: &ImagePath, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth = at.components().count().saturating_sub(1) as i64;
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
}

fn check_name(n: usize, dest: &ImagePath) -> Result<(), ArtifactError> {
    if let Some(why) = crate::harden::accounts::account_file(dest) {
        return Err(ArtifactError::AccountFile {
            number: n,
            dest: dest.to_abs(),
            why,
        });
    }
    if let Some(what) = forbidden_name(dest.file_name()) {
        return Err(ArtifactError::Forbidden {
            number: n,
            dest: dest.to_abs(),
            what,
        });
    }
    if let Some(why) = crate::secrets::secret_file_name(dest) {
        return Err(ArtifactError::Secret {
            number: n,
            dest: dest.to_abs(),
            why: why.to_string(),
        });
    }
    Ok(())
}

/// Refuses a host file that carries a file capability. Other xattrs (ACLs,
/// SELinux labels, `user.*`) are host metadata like its mode and owner, and
/// are dropped: artifact entries never carry xattrs (see
/// [`crate::harden::xattrs`]). One `llistxattr` call per file.
fn check_xattrs(n: usize, host: &Path) -> Result<(), ArtifactError> {
    use crate::harden::xattrs::{XattrClass, classify, host_xattr_names};
    let names = host_xattr_names(host).map_err(|e| ArtifactError::Io {
        number: n,
        path: host.to_path_buf(),
        source: e,
    })?;
    for name in names {
        if classify(&name) == XattrClass::Capability {
            return Err(ArtifactError::PrivilegedXattr {
                number: n,
                path: host.to_path_buf(),
                name,
                what: "file capability",
            });
        }
    }
    Ok(())
}

/// Merges per-artifact entry lists into one sorted list, refusing two artifacts
/// that write the same path (directories shared by both are fine).
pub fn merge_sorted(lists: Vec<Vec<Planned>>) -> Result<Vec<Planned>, ArtifactError> {
    let mut all: BTreeMap<ImagePath, Planned> = BTreeMap::new();
    for p in lists.into_iter().flatten() {
        match all.get(&p.entry.path) {
            Some(prev) if prev.entry.is_dir() && p.entry.is_dir() => {}
            Some(prev) => {
                return Err(ArtifactError::Conflict {
                    first: prev.artifact,
                    second: p.artifact,
                    dest: p.entry.path.to_abs(),
                });
            }
            None => {
                all.insert(p.entry.path.clone(), p);
            }
        }
    }
    let mut v: Vec<Planned> = all.into_values().collect();
    v.sort_by(|x, y| crate::layer::path_order(&x.entry.path, &y.entry.path));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(src: &Path, dest: &str) -> ArtifactInput {
        ArtifactInput {
            number: 1,
            src: src.to_path_buf(),
            src_spec: crate::spec::ArtifactSrc::Path(src.to_path_buf()),
            dest: ImagePath::parse(dest).unwrap(),
            mode: None,
            sha256: None,
            writable: false,
            strip_prefix: None,
            include: None,
            exclude: None,
        }
    }
    const OWN: Ownership = Ownership {
        uid: 10001,
        gid: 10001,
        mtime: 0,
    };

    /// Issue 13: an artifact file swapped after the walk (for a symlink to a
    /// host file, or for another file) is never read.
    #[test]
    fn files_swapped_after_the_walk_are_refused() {
        use std::io::Read as _;
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("app");
        fs::create_dir(&src).unwrap();
        fs::write(src.join("conf"), b"harmless").unwrap();
        fs::write(d.path().join("host-secret"), b"root only").unwrap();
        let planned = collect(&input(&src, "/app"), OWN, None).unwrap();
        let p = planned
            .iter()
            .find(|p| p.entry.path.as_str() == "app/conf")
            .unwrap();
        let Content::File(path) = &p.content else {
            panic!("a file")
        };
        let mut text = String::new();
        open_listed(1, path, p.source_id.as_ref())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "harmless", "unchanged: read normally");
        // Keep the inode allocated, so the files below cannot reuse its number.
        fs::hard_link(path, d.path().join("keep-alive")).unwrap();

        fs::remove_file(path).unwrap();
        std::os::unix::fs::symlink(d.path().join("host-secret"), path).unwrap();
        let e = open_listed(1, path, p.source_id.as_ref()).unwrap_err();
        assert!(matches!(e, ArtifactError::Changed { .. }), "{e}");
        assert!(e.to_string().contains("now a symlink"), "{e}");

        // Another regular file renamed over it (same name, other inode).
        fs::remove_file(path).unwrap();
        fs::write(d.path().join("other"), b"root only").unwrap();
        fs::rename(d.path().join("other"), path).unwrap();
        let e = open_listed(1, path, p.source_id.as_ref()).unwrap_err();
        assert!(e.to_string().contains("now another file"), "{e}");

        // A single-file artifact named through a symlink by the spec is
        // followed, but still pinned to the file it pointed at.
        let link = d.path().join("link");
        std::os::unix::fs::symlink(d.path().join("host-secret"), &link).unwrap();
        let one = collect(&input(&link, "/s"), OWN, None).unwrap();
        assert!(open_listed(1, &link, one[0].source_id.as_ref()).is_ok());
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(path, &link).unwrap();
        assert!(open_listed(1, &link, one[0].source_id.as_ref()).is_err());
    }

    #[test]
    fn escape_detection() {
        let at = ImagePath::parse("app/lib/x").unwrap();
        assert!(!escapes_root(&at, "../../etc/ssl"));
        assert!(escapes_root(&at, "../../../etc/shadow"));
        assert!(!escapes_root(&at, "/etc/shadow"));
    }

    #[test]
    fn directory_artifact_is_sorted_read_only_and_filtered() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("dist/sub")).unwrap();
        fs::write(d.path().join("dist/a.js"), "a").unwrap();
        fs::write(d.path().join("dist/a.js.map"), "m").unwrap();
        fs::write(d.path().join("dist/sub/b.js"), "b").unwrap();
        std::os::unix::fs::symlink("sub/b.js", d.path().join("dist/link.js")).unwrap();
        let mut a = input(d.path(), "/srv/site");
        a.strip_prefix = Some("dist/".into());
        a.exclude = Some(
            globset::GlobSetBuilder::new()
                .add(globset::Glob::new("**/*.map").unwrap())
                .build()
                .unwrap(),
        );
        let got: Vec<_> = collect(&a, OWN, None)
            .unwrap()
            .into_iter()
            .map(|p| (p.entry.path.to_abs(), p.entry.mode, p.entry.uid))
            .collect();
        assert_eq!(
            got,
            [
                ("/srv/site".to_string(), 0o555, 0),
                ("/srv/site/a.js".into(), 0o444, 0),
                ("/srv/site/link.js".into(), 0o777, 0),
                ("/srv/site/sub".into(), 0o555, 0),
                ("/srv/site/sub/b.js".into(), 0o444, 0)
            ]
        );
    }

    #[test]
    fn refusals() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("busybox"), "x").unwrap();
        let a = input(&d.path().join("busybox"), "/bin/busybox");
        assert!(matches!(
            collect(&a, OWN, None),
            Err(ArtifactError::Forbidden { .. })
        ));
        let a = input(&d.path().join("nope"), "/app/x");
        assert!(matches!(
            collect(&a, OWN, None),
            Err(ArtifactError::Missing { .. })
        ));
        fs::create_dir(d.path().join("dir")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/shadow", d.path().join("dir/evil")).unwrap();
        let a = input(&d.path().join("dir"), "/app");
        assert!(matches!(
            collect(&a, OWN, None),
            Err(ArtifactError::SymlinkEscape { .. })
        ));
    }

    #[test]
    fn empty_directory_only_when_writable() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("cache")).unwrap();
        let mut a = input(&d.path().join("cache"), "/var/cache/app");
        assert!(matches!(
            collect(&a, OWN, None),
            Err(ArtifactError::Empty { .. })
        ));
        a.writable = true;
        let p = collect(&a, OWN, None).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].entry.uid, p[0].entry.mode, p[0].entry.is_dir()),
            (10001, 0o755, true)
        );
    }

    #[test]
    fn writable_is_owned_by_user() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), "x").unwrap();
        let mut a = input(&d.path().join("f"), "/data/f");
        a.writable = true;
        let p = collect(&a, OWN, None).unwrap();
        assert_eq!((p[0].entry.uid, p[0].entry.mode), (10001, 0o644));
    }
}
