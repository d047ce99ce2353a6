//! The secret detector against a corpus of realistic secret-bearing files
//! and realistic harmless ones, with three independent witnesses: Trivy's
//! secret scanner, Yelp's `detect-secrets` and `secretlint` (recommended
//! preset).
//!
//! Corpus: `tests/data/secrets/{positive,negative}/<case>/<path in image>`
//! (generated once by `tests/data/secrets/generate.py`, throwaway test keys;
//! see its README), plus harmless files of this machine copied in at run
//! time: the CA certificates in /etc/ssl/certs, ELF binaries from /usr/bin,
//! Python standard-library modules that handle passwords, and npm's own
//! (partly minified) JavaScript.
//!
//! Targets (issue 13): ironhull flags every file that any witness flags as a
//! private key or a provider token (except the [`EXCEPTIONS`], each also in
//! README.md with its reason), and no negative at all. The confusion matrix
//! of every tool is printed.

mod common;

use common::*;
use ironhull::fs::ImagePath;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files a witness flags as a key or token that ironhull deliberately does
/// not: (case, witness, reason). Mirrored in README.md.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "aws-docs-example",
        "detect-secrets",
        "AKIAIOSFODNN7EXAMPLE is AWS's documented example key, in every SDK",
    ),
    (
        "pem-header-constant",
        "detect-secrets",
        "a PEM header string with no key body is a parser constant, not a key",
    ),
    (
        "slack-placeholder",
        "secretlint",
        "xoxb-your-token-here is a documentation placeholder",
    ),
    (
        "stripe-test-key",
        "secretlint",
        "sk_test_ keys are Stripe test-mode keys: no live data, no money",
    ),
];

/// One corpus file: `rel` is its path below the corpus root
/// (`positive/<case>/<image path>`).
#[derive(Clone, Debug)]
struct Case {
    rel: String,
    case: String,
    image_path: String,
    positive: bool,
}

fn data_dir() -> PathBuf {
    repo_root().join("tests/data/secrets")
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            walk(root, &p, out);
        } else if m.is_file() {
            out.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
        }
    }
}

/// Copies harmless files of this machine into `root/negative/system-*`.
fn add_system_negatives(root: &Path) {
    let mut picked: Vec<(String, PathBuf)> = Vec::new();
    let mut certs: Vec<PathBuf> = fs::read_dir("/etc/ssl/certs")
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    certs.sort();
    for c in certs
        .iter()
        .filter(|c| c.extension().is_some_and(|e| e == "pem"))
    {
        picked.push(("system-ca".into(), c.clone()));
    }
    picked.push((
        "system-ca-bundle".into(),
        PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
    ));
    let mut bins: Vec<PathBuf> = fs::read_dir("/usr/bin")
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    bins.sort();
    let mut n = 0;
    for b in bins {
        let Ok(m) = fs::metadata(&b) else { continue };
        if !m.is_file() || m.len() > 8 << 20 {
            continue;
        }
        let head = fs::read(&b)
            .map(|d| d.starts_with(b"\x7fELF"))
            .unwrap_or(false);
        if head {
            picked.push(("system-bin".into(), b));
            n += 1;
            if n == 120 {
                break;
            }
        }
    }
    for m in [
        "getpass.py",
        "smtplib.py",
        "ftplib.py",
        "imaplib.py",
        "poplib.py",
        "netrc.py",
        "urllib/request.py",
        "urllib/parse.py",
        "http/cookiejar.py",
        "ssl.py",
        "hmac.py",
        "secrets.py",
    ] {
        picked.push((
            "system-python".into(),
            PathBuf::from(format!("/usr/lib/python3.11/{m}")),
        ));
    }
    let mut js = Vec::new();
    walk(
        Path::new("/usr/share/nodejs"),
        Path::new("/usr/share/nodejs"),
        &mut js,
    );
    for j in js
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .take(150)
    {
        picked.push(("system-js".into(), Path::new("/usr/share/nodejs").join(j)));
    }
    for (case, src) in picked {
        if !src.is_file() {
            continue;
        }
        let dest = root
            .join("negative")
            .join(&case)
            .join(src.strip_prefix("/").unwrap_or(&src));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(&src, &dest).unwrap();
    }
}

fn corpus(root: &Path) -> Vec<Case> {
    let mut rels = Vec::new();
    // Copy the committed corpus so the witnesses see exactly one tree.
    for kind in ["positive", "negative"] {
        let mut files = Vec::new();
        walk(&data_dir(), &data_dir().join(kind), &mut files);
        for f in files {
            let dest = root.join(&f);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(data_dir().join(&f), &dest).unwrap();
        }
    }
    add_system_negatives(root);
    walk(root, root, &mut rels);
    rels.into_iter()
        .filter_map(|r| {
            let s = r.to_string_lossy().into_owned();
            let mut parts = s.splitn(3, '/');
            let kind = parts.next()?;
            let case = parts.next()?.to_string();
            let image_path = parts.next()?.to_string();
            Some(Case {
                rel: s.clone(),
                case,
                image_path,
                positive: kind == "positive",
            })
        })
        .collect()
}

/// What one tool said about each file: rel path → (any finding, a key/token finding).
type Verdicts = BTreeMap<String, (bool, bool)>;

fn ironhull_verdicts(root: &Path, cases: &[Case]) -> Verdicts {
    let mut out = Verdicts::new();
    for c in cases {
        let path = ImagePath::parse(&c.image_path).unwrap();
        let mut f = fs::File::open(root.join(&c.rel)).unwrap();
        let hits = ironhull::secrets::scan_file(&path, &mut f).unwrap();
        out.insert(c.rel.clone(), (!hits.is_empty(), !hits.is_empty()));
    }
    out
}

fn mark(out: &mut Verdicts, rel: &str, key_or_token: bool) {
    let e = out.entry(rel.to_string()).or_insert((false, false));
    e.0 = true;
    e.1 |= key_or_token;
}

fn trivy_verdicts(root: &Path) -> Option<Verdicts> {
    let trivy = require_tool("trivy")?;
    let cache = tempfile::tempdir().unwrap();
    let r = run({
        let mut c = Command::new(trivy);
        c.args(["fs", "--scanners", "secret", "--format", "json", "--quiet"])
            .args(["--offline-scan", "--skip-db-update", "--skip-check-update"])
            .arg("--cache-dir")
            .arg(cache.path())
            .arg(root);
        c
    });
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("trivy JSON");
    let mut out = Verdicts::new();
    for res in v["Results"].as_array().into_iter().flatten() {
        let Some(target) = res["Target"].as_str() else {
            continue;
        };
        if res["Secrets"].as_array().is_some_and(|s| !s.is_empty()) {
            // Every Trivy secret rule is a provider token or a key format.
            mark(&mut out, target, true);
        }
    }
    Some(out)
}

/// detect-secrets plugins that recognise a key or a provider's token (the
/// others are generic: entropy, keywords, basic auth).
const DS_KEY_OR_TOKEN: &[&str] = &[
    "Private Key",
    "AWS Access Key",
    "GitHub Token",
    "GitLab Token",
    "Slack Token",
    "Stripe Access Key",
    "NPM tokens",
    "PyPI Token",
    "JSON Web Token",
    "Discord Bot Token",
    "Twilio API Key",
    "Mailchimp Access Key",
    "SendGrid API Key",
    "Square OAuth Secret",
    "Azure Storage Account access key",
    "Artifactory Credentials",
    "IBM Cloud IAM Key",
    "IBM COS HMAC Credentials",
    "SoftLayer Credentials",
    "Telegram Bot Token",
    "OpenAI Token",
    "Cloudant Credentials",
];

fn detect_secrets_verdicts(root: &Path) -> Option<Verdicts> {
    let ds = require_tool("detect-secrets")?;
    let r = run({
        let mut c = Command::new(ds);
        c.current_dir(root).args(["scan", "--all-files", "."]);
        c
    });
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("detect-secrets JSON");
    let mut out = Verdicts::new();
    for (file, found) in v["results"].as_object().into_iter().flatten() {
        let rel = file.trim_start_matches("./");
        for f in found.as_array().into_iter().flatten() {
            let t = f["type"].as_str().unwrap_or("");
            mark(&mut out, rel, DS_KEY_OR_TOKEN.contains(&t));
        }
    }
    Some(out)
}

/// secretlint rules that are not about a key or a provider token: they
/// flag a kind of file or a generic pattern.
const SL_GENERIC: &[&str] = &[
    "@secretlint/secretlint-rule-basicauth",
    "@secretlint/secretlint-rule-no-k8s-kind-secret",
    "@secretlint/secretlint-rule-no-dotenv",
    "@secretlint/secretlint-rule-no-homedir",
    "@secretlint/secretlint-rule-database-connection-string",
    "@secretlint/secretlint-rule-filter-comments",
];

const SECRETLINT_DIR: &str = "/opt/ironhull-tools/secretlint";

fn secretlint_verdicts(root: &Path) -> Option<Verdicts> {
    let bin = Path::new(SECRETLINT_DIR).join("node_modules/.bin/secretlint");
    if !bin.is_file() {
        skip_or_fail(&format!(
            "secretlint not installed in {SECRETLINT_DIR} (install with .ci/install-deps.sh)"
        ));
        return None;
    }
    let rc = root.join(".secretlintrc.json");
    fs::write(
        &rc,
        r#"{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}"#,
    )
    .unwrap();
    let out_file = root.join(".secretlint-out.json");
    // Run directly: the JSON holds every file's content, too big to log.
    let status = Command::new(&bin)
        .current_dir(root)
        .env("NODE_PATH", Path::new(SECRETLINT_DIR).join("node_modules"))
        .args(["--format", "json", "--secretlintrc"])
        .arg(&rc)
        .arg("--secretlintignore")
        .arg("/dev/null")
        .arg("--output")
        .arg(&out_file)
        .args(["--no-maskSecrets", "**/*"])
        .status()
        .expect("run secretlint");
    fs::remove_file(&rc).unwrap();
    // Exit 1 means "found something"; anything else is a failure to run.
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "secretlint failed: {status}"
    );
    let text = fs::read_to_string(&out_file).expect("secretlint output");
    fs::remove_file(&out_file).unwrap();
    let v: Value = serde_json::from_str(&text).expect("secretlint JSON");
    let mut out = Verdicts::new();
    for f in v.as_array().into_iter().flatten() {
        let Some(path) = f["filePath"].as_str() else {
            continue;
        };
        let rel = Path::new(path)
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.to_string());
        for m in f["messages"].as_array().into_iter().flatten() {
            let rule = m["ruleId"].as_str().unwrap_or("");
            let generic = SL_GENERIC.iter().any(|g| rule.starts_with(g));
            mark(&mut out, &rel, !generic);
        }
    }
    Some(out)
}

#[derive(Default, Debug)]
struct Matrix {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

fn matrix(cases: &[Case], v: &Verdicts) -> Matrix {
    let mut m = Matrix::default();
    for c in cases {
        let flagged = v.get(&c.rel).is_some_and(|x| x.0);
        match (c.positive, flagged) {
            (true, true) => m.tp += 1,
            (true, false) => m.fn_ += 1,
            (false, true) => m.fp += 1,
            (false, false) => m.tn += 1,
        }
    }
    m
}

#[test]
fn corpus_against_three_witnesses() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let cases = corpus(&root);
    let positives = cases.iter().filter(|c| c.positive).count();
    let negatives = cases.len() - positives;
    assert!(positives >= 100, "only {positives} positives");
    assert!(negatives >= 300, "only {negatives} negatives");

    let ours = ironhull_verdicts(&root, &cases);
    let mut tools: Vec<(&str, Verdicts)> = vec![("ironhull", ours.clone())];
    for (name, v) in [
        ("trivy", trivy_verdicts(&root)),
        ("detect-secrets", detect_secrets_verdicts(&root)),
        ("secretlint", secretlint_verdicts(&root)),
    ] {
        if let Some(v) = v {
            tools.push((name, v));
        }
    }

    eprintln!(
        "secret corpus: {positives} positives, {negatives} negatives\n{:<16} {:>5} {:>5} {:>5} {:>5}",
        "tool", "TP", "FP", "FN", "TN"
    );
    for (name, v) in &tools {
        let m = matrix(&cases, v);
        eprintln!(
            "{name:<16} {:>5} {:>5} {:>5} {:>5}",
            m.tp, m.fp, m.fn_, m.tn
        );
    }

    let by_rel: BTreeMap<&str, &Case> = cases.iter().map(|c| (c.rel.as_str(), c)).collect();
    let mut problems = Vec::new();
    for c in cases.iter().filter(|c| !c.positive) {
        if ours.get(&c.rel).is_some_and(|x| x.0) {
            problems.push(format!("ironhull false positive: {}", c.rel));
        }
    }
    for c in cases.iter().filter(|c| c.positive) {
        if !ours.get(&c.rel).is_some_and(|x| x.0) {
            problems.push(format!("ironhull missed a positive: {}", c.rel));
        }
    }
    let mut used_exceptions = BTreeSet::new();
    for (name, v) in tools.iter().skip(1) {
        for (rel, (_, key_or_token)) in v {
            let Some(c) = by_rel.get(rel.as_str()) else {
                continue;
            };
            if !key_or_token || ours.get(rel).is_some_and(|x| x.0) {
                continue;
            }
            if let Some(e) = EXCEPTIONS
                .iter()
                .find(|(case, tool, _)| *case == c.case && tool == name)
            {
                used_exceptions.insert(e.0);
                continue;
            }
            problems.push(format!(
                "{name} flags {rel} as a key or token, ironhull does not"
            ));
        }
    }
    for (case, tool, _) in EXCEPTIONS {
        assert!(
            used_exceptions.contains(case),
            "exception ({case}, {tool}) is no longer needed; remove it here and in README.md"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
