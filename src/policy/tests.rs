//! Unit tests of the policy engine: every check fires alone, clean variants
//! stay clean, overrides and waivers apply.

use super::*;
use crate::digest::Digest;
use crate::fs::{CaptureSet, LayerEvent};
use crate::fs::{Entry, EntryKind, ImagePath};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn p(s: &str) -> ImagePath {
    ImagePath::parse(s).unwrap()
}

/// A tiny image: config + tree + annotations, clean by default.
struct Img {
    config: Value,
    tree: MergedTree,
    annotations: BTreeMap<String, String>,
    layer_findings: Vec<Finding>,
}

impl Img {
    fn clean() -> Self {
        let mut tree = MergedTree::with_capture(CaptureSet::standard());
        for d in ["app", "etc", "tmp", "usr", "usr/bin"] {
            tree.insert(0, Entry::new(p(d), EntryKind::Dir, 0o755));
        }
        tree.insert(0, Entry::new(p("tmp"), EntryKind::Dir, 0o1777));
        tree.insert(0, Entry::new(p("app/server"), EntryKind::File, 0o755));
        let mut img = Self {
            config: json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {
                    "User": "10001:10001",
                    "Env": ["PATH=/usr/bin", "LANG=C.UTF-8"],
                    "Entrypoint": ["/app/server"],
                    "Cmd": ["--port", "8080"],
                    "ExposedPorts": {"8080/tcp": {}},
                    "Healthcheck": {"Test": ["CMD", "/app/server", "--health"]},
                    "Labels": {"org.opencontainers.image.source": "https://example.com/app"},
                },
                "history": [{"created_by": "ironhull: artifacts"}],
            }),
            tree,
            annotations: BTreeMap::new(),
            layer_findings: Vec::new(),
        };
        img.file(
            "etc/passwd",
            0o644,
            b"app:x:10001:10001::/home/app:/sbin/nologin\n",
        );
        img.file("etc/group", 0o644, b"app:x:10001:\n");
        img.file("etc/shadow", 0o640, b"app:!::0:::::\n");
        img
    }

    fn file(&mut self, path: &str, mode: u32, content: &[u8]) -> &mut Self {
        let mut e = Entry::new(p(path), EntryKind::File, mode);
        e.size = content.len() as u64;
        self.tree
            .apply(0, &LayerEvent::Entry(e), &mut &content[..])
            .unwrap();
        self
    }

    fn link(&mut self, path: &str, target: &str) -> &mut Self {
        self.tree.insert(
            0,
            Entry::new(
                p(path),
                EntryKind::Symlink {
                    target: target.into(),
                },
                0o777,
            ),
        );
        self
    }

    fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.tree
            .insert(0, Entry::new(p(path), EntryKind::Dir, mode));
        self
    }

    fn cfg(&mut self, key: &str, v: Value) -> &mut Self {
        self.config["config"][key] = v;
        self
    }

    fn report(&self) -> Report {
        self.report_with(&Policy::default())
    }

    fn report_with(&self, policy: &Policy) -> Report {
        evaluate(
            &AuditInput {
                config: &self.config,
                tree: &self.tree,
                layer_findings: self.layer_findings.clone(),
                annotations: &self.annotations,
            },
            policy,
        )
    }

    fn ids(&self) -> BTreeSet<&'static str> {
        self.report().ids()
    }
}

pub(crate) fn set(ids: &[&'static str]) -> BTreeSet<&'static str> {
    ids.iter().copied().collect()
}

#[test]
fn clean_image_has_no_findings() {
    let r = Img::clean().report();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.max_severity(), None);
}

#[test]
fn each_check_triggers_alone() {
    type Mutate = fn(&mut Img);
    let cases: &[(&str, Mutate, &[&str])] = &[
        (
            "no user",
            |i| {
                i.cfg("User", json!(""));
            },
            &["USR-001"],
        ),
        (
            "uid 0 with group",
            |i| {
                i.cfg("User", json!("0:1000"));
            },
            &["USR-001"],
        ),
        (
            "name mapping to uid 0",
            |i| {
                i.file(
                    "etc/passwd",
                    0o644,
                    b"app:x:10001:10001::/:/sbin/nologin\ntoor:x:0:0::/:/sbin/nologin\n",
                );
                i.cfg("User", json!("toor"));
            },
            &["USR-001"],
        ),
        (
            "unknown user name",
            |i| {
                i.cfg("User", json!("ghost"));
            },
            &["USR-002"],
        ),
        (
            "empty password",
            |i| {
                i.file("etc/shadow", 0o640, b"app:::0:::::\n");
            },
            &["USR-003"],
        ),
        (
            "duplicate uid",
            |i| {
                i.file(
                    "etc/passwd",
                    0o644,
                    b"app:x:10001:10001::/:/sbin/nologin\ntwin:x:10001:10002::/:/sbin/nologin\n",
                );
            },
            &["USR-004"],
        ),
        (
            "duplicate gid",
            |i| {
                i.file("etc/group", 0o644, b"app:x:10001:\nother:x:10001:\n");
            },
            &["USR-004"],
        ),
        (
            "login shell",
            |i| {
                i.file(
                    "etc/passwd",
                    0o644,
                    b"app:x:10001:10001::/home/app:/bin/bash\n",
                );
            },
            &["USR-005"],
        ),
        (
            "empty shell field",
            |i| {
                i.file("etc/passwd", 0o644, b"app:x:10001:10001::/home/app:\n");
            },
            &["USR-005"],
        ),
        (
            "shell binary",
            |i| {
                i.file("usr/bin/bash", 0o755, b"\x7fELF");
            },
            &["SH-001"],
        ),
        (
            "busybox anywhere",
            |i| {
                i.dir("opt", 0o755).file("opt/busybox", 0o755, b"\x7fELF");
            },
            &["SH-001"],
        ),
        (
            "symlink to busybox applet",
            |i| {
                i.dir("opt", 0o755)
                    .file("opt/busybox", 0o755, b"\x7fELF")
                    .link("usr/bin/ls", "../../opt/busybox");
            },
            &["SH-001"],
        ),
        (
            "shell form entrypoint",
            |i| {
                i.file("usr/bin/sh", 0o755, b"\x7fELF");
                i.cfg("Entrypoint", json!(["/bin/sh", "-c", "/app/server"]));
            },
            &["SH-001", "SH-002"],
        ),
        (
            "string entrypoint",
            |i| {
                i.cfg("Entrypoint", json!("/app/server --port 1"));
            },
            &["SH-002"],
        ),
        (
            "missing argv0",
            |i| {
                i.cfg("Entrypoint", json!(["/app/missing"]));
            },
            &["SH-002"],
        ),
        (
            "argv0 not executable",
            |i| {
                i.file("app/server", 0o644, b"x");
            },
            &["SH-002"],
        ),
        (
            "bare argv0 not on PATH",
            |i| {
                i.cfg("Entrypoint", json!(["server"]));
            },
            &["SH-002"],
        ),
        (
            "package manager",
            |i| {
                i.file("usr/bin/pip3", 0o755, b"#!python");
            },
            &["PKG-001"],
        ),
        (
            "pip module",
            |i| {
                i.dir("usr/lib", 0o755)
                    .dir("usr/lib/python3.12", 0o755)
                    .dir("usr/lib/python3.12/site-packages", 0o755)
                    .dir("usr/lib/python3.12/site-packages/pip", 0o755);
            },
            &["PKG-001"],
        ),
        (
            "apt lists",
            |i| {
                i.dir("var", 0o755)
                    .dir("var/lib", 0o755)
                    .dir("var/lib/apt", 0o755)
                    .dir("var/lib/apt/lists", 0o755)
                    .file("var/lib/apt/lists/lock", 0o640, b"")
                    .file(
                        "var/lib/apt/lists/deb.debian.org_dists_Release",
                        0o644,
                        b"x",
                    );
            },
            &["PKG-002"],
        ),
        (
            "deb file",
            |i| {
                i.file("tmp/x.deb", 0o644, b"!<arch>");
            },
            &["PKG-002"],
        ),
        (
            "git dir",
            |i| {
                i.dir("app/.git", 0o755)
                    .file("app/.git/config", 0o644, b"[core]");
            },
            &["FS-001"],
        ),
        (
            "Dockerfile",
            |i| {
                i.file("app/Dockerfile", 0o644, b"FROM x");
            },
            &["FS-001"],
        ),
        (
            "setuid",
            |i| {
                i.file("usr/bin/su-exec", 0o4755, b"\x7fELF");
            },
            &["FS-002"],
        ),
        (
            "file capability",
            |i| {
                let mut e = Entry::new(p("app/ping"), EntryKind::File, 0o755);
                e.xattrs
                    .insert("security.capability".into(), vec![1, 0, 0, 2, 0x80]);
                i.tree.insert(0, e);
            },
            &["FS-004"],
        ),
        (
            "posix acl",
            |i| {
                let mut e = Entry::new(p("app/shared"), EntryKind::Dir, 0o755);
                e.xattrs
                    .insert("system.posix_acl_default".into(), vec![2, 0, 0, 0]);
                e.xattrs.insert("user.ok".into(), vec![1]);
                i.tree.insert(0, e);
            },
            &["FS-005"],
        ),
        (
            "user in a privileged group",
            |i| {
                i.file("etc/group", 0o644, b"app:x:10001:\nsudo:x:27:app\n");
            },
            &["USR-006"],
        ),
        (
            "primary group is shadow",
            |i| {
                i.cfg("User", json!("10001:42"));
                i.file("etc/group", 0o644, b"app:x:10001:\nshadow:x:42:\n");
            },
            &["USR-006"],
        ),
        (
            "world-writable file",
            |i| {
                i.file("app/data", 0o666, b"");
            },
            &["FS-003"],
        ),
        (
            "world-writable dir without sticky",
            |i| {
                i.dir("app/cache", 0o777);
            },
            &["FS-003"],
        ),
        (
            "secret file name",
            |i| {
                i.file("app/id_rsa", 0o600, b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n");
            },
            &["SEC-001"],
        ),
        (
            "secret env",
            |i| {
                i.cfg(
                    "Env",
                    json!(["PATH=/usr/bin", "DB_PASSWORD=hunter2hunter2"]),
                );
            },
            &["SEC-003"],
        ),
        (
            "secret in history",
            |i| {
                i.config["history"] =
                    json!([{"created_by": "/bin/sh -c #(nop) ENV API_TOKEN=abcdef123456"}]);
            },
            &["SEC-003"],
        ),
        (
            "token in label",
            |i| {
                i.cfg(
                    "Labels",
                    json!({"ci.note": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}),
                );
            },
            &["SEC-003"],
        ),
        (
            "no healthcheck",
            |i| {
                i.cfg("Healthcheck", json!({"Test": ["NONE"]}));
            },
            &["CFG-001"],
        ),
        (
            "proc volume",
            |i| {
                i.cfg("Volumes", json!({"/proc/sys": {}, "/data": {}}));
            },
            &["CFG-002"],
        ),
        (
            "ssh port",
            |i| {
                i.cfg("ExposedPorts", json!({"22/tcp": {}, "8080/tcp": {}}));
            },
            &["CFG-003"],
        ),
        (
            "base by tag",
            |i| {
                i.annotations.insert(
                    crate::image::annotation::BASE_NAME.into(),
                    "docker.io/library/alpine:3.20".into(),
                );
            },
            &["SRC-001"],
        ),
    ];
    let mut covered = BTreeSet::new();
    for (name, mutate, want) in cases {
        let mut img = Img::clean();
        mutate(&mut img);
        assert_eq!(
            img.ids(),
            set(want),
            "case {name:?}: {:#?}",
            img.report().findings
        );
        covered.extend(want.iter().copied());
    }
    // Every catalog check except the per-layer SEC-002/SEC-004 is exercised here.
    let all: BTreeSet<_> = catalog()
        .iter()
        .map(|c| c.id)
        .filter(|id| !matches!(*id, "SEC-002" | "SEC-004"))
        .collect();
    assert_eq!(covered, all);
}

#[test]
fn clean_variants_do_not_trigger() {
    let mut img = Img::clean();
    // Locked root with nologin, pinned base, sticky tmp, dangling sh link,
    // sh outside PATH, CA bundle, public key.
    img.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/sbin/nologin\nsync:x:5:0:sync:/sbin:/bin/sync\napp:x:10001:10001::/home/app:/sbin/nologin\n",
    )
    .file("etc/shadow", 0o640, b"root:*::0:::::\napp:!::0:::::\n")
    .dir("usr/share", 0o755)
    .file("usr/share/sh", 0o644, b"docs")
    .link("usr/bin/sh", "/usr/bin/busybox")
    .dir("etc/ssl", 0o755)
    .file("etc/ssl/cert.pem", 0o644, b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    .dir("var", 0o755)
    .dir("var/cache", 0o755)
    .dir("var/cache/apk", 0o755)
    .file("app/.gitignore", 0o644, b"target\n")
    .cfg("User", json!("app"))
    .cfg("Env", json!(["PATH=/usr/bin", "PASSWORD_FILE=/run/secrets/db"]))
    .cfg("Volumes", json!({"/data": {}}));
    img.annotations.insert(
        crate::image::annotation::BASE_NAME.into(),
        "docker.io/library/alpine@sha256:beefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeefbeef".into(),
    );
    let r = img.report();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn hostile_config_does_not_panic() {
    for cfg in [
        json!(null),
        json!([]),
        json!({"config": 3}),
        json!({"config": {"User": 0, "Env": [1, "=", "NOEQ"], "Entrypoint": [null], "Cmd": {}, "Volumes": [], "ExposedPorts": "22", "Labels": [1], "Healthcheck": "x"}, "history": [{"created_by": 7}, "x"]}),
    ] {
        let mut img = Img::clean();
        img.config = cfg;
        let r = img.report();
        assert!(r.ids().contains("USR-001"), "{:?}", r.ids());
    }
}

#[test]
fn policy_overrides_and_waivers_apply() {
    let mut img = Img::clean();
    img.cfg("Healthcheck", Value::Null);
    img.dir("app/.git", 0o755);
    let policy = Policy::parse(
        "[severity]\n\"CFG-001\" = \"medium\"\n[[allow]]\ncheck = \"FS-001\"\npath = \"/app/.git\"\nreason = \"needed\"\n",
        std::path::Path::new("p.toml"),
    )
    .unwrap();
    let r = img.report_with(&policy);
    assert_eq!(r.ids(), set(&["CFG-001"]));
    assert_eq!(r.findings[0].severity, Severity::Medium);
    assert_eq!(r.waived.len(), 1);
    assert!(r.fails(Severity::Medium));
}

#[test]
fn layer_secret_files_are_not_double_counted() {
    let mut img = Img::clean();
    img.file("app/.netrc", 0o600, b"machine x login y password z\n");
    let d = Digest::of(b"layer");
    img.layer_findings =
        vec![Finding::new("SEC-001", Some("/app/.netrc".into()), "from the layer").in_layer(&d)];
    let r = img.report();
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    assert_eq!(r.findings[0].layer.as_ref(), Some(&d));
}

/// The audit driver's test helpers, under the path other modules' tests use.
pub(crate) use super::audit::tests::{platform_image, store_layer};
