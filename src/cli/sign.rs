//! `ironhull sign` and `ironhull verify`, and the key loading `build
//! --sign` shares with them. The library signs and verifies; this reads
//! the key (`--key`: a path, `env://VAR`), prints the result, and maps a
//! failed verification to exit 1.

use super::exit;
use ironhull::commands::sign::{self as cmd, SignJob, VerifyJob};
use ironhull::sign::documents::SignatureFormat;
use ironhull::sign::key_ref::{self, KeyRef};
use ironhull::sign::password;
use ironhull::sign::signer::Signer;
use ironhull::sign::statement::PredicateKind;
use serde_json::json;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  IRONHULL_PASSWORD=\"$PW\" ironhull sign docker://registry.example/app:1.0 --key cosign.key\n  ironhull sign oci:out/app:1.0 --key env://COSIGN_PRIVATE_KEY --signature-format bundle\n\nThe signature is a cosign v3 Sigstore bundle attached as an OCI 1.1 referrer, plus the legacy sha256-<hex>.sig tag (--signature-format both, the default). Nothing is sent to Fulcio, Rekor or any other service."
)]
pub struct SignArgs {
    /// The image: docker://REGISTRY/REPO[:TAG|@DIGEST] or oci:DIR[:TAG].
    pub image: String,
    /// The private key: a cosign.key path or env://VAR.
    #[arg(long)]
    pub key: String,
    /// bundle (cosign v3 referrers), legacy (.sig tag) or both.
    #[arg(long, default_value = "both", value_name = "FORMAT")]
    pub signature_format: String,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull verify docker://registry.example/app:1.0 --key cosign.pub\n  ironhull verify oci:out/app:1.0 --key cosign.pub --attestation slsaprovenance1 --json\n\nExit 0 only when a valid signature by this key covers the image's digest (with --attestation: a signed attestation of that type). Exit 1 says why not: no signature, another key, a tampered payload, another digest."
)]
pub struct VerifyArgs {
    /// The image: docker://REGISTRY/REPO[:TAG|@DIGEST] or oci:DIR[:TAG].
    pub image: String,
    /// The public key (cosign.pub), a path or env://VAR.
    #[arg(long)]
    pub key: String,
    /// Verify a signed attestation instead: slsaprovenance1, spdx or cyclonedx.
    #[arg(long, value_name = "TYPE")]
    pub attestation: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: super::registry::RegistryFlags,
}

/// `--signature-format`, with the fix in the error.
pub fn signature_format(s: &str) -> Result<SignatureFormat, String> {
    SignatureFormat::parse(s)
        .ok_or_else(|| format!("--signature-format {s:?}: use bundle, legacy or both"))
}

/// Loads the signing key named by `--key` (the password from
/// IRONHULL_PASSWORD, COSIGN_PASSWORD or the terminal).
pub fn load_signer(key: &str) -> Result<Box<dyn Signer>, String> {
    let r = KeyRef::parse(key).map_err(|e| e.to_string())?;
    key_ref::load_signer(&r, &password::from_process()).map_err(|e| e.to_string())
}

fn error_out(json_out: bool, kind: &str, code: i32, message: &str) -> i32 {
    if json_out {
        println!(
            "{}",
            json!({"ok": false, "error": {"kind": kind, "message": super::common::sanitize(message), "exitCode": code}})
        );
        code
    } else {
        super::common::fail(code, message)
    }
}

pub fn run_sign(a: SignArgs) -> i32 {
    let format = match signature_format(&a.signature_format) {
        Ok(f) => f,
        Err(e) => return error_out(a.json, "Usage", exit::INPUT, &e),
    };
    let signer = match load_signer(&a.key) {
        Ok(s) => s,
        Err(e) => return error_out(a.json, "Key", exit::INPUT, &e),
    };
    let mtime = match ironhull::env::parse_source_date_epoch(
        std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
    ) {
        Ok(m) => m,
        Err(e) => return error_out(a.json, "Usage", exit::INPUT, &e),
    };
    let job = SignJob {
        image: a.image.clone(),
        format,
        mtime,
        registry: a.registry.options(false, a.json),
    };
    match cmd::sign(&job, &*signer) {
        Ok(o) => {
            if a.json {
                let placed: Vec<_> = o
                    .placed
                    .iter()
                    .map(|p| json!({"what": p.what, "subject": p.subject.to_string(), "manifest": p.manifest.to_string(), "tag": p.tag}))
                    .collect();
                println!(
                    "{}",
                    json!({"ok": true, "digest": o.digest, "attached": placed})
                );
            } else {
                for p in &o.placed {
                    match &p.tag {
                        Some(t) => {
                            println!("{} of {} -> {} (tag {t})", p.what, p.subject, p.manifest)
                        }
                        None => println!("{} of {} -> {}", p.what, p.subject, p.manifest),
                    }
                }
                println!("{}", o.digest);
            }
            exit::OK
        }
        Err(e) => error_out(a.json, "Sign", super::exit_code(e.class), &e.message),
    }
}

pub fn run_verify(a: VerifyArgs) -> i32 {
    let attestation = match a.attestation.as_deref() {
        None => None,
        Some(t) => match PredicateKind::parse(t) {
            Some(k) => Some(k),
            None => {
                return error_out(
                    a.json,
                    "Usage",
                    exit::INPUT,
                    &format!("--attestation {t:?}: use slsaprovenance1, spdx or cyclonedx"),
                );
            }
        },
    };
    let key = match KeyRef::parse(&a.key).and_then(|r| key_ref::load_verifier_key(&r)) {
        Ok(k) => k,
        Err(e) => return error_out(a.json, "Key", exit::INPUT, &e.to_string()),
    };
    let job = VerifyJob {
        image: a.image.clone(),
        attestation,
        registry: a.registry.options(true, a.json),
    };
    match cmd::verify(&job, &key) {
        Ok(v) => {
            if a.json {
                println!("{}", json!({"ok": true, "verified": v}));
            } else {
                println!(
                    "Verified {} ({} {}, {}) with key {}",
                    v.digest, v.format, v.predicate_type, v.origin, v.key_hint
                );
            }
            exit::OK
        }
        Err(e) => error_out(a.json, "Verify", super::exit_code(e.class), &e.message),
    }
}
