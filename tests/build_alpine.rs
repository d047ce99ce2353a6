//! End to end on a REAL distribution base: the hello program built on the
//! official Alpine minirootfs (`rootfs:` base), which ships busybox (a shell),
//! apk (a package manager) and a root account with `/bin/sh`.
//!
//! Proves, with tools that know nothing about ironhull (umoci, runc) and by
//! reading every layer blob byte by byte, that hardening removed the shell and
//! the package manager for real (not just whited out), kept the package
//! database truthful, and still produced an image that runs as non-root.
//!
//! The build is slow in debug mode, so it happens ONCE per test process
//! (`alpine()`), and the unpacked bundle is shared too (`unpacked()`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

const TAG: &str = "1.0.0";
const UID: u32 = 10001;

/// Paths hardening must remove from the Alpine base.
const FORBIDDEN: &[&str] = &["/bin/sh", "/bin/busybox", "/sbin/apk", "/bin/ash"];

/// A string found in the busybox binary (its version banner). If these bytes
/// are in any layer, busybox shipped, whatever the tar entry is called.
const BUSYBOX_BANNER: &[u8] = b"BusyBox v1.";

/// One shared build on the Alpine base.
struct Alpine {
    layout: PathBuf,
    /// The `--json` success object.
    json: serde_json::Value,
    digest: String,
}

/// Where the shared build lives: under Cargo's per-target scratch dir so it
/// survives across the tests of this process and is removed by `cargo clean`.
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("build_alpine-{}", std::process::id()))
}

/// Builds once per process; `None` (after a SKIP line) when the fixture or a
/// C compiler is missing. Panics in CI in that case (see `common`).
fn alpine() -> Option<&'static Alpine> {
    static CELL: OnceLock<Option<Alpine>> = OnceLock::new();
    CELL.get_or_init(|| {
        let base = alpine_rootfs("x86_64")?;
        let dir = scratch();
        // Remove leftovers of earlier runs (this process's dir included).
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for e in fs::read_dir(parent).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with("build_alpine-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        let project = dir.join("project");
        build_hello_static(&project.join("build"))?;
        let spec = project.join("builder.toml");
        fs::write(
            &spec,
            format!(
                r#"[image]
name = "hello-alpine"
tags = ["{TAG}"]

[base]
image = "rootfs:{}"

[user]
uid = {UID}

[[artifacts]]
src = "build/hello"
dest = "/app/hello"
mode = 0o555

[config]
entrypoint = ["/app/hello"]
"#,
                base.display()
            ),
        )
        .expect("write builder.toml");
        let layout = dir.join("layout");
        let out = format!("oci:{}:{TAG}", layout.display());
        let r = run(ironhull_build(
            &spec,
            &dir.join("cache"),
            &["--json", "-o", &out],
        ));
        r.assert_success();
        let json: serde_json::Value = serde_json::from_str(r.stdout.trim())
            .unwrap_or_else(|e| panic!("--json output is not JSON ({e}):\n{}", r.describe()));
        let digest = json["digest"].as_str().unwrap_or_default().to_string();
        assert!(digest.starts_with("sha256:"), "{}", r.describe());
        Some(Alpine {
            layout,
            json,
            digest,
        })
    })
    .as_ref()
}

/// `umoci unpack` of the shared build, once per process.
fn unpacked() -> Option<&'static PathBuf> {
    static CELL: OnceLock<Option<PathBuf>> = OnceLock::new();
    CELL.get_or_init(|| {
        require_tool("umoci")?;
        let a = alpine()?;
        let bundle = scratch().join("bundle");
        let _ = fs::remove_dir_all(&bundle);
        umoci_unpack(&a.layout, TAG, &bundle);
        Some(bundle)
    })
    .as_ref()
}

fn rootfs() -> Option<PathBuf> {
    unpacked().map(|b| b.join("rootfs"))
}

#[test]
fn alpine_image_runs_under_runc_as_non_root_and_has_no_shell() {
    if require_runc().is_none() {
        return;
    }
    let Some(bundle) = unpacked() else { return };
    // runc_run edits config.json of the bundle; this is the only test that
    // runs it, so the shared bundle is not raced.
    let r = runc_run(bundle, None);
    r.assert_success();
    assert_eq!(
        r.stdout,
        format!("hello from ironhull: uid={UID} gid={UID}\n"),
        "{}",
        r.describe()
    );
    assert!(r.stdout.contains("uid=10001"));

    let r = runc_run(bundle, Some(&["/bin/sh"]));
    assert!(
        !r.success(),
        "/bin/sh started inside the hardened alpine image:\n{}",
        r.describe()
    );
    assert!(
        !r.stdout.contains("hello from ironhull"),
        "{}",
        r.describe()
    );
}

#[test]
fn alpine_shell_and_package_manager_absent_from_unpacked_rootfs() {
    let Some(rootfs) = rootfs() else { return };
    // Sanity: the unpack worked and kept the real OS (musl) and our program.
    assert!(rootfs.join("app/hello").is_file());
    assert!(rootfs.join("lib/ld-musl-x86_64.so.1").exists());
    for p in FORBIDDEN {
        let host = rootfs.join(p.trim_start_matches('/'));
        // symlink_metadata: even a dangling symlink named /bin/sh is a failure.
        assert!(
            fs::symlink_metadata(&host).is_err(),
            "{p} is still present in the unpacked rootfs ({})",
            host.display()
        );
    }
    // No surviving symlink anywhere points at busybox.
    let mut stack = vec![rootfs.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let ft = e.file_type().expect("file_type");
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_symlink() {
                let t = fs::read_link(e.path()).expect("read_link");
                assert!(
                    !t.to_string_lossy().contains("busybox"),
                    "{} -> {} survived hardening",
                    e.path().display(),
                    t.display()
                );
            }
        }
    }
}

#[test]
fn alpine_removed_bytes_absent_from_every_layer_blob() {
    let Some(a) = alpine() else { return };
    // Sanity: the fixture itself contains busybox, so this test can fail.
    let fixture = alpine_rootfs("x86_64").expect("fixture");
    let original = layer_bytes(&fixture);
    assert!(contains_bytes(&original, BUSYBOX_BANNER));
    assert!(tar_paths(&original).iter().any(|p| p == "/bin/busybox"));

    let manifests = layout_manifests(&a.layout, &a.digest);
    assert!(!manifests.is_empty());
    let mut layers = 0;
    for m in &manifests {
        for l in m["layers"].as_array().expect("layers") {
            layers += 1;
            let d = l["digest"].as_str().expect("layer digest");
            let blob = layout_blob(&a.layout, d);
            assert_eq!(
                digest_file(&blob),
                d,
                "layer blob does not match its digest"
            );
            let bytes = layer_bytes(&blob);
            let paths = tar_paths(&bytes);
            for p in FORBIDDEN {
                assert!(
                    !paths.iter().any(|x| x == p),
                    "layer {d} still has a tar entry {p}"
                );
                // A whiteout would hide the file but still ship the bytes in a
                // lower layer: the removal must be a rewrite, not a whiteout.
                let (dir, name) = p.rsplit_once('/').expect("abs path");
                let wh = format!("{dir}/.wh.{name}");
                assert!(
                    !paths.contains(&wh),
                    "layer {d} hides {p} with a whiteout instead of removing it"
                );
            }
            assert!(
                !contains_bytes(&bytes, BUSYBOX_BANNER),
                "layer {d} still contains busybox bytes ({:?})",
                String::from_utf8_lossy(BUSYBOX_BANNER)
            );
        }
    }
    assert!(layers >= 2, "expected base + app layers, got {layers}");
}

/// The `P:` package names of an apk `installed` database.
fn apk_packages(db: &str) -> Vec<&str> {
    db.lines().filter_map(|l| l.strip_prefix("P:")).collect()
}

#[test]
fn alpine_apk_database_no_longer_lists_removed_packages() {
    let Some(rootfs) = rootfs() else { return };
    let db = fs::read_to_string(rootfs.join("lib/apk/db/installed"))
        .expect("the apk database must stay (rewritten), so scanners see musl etc.");
    let pkgs = apk_packages(&db);
    for gone in ["busybox", "busybox-binsh", "apk-tools", "ssl_client"] {
        assert!(!pkgs.contains(&gone), "apk db still lists {gone}: {pkgs:?}");
    }
    assert!(pkgs.contains(&"musl"), "apk db lost musl: {pkgs:?}");
    // Every remaining record still starts with its checksum line (the file is
    // a valid apk database, not a mangled one).
    for record in db.split("\n\n").filter(|r| !r.trim().is_empty()) {
        assert!(
            record.trim_start().starts_with("C:"),
            "malformed apk record: {record:?}"
        );
    }
}

#[test]
fn alpine_accounts_have_no_login_shell_and_user_exists() {
    let Some(rootfs) = rootfs() else { return };
    let passwd = fs::read_to_string(rootfs.join("etc/passwd")).expect("/etc/passwd");
    let mut saw_user = false;
    for line in passwd.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(':').collect();
        assert_eq!(fields.len(), 7, "malformed passwd line {line:?}");
        assert_eq!(
            fields[6], "/sbin/nologin",
            "account has a login shell: {line:?}"
        );
        if fields[2] == UID.to_string() {
            saw_user = true;
            assert_eq!(fields[3], UID.to_string(), "{line:?}");
        }
    }
    assert!(saw_user, "user {UID} missing from /etc/passwd:\n{passwd}");
    let group = fs::read_to_string(rootfs.join("etc/group")).expect("/etc/group");
    assert!(
        group.lines().any(|l| l.split(':').nth(2) == Some("10001")),
        "group {UID} missing:\n{group}"
    );
    if let Ok(shadow) = fs::read_to_string(rootfs.join("etc/shadow")) {
        for line in shadow.lines().filter(|l| !l.trim().is_empty()) {
            assert_ne!(
                line.split(':').nth(1),
                Some(""),
                "empty password in /etc/shadow: {line:?}"
            );
        }
    }
    // The user's home exists and is owned by the user.
    use std::os::unix::fs::MetadataExt;
    let home = fs::metadata(rootfs.join("home/app")).expect("home/app");
    assert!(home.is_dir());
    assert_eq!(home.uid(), UID);
}

#[test]
fn alpine_json_reports_dropped_packages_and_config_user() {
    let Some(a) = alpine() else { return };
    let dropped: Vec<&str> = a.json["hardening"]["droppedPackages"]
        .as_array()
        .expect("hardening.droppedPackages array")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for p in ["busybox", "busybox-binsh", "apk-tools", "ssl_client"] {
        assert!(
            dropped.contains(&p),
            "{p} not in droppedPackages {dropped:?}"
        );
    }
    let changes = a.json["hardening"]["changes"]
        .as_array()
        .expect("hardening.changes");
    for p in ["/bin/sh", "/bin/busybox", "/sbin/apk"] {
        let c = changes
            .iter()
            .find(|c| c["path"] == *p)
            .unwrap_or_else(|| panic!("no hardening change for {p}"));
        assert_eq!(c["what"], "removed", "{c}");
        assert!(
            !c["why"].as_str().unwrap_or_default().is_empty(),
            "change without a reason: {c}"
        );
    }
    let platforms = a.json["platforms"].as_array().expect("platforms");
    assert_eq!(platforms.len(), 1);
    assert_eq!(platforms[0]["platform"], "linux/amd64");
    assert!(platforms[0]["baseLayersRewritten"].as_u64() >= Some(1));
    // The printed digest is what the layout holds for the tag.
    assert_eq!(layout_tag_digest(&a.layout, TAG), a.digest);
    for m in layout_manifests(&a.layout, &a.digest) {
        let cfg = read_json(&layout_blob(
            &a.layout,
            m["config"]["digest"].as_str().expect("config digest"),
        ));
        assert_eq!(cfg["config"]["User"], "10001:10001");
        assert_eq!(
            cfg["config"]["Entrypoint"],
            serde_json::json!(["/app/hello"])
        );
    }
}
