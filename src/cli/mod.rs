//! Command-line definitions and output formatting. No image logic lives here:
//! each subcommand parses its arguments, calls the library, and maps the
//! result to text, JSON and an exit code.

mod audit;
mod build;
mod common;
mod completions;
mod init;
mod inspect;
mod keys;
mod lock;
mod registry;
mod report;
mod sbom;
mod sign;

use common::sanitize;

use clap::{Parser, Subcommand};

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// A policy gate or scan failed.
    pub const POLICY: i32 = 1;
    /// Bad usage or bad input (spec, image, arguments).
    pub const INPUT: i32 = 2;
    /// Registry or I/O failure.
    pub const IO: i32 = 3;
}

/// The exit code of a library failure class.
pub fn exit_code(class: ironhull::error::ErrorClass) -> i32 {
    use ironhull::error::ErrorClass;
    match class {
        ErrorClass::Policy => exit::POLICY,
        ErrorClass::Input => exit::INPUT,
        ErrorClass::Io => exit::IO,
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "ironhull",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("IRONHULL_GIT_COMMIT"), ")"),
    about = "Build hardened, reproducible OCI images from a declarative builder.toml — no Dockerfile, no daemon, no shell, no root.",
    after_help = "Examples:\n  ironhull build -f builder.toml\n  ironhull build -o oci:out/app:1.0 -o docker-archive:app.tar\n\nExit codes: 0 ok, 1 policy failure, 2 usage or input error, 3 registry or I/O failure."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build an image from builder.toml.
    Build(build::BuildArgs),
    /// Resolve the base and artifacts and write ironhull.lock.
    Lock(lock::LockArgs),
    /// Push a local image to a registry.
    Push(registry::PushArgs),
    /// Store registry credentials in the docker config, like `docker login`.
    Login(registry::LoginArgs),
    /// Remove stored registry credentials.
    Logout(registry::LogoutArgs),
    /// Write an SBOM (SPDX 2.3 or CycloneDX 1.6) for an image.
    Sbom(sbom::SbomArgs),
    /// Match an image's packages against an offline OSV database.
    Scan(sbom::ScanArgs),
    /// Check whether the locked base has moved (exit 1 when a rebuild is due).
    Outdated(lock::OutdatedArgs),
    /// Check any image against the security policy (the same checks as the build gate).
    Audit(audit::AuditArgs),
    /// Explain what a check means and how to fix it.
    Explain(audit::ExplainArgs),
    /// List every check with its severity.
    #[command(
        after_help = "Examples:\n  ironhull checks\n  ironhull checks --json | jq -r '.[] | select(.core) | .id'"
    )]
    Checks {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a commented builder.toml from a template, guessing it from the artifact.
    Init(init::InitArgs),
    /// Summarise an image: platforms, user, entrypoint, layers, packages, audit verdict.
    Inspect(inspect::InspectArgs),
    /// Make a cosign-compatible key pair: P.key (encrypted, mode 0600) and P.pub.
    GenerateKeyPair(keys::GenerateKeyPairArgs),
    /// Print the public key (PEM) of a private key, like `cosign public-key`.
    PublicKey(keys::PublicKeyArgs),
    /// Sign an existing image with a cosign key (offline; cosign-compatible).
    Sign(sign::SignArgs),
    /// Check that an image is signed (or attested) by a key.
    Verify(sign::VerifyArgs),
    /// Print shell completions (bash, zsh, fish) or, with --man, the man page.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) to standard output.
    #[command(after_help = "Examples:\n  ironhull man > ironhull.1 && man ./ironhull.1")]
    Man,
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Build(a) => build::run(a),
        Command::Lock(a) => lock::run_lock(a),
        Command::Push(a) => registry::run_push(a),
        Command::Login(a) => registry::run_login(a),
        Command::Logout(a) => registry::run_logout(a),
        Command::Sbom(a) => sbom::run_sbom(a),
        Command::Scan(a) => sbom::run_scan(a),
        Command::Outdated(a) => lock::run_outdated(a),
        Command::Audit(a) => audit::run(a),
        Command::Explain(a) => audit::explain(a),
        Command::Checks { json } => audit::checks(json),
        Command::Init(a) => init::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::GenerateKeyPair(a) => keys::run_generate_key_pair(a),
        Command::Sign(a) => sign::run_sign(a),
        Command::Verify(a) => sign::run_verify(a),
        Command::PublicKey(a) => keys::run_public_key(a),
        Command::Completions(a) => completions::run(a),
        Command::Man => completions::man(),
    }
}
