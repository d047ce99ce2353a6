//! A hard link is a second name of an inode. When a later layer replaces or
//! deletes the link's target, a runtime keeps the old inode under the link's
//! name: its bytes, mode, owner and capabilities. An attacker uses that to
//! hide a setuid helper, a file capability, a shell or an account file
//! behind an innocent name, while the name the file was judged under now
//! holds something harmless.
//!
//! Each test first asks umoci (Go's `archive/tar`, as every runtime) what the
//! container gets, so the attack is real, then checks that `audit` reports
//! the old file at the link's name and that `build` ships none of it.

mod common;
#[path = "common/images.rs"]
mod images;

use common::*;
use images::{ImageDef, TarEntry, dir, file, hardlink, skeleton, whiteout};
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `cap_setuid+ep` as a `security.capability` value (vfs_cap_data rev 2).
fn cap_setuid_ep() -> Vec<u8> {
    let mut v = Vec::new();
    for w in [0x0200_0001u32, 1 << 7, 0, 0, 0] {
        v.extend_from_slice(&w.to_le_bytes());
    }
    v
}

const EVIL_PASSWD: &str =
    "root:x:0:0:root:/root:/sbin/nologin\napp:x:0:0:app:/home/app:/sbin/nologin\n";
/// Valid as passwd and as group: `sudo:x:27:app` is the sudo group with
/// member app (and, read as passwd, a harmless account).
const PASSWD_AND_GROUP: &str = "root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001::/home/app:/sbin/nologin\nsudo:x:27:app\n";
const GOOD_PASSWD: &str =
    "root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001:app:/home/app:/sbin/nologin\n";

/// A hard link with the same header as its target (the reader refuses a
/// link whose mode, owner or xattrs differ: runtimes disagree on those).
fn link_like(path: &str, target: &TarEntry) -> TarEntry {
    let mut l = hardlink(path, &target.path);
    l.mode = target.mode;
    l.uid = target.uid;
    l.gid = target.gid;
    l.xattrs = target.xattrs.clone();
    l
}

/// Layer 0 holds the dangerous files and innocent-looking links to them;
/// layer 1 replaces (or deletes) every name the files were first seen under.
fn crafted(work: &Path, dash: &[u8], passwd_link: bool) -> images::Written {
    let helper = file(
        "usr/lib/helper",
        0o4755,
        b"\x7fELF stand-in: setuid(0) helper",
    );
    let capped = file("usr/lib/capped", 0o755, b"\x7fELF stand-in: capped")
        .xattr("security.capability", &cap_setuid_ep());
    let accounts = file("etc/accounts.db", 0o644, EVIL_PASSWD);
    let shell = file("opt/x/t", 0o755, dash);
    let mut lower = skeleton();
    lower.extend([
        dir("usr/lib", 0o755),
        dir("opt", 0o755),
        dir("opt/x", 0o755),
    ]);
    if !passwd_link {
        // /etc/group is another name of the lower /etc/passwd, whose lines
        // also read as a group file that puts app in sudo; the upper layer
        // replaces /etc/passwd only.
        let passwd = file("etc/passwd", 0o644, PASSWD_AND_GROUP);
        let group = link_like("etc/group", &passwd);
        lower.push(passwd);
        lower.push(group);
    } else {
        lower.push(file("etc/group", 0o644, "root:x:0:\napp:x:10001:\n"));
    }
    for (f, l) in [
        (&helper, "app/tool"),
        (&capped, "app/capped"),
        (
            &accounts,
            if passwd_link {
                "etc/passwd"
            } else {
                "etc/passwd-"
            },
        ),
        (&shell, "usr/bin/tool"),
    ] {
        let link = link_like(l, f);
        lower.push(f.clone());
        lower.push(link);
    }
    let mut upper = vec![
        file("usr/lib/helper", 0o755, b"harmless"),
        file("usr/lib/capped", 0o755, b"harmless"),
        file("etc/accounts.db", 0o644, GOOD_PASSWD),
        whiteout("opt/x/t"),
    ];
    if !passwd_link {
        upper.push(file("etc/passwd", 0o644, GOOD_PASSWD));
    }
    ImageDef::new(json!({"User": "app", "Entrypoint": ["/app/tool"]}))
        .layer(lower)
        .layer(upper)
        .write_layout(&work.join(format!("base-{passwd_link}")), "crafted")
}

fn audit(reference: &str, cache: &Path) -> Value {
    audit_report(reference, "critical", cache).1
}

/// (id, path) of every finding.
fn findings(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn dash_bytes() -> Option<Vec<u8>> {
    match ["/usr/bin/dash", "/bin/dash"]
        .iter()
        .find_map(|p| fs::read(p).ok())
    {
        Some(b) => Some(b),
        None => {
            skip_or_fail("dash is not installed: no real shell to hide");
            None
        }
    }
}

#[test]
fn a_link_keeps_the_old_file_when_a_later_layer_replaces_its_target() {
    let Some(dash) = dash_bytes() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    for passwd_link in [true, false] {
        let base = crafted(work.path(), &dash, passwd_link);
        // What the runtime really builds (umoci unpacks with Go's archive/tar).
        if require_tool("umoci").is_some() {
            let bundle = work.path().join(format!("bundle-{passwd_link}"));
            umoci_unpack(&base.layout, "crafted", &bundle);
            let root = bundle.join("rootfs");
            let mode = fs::metadata(root.join("app/tool"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o4000, 0o4000, "the runtime keeps the setuid inode");
            assert_eq!(fs::read(root.join("usr/lib/helper")).unwrap(), b"harmless");
            assert_eq!(fs::read(root.join("usr/bin/tool")).unwrap(), dash);
            assert!(!root.join("opt/x/t").exists());
            if passwd_link {
                let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
                assert!(passwd.contains("app:x:0:0"), "the runtime keeps {passwd:?}");
            } else {
                let group = fs::read_to_string(root.join("etc/group")).unwrap();
                assert!(
                    group.contains("sudo:x:27:app"),
                    "the runtime keeps {group:?}"
                );
            }
        }

        // audit sees the same container.
        let report = audit(&base.reference(), &work.path().join("cache"));
        let found = findings(&report);
        let accounts = if passwd_link {
            // A hard link to a file ironhull does not read: maybe uid 0.
            ("USR-001", "/etc/passwd")
        } else {
            // The old passwd, under the name /etc/group: app is in sudo.
            ("USR-006", "/etc/group")
        };
        for (id, path) in [
            ("FS-002", "/app/tool"),
            ("FS-004", "/app/capped"),
            ("SH-001", "/usr/bin/tool"),
            accounts,
        ] {
            assert!(
                found.contains(&(id.to_string(), path.to_string())),
                "{id} at {path} missing from {found:?}"
            );
        }
    }
    let base = crafted(work.path(), &dash, true);

    if build_hello_static(&work.path().join("build")).is_none() {
        return;
    }
    let spec = |base: &images::Written| {
        let spec = work.path().join("builder.toml");
        fs::write(
            &spec,
            format!(
                "[image]\nname = \"hl\"\ntags = [\"1\"]\n[base]\nimage = \"{}\"\n[user]\nuid = 10001\nname = \"app\"\n\
                 [[artifacts]]\nsrc = \"build/hello\"\ndest = \"/app/hello\"\n[config]\nentrypoint = [\"/app/hello\"]\n",
                base.reference()
            ),
        )
        .unwrap();
        spec
    };
    let out = work.path().join("out");
    let build = |spec: &Path| {
        run(ironhull_build(
            spec,
            &work.path().join("cache"),
            &["-o", &format!("oci:{}:1", out.display())],
        ))
    };

    // A base whose accounts hide behind a link it cannot read is refused,
    // with the path and the reason, and nothing is written.
    let r = build(&spec(&base));
    assert_eq!(r.code(), Some(2), "{}", r.describe());
    assert!(
        r.stderr.contains("/etc/passwd") && r.stderr.contains("hard link"),
        "{}",
        r.describe()
    );
    assert!(!out.exists());

    // With plain account files the build ships none of the rest, and the
    // result audits clean.
    let base = crafted(work.path(), &dash, false);
    let r = build(&spec(&base));
    r.assert_success();
    let built = audit(
        &format!("oci:{}:1", out.display()),
        &work.path().join("cache"),
    );
    let bad: Vec<_> = findings(&built)
        .into_iter()
        .filter(|(id, _)| ["FS-002", "FS-004", "SH-001", "USR-001"].contains(&id.as_str()))
        .collect();
    assert!(bad.is_empty(), "the built image still has {bad:?}");
    if require_tool("umoci").is_none() {
        return;
    }
    let bundle = work.path().join("built");
    umoci_unpack(&out, "1", &bundle);
    let root = bundle.join("rootfs");
    for p in ["app/tool", "app/capped", "usr/bin/tool"] {
        if let Ok(m) = fs::symlink_metadata(root.join(p)) {
            assert_eq!(m.permissions().mode() & 0o6000, 0, "{p} is still setuid");
            assert_ne!(fs::read(root.join(p)).unwrap(), dash, "{p} is still dash");
        }
    }
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(!passwd.contains("app:x:0:"), "{passwd}");
    let r = runc_run(&bundle, None);
    assert!(r.success(), "{}", r.describe());
    assert!(r.stdout.contains("uid=10001"), "{}", r.describe());
}

#[test]
fn a_link_whose_header_differs_from_its_target_is_refused() {
    // podman chmods the shared inode to the link header's mode, containerd
    // does not: a setuid bit only one runtime sets.
    let work = tempfile::tempdir().unwrap();
    let target = file("app/plain", 0o755, b"\x7fELF plain");
    let mut link = link_like("app/alias", &target);
    link.mode = 0o4755;
    let mut layer = skeleton();
    layer.extend([target, link]);
    let base = ImageDef::new(json!({"User": "app"}))
        .layer(layer)
        .write_layout(&work.path().join("base"), "b");
    let mut cmd = ironhull();
    cmd.arg("audit")
        .arg(base.reference())
        .arg("--cache-dir")
        .arg(work.path().join("cache"));
    let r = run(cmd);
    assert_eq!(r.code(), Some(2), "{}", r.describe());
    assert!(
        r.stderr.contains("app/alias") && r.stderr.contains("mode 4755"),
        "the error names the entry and the difference:\n{}",
        r.describe()
    );
}
