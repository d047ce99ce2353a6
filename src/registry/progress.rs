//! Progress of pulls and pushes, as [`Event`]s for the front end's
//! [`crate::events::Reporter`] (set in [`super::RegistryOptions::reporter`]).
//! The front end draws them: the CLI redraws a bar per blob on a terminal,
//! prints one line per finished blob otherwise, or one JSON object per event.

use crate::events::{Event, SharedReporter};
use std::io::Read;
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

/// Turns transfer facts into [`Event`]s for the front end's reporter. The
/// mode only decides which events are worth sending: nothing in Quiet mode,
/// and the in-flight ones only when a bar is drawn.
pub(crate) struct Reporter {
    mode: Progress,
    sink: SharedReporter,
}

impl Reporter {
    pub(crate) fn new(mode: Progress, sink: SharedReporter) -> Self {
        Self { mode, sink }
    }

    /// A blob transfer finished (`action`: pull, push, exists, mounted).
    pub(crate) fn blob(&self, action: &str, digest: &str, size: u64, started: Instant) {
        if self.mode == Progress::Quiet {
            return;
        }
        self.sink.event(&Event::BlobDone {
            action,
            digest,
            size,
            elapsed: started.elapsed(),
        });
    }

    /// A free-form step (`pushed manifest …`).
    pub(crate) fn note(&self, kind: &str, message: &str) {
        if self.mode == Progress::Quiet {
            return;
        }
        self.sink.event(&Event::Step { kind, message });
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
            self.rep.sink.event(&Event::BlobProgress {
                action: self.action,
                digest: self.digest,
                done: self.done,
                total: self.total,
                elapsed: self.started.elapsed(),
            });
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Reporter as _;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Count(Mutex<(usize, usize)>);
    impl crate::events::Reporter for Count {
        fn event(&self, e: &Event<'_>) {
            if let Ok(mut c) = self.0.lock() {
                match e {
                    Event::BlobProgress { .. } => c.0 += 1,
                    Event::BlobDone { .. } => c.1 += 1,
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn tracked_reader_passes_bytes_through_and_reports_by_mode() {
        let data = vec![7u8; 2 * 1024 * 1024];
        // (mode, in-flight events wanted, finished events)
        for (mode, in_flight, done) in [
            (Progress::Quiet, false, 0),
            (Progress::Plain, false, 1),
            (Progress::Bar, true, 1),
        ] {
            let c = Arc::new(Count::default());
            let r = Reporter::new(mode, SharedReporter(c.clone()));
            let mut t = r.track("pull", "sha256:x", data.len() as u64, &data[..]);
            let mut out = Vec::new();
            t.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
            r.blob("pull", "sha256:x", 1, Instant::now());
            let (p, d) = *c.0.lock().unwrap();
            // At most one per 512 KiB of the 2 MiB read.
            assert!(
                if in_flight {
                    (1..=4).contains(&p)
                } else {
                    p == 0
                },
                "{mode:?}: {p}"
            );
            assert_eq!(d, done, "{mode:?}");
            c.event(&Event::Warning("unused"));
        }
    }
}
