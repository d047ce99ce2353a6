//! ironhull: a secure, reproducible OCI image builder, as a library.
//!
//! The `ironhull` command is a thin shell over this crate: it parses
//! arguments into a typed job, calls one entry point per command
//! ([`commands`] lists them), renders the typed result as text, JSON or
//! SARIF, and maps the [`error::ErrorClass`] to an exit code. Everything
//! else, every decision about images, locks, policy and packages, is here,
//! so a CI plugin or a server can embed exactly what the CLI does.
//!
//! # The data flow
//!
//! Data flows one way, and [`pipeline`] holds the stages in order:
//!
//! ```text
//! builder.toml ─▶ spec ─▶ pipeline::inputs ─▶ resolve ─▶ harden ─▶ layers ─▶ image ─▶ gate ─▶ vuln_gate ─▶ attach ─▶ outputs
//!                 (spec)   (lock, platforms,   (base,     (harden)  (layer)   (image)  (policy)  (vuln)       (sbom)     (output,
//!                          destinations)       artifacts)                                                              registry)
//! ```
//!
//! - [`spec`]: `builder.toml`, parsed into types that validate themselves
//!   (every error names the file, line and key, and says how to fix it).
//! - [`pipeline`]: `ironhull build` as stages. [`pipeline::build`] runs all
//!   of them for a [`pipeline::BuildJob`]; [`pipeline::build_image`] runs
//!   resolve → harden → layers → image → gate for an embedder that writes
//!   its own outputs.
//! - [`base`]: opening and verifying a base (registry, layout, archive,
//!   rootfs, the built-in `static`).
//! - [`harden`]: making a base safe: shells, package managers, caches,
//!   setuid bits, capabilities, privileged groups; one plan, every layer.
//! - [`fs`]: one strict reading of every tar stream (Go's `archive/tar`
//!   semantics, refusing what readers disagree on) and the merged view.
//! - [`detect`] and [`secrets`]: the one detector per fact (shell, package
//!   manager, secret) that hardening, the gate and `audit` all use.
//! - [`layer`], [`image`], [`store`]: reproducible layers, canonical JSON
//!   documents, the content-addressed blob store and the output formats.
//! - [`policy`]: the checks, shared by the build gate and `ironhull audit`.
//! - [`sbom`], [`vuln`]: package inventories (SPDX, CycloneDX) and the
//!   offline OSV gate.
//! - [`registry`]: the distribution protocol (pull, push, referrers, auth).
//! - [`lock`]: `ironhull.lock`, and [`lock::check`] for `lock`, `outdated`
//!   and `build --locked`.
//! - [`events`]: the one [`events::Reporter`] interface through which the
//!   library reports progress, notices and warnings. The library never
//!   prints.
//!
//! # Building an image with the library alone
//!
//! ```
//! use ironhull::pipeline::{self, BuildJob};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let project = tempfile::tempdir()?;
//! std::fs::write(project.path().join("greeting.txt"), "hello\n")?;
//! std::fs::write(
//!     project.path().join("builder.toml"),
//!     r#"
//! [image]
//! name = "greeting"
//! tags = ["1.0"]
//!
//! [base]
//! image = "static"
//!
//! [user]
//! uid = 10001
//!
//! [[artifacts]]
//! src = "greeting.txt"
//! dest = "/app/greeting.txt"
//! "#,
//! )?;
//! let out = project.path().join("out");
//! let job = BuildJob::new(project.path().join("builder.toml"), project.path().join("cache"))
//!     .output(format!("oci:{}:1.0", out.display()));
//! let done = pipeline::build(&job, &Default::default())?;
//!
//! // The gate passed (it is the same engine as `ironhull audit`) ...
//! assert!(!pipeline::gate_fails(&done.built.images[0].report));
//! // ... and the layout holds the image under its tag.
//! assert!(out.join("index.json").exists());
//! println!("built {}", done.built.top.digest);
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embed.rs` goes further: it builds, audits the written image
//! with [`commands::audit`] and reports events through its own reporter.

pub mod base;
pub mod build;
pub mod cache_auth;
pub mod cjson;
pub mod commands;
pub mod detect;
pub mod digest;
pub mod elf;
pub mod env;
pub mod error;
pub mod events;
pub mod fs;
pub mod harden;
pub mod image;
pub mod init;
pub mod inspect;
pub mod layer;
pub mod lock;
pub mod output;
pub mod packages;
pub mod pipeline;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod sbom;
pub mod secrets;
pub mod sign;
pub mod spec;
pub mod store;
pub mod vuln;
