//! `build --sign`, `sign` and `verify`, checked by verifiers ironhull does
//! not share code with: `@sigstore/verify` 3.1.1 (every bundle, with the
//! public key as the only trust material), securesystemslib 1.6.0 and
//! in-toto-attestation 0.9.3 (every DSSE envelope, the Statement and the
//! SLSA v1 predicate), and a containers/image-strict simple-signing check
//! (every legacy `.sig` layer). Everything is read back from a real
//! Distribution registry over its HTTP API, and `skopeo` lists the tags.

mod common;
#[path = "common/registry.rs"]
mod reg;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::sigverify::Verifiers;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

const SPEC: &str = r#"[image]
name = "signed"
tags = ["1"]

[base]
image = "static"

[user]
uid = 10001

[[artifacts]]
src = "build/hello"
dest = "/app/hello"
mode = 0o555

[config]
entrypoint = ["/app/hello"]
"#;

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

const PASSWORD: &str = "correct horse battery staple";
const EPOCH: &str = "1700000000";

/// A project (spec + a stand-in executable) and a key pair made by the CLI.
fn project(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    fs::create_dir_all(dir.join("build")).unwrap();
    fs::write(dir.join("build/hello"), b"\x7fELF not really, never run\n").unwrap();
    let spec = dir.join("builder.toml");
    fs::write(&spec, SPEC).unwrap();
    let prefix = dir.join("cosign");
    let mut c = ironhull();
    c.args(["generate-key-pair", "--output-key-prefix"])
        .arg(&prefix)
        .env("IRONHULL_PASSWORD", PASSWORD);
    run(c).assert_success();
    (spec, dir.join("cosign.key"), dir.join("cosign.pub"))
}

fn signed_build(spec: &Path, cache: &Path, key: &Path, extra: &[&str]) -> std::process::Command {
    let mut args: Vec<String> = vec!["--sign".into(), "--key".into(), key.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = ironhull_build(spec, cache, &a);
    c.env("IRONHULL_PASSWORD", PASSWORD)
        .env("SOURCE_DATE_EPOCH", EPOCH);
    c
}

const ACCEPT: &str =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

/// GET from the registry's HTTP API (no ironhull code on this path).
fn get(url: &str) -> Option<Vec<u8>> {
    let mut r = ureq::get(url).header("Accept", ACCEPT).call().ok()?;
    r.body_mut().with_config().limit(8 << 20).read_to_vec().ok()
}

fn get_json(url: &str) -> Option<Value> {
    get(url).and_then(|b| serde_json::from_slice(&b).ok())
}

/// The bundles the registry holds for `digest` (via the fallback tag:
/// Distribution 2.8 has no referrers API), by predicate type annotation.
fn bundles_of(base: &str, digest: &str) -> Vec<(String, Vec<u8>)> {
    let tag = digest.replace(':', "-");
    let idx = get_json(&format!("{base}/manifests/{tag}")).expect("fallback referrers index");
    let mut out = Vec::new();
    for m in idx["manifests"].as_array().unwrap() {
        if m["artifactType"] != "application/vnd.dev.sigstore.bundle.v0.3+json" {
            continue;
        }
        let man = get_json(&format!(
            "{base}/manifests/{}",
            m["digest"].as_str().unwrap()
        ))
        .unwrap();
        assert_eq!(man["subject"]["digest"], digest, "the referrer's subject");
        assert_eq!(
            man["annotations"]["dev.sigstore.bundle.content"],
            "dsse-envelope"
        );
        let layer = &man["layers"][0];
        assert_eq!(
            layer["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        let bytes = get(&format!(
            "{base}/blobs/{}",
            layer["digest"].as_str().unwrap()
        ))
        .unwrap();
        out.push((
            man["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap()
                .to_string(),
            bytes,
        ));
    }
    out
}

#[test]
fn signed_build_is_accepted_by_independent_verifiers_and_by_verify() {
    let Some(v) = Verifiers::require() else {
        return;
    };
    let Some(_) = require_tool("docker-registry") else {
        return;
    };
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (spec, key, pubkey) = project(d.path());
    let cache = d.path().join("cache");
    // The unsigned image, for comparison: signing must not change it.
    let mut c = ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", d.path().join("plain").display())],
    );
    c.env("SOURCE_DATE_EPOCH", EPOCH);
    let plain = run(c);
    plain.assert_success();
    let digest = plain.stdout.trim().to_string();

    let registry = reg::Registry::start(reg::Auth::None, None);
    let repo = format!("{}/app", registry.host);
    let r = run(signed_build(
        &spec,
        &cache,
        &key,
        &["-o", &format!("docker://{repo}:1"), "--sbom"],
    ));
    r.assert_success();
    assert_eq!(r.stdout.trim(), digest, "signing changed the image");
    assert!(!r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD));

    let tags = run({
        let mut c = std::process::Command::new("skopeo");
        c.args([
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{repo}"),
        ]);
        c
    });
    tags.assert_success();
    let hex = digest.trim_start_matches("sha256:");
    assert!(
        tags.stdout.contains(&format!("\"sha256-{hex}\"")),
        "{}",
        tags.stdout
    );
    assert!(
        tags.stdout.contains(&format!("\"sha256-{hex}.sig\"")),
        "{}",
        tags.stdout
    );
    let inspect = run({
        let mut c = std::process::Command::new("skopeo");
        c.args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{repo}:1"),
        ]);
        c
    });
    inspect.assert_success();
    let inspected: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(
        inspected["Digest"],
        digest.as_str(),
        "the pushed image's digest"
    );

    let base = format!("http://{}/v2/app", registry.host);
    let bundles = bundles_of(&base, &digest);
    let types: Vec<&str> = bundles.iter().map(|(t, _)| t.as_str()).collect();
    for want in [
        "https://sigstore.dev/cosign/sign/v1",
        "https://slsa.dev/provenance/v1",
        "https://spdx.dev/Document",
    ] {
        assert!(types.contains(&want), "{want} missing from {types:?}");
    }
    for (i, (ptype, bytes)) in bundles.iter().enumerate() {
        let f = d.path().join(format!("bundle-{i}.json"));
        fs::write(&f, bytes).unwrap();
        v.sigstore_verify(&f, &pubkey, &[&digest], Some(ptype))
            .unwrap_or_else(|e| panic!("@sigstore/verify refused the {ptype} bundle: {e}"));
        let slsa = ptype == "https://slsa.dev/provenance/v1";
        v.dsse_check(&f, &pubkey, slsa)
            .unwrap_or_else(|e| panic!("securesystemslib/in-toto refused the {ptype} bundle: {e}"));
        // A tampered copy is refused by the independent verifier too.
        let mut b: Value = serde_json::from_slice(bytes).unwrap();
        let payload = STANDARD
            .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let evil = String::from_utf8(payload)
            .unwrap()
            .replacen("sha256", "sha512", 1);
        b["dsseEnvelope"]["payload"] = STANDARD.encode(evil).into();
        let t = d.path().join(format!("tampered-{i}.json"));
        fs::write(&t, serde_json::to_vec(&b).unwrap()).unwrap();
        assert!(v.sigstore_verify(&t, &pubkey, &[], None).is_err());
    }
    // The provenance records what went in.
    let (_, prov) = bundles
        .iter()
        .find(|(t, _)| t == "https://slsa.dev/provenance/v1")
        .unwrap();
    let env: Value = serde_json::from_slice(prov).unwrap();
    let st: Value = serde_json::from_slice(
        &STANDARD
            .decode(env["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let pred = &st["predicate"];
    let spec_sha = sha256_hex(SPEC.as_bytes());
    assert_eq!(
        pred["buildDefinition"]["externalParameters"]["spec"]["digest"]["sha256"],
        spec_sha
    );
    let hello_sha = sha256_hex(&fs::read(d.path().join("build/hello")).unwrap());
    let deps = pred["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(
        deps.iter()
            .any(|x| x["digest"]["sha256"] == hello_sha.as_str()),
        "the artifact's sha256 is a resolved dependency: {deps:?}"
    );
    assert_eq!(
        pred["runDetails"]["metadata"]["startedOn"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(
        pred["runDetails"]["builder"]["version"]["ironhull"],
        env!("CARGO_PKG_VERSION")
    );

    // The legacy .sig: every layer verifies, strictly parsed.
    let sig = get_json(&format!("{base}/manifests/sha256-{hex}.sig")).unwrap();
    let layers = sig["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    for l in layers {
        assert_eq!(
            l["mediaType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        let payload = get(&format!("{base}/blobs/{}", l["digest"].as_str().unwrap())).unwrap();
        let p = d.path().join("payload.json");
        fs::write(&p, &payload).unwrap();
        let s = d.path().join("payload.sig");
        fs::write(
            &s,
            l["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        v.simplesigning_check(&p, &s, &pubkey, &digest, &repo)
            .unwrap_or_else(|e| panic!("the legacy signature was refused: {e}"));
    }

    // ironhull verify: the signature and each attestation.
    let image = format!("docker://{repo}:1");
    for att in [None, Some("slsaprovenance1"), Some("spdx")] {
        let mut c = ironhull();
        c.args(["verify", &image, "--key"])
            .arg(&pubkey)
            .arg("--json");
        if let Some(a) = att {
            c.args(["--attestation", a]);
        }
        let out = run(c);
        out.assert_success();
        let j: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(j["verified"]["digest"], digest.as_str());
    }
    // The CycloneDX attestation was not made: asking for it fails.
    let mut c = ironhull();
    c.args(["verify", &image, "--key"])
        .arg(&pubkey)
        .args(["--attestation", "cyclonedx"]);
    run(c).assert_code(1);

    // Signing again is deterministic: the same referrers, nothing added.
    let before = get_json(&format!("{base}/manifests/sha256-{hex}")).unwrap();
    let mut c = ironhull();
    c.args(["sign", &image, "--key"])
        .arg(&key)
        .env("IRONHULL_PASSWORD", PASSWORD)
        .env("SOURCE_DATE_EPOCH", EPOCH);
    run(c).assert_success();
    let after = get_json(&format!("{base}/manifests/sha256-{hex}")).unwrap();
    assert_eq!(
        before["manifests"], after["manifests"],
        "re-signing changed the referrers"
    );
    let sig_after = get_json(&format!("{base}/manifests/sha256-{hex}.sig")).unwrap();
    assert_eq!(
        sig_after["layers"], sig["layers"],
        "re-signing added a .sig layer"
    );
}

/// Rewrites the layout's bundle for `predicate` with `edit` applied to its
/// Statement (re-stored under its new digest, like an attacker with write
/// access to the layout would), and drops every other signature.
fn tamper_layout(dir: &Path, edit: impl Fn(&mut Value), subject: Option<&str>) {
    let index_path = dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let put = |b: &[u8]| -> (String, u64) {
        let d = format!("sha256:{}", sha256_hex(b));
        fs::write(blob(&d), b).unwrap();
        (d, b.len() as u64)
    };
    let list = index["manifests"].as_array_mut().unwrap();
    let mut kept = Vec::new();
    for e in list.drain(..) {
        let is_sign = e["annotations"]["dev.sigstore.bundle.predicateType"]
            == "https://sigstore.dev/cosign/sign/v1";
        let is_image = e.get("artifactType").is_none()
            && !e["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap_or("")
                .ends_with(".sig");
        if is_image {
            kept.push(e);
        } else if is_sign && kept.iter().all(|k: &Value| k.get("artifactType").is_none()) {
            let mut man: Value =
                serde_json::from_slice(&fs::read(blob(e["digest"].as_str().unwrap())).unwrap())
                    .unwrap();
            let mut bundle: Value = serde_json::from_slice(
                &fs::read(blob(man["layers"][0]["digest"].as_str().unwrap())).unwrap(),
            )
            .unwrap();
            let mut st: Value = serde_json::from_slice(
                &STANDARD
                    .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap();
            edit(&mut st);
            bundle["dsseEnvelope"]["payload"] =
                STANDARD.encode(serde_json::to_vec(&st).unwrap()).into();
            let (bd, bs) = put(&serde_json::to_vec(&bundle).unwrap());
            man["layers"][0]["digest"] = bd.into();
            man["layers"][0]["size"] = bs.into();
            if let Some(s) = subject {
                man["subject"]["digest"] = s.into();
            }
            let (md, ms) = put(&serde_json::to_vec(&man).unwrap());
            let mut e = e.clone();
            e["digest"] = md.into();
            e["size"] = ms.into();
            kept.push(e);
        }
    }
    *list = kept;
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

fn verify(image: &str, pubkey: &Path) -> Run {
    let mut c = ironhull();
    c.args(["verify", image, "--key"]).arg(pubkey);
    run(c)
}

#[test]
fn verify_says_why_a_signature_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (spec, key, pubkey) = project(d.path());
    let cache = d.path().join("cache");
    let layout = |n: &str| d.path().join(n);
    let signed = run(signed_build(
        &spec,
        &cache,
        &key,
        &["-o", &format!("oci:{}:1", layout("a").display())],
    ));
    signed.assert_success();
    let digest = signed.stdout.trim().to_string();
    let image = format!("oci:{}:1", layout("a").display());
    let ok = verify(&image, &pubkey);
    ok.assert_success();
    assert!(ok.stdout.contains(&digest), "{}", ok.describe());
    // Attestations live in the layout too.
    let mut c = ironhull();
    c.args(["verify", &image, "--key"])
        .arg(&pubkey)
        .args(["--attestation", "slsaprovenance1"]);
    run(c).assert_success();

    // No signature at all.
    let unsigned = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", layout("u").display())],
    ));
    unsigned.assert_success();
    let r = verify(&format!("oci:{}:1", layout("u").display()), &pubkey);
    r.assert_code(1);
    assert!(r.stderr.contains("no signature found"), "{}", r.describe());

    // Another key.
    let other = d.path().join("other");
    let mut c = ironhull();
    c.args(["generate-key-pair", "--output-key-prefix"])
        .arg(&other)
        .env("IRONHULL_PASSWORD", "x");
    run(c).assert_success();
    let r = verify(&image, &d.path().join("other.pub"));
    r.assert_code(1);
    assert!(r.stderr.contains("another key"), "{}", r.describe());

    // A private key where the public key is needed: a clear usage error.
    let r = verify(&image, &key);
    r.assert_code(2);
    assert!(
        r.stderr.to_lowercase().contains("public"),
        "{}",
        r.describe()
    );

    // A tampered payload (the signed statement changed after signing).
    let copy = |from: &str, to: &str| {
        let st = run({
            let mut c = std::process::Command::new("cp");
            c.arg("-a").arg(layout(from)).arg(layout(to));
            c
        });
        st.assert_success();
    };
    copy("a", "t");
    tamper_layout(
        &layout("t"),
        |st| st["predicate"] = serde_json::json!({"x": 1}),
        None,
    );
    let r = verify(&format!("oci:{}:1", layout("t").display()), &pubkey);
    r.assert_code(1);
    assert!(
        r.stderr.contains("changed after signing"),
        "{}",
        r.describe()
    );

    // A valid signature for another digest, attached to this image.
    copy("u", "o");
    tamper_layout_attach_foreign(&layout("a"), &layout("o"));
    let r = verify(&format!("oci:{}:1", layout("o").display()), &pubkey);
    r.assert_code(1);
    assert!(
        r.stderr.contains("made for another image"),
        "{}",
        r.describe()
    );
}

/// Lists `from`'s (valid) image-signature referrer in `to`'s index with
/// its subject rewritten to `to`'s image: a signature replayed onto
/// another image.
fn tamper_layout_attach_foreign(from: &Path, to: &Path) {
    let fi: Value = serde_json::from_slice(&fs::read(from.join("index.json")).unwrap()).unwrap();
    let ti_path = to.join("index.json");
    let mut ti: Value = serde_json::from_slice(&fs::read(&ti_path).unwrap()).unwrap();
    let target = ti["manifests"][0].clone();
    let e = fi["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://sigstore.dev/cosign/sign/v1"
        })
        .unwrap()
        .clone();
    let blob = |dir: &Path, d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let mut man: Value =
        serde_json::from_slice(&fs::read(blob(from, e["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    for l in ["config", "layers"] {
        let ds: Vec<String> = if l == "config" {
            vec![man["config"]["digest"].as_str().unwrap().into()]
        } else {
            man["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["digest"].as_str().unwrap().to_string())
                .collect()
        };
        for dg in ds {
            fs::copy(blob(from, &dg), blob(to, &dg)).unwrap();
        }
    }
    man["subject"]["digest"] = target["digest"].clone();
    man["subject"]["size"] = target["size"].clone();
    let bytes = serde_json::to_vec(&man).unwrap();
    let md = format!("sha256:{}", sha256_hex(&bytes));
    fs::write(blob(to, &md), &bytes).unwrap();
    let mut ne = e.clone();
    ne["digest"] = md.into();
    ne["size"] = (bytes.len() as u64).into();
    ti["manifests"].as_array_mut().unwrap().push(ne);
    fs::write(&ti_path, serde_json::to_vec(&ti).unwrap()).unwrap();
}

#[test]
fn bad_keys_fail_before_anything_is_written() {
    let d = tempfile::tempdir().unwrap();
    let (spec, key, pubkey) = project(d.path());
    let cache = d.path().join("cache");
    let out = d.path().join("out");
    let dest = format!("oci:{}:1", out.display());
    // Wrong password.
    let mut c = ironhull_build(
        &spec,
        &cache,
        &["--sign", "--key", key.to_str().unwrap(), "-o", &dest],
    );
    c.env("IRONHULL_PASSWORD", "wrong password");
    let r = run(c);
    r.assert_code(2);
    assert!(r.stderr.contains("password"), "{}", r.describe());
    assert!(
        !r.stderr.contains("wrong password"),
        "the password was printed: {}",
        r.describe()
    );
    assert!(!out.exists(), "a failed signing build wrote its output");
    // A public key given as the private key.
    let mut c = ironhull_build(
        &spec,
        &cache,
        &["--sign", "--key", pubkey.to_str().unwrap(), "-o", &dest],
    );
    c.env("IRONHULL_PASSWORD", PASSWORD);
    let r = run(c);
    r.assert_code(2);
    assert!(!out.exists());
    // A missing key file.
    let mut c = ironhull_build(
        &spec,
        &cache,
        &["--sign", "--key", "/nonexistent/cosign.key", "-o", &dest],
    );
    c.env("IRONHULL_PASSWORD", PASSWORD);
    let r = run(c);
    r.assert_code(2);
    assert!(
        r.stderr.contains("/nonexistent/cosign.key"),
        "{}",
        r.describe()
    );
    assert!(!out.exists());
    // No password and no terminal.
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["--sign", "--key", key.to_str().unwrap(), "-o", &dest],
    ));
    r.assert_code(2);
    assert!(r.stderr.contains("IRONHULL_PASSWORD"), "{}", r.describe());
    assert!(!out.exists());
}

#[test]
fn a_signed_layout_stays_signed_when_pushed() {
    let Some(_) = require_tool("docker-registry") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (spec, key, pubkey) = project(d.path());
    let cache = d.path().join("cache");
    let layout = d.path().join("l");
    let image = format!("oci:{}:1", layout.display());
    let r = run(signed_build(&spec, &cache, &key, &["-o", &image, "--sbom"]));
    r.assert_success();
    let digest = r.stdout.trim().to_string();
    // The layout still reads as one image without a tag, next to its
    // signatures.
    let mut c = ironhull();
    c.args(["inspect", &format!("oci:{}", layout.display()), "--json"]);
    run(c).assert_success();

    let registry = reg::Registry::start(reg::Auth::None, None);
    let target = format!("docker://{}/pushed:1", registry.host);
    let mut c = ironhull();
    c.args(["push", &image, &target, "--quiet"]);
    run(c).assert_success();
    for att in [None, Some("slsaprovenance1"), Some("spdx")] {
        let mut c = ironhull();
        c.args(["verify", &target, "--key"])
            .arg(&pubkey)
            .arg("--json");
        if let Some(a) = att {
            c.args(["--attestation", a]);
        }
        let out = run(c);
        out.assert_success();
        let j: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(j["verified"]["digest"], digest.as_str());
    }
    // The legacy .sig came too: bundle-less verification still passes.
    let hex = digest.trim_start_matches("sha256:");
    let sig = get_json(&format!(
        "http://{}/v2/pushed/manifests/sha256-{hex}.sig",
        registry.host
    ));
    assert!(sig.is_some(), "the .sig tag was not pushed");
}

#[test]
fn a_registry_that_refuses_the_referrers_index_fails_the_build_and_moves_no_tag() {
    let Some(_) = require_tool("docker-registry") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let (spec, key, _) = project(d.path());
    let registry = reg::Registry::start(reg::Auth::None, None);
    let proxy = reg::Proxy::start(registry.port);
    // The first PUT of a `sha256-<hex>` tag (the fallback referrers index).
    proxy.inject("PUT", "/manifests/sha256-", reg::Fault::Status(403));
    let r = run(signed_build(
        &spec,
        &d.path().join("cache"),
        &key,
        &["-o", &format!("docker://{}/refused:1", proxy.host())],
    ));
    r.assert_code(3);
    assert!(
        r.stderr.contains("attaching signatures") && r.stderr.contains("403"),
        "{}",
        r.describe()
    );
    assert!(proxy.pending().is_empty(), "the fault was never hit");
    // No tag moved to an image whose signing failed.
    assert!(
        get(&format!("http://{}/v2/refused/manifests/1", registry.host)).is_none(),
        "the tag points at an unsigned image"
    );
}
