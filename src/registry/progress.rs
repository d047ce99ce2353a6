//! Progress reporting for pulls and pushes, always on stderr so stdout stays
//! free for results (the digest, or `--json` output).
//!
//! Bar mode redraws one line per blob with `\r`; Plain prints one line when a
//! blob finishes; Json prints one JSON object per event (for CI tooling).

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Instant;

/// How progress is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (`--quiet`).
    Quiet,
    /// One line per finished blob (the default when stderr is not a TTY).
    #[default]
    Plain,
    /// A redrawn bar with bytes and rate (stderr is a TTY).
    Bar,
    /// JSON lines: `{"event":"blob","action":"pull",…}`.
    Json,
}

impl Progress {
    /// Bar on a TTY, Plain otherwise.
    pub fn auto() -> Self {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Plain
        }
    }
}

/// Serializes progress output so lines of parallel transfers do not mix.
pub(crate) struct Reporter {
    mode: Progress,
    lock: Mutex<()>,
}

pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn short(d: &str) -> &str {
    let h = d.strip_prefix("sha256:").unwrap_or(d);
    h.get(..12).unwrap_or(h)
}

impl Reporter {
    pub(crate) fn new(mode: Progress) -> Self {
        Self {
            mode,
            lock: Mutex::new(()),
        }
    }

    fn emit(&self, line: &str, newline: bool) {
        let _g = self.lock.lock();
        let mut e = std::io::stderr().lock();
        let _ = if newline {
            writeln!(e, "{line}")
        } else {
            write!(e, "\r{line}\x1b[K")
        };
        let _ = e.flush();
    }

    /// A blob transfer finished (`action`: pull, push, skip, mount).
    pub(crate) fn blob(&self, action: &str, digest: &str, size: u64, started: Instant) {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        match self.mode {
            Progress::Quiet => {}
            Progress::Plain => {
                self.emit(&format!("{action} {} {}", short(digest), human(size)), true)
            }
            Progress::Bar => self.emit(
                &format!(
                    "{action} {} {} ({}/s) done",
                    short(digest),
                    human(size),
                    human((size as f64 / secs) as u64)
                ),
                true,
            ),
            Progress::Json => {
                let v =
                    serde_json::json!({"event":"blob","action":action,"digest":digest,"size":size});
                self.emit(&v.to_string(), true);
            }
        }
    }

    /// A free-form step (`pushed manifest …`).
    pub(crate) fn note(&self, event: &str, message: &str) {
        match self.mode {
            Progress::Quiet => {}
            Progress::Json => {
                let v = serde_json::json!({"event":event,"message":message});
                self.emit(&v.to_string(), true);
            }
            _ => self.emit(message, true),
        }
    }

    /// Wraps a reader so Bar mode can redraw as bytes flow.
    pub(crate) fn track<'a, R: Read>(
        &'a self,
        action: &'a str,
        digest: &'a str,
        total: u64,
        r: R,
    ) -> Tracked<'a, R> {
        Tracked {
            inner: r,
            rep: self,
            action,
            digest,
            total,
            done: 0,
            last: 0,
            started: Instant::now(),
        }
    }
}

/// A reader that reports progress (Bar mode only) every 512 KiB.
pub(crate) struct Tracked<'a, R> {
    inner: R,
    rep: &'a Reporter,
    action: &'a str,
    digest: &'a str,
    total: u64,
    done: u64,
    last: u64,
    started: Instant,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.rep.mode == Progress::Bar && self.done - self.last >= 512 * 1024 {
            self.last = self.done;
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            let pct = (self.done.saturating_mul(100))
                .checked_div(self.total)
                .unwrap_or(0)
                .min(100);
            let width = 24usize;
            let filled = (pct as usize * width) / 100;
            self.rep.emit(
                &format!(
                    "{} {} [{}{}] {}/{} {}/s",
                    self.action,
                    short(self.digest),
                    "#".repeat(filled),
                    " ".repeat(width - filled),
                    human(self.done),
                    human(self.total),
                    human((self.done as f64 / secs) as u64)
                ),
                false,
            );
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short("sha256:01"), "01");
    }

    #[test]
    fn tracked_reader_passes_bytes_through() {
        let r = Reporter::new(Progress::Quiet);
        let data = vec![7u8; 2 * 1024 * 1024];
        let mut t = r.track("pull", "sha256:x", data.len() as u64, &data[..]);
        let mut out = Vec::new();
        t.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }
}
