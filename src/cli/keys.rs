//! `ironhull generate-key-pair` and `ironhull public-key`: flags and output. The library writes
//! the files; this prints where, never the key, and the password comes from
//! IRONHULL_PASSWORD, COSIGN_PASSWORD or the terminal.

use super::exit;
use ironhull::commands::generate_key_pair::{KeyPairJob, generate_key_pair};
use ironhull::commands::public_key::{PublicKeyJob, public_key};
use ironhull::sign::password;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull generate-key-pair\n  IRONHULL_PASSWORD=\"$KEY_PASSWORD\" ironhull generate-key-pair --output-key-prefix keys/release --json\n\nThe password comes from IRONHULL_PASSWORD, else COSIGN_PASSWORD, else a prompt on the terminal (asked twice); a set but empty variable means no password.\nThe files are cosign's own format: `cosign sign --key P.key` and `cosign verify --key P.pub` use them as they are."
)]
pub struct GenerateKeyPairArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    pub output_key_prefix: PathBuf,
    /// Replace existing PREFIX.key / PREFIX.pub (the old key is lost).
    #[arg(long)]
    pub force: bool,
    /// Print the written paths as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run_generate_key_pair(a: GenerateKeyPairArgs) -> i32 {
    let job = KeyPairJob {
        prefix: a.output_key_prefix.clone(),
        force: a.force,
    };
    match generate_key_pair(&job, &password::from_process()) {
        Ok(w) => {
            if a.json {
                println!(
                    "{}",
                    json!({"ok": true, "privateKey": w.private_key.display().to_string(), "publicKey": w.public_key.display().to_string()})
                );
            } else {
                println!("Private key written to {}", w.private_key.display());
                println!("Public key written to {}", w.public_key.display());
            }
            exit::OK
        }
        Err(e) => {
            let code = super::exit_code(e.class);
            if a.json {
                println!(
                    "{}",
                    json!({"ok": false, "error": {"kind": "GenerateKeyPair", "message": super::common::sanitize(&e.message), "exitCode": code}})
                );
                code
            } else {
                super::common::fail(code, e)
            }
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull public-key --key cosign.key > cosign.pub\n  COSIGN_PASSWORD=\"$PW\" ironhull public-key --key env://COSIGN_KEY --outfile cosign.pub\n\nThe password comes from IRONHULL_PASSWORD, else COSIGN_PASSWORD, else a prompt on the terminal."
)]
pub struct PublicKeyArgs {
    /// The private key: a path or env://VAR (KMS URIs are not supported yet).
    #[arg(long)]
    pub key: String,
    /// Write the public key here instead of stdout.
    #[arg(long)]
    pub outfile: Option<PathBuf>,
}

pub fn run_public_key(a: PublicKeyArgs) -> i32 {
    let job = PublicKeyJob {
        key: a.key.clone(),
        outfile: a.outfile.clone(),
    };
    match public_key(&job, &password::from_process()) {
        Ok(text) => {
            if job.outfile.is_none() {
                print!("{text}");
            }
            exit::OK
        }
        Err(e) => super::common::fail(super::exit_code(e.class), e),
    }
}
