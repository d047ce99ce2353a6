//! A static HTTP/1.1 file server for tests: serves a directory on
//! 127.0.0.1 (random port), GET and HEAD, one thread per connection.
//!
//! What it adds over a stock server, for attack tests:
//! - it counts requests per path, so a test can prove what was (not) read;
//! - `replace(path, bytes)` serves other bytes for one path (tampering)
//!   without touching the directory;
//! - `truncate(path, n)` announces the full `Content-Length` but closes the
//!   connection after `n` bytes (a download cut short);
//! - `redirect(path, location)` answers 302.
//!
//! Include with `#[path = "common/http_files.rs"] mod http_files;`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Clone)]
enum Override {
    Bytes(Vec<u8>),
    Truncate(usize),
    Redirect(String),
    Status(u16),
}

#[derive(Default)]
struct State {
    counts: HashMap<String, usize>,
    overrides: HashMap<String, Override>,
}

pub struct FileServer {
    root: PathBuf,
    port: u16,
    state: Arc<Mutex<State>>,
}

impl FileServer {
    /// Serves `root` until the process exits (the accept thread is
    /// detached; tests are short-lived processes).
    pub fn start(root: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let root = root.to_path_buf();
        {
            let state = state.clone();
            let root = root.clone();
            thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let state = state.clone();
                    let root = root.clone();
                    thread::spawn(move || {
                        let _ = serve(stream, &root, &state);
                    });
                }
            });
        }
        FileServer { root, port, state }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Requests seen for `path` (URL path, starting with `/`).
    pub fn count(&self, path: &str) -> usize {
        lock(&self.state).counts.get(path).copied().unwrap_or(0)
    }

    /// Every path requested so far, with its count, sorted.
    pub fn requests(&self) -> Vec<(String, usize)> {
        let mut v: Vec<_> = lock(&self.state)
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort();
        v
    }

    pub fn reset_counts(&self) {
        lock(&self.state).counts.clear();
    }

    /// Serves `bytes` for `path` instead of the file.
    pub fn replace(&self, path: &str, bytes: Vec<u8>) {
        lock(&self.state)
            .overrides
            .insert(path.to_string(), Override::Bytes(bytes));
    }

    /// Sends the file's full Content-Length but only its first `n` bytes.
    pub fn truncate(&self, path: &str, n: usize) {
        lock(&self.state)
            .overrides
            .insert(path.to_string(), Override::Truncate(n));
    }

    pub fn redirect(&self, path: &str, location: &str) {
        lock(&self.state)
            .overrides
            .insert(path.to_string(), Override::Redirect(location.to_string()));
    }

    /// Answers `status` (e.g. 404 to hide a file, 500) for `path`.
    pub fn status(&self, path: &str, status: u16) {
        lock(&self.state)
            .overrides
            .insert(path.to_string(), Override::Status(status));
    }

    pub fn clear_overrides(&self) {
        lock(&self.state).overrides.clear();
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(stream: TcpStream, root: &Path, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let mut close = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if h.to_ascii_lowercase().starts_with("connection:")
                && h.to_ascii_lowercase().contains("close")
            {
                close = true;
            }
        }
        let path = target.split('?').next().unwrap_or("/").to_string();
        let ov = {
            let mut st = lock(state);
            *st.counts.entry(path.clone()).or_insert(0) += 1;
            st.overrides.get(&path).cloned()
        };
        let head = method == "HEAD";
        if method != "GET" && !head {
            respond(&mut stream, 405, "text/plain", b"method not allowed", head)?;
            continue;
        }
        let file_bytes = || -> Option<Vec<u8>> {
            let rel = percent_decode(path.trim_start_matches('/'))?;
            let rel = Path::new(&rel);
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return None;
            }
            let p = root.join(rel);
            if p.is_file() {
                return std::fs::read(p).ok();
            }
            // Pool names may hold a literal `%` (`gawk_1%3a5.2.1-2_amd64.deb`).
            let raw = Path::new(path.trim_start_matches('/'));
            if raw.components().all(|c| matches!(c, Component::Normal(_)))
                && root.join(raw).is_file()
            {
                return std::fs::read(root.join(raw)).ok();
            }
            None
        };
        match ov {
            Some(Override::Bytes(b)) => {
                respond(&mut stream, 200, "application/octet-stream", &b, head)?
            }
            Some(Override::Status(s)) => {
                respond(&mut stream, s, "text/plain", b"overridden", head)?
            }
            Some(Override::Redirect(loc)) => {
                write!(
                    stream,
                    "HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\n\r\n"
                )?;
            }
            Some(Override::Truncate(n)) => {
                let b = file_bytes().unwrap_or_default();
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                )?;
                stream.write_all(&b[..n.min(b.len())])?;
                stream.flush()?;
                return Ok(()); // drop: the client sees the connection end early
            }
            None => match file_bytes() {
                Some(b) => respond(&mut stream, 200, "application/octet-stream", &b, head)?,
                None => respond(&mut stream, 404, "text/plain", b"not found", head)?,
            },
        }
        if close {
            return Ok(());
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    ctype: &str,
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Status",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    if !head {
        stream.write_all(body)?;
    }
    stream.flush()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
