//! Test harness for the registry client: starts the real Distribution
//! registry (`docker-registry`) on 127.0.0.1, optionally with TLS + htpasswd
//! or token auth, plus a tiny RS256 token server and a counting /
//! fault-injecting loopback proxy.
//!
//! Include with `#[path = "common/registry.rs"] mod reg;` next to `mod common;`.
//! Everything panics with a clear message on harness failure.
#![allow(dead_code)]

use ironhull::cjson;
use ironhull::digest::Digest;
use ironhull::image::{Descriptor, Index, LayerBlob, Manifest, Platform, PlatformImage, media};
use ironhull::store::BlobStore;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released; the tiny race is acceptable).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn sh(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Files of a test PKI made with openssl: a CA and a server cert for
/// 127.0.0.1/localhost signed by it.
pub struct Pki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

pub fn make_pki(dir: &Path) -> Pki {
    let p = |n: &str| dir.join(n);
    sh(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ironhull test CA",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    sh(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap_or_else(|e| panic!("write ext.cnf: {e}"));
    sh(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.crt")));
    Pki {
        ca_cert: p("ca.crt"),
        server_cert: p("server.crt"),
        server_key: p("server.key"),
    }
}

/// How the registry authenticates.
pub enum Auth {
    None,
    /// htpasswd users (name, password).
    Htpasswd(Vec<(String, String)>),
    /// Token auth: realm URL, service, issuer and the signing cert.
    Token {
        realm: String,
        service: String,
        issuer: String,
        cert: PathBuf,
    },
}

// ---------------------------------------------------------------------------
// Servers that cannot outlive the test binary
// ---------------------------------------------------------------------------

/// Pids of the servers this test binary started and has not reaped yet.
static LIVE_SERVERS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// Run by `exit(3)`, which the test harness reaches through
/// `std::process::exit` after the last test, also when tests panicked: a
/// server held in a `static` is never dropped, so it is killed here.
extern "C" fn kill_live_servers() {
    if let Ok(pids) = LIVE_SERVERS.try_lock() {
        for &pid in pids.iter() {
            // SAFETY: kill(2) on a pid we spawned and have not reaped (it is
            // removed from the list before it is waited for), so the pid
            // cannot have been reused by an unrelated process.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

type SpawnRequest = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);

/// One long-lived thread spawns every server. `PR_SET_PDEATHSIG` fires when
/// the *thread* that forked the child ends, not the process; a test thread
/// ends after each test, which would kill a server shared through a `static`.
/// This thread lives as long as the process.
fn spawner() -> &'static Mutex<std::sync::mpsc::Sender<SpawnRequest>> {
    static SPAWNER: std::sync::OnceLock<Mutex<std::sync::mpsc::Sender<SpawnRequest>>> =
        std::sync::OnceLock::new();
    SPAWNER.get_or_init(|| {
        // SAFETY: registering a plain `extern "C" fn()` that only calls
        // kill(2); done once (inside get_or_init).
        unsafe {
            libc::atexit(kill_live_servers);
        }
        let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("server-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the spawner thread: {e}"));
        Mutex::new(tx)
    })
}

/// Starts a long-running server (`docker-registry`, …) that stops when the
/// test binary ends, however it ends: it is SIGKILLed by the kernel when the
/// binary dies (even by SIGKILL, via `PR_SET_PDEATHSIG`), by the exit hook
/// when the harness exits normally, and by [`ServerChild`]'s drop. It runs
/// in its own process group, so a terminal's Ctrl-C reaches it through us.
pub fn spawn_server(mut cmd: Command) -> ServerChild {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls (setpgid, prctl, getppid, _exit); it
    // allocates nothing and touches no lock.
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        cmd.pre_exec(move || {
            libc::setpgid(0, 0);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl: then nobody would kill us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, tx))
        .unwrap_or_else(|e| panic!("spawner thread gone: {e}"));
    let child = rx
        .recv()
        .unwrap_or_else(|e| panic!("spawner thread gone: {e}"))
        .unwrap_or_else(|e| panic!("cannot start server: {e}"));
    LIVE_SERVERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(child.id() as i32);
    ServerChild(child)
}

/// A server process started by [`spawn_server`]; killed and reaped on drop.
pub struct ServerChild(Child);

impl ServerChild {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        let _ = self.0.kill();
        LIVE_SERVERS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&p| p != pid);
        let _ = self.0.wait();
    }
}

/// A running `docker-registry`; killed on drop, and when the test binary
/// exits or dies (see [`spawn_server`]).
pub struct Registry {
    _child: ServerChild,
    pub port: u16,
    pub host: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts the registry; `tls` = (cert, key).
    pub fn start(auth: Auth, tls: Option<(&Path, &Path)>) -> Registry {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let port = free_port();
        let storage = dir.path().join("storage");
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: ironhull-test-secret\n",
            storage.display()
        );
        if let Some((cert, key)) = tls {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        match &auth {
            Auth::None => {}
            Auth::Htpasswd(users) => {
                let file = dir.path().join("htpasswd");
                let mut text = String::new();
                for (u, p) in users {
                    let out = Command::new("htpasswd")
                        .args(["-Bbn", u, p])
                        .output()
                        .unwrap_or_else(|e| panic!("htpasswd: {e}"));
                    assert!(out.status.success(), "htpasswd failed");
                    text.push_str(String::from_utf8_lossy(&out.stdout).trim());
                    text.push('\n');
                }
                std::fs::write(&file, text).unwrap_or_else(|e| panic!("write htpasswd: {e}"));
                cfg.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: ironhull-test\n    path: {}\n",
                    file.display()
                ));
            }
            Auth::Token {
                realm,
                service,
                issuer,
                cert,
            } => {
                cfg.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    cert.display()
                ));
            }
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap_or_else(|e| panic!("write config: {e}"));
        let log = dir.path().join("registry.log");
        let logf = std::fs::File::create(&log).unwrap_or_else(|e| panic!("log: {e}"));
        let logf2 = logf.try_clone().unwrap_or_else(|e| panic!("log: {e}"));
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(logf)
            .stderr(logf2);
        let r = Registry {
            _child: spawn_server(cmd),
            port,
            host: format!("127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}: {}",
                std::fs::read_to_string(&r.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// Test images
// ---------------------------------------------------------------------------

pub fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap_or_else(|e| panic!("{e}"));
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append(&h, content).unwrap_or_else(|e| panic!("{e}"));
    b.into_inner().unwrap_or_else(|e| panic!("{e}"))
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap_or_else(|e| panic!("{e}"));
    e.finish().unwrap_or_else(|e| panic!("{e}"))
}

/// A one-layer image whose layer holds `content` at /hello.txt.
pub fn image(store: &BlobStore, platform: &Platform, content: &[u8]) -> PlatformImage {
    let tar = tar_with("hello.txt", content);
    let diff_id = Digest::of(&tar);
    let gz = gzip(&tar);
    let layer_digest = store.put(&gz).unwrap_or_else(|e| panic!("{e}"));
    let layer = LayerBlob {
        media_type: media::OCI_LAYER_GZIP.into(),
        digest: layer_digest,
        size: gz.len() as u64,
        diff_id: diff_id.clone(),
    };
    let mut config = serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {"User": "65532"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    });
    if let Some(v) = &platform.variant {
        config["variant"] = v.clone().into();
    }
    let config_bytes = cjson::to_vec(&config).unwrap_or_else(|e| panic!("{e}"));
    let config_digest = store.put(&config_bytes).unwrap_or_else(|e| panic!("{e}"));
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::new(
            media::OCI_CONFIG,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers: vec![layer.descriptor()],
        subject: None,
        annotations: BTreeMap::new(),
    };
    let manifest_bytes = cjson::to_vec(&manifest).unwrap_or_else(|e| panic!("{e}"));
    let manifest_digest = store.put(&manifest_bytes).unwrap_or_else(|e| panic!("{e}"));
    PlatformImage {
        platform: platform.clone(),
        manifest_digest,
        manifest_bytes,
        manifest_media_type: media::OCI_MANIFEST.into(),
        config_digest,
        config_bytes,
        config,
        layers: vec![layer],
    }
}

/// An index over `images` stored in `store`: (descriptor, bytes).
pub fn index(store: &BlobStore, images: &[PlatformImage]) -> (Descriptor, Vec<u8>) {
    let idx = Index::new(
        images
            .iter()
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
    let bytes = cjson::to_vec(&idx).unwrap_or_else(|e| panic!("{e}"));
    let d = store.put(&bytes).unwrap_or_else(|e| panic!("{e}"));
    (
        Descriptor::new(media::OCI_INDEX, d, bytes.len() as u64),
        bytes,
    )
}

/// Number of blob files in a store (to prove nothing partial was kept).
pub fn blob_count(store_root: &Path) -> usize {
    std::fs::read_dir(store_root.join("sha256"))
        .map(|rd| rd.flatten().count())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Counting / tampering proxy
// ---------------------------------------------------------------------------

/// A loopback HTTP proxy in front of `upstream` that records every request
/// (`METHOD path`) and, when `tamper` is set, flips the last byte of every
/// successful blob GET body. One request per connection (`Connection:
/// close` both ways) keeps it simple and exact.
pub struct Proxy {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    pub tamper: Arc<AtomicBool>,
    /// HTTP statuses to answer the next blob GETs with, in order, instead of
    /// forwarding them (a registry failing on demand: 503, 429, 400 …).
    pub faults: Arc<Mutex<Vec<u16>>>,
    /// Transfer faults for matching requests, each used once, in order.
    pub rules: Arc<Mutex<Vec<Rule>>>,
}

/// A transfer fault the proxy injects into one request or response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status instead of forwarding (Retry-After: 0).
    Status(u16),
    /// Request bodies: forward nothing, read half the body, then reset the
    /// connection (RST). Responses: send the head and half the body, then
    /// reset.
    ResetMidBody,
    /// Send the head (with the true Content-Length) and half the body, then
    /// close cleanly: a body truncated without an error.
    CloseEarly,
    /// Rewrite Content-Length to half and send only that half: a
    /// Content-Length that lies, with a clean close.
    ShortLength,
    /// Replace the response's `Docker-Content-Digest` with a wrong digest.
    WrongDigestHeader,
    /// Flip the last byte of the response body.
    Corrupt,
}

/// Applies `fault` to the next request whose method is `method` and whose
/// path contains `path_contains`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: &'static str,
    pub path_contains: String,
    pub fault: Fault,
}

impl Proxy {
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tamper = Arc::new(AtomicBool::new(false));
        let faults: Arc<Mutex<Vec<u16>>> = Arc::new(Mutex::new(Vec::new()));
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::new(Mutex::new(Vec::new()));
        let (reqs, tam, flt, rls) = (
            requests.clone(),
            tamper.clone(),
            faults.clone(),
            rules.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (reqs, tam, flt, rls) = (reqs.clone(), tam.clone(), flt.clone(), rls.clone());
                std::thread::spawn(move || {
                    let _ = proxy_one(
                        conn,
                        upstream_port,
                        &reqs,
                        tam.load(Ordering::SeqCst),
                        &flt,
                        &rls,
                    );
                });
            }
        });
        Proxy {
            port,
            requests,
            tamper,
            faults,
            rules,
        }
    }

    /// Injects `fault` into the next `method` request whose path contains
    /// `path_contains` (once; call again for more).
    pub fn inject(&self, method: &'static str, path_contains: &str, fault: Fault) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Rule {
                method,
                path_contains: path_contains.into(),
                fault,
            });
    }

    /// Rules not used yet.
    pub fn pending(&self) -> Vec<Rule> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn read_head<R: BufRead>(r: &mut R) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            break;
        }
        let t = l.trim_end_matches(['\r', '\n']).to_string();
        if t.is_empty() {
            break;
        }
        lines.push(t);
    }
    Ok(lines)
}

fn proxy_one(
    client: TcpStream,
    upstream: u16,
    reqs: &Mutex<Vec<String>>,
    tamper: bool,
    faults: &Mutex<Vec<u16>>,
    rules: &Mutex<Vec<Rule>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let head = read_head(&mut reader)?;
    let Some(first) = head.first() else {
        return Ok(());
    };
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut len = 0usize;
    let mut out = format!("{first}\r\n");
    for h in &head[1..] {
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        assert!(
            !lower.starts_with("transfer-encoding"),
            "proxy: chunked requests unsupported"
        );
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let rule = {
        let mut r = rules.lock().unwrap_or_else(|p| p.into_inner());
        r.iter()
            .position(|r| r.method == method && path.contains(&r.path_contains))
            .map(|i| r.remove(i).fault)
    };
    reqs.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("{method} {path}"));
    if rule == Some(Fault::ResetMidBody) && len > 0 {
        // The upload dies half way: nothing reaches the registry.
        let mut half = vec![0; len / 2];
        reader.read_exact(&mut half)?;
        reset(client);
        return Ok(());
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    if let Some(Fault::Status(code)) = rule {
        let mut client = client;
        write!(
            client,
            "HTTP/1.1 {code} Injected\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return client.flush();
    }
    if method == "GET" && path.contains("/blobs/sha256:") {
        let injected = {
            let mut f = faults.lock().unwrap_or_else(|p| p.into_inner());
            if f.is_empty() {
                None
            } else {
                Some(f.remove(0))
            }
        };
        if let Some(code) = injected {
            let mut client = client;
            write!(
                client,
                "HTTP/1.1 {code} Injected\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
            return client.flush();
        }
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(out.as_bytes())?;
    up.write_all(&body)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(resp.len());
    let (rhead, rbody) = resp.split_at(split);
    let rhead = String::from_utf8_lossy(rhead).into_owned();
    let mut new_head = String::new();
    for l in rhead.split("\r\n").filter(|l| !l.is_empty()) {
        if l.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        new_head.push_str(l);
        new_head.push_str("\r\n");
    }
    let mut rbody = rbody.to_vec();
    let half = rbody.len() / 2;
    match rule {
        Some(Fault::WrongDigestHeader) => {
            new_head = new_head
                .split("\r\n")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    if l.to_ascii_lowercase().starts_with("docker-content-digest:") {
                        format!("Docker-Content-Digest: {}\r\n", Digest::of(b"wrong"))
                    } else {
                        format!("{l}\r\n")
                    }
                })
                .collect();
        }
        Some(Fault::ShortLength) => {
            new_head = new_head
                .split("\r\n")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    if l.to_ascii_lowercase().starts_with("content-length:") {
                        format!("Content-Length: {half}\r\n")
                    } else {
                        format!("{l}\r\n")
                    }
                })
                .collect();
            rbody.truncate(half);
        }
        Some(Fault::Corrupt) => {
            if let Some(b) = rbody.last_mut() {
                *b ^= 0xff;
            }
        }
        _ => {}
    }
    new_head.push_str("Connection: close\r\n\r\n");
    if tamper
        && method == "GET"
        && path.contains("/blobs/sha256:")
        && rhead.starts_with("HTTP/1.1 200")
        && let Some(b) = rbody.last_mut()
    {
        *b ^= 0xff;
    }
    let mut client = client;
    client.write_all(new_head.as_bytes())?;
    match rule {
        Some(Fault::ResetMidBody) => {
            client.write_all(&rbody[..half])?;
            client.flush()?;
            reset(client);
            Ok(())
        }
        Some(Fault::CloseEarly) => {
            client.write_all(&rbody[..half])?;
            client.flush()
        }
        _ => {
            client.write_all(&rbody)?;
            client.flush()
        }
    }
}

/// Closes `conn` with a TCP reset (SO_LINGER 0), as a crashed peer or a
/// middlebox would, instead of an orderly FIN.
fn reset(conn: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket fd we own, with a pointer to a live
    // `linger` and its exact size.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
}

// ---------------------------------------------------------------------------
// Token server
// ---------------------------------------------------------------------------

/// Files for token signing: an RSA key and its self-signed cert (the
/// registry's rootcertbundle).
pub struct SigningKey {
    pub key: PathBuf,
    pub cert: PathBuf,
    pub cert_der_b64: String,
}

pub fn make_signing_key(dir: &Path) -> SigningKey {
    let key = dir.join("token.key");
    let cert = dir.join("token.crt");
    sh(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ironhull token signer",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    assert!(der.status.success());
    use base64::Engine as _;
    let cert_der_b64 = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
    SigningKey {
        key,
        cert,
        cert_der_b64,
    }
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// A tiny token server. `users` maps user → (password, allowed actions);
/// anonymous requests get `anon_actions`.
pub struct TokenServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

pub struct TokenPolicy {
    pub users: Vec<(String, String, Vec<String>)>,
    pub anon_actions: Vec<String>,
    pub service: String,
    pub issuer: String,
}

impl TokenServer {
    pub fn start(key: &SigningKey, policy: TokenPolicy) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reqs = requests.clone();
        let key_path = key.key.clone();
        let x5c = key.cert_der_b64.clone();
        let policy = Arc::new(policy);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (reqs, key_path, x5c, policy) =
                    (reqs.clone(), key_path.clone(), x5c.clone(), policy.clone());
                std::thread::spawn(move || {
                    let _ = serve_token(conn, &reqs, &key_path, &x5c, &policy);
                });
            }
        });
        TokenServer { port, requests }
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    pub fn count(&self) -> usize {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve_token(
    conn: TcpStream,
    reqs: &Mutex<Vec<String>>,
    key: &Path,
    x5c: &str,
    policy: &TokenPolicy,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let head = read_head(&mut reader)?;
    let first = head.first().cloned().unwrap_or_default();
    let target = first.split(' ').nth(1).unwrap_or("").to_string();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut scopes = Vec::new();
    let mut service = String::new();
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "scope" => scopes.push(url_decode(v)),
            "service" => service = url_decode(v),
            _ => {}
        }
    }
    let mut user: Option<String> = None;
    let mut bad_creds = false;
    for h in &head[1..] {
        if let Some(v) = h
            .strip_prefix("Authorization: Basic ")
            .or_else(|| h.strip_prefix("authorization: Basic "))
        {
            use base64::Engine as _;
            let dec = base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&dec).into_owned();
            let (u, p) = text.split_once(':').unwrap_or(("", ""));
            match policy.users.iter().find(|(n, pw, _)| n == u && pw == p) {
                Some((n, _, _)) => user = Some(n.clone()),
                None => bad_creds = true,
            }
        }
    }
    reqs.lock().unwrap_or_else(|p| p.into_inner()).push(format!(
        "{} {}",
        user.clone().unwrap_or_else(|| "-".into()),
        scopes.join(" ")
    ));
    let mut conn = conn;
    if bad_creds {
        let body = r#"{"details":"incorrect username or password"}"#;
        write!(
            conn,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    let allowed: Vec<String> = match &user {
        Some(u) => policy
            .users
            .iter()
            .find(|(n, _, _)| n == u)
            .map(|(_, _, a)| a.clone())
            .unwrap_or_default(),
        None => policy.anon_actions.clone(),
    };
    let mut access = Vec::new();
    for s in scopes.iter().flat_map(|s| s.split(' ')) {
        let parts: Vec<&str> = s.splitn(3, ':').collect();
        if parts.len() != 3 {
            continue;
        }
        let actions: Vec<&str> = parts[2]
            .split(',')
            .filter(|a| allowed.iter().any(|x| x == a))
            .collect();
        access.push(serde_json::json!({"type": parts[0], "name": parts[1], "actions": actions}));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = serde_json::json!({"typ":"JWT","alg":"RS256","x5c":[x5c]});
    let claims = serde_json::json!({
        "iss": policy.issuer, "sub": user.clone().unwrap_or_default(), "aud": if service.is_empty() { policy.service.clone() } else { service },
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", scopes.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(signing_input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let token = format!("{signing_input}.{}", b64url(&out.stdout));
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}
