//! Independent verifiers of ironhull's signatures (issue 16, "Proof").
//!
//! cosign itself cannot be installed here, so each signed object ironhull
//! writes is checked by someone else's code, pinned to exact versions by
//! `.ci/install-deps.sh`:
//! - [`Verifiers::sigstore_verify`]: Sigstore bundles v0.3, by npm
//!   `@sigstore/verify@3.1.1` (tests/verifiers/verify_bundle.cjs, whose header
//!   spells out the exact bundle shape that passes);
//! - [`Verifiers::dsse_check`]: DSSE envelopes by PyPI `securesystemslib==1.6.0`,
//!   Statements and SLSA v1 predicates by `in-toto-attestation==0.9.3`
//!   (tests/verifiers/dsse_check.py);
//! - [`Verifiers::simplesigning_check`]: cosign legacy `.sig` layers, by
//!   Python `cryptography` and containers/image's strict payload rules
//!   (tests/verifiers/simplesigning.py).
//!
//! Each script exits 0 (verified), 1 (rejected, reason on stderr) or
//! anything else (harness broken). The wrappers map 0 to `Ok(summary)`, 1 to
//! `Err(reason)`, and panic on the rest, so a broken verifier can never pass
//! for a rejection. tests/verifier_harness.rs proves each one says no.
//!
//! Usage:
//! ```ignore
//! let Some(v) = common::sigverify::Verifiers::require() else { return };
//! v.sigstore_verify(&bundle, &pubkey, &[&digest], Some(SIGN_V1)).unwrap();
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One verifier run is a small script over a few KB; a minute is generous.
const VERIFIER_TIMEOUT: Duration = Duration::from_secs(120);

/// Where `.ci/install-deps.sh` runs `npm ci` for tests/verifiers/package.json.
pub const DEFAULT_SIGSTORE_NODE_MODULES: &str = "/opt/ironhull-tools/sigstore-verify/node_modules";

/// The Python distributions the scripts need, at the versions install-deps
/// pins (a different version is a different verifier, so it is "missing").
const PYTHON_PINS: &[(&str, &str)] = &[
    ("securesystemslib", "1.6.0"),
    ("in-toto-attestation", "0.9.3"),
];

/// The prerequisites of the independent verifiers, found once per test.
#[derive(Debug, Clone)]
pub struct Verifiers {
    node: PathBuf,
    python: PathBuf,
    node_modules: PathBuf,
    scripts: PathBuf,
}

impl Verifiers {
    /// Finds node, python3, the pinned npm modules and the pinned Python
    /// modules. Anything missing is a printed SKIP locally and a failure
    /// in CI (see the module docs of `common`).
    pub fn require() -> Option<Verifiers> {
        let node = super::require_tool("node")?;
        let python = super::require_tool("python3")?;
        let scripts = super::repo_root().join("tests/verifiers");
        let Some(node_modules) = sigstore_node_modules(&scripts) else {
            super::skip_or_fail(&format!(
                "@sigstore/verify@3.1.1 is not installed (looked in {}, $IRONHULL_SIGSTORE_NODE_MODULES \
                 and {DEFAULT_SIGSTORE_NODE_MODULES}; install with .ci/install-deps.sh)",
                scripts.join("node_modules").display()
            ));
            return None;
        };
        if let Err(why) = python_pins_present(&python) {
            super::skip_or_fail(&format!("{why} (install with .ci/install-deps.sh)"));
            return None;
        }
        Some(Verifiers {
            node,
            python,
            node_modules,
            scripts,
        })
    }

    /// The directory holding the verifier scripts (tests/verifiers).
    pub fn scripts_dir(&self) -> &Path {
        &self.scripts
    }

    /// Verifies a Sigstore bundle with @sigstore/verify, `pubkey` (PKIX PEM)
    /// as the only trust material and no log or timestamp thresholds; then
    /// checks that every `digests` entry (`sha256:HEX`) is a Statement
    /// subject and, when given, the predicate type.
    pub fn sigstore_verify(
        &self,
        bundle: &Path,
        pubkey: &Path,
        digests: &[&str],
        predicate_type: Option<&str>,
    ) -> Result<String, String> {
        let mut cmd = Command::new(&self.node);
        cmd.arg(self.scripts.join("verify_bundle.cjs"))
            .arg(bundle)
            .arg(pubkey)
            .env("NODE_PATH", &self.node_modules);
        for d in digests {
            cmd.arg("--digest").arg(d);
        }
        if let Some(p) = predicate_type {
            cmd.arg("--predicate-type").arg(p);
        }
        verdict("verify_bundle.cjs", cmd)
    }

    /// Verifies a DSSE envelope (or a bundle's `dsseEnvelope`) with
    /// securesystemslib and schema-checks its Statement with
    /// in-toto-attestation; `slsa` also checks a SLSA provenance v1 predicate.
    pub fn dsse_check(&self, file: &Path, pubkey: &Path, slsa: bool) -> Result<String, String> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(self.scripts.join("dsse_check.py"))
            .arg(file)
            .arg(pubkey);
        if slsa {
            cmd.arg("--slsa");
        }
        verdict("dsse_check.py", cmd)
    }

    /// Verifies a legacy simple-signing `.sig` layer: `payload` is the layer
    /// blob, `signature_b64` a file holding its
    /// `dev.cosignproject.cosign/signature` annotation.
    pub fn simplesigning_check(
        &self,
        payload: &Path,
        signature_b64: &Path,
        pubkey: &Path,
        digest: &str,
        reference: &str,
    ) -> Result<String, String> {
        let mut cmd = Command::new(&self.python);
        cmd.arg(self.scripts.join("simplesigning.py"))
            .arg(payload)
            .arg(signature_b64)
            .arg(pubkey)
            .arg("--digest")
            .arg(digest)
            .arg("--reference")
            .arg(reference);
        verdict("simplesigning.py", cmd)
    }

    /// Runs tests/verifiers/make_signed.py: good and one-flaw-each signed
    /// objects in `outdir` (see that script's docs for the file list).
    pub fn make_signed(&self, outdir: &Path, digest: &str, reference: &str) {
        let mut cmd = Command::new(&self.python);
        cmd.arg(self.scripts.join("make_signed.py"))
            .arg(outdir)
            .arg("--digest")
            .arg(digest)
            .arg("--reference")
            .arg(reference);
        super::run_timeout(cmd, VERIFIER_TIMEOUT).assert_success();
    }
}

/// The first node_modules holding @sigstore/verify: the repo's own
/// (`npm ci` in tests/verifiers), `$IRONHULL_SIGSTORE_NODE_MODULES`, then
/// install-deps' prefix.
fn sigstore_node_modules(scripts: &Path) -> Option<PathBuf> {
    let mut candidates = vec![scripts.join("node_modules")];
    if let Some(v) = std::env::var_os("IRONHULL_SIGSTORE_NODE_MODULES").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(v));
    }
    candidates.push(PathBuf::from(DEFAULT_SIGSTORE_NODE_MODULES));
    candidates
        .into_iter()
        .find(|dir| dir.join("@sigstore/verify/package.json").is_file())
}

/// Checks the pinned Python distributions (and `cryptography`, which both
/// scripts import) are importable at their pinned versions.
fn python_pins_present(python: &Path) -> Result<(), String> {
    let mut probe = String::from(
        "import sys, importlib.metadata as m\nimport cryptography, securesystemslib, in_toto_attestation, google.protobuf\n",
    );
    for (dist, version) in PYTHON_PINS {
        probe.push_str(&format!(
            "v = m.version({dist:?})\nif v != {version:?}: sys.exit('{dist} is ' + v + ', want {version}')\n"
        ));
    }
    let out = Command::new(python)
        .arg("-c")
        .arg(&probe)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        Err(format!(
            "the pinned Python verifiers (securesystemslib==1.6.0, in-toto-attestation==0.9.3, \
             cryptography) are not importable: {last}"
        ))
    }
}

/// Maps a verifier's exit status to the wrappers' contract (module docs).
fn verdict(script: &str, cmd: Command) -> Result<String, String> {
    let r = super::run_timeout(cmd, VERIFIER_TIMEOUT);
    match r.code() {
        Some(0) => Ok(r.stdout.trim().to_string()),
        Some(1) => Err(r.stderr.trim().to_string()),
        _ => panic!(
            "{script} did not give a verdict (exit {}): the harness is broken\n{}",
            r.status,
            r.describe()
        ),
    }
}
