//! apk repositories end to end against the real witness: a signed
//! `APKINDEX.tar.gz` (openssl signatures, RSA and RSA256 kinds) served over
//! HTTP on 127.0.0.1 is read by ironhull's repository reader, and the same
//! directory by the fixture's real apk 2.14 (`apk add --simulate`,
//! offline). Both must accept the good index and both must refuse one
//! signed by another key, one with a tampered byte, a truncated one, and
//! one with no signature.

#[path = "common/apk.rs"]
mod apk;
mod common;
#[path = "common/http_files.rs"]
mod http_files;

use apk::{AlpineChroot, ApkTestKey, SigKind};
use ironhull::packages::apk::keys::ApkKeyring;
use ironhull::packages::apk::repo::{ApkIndex, ApkRepoSpec, open_repository};
use ironhull::packages::apk::repo_error::ApkRepoError;
use ironhull::packages::fetch::HttpFetch;
use std::path::Path;

fn index_text() -> String {
    format!(
        "{}{}",
        apk::stanza("hello", "1.0-r0", "D:world\n"),
        apk::stanza("world", "2.0-r0", "p:cmd:world=2.0-r0\n")
    )
}

fn open(dir: &Path, keys: &Path) -> Result<ApkIndex, Box<ApkRepoError>> {
    let server = http_files::FileServer::start(dir);
    let spec = ApkRepoSpec {
        url: server.url(),
        arch: "x86_64".into(),
        keyring: ApkKeyring::load(keys).unwrap(),
        position: 0,
    };
    open_repository(&spec, &HttpFetch::new()).map_err(Box::new)
}

/// Whether the real apk trusts and reads the repository: it must plan to
/// install `hello` and `world`, and say nothing about signatures.
fn apk_accepts(chroot: &AlpineChroot, dir: &Path, keys: &Path) -> (bool, String) {
    let r = chroot.simulate_add(dir, keys, "", "", &["hello"]);
    let planned = apk::simulated_installs(&r.stdout);
    let ok = r.success() && planned.len() == 2 && !r.stderr.to_lowercase().contains("signature");
    (ok, r.describe())
}

#[test]
fn a_signed_index_is_read_by_ironhull_and_apk_alike() {
    let Some(key) = ApkTestKey::generate("ironhull-test") else {
        return;
    };
    let chroot = AlpineChroot::new();
    for kind in [SigKind::Rsa, SigKind::Rsa256] {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        let bytes = apk::write_signed_index(&repo, "x86_64", &index_text(), &key, kind);
        let keys = key.keys_dir(tmp.path());
        let idx = open(&repo, &keys).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(idx.signer, key.name);
        assert_eq!(idx.file, "x86_64/APKINDEX.tar.gz");
        assert_eq!(
            idx.sha256,
            common::digest_file(repo.join(&idx.file)).trim_start_matches("sha256:")
        );
        assert!(!bytes.is_empty());
        let names: Vec<String> = idx.records.iter().map(|r| r.key()).collect();
        assert_eq!(names, ["hello=1.0-r0/x86_64", "world=2.0-r0/x86_64"]);
        assert!(idx.records[0].checksum_text().starts_with("Q1"));
        assert_ne!(idx.records[0].checksum, idx.records[1].checksum);
        if let Some(c) = &chroot {
            let (ok, why) = apk_accepts(c, &repo, &keys);
            assert!(
                ok,
                "{kind:?}: the real apk refuses what ironhull accepted: {why}"
            );
        }
    }
}

#[test]
fn bad_indexes_are_refused_by_both() {
    let (Some(key), Some(other)) = (
        ApkTestKey::generate("ironhull-test"),
        ApkTestKey::generate("ironhull-other"),
    ) else {
        return;
    };
    let chroot = AlpineChroot::new();
    let body = apk::signed_part(&index_text());
    let good = {
        let mut b = key.signature_segment(&body, SigKind::Rsa);
        b.extend(&body);
        b
    };
    let sig_len = good.len() - body.len();
    // The same key name with another key's public half: the signature is
    // checked and fails.
    let impostor_keys = tempfile::tempdir().unwrap();
    std::fs::copy(&other.public, impostor_keys.path().join(&key.name)).unwrap();
    let mut tampered = good.clone();
    let at = sig_len + body.len() / 2;
    tampered[at] ^= 0x01;
    let truncated = good[..good.len() - 7].to_vec();
    let cases: Vec<(&str, Vec<u8>, Option<&Path>, &str)> = vec![
        (
            "signed by a key the keyring lacks",
            good.clone(),
            Some(other.public.parent().unwrap()),
            "no signature by a trusted key",
        ),
        (
            "a different key under the same name",
            good.clone(),
            Some(impostor_keys.path()),
            "does not verify",
        ),
        ("a tampered byte", tampered, None, ""),
        ("truncated", truncated, None, "gzip member 1"),
        ("no signature", body.clone(), None, "not signed"),
    ];
    for (what, bytes, keys, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        apk::write_index_file(&repo, "x86_64", &bytes);
        let own_keys = key.keys_dir(tmp.path());
        let keys_dir = match keys {
            Some(k) => {
                // A directory of only *.rsa.pub files from `k`.
                let d = tmp.path().join("other-keys");
                std::fs::create_dir_all(&d).unwrap();
                for e in std::fs::read_dir(k).unwrap() {
                    let e = e.unwrap();
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.ends_with(".rsa.pub") {
                        std::fs::copy(e.path(), d.join(n)).unwrap();
                    }
                }
                d
            }
            None => own_keys,
        };
        let e = open(&repo, &keys_dir)
            .err()
            .unwrap_or_else(|| panic!("{what}: ironhull accepted it"));
        let msg = e.to_string();
        assert!(msg.contains(want), "{what}: {msg}");
        assert!(
            msg.contains("x86_64/APKINDEX.tar.gz") && msg.contains("http://127.0.0.1"),
            "{what}: {msg}"
        );
        if what == "signed by a key the keyring lacks" {
            assert!(
                msg.contains(&key.name) && msg.contains(&other.name),
                "{what}: {msg}"
            );
        }
        if let Some(c) = &chroot {
            let (ok, why) = apk_accepts(c, &repo, &keys_dir);
            assert!(
                !ok,
                "{what}: ironhull refuses it but the real apk accepts it: {why}"
            );
        }
    }
}
