//! `ironhull push`, `ironhull login` and `ironhull logout`.
//!
//! Only argument parsing and output live here; the distribution protocol is
//! in `ironhull::registry`. Results go to stdout (the digest, or JSON with
//! `--json`); progress and errors go to stderr.

use super::exit;
use ironhull::cjson;
use ironhull::image::{Descriptor, Index, media};
use ironhull::reference::{Reference, Transport};
use ironhull::registry::{self, Client, Progress, RegistryError, RegistryOptions};
use ironhull::store::{self, Source};
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
        RegistryOptions {
            insecure_registries: self.insecure_registries.clone(),
            ca_file: self.ca_file.clone(),
            docker_config_dir: self.docker_config.clone(),
            progress: if quiet {
                Progress::Quiet
            } else if json {
                Progress::Json
            } else {
                Progress::auto()
            },
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
    match e {
        RegistryError::PlatformNotFound { .. }
        | RegistryError::BadPush { .. }
        | RegistryError::Usage(_)
        | RegistryError::Credentials { .. } => exit::INPUT,
        _ => exit::IO,
    }
}

/// Reads a local transport into a [`Source`].
fn open_source(t: &Transport, work: &std::path::Path) -> Result<Source, String> {
    match t {
        Transport::Oci { dir, tag } => {
            store::read_oci_layout(dir, tag.as_deref()).map_err(|e| e.to_string())
        }
        Transport::OciArchive { file, tag } => {
            store::read_oci_archive(file, tag.as_deref(), work).map_err(|e| e.to_string())
        }
        Transport::DockerArchive { file, reference } => {
            store::read_docker_archive(file, reference.as_deref(), work).map_err(|e| e.to_string())
        }
        other => Err(format!(
            "cannot push from `{other}`: the source must be oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]"
        )),
    }
}

/// The top document of a source: its index when it has one, the single
/// manifest otherwise, else a fresh index over all its manifests.
fn top_of(src: &Source) -> Result<(Descriptor, Vec<u8>), String> {
    let images = &src.images.images;
    if let Some(d) = &src.images.index_digest
        && let Ok(bytes) = src.blobs.read_verified(d, None, store::MAX_DOC)
    {
        let mt = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| media::OCI_INDEX.to_string());
        return Ok((Descriptor::new(&mt, d.clone(), bytes.len() as u64), bytes));
    }
    match images.as_slice() {
        [] => Err("the source holds no image".into()),
        [one] => Ok((
            Descriptor::new(
                &one.manifest_media_type,
                one.manifest_digest.clone(),
                one.manifest_bytes.len() as u64,
            ),
            one.manifest_bytes.clone(),
        )),
        many => {
            let idx = Index::new(
                many.iter()
                    .map(|i| {
                        let mut d = Descriptor::new(
                            &i.manifest_media_type,
                            i.manifest_digest.clone(),
                            i.manifest_bytes.len() as u64,
                        );
                        d.platform = Some(i.platform.clone());
                        d
                    })
                    .collect(),
            );
            let bytes = cjson::to_vec(&idx).map_err(|e| format!("cannot encode the index: {e}"))?;
            Ok((
                Descriptor::new(
                    media::OCI_INDEX,
                    ironhull::digest::Digest::of(&bytes),
                    bytes.len() as u64,
                ),
                bytes,
            ))
        }
    }
}

pub fn run_push(a: PushArgs) -> i32 {
    let src_t = match Transport::parse(&a.source) {
        Ok(t) => t,
        Err(e) => return fail(a.json, exit::INPUT, "Source", e),
    };
    let target = match Transport::parse(&a.destination) {
        Ok(Transport::Docker(r)) => r,
        Ok(other) => {
            return fail(
                a.json,
                exit::INPUT,
                "Destination",
                format!("push destination must be docker://REGISTRY/REPO[:TAG], not `{other}`"),
            );
        }
        Err(e) => return fail(a.json, exit::INPUT, "Destination", e),
    };
    let mut tags: Vec<String> = target.tag().map(str::to_string).into_iter().collect();
    for t in &a.tags {
        if Reference::parse(&format!("{}:{t}", target.name())).is_err() || t.contains(['/', '@']) {
            return fail(
                a.json,
                exit::INPUT,
                "Tag",
                format!("invalid tag {t:?}: use 1-128 letters, digits, `_`, `.`, `-`"),
            );
        }
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    let work = match tempfile::tempdir() {
        Ok(w) => w,
        Err(e) => {
            return fail(
                a.json,
                exit::IO,
                "Io",
                format!("cannot create a temporary directory: {e}"),
            );
        }
    };
    let src = match open_source(&src_t, work.path()) {
        Ok(s) => s,
        Err(e) => return fail(a.json, exit::INPUT, "Source", e),
    };
    let (top, top_bytes) = match top_of(&src) {
        Ok(t) => t,
        Err(e) => return fail(a.json, exit::INPUT, "Source", e),
    };
    let client = match Client::new(a.registry.options(a.quiet, a.json)) {
        Ok(c) => c,
        Err(e) => return fail(a.json, registry_code(&e), "Registry", e),
    };
    match client.push(
        &target,
        &tags,
        &top,
        &top_bytes,
        &src.images.images,
        &src.blobs,
        None,
    ) {
        Ok(d) => {
            if a.json {
                println!(
                    "{}",
                    json!({"ok": true, "reference": target.name(), "digest": d.to_string(), "tags": tags, "mediaType": top.media_type})
                );
            } else {
                println!("{d}");
            }
            exit::OK
        }
        Err(e) => fail(a.json, registry_code(&e), "Registry", e),
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
