//! `builder.toml`: parsed strictly into types that cannot hold an insecure
//! value.
//!
//! - [`raw`] walks toml's spanned tree so every error has a `file:line:col`;
//! - [`validate`] checks each section and builds the [`model`];
//! - [`error`] holds the fine-grained [`SpecError`].
//!
//! Loading never touches artifact files: whether `src` exists (and whether it
//! is a file or a directory) is the builder's business, so a spec can be
//! checked before anything is built.

pub mod error;
pub mod model;
pub mod packages;
mod raw;
mod validate;

pub use error::{Location, SpecError};
pub use model::*;

use std::path::Path;

/// Upper bound on a spec's size. Specs are a few KiB; the limit keeps a
/// mistaken or hostile path (a multi-GB file, `/dev/zero`) from exhausting
/// memory.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Reads and validates the spec at `path`.
pub fn load(path: &Path) -> Result<Spec, SpecError> {
    use std::io::Read;
    let io = |source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_SPEC_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not valid UTF-8 at byte {}; TOML files must be UTF-8",
                e.utf8_error().valid_up_to()
            ),
        ))
    })?;
    parse(&text, path)
}

/// Validates spec text; `path` is used for messages and to resolve relative
/// paths (against its directory).
pub fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
    let ctx = raw::Ctx {
        map: error::SourceMap::new(path, text),
    };
    let doc = toml::de::DeTable::parse(text).map_err(|e| SpecError::Syntax {
        at: ctx.map.locate(e.span().map(|s| s.start).unwrap_or(0)),
        message: e.message().trim().to_string(),
    })?;
    let root = raw::Table {
        ctx: &ctx,
        t: doc.get_ref(),
        span: doc.span(),
        name: "the top level".into(),
        prefix: String::new(),
    };
    let mut spec = validate::spec(&root, path)?;
    spec.text_digest = crate::digest::Digest::of(text.as_bytes());
    Ok(spec)
}

#[cfg(test)]
mod tests;
