//! Proves the shared harness (`tests/common`) works on this machine before any
//! end-to-end test relies on it: tools are found, the hello-static example
//! compiles into a truly static binary, and a bundle really runs under runc
//! with its stdout and exit status captured.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// ELF program-header type of the dynamic loader request.
const PT_INTERP: u32 = 3;

/// True when the ELF64 little-endian file at `path` requests no dynamic
/// loader, i.e. it can run in an image that has no libc and no ld.so.
fn is_static_elf(path: &Path) -> bool {
    let b = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(b.len() >= 64 && &b[..4] == b"\x7fELF", "not an ELF file");
    assert_eq!(b[4], 2, "expected ELF64");
    assert_eq!(b[5], 1, "expected little-endian ELF");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        let ty = u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        ty != PT_INTERP
    })
}

#[test]
fn ci_variable_parsing() {
    assert!(ci_value_means_ci(Some("true")));
    assert!(ci_value_means_ci(Some("TRUE")));
    assert!(ci_value_means_ci(Some("1")));
    assert!(!ci_value_means_ci(Some("0")));
    assert!(!ci_value_means_ci(Some("false")));
    assert!(!ci_value_means_ci(Some("")));
    assert!(!ci_value_means_ci(None));
}

#[test]
fn tools_are_found_on_path() {
    for tool in ["umoci", "runc", "skopeo"] {
        let Some(p) = require_tool(tool) else { return };
        assert!(p.is_absolute(), "{tool} resolved to {}", p.display());
        assert!(p.ends_with(tool));
    }
    assert_eq!(find_on_path("ironhull-no-such-tool-xyz"), None);
}

#[test]
fn alpine_fixtures_are_gzip_tarballs() {
    for arch in ["x86_64", "aarch64"] {
        let Some(p) = alpine_rootfs(arch) else { return };
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(name.ends_with(&format!("-{arch}.tar.gz")), "{name}");
        let head = fs::read(&p).expect("fixture readable");
        assert_eq!(&head[..2], &[0x1f, 0x8b], "{} is not gzip", p.display());
    }
}

#[test]
#[should_panic(expected = "unsupported arch")]
fn alpine_rootfs_rejects_unknown_arch() {
    let _ = alpine_rootfs("sparc");
}

#[test]
fn digest_file_matches_known_sha256() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("empty");
    fs::write(&p, b"").expect("write");
    assert_eq!(
        digest_file(&p),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    fs::write(&p, b"abc").expect("write");
    assert_eq!(
        digest_file(&p),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn run_captures_output_and_status() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo out; echo err >&2; exit 7"]);
    let r = run(cmd);
    assert_eq!(r.code(), Some(7));
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
}

#[test]
fn run_timeout_kills_hung_commands() {
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    let r = run_timeout(cmd, Duration::from_millis(200));
    assert_eq!(r.code(), None, "sleep should have been killed");
    assert!(r.stderr.contains("TIMEOUT"), "{}", r.stderr);
}

#[test]
fn ironhull_command_has_clean_environment() {
    let cmd = ironhull();
    assert!(Path::new(cmd.get_program()).is_file());
    let shown = show_command(&cmd);
    assert!(shown.contains("NO_COLOR=1"), "{shown}");
    assert!(!shown.contains("SOURCE_DATE_EPOCH"), "{shown}");
    // The child really sees only the curated environment.
    let mut env = Command::new("env");
    env.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            env.env(k, v);
        }
    }
    let r = run(env);
    r.assert_success();
    let mut keys: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.split('=').next())
        .collect();
    keys.sort_unstable();
    for k in &keys {
        assert!(
            [
                "LC_ALL",
                "NO_COLOR",
                "PATH",
                "RUST_BACKTRACE",
                "TMPDIR",
                "TZ",
                // Where the cache key lives (outside every cache dir).
                "XDG_STATE_HOME"
            ]
            .contains(k),
            "unexpected variable {k} in {keys:?}"
        );
    }
}

#[test]
fn hello_builds_static_and_runs_on_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(hello) = build_hello_static(&dir.path().join("a")) else {
        return;
    };
    assert!(is_static_elf(&hello), "{} has a PT_INTERP", hello.display());
    // The per-process cache hands out identical copies.
    let again = build_hello_static(&dir.path().join("b")).expect("cached build");
    assert_ne!(hello, again);
    assert_eq!(digest_file(&hello), digest_file(&again));

    let uid = current_uid().expect("uid from /proc/self/status");
    let r = run(Command::new(&hello));
    assert!(
        r.stdout
            .starts_with(&format!("hello from ironhull: uid={uid} gid=")),
        "{}",
        r.describe()
    );
    // Running as root is deliberately a visible failure (exit 3).
    r.assert_code(if uid == 0 { 3 } else { 0 });

    let mut health = Command::new(&hello);
    health.arg("--health");
    run(health).assert_code(0);
    let mut bad = Command::new(&hello);
    bad.arg("--bogus");
    run(bad).assert_code(2);
}

#[test]
fn hand_made_bundle_runs_under_runc() {
    if require_runc().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(hello) = build_hello_static(dir.path()) else {
        return;
    };

    let bundle = make_bundle(&dir.path().join("bundle"), &hello, &[], 1000, 1000);
    let r = runc_run(&bundle, None);
    r.assert_success();
    assert_eq!(r.stdout, "hello from ironhull: uid=1000 gid=1000\n");

    // Exit statuses propagate: as uid 0 the program exits 3.
    let root = make_bundle(&dir.path().join("root"), &hello, &[], 0, 0);
    let r = runc_run(&root, None);
    r.assert_code(3);
    assert!(r.stdout.contains("uid=0 gid=0"), "{}", r.describe());

    // A program that is not in the rootfs fails to start.
    let r = runc_run(&bundle, Some(&["/bin/sh"]));
    assert!(!r.success(), "/bin/sh must not exist:\n{}", r.describe());
    assert!(r.stderr.contains("/bin/sh"), "{}", r.describe());
}

/// Builds an image with umoci itself (not ironhull), so the unpack → runc path
/// and the skopeo wrapper are proven independently of the code under test.
#[test]
fn umoci_image_unpacks_and_runs_and_skopeo_copies_it() {
    let Some(_) = require_tool("umoci") else {
        return;
    };
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    if require_runc().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(hello) = build_hello_static(&dir.path().join("ins/app")) else {
        return;
    };
    assert!(hello.ends_with("ins/app/hello"));
    let layout = dir.path().join("layout");
    let image = format!("{}:t", layout.display());
    let umoci = |args: &[&str]| {
        let mut c = Command::new("umoci");
        c.args(args);
        run(c).assert_success();
    };
    umoci(&["init", "--layout", &layout.to_string_lossy()]);
    umoci(&["new", "--image", &image]);
    umoci(&[
        "insert",
        "--image",
        &image,
        &dir.path().join("ins/app").to_string_lossy(),
        "/app",
    ]);
    umoci(&[
        "config",
        "--image",
        &image,
        "--config.user",
        "10001:10001",
        "--config.entrypoint",
        "/app/hello",
    ]);

    let copy = dir.path().join("copy");
    skopeo([
        "copy".to_string(),
        format!("oci:{image}"),
        format!("oci:{}:u", copy.display()),
    ])
    .assert_success();
    let r = skopeo(["inspect".to_string(), format!("oci:{}:u", copy.display())]);
    r.assert_success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("inspect JSON");
    assert_eq!(v["Os"], "linux", "{}", r.stdout);

    let bundle = dir.path().join("bundle");
    umoci_unpack(&copy, "u", &bundle);
    let r = runc_run(&bundle, None);
    r.assert_success();
    assert_eq!(r.stdout, "hello from ironhull: uid=10001 gid=10001\n");
}
