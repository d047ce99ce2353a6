//! Unit tests of the layer reader, and the tar builder (`T`), `gz` and
//! `alpine_fixture` helpers that the other modules' tests share as
//! `crate::fs::read::tests::*`.

use super::*;
use crate::fs::entry::{Entry, EntryKind, ImagePath};
use std::io::Write;

/// A tar builder over a Vec with helpers for the entries tests need.
pub(crate) struct T(pub tar::Builder<Vec<u8>>);

impl T {
    pub fn new() -> Self {
        T(tar::Builder::new(Vec::new()))
    }
    fn header(ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    }
    pub fn file(mut self, path: &str, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }
    pub fn file_mode(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }
    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, path, io::empty()).unwrap();
        self
    }
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.hardlink_owned(path, target, 0o644, 0)
    }
    pub fn hardlink_owned(mut self, path: &str, target: &str, mode: u32, uid: u64) -> Self {
        let mut h = Self::header(tar::EntryType::Link, mode, 0);
        h.set_uid(uid);
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }
    /// An entry whose name and link name are written as raw bytes, so
    /// they can hold what `set_path` refuses (like `..`).
    pub fn raw(mut self, ty: tar::EntryType, name: &[u8], link: &[u8], data: &[u8]) -> Self {
        let mut h = Self::header(ty, 0o644, data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    pub fn pax(mut self, recs: &[(&str, &[u8])]) -> Self {
        self.0.append_pax_extensions(recs.iter().copied()).unwrap();
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

type Events = Vec<(LayerEvent, Vec<u8>)>;

fn read_with(blob: &[u8], opts: &ReadOptions) -> Result<(Events, LayerStats), ReadError> {
    let mut out = Vec::new();
    let stats = read_layer(blob, opts, |ev, r| {
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)?;
        out.push((ev, buf));
        Ok(())
    })?;
    Ok((out, stats))
}

fn read(blob: &[u8]) -> Result<(Events, LayerStats), ReadError> {
    read_with(blob, &ReadOptions::default())
}

fn p(s: &str) -> ImagePath {
    ImagePath::parse(s).unwrap()
}

fn entry(ev: &LayerEvent) -> &Entry {
    match ev {
        LayerEvent::Entry(e) => e,
        other => panic!("expected an entry, got {other:?}"),
    }
}

#[test]
fn reads_kinds_metadata_and_content() {
    let mut b = T::new()
        .dir("./")
        .dir("bin/")
        .file_mode("bin/busybox", 0o104755, b"ELF...")
        .symlink("bin/sh", "/bin/busybox")
        .hardlink_owned("bin/ash", "bin/busybox", 0o4755, 0);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Char);
    h.set_mode(0o666);
    h.set_size(0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.0.append_data(&mut h, "dev/null", io::empty()).unwrap();
    let tar = b.finish();
    let (evs, stats) = read(&tar).unwrap();
    assert_eq!(stats.entries, 6);
    assert_eq!(stats.bytes, tar.len() as u64);
    assert_eq!(stats.diff_id, Digest::of(&tar));
    assert_eq!(entry(&evs[0].0).path, ImagePath::root());
    assert!(entry(&evs[0].0).is_dir());
    let bb = entry(&evs[2].0);
    assert_eq!(bb.path.as_str(), "bin/busybox");
    assert_eq!(bb.mode, 0o4755, "mode must be masked to 0o7777");
    assert!(bb.is_setuid_or_setgid());
    assert_eq!(bb.size, 6);
    assert_eq!(bb.mtime, 1_700_000_000);
    assert_eq!(evs[2].1, b"ELF...");
    assert_eq!(
        entry(&evs[3].0).kind,
        EntryKind::Symlink {
            target: "/bin/busybox".into()
        }
    );
    assert_eq!(
        entry(&evs[4].0).kind,
        EntryKind::Hardlink {
            target: p("bin/busybox")
        }
    );
    assert_eq!(
        entry(&evs[5].0).kind,
        EntryKind::CharDevice { major: 1, minor: 3 }
    );
    assert!(evs[5].1.is_empty());
}

#[test]
fn gzip_and_multi_member_gzip_give_the_plain_diff_id() {
    let tar = T::new()
        .file("a", b"hello")
        .file("b", &[7u8; 3000])
        .finish();
    let (_, plain) = read(&tar).unwrap();
    let (evs, single) = read(&gz(&tar)).unwrap();
    assert_eq!(single, plain);
    assert_eq!(evs[1].1, vec![7u8; 3000]);
    let (a, b) = tar.split_at(700);
    let mut multi = gz(a);
    multi.extend(gz(b));
    let (evs, multi) = read(&multi).unwrap();
    assert_eq!(multi, plain);
    assert_eq!(evs.len(), 2);
}

#[test]
fn undrained_content_is_skipped_and_hashed() {
    let tar = T::new()
        .file("big", &[1u8; 100_000])
        .file("small", b"x")
        .finish();
    let mut names = Vec::new();
    let stats = read_layer(&gz(&tar)[..], &ReadOptions::default(), |ev, r| {
        // Read only a little of each file.
        let mut two = [0u8; 2];
        let _ = r.read(&mut two)?;
        names.push(entry(&ev).path.as_str().to_string());
        Ok(())
    })
    .unwrap();
    assert_eq!(names, ["big", "small"]);
    assert_eq!(stats.diff_id, Digest::of(&tar));
}

#[test]
fn trailing_garbage_after_end_of_archive_is_hashed() {
    let mut tar = T::new().file("a", b"1").finish();
    tar.extend_from_slice(b"garbage after the end blocks");
    let (evs, stats) = read(&tar).unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(stats.diff_id, Digest::of(&tar));
    assert_eq!(stats.bytes, tar.len() as u64);
}

#[test]
fn whiteouts_opaque_and_aufs_metadata() {
    let tar = T::new()
        .dir("etc/")
        .file("etc/.wh.shadow", b"")
        .file("var/cache/.wh..wh..opq", b"")
        .dir(".wh..wh.plnk/")
        .file(".wh..wh.aufs", b"")
        .file(".wh..wh..opq", b"")
        .finish();
    let (evs, stats) = read(&tar).unwrap();
    let evs: Vec<_> = evs.into_iter().map(|(e, _)| e).collect();
    assert_eq!(stats.entries, 6);
    assert_eq!(evs.len(), 4);
    assert_eq!(evs[1], LayerEvent::Whiteout(p("etc/shadow")));
    assert_eq!(evs[2], LayerEvent::Opaque(p("var/cache")));
    assert_eq!(evs[3], LayerEvent::Opaque(ImagePath::root()));
    // Content below an aufs metadata directory is extracted by
    // containerd and skipped by Docker: refused.
    let tar = T::new().file(".wh..wh.plnk/123.456", b"x").finish();
    assert!(matches!(read(&tar), Err(ReadError::Ambiguous { .. })));
}

#[test]
fn bad_whiteouts_are_rejected() {
    let tar = T::new().file("a/.wh.", b"").finish();
    assert!(matches!(read(&tar), Err(ReadError::BadWhiteout { .. })));
    let tar = T::new().file(".wh.a/b", b"").finish();
    assert!(matches!(read(&tar), Err(ReadError::BadWhiteout { .. })));
}

#[test]
fn long_names_and_long_link_targets() {
    let long = format!("usr/{}/{}", "d".repeat(120), "f".repeat(130));
    let target = format!("/opt/{}", "t".repeat(200));
    let tar = T::new()
        .file(&long, b"data")
        .symlink("link", &target)
        .hardlink("hl", &long)
        .finish();
    let (evs, _) = read(&gz(&tar)).unwrap();
    assert_eq!(entry(&evs[0].0).path.as_str(), long);
    assert_eq!(evs[0].1, b"data");
    assert_eq!(entry(&evs[1].0).kind, EntryKind::Symlink { target });
    assert_eq!(
        entry(&evs[2].0).kind,
        EntryKind::Hardlink { target: p(&long) }
    );
}

#[test]
fn pax_path_owner_names_and_xattrs() {
    let long = format!("opt/{}", "p".repeat(300));
    let tar = T::new()
        .pax(&[
            ("path", long.as_bytes()),
            ("uname", b"builder".as_slice()),
            ("mtime", b"1234.5".as_slice()),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\x00\x00\x02".as_slice(),
            ),
        ])
        .file("short", b"z")
        .finish();
    let (evs, _) = read(&tar).unwrap();
    let e = entry(&evs[0].0);
    assert_eq!(e.path.as_str(), long);
    assert_eq!(e.uname, "builder");
    assert_eq!(e.mtime, 1234);
    assert!(e.xattrs.is_empty(), "xattrs are dropped unless asked for");
    let opts = ReadOptions {
        keep_xattrs: true,
        ..ReadOptions::default()
    };
    let (evs, _) = read_with(&tar, &opts).unwrap();
    assert_eq!(
        entry(&evs[0].0)
            .xattrs
            .get("security.capability")
            .map(Vec::as_slice),
        Some(b"\x01\x00\x00\x02".as_slice())
    );
}

#[test]
fn dot_dot_paths_are_rejected() {
    for bad in [&b"../etc/passwd"[..], b"/abs/../../x", b"a/.."] {
        let tar = T::new()
            .raw(tar::EntryType::Regular, bad, b"", b"x")
            .finish();
        match read(&tar) {
            Err(ReadError::PathTraversal { path }) => {
                assert_eq!(path.as_bytes(), bad);
            }
            other => panic!("{:?}: expected PathTraversal, got {other:?}", lossy(bad)),
        }
    }
}

#[test]
fn hardlink_checks() {
    let tar = T::new()
        .file("etc/passwd", b"root")
        .raw(tar::EntryType::Link, b"x", b"../../etc/shadow", b"")
        .finish();
    assert!(matches!(
        read(&tar),
        Err(ReadError::HardlinkTraversal { ref path, ref target })
            if path == "x" && target == "../../etc/shadow"
    ));
    let tar = T::new().hardlink("a", "missing").finish();
    assert!(matches!(
        read(&tar),
        Err(ReadError::HardlinkMissingTarget { .. })
    ));
    // The target must come first, not later.
    let tar = T::new().hardlink("a", "b").file("b", b"").finish();
    assert!(matches!(
        read(&tar),
        Err(ReadError::HardlinkMissingTarget { .. })
    ));
    // Replacing a hard link's target later in the same layer: the link
    // keeps the old content at unpack time.
    let tar = T::new()
        .file("a", b"sh")
        .hardlink("b", "a")
        .file("a", b"ok")
        .finish();
    assert!(matches!(read(&tar), Err(ReadError::Ambiguous { .. })));
    let tar = T::new().file("a", b"").hardlink("a", "a").finish();
    assert!(matches!(read(&tar), Err(ReadError::HardlinkToSelf { .. })));
    // A link header whose mode, owner or xattrs differ from its target's:
    // podman applies the link's header to the shared inode, containerd
    // does not (a setuid bit only one runtime would set).
    for (mode, uid, what) in [(0o4755, 0, "mode 4755"), (0o644, 7, "owner 7:0")] {
        let tar = T::new()
            .file("a", b"x")
            .hardlink_owned("b", "a", mode, uid)
            .finish();
        match read(&tar) {
            Err(ReadError::Ambiguous { why, .. }) => assert!(why.contains(what), "{why}"),
            other => panic!("expected Ambiguous for {what}, got {other:?}"),
        }
    }
    let tar = T::new()
        .file("a", b"x")
        .pax(&[("SCHILY.xattr.user.k", b"v".as_slice())])
        .hardlink("b", "a")
        .finish();
    assert!(
        matches!(read(&tar), Err(ReadError::Ambiguous { ref why, .. }) if why.contains("extended attributes"))
    );
    // Replacing the directory that holds a linked file removes the file at
    // unpack time while the link keeps it.
    let tar = T::new()
        .dir("d/")
        .file("d/f", b"x")
        .hardlink("l", "d/f")
        .file("d", b"y")
        .finish();
    assert!(
        matches!(read(&tar), Err(ReadError::Ambiguous { ref why, .. }) if why.contains("directory holding"))
    );
    // Without a link into it, a file may replace a directory.
    let tar = T::new()
        .dir("d/")
        .file("d/f", b"x")
        .file("d", b"y")
        .finish();
    assert!(read(&tar).is_ok());
    // A link to a link is judged against the link (which equals the file).
    let tar = T::new()
        .file("a", b"x")
        .hardlink("b", "a")
        .hardlink("c", "b")
        .finish();
    assert!(read(&tar).is_ok());
    let tar = T::new().dir("d/").hardlink("a", "d").finish();
    assert!(matches!(read(&tar), Err(ReadError::HardlinkToDir { .. })));
    // Absolute hard link targets are normalized from the root.
    let tar = T::new().file("a", b"").hardlink("b", "/a").finish();
    let (evs, _) = read(&tar).unwrap();
    assert_eq!(
        entry(&evs[1].0).kind,
        EntryKind::Hardlink { target: p("a") }
    );
}

#[test]
fn symlinks_may_point_anywhere_but_must_be_sane() {
    let tar = T::new()
        .symlink("a", "../../../../etc/shadow")
        .symlink("b", "/etc/shadow")
        .finish();
    let (evs, _) = read(&tar).unwrap();
    assert_eq!(evs.len(), 2);
    let tar = T::new()
        .raw(tar::EntryType::Symlink, b"empty", b"", b"")
        .finish();
    assert!(matches!(read(&tar), Err(ReadError::BadSymlink { .. })));
    let tar = T::new()
        .pax(&[("linkpath", b"a\0b".as_slice())])
        .symlink("nul", "x")
        .finish();
    assert!(matches!(
        read(&tar),
        Err(ReadError::BadSymlink { why, .. }) if why.contains("NUL")
    ));
}

#[test]
fn parent_must_be_a_directory_in_the_same_layer() {
    let tar = T::new().file("a", b"").file("a/b/c", b"").finish();
    assert!(matches!(
        read(&tar),
        Err(ReadError::ParentNotDir { ref parent, .. }) if parent == "a"
    ));
    let tar = T::new()
        .symlink("lib", "usr/lib")
        .file("lib/x", b"")
        .finish();
    assert!(matches!(read(&tar), Err(ReadError::ParentNotDir { .. })));
    let tar = T::new().file("a", b"").file("a/.wh.b", b"").finish();
    assert!(matches!(read(&tar), Err(ReadError::ParentNotDir { .. })));
    // A file later replaced by a directory in the same layer is fine.
    let tar = T::new().file("a", b"").dir("a/").file("a/b", b"").finish();
    assert!(read(&tar).is_ok());
}

#[test]
fn disallowed_entry_types_are_rejected() {
    for ty in [b'V', b'M', b'N', b'D', b'A', b'I', b'X'] {
        let tar = T::new()
            .raw(tar::EntryType::new(ty), b"thing", b"", b"")
            .finish();
        match read(&tar) {
            Err(ReadError::UnsupportedType { type_flag, .. }) => {
                assert_eq!(type_flag, char::from(ty));
            }
            other => panic!("type {}: {other:?}", char::from(ty)),
        }
    }
    let tar = T::new()
        .raw(tar::EntryType::Symlink, b".", b"x", b"")
        .finish();
    assert!(matches!(read(&tar), Err(ReadError::RootNotDir { .. })));
    // "./" names a directory by its slash: a symlink there contradicts it.
    let tar = T::new()
        .raw(tar::EntryType::Symlink, b"./", b"x", b"")
        .finish();
    assert!(matches!(read(&tar), Err(ReadError::Ambiguous { .. })));
}

#[test]
fn corrupt_checksum_is_corrupt() {
    let mut tar = T::new().file("a", b"x").file("b", b"y").finish();
    tar[1024 + 100] ^= 0x01; // mode field of the second header
    match read(&tar) {
        Err(ReadError::Corrupt { offset, detail, .. }) => {
            assert!(offset.is_some());
            assert!(detail.contains("checksum"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn truncated_streams_are_truncated() {
    let tar = T::new().file("a", &[5u8; 5000]).file("b", b"y").finish();
    // Plain tar cut inside the content of the first file.
    assert!(matches!(
        read(&tar[..2000]),
        Err(ReadError::Truncated { .. })
    ));
    // Plain tar cut inside a header.
    assert!(matches!(
        read(&tar[..512 * 12 + 100]),
        Err(ReadError::Truncated { .. })
    ));
    // Gzip cut in the middle.
    let z = gz(&tar);
    let cut = &z[..z.len() / 2];
    match read(cut) {
        Err(ReadError::Truncated { .. }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Gzip missing only its trailer (CRC + size).
    let cut = &z[..z.len() - 4];
    assert!(
        matches!(read(cut), Err(ReadError::Truncated { .. })),
        "{:?}",
        read(cut)
    );
}

#[test]
fn visitor_errors_from_a_broken_stream_name_the_entry() {
    let tar = T::new().file("a", &[5u8; 50_000]).finish();
    let z = gz(&tar);
    let res = read_layer(&z[..z.len() / 3], &ReadOptions::default(), |_, r| {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(())
    });
    match res {
        Err(ReadError::Truncated { path, .. }) => assert_eq!(path.as_deref(), Some("a")),
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn limits() {
    let tar = T::new()
        .file("a", b"")
        .file("b", b"")
        .file("c", b"")
        .finish();
    let opts = ReadOptions {
        max_entries: 2,
        ..ReadOptions::default()
    };
    assert!(matches!(
        read_with(&tar, &opts),
        Err(ReadError::TooManyEntries { limit: 2 })
    ));
    let huge = vec![b'a'; 64 * 1024];
    let tar = T::new()
        .pax(&[("comment", huge.as_slice())])
        .file("a", b"")
        .finish();
    let opts = ReadOptions {
        max_header_bytes: 8 * 1024,
        ..ReadOptions::default()
    };
    assert!(matches!(
        read_with(&gz(&tar), &opts),
        Err(ReadError::HeaderTooLarge { .. })
    ));
    assert!(read(&tar).is_ok(), "64 KiB of PAX is fine by default");
    let tar = T::new().file("a", &[0u8; 10_000]).finish();
    let opts = ReadOptions {
        max_layer_bytes: 4096,
        ..ReadOptions::default()
    };
    assert!(matches!(
        read_with(&tar, &opts),
        Err(ReadError::LayerTooLarge { .. })
    ));
    let opts = ReadOptions {
        max_layer_bytes: tar.len() as u64,
        ..ReadOptions::default()
    };
    assert!(
        read_with(&tar, &opts).is_ok(),
        "exactly at the limit is fine"
    );
}

fn zst(data: &[u8]) -> Vec<u8> {
    let mut e = crate::layer::zst::ZstdEncoder::new(Vec::new(), 3, 2).unwrap();
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn zstd_layers_read_like_gzip_layers_and_empty_input_is_handled() {
    let tar = T::new()
        .dir("etc")
        .file("etc/passwd", b"root:x:0:0::/root:/sbin/nologin\n")
        .file("etc/.wh.gone", b"")
        .finish();
    let (gz_events, gz_stats) = read(&gz(&tar)).unwrap();
    let (z_events, z_stats) = read(&zst(&tar)).unwrap();
    assert_eq!(z_events, gz_events);
    assert_eq!(z_stats, gz_stats);
    assert_eq!(z_stats.diff_id, Digest::of(&tar));
    // An empty stream is an empty archive (no end blocks).
    let (evs, stats) = read(b"").unwrap();
    assert!(evs.is_empty());
    assert_eq!(stats.diff_id, Digest::of(b""));
}

#[test]
fn hostile_zstd_streams() {
    let tar = T::new().file("a", &[5u8; 50_000]).finish();
    let z = zst(&tar);
    // Cut short: truncated, naming the entry it was in.
    match read(&z[..z.len() / 2]) {
        Err(ReadError::Truncated { .. }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    // A frame that asks for a 2 GiB window is refused up front, with the
    // decoder's explanation rather than the tar crate's wrapper text.
    let mut huge = vec![
        0x28,
        0xb5,
        0x2f,
        0xfd,
        0x00,
        (31 - 10) << 3,
        0x09,
        0,
        0,
        b'x',
    ];
    match read(&huge) {
        Err(e @ ReadError::Corrupt { .. }) => {
            assert!(e.to_string().contains("window larger than 128 MiB"), "{e}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Garbage in place of the frame body.
    huge.truncate(6);
    huge.extend_from_slice(&[0xff; 64]);
    assert!(matches!(read(&huge), Err(ReadError::Corrupt { .. })));
    // A bomb: 512 MiB of zeros in a few KiB of zstd is cut off at the
    // layer limit while streaming, never inflated into memory.
    let mut enc = crate::layer::zst::ZstdEncoder::new(Vec::new(), 3, 2).unwrap();
    let mut t = tar::Builder::new(&mut enc);
    let mut h = tar::Header::new_ustar();
    h.set_path("bomb").unwrap();
    h.set_size(512 << 20);
    h.set_mode(0o644);
    h.set_cksum();
    t.append(&h, io::repeat(0).take(512 << 20)).unwrap();
    t.finish().unwrap();
    drop(t);
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let opts = ReadOptions {
        max_layer_bytes: 64 << 20,
        ..ReadOptions::default()
    };
    assert!(matches!(
        read_with(&bomb, &opts),
        Err(ReadError::LayerTooLarge { limit }) if limit == 64 << 20
    ));
}

#[test]
fn old_style_directory_with_trailing_slash() {
    // The legacy typeflag NUL with a trailing slash is a directory to
    // every reader (Go included).
    let mut tar = T::new()
        .raw(tar::EntryType::Regular, b"olddir/", b"", b"")
        .finish();
    tar[156] = 0;
    let h = tar::Header::from_byte_slice(&tar[..512]).clone();
    let mut h = h;
    h.set_cksum();
    tar[..512].copy_from_slice(h.as_bytes());
    let (evs, _) = read(&tar).unwrap();
    assert!(entry(&evs[0].0).is_dir());
    // Typeflag '0' with a trailing slash: a file to Go, a directory to
    // tar-rs. Refused.
    let tar = T::new()
        .raw(tar::EntryType::Regular, b"olddir/", b"", b"")
        .finish();
    match read(&tar) {
        Err(ReadError::Ambiguous { path, why, .. }) => {
            assert_eq!(path.as_deref(), Some("olddir/"));
            assert!(why.contains("typeflag '0'"), "{why}");
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }
}

/// The path of the Alpine minirootfs fixture, or `None` (with the reason
/// printed) when absent; absent fixtures fail the test when `CI=true`.
pub(crate) fn alpine_fixture() -> Option<std::path::PathBuf> {
    let dir = std::env::var("IRONHULL_FIXTURES")
        .unwrap_or_else(|_| format!("{}/../shared/fixtures", env!("CARGO_MANIFEST_DIR")));
    let path = std::path::Path::new(&dir).join("alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("fixture {} missing and CI=true", path.display());
    }
    eprintln!("skipping: fixture {} not found", path.display());
    None
}

/// The real Alpine minirootfs, when the fixtures are present.
#[test]
fn alpine_minirootfs() {
    let Some(path) = alpine_fixture() else { return };
    let f = std::fs::File::open(&path).unwrap();
    let mut found = std::collections::BTreeMap::new();
    let mut installed = 0usize;
    let stats = read_layer(io::BufReader::new(f), &ReadOptions::default(), |ev, r| {
        if let LayerEvent::Entry(e) = ev {
            if e.path.as_str() == "lib/apk/db/installed" {
                let mut s = String::new();
                r.read_to_string(&mut s)?;
                installed = s.matches("\nP:").count() + usize::from(s.starts_with("P:"));
            }
            found.insert(e.path.as_str().to_string(), e.kind);
        }
        Ok(())
    })
    .unwrap();
    assert!(stats.entries > 50, "{}", stats.entries);
    assert_eq!(found.get("bin/busybox"), Some(&EntryKind::File));
    assert!(matches!(
        found.get("bin/sh"),
        Some(EntryKind::Symlink { .. })
    ));
    assert_eq!(found.get("etc/passwd"), Some(&EntryKind::File));
    assert!(found.contains_key("lib/apk/db/installed"));
    assert!(installed > 5, "{installed} packages");
    // The diffID must equal the sha256 of the decompressed stream.
    let f = std::fs::File::open(&path).unwrap();
    let (d, n) = crate::digest::digest_reader(MultiGzDecoder::new(io::BufReader::new(f))).unwrap();
    assert_eq!(stats.diff_id, d);
    assert_eq!(stats.bytes, n);
}
