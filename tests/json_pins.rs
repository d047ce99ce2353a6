//! Exact `--json` output pins (issue 14, "Library first"): the CLI became a
//! thin shell over library entry points, and these pins prove the documents
//! it prints did not change on the way, digests included (they are
//! reproducible). Each pin is a committed file under `tests/data/json_pins/`.
//!
//! When a change to a document is intended, regenerate the pins with
//! `IRONHULL_UPDATE_PINS=1 cargo test --test json_pins` and review the diff:
//! a missing or different pin file is otherwise a failure.

mod common;
#[path = "common/images.rs"]
mod images;

use common::{ironhull, run};
use images::ImageDef;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn pin_path(name: &str) -> PathBuf {
    common::repo_root()
        .join("tests/data/json_pins")
        .join(format!("{name}.json"))
}

/// Compares `actual` (a command's stdout, byte for byte) with the committed
/// pin `name`, or rewrites the pin when `IRONHULL_UPDATE_PINS=1`.
fn pin(name: &str, actual: &str) {
    let path = pin_path(name);
    let text = actual;
    serde_json::from_str::<Value>(text)
        .unwrap_or_else(|e| panic!("pin {name}: the output is not JSON: {e}\n{text}"));
    if std::env::var_os("IRONHULL_UPDATE_PINS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "pin {}: {e}; create it with IRONHULL_UPDATE_PINS=1",
            path.display()
        )
    });
    assert!(
        text == expected,
        "the JSON of pin {name} changed (regenerate with IRONHULL_UPDATE_PINS=1 only if \
         that is intended):\n--- expected ({})\n{expected}\n--- actual\n{text}",
        path.display()
    );
}

/// Runs `ironhull ARGS --json`, expecting success; returns stdout with the
/// machine-specific reference `image` (a JSON string in it) replaced by
/// `placeholder`.
fn json_of(args: &[&str], cache: &Path, image: &str, placeholder: &str) -> String {
    let mut c = ironhull();
    c.args(args).arg("--json").arg("--cache-dir").arg(cache);
    let r = run(c);
    r.assert_success();
    let quoted = |s: &str| serde_json::to_string(s).unwrap();
    assert!(
        r.stdout.contains(&quoted(image)),
        "{image} not in the output:\n{}",
        r.stdout
    );
    r.stdout.replace(&quoted(image), &quoted(placeholder))
}

#[test]
fn inspect_alpine_rootfs() {
    let Some(rootfs) = common::alpine_rootfs("x86_64") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let image = format!("rootfs:{}", rootfs.display());
    let name = rootfs.file_name().unwrap().to_string_lossy();
    let placeholder = format!("rootfs:FIXTURES/alpine/{name}");
    let out = json_of(&["inspect", &image], d.path(), &image, &placeholder);
    pin("inspect_alpine_rootfs", &out);
}

/// Package databases of both kinds: a dpkg `status` with an installed and a
/// removed package, distroless `status.d` stanzas beside their `.md5sums`,
/// and an apk database.
fn crafted() -> ImageDef {
    let mut base = images::skeleton();
    base.extend([
        images::dir("lib", 0o755),
        images::dir("lib/apk", 0o755),
        images::dir("lib/apk/db", 0o755),
        images::file(
            "lib/apk/db/installed",
            0o644,
            "C:Q1x=\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\nL:MIT\n\n\
             P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\n",
        ),
        images::dir("var/lib", 0o755),
        images::dir("var/lib/dpkg", 0o755),
        images::file(
            "var/lib/dpkg/status",
            0o644,
            "Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\n\
             Architecture: amd64\nDescription: base\n  more text\n\n\
             Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
             Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\n\
             Architecture: all\n",
        ),
        images::dir("var/lib/dpkg/status.d", 0o755),
        images::file(
            "var/lib/dpkg/status.d/libc6",
            0o644,
            "Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\n",
        ),
        images::file(
            "var/lib/dpkg/status.d/libc6.md5sums",
            0o644,
            "0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n",
        ),
        images::file("app/svc", 0o555, b"\x7fELF not really"),
    ]);
    ImageDef::new(json!({
        "User": "10001:10001",
        "Entrypoint": ["/app/svc"],
        "Cmd": ["--port", "8080"],
    }))
    .layer(base)
}

#[test]
fn inspect_crafted_layout() {
    let d = tempfile::tempdir().unwrap();
    let w = crafted().write_layout(&d.path().join("layout"), "pin");
    let image = w.reference();
    let cache = d.path().join("cache");
    let out = json_of(&["inspect", &image], &cache, &image, "oci:LAYOUT:pin");
    pin("inspect_crafted_layout", &out);
}

/// A fixed project on the Alpine fixture: one data file, the image user, no
/// entrypoint. Hardening has plenty to report (busybox, apk, caches).
fn alpine_project(dir: &Path, rootfs: &Path) -> PathBuf {
    std::fs::write(dir.join("motd"), "pinned\n").unwrap();
    let spec = dir.join("builder.toml");
    std::fs::write(
        &spec,
        format!(
            "[image]\nname = \"pinned\"\ntags = [\"1\"]\n[base]\nimage = \"rootfs:{}\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"motd\"\ndest = \"/app/motd\"\n",
            rootfs.display()
        ),
    )
    .unwrap();
    spec
}

/// `ironhull build --json` and `ironhull audit --format json` of what it
/// wrote, on the Alpine fixture (the pins were written by the binary from
/// before the library-first refactor).
#[test]
fn build_and_audit_alpine_rootfs() {
    let Some(rootfs) = common::alpine_rootfs("x86_64") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let spec = alpine_project(d.path(), &rootfs);
    let dest = format!("oci:{}:1", d.path().join("out").display());
    let mut c = ironhull();
    c.arg("build")
        .arg("-f")
        .arg(&spec)
        .arg("--cache-dir")
        .arg(d.path().join("cache"))
        .args(["--json", "-o", &dest])
        .env("SOURCE_DATE_EPOCH", "0");
    let r = run(c);
    r.assert_success();
    let quoted = |s: &str| serde_json::to_string(s).unwrap();
    assert!(r.stdout.contains(&quoted(&dest)), "{}", r.describe());
    pin(
        "build_alpine_rootfs",
        &r.stdout.replace(&quoted(&dest), &quoted("oci:OUT:1")),
    );

    let mut c = ironhull();
    c.args(["audit", &dest, "--format", "json", "--cache-dir"])
        .arg(d.path().join("cache"));
    let a = run(c);
    assert_eq!(a.code(), Some(0), "{}", a.describe());
    pin(
        "audit_built_alpine",
        &a.stdout.replace(&quoted(&dest), &quoted("oci:OUT:1")),
    );
}

/// `ironhull audit --format json` of the unhardened fixture: a failing
/// report with every kind of finding the base has.
#[test]
fn audit_alpine_rootfs() {
    let Some(rootfs) = common::alpine_rootfs("x86_64") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let image = format!("rootfs:{}", rootfs.display());
    let mut c = ironhull();
    c.args(["audit", &image, "--format", "json", "--cache-dir"])
        .arg(d.path());
    let a = run(c);
    assert_eq!(
        a.code(),
        Some(1),
        "the fixture fails the audit:\n{}",
        a.describe()
    );
    let quoted = |s: &str| serde_json::to_string(s).unwrap();
    let name = rootfs.file_name().unwrap().to_string_lossy();
    pin(
        "audit_alpine_rootfs",
        &a.stdout.replace(
            &quoted(&image),
            &quoted(&format!("rootfs:FIXTURES/alpine/{name}")),
        ),
    );
}
