//! `ironhull audit` output contracts (issue 4): the documented JSON shape,
//! `--fail-on` thresholds as exit codes, policy files (overrides, reasoned
//! allowances, strict errors with file:line), SARIF 2.1.0 validated against
//! the official schema, and `ironhull explain` / `ironhull checks`.

mod common;
#[path = "common/images.rs"]
mod images;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use images::*;
use serde_json::{Value, json};

const FAKE_ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0fake-static-binary";

/// The official SARIF 2.1.0 JSON schema, vendored from the npm package
/// `@microsoft/sarif-multitool-linux` 5.7.0 (file `sarif-2.1.0.json`, MIT),
/// because the test machines cannot reach schemastore.org.
const SARIF_SCHEMA: &str = "tests/data/sarif-schema-2.1.0.json";

/// An image with findings at four severities: FS-002 (high, setuid),
/// USR-004 (medium, duplicate uid), FS-001 (low, a Dockerfile) and CFG-001
/// (info, no HEALTHCHECK). Nothing critical.
fn mixed_image(dir: &Path) -> String {
    let mut layer = skeleton();
    layer.extend([
        file(
            "etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/sbin/nologin\napp:x:10001:10001::/app:/sbin/nologin\nalias:x:10001:10001::/app:/sbin/nologin\n",
        ),
        file("etc/group", 0o644, "root:x:0:\napp:x:10001:\n"),
        file("app/x", 0o755, FAKE_ELF),
        file("app/Dockerfile", 0o644, "FROM scratch\n"),
        file("usr/bin/helper", 0o4755, FAKE_ELF),
    ]);
    let def = ImageDef::new(json!({
        "User": "10001:10001",
        "Entrypoint": ["/app/x"],
    }))
    .layer(layer);
    def.write_layout(&dir.join("mixed"), "v1").reference()
}

fn audit(args: &[&str]) -> Run {
    let mut cmd = ironhull();
    cmd.arg("audit").args(args);
    run(cmd)
}

fn json_of(r: &Run) -> Value {
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", r.describe()))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn json_shape_is_exactly_as_documented() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = mixed_image(tmp.path());
    let r = audit(&[&image, "--format", "json", "--fail-on", "critical"]);
    assert_eq!(r.code(), Some(0), "{}", r.describe());
    let v = json_of(&r);
    assert_eq!(keys(&v), set(&["image", "findings", "summary"]));
    assert_eq!(v["image"], image.as_str());
    let findings = v["findings"].as_array().expect("findings array");
    for f in findings {
        assert_eq!(
            keys(f),
            set(&["id", "severity", "title", "path", "layer", "message", "fix"]),
            "{f}"
        );
        for k in ["id", "severity", "title", "message", "fix"] {
            assert!(
                f[k].as_str().is_some_and(|s| !s.is_empty()),
                "{k} must be a non-empty string: {f}"
            );
        }
        assert!(f["path"].is_null() || f["path"].as_str().is_some_and(|p| p.starts_with('/')));
        assert!(
            f["layer"].is_null()
                || f["layer"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("sha256:") && l.len() == 71),
            "{f}"
        );
    }
    let ids: BTreeSet<String> = findings
        .iter()
        .map(|f| f["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, set(&["FS-002", "USR-004", "FS-001", "CFG-001"]));
    let s = &v["summary"];
    assert_eq!(
        keys(s),
        set(&[
            "total",
            "critical",
            "high",
            "medium",
            "low",
            "info",
            "max_severity"
        ])
    );
    assert_eq!(s["total"].as_u64(), Some(findings.len() as u64));
    let count = |sev: &str| findings.iter().filter(|f| f["severity"] == sev).count() as u64;
    for sev in ["critical", "high", "medium", "low", "info"] {
        assert_eq!(s[sev].as_u64(), Some(count(sev)), "summary.{sev}");
    }
    assert_eq!(s["max_severity"], "high");
    let setuid = findings
        .iter()
        .find(|f| f["id"] == "FS-002")
        .expect("FS-002");
    assert_eq!(setuid["path"], "/usr/bin/helper");
    assert_eq!(setuid["severity"], "high");
}

#[test]
fn fail_on_thresholds_set_the_exit_code() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = mixed_image(tmp.path());
    // The worst finding is high: every threshold up to high fails (exit 1).
    for (threshold, want) in [
        ("info", 1),
        ("low", 1),
        ("medium", 1),
        ("high", 1),
        ("critical", 0),
    ] {
        let r = audit(&[&image, "--fail-on", threshold]);
        assert_eq!(
            r.code(),
            Some(want),
            "--fail-on {threshold}:\n{}",
            r.describe()
        );
    }
    // Default threshold is high.
    assert_eq!(audit(&[&image]).code(), Some(1));
    // A clean image passes even --fail-on info.
    let clean = ImageDef::new(json!({
        "User": "10001",
        "Entrypoint": ["/app/x"],
        "Healthcheck": {"Test": ["CMD", "/app/x", "--health"]},
    }))
    .layer(vec![dir("app", 0o755), file("app/x", 0o555, FAKE_ELF)])
    .write_layout(&tmp.path().join("clean"), "v1");
    let r = audit(&[&clean.reference(), "--fail-on", "info"]);
    assert_eq!(r.code(), Some(0), "{}", r.describe());
    // Bad inputs are exit 2.
    assert_eq!(audit(&[&image, "--fail-on", "severe"]).code(), Some(2));
    let missing = format!("oci:{}:v1", tmp.path().join("nope").display());
    assert_eq!(audit(&[&missing]).code(), Some(2));
}

#[test]
fn policy_file_changes_severities_and_allows_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = mixed_image(tmp.path());
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        r#"# audit policy for the mixed test image
[severity]
"FS-002" = { severity = "low", reason = "helper is audited separately" }

[[allow]]
check = "FS-001"
path = "/app/Dockerfile"
reason = "kept on purpose as build documentation"
"#,
    )
    .expect("write policy");
    let p = policy.to_string_lossy().to_string();
    let r = audit(&[
        &image,
        "--format",
        "json",
        "--policy",
        &p,
        "--fail-on",
        "high",
    ]);
    // FS-002 is now low, FS-001 is allowed: the worst left is USR-004 (medium).
    assert_eq!(r.code(), Some(0), "{}", r.describe());
    let v = json_of(&r);
    let findings = v["findings"].as_array().expect("findings");
    let ids: BTreeSet<String> = findings
        .iter()
        .map(|f| f["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, set(&["FS-002", "USR-004", "CFG-001"]));
    let fs2 = findings
        .iter()
        .find(|f| f["id"] == "FS-002")
        .expect("FS-002");
    assert_eq!(fs2["severity"], "low");
    assert_eq!(v["summary"]["max_severity"], "medium");
    assert_eq!(
        audit(&[&image, "--policy", &p, "--fail-on", "medium"]).code(),
        Some(1)
    );
}

#[test]
fn policy_errors_are_input_errors_with_file_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = mixed_image(tmp.path());
    for (name, text, line, needle) in [
        (
            "unknown-key.toml",
            "[severity]\n\"CFG-001\" = \"low\"\n\n[[allow]]\ncheck = \"FS-001\"\nreason = \"x\"\npaht = \"/app\"\n",
            7,
            "paht",
        ),
        (
            "unknown-check.toml",
            "# comment\n[severity]\n\"SH-01\" = \"low\"\n",
            3,
            "SH-01",
        ),
        (
            "missing-reason.toml",
            "[[allow]]\ncheck = \"FS-001\"\npath = \"/app\"\n",
            1,
            "reason",
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write policy");
        let r = audit(&[&image, "--policy", &path.to_string_lossy()]);
        assert_eq!(r.code(), Some(2), "{name}:\n{}", r.describe());
        let at = format!("{}:{line}:", path.display());
        assert!(
            r.stderr.contains(&at),
            "{name}: the error must point at {at}\n{}",
            r.describe()
        );
        assert!(r.stderr.contains(needle), "{name}:\n{}", r.describe());
    }
    // The unknown ID error suggests the right one.
    let r = audit(&[
        &image,
        "--policy",
        &tmp.path().join("unknown-check.toml").to_string_lossy(),
    ]);
    assert!(r.stderr.contains("SH-001"), "{}", r.describe());
}

/// Validates `doc` against the vendored SARIF schema with Python's
/// `jsonschema` (the dialect the schema declares). Returns false when the
/// validator is missing (skip locally, fail in CI).
fn validate_sarif(doc_path: &Path) -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip_or_fail(
            "python3 with the jsonschema module is not installed (pip install jsonschema)",
        );
        return false;
    }
    let script = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc), key=lambda e: list(e.path))
for e in errors[:20]:
    print("/".join(str(p) for p in e.absolute_path), ":", e.message)
sys.exit(1 if errors else 0)
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(script)
        .arg(repo_root().join(SARIF_SCHEMA))
        .arg(doc_path);
    let r = run(cmd);
    assert!(
        r.success(),
        "SARIF output does not validate against the SARIF 2.1.0 schema:\n{}",
        r.describe()
    );
    true
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = mixed_image(tmp.path());
    let r = audit(&[&image, "--format", "sarif", "--fail-on", "critical"]);
    assert_eq!(r.code(), Some(0), "{}", r.describe());
    let v = json_of(&r);
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    let results = run0["results"].as_array().expect("results");
    let ids: BTreeSet<String> = results
        .iter()
        .map(|x| x["ruleId"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(ids, set(&["FS-002", "USR-004", "FS-001", "CFG-001"]));
    // Every ruleIndex points at the rule with that ID.
    let rules = run0["tool"]["driver"]["rules"].as_array().expect("rules");
    for res in results {
        let i = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], res["ruleId"]);
    }
    let doc = tmp.path().join("audit.sarif");
    std::fs::write(&doc, &r.stdout).expect("write sarif");
    validate_sarif(&doc);

    // A clean image is also a valid (empty-results) log; so is a rootfs audit.
    if let Some(rootfs) = alpine_rootfs("x86_64") {
        let r = audit(&[&format!("rootfs:{}", rootfs.display()), "--format", "sarif"]);
        let doc = tmp.path().join("alpine.sarif");
        std::fs::write(&doc, &r.stdout).expect("write sarif");
        validate_sarif(&doc);
    }
}

#[test]
fn sarif_validator_rejects_a_broken_log() {
    // The validator itself must be able to fail, or the test above proves
    // nothing: a log without `version` is invalid SARIF.
    let tmp = tempfile::tempdir().expect("tempdir");
    let doc = tmp.path().join("bad.sarif");
    std::fs::write(&doc, r#"{"runs": []}"#).expect("write");
    let ok = std::panic::catch_unwind(|| validate_sarif(&doc));
    if let Ok(false) = ok {
        return; // validator missing: skipped (or failed in CI above)
    }
    assert!(ok.is_err(), "an invalid SARIF log passed validation");
}

#[test]
fn explain_exists_for_every_check_and_rejects_unknown_ids() {
    let mut cmd = ironhull();
    cmd.args(["checks", "--json"]);
    let r = run(cmd);
    r.assert_success();
    let checks: Value = serde_json::from_str(&r.stdout).expect("checks --json is JSON");
    let checks = checks.as_array().expect("array");
    assert!(checks.len() >= 19, "the issue lists at least 19 checks");
    for c in checks {
        let id = c["id"].as_str().expect("id");
        let mut cmd = ironhull();
        cmd.args(["explain", id]);
        let r = run(cmd);
        assert_eq!(r.code(), Some(0), "explain {id}:\n{}", r.describe());
        assert!(r.stdout.contains(id), "{}", r.describe());
        assert!(
            r.stdout.contains(c["title"].as_str().unwrap_or("?")),
            "{}",
            r.describe()
        );
        assert!(r.stdout.contains("fix:"), "{}", r.describe());
        assert!(r.stdout.contains(c["severity"].as_str().unwrap_or("?")));
    }
    for (wrong, hint) in [("NOPE", None), ("SH-01", Some("SH-001"))] {
        let mut cmd = ironhull();
        cmd.args(["explain", wrong]);
        let r = run(cmd);
        assert_eq!(r.code(), Some(2), "explain {wrong}:\n{}", r.describe());
        assert!(r.stderr.contains("ironhull checks"), "{}", r.describe());
        if let Some(h) = hint {
            assert!(r.stderr.contains(h), "{}", r.describe());
        }
    }
}
