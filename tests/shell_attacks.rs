//! The attacker's side of "a shell is a shell whatever its name" and "caches",
//! through the real `ironhull build` and `ironhull audit`:
//!
//! - a base layer with dash renamed to a neutral name, a hard link to it and a
//!   `/bin/sh` symlink to it, plus a renamed package manager engine and caches
//!   in unlisted places: `audit` of the base finds each, `build` strips them
//!   (the file under every name), the built image audits clean, and it runs
//!   under umoci + runc;
//! - a renamed static busybox (and dash) as an artifact is refused.

mod common;
#[path = "common/images.rs"]
mod images;
mod shells;

use common::*;
use images::{ImageDef, dir, file, hardlink, skeleton, symlink};
use serde_json::json;
use std::fs;
use std::path::Path;

fn audit_json(reference: &str) -> serde_json::Value {
    let mut cmd = ironhull();
    cmd.args([
        "audit",
        reference,
        "--format",
        "json",
        "--fail-on",
        "critical",
    ]);
    let r = run(cmd);
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("audit JSON ({e}):\n{}", r.describe()))
}

fn findings(report: &serde_json::Value, id: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["id"] == id)
        .filter_map(|f| f["path"].as_str().map(str::to_string))
        .collect()
}

fn spec(dir: &Path, base: &str, artifacts: &str) -> std::path::PathBuf {
    let p = dir.join("builder.toml");
    fs::write(
        &p,
        format!(
            "[image]\nname = \"attack\"\ntags = [\"1\"]\n[base]\nimage = \"{base}\"\n[user]\nuid = 10001\n{artifacts}[config]\nentrypoint = [\"/app/hello\"]\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn renamed_shell_hardlink_symlink_pm_and_caches_in_a_base_are_stripped() {
    let Some(x) = shells::shell_packages() else {
        return;
    };
    let dash = fs::read(x.join("dash/bin/dash")).unwrap();
    let Some(dpkg) = find_on_path("dpkg") else {
        skip_or_fail("dpkg not installed");
        return;
    };
    let dpkg = fs::read(dpkg).unwrap();
    let work = tempfile::tempdir().unwrap();
    if build_hello_static(&work.path().join("build")).is_none() {
        return;
    }

    let mut entries = skeleton();
    entries.extend([
        dir("opt", 0o755),
        dir("opt/x", 0o755),
        dir("bin", 0o755),
        // dash under a neutral name, a hard link to it, and /bin/sh to it.
        file("opt/x/tool", 0o755, &dash),
        hardlink("usr/bin/helper", "opt/x/tool"),
        symlink("bin/sh", "/opt/x/tool"),
        // A neutral file reached under a shell name only.
        file("opt/x/neutral", 0o755, b"\x7fELF not a shell by content"),
        hardlink("usr/bin/bash", "opt/x/neutral"),
        // dpkg renamed: a package manager by content.
        file("opt/x/unpack", 0o755, &dpkg),
        // Caches nobody listed by path.
        dir("opt/conda", 0o755),
        dir("opt/conda/pkgs", 0o755),
        file("opt/conda/pkgs/numpy-1.26.4-0.conda", 0o644, b"PK\x03\x04"),
        dir("srv", 0o755),
        dir("srv/tool", 0o755),
        dir("srv/tool/cache", 0o755),
        file(
            "srv/tool/cache/left_pad-1.0-py3-none-any.whl",
            0o644,
            b"PK\x03\x04",
        ),
    ]);
    let base = ImageDef::new(json!({})).layer(entries);
    let written = base.write_layout(&work.path().join("base"), "1");

    // audit of the base finds everything hardening will strip.
    let report = audit_json(&written.reference());
    let sh = findings(&report, "SH-001");
    for p in ["/opt/x/tool", "/usr/bin/helper", "/bin/sh", "/usr/bin/bash"] {
        assert!(sh.contains(&p.to_string()), "{p} not in SH-001: {sh:?}");
    }
    assert!(
        findings(&report, "PKG-001").contains(&"/opt/x/unpack".to_string()),
        "{report:#}"
    );
    let caches = findings(&report, "PKG-002");
    for p in [
        "/opt/conda/pkgs",
        "/srv/tool/cache/left_pad-1.0-py3-none-any.whl",
    ] {
        assert!(
            caches.contains(&p.to_string()),
            "{p} not in PKG-002: {caches:?}"
        );
    }

    // build strips them, under every name, and the result audits clean.
    let s = spec(
        work.path(),
        &format!("oci:{}:1", written.layout.display()),
        "[[artifacts]]\nsrc = \"build/hello\"\ndest = \"/app/hello\"\n",
    );
    let out = work.path().join("out");
    let r = run(ironhull_build(
        &s,
        &work.path().join("cache"),
        &["--json", "-o", &format!("oci:{}:1", out.display())],
    ));
    r.assert_success();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let removed: Vec<&str> = v["hardening"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["what"] == "removed")
        .filter_map(|c| c["path"].as_str())
        .collect();
    for p in [
        "/opt/x/tool",
        "/usr/bin/helper",
        "/bin/sh",
        "/opt/x/neutral",
        "/usr/bin/bash",
        "/opt/x/unpack",
        "/opt/conda/pkgs/numpy-1.26.4-0.conda",
        "/srv/tool/cache/left_pad-1.0-py3-none-any.whl",
    ] {
        assert!(removed.contains(&p), "{p} not removed: {removed:?}");
    }
    let built = audit_json(&format!("oci:{}:1", out.display()));
    for id in ["SH-001", "PKG-001", "PKG-002"] {
        assert!(
            findings(&built, id).is_empty(),
            "{id} in the built image: {built:#}"
        );
    }

    // And it still runs.
    if require_tool("umoci").is_none() || require_runc().is_none() {
        return;
    }
    let bundle = work.path().join("bundle");
    umoci_unpack(&out, "1", &bundle);
    let rootfs = bundle.join("rootfs");
    for gone in ["opt/x/tool", "usr/bin/helper", "bin/sh", "opt/x/unpack"] {
        assert!(
            fs::symlink_metadata(rootfs.join(gone)).is_err(),
            "{gone} unpacked"
        );
    }
    let r = runc_run(&bundle, None);
    assert!(r.success(), "{}", r.describe());
    assert!(r.stdout.contains("uid=10001"), "{}", r.describe());
}

#[test]
fn renamed_static_busybox_and_dash_artifacts_are_refused() {
    let Some(x) = shells::shell_packages() else {
        return;
    };
    for (src, what) in [
        ("busybox-static/bin/busybox", "POSIX shell"),
        ("dash/bin/dash", "POSIX shell"),
        ("sash/bin/sash", "sash"),
    ] {
        let work = tempfile::tempdir().unwrap();
        let tool = work.path().join("tool");
        fs::copy(x.join(src), &tool).unwrap();
        let s = spec(
            work.path(),
            "static",
            "[[artifacts]]\nsrc = \"tool\"\ndest = \"/app/hello\"\nmode = 0o555\n",
        );
        let r = run(ironhull_build(
            &s,
            &work.path().join("cache"),
            &[
                "--json",
                "-o",
                &format!("oci:{}:1", work.path().join("out").display()),
            ],
        ));
        let (_, message, code) = json_error(&r);
        assert_eq!(code, 2, "{}", r.describe());
        assert!(
            message.contains("/app/hello is a shell") && message.contains(what),
            "{src}: {message}"
        );
        assert!(!work.path().join("out").exists(), "nothing is written");
    }
}
