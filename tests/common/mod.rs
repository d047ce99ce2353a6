//! Shared harness for ironhull's integration tests.
//!
//! Integration tests drive the real tools an ironhull user would use
//! (umoci, runc, skopeo, a registry), because a builder that only passes its
//! own round-trip tests can still emit images that real runtimes reject.
//!
//! Missing-tool policy: on a developer machine a missing tool or fixture makes
//! the test print `SKIP: ...` and return early, so `cargo test` stays usable
//! without root or extra packages. In CI (`CI=true` or `CI=1`) the same
//! situation panics instead, because a silently skipped end-to-end test is a
//! test that does not exist. `.ci/install-deps.sh` installs everything.
//!
//! Usage pattern:
//! ```ignore
//! mod common;
//! let Some(_umoci) = common::require_tool("umoci") else { return };
//! ```
//!
//! Every helper here is for tests only: it panics with a descriptive message
//! on harness failures (a broken harness must fail loudly, not skip).

// Each `tests/*.rs` crate includes this module and uses a different subset of
// it; unused helpers must not fail `clippy -D warnings`.
#![allow(dead_code)]

/// The independent signature verifiers of issue 16 (npm @sigstore/verify,
/// securesystemslib, in-toto-attestation, the simple-signing check).
pub mod sigverify;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Default time limit for one external command. Generous (cold builds on a
/// 2-core machine are slow) but finite, so a hung runtime cannot hang CI.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Time limit for one container run: the test images run tiny programs.
pub const RUNC_TIMEOUT: Duration = Duration::from_secs(120);

/// The exact hint printed when something is missing, so every skip tells the
/// reader how to turn it into a real run.
const INSTALL_HINT: &str = "install with .ci/install-deps.sh";

// ---------------------------------------------------------------------------
// Environment and skipping
// ---------------------------------------------------------------------------

/// True when running under CI (`CI` is `true` or `1`, as set by every common
/// CI system and by `.ci/run`). In CI, missing prerequisites are failures.
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

/// Pure part of [`in_ci`], separated so it can be tested without mutating the
/// process environment (which would race with other test threads).
pub fn ci_value_means_ci(value: Option<&str>) -> bool {
    matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("true" | "1")
    )
}

/// Name of the running test. libtest names each test's thread after the test,
/// which is what makes skip messages attributable.
pub fn current_test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unknown test>")
        .to_string()
}

/// Reports a missing prerequisite: prints a SKIP line locally, panics in CI.
/// `what` completes the sentence `SKIP: <test>: <what>`.
pub fn skip_or_fail(what: &str) {
    let msg = format!("{}: {what}", current_test_name());
    if in_ci() {
        panic!(
            "{msg}\nThis is a failure because CI is set: end-to-end tests must not be \
             skipped in CI. Fix the CI image ({INSTALL_HINT})."
        );
    }
    eprintln!("SKIP: {msg}");
}

/// Finds `name` on `PATH`. When it is missing, prints
/// `SKIP: <test>: <name> not installed (install with .ci/install-deps.sh)` and
/// returns `None`; in CI it panics instead (see the module docs).
pub fn require_tool(name: &str) -> Option<PathBuf> {
    match find_on_path(name) {
        Some(p) => Some(p),
        None => {
            skip_or_fail(&format!("{name} not installed ({INSTALL_HINT})"));
            None
        }
    }
}

/// Looks `name` up on `PATH` without any skip/fail side effect (for optional
/// fallbacks such as "musl-gcc, else cc").
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable_file(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable_file(candidate))
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The real uid of this test process, read from `/proc/self/status` (the
/// crate has no libc dependency and must not grow one just for tests).
pub fn current_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Like `require_tool("runc")`, and also checks that we are root: the harness
/// runs runc rootful (a rootless runc needs user namespaces, which many CI
/// sandboxes forbid), so a non-root run is a skip/failure with a clear reason.
pub fn require_runc() -> Option<PathBuf> {
    let runc = require_tool("runc")?;
    if current_uid() != Some(0) {
        skip_or_fail("runc tests need root (the harness runs runc rootful); run as root");
        return None;
    }
    Some(runc)
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The shared fixtures directory: `$IRONHULL_FIXTURES`, else
/// `<CARGO_MANIFEST_DIR>/../shared/fixtures`. Skips (or fails in CI) when it
/// does not exist.
pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("IRONHULL_FIXTURES") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        skip_or_fail(&format!(
            "fixtures directory {} not found (set IRONHULL_FIXTURES to the directory \
             holding alpine/alpine-minirootfs-*.tar.gz)",
            dir.display()
        ));
        None
    }
}

/// The Alpine minirootfs tarball for `arch` (`x86_64` or `aarch64`), e.g.
/// `<fixtures>/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz`. When several
/// versions are present the lexically greatest name wins, so the choice is
/// deterministic. Skips (or fails in CI) when none is present.
///
/// # Panics
/// On an unsupported `arch`: that is a bug in the calling test, not a
/// missing prerequisite.
pub fn alpine_rootfs(arch: &str) -> Option<PathBuf> {
    assert!(
        matches!(arch, "x86_64" | "aarch64"),
        "alpine_rootfs: unsupported arch {arch:?}; use \"x86_64\" or \"aarch64\""
    );
    let alpine = fixtures_dir()?.join("alpine");
    let suffix = format!("-{arch}.tar.gz");
    let mut found: Vec<PathBuf> = fs::read_dir(&alpine)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("alpine-minirootfs-") && n.ends_with(&suffix))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some(p) => Some(p),
        None => {
            skip_or_fail(&format!(
                "no alpine-minirootfs-*{suffix} in {} (fixture missing)",
                alpine.display()
            ));
            None
        }
    }
}

/// The repository root (where Cargo.toml, examples/ and .ci/ live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A per-test-binary scratch area under `target/tmp` (Cargo's
/// `CARGO_TARGET_TMPDIR`), for caches that must outlive one `TempDir`.
fn harness_tmp(sub: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("ironhull-harness")
        .join(sub);
    fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("harness: cannot create {}: {e}", dir.display()));
    dir
}

/// A name unique within this machine for the lifetime of the process:
/// `<prefix>-<pid>-<counter>-<nanos>`. Used for runc container ids.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// The outcome of an external command.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the full output unless the command succeeded.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.success(),
            "command failed ({}):\n{}",
            self.status,
            self.describe()
        );
        self
    }

    /// Panics with the full output unless the command exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit status ({}), wanted {code}:\n{}",
            self.status,
            self.describe()
        );
        self
    }

    /// stdout and stderr, labelled, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// The ironhull binary under test, with a clean environment so results do not
/// depend on the developer's shell: only `PATH` (and `TMPDIR`,
/// `RUST_BACKTRACE` when set) survive; `NO_COLOR=1`, `LC_ALL=C` and `TZ=UTC`
/// are set. In particular `SOURCE_DATE_EPOCH`, `HOME` and registry auth
/// variables are absent unless the test sets them. stdin is `/dev/null`.
pub fn ironhull() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironhull"));
    cmd.env_clear();
    for keep in ["PATH", "TMPDIR", "RUST_BACKTRACE"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.env("NO_COLOR", "1")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .stdin(Stdio::null());
    // The cache key lives outside the cache (src/cache_auth.rs); without
    // HOME the build would use a throwaway key and trust no cache record.
    // One shared state directory, so rebuilds in a test hit their cache.
    cmd.env("XDG_STATE_HOME", test_state_home());
    cmd
}

/// `XDG_STATE_HOME` for the binary under test (holds `ironhull/cache.key`).
pub fn test_state_home() -> PathBuf {
    let uid = current_uid().unwrap_or(0);
    std::env::temp_dir().join(format!("ironhull-test-state-{uid}"))
}

/// Runs `cmd` to completion with [`DEFAULT_TIMEOUT`]; see [`run_timeout`].
pub fn run(cmd: Command) -> Run {
    run_timeout(cmd, DEFAULT_TIMEOUT)
}

/// Runs `cmd`, capturing stdout and stderr (stdin is `/dev/null`). On a
/// non-zero exit or a timeout, prints the command line and both outputs to
/// stderr, so a failing assertion later has the evidence right above it.
/// A command that cannot be started at all panics (the harness is broken).
/// After `timeout` the child is killed and the result reports the signal.
pub fn run_timeout(mut cmd: Command, timeout: Duration) -> Run {
    let shown = show_command(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{shown}`: {e}"));
    // Drain both pipes on threads: a child blocked on a full stderr pipe
    // while we wait for stdout would deadlock.
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child
                    .wait()
                    .unwrap_or_else(|e| panic!("waiting for `{shown}`: {e}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for `{shown}`: {e}"),
        }
    };
    let join = |h: Option<std::thread::JoinHandle<String>>| {
        h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
    };
    let mut result = Run {
        status,
        stdout: join(out),
        stderr: join(err),
    };
    if timed_out {
        let _ = write!(
            result.stderr,
            "\n[harness] TIMEOUT: killed after {:.1}s",
            timeout.as_secs_f64()
        );
    }
    if !result.success() {
        eprintln!(
            "[harness] `{shown}` exited with {}\n{}",
            result.status,
            result.describe()
        );
    }
    result
}

fn drain<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A copy-pasteable rendering of a command line (env overrides first).
pub fn show_command(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            let _ = write!(s, "{}={} ", k.to_string_lossy(), v.to_string_lossy());
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
            let _ = write!(s, " '{}'", a.replace('\'', r"'\''"));
        } else {
            let _ = write!(s, " {a}");
        }
    }
    s
}

// ---------------------------------------------------------------------------
// The hello-static example binary
// ---------------------------------------------------------------------------

/// Compiles `examples/hello-static/hello.c` into a fully static binary and
/// copies it to `<out_dir>/hello`, returning that path.
///
/// Prefers `musl-gcc -static -Os`, falling back to `cc -static -Os` (glibc's
/// static libc works for this program). The compiled binary is cached per
/// test process (and per source content) under `target/tmp`, so many tests
/// can ask for it cheaply. Skips (or fails in CI) when no C compiler exists.
///
/// # Panics
/// When a compiler exists but compilation fails: that is a real bug.
pub fn build_hello_static(out_dir: &Path) -> Option<PathBuf> {
    static CACHE: OnceLock<Option<PathBuf>> = OnceLock::new();
    let cached = CACHE.get_or_init(compile_hello).as_ref()?;
    fs::create_dir_all(out_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", out_dir.display()));
    let dest = out_dir.join("hello");
    fs::copy(cached, &dest).unwrap_or_else(|e| {
        panic!(
            "cannot copy {} to {}: {e}",
            cached.display(),
            dest.display()
        )
    });
    Some(dest)
}

fn compile_hello() -> Option<PathBuf> {
    let src = repo_root().join("examples/hello-static/hello.c");
    let source = fs::read(&src).unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()));
    let compiler = match find_on_path("musl-gcc").or_else(|| find_on_path("cc")) {
        Some(c) => c,
        None => {
            skip_or_fail(&format!(
                "no C compiler (musl-gcc or cc) to build hello-static ({INSTALL_HINT})"
            ));
            return None;
        }
    };
    // Key the cache on the source and compiler so an edited hello.c is rebuilt.
    let mut key = source.clone();
    key.extend_from_slice(compiler.as_os_str().as_encoded_bytes());
    let key = ironhull::digest::Digest::of(&key);
    let dir = harness_tmp("hello-static").join(&key.hex()[..16]);
    let bin = dir.join("hello");
    if bin.is_file() {
        return Some(bin);
    }
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    // Compile under a unique name and rename: atomic even when several test
    // binaries race to fill the same cache entry.
    let tmp = dir.join(unique_name("hello.tmp"));
    let mut cmd = Command::new(&compiler);
    cmd.args(["-static", "-Os", "-s", "-o"]).arg(&tmp).arg(&src);
    let r = run(cmd);
    assert!(
        r.success(),
        "compiling {} with {} failed ({}); for a static glibc build install libc6-dev, \
         or install musl-tools ({INSTALL_HINT})\n{}",
        src.display(),
        compiler.display(),
        r.status,
        r.describe()
    );
    fs::rename(&tmp, &bin).unwrap_or_else(|e| panic!("cannot rename to {}: {e}", bin.display()));
    Some(bin)
}

// ---------------------------------------------------------------------------
// umoci / runc
// ---------------------------------------------------------------------------

/// `umoci unpack --image <layout>:<tag> <bundle>`. We run as root, so no
/// `--rootless`. `bundle` must not exist yet (umoci creates it).
///
/// # Panics
/// When umoci fails: the image under test is not unpackable, which is exactly
/// what the calling test wants to detect. Call `require_tool("umoci")` first.
#[track_caller]
pub fn umoci_unpack(layout: &Path, tag: &str, bundle: &Path) {
    let mut cmd = Command::new("umoci");
    cmd.arg("unpack")
        .arg("--image")
        .arg(format!("{}:{tag}", layout.display()))
        .arg(bundle);
    let r = run(cmd);
    assert!(
        r.success(),
        "umoci could not unpack {}:{tag} into {}:\n{}",
        layout.display(),
        bundle.display(),
        r.describe()
    );
}

/// Creates a minimal bundle by hand: `runc spec` plus a rootfs holding the
/// given `binary` at `/<file name>`. The process runs that binary (plus
/// `args`) as `uid:gid`, non-interactively. Returns the bundle path.
pub fn make_bundle(bundle: &Path, binary: &Path, args: &[&str], uid: u32, gid: u32) -> PathBuf {
    let rootfs = bundle.join("rootfs");
    fs::create_dir_all(&rootfs)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", rootfs.display()));
    let name = binary
        .file_name()
        .unwrap_or_else(|| panic!("binary path {} has no file name", binary.display()));
    fs::copy(binary, rootfs.join(name))
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", binary.display()));
    let mut cmd = Command::new("runc");
    cmd.arg("spec").arg("--bundle").arg(bundle);
    run(cmd).assert_success();
    let mut argv = vec![format!("/{}", name.to_string_lossy())];
    argv.extend(args.iter().map(|s| s.to_string()));
    edit_config(bundle, |c| {
        c["process"]["args"] = serde_json::json!(argv);
        c["process"]["user"] = serde_json::json!({ "uid": uid, "gid": gid });
    });
    bundle.to_path_buf()
}

/// Reads, edits and rewrites `<bundle>/config.json`.
pub fn edit_config(bundle: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = bundle.join("config.json");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    f(&mut config);
    let out = serde_json::to_vec_pretty(&config).unwrap_or_else(|e| panic!("serialize: {e}"));
    fs::write(&path, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Runs the bundle with `runc run` and returns its outcome (the container's
/// stdout/stderr and exit status; runc's own errors land in stderr).
///
/// What it takes to run in this harness (verified in the build sandbox:
/// root, cgroup v1, all namespaces permitted):
/// - `process.terminal` is forced to `false`: umoci and `runc spec` both
///   generate `terminal: true`, and without a tty runc fails with
///   `open /dev/tty: no such device or address`. This is the ONLY edit made
///   to the bundle's config besides `args_override`; the namespaces, uid and
///   capabilities stay exactly as the image produced them, since they are
///   what the tests examine.
/// - `--root <target/tmp/...>` keeps runc's state out of `/run/runc`, so
///   tests never see (or collide with) other containers on the machine.
/// - Each call uses a unique container id; `runc run` deletes the container
///   when it exits. On timeout the container is force-deleted.
///
/// `args_override` replaces `process.args` (e.g. `Some(&["/bin/sh"])` to
/// prove a shell is absent). Call [`require_runc`] first.
pub fn runc_run(bundle: &Path, args_override: Option<&[&str]>) -> Run {
    edit_config(bundle, |c| {
        c["process"]["terminal"] = serde_json::Value::Bool(false);
        if let Some(args) = args_override {
            c["process"]["args"] = serde_json::json!(args);
        }
    });
    let state = harness_tmp("runc-state");
    let id = unique_name("ironhull-test");
    let mut cmd = Command::new("runc");
    cmd.arg("--root")
        .arg(&state)
        .arg("run")
        .arg("--bundle")
        .arg(bundle)
        .arg(&id);
    let r = run_timeout(cmd, RUNC_TIMEOUT);
    if r.code().is_none() {
        // Killed (timeout): the container may still exist; remove it.
        let mut del = Command::new("runc");
        del.arg("--root")
            .arg(&state)
            .args(["delete", "--force"])
            .arg(&id);
        let _ = run_timeout(del, Duration::from_secs(30));
    }
    r
}

// ---------------------------------------------------------------------------
// skopeo
// ---------------------------------------------------------------------------

/// Runs `skopeo --policy <accept-anything> --tmpdir <scratch> <args>`.
///
/// The policy file is written by the harness because a fresh machine may have
/// no `/etc/containers/policy.json`, and tests must not depend on (or alter)
/// the host's trust configuration. Call `require_tool("skopeo")` first.
pub fn skopeo<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    static POLICY: OnceLock<PathBuf> = OnceLock::new();
    let policy = POLICY.get_or_init(|| {
        let dir = harness_tmp("skopeo");
        let path = dir.join("policy.json");
        let tmp = dir.join(unique_name("policy.tmp"));
        fs::write(&tmp, br#"{"default":[{"type":"insecureAcceptAnything"}]}"#)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", tmp.display()));
        fs::rename(&tmp, &path)
            .unwrap_or_else(|e| panic!("cannot rename to {}: {e}", path.display()));
        path
    });
    let tmpdir = harness_tmp("skopeo/tmp");
    let mut cmd = Command::new("skopeo");
    cmd.arg("--policy")
        .arg(policy)
        .arg("--tmpdir")
        .arg(tmpdir)
        .args(args);
    run(cmd)
}

// ---------------------------------------------------------------------------
// Digests
// ---------------------------------------------------------------------------

/// `sha256:<hex>` of a file's content, streamed.
///
/// # Panics
/// When the file cannot be read.
#[track_caller]
pub fn digest_file(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    let f = fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let (digest, _len) = ironhull::digest::digest_reader(f)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    digest.to_string()
}

// ---------------------------------------------------------------------------
// ironhull build helpers (shared by the build_* integration tests)
// ---------------------------------------------------------------------------

/// `ironhull build -f <spec> --cache-dir <cache> <extra...>`: every test passes
/// its own cache so tests never share (or pollute) `~/.cache/ironhull`.
pub fn ironhull_build(spec: &Path, cache: &Path, extra: &[&str]) -> Command {
    let mut cmd = ironhull();
    cmd.arg("build")
        .arg("-f")
        .arg(spec)
        .arg("--cache-dir")
        .arg(cache)
        .args(extra);
    cmd
}

/// The digest `ironhull build` printed (the last stdout line), checked to be
/// a well-formed `sha256:<64 hex>`.
#[track_caller]
pub fn printed_digest(r: &Run) -> String {
    let digest = r.stdout.trim().lines().last().unwrap_or_default().trim();
    let hex = digest.strip_prefix("sha256:").unwrap_or_else(|| {
        panic!(
            "ironhull build must print the digest last, got:\n{}",
            r.describe()
        )
    });
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "not a sha256 digest: {digest:?}"
    );
    digest.to_string()
}

/// The `{"error": {...}}` object that `ironhull build --json` prints on
/// failure, as `(kind, message, exitCode)`.
#[track_caller]
pub fn json_error(r: &Run) -> (String, String, i64) {
    let line = r
        .stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON object on stdout:\n{}", r.describe()));
    let v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", r.describe()));
    let err = &v["error"];
    assert!(
        err.is_object(),
        "expected an {{\"error\": ...}} object:\n{}",
        r.describe()
    );
    (
        err["kind"].as_str().unwrap_or_default().to_string(),
        err["message"].as_str().unwrap_or_default().to_string(),
        err["exitCode"].as_i64().unwrap_or(-1),
    )
}

/// Reads a JSON file, panicking with the path on failure.
#[track_caller]
pub fn read_json(path: &Path) -> serde_json::Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The digest that an OCI layout's `index.json` gives for `tag`.
#[track_caller]
pub fn layout_tag_digest(layout: &Path, tag: &str) -> String {
    let index = read_json(&layout.join("index.json"));
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let entry = manifests
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no manifest tagged {tag} in {}", layout.display()));
    entry["digest"].as_str().unwrap_or_default().to_string()
}

/// Path of a blob in an OCI layout.
pub fn layout_blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// The image manifests reachable from `digest` in a layout (the manifest
/// itself, or every manifest of an image index).
#[track_caller]
pub fn layout_manifests(layout: &Path, digest: &str) -> Vec<serde_json::Value> {
    let doc = read_json(&layout_blob(layout, digest));
    match doc["manifests"].as_array() {
        Some(list) => list
            .iter()
            .flat_map(|m| layout_manifests(layout, m["digest"].as_str().unwrap_or_default()))
            .collect(),
        None => vec![doc],
    }
}

/// Decompresses a (gzip, zstd or plain) layer blob fully into memory.
#[track_caller]
pub fn layer_bytes(blob: &Path) -> Vec<u8> {
    let raw = fs::read(blob).unwrap_or_else(|e| panic!("cannot read {}: {e}", blob.display()));
    if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        zstd::stream::decode_all(&raw[..])
            .unwrap_or_else(|e| panic!("{} is not valid zstd: {e}", blob.display()))
    } else if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{} is not valid gzip: {e}", blob.display()));
        out
    } else {
        raw
    }
}

/// Entry paths of an uncompressed tar stream, normalized to start with `/`
/// (a leading `./` is dropped), in archive order.
#[track_caller]
pub fn tar_paths(tar_bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(tar_bytes);
    let entries = archive
        .entries()
        .unwrap_or_else(|e| panic!("not a tar stream: {e}"));
    entries
        .map(|e| {
            let e = e.unwrap_or_else(|e| panic!("bad tar entry: {e}"));
            let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let p = p.trim_start_matches("./").trim_end_matches('/').to_string();
            format!("/{}", p.trim_start_matches('/'))
        })
        .collect()
}

/// True when `needle` occurs anywhere in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `ironhull audit REFERENCE --format json --fail-on FAIL_ON --cache-dir CACHE`:
/// the exit code and the parsed report (a panic with the output when it is
/// not JSON).
pub fn audit_report(reference: &str, fail_on: &str, cache: &Path) -> (i32, serde_json::Value) {
    let mut cmd = ironhull();
    cmd.arg("audit")
        .arg(reference)
        .args(["--format", "json", "--fail-on", fail_on, "--cache-dir"])
        .arg(cache);
    let r = run(cmd);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("audit output is not JSON ({e}):\n{}", r.describe()));
    (r.code().unwrap_or(-1), v)
}

/// podman with private storage under `store` (vfs, as the sandbox needs).
pub struct Podman {
    store: PathBuf,
}

impl Podman {
    /// None (after a SKIP; a failure in CI) when podman is missing.
    pub fn new(store: &Path) -> Option<Podman> {
        require_tool("podman")?;
        Some(Podman {
            store: store.to_path_buf(),
        })
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.store.join("root"))
            .arg("--runroot")
            .arg(self.store.join("run"))
            .args(["--storage-driver", "vfs"]);
        c
    }

    /// `podman load -i ARCHIVE`: the loaded image's name.
    pub fn load(&self, archive: &Path) -> String {
        let mut load = self.cmd();
        load.arg("load").arg("-i").arg(archive);
        let r = run(load);
        r.assert_success();
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Loaded image: "))
            .unwrap_or_else(|| panic!("no image name in:\n{}", r.describe()))
            .trim()
            .to_string()
    }

    /// `podman run --rm` with no network and the sandbox's limits, `extra`
    /// before the image, `args` after it.
    pub fn run(&self, image: &str, extra: &[&str], args: &[&str]) -> Run {
        let mut c = self.cmd();
        c.args([
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
            "nofile=4096:4096",
            "--ulimit",
            "nproc=4096:4096",
        ])
        .args(extra)
        .arg(image)
        .args(args);
        run_timeout(c, RUNC_TIMEOUT)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// (name, version) of every package Syft finds in an OCI layout, of Syft's
/// `kind` (`apk`, `deb`): an independent reading of the image's database.
pub fn syft_packages(
    syft: &Path,
    layout: &Path,
    kind: &str,
) -> std::collections::BTreeSet<(String, String)> {
    let mut c = Command::new(syft);
    c.arg(format!("oci-dir:{}", layout.display()))
        .args(["-o", "json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false");
    let r = run(c);
    r.assert_success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("syft JSON");
    v["artifacts"]
        .as_array()
        .expect("syft artifacts")
        .iter()
        .filter(|a| a["type"] == kind)
        .map(|a| {
            (
                a["name"].as_str().unwrap_or("").to_string(),
                a["version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// (name, version) of every component of a CycloneDX document whose purl
/// starts with `prefix` (`pkg:apk/`, `pkg:deb/`).
pub fn purl_packages(
    components: &serde_json::Value,
    prefix: &str,
) -> std::collections::BTreeSet<(String, String)> {
    components
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|c| c["purl"].as_str().is_some_and(|p| p.starts_with(prefix)))
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_string(),
                c["version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// What Trivy, offline (no database needed for an inventory), lists in an
/// OCI layout, as CycloneDX packages whose purl starts with `prefix`.
pub fn trivy_packages(
    trivy: &Path,
    layout: &Path,
    cache: &Path,
    prefix: &str,
) -> std::collections::BTreeSet<(String, String)> {
    let mut c = Command::new(trivy);
    c.arg("image")
        .arg("--input")
        .arg(layout)
        .args([
            "--format",
            "cyclonedx",
            "--skip-db-update",
            "--skip-java-db-update",
            "--offline-scan",
            "--quiet",
            "--cache-dir",
        ])
        .arg(cache);
    let r = run(c);
    r.assert_success();
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("trivy JSON");
    purl_packages(&v["components"], prefix)
}
