//! What the library tells its front end while it works.
//!
//! The library never prints. Progress (blob transfers), notices (the base
//! was pinned by the lock, an output was written) and warnings (a cache
//! record was not trusted) are [`Event`]s handed to one [`Reporter`] that the
//! front end implements: the CLI renders them as text lines, progress bars
//! or JSON lines on stderr; an embedding program may log them or drop them.
//! Results and errors are return values, never events.

use crate::digest::Digest;
use std::sync::Arc;
use std::time::Duration;

/// One thing worth telling the user, as data.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A pipeline stage starts (see [`crate::pipeline`]).
    Stage(crate::pipeline::Stage),
    /// A blob transfer finished. `action`: pull, push, skip or mount.
    BlobDone {
        action: &'a str,
        digest: &'a str,
        size: u64,
        elapsed: Duration,
    },
    /// A blob transfer in flight, sent every 512 KiB.
    BlobProgress {
        action: &'a str,
        digest: &'a str,
        done: u64,
        total: u64,
        elapsed: Duration,
    },
    /// A registry step, such as a pushed manifest; `kind` names it for
    /// machine-readable output.
    Step { kind: &'a str, message: &'a str },
    /// Something was distrusted or skipped without failing the run (a cache
    /// record without a valid MAC, say). Shown even in quiet modes.
    Warning(&'a str),
    /// A registry base was pulled by the digest the lock file recorded.
    BasePinned {
        base: &'a str,
        digest: &'a Digest,
        lock_file: &'a str,
    },
    /// `--verify-reproducible`: two isolated builds agreed.
    Reproducible { digest: &'a Digest },
    /// The image is built and passed the gate (hardening changes, per
    /// platform manifests and the gate's non-failing findings).
    Built(&'a crate::build::Built),
    /// An output was written (`pushed` holds the pushed digest).
    OutputWritten {
        destination: &'a str,
        pushed: Option<&'a str>,
    },
    /// An SBOM was written beside a file output.
    SbomWritten { path: &'a std::path::Path },
    /// An SBOM was attached to a pushed image; `how` says through the
    /// referrers API or which fallback tag.
    SbomAttached {
        artifact: &'a Digest,
        subject: &'a Digest,
        how: &'a str,
    },
    /// A signature or signed attestation was attached (`what`: signature,
    /// slsaprovenance1, spdx, cyclonedx, legacy signature); `tag` is the
    /// fallback or `.sig` tag written, if any.
    SignatureAttached {
        what: &'a str,
        subject: &'a Digest,
        manifest: &'a Digest,
        tag: Option<&'a str>,
    },
}

/// Receives the library's events. Implementations must be cheap and must
/// not fail: reporting never changes what the library does.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Drops every event (for embedding and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// A shareable reporter that options structs can hold (and print as
/// `Reporter` in their `Debug` output).
#[derive(Clone)]
pub struct SharedReporter(pub Arc<dyn Reporter>);

impl SharedReporter {
    pub fn new(r: impl Reporter + 'static) -> Self {
        Self(Arc::new(r))
    }

    pub fn event(&self, e: &Event<'_>) {
        self.0.event(e);
    }
}

impl Default for SharedReporter {
    fn default() -> Self {
        Self::new(Silent)
    }
}

impl std::fmt::Debug for SharedReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<String>>);
    impl Reporter for Collect {
        fn event(&self, e: &Event<'_>) {
            if let Ok(mut v) = self.0.lock() {
                v.push(format!("{e:?}"));
            }
        }
    }

    #[test]
    fn shared_reporters_forward_and_hide_their_type() {
        let c = Arc::new(Collect(Mutex::new(Vec::new())));
        let r = SharedReporter(c.clone());
        r.event(&Event::Warning("w"));
        assert_eq!(c.0.lock().unwrap().as_slice(), ["Warning(\"w\")"]);
        assert_eq!(format!("{r:?}"), "Reporter");
        SharedReporter::default().event(&Event::Warning("dropped"));
    }
}
