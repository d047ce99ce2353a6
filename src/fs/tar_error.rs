//! Why the strict tar parser stopped, and the small constructors it uses to
//! say so. Its own file so the header decoder (`tar_header.rs`) and the
//! stream reader (`tar_strict.rs`) both depend on it, never on each other.

use std::io;

/// Why the parser stopped.
#[derive(Debug)]
pub(crate) enum TarError {
    /// Reading the stream failed, or it ended early (`UnexpectedEof`).
    Io(io::Error),
    /// A header is structurally broken (checksum, unparsable number).
    Corrupt {
        offset: u64,
        path: Option<String>,
        detail: String,
    },
    /// A header is well formed but ambiguous or outside what ironhull accepts.
    Refused {
        offset: u64,
        path: Option<String>,
        why: String,
    },
    /// An entry type outside the OCI layer types.
    Unsupported { path: String, flag: u8 },
    /// Extension headers of one entry exceed the budget.
    HeaderTooLarge { offset: u64 },
}

impl TarError {
    /// Names the entry a refusal is about, when it was not known yet.
    pub(super) fn named(self, name: Option<String>) -> Self {
        match self {
            TarError::Refused {
                offset,
                path: None,
                why,
            } => TarError::Refused {
                offset,
                path: name,
                why,
            },
            e => e,
        }
    }
}

impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        TarError::Io(e)
    }
}

pub(super) fn eof_io() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the tar stream ends early")
}

pub(super) fn eof() -> TarError {
    TarError::Io(eof_io())
}

pub(super) fn refused(offset: u64, path: Option<String>, why: &str) -> TarError {
    TarError::Refused {
        offset,
        path,
        why: why.to_string(),
    }
}

pub(super) fn corrupt(offset: u64, path: Option<String>, detail: &str) -> TarError {
    TarError::Corrupt {
        offset,
        path,
        detail: detail.to_string(),
    }
}

/// A raw tar name or link target for messages: lossy UTF-8, cut at 256
/// bytes so a hostile name cannot flood the error output.
pub(crate) fn lossy(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.len() > 256 {
        let mut end = 256;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.into_owned()
    }
}
