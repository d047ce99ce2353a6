//! Issue 13, section 1: `ironhull build` refuses exactly the artifacts that
//! `ironhull audit` flags. Before, a three-line `key.pem`, an `.npmrc` with
//! `_auth`, a `.pypirc` with a password, a `.docker/config.json` with an
//! `identitytoken` and an OAuth `credentials.json` were built without
//! complaint, and the audit of the output then reported SEC-001.
//!
//! Cases: a generated matrix of names × contents (each content under its
//! natural name and under a neutral one), plus every file of the secret
//! corpus (tests/data/secrets). Each case is built as the one artifact of a
//! `static` image; for the audit, all cases sit in one layer of a crafted
//! OCI layout (tests/common/images.rs), each under `/cases/<n>/`.

mod common;
#[path = "common/images.rs"]
mod images;

use base64::Engine as _;
use common::*;
use images::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

struct Case {
    /// Path in the image, below `/cases/<n>/`.
    path: String,
    content: Vec<u8>,
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

/// The generated matrix: (natural name, content), each also under neutral names.
fn generated() -> Vec<Case> {
    let key = fake_rsa_pem();
    let three_line = {
        let lines: Vec<&str> = key.lines().collect();
        format!("{}\n{}\n{}\n", lines[0], lines[1], lines[lines.len() - 1])
    };
    let tok = format!("ghp_{}", "Zq9".repeat(12));
    let contents: Vec<(&str, Vec<u8>)> = vec![
        ("app/key.pem", three_line.clone().into_bytes()),
        ("app/.npmrc", b"registry=https://r.example.com/\n_auth = Ym90OnMzY3IzdA==\n".to_vec()),
        ("srv/.npmrc", b"//r.example.com/:_password=czNjcjN0\n".to_vec()),
        ("app/.npmrc", b"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n".to_vec()),
        ("root/.pypirc", b"[pypi]\nusername = bob\npassword = Zx81kq2mv\n".to_vec()),
        ("root/.pypirc", b"[pypi]\nusername = __token__\n".to_vec()),
        (
            "root/.docker/config.json",
            br#"{"auths":{"x.azurecr.io":{"auth":"","identitytoken":"eyJraWQiOiJ4In0.abc"}}}"#.to_vec(),
        ),
        ("root/.docker/config.json", br#"{"credsStore":"desktop"}"#.to_vec()),
        (
            "app/credentials.json",
            br#"{"installed":{"client_id":"1-x.apps.googleusercontent.com","client_secret":"GOCSPX-abcdefghijklmnop"}}"#.to_vec(),
        ),
        ("app/credentials.json", br#"{"endpoint":"https://api.example.com"}"#.to_vec()),
        ("app/.env.production", b"NODE_ENV=production\nDB_PASSWORD=Zx81kq2mv\n".to_vec()),
        ("app/.env.local", b"DEBUG=1\nDB_PASSWORD_FILE=/run/secrets/db\n".to_vec()),
        ("app/.env.example", b"DB_PASSWORD=changeme\n".to_vec()),
        ("app/tls.key", key.clone().into_bytes()),
        ("app/config.txt", format!("token = {tok}\n").into_bytes()),
        (
            "charts/values.yaml",
            format!(
                "tls:\n  key: |\n{}",
                key.lines().map(|l| format!("    {l}\n")).collect::<String>()
            )
            .into_bytes(),
        ),
        (
            "k8s/secret.yaml",
            format!("kind: Secret\ndata:\n  tls.key: {}\n", b64(&key)).into_bytes(),
        ),
        ("app/lib/x.jar", zip_of("conf/app.pem", key.as_bytes())),
        ("app/lib/clean.jar", zip_of("conf/app.properties", b"port=8080\n")),
        ("app/.git-credentials", b"https://bob:Zx81kq2mv@git.corp.internal\n".to_vec()),
        ("app/urls.txt", b"see https://user:password@corp.internal for the format\n".to_vec()),
        ("app/readme.md", b"Set the password at runtime.\n".to_vec()),
        ("root/.ssh/id_ed25519", b"".to_vec()),
        ("app/ca.pem", b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUXw\n-----END CERTIFICATE-----\n".to_vec()),
    ];
    let mut out = Vec::new();
    for (name, content) in contents {
        out.push(Case {
            path: name.to_string(),
            content: content.clone(),
        });
        // The same bytes under names that carry no meaning.
        for neutral in ["app/data.txt", "app/blob"] {
            out.push(Case {
                path: neutral.to_string(),
                content: content.clone(),
            });
        }
    }
    out
}

fn corpus_files() -> Vec<Case> {
    let root = repo_root().join("tests/data/secrets");
    let mut out = Vec::new();
    for kind in ["positive", "negative"] {
        let mut stack = vec![root.join(kind)];
        let mut files = Vec::new();
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap().filter_map(Result::ok) {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            let rel = f.strip_prefix(root.join(kind)).unwrap();
            // Drop the case directory: the rest is the path in the image.
            let path: PathBuf = rel.components().skip(1).collect();
            out.push(Case {
                path: path.to_string_lossy().into_owned(),
                content: fs::read(&f).unwrap(),
            });
        }
    }
    out
}

const SPEC: &str = r#"[image]
name = "gate-audit"
tags = ["1"]

[base]
image = "static"

[user]
uid = 10001

[[artifacts]]
src = "artifact"
dest = "DEST"
"#;

/// Builds one case; Ok(()) when it built, Err(message) when it was refused.
fn build(dir: &Path, n: usize, c: &Case) -> Result<(), String> {
    let d = dir.join(format!("b{n}"));
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("artifact"), &c.content).unwrap();
    let spec = d.join("builder.toml");
    fs::write(
        &spec,
        SPEC.replace("DEST", &format!("/cases/{n}/{}", c.path)),
    )
    .unwrap();
    let out = format!("oci:{}:1", d.join("out").display());
    let r = run(ironhull_build(
        &spec,
        &dir.join("cache"),
        &["--json", "-o", &out],
    ));
    let result = if r.success() {
        Ok(())
    } else {
        let (kind, message, _) = json_error(&r);
        // Refused at intake (a secret) or by the gate (its report says why).
        assert!(
            message.contains("secret") || kind == "Build::Gate",
            "case {n} ({}) failed for another reason ({kind}): {message}",
            c.path
        );
        Err(message)
    };
    fs::remove_dir_all(&d).unwrap();
    result
}

#[test]
fn build_refuses_exactly_what_audit_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = generated();
    let generated_n = cases.len();
    cases.extend(corpus_files());

    // The audit: every case in one layer of a crafted image.
    let mut layer = skeleton();
    for (n, c) in cases.iter().enumerate() {
        layer.push(file(&format!("cases/{n}/{}", c.path), 0o644, &c.content));
    }
    let def = ImageDef::new(json!({
        "User": "10001",
        "Entrypoint": ["/cases/0/app/key.pem"],
    }))
    .layer(layer);
    let w = def.write_layout(&tmp.path().join("layout"), "t");
    let mut cmd = ironhull();
    cmd.arg("audit")
        .arg(w.reference())
        .args(["--format", "json", "--fail-on", "critical", "--cache-dir"])
        .arg(tmp.path().join("cache"));
    let r = run(cmd);
    assert!(matches!(r.code(), Some(0 | 1)), "{}", r.describe());
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut flagged = BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap_or("");
        // The gate refuses on any core finding, not only secrets (a clean
        // wheel under `wheels/` is a package-cache archive, PKG-002).
        const CORE: &[&str] = &[
            "SEC-001", "SEC-002", "SEC-003", "SH-001", "PKG-001", "PKG-002", "FS-002", "FS-003",
            "FS-004", "FS-005",
        ];
        if !CORE.contains(&id) {
            continue;
        }
        if let Some(n) = f["path"]
            .as_str()
            .and_then(|p| p.strip_prefix("/cases/"))
            .and_then(|p| p.split('/').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            flagged.insert(n);
        }
    }

    // The builds, two at a time.
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let halves: Vec<_> = (0..2)
            .map(|k| {
                let cases = &cases;
                let dir = tmp.path();
                s.spawn(move || {
                    cases
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| n % 2 == k)
                        .map(|(n, c)| (n, build(dir, n, c)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<(), String>)> =
            halves.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort_by_key(|(n, _)| *n);
        all.into_iter().map(|(_, r)| r).collect()
    });

    let mut mismatches = Vec::new();
    let refused = results.iter().filter(|r| r.is_err()).count();
    for (n, (c, r)) in cases.iter().zip(&results).enumerate() {
        let audit = flagged.contains(&n);
        if audit != r.is_err() {
            mismatches.push(format!(
                "case {n} /cases/{n}/{}: build {}, audit {}",
                c.path,
                match r {
                    Ok(()) => "built it".to_string(),
                    Err(m) => format!("refused it ({m})"),
                },
                if audit { "flags it" } else { "does not" }
            ));
        }
    }
    eprintln!(
        "{} cases ({generated_n} generated, {} corpus files): build refused {refused}, audit flagged {}, mismatches {}",
        cases.len(),
        cases.len() - generated_n,
        flagged.len(),
        mismatches.len()
    );
    // Both sides must see secrets at all (a broken detector would agree on "none").
    assert!(refused > 100, "only {refused} refused");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
