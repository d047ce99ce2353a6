//! One interpretation of every tar stream, checked against Go itself.
//!
//! `tests/oracle/tarlist.go` reads a tar stream with Go's `archive/tar`, the
//! reader Docker, containerd, podman and umoci use, and prints a canonical
//! listing; `ironhull::fs::listing::canonical_listing` prints the same
//! listing from ironhull's reader. For every generated archive ironhull
//! accepts, the two must be identical. Hand-written cases pin each known gap
//! (Go reads them one way, a lax reader another): ironhull must refuse them.
//!
//! `IRONHULL_TAR_ORACLE_CASES` raises the number of generated archives
//! (default 300) and `IRONHULL_TAR_ORACLE_SEED` changes the seed.

mod common;
#[path = "oracle/gen.rs"]
mod oracle_gen;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::{require_tool, run};
use ironhull::fs::ReadError;
use ironhull::fs::listing::canonical_listing;
use oracle_gen::{Gen, H, Num, Rng, end, entry, ext, pax_data};

/// Builds the Go oracle once per test binary; `None` (with SKIP printed, or
/// a failure in CI) when Go is missing.
fn oracle() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        require_tool("go")?;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tar-oracle");
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("tarlist");
        let mut cmd = Command::new("go");
        cmd.arg("build")
            .arg("-o")
            .arg(&bin)
            .arg(common::repo_root().join("tests/oracle/tarlist.go"))
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GO111MODULE", "off")
            .env("GOFLAGS", "")
            .env("CGO_ENABLED", "0");
        run(cmd).assert_success();
        Some(bin)
    })
    .clone()
}

/// Go's listing of `tar`, or its error text.
fn go_list(bin: &Path, tar: &[u8]) -> Result<String, String> {
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = tar.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_accepted_generated_archive_lists_identically_under_go() {
    let Some(bin) = oracle() else { return };
    let cases = env_u64("IRONHULL_TAR_ORACLE_CASES", 300);
    let seed = env_u64("IRONHULL_TAR_ORACLE_SEED", 0x1_2c0f_fee5);
    let mut rng = Rng::new(seed);
    let (mut accepted, mut refused, mut entries) = (0u64, 0u64, 0usize);
    let mut reasons = std::collections::BTreeMap::<String, u64>::new();
    for case in 0..cases {
        let tar = Gen::new(&mut rng).archive();
        match canonical_listing(&tar[..]) {
            Ok(ours) => {
                accepted += 1;
                entries += ours.lines().count();
                let theirs = go_list(&bin, &tar);
                if theirs.as_deref() != Ok(ours.as_str()) {
                    let file = Path::new(env!("CARGO_TARGET_TMPDIR"))
                        .join(format!("tar-oracle-case-{case}.tar"));
                    std::fs::write(&file, &tar).unwrap();
                    panic!(
                        "case {case} (seed {seed:#x}, archive saved to {}): ironhull accepted it but Go reads it differently\n--- ironhull\n{ours}\n--- Go\n{}",
                        file.display(),
                        theirs.unwrap_or_else(|e| format!("error: {e}"))
                    );
                }
            }
            Err(e) => {
                refused += 1;
                let kind = format!("{e:?}");
                let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_string();
                *reasons.entry(kind).or_default() += 1;
                if std::env::var_os("IRONHULL_TAR_ORACLE_VERBOSE").is_some() {
                    eprintln!("case {case}: refused: {e}");
                }
            }
        }
    }
    eprintln!(
        "tar oracle: {cases} archives, {accepted} accepted ({entries} listed entries identical under Go), {refused} refused: {reasons:?}"
    );
    // The generator must exercise both sides, or the comparison proves nothing.
    assert!(accepted * 5 >= cases, "only {accepted} of {cases} accepted");
    assert!(refused * 10 >= cases, "only {refused} of {cases} refused");
}

/// Refused by ironhull with `Ambiguous` whose reason contains `why`, and
/// read without error by Go (so the gap is real, not something Go rejects
/// anyway): the listing Go prints is returned.
#[track_caller]
fn refused_but_go_reads(bin: Option<&Path>, tar: &[u8], why: &str) -> Option<String> {
    match canonical_listing(tar) {
        Err(ReadError::Ambiguous { why: w, .. }) => {
            assert!(w.contains(why), "reason {w:?} lacks {why:?}")
        }
        other => panic!("expected Ambiguous ({why}), got {other:?}"),
    }
    let bin = bin?;
    Some(go_list(bin, tar).unwrap_or_else(|e| {
        panic!("Go failed on the {why:?} case, which should be a real gap: {e}")
    }))
}

fn file(name: &str, data: &[u8]) -> Vec<u8> {
    entry(&H::file(name, data.len() as u64), data)
}

fn archive(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Vec<u8> = parts.concat();
    v.extend(end(2));
    v
}

#[test]
fn known_gaps_are_refused() {
    let bin = oracle();
    let bin = bin.as_deref();

    // Duplicate PAX path: Go takes the last, tar-rs took the first.
    let pax = pax_data(&[(b"path", b"safe"), (b"path", b"bin/sh")]);
    let t = archive(&[ext(b'x', &pax), file("x", b"#!")]);
    if let Some(go) = refused_but_go_reads(bin, &t, "appears twice") {
        assert!(go.starts_with("bin/sh\t"), "{go}");
    }
    // Duplicate PAX size: Go reads 512 bytes of content, tar-rs 0, and then
    // they disagree on where the next header is.
    let pax = pax_data(&[(b"size", b"0"), (b"size", b"512")]);
    let t = archive(&[ext(b'x', &pax), file("x", &[]), file("hidden", b"")]);
    refused_but_go_reads(bin, &t, "appears twice");
    // Duplicate linkpath.
    let pax = pax_data(&[(b"linkpath", b"/a"), (b"linkpath", b"/bin/busybox")]);
    let t = archive(&[ext(b'x', &pax), entry(&H::link(b'2', "l", "x"), &[])]);
    refused_but_go_reads(bin, &t, "appears twice");

    // PAX GNU sparse 1.0: Go renames the entry to GNU.sparse.name and
    // expands the map.
    let pax = pax_data(&[
        (b"GNU.sparse.major", b"1"),
        (b"GNU.sparse.minor", b"0"),
        (b"GNU.sparse.name", b"bin/sh"),
        (b"GNU.sparse.realsize", b"4"),
    ]);
    let mut body = b"1\n0\n4\n".to_vec();
    body.resize(512, 0);
    body.extend_from_slice(b"ELF!");
    let t = archive(&[
        ext(b'x', &pax),
        entry(&H::file("GNUSparseFile.0/sh", body.len() as u64), &body),
    ]);
    if let Some(go) = refused_but_go_reads(bin, &t, "GNU.sparse") {
        assert!(go.starts_with("bin/sh\tfile"), "{go}");
    }
    // GNU old sparse ('S').
    let mut h = H::file("sparse", 4);
    h.typeflag = b'S';
    h.magic = oracle_gen::Magic::Gnu;
    refused_but_go_reads(bin, &archive(&[entry(&h, b"ELF!")]), "sparse");

    // A regular file whose name ends in '/': a file to Go, a directory to tar-rs.
    let t = archive(&[file("etc/", b"x")]);
    if let Some(go) = refused_but_go_reads(bin, &t, "ending in '/'") {
        assert!(go.starts_with("etc\tfile"), "{go}");
    }

    // A symlink with a size: Go skips nothing, so the "content" is a header.
    let hidden = file("bin/sh", b"#!");
    let mut h = H::link(b'2', "l", "x");
    h.size = Num::Octal(hidden.len() as u64);
    let t = archive(&[entry(&h, &hidden)]);
    if let Some(go) = refused_but_go_reads(bin, &t, "header-only") {
        assert!(go.contains("bin/sh\tfile"), "{go}");
    }

    // Header size disagreeing with the PAX size.
    let pax = pax_data(&[(b"size", b"1")]);
    refused_but_go_reads(
        bin,
        &archive(&[ext(b'x', &pax), file("f", b"xx")]),
        "disagrees with the PAX size",
    );

    // GNU long name together with a PAX path: Go uses the long name.
    let pax = pax_data(&[(b"path", b"safe")]);
    let t = archive(&[ext(b'x', &pax), ext(b'L', b"bin/sh\0"), file("x", b"#!")]);
    if let Some(go) = refused_but_go_reads(bin, &t, "GNU long name and a PAX path") {
        assert!(go.starts_with("bin/sh\t"), "{go}");
    }
    // Two PAX headers for one entry.
    let t = archive(&[
        ext(b'x', &pax_data(&[(b"path", b"a")])),
        ext(b'x', &pax_data(&[(b"uid", b"0")])),
        file("x", b""),
    ]);
    refused_but_go_reads(bin, &t, "two PAX extended headers");
    // Empty PAX value: Go keeps the header name.
    let t = archive(&[ext(b'x', &pax_data(&[(b"path", b"")])), file("x", b"")]);
    refused_but_go_reads(bin, &t, "empty value");
    // hdrcharset and libarchive xattrs (a hidden capability channel).
    let t = archive(&[
        ext(b'x', &pax_data(&[(b"hdrcharset", b"BINARY")])),
        file("x", b""),
    ]);
    refused_but_go_reads(bin, &t, "hdrcharset");
    let t = archive(&[
        ext(
            b'x',
            &pax_data(&[(b"LIBARCHIVE.xattr.security.capability", b"AQAAAgAAAAA")]),
        ),
        file("x", b""),
    ]);
    refused_but_go_reads(bin, &t, "LIBARCHIVE.xattr");
    // A non-canonical PAX record length (Go's ParseInt takes the '+').
    let t = archive(&[ext(b'x', b"+13 path=abc\n"), file("x", b"")]);
    refused_but_go_reads(bin, &t, "plain decimal");
    // NUL in a PAX uname.
    let t = archive(&[
        ext(b'x', &pax_data(&[(b"uname", b"ro\0ot")])),
        file("x", b""),
    ]);
    match canonical_listing(&t[..]) {
        Err(ReadError::Ambiguous { why, .. }) => assert!(why.contains("NUL"), "{why}"),
        other => panic!("{other:?}"),
    }

    // A uid that the kernel truncates to 0.
    let pax = pax_data(&[(b"uid", b"4294967296")]);
    let t = archive(&[ext(b'x', &pax), file("x", b"")]);
    if let Some(go) = refused_but_go_reads(bin, &t, "32-bit id") {
        assert!(go.contains("\t4294967296\t"), "{go}");
    }

    // Non-canonical names; `./x` alone is normalized, like Go runtimes do.
    for bad in ["a//b", "a/./b", "/abs", "././x", ".//x"] {
        refused_but_go_reads(bin, &archive(&[file(bad, b"")]), "");
    }
    let ok = archive(&[entry(&H::dir("./"), &[]), file("./x", b"1")]);
    let ours = canonical_listing(&ok[..]).unwrap();
    assert!(
        ours.starts_with(".\tdir") && ours.contains("\nx\tfile"),
        "{ours}"
    );
    if let Some(bin) = bin {
        assert_eq!(go_list(bin, &ok).unwrap(), ours);
    }
    match canonical_listing(&archive(&[file("../x", b"")])[..]) {
        Err(ReadError::PathTraversal { .. }) => {}
        other => panic!("{other:?}"),
    }

    // Unknown and contiguous typeflags; junk after a name's NUL; star headers;
    // an odd magic; a zero block followed by a header.
    let mut h = H::file("c", 0);
    h.typeflag = b'7';
    refused_but_go_reads(bin, &archive(&[entry(&h, &[])]), "contiguous");
    let mut h = H::file("j", 0);
    h.name = b"ok\0bin/sh".to_vec();
    refused_but_go_reads(bin, &archive(&[entry(&h, &[])]), "after its NUL");
    let mut h = H::file("s", 0);
    h.star_trailer = true;
    refused_but_go_reads(bin, &archive(&[entry(&h, &[])]), "star");
    let mut h = H::file("m", 0);
    h.magic = oracle_gen::Magic::Odd;
    refused_but_go_reads(bin, &archive(&[entry(&h, &[])]), "magic");
    let mut t = file("a", b"");
    t.extend(end(1));
    t.extend(file("b", b""));
    t.extend(end(2));
    assert!(matches!(
        canonical_listing(&t[..]),
        Err(ReadError::Ambiguous { .. })
    ));
    // A bad checksum is corruption.
    let mut h = H::file("k", 0);
    h.bad_cksum = true;
    assert!(matches!(
        canonical_listing(&archive(&[entry(&h, &[])])[..]),
        Err(ReadError::Corrupt { .. })
    ));
    // Truncated inside a PAX record.
    let t = ext(b'x', &pax_data(&[(b"path", "p".repeat(900).as_bytes())]));
    assert!(matches!(
        canonical_listing(&t[..700]),
        Err(ReadError::Truncated { .. })
    ));
}

/// Errors name the layer (via `in_layer`), the entry and the reason.
#[test]
fn refusals_name_the_entry_and_the_reason() {
    let pax = pax_data(&[(b"path", b"safe"), (b"path", b"bin/sh")]);
    let t = archive(&[file("ok", b""), ext(b'x', &pax), file("x", b"")]);
    let e = canonical_listing(&t[..]).unwrap_err().in_layer(2);
    let msg = e.to_string();
    assert!(msg.starts_with("layer 2: "), "{msg}");
    assert!(msg.contains("uncompressed offset 512"), "{msg}");
    assert!(msg.contains("tar entry \"x\""), "{msg}");
    assert!(msg.contains("\"path\" appears twice"), "{msg}");
    assert!(msg.contains("rebuild the layer"), "{msg}");
}
