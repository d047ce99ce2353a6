//! Reproducibility: the same spec and inputs give the same digest whatever
//! the directory, working directory, umask, file mtimes, source permissions
//! (beyond the exec bit) or owner of the sources; `--verify-reproducible`
//! agrees; and a committed expected digest catches accidental format changes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::*;

/// The digest of [`tiny_project`] built on the built-in static base with
/// SOURCE_DATE_EPOCH unset.
///
/// If this test fails, ironhull's OUTPUT FORMAT CHANGED: the tar headers, the
/// gzip settings, the canonical JSON, the config/history, the built-in base or
/// the accounts layer now produce different bytes. Every user's image digest
/// changes with it, so it must be deliberate: confirm the change is intended,
/// note it in the changelog, and only then update this constant to the digest
/// the failing assertion prints.
const EXPECTED_TINY_DIGEST: &str =
    "sha256:32c414ccd49fa6b06b11fd97cf934ef7975f0dee9d8dd386de58db1e4bcdec5a";

/// Same as [`EXPECTED_TINY_DIGEST`] with SOURCE_DATE_EPOCH=1700000000.
const EXPECTED_TINY_DIGEST_SDE: &str =
    "sha256:8e88dd19588f7542d4a8e5b11c1891d0ff1011ec01721eaa70f442f9b38d33de";

const TINY_SPEC: &str = r#"[image]
name = "tiny"
tags = ["1"]

[base]
image = "static"

[user]
uid = 10001

[[artifacts]]
src = "tiny"
dest = "/app/tiny"
mode = 0o555

[config]
entrypoint = ["/app/tiny"]
"#;

/// A project whose only input is a fixed 64-byte file: no compiler involved,
/// so the expected digest is the same on every machine.
fn tiny_project(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).expect("mkdir");
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    bytes.extend((0u8..57).map(|i| i.wrapping_mul(37)));
    assert_eq!(bytes.len(), 64);
    let art = dir.join("tiny");
    fs::write(&art, &bytes).expect("write tiny");
    fs::set_permissions(&art, fs::Permissions::from_mode(0o555)).expect("chmod");
    let spec = dir.join("builder.toml");
    fs::write(&spec, TINY_SPEC).expect("spec");
    spec
}

fn build_digest(mut cmd: Command) -> String {
    let r = run_cmd(&mut cmd);
    r.assert_success();
    printed_digest(&r)
}

fn run_cmd(cmd: &mut Command) -> Run {
    let c = std::mem::replace(cmd, Command::new("true"));
    run(c)
}

/// The hello project plus a data file without an explicit mode and a
/// directory artifact, so permission and mtime handling of all three kinds
/// of input is exercised.
fn rich_project(dir: &Path) -> Option<PathBuf> {
    build_hello_static(&dir.join("build"))?;
    fs::create_dir_all(dir.join("web/css")).expect("mkdir");
    fs::write(dir.join("web/index.html"), b"<h1>hello</h1>\n").expect("write");
    fs::write(dir.join("web/css/site.css"), b"h1 { color: teal }\n").expect("write");
    fs::write(dir.join("message.txt"), b"hello\n").expect("write");
    let spec = dir.join("builder.toml");
    fs::write(
        &spec,
        r#"[image]
name = "repro"
tags = ["1"]

[base]
image = "static"

[user]
uid = 10001

[[artifacts]]
src = "build/hello"
dest = "/app/hello"
mode = 0o555

[[artifacts]]
src = "message.txt"
dest = "/app/message.txt"

[[artifacts]]
src = "web"
dest = "/app/web"

[config]
entrypoint = ["/app/hello"]
"#,
    )
    .expect("spec");
    Some(spec)
}

/// Recursively copies `from` to `to` (files, dirs; no symlinks here).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir").flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// Applies `f` to every file and directory under `root` (root included).
fn walk(root: &Path, f: &mut dyn FnMut(&Path, bool)) {
    let is_dir = root.is_dir();
    if is_dir {
        for e in fs::read_dir(root).expect("read_dir").flatten() {
            walk(&e.path(), f);
        }
    }
    f(root, is_dir);
}

#[test]
fn same_inputs_in_different_conditions_give_identical_digests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a");
    let Some(spec_a) = rich_project(&a) else {
        return;
    };
    // Copy B: other directory, other mtimes, other permissions (same exec
    // bits), other owner.
    let b = dir.path().join("elsewhere/deeper/b");
    copy_tree(&a, &b);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200); // 2001-01-01
    let new = SystemTime::now() + Duration::from_secs(3600);
    walk(&b, &mut |p, is_dir| {
        // Owner-only permissions everywhere; the exec bits stay as in A.
        let mode = if is_dir || p.ends_with("build/hello") {
            0o700
        } else {
            0o600
        };
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
        if !is_dir {
            fs::File::options()
                .write(true)
                .open(p)
                .and_then(|f| f.set_modified(old))
                .expect("set mtime");
        }
    });
    walk(&a, &mut |p, is_dir| {
        if !is_dir {
            fs::File::options()
                .write(true)
                .open(p)
                .and_then(|f| f.set_modified(new))
                .expect("set mtime");
        }
    });
    let owner_changed = current_uid() == Some(0) && {
        let mut chown = Command::new("chown");
        chown.args(["-R", "1234:1234"]).arg(&b);
        run(chown).success()
    };
    if !owner_changed {
        eprintln!("note: not root, sources keep the same owner in both copies");
    }

    // Build A from its own directory, default umask.
    let out = dir.path().join("out");
    let mut ca = ironhull_build(
        &spec_a,
        &dir.path().join("cache-a"),
        &["-o", &format!("oci:{}:1", out.join("a").display())],
    );
    ca.current_dir(&a);
    let da = build_digest(ca);

    // Build B through a shell with umask 077, from an unrelated cwd, with a
    // relative spec path and a different cache.
    let cwd = dir.path().join("elsewhere");
    let mut cb = Command::new("sh");
    cb.arg("-c")
        .arg("umask 077; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ironhull"))
        .args(["build", "-f", "deeper/b/builder.toml", "--cache-dir"])
        .arg(dir.path().join("cache-b"))
        .arg("-o")
        .arg(format!("oci:{}:1", out.join("b").display()))
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C");
    let db = build_digest(cb);
    assert_eq!(
        da, db,
        "same inputs, different directory/cwd/umask/mtimes/permissions/owner gave different digests"
    );
    // Byte-identical blobs, not just the same top digest.
    let blobs = |l: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(l.join("blobs/sha256"))
            .expect("blobs")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(blobs(&out.join("a")), blobs(&out.join("b")));

    // And --verify-reproducible agrees on the same inputs.
    let r = run(ironhull_build(
        &spec_a,
        &dir.path().join("cache-v"),
        &[
            "--verify-reproducible",
            "-o",
            &format!("oci:{}:1", out.join("v").display()),
        ],
    ));
    r.assert_success();
    assert_eq!(printed_digest(&r), da);
}

#[test]
fn layers_carry_fixed_mtime_and_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = tiny_project(&dir.path().join("p"));
    let layout = dir.path().join("layout");
    let mut cmd = ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &["-o", &format!("oci:{}:1", layout.display())],
    );
    cmd.env("SOURCE_DATE_EPOCH", "1700000000");
    let digest = build_digest(cmd);
    for m in layout_manifests(&layout, &digest) {
        for l in m["layers"].as_array().expect("layers") {
            let bytes = layer_bytes(&layout_blob(&layout, l["digest"].as_str().expect("digest")));
            let mut ar = tar::Archive::new(&bytes[..]);
            for e in ar.entries().expect("tar") {
                let e = e.expect("entry");
                let h = e.header();
                let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                assert_eq!(h.mtime().expect("mtime"), 1_700_000_000, "{path}");
                if path.trim_start_matches("./").starts_with("app/tiny") {
                    assert_eq!(h.uid().expect("uid"), 0, "{path} must be owned by root");
                    assert_eq!(h.mode().expect("mode") & 0o7777, 0o555, "{path}");
                }
            }
        }
    }
}

#[test]
fn expected_digest_is_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = tiny_project(&dir.path().join("p"));
    let cache = dir.path().join("cache");
    let plain = build_digest(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", dir.path().join("l1").display())],
    ));
    let mut sde = ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", dir.path().join("l2").display())],
    );
    sde.env("SOURCE_DATE_EPOCH", "1700000000");
    let with_sde = build_digest(sde);
    let mut sde2 = ironhull_build(
        &spec,
        &dir.path().join("cache2"),
        &["-o", &format!("oci:{}:1", dir.path().join("l3").display())],
    );
    sde2.env("SOURCE_DATE_EPOCH", "1700000000");
    let with_sde2 = build_digest(sde2);
    eprintln!("tiny digest: {plain}\ntiny digest with SOURCE_DATE_EPOCH=1700000000: {with_sde}");
    assert_ne!(plain, with_sde, "SOURCE_DATE_EPOCH had no effect");
    assert_eq!(with_sde, with_sde2, "SOURCE_DATE_EPOCH build is not stable");
    assert_eq!(
        plain, EXPECTED_TINY_DIGEST,
        "the output format changed (see EXPECTED_TINY_DIGEST's comment before updating it)"
    );
    assert_eq!(
        with_sde, EXPECTED_TINY_DIGEST_SDE,
        "the output format changed (see EXPECTED_TINY_DIGEST's comment before updating it)"
    );
}

/// A local base named by an absolute path (the Alpine rootfs fixture, copied
/// to two unrelated directories) gives the same digest from both: the path
/// is an input of the build, not of the image. The manifest records the
/// base's digest, never the build machine's path (`base.name` is for
/// registry references only). A CI run in another checkout once caught the
/// path leaking into the digest.
#[test]
fn a_local_base_path_is_not_part_of_the_image() {
    let Some(rootfs) = alpine_rootfs("x86_64") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut digests = Vec::new();
    for (i, place) in ["one", "somewhere/else/two"].iter().enumerate() {
        let p = dir.path().join(place);
        fs::create_dir_all(&p).expect("mkdir");
        let base = p.join("alpine.tar.gz");
        fs::copy(&rootfs, &base).expect("copy the fixture");
        let spec = p.join("builder.toml");
        fs::write(
            &spec,
            format!(
                "[image]\nname = \"local-base\"\n[base]\nimage = \"rootfs:{}\"\n[user]\nuid = 10001\n",
                base.display()
            ),
        )
        .expect("spec");
        let layout = dir.path().join(format!("out{i}"));
        digests.push(build_digest(ironhull_build(
            &spec,
            &dir.path().join(format!("cache{i}")),
            &["-o", &format!("oci:{}:1", layout.display())],
        )));
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(layout.join("index.json")).expect("index.json"))
                .expect("index json");
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .expect("a manifest descriptor");
        let hex = digest.strip_prefix("sha256:").expect("sha256");
        let manifest: serde_json::Value =
            serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(hex)).expect("blob"))
                .expect("manifest json");
        let ann = &manifest["annotations"];
        assert!(
            ann.get("org.opencontainers.image.base.name").is_none(),
            "a local base's path must not be recorded: {ann:#}"
        );
        let text = manifest.to_string();
        assert!(
            !text.contains(place),
            "the manifest names the build directory: {text}"
        );
    }
    assert_eq!(
        digests[0], digests[1],
        "the same rootfs at two paths gave two digests"
    );
}
