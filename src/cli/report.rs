//! The CLI's [`Reporter`]: draws the library's events on stderr, so stdout
//! stays free for results (the digest, or `--json` output).
//!
//! Transfers: a bar redrawn with `\r` per blob on a terminal, one line per
//! finished blob otherwise, one JSON object per event with `--json`. Notices
//! are text lines, left out by `--quiet` and `--json`; warnings always show.

use ironhull::events::{Event, Reporter};
use ironhull::registry::Progress;
use std::io::Write;
use std::sync::Mutex;

pub struct CliReporter {
    mode: Progress,
    quiet: bool,
    json: bool,
    /// Serializes lines of parallel transfers so they do not mix.
    lock: Mutex<()>,
}

impl CliReporter {
    pub fn new(quiet: bool, json: bool) -> Self {
        let mode = if quiet {
            Progress::Quiet
        } else if json {
            Progress::Json
        } else {
            Progress::auto()
        };
        Self {
            mode,
            quiet,
            json,
            lock: Mutex::new(()),
        }
    }

    /// The transfer detail this reporter draws, for the registry options.
    pub fn mode(&self) -> Progress {
        self.mode
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

    /// Notices are for people reading a terminal or a CI log.
    fn notices(&self) -> bool {
        !self.quiet && !self.json
    }
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

impl Reporter for CliReporter {
    fn event(&self, e: &Event<'_>) {
        use super::sanitize;
        match e {
            Event::BlobDone {
                action,
                digest,
                size,
                elapsed,
            } => {
                let secs = elapsed.as_secs_f64().max(0.001);
                match self.mode {
                    Progress::Quiet => {}
                    Progress::Plain => self.emit(
                        &format!("{action} {} {}", short(digest), human(*size)),
                        true,
                    ),
                    Progress::Bar => self.emit(
                        &format!(
                            "{action} {} {} ({}/s) done",
                            short(digest),
                            human(*size),
                            human((*size as f64 / secs) as u64)
                        ),
                        true,
                    ),
                    Progress::Json => {
                        let v = serde_json::json!({"event":"blob","action":action,"digest":digest,"size":size});
                        self.emit(&v.to_string(), true);
                    }
                }
            }
            Event::BlobProgress {
                action,
                digest,
                done,
                total,
                elapsed,
            } => {
                if self.mode != Progress::Bar {
                    return;
                }
                let secs = elapsed.as_secs_f64().max(0.001);
                let pct = (done.saturating_mul(100))
                    .checked_div(*total)
                    .unwrap_or(0)
                    .min(100);
                let width = 24usize;
                let filled = (pct as usize * width) / 100;
                self.emit(
                    &format!(
                        "{action} {} [{}{}] {}/{} {}/s",
                        short(digest),
                        "#".repeat(filled),
                        " ".repeat(width - filled),
                        human(*done),
                        human(*total),
                        human((*done as f64 / secs) as u64)
                    ),
                    false,
                );
            }
            Event::Step { kind, message } => match self.mode {
                Progress::Quiet => {}
                Progress::Json => {
                    let v = serde_json::json!({"event":kind,"message":message});
                    self.emit(&v.to_string(), true);
                }
                _ => self.emit(message, true),
            },
            Event::Warning(msg) => self.emit(&format!("warning: {}", sanitize(msg)), true),
            Event::BasePinned {
                base,
                digest,
                lock_file,
            } if self.notices() => self.emit(
                &format!("base {base} pinned to {digest} by {lock_file}"),
                true,
            ),
            Event::Reproducible { digest } if !self.quiet => self.emit(
                &format!("reproducible: two isolated builds gave {digest}"),
                true,
            ),
            Event::Built(b) if self.notices() => super::build::print_report(b),
            Event::OutputWritten {
                destination,
                pushed,
            } if self.notices() => match pushed {
                Some(d) => self.emit(&format!("pushed {destination} ({d})"), true),
                None => self.emit(&format!("wrote {destination}"), true),
            },
            Event::SbomWritten { path } if self.notices() => {
                self.emit(&format!("wrote SBOM {}", path.display()), true)
            }
            Event::SbomAttached {
                artifact,
                subject,
                how,
            } if self.notices() => self.emit(
                &format!("attached SBOM {artifact} to {subject} ({how})"),
                true,
            ),
            Event::SignatureAttached {
                what,
                subject,
                manifest,
                tag,
            } if self.notices() => self.emit(
                &match tag {
                    Some(t) => format!("attached {what} {manifest} to {subject} (tag {t})"),
                    None => format!("attached {what} {manifest} to {subject}"),
                },
                true,
            ),
            _ => {}
        }
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
}
