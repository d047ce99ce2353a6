//! `ironhull push`, `ironhull login` and `ironhull logout`.
//!
//! Only argument parsing and output live here; the distribution protocol is
//! in `ironhull::registry`. Results go to stdout (the digest, or JSON with
//! `--json`); progress and errors go to stderr.

use super::exit;
use ironhull::commands::push::{PushJob, push};
use ironhull::registry::{self, RegistryError, RegistryOptions};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;

/// Options shared by every registry command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Allow plain HTTP to this registry host[:port] (loopback hosts always may). Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Extra PEM CA bundle to trust for registries.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Directory holding docker's config.json (default: $DOCKER_CONFIG or ~/.docker).
    #[arg(long, value_name = "DIR")]
    pub docker_config: Option<PathBuf>,
}

impl RegistryFlags {
    pub fn options(&self, quiet: bool, json: bool) -> RegistryOptions {
        let reporter = super::report::CliReporter::new(quiet, json);
        RegistryOptions {
            insecure_registries: self.insecure_registries.clone(),
            ca_file: self.ca_file.clone(),
            docker_config_dir: self.docker_config.clone(),
            progress: reporter.mode(),
            reporter: ironhull::events::SharedReporter::new(reporter),
            max_concurrency: 4,
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull push oci:out/app:1.0 docker://registry.example.com/team/app:1.0\n  ironhull push oci-archive:app.tar docker://localhost:5000/app:1.0 --tag latest\n\nThe pushed digest is printed on stdout."
)]
pub struct PushArgs {
    /// Local image: oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF].
    pub source: String,
    /// Destination: docker://REGISTRY/REPO[:TAG].
    pub destination: String,
    /// Extra tag to push the same image under. Repeatable.
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Print no progress.
    #[arg(short, long)]
    pub quiet: bool,
    /// Machine-readable progress (stderr) and result (stdout).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull login ghcr.io -u me --password-stdin < token.txt\n  echo \"$PASSWORD\" | ironhull login localhost:5000 -u ci --password-stdin"
)]
pub struct LoginArgs {
    /// Registry host[:port], e.g. ghcr.io or docker.io.
    pub registry: String,
    /// User name.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Read the password from stdin (the only way: passwords on the command line leak into shell history and ps).
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub flags: RegistryFlags,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull logout ghcr.io\n  ironhull logout localhost:5000 --docker-config ./ci-docker-config"
)]
pub struct LogoutArgs {
    /// Registry host[:port].
    pub registry: String,
    #[command(flatten)]
    pub flags: RegistryFlags,
}

fn fail(json_out: bool, code: i32, kind: &str, msg: impl std::fmt::Display) -> i32 {
    if json_out {
        println!(
            "{}",
            json!({"ok": false, "error": {"kind": kind, "message": super::common::sanitize(&msg.to_string())}})
        );
    } else {
        eprintln!("error: {}", super::common::sanitize(&msg.to_string()));
    }
    code
}

fn registry_code(e: &RegistryError) -> i32 {
    super::exit_code(ironhull::commands::push::registry_class(e))
}

pub fn run_push(a: PushArgs) -> i32 {
    let job = PushJob {
        source: a.source.clone(),
        destination: a.destination.clone(),
        tags: a.tags.clone(),
        registry: a.registry.options(a.quiet, a.json),
    };
    match push(&job) {
        Ok(p) => {
            if a.json {
                println!(
                    "{}",
                    json!({"ok": true, "reference": p.reference, "digest": p.digest.to_string(), "tags": p.tags, "mediaType": p.media_type})
                );
            } else {
                println!("{}", p.digest);
            }
            exit::OK
        }
        Err(e) => fail(a.json, super::exit_code(e.class), e.kind, e),
    }
}

pub fn run_login(a: LoginArgs) -> i32 {
    let Some(username) = a.username.clone().filter(|u| !u.is_empty()) else {
        return fail(
            false,
            exit::INPUT,
            "Usage",
            "give the user name with -u USER",
        );
    };
    if !a.password_stdin {
        return fail(
            false,
            exit::INPUT,
            "Usage",
            "pass the password on stdin with --password-stdin, e.g. `ironhull login HOST -u USER --password-stdin < file`",
        );
    }
    let mut password = String::new();
    if let Err(e) = std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut password)
    {
        return fail(
            false,
            exit::INPUT,
            "Usage",
            format!("cannot read the password from stdin: {e}"),
        );
    }
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return fail(
            false,
            exit::INPUT,
            "Usage",
            "the password on stdin is empty",
        );
    }
    let opts = a.flags.options(true, false);
    match registry::login(&a.registry, &username, &password, &opts) {
        Ok(()) => {
            eprintln!("Login succeeded for {username} at {}", a.registry);
            exit::OK
        }
        Err(e) => fail(false, registry_code(&e), "Registry", e),
    }
}

pub fn run_logout(a: LogoutArgs) -> i32 {
    match registry::logout(&a.registry, &a.flags.options(true, false)) {
        Ok(()) => {
            eprintln!("Removed credentials for {}", a.registry);
            exit::OK
        }
        Err(e) => fail(false, registry_code(&e), "Registry", e),
    }
}
