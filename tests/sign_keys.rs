//! cosign key files against an independent implementation of the format
//! (tests/data/cosign_key.py: Python `cryptography` + PyNaCl): keys the CLI
//! writes decrypt there to the same public key, keys written there load in
//! ironhull and sign what `cryptography` verifies, and every refusal exits
//! non-zero, writes nothing and never echoes the password.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PW: &str = "pw-3f9a1c-never-printed";

/// Environment variables for one run.
type Vars<'a> = Vec<(&'a str, &'a str)>;

/// python3 with `cryptography` and `nacl` importable, or a skip (CI: fail).
fn python() -> Option<PathBuf> {
    let py = common::require_tool("python3")?;
    let ok = Command::new(&py)
        .args(["-c", "import cryptography, nacl"])
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        common::skip_or_fail(
            "python3 modules cryptography and pynacl not installed (install with .ci/install-deps.sh)",
        );
        return None;
    }
    Some(py)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cosign_key.py")
}

/// Runs the script with KEY_PASSWORD = `pw` (None: unset, the empty one).
fn py(py: &Path, pw: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(py);
    c.arg(script()).args(args).stdin(Stdio::null());
    match pw {
        Some(p) => c.env("KEY_PASSWORD", p),
        None => c.env_remove("KEY_PASSWORD"),
    };
    c.output().expect("run cosign_key.py")
}

/// Runs ironhull with stdin not a terminal and only the given password
/// variables set.
fn ironhull(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ironhull"));
    c.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("IRONHULL_PASSWORD")
        .env_remove("COSIGN_PASSWORD");
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().expect("run ironhull")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_no_password(o: &Output, pw: &str) {
    for stream in [&o.stdout, &o.stderr] {
        assert!(!text(stream).contains(pw), "the password leaked: {o:?}");
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn keys_the_cli_generates_decrypt_with_the_python_implementation() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (prefix, vars, key_pw) in [
        (
            "release",
            vec![("IRONHULL_PASSWORD", PW), ("COSIGN_PASSWORD", "other")],
            Some(PW),
        ),
        ("cosign-var", vec![("COSIGN_PASSWORD", PW)], Some(PW)),
        ("empty", vec![("IRONHULL_PASSWORD", "")], None),
    ] {
        let o = ironhull(
            dir.path(),
            &vars,
            &["generate-key-pair", "--output-key-prefix", prefix],
        );
        assert!(o.status.success(), "{o:?}");
        assert_eq!(
            text(&o.stdout),
            format!("Private key written to {prefix}.key\nPublic key written to {prefix}.pub\n")
        );
        assert_no_password(&o, PW);
        let key = dir.path().join(format!("{prefix}.key"));
        let public = std::fs::read_to_string(dir.path().join(format!("{prefix}.pub"))).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{prefix}.key");
        }
        let d = py(&python, key_pw, &["decrypt", key.to_str().unwrap()]);
        assert!(
            d.status.success(),
            "python could not decrypt {prefix}.key: {d:?}"
        );
        assert_eq!(text(&d.stdout), public, "{prefix}");
        // And the wrong password does not decrypt there either.
        let bad = py(&python, Some("wrong"), &["decrypt", key.to_str().unwrap()]);
        assert!(!bad.status.success());
    }
    // --json names the files and nothing else.
    let o = ironhull(
        dir.path(),
        &[("IRONHULL_PASSWORD", PW)],
        &["generate-key-pair", "--output-key-prefix", "j", "--json"],
    );
    assert!(o.status.success(), "{o:?}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ok": true, "privateKey": "j.key", "publicKey": "j.pub"})
    );
}

#[test]
fn keys_written_by_the_python_implementation_load_and_sign() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg");
    std::fs::write(&msg, b"an in-toto statement, say").unwrap();
    for (name, args, pw) in [
        ("current.key", vec![], PW),
        ("legacy.key", vec!["--legacy-label", "--log-n", "15"], ""),
        ("owasp.key", vec!["--log-n", "17"], PW),
    ] {
        let key = dir.path().join(name);
        let mut a = vec!["encrypt", key.to_str().unwrap()];
        a.extend(args);
        let w = py(&python, Some(pw), &a);
        assert!(w.status.success(), "{w:?}");
        let pub_path = format!("{}.pub", key.display());

        // The library: decrypt, sign, and `cryptography` verifies.
        let pem = std::fs::read(&key).unwrap();
        let signing = ironhull::sign::key::decrypt_private_from(&pem, pw.as_bytes(), name).unwrap();
        use ironhull::sign::signer::Signer as _;
        let signer = ironhull::sign::signer::KeySigner::new(signing);
        let sig = dir.path().join(format!("{name}.sig"));
        std::fs::write(&sig, signer.sign(&std::fs::read(&msg).unwrap()).unwrap()).unwrap();
        let v = py(
            &python,
            None,
            &[
                "verify",
                &pub_path,
                msg.to_str().unwrap(),
                sig.to_str().unwrap(),
            ],
        );
        assert!(v.status.success(), "{name}: {v:?}");
        // The check can fail: the same signature over other bytes does not verify.
        let v = py(
            &python,
            None,
            &[
                "verify",
                &pub_path,
                pub_path.as_str(),
                sig.to_str().unwrap(),
            ],
        );
        assert_eq!(v.status.code(), Some(1), "{v:?}");

        // The CLI: `public-key` gives the public key Python wrote.
        let o = ironhull(
            dir.path(),
            &[("COSIGN_PASSWORD", pw)],
            &["public-key", "--key", name],
        );
        assert!(o.status.success(), "{o:?}");
        assert_eq!(text(&o.stdout), std::fs::read_to_string(&pub_path).unwrap());
    }
}

#[test]
fn refusals_exit_non_zero_write_nothing_and_never_echo_the_password() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("good.key");
    let w = py(&python, Some(PW), &["encrypt", good.to_str().unwrap()]);
    assert!(w.status.success(), "{w:?}");
    let pem = std::fs::read_to_string(&good).unwrap();
    // PEM framing broken (no END line) and a valid frame around bad JSON.
    std::fs::write(d.join("cut.key"), &pem[..pem.len() / 2]).unwrap();
    let mut lines: Vec<&str> = pem.lines().collect();
    lines.retain(|l| l.starts_with("-----"));
    let json_corrupt = format!("{}\neyJrZGYiOnt9fQ==\n{}\n", lines[0], lines[1]);
    std::fs::write(d.join("json.key"), json_corrupt).unwrap();

    let pw = [("IRONHULL_PASSWORD", PW)];
    let cases: Vec<(Vars, &str, &str)> = vec![
        (
            vec![("IRONHULL_PASSWORD", "not-the-password")],
            "good.key",
            "error: the password does not decrypt good.key: check IRONHULL_PASSWORD/COSIGN_PASSWORD",
        ),
        (
            pw.to_vec(),
            "cut.key",
            "error: cut.key is not a PEM key file (no `-----END ENCRYPTED SIGSTORE PRIVATE KEY-----` line)",
        ),
        (
            pw.to_vec(),
            "json.key",
            "error: json.key is corrupt: its encrypted-key JSON is invalid",
        ),
        (
            pw.to_vec(),
            "good.key.pub",
            "error: good.key.pub is a public key, but signing needs the private key",
        ),
        (
            pw.to_vec(),
            "missing.key",
            "error: the key missing.key does not exist: check the --key path",
        ),
        (
            vec![],
            "good.key",
            "error: no password: set IRONHULL_PASSWORD (or COSIGN_PASSWORD) or run on a terminal",
        ),
        (
            pw.to_vec(),
            "gcpkms://projects/p/keys/k",
            "error: KMS keys are not supported yet",
        ),
    ];
    for (vars, key, want) in cases {
        let before = listing(d);
        let o = ironhull(
            d,
            &vars,
            &["public-key", "--key", key, "--outfile", "out.pub"],
        );
        assert_eq!(o.status.code(), Some(2), "{key}: {o:?}");
        assert!(
            text(&o.stderr).starts_with(want),
            "{key}: {}",
            text(&o.stderr)
        );
        assert!(o.stdout.is_empty(), "{o:?}");
        assert_eq!(listing(d), before, "{key}: something was written");
        assert_no_password(&o, PW);
        assert_no_password(&o, "not-the-password");
    }

    // generate-key-pair with no variable and no terminal: nothing written.
    let empty = tempfile::tempdir().unwrap();
    let o = ironhull(empty.path(), &[], &["generate-key-pair"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(
        text(&o.stderr),
        "error: no password: set IRONHULL_PASSWORD (or COSIGN_PASSWORD) or run on a terminal\n"
    );
    assert!(listing(empty.path()).is_empty());

    // An existing key is never replaced without --force.
    let o = ironhull(empty.path(), &pw, &["generate-key-pair"]);
    assert!(o.status.success(), "{o:?}");
    let old = std::fs::read(empty.path().join("cosign.key")).unwrap();
    let o = ironhull(empty.path(), &pw, &["generate-key-pair"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        text(&o.stderr).contains("cosign.key already exists"),
        "{o:?}"
    );
    assert_eq!(std::fs::read(empty.path().join("cosign.key")).unwrap(), old);
    let o = ironhull(empty.path(), &pw, &["generate-key-pair", "--force"]);
    assert!(o.status.success(), "{o:?}");
    assert_ne!(std::fs::read(empty.path().join("cosign.key")).unwrap(), old);
    assert_eq!(listing(empty.path()), ["cosign.key", "cosign.pub"]);
    assert_no_password(&o, PW);
}
