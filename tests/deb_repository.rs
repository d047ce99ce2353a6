//! The Debian repository trust chain (issue 15) against a real archive:
//! real debs from Debian (`.ci/install-deps.sh`), indexed by the real
//! `apt-ftparchive`, signed by real `gpg` with a throwaway key, served on
//! 127.0.0.1. apt itself reads the same archive (the differential test), so
//! the archive is a valid one; then every attack gets a clear error.

mod common;
#[path = "common/debrepo.rs"]
mod debrepo;
#[path = "common/http_files.rs"]
mod http_files;

use debrepo::{DebRepo, DebRepoOptions};
use ironhull::packages::deb::repo::check_fresh;
use ironhull::packages::deb::{RepoError, RepoIndex, RepoSpec, open_repository};
use ironhull::packages::fetch::HttpFetch;
use ironhull::packages::openpgp::{Keyring, timestamp};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The small closure most attack tests use (glibc and what it needs).
const SMALL: &[&str] = &["libc6", "libgcc-s1", "gcc-12-base", "tzdata"];

fn small_repo(opts: DebRepoOptions) -> Option<DebRepo> {
    debrepo::require_tools()?;
    let dir = debrepo::test_debs("amd64")?;
    Some(DebRepo::build(&debrepo::pick(&dir, SMALL), opts))
}

fn spec(repo: &DebRepo, url: &str, keyring: &Path) -> RepoSpec {
    RepoSpec {
        url: format!("{url}/"),
        suite: repo.suite.clone(),
        components: if repo.opts.flat {
            Vec::new()
        } else {
            vec!["main".to_string()]
        },
        arch: "amd64".to_string(),
        keyring: keyring.to_path_buf(),
        position: 2,
    }
}

fn open(repo: &DebRepo, server: &http_files::FileServer) -> Result<RepoIndex, RepoError> {
    open_repository(
        &spec(repo, &server.url(), &repo.keyring),
        &HttpFetch::new(),
        now(),
    )
}

/// Every record matches `dpkg-deb -f` of its file, its size and sha256.
fn assert_lists_every_deb(repo: &DebRepo, index: &RepoIndex) {
    let mut got: Vec<_> = index
        .records
        .iter()
        .map(|r| {
            (
                r.package.clone(),
                r.version.as_str().to_string(),
                r.architecture.clone(),
                r.filename.clone(),
                r.size,
                format!("sha256:{}", r.sha256),
            )
        })
        .collect();
    got.sort();
    let want = repo.expected();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(index.records.iter().all(|r| r.repository == 2));
}

fn sha256_file(p: &Path) -> String {
    common::digest_file(p)
        .trim_start_matches("sha256:")
        .to_string()
}

#[test]
fn inrelease_lists_every_deb_of_the_closure() {
    let Some(()) = debrepo::require_tools() else {
        return;
    };
    let Some(dir) = debrepo::test_debs("amd64") else {
        return;
    };
    let debs = debrepo::all_debs(&dir);
    assert!(debs.len() >= 30, "the closure has {} debs", debs.len());
    let repo = DebRepo::build(&debs, DebRepoOptions::default());
    let server = repo.serve();
    let index = open(&repo, &server).expect("open the archive");
    assert_lists_every_deb(&repo, &index);
    assert_eq!(index.release_file, "InRelease");
    assert_eq!(
        index.release_sha256,
        sha256_file(&repo.release_dir().join("InRelease"))
    );
    assert_eq!(index.signer, repo.fingerprint);
    assert_eq!(index.release.codename.as_deref(), Some("bookworm"));
    assert_eq!(index.indexes.len(), 1);
    assert_eq!(index.indexes[0].0, "main/binary-amd64/Packages.xz");
    // Only what is needed was read: InRelease and the xz index, once each.
    assert_eq!(server.count("/dists/bookworm/InRelease"), 1);
    assert_eq!(
        server.count("/dists/bookworm/main/binary-amd64/Packages.xz"),
        1
    );
    assert_eq!(server.count("/dists/bookworm/Release"), 0);
    assert_eq!(server.count("/dists/bookworm/Release.gpg"), 0);
    assert_eq!(
        server.count("/dists/bookworm/main/binary-amd64/Packages"),
        0
    );
    // Versions with epochs and tildes parse as dpkg's.
    let gawk = index
        .records
        .iter()
        .find(|r| r.package == "gawk")
        .expect("gawk");
    assert_eq!(gawk.version.epoch(), 1);
    let tz = index
        .records
        .iter()
        .find(|r| r.package == "tzdata")
        .expect("tzdata");
    assert_eq!(tz.architecture, "all");
    assert!(tz.depends.iter().flatten().any(|a| a.name == "debconf"));
    let libc = index
        .records
        .iter()
        .find(|r| r.package == "libc6")
        .expect("libc6");
    assert_eq!(libc.multi_arch.as_deref(), Some("same"));
    assert!(check_fresh(&index, now()).is_ok());
}

#[test]
fn release_and_detached_signature_when_there_is_no_inrelease() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    std::fs::remove_file(repo.release_dir().join("InRelease")).expect("rm InRelease");
    let server = repo.serve();
    // Armored keyring this time, and a gz-only archive (xz and plain gone).
    for ext in ["xz", ""] {
        let name = if ext.is_empty() {
            "Packages".to_string()
        } else {
            format!("Packages.{ext}")
        };
        std::fs::remove_file(repo.release_dir().join("main/binary-amd64").join(name)).expect("rm");
    }
    repo.resign();
    std::fs::remove_file(repo.release_dir().join("InRelease")).expect("rm InRelease");
    let index = open_repository(
        &spec(&repo, &server.url(), &repo.keyring_armored),
        &HttpFetch::new(),
        now(),
    )
    .expect("open via Release + Release.gpg");
    assert_lists_every_deb(&repo, &index);
    assert_eq!(index.release_file, "Release");
    assert_eq!(
        index.release_sha256,
        sha256_file(&repo.release_dir().join("Release"))
    );
    assert_eq!(index.indexes[0].0, "main/binary-amd64/Packages.gz");
    assert_eq!(server.count("/dists/bookworm/InRelease"), 1);
    assert_eq!(server.count("/dists/bookworm/Release"), 1);
    assert_eq!(server.count("/dists/bookworm/Release.gpg"), 1);
}

#[test]
fn keyring_directory_with_several_keys() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let other = tmp.path().join("other-gnupg");
    let other_fp = debrepo::gen_key(&other, "someone-else");
    let keys = tmp.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    debrepo::export_key(&other, &keys.join("a-other.asc"), true);
    std::fs::copy(&repo.keyring, keys.join("b-archive.gpg")).unwrap();
    std::fs::write(keys.join("README"), "not a key").unwrap();
    let server = repo.serve();
    let index = open_repository(&spec(&repo, &server.url(), &keys), &HttpFetch::new(), now())
        .expect("a directory keyring");
    assert_eq!(index.signer, repo.fingerprint);
    let ring = Keyring::load(&keys).unwrap();
    let mut fps = ring.fingerprints();
    fps.sort();
    let mut want = vec![other_fp, repo.fingerprint.clone()];
    want.sort();
    assert_eq!(fps, want);
}

#[test]
fn flat_repository() {
    let Some(repo) = small_repo(DebRepoOptions {
        flat: true,
        ..DebRepoOptions::default()
    }) else {
        return;
    };
    let server = repo.serve();
    let index = open(&repo, &server).expect("open the flat repository");
    assert_lists_every_deb(&repo, &index);
    assert_eq!(index.indexes[0].0, "Packages.xz");
    assert_eq!(server.count("/InRelease"), 1);
    assert_eq!(server.count("/Packages.xz"), 1);
}

/// The error of opening the served archive, as text; panics if it opens.
fn open_err(repo: &DebRepo, server: &http_files::FileServer, keyring: &Path) -> String {
    match open_repository(
        &spec(repo, &server.url(), keyring),
        &HttpFetch::new(),
        now(),
    ) {
        Ok(i) => panic!("opened a bad archive: {} records", i.records.len()),
        Err(e) => {
            let s = e.to_string();
            eprintln!("the error a user sees: {s}");
            assert!(
                s.contains(&server.url()),
                "the error names the repository: {s}"
            );
            s
        }
    }
}

#[test]
fn tampered_packages_one_byte() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let server = repo.serve();
    let p = repo.release_dir().join("main/binary-amd64/Packages.xz");
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    server.replace("/dists/bookworm/main/binary-amd64/Packages.xz", bytes);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("main/binary-amd64/Packages.xz"), "{e}");
    assert!(e.contains(&format!("sha256:{}", sha256_file(&p))), "{e}");
    assert!(e.contains("changed") && e.contains("retry"), "{e}");
}

/// Rewrites the size Release lists for Packages.xz and re-signs it.
fn relist_size(repo: &DebRepo, new_size: impl Fn(u64) -> u64) {
    let rel = repo.release_dir().join("Release");
    let xz = repo.release_dir().join("main/binary-amd64/Packages.xz");
    let size = std::fs::metadata(&xz).unwrap().len();
    let hash = sha256_file(&xz);
    let text = std::fs::read_to_string(&rel).unwrap();
    let from = format!("{hash} {size:>16} main/binary-amd64/Packages.xz");
    let alt = format!("{hash} {size} main/binary-amd64/Packages.xz");
    let new_size = new_size(size);
    let to = format!("{hash} {new_size} main/binary-amd64/Packages.xz");
    assert!(text.contains(&from) || text.contains(&alt), "{text}");
    let text = text.replace(&from, &to).replace(&alt, &to);
    std::fs::write(&rel, text).unwrap();
    repo.sign_with(&repo.gnupghome);
}

#[test]
fn packages_listed_with_the_wrong_size() {
    type Resize = fn(u64) -> u64;
    let sizes: [(Resize, &str); 3] = [
        (|n| n + 1, "bytes, but Release says"),
        (|n| n - 1, "more than"),
        (|_| u64::MAX, "over the"),
    ];
    for (f, why) in sizes {
        let Some(repo) = small_repo(DebRepoOptions::default()) else {
            return;
        };
        relist_size(&repo, f);
        let server = repo.serve();
        let e = open_err(&repo, &server, &repo.keyring);
        assert!(e.contains("main/binary-amd64/Packages.xz"), "{e}");
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[test]
fn release_signed_by_another_key() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let other = tmp.path().join("gnupg");
    let other_fp = debrepo::gen_key(&other, "not-the-archive");
    let other_ring = tmp.path().join("other.gpg");
    debrepo::export_key(&other, &other_ring, false);
    let server = repo.serve();
    // The right signature, the wrong keyring.
    let e = open_err(&repo, &server, &other_ring);
    assert!(e.contains("InRelease"), "{e}");
    assert!(e.contains(&repo.fingerprint), "names the signer: {e}");
    assert!(e.contains(&other_fp), "names the keyring's keys: {e}");
    assert!(e.contains("not in the keyring"), "{e}");
    assert!(
        e.contains(&format!("keyring = {}", other_ring.display())),
        "{e}"
    );
    // Signed by another key, read with the archive's keyring: the same.
    repo.sign_with(&other);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(
        e.contains(&other_fp) && e.contains("not in the keyring"),
        "{e}"
    );
}

#[test]
fn unsigned_release() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let server = repo.serve();
    server.status("/dists/bookworm/InRelease", 404);
    server.status("/dists/bookworm/Release.gpg", 404);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(
        e.contains("no signature") && e.contains("Release.gpg"),
        "{e}"
    );
    assert_eq!(
        server.count("/dists/bookworm/main/binary-amd64/Packages.xz"),
        0
    );
    // No Release at all.
    server.status("/dists/bookworm/Release", 404);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("neither") && e.contains("suite"), "{e}");
}

#[test]
fn inrelease_text_outside_the_signed_part_is_refused() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let server = repo.serve();
    let inrel = std::fs::read_to_string(repo.release_dir().join("InRelease")).unwrap();
    let evil = "\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 1 main/binary-amd64/Packages\n";
    for (bytes, why) in [
        (format!("{inrel}{evil}"), "after the signature"),
        (
            format!("Suite: evil{evil}\n{inrel}"),
            "before the signed block",
        ),
    ] {
        server.replace("/dists/bookworm/InRelease", bytes.into_bytes());
        let e = open_err(&repo, &server, &repo.keyring);
        assert!(e.contains(why), "{e}");
    }
    // A changed byte inside the signed text: the signature no longer verifies.
    let changed = inrel.replacen("Label: ironhull-test", "Label: ironhull-tesT", 1);
    assert_ne!(changed, inrel);
    server.replace("/dists/bookworm/InRelease", changed.into_bytes());
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("does not verify"), "{e}");
    assert_eq!(
        server.count("/dists/bookworm/main/binary-amd64/Packages.xz"),
        0
    );
}

#[test]
fn sha1_signatures_are_refused() {
    let Some(repo) = small_repo(DebRepoOptions {
        digest_algo: Some("SHA1".to_string()),
        ..DebRepoOptions::default()
    }) else {
        return;
    };
    let inrel = std::fs::read_to_string(repo.release_dir().join("InRelease")).unwrap();
    assert!(
        inrel.contains("Hash: SHA1"),
        "gpg made a SHA-1 signature: {inrel}"
    );
    let server = repo.serve();
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("Sha1") && e.contains("too weak"), "{e}");
    // The detached path too.
    server.status("/dists/bookworm/InRelease", 404);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("Release.gpg") && e.contains("too weak"), "{e}");
}

#[test]
fn expired_valid_until_is_refused_when_resolving_only() {
    let Some(repo) = small_repo(DebRepoOptions {
        valid_until: Some("Sat, 01 Jan 2022 00:00:00 UTC".to_string()),
        ..DebRepoOptions::default()
    }) else {
        return;
    };
    let server = repo.serve();
    // Reading works (a lock build from a snapshot is legitimate) ...
    let index = open(&repo, &server).expect("an expired Release still reads");
    assert_eq!(index.release.valid_until, Some(1640995200));
    // ... resolving refuses it.
    let e = check_fresh(&index, now()).unwrap_err().to_string();
    assert!(
        e.contains("Valid-Until 2022-01-01 00:00:00 UTC has passed"),
        "{e}"
    );
    assert!(e.contains(&server.url()) && e.contains("InRelease"), "{e}");
    assert!(check_fresh(&index, 1640995200).is_ok());
}

#[test]
fn hostile_filename_is_refused() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let dir = repo.release_dir().join("main/binary-amd64");
    let text = std::fs::read_to_string(dir.join("Packages")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Filename: "))
        .unwrap()
        .to_string();
    let bad = text.replacen(&line, "Filename: ../../etc/passwd", 1);
    repo.write_packages(&dir, bad.as_bytes());
    repo.resign();
    let server = repo.serve();
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(
        e.contains("field Filename") && e.contains("../../etc/passwd"),
        "{e}"
    );
    assert!(e.contains("main/binary-amd64/Packages.xz line"), "{e}");
}

#[test]
fn truncated_download_is_an_error() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let server = repo.serve();
    server.truncate("/dists/bookworm/main/binary-amd64/Packages.xz", 100);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(
        e.contains("Packages.xz") && e.contains("closed the connection early"),
        "{e}"
    );
    assert!(e.contains("retry"), "{e}");
    server.clear_overrides();
    server.truncate("/dists/bookworm/InRelease", 200);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("InRelease") && e.contains("early"), "{e}");
}

#[test]
fn redirects_are_followed_but_not_to_other_schemes() {
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let server = repo.serve();
    let real = std::fs::read(repo.release_dir().join("main/binary-amd64/Packages.xz")).unwrap();
    std::fs::write(repo.root.join("moved.xz"), &real).unwrap();
    server.redirect("/dists/bookworm/main/binary-amd64/Packages.xz", "/moved.xz");
    let index = open(&repo, &server).expect("a redirect is followed");
    assert_lists_every_deb(&repo, &index);
    assert_eq!(server.count("/moved.xz"), 1);
    server.redirect(
        "/dists/bookworm/main/binary-amd64/Packages.xz",
        "file:///etc/passwd",
    );
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(
        e.contains("file:///etc/passwd") && e.contains("only http"),
        "{e}"
    );
    server.status("/dists/bookworm/main/binary-amd64/Packages.xz", 500);
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("HTTP 500") && e.contains("Packages.xz"), "{e}");
}

/// apt itself accepts the archive: `apt-get update` with only our keyring,
/// then `apt-cache show` agrees with what we read.
#[test]
fn apt_accepts_the_same_archive() {
    let Some(_apt) = common::require_tool("apt-get") else {
        return;
    };
    let Some(repo) = small_repo(DebRepoOptions::default()) else {
        return;
    };
    let server = repo.serve();
    let index = open(&repo, &server).expect("open");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    for d in [
        "state/lists/partial",
        "cache/archives/partial",
        "parts",
        "prefs",
    ] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    std::fs::write(t.join("status"), "").unwrap();
    std::fs::write(
        t.join("sources.list"),
        format!(
            "deb [arch=amd64 signed-by={}] {}/ bookworm main\n",
            repo.keyring.display(),
            server.url()
        ),
    )
    .unwrap();
    let apt = |tool: &str, args: &[&str]| {
        let mut c = Command::new(tool);
        let o = |k: &str, v: &Path| format!("{k}={}", v.display());
        c.arg("-o")
            .arg(o("Dir::Etc::sourcelist", &t.join("sources.list")))
            .arg("-o")
            .arg(o("Dir::Etc::sourceparts", &t.join("parts")))
            .arg("-o")
            .arg(o("Dir::Etc::preferencesparts", &t.join("prefs")))
            .arg("-o")
            .arg(o("Dir::State", &t.join("state")))
            .arg("-o")
            .arg(o("Dir::State::status", &t.join("status")))
            .arg("-o")
            .arg(o("Dir::Cache", &t.join("cache")))
            .arg("-o")
            .arg(o("Dir::Etc::trusted", &repo.keyring))
            .arg("-o")
            .arg(o("Dir::Etc::trustedparts", &t.join("parts")))
            .args([
                "-o",
                "APT::Sandbox::User=root",
                "-o",
                "Debug::NoLocking=1",
                "-o",
                "APT::Architecture=amd64",
                "-o",
                "APT::Architectures=amd64",
            ])
            .args(args);
        common::run(c)
    };
    let up = apt("apt-get", &["update"]);
    up.assert_success();
    assert!(
        !up.stderr.contains("W:") && !up.stderr.contains("E:"),
        "apt warned: {}",
        up.stderr
    );
    for r in &index.records {
        // apt names `all` packages by the native architecture.
        let arch = if r.architecture == "all" {
            "amd64"
        } else {
            &r.architecture
        };
        let show = apt("apt-cache", &["show", &format!("{}:{arch}", r.package)]);
        show.assert_success();
        assert!(
            show.stdout
                .contains(&format!("Version: {}\n", r.version.as_str())),
            "{}",
            show.stdout
        );
        assert!(
            show.stdout.contains(&format!("SHA256: {}\n", r.sha256)),
            "{}",
            show.stdout
        );
        assert!(
            show.stdout.contains(&format!("Filename: {}\n", r.filename)),
            "{}",
            show.stdout
        );
    }
    // And apt refuses what we refuse: the archive signed by another key.
    let other = t.join("gnupg");
    debrepo::gen_key(&other, "not-the-archive");
    repo.sign_with(&other);
    std::fs::remove_dir_all(t.join("state/lists")).unwrap();
    std::fs::create_dir_all(t.join("state/lists/partial")).unwrap();
    let up = apt("apt-get", &["update"]);
    assert!(
        up.stderr.contains("NO_PUBKEY") || up.stderr.contains("not signed"),
        "apt accepted a wrong key: {}",
        up.stderr
    );
    let e = open_err(&repo, &server, &repo.keyring);
    assert!(e.contains("not in the keyring"), "{e}");
}

/// The real Debian archive keyring verifies the real bookworm InRelease
/// apt downloaded on this machine (RSA-4096 keys, several signatures, some
/// by keys not in the keyring).
#[test]
fn real_debian_inrelease_verifies() {
    let ring = PathBuf::from("/usr/share/keyrings/debian-archive-keyring.gpg");
    let lists = PathBuf::from("/var/lib/apt/lists");
    let inrel = std::fs::read_dir(&lists).ok().and_then(|rd| {
        rd.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.ends_with("_dists_bookworm_InRelease"))
        })
    });
    let (true, Some(inrel)) = (ring.is_file(), inrel) else {
        common::skip_or_fail("no Debian archive keyring or bookworm InRelease (apt-get update)");
        return;
    };
    let keyring = Keyring::load(&ring).expect("load Debian's keyring");
    let bytes = std::fs::read(&inrel).unwrap();
    // The signatures were valid when apt fetched it: check at its Date.
    let v = keyring
        .verify_cleartext(&bytes, timestamp(now()))
        .expect("verify Debian's InRelease");
    assert!(keyring.fingerprints().contains(&v.signer));
    let rel = ironhull::packages::deb::release::parse(&v.text).expect("parse");
    assert_eq!(rel.codename.as_deref(), Some("bookworm"));
    assert!(rel.sha256.contains_key("main/binary-amd64/Packages.xz"));
    // One flipped letter in the signed text and it fails.
    let text =
        String::from_utf8(bytes)
            .unwrap()
            .replacen("Codename: bookworm", "Codename: bookwarm", 1);
    assert!(
        keyring
            .verify_cleartext(text.as_bytes(), timestamp(now()))
            .is_err()
    );
}

/// Signs the small archive with a fresh key made by `make` in a temp
/// GNUPGHOME, and returns the archive, the temp dir, that key's exported
/// keyring and its fingerprint.
fn signed_by(
    make: impl FnOnce(&Path) -> String,
    sign_args: &[&str],
) -> Option<(DebRepo, tempfile::TempDir, PathBuf, String)> {
    let repo = small_repo(DebRepoOptions::default())?;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("gnupg");
    let fp = make(&home);
    repo.sign_with_args(&home, sign_args);
    let ring = tmp.path().join("keyring.gpg");
    debrepo::export_key(&home, &ring, false);
    Some((repo, tmp, ring, fp))
}

#[test]
fn expired_key_is_refused() {
    // Made on 2020-01-01, valid one year; the Release signed on 2020-06-01.
    let Some((repo, _tmp, ring, fp)) = signed_by(
        |h| debrepo::gen_key_opts(h, "expired", "sign", "1y", Some("20200101T000000")),
        &["--faked-system-time", "20200601T000000"],
    ) else {
        return;
    };
    let server = repo.serve();
    let e = open_err(&repo, &server, &ring);
    assert!(e.contains(&fp) && e.contains("has expired"), "{e}");
    // The same files at a time the key was valid: accepted.
    let s = spec(&repo, &server.url(), &ring);
    let june_2020 = 1590969600 + 86400;
    let index = open_repository(&s, &HttpFetch::new(), june_2020).expect("valid in June 2020");
    assert_eq!(index.signer, fp);
}

#[test]
fn revoked_key_is_refused() {
    let Some((repo, tmp, _, fp)) = signed_by(|h| debrepo::gen_key(h, "revoked"), &[]) else {
        return;
    };
    let home = tmp.path().join("gnupg");
    debrepo::revoke(&home, &fp);
    let ring = tmp.path().join("revoked.gpg");
    debrepo::export_key(&home, &ring, false);
    let server = repo.serve();
    let e = open_err(&repo, &server, &ring);
    assert!(e.contains(&fp) && e.contains("revoked"), "{e}");
}

#[test]
fn signing_subkey_is_accepted() {
    let Some((repo, _tmp, ring, fp)) = signed_by(
        |h| {
            let fp = debrepo::gen_key_opts(h, "subkeyed", "cert", "never", None);
            debrepo::add_signing_subkey(h, &fp);
            fp
        },
        &[],
    ) else {
        return;
    };
    let server = repo.serve();
    let index = open_repository(&spec(&repo, &server.url(), &ring), &HttpFetch::new(), now())
        .expect("a signature by the signing subkey counts");
    assert_eq!(index.signer, fp, "reported as the primary key");
    assert_lists_every_deb(&repo, &index);
}

/// A two-architecture archive: reading it for arm64 gives the arm64 debs
/// and the `all` ones, never the amd64 ones.
#[test]
fn arm64_index_of_a_two_architecture_archive() {
    let Some(()) = debrepo::require_tools() else {
        return;
    };
    let Some(amd64) = debrepo::test_debs("amd64") else {
        return;
    };
    let Some(arm64) = debrepo::test_debs("arm64") else {
        return;
    };
    let mut debs = debrepo::pick(&amd64, &["libc6", "tzdata"]);
    debs.extend(debrepo::all_debs(&arm64));
    let repo = DebRepo::build(&debs, DebRepoOptions::default());
    assert_eq!(repo.archs, ["amd64", "arm64"]);
    let server = repo.serve();
    let mut s = spec(&repo, &server.url(), &repo.keyring);
    s.arch = "arm64".to_string();
    let index = open_repository(&s, &HttpFetch::new(), now()).expect("open for arm64");
    assert_eq!(index.indexes[0].0, "main/binary-arm64/Packages.xz");
    let mut got: Vec<_> = index
        .records
        .iter()
        .map(|r| (r.package.as_str(), r.architecture.as_str()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("gcc-12-base", "arm64"),
            ("libc6", "arm64"),
            ("libgcc-s1", "arm64"),
            ("tzdata", "all")
        ]
    );
    assert_eq!(
        server.count("/dists/bookworm/main/binary-amd64/Packages.xz"),
        0
    );
}
