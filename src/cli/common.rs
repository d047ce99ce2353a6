//! Helpers shared by subcommands: the cache location, SOURCE_DATE_EPOCH,
//! atomic small-file writes, and colour decisions.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The blob cache: `--cache-dir`, else `$IRONHULL_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/ironhull`, else `~/.cache/ironhull`.
pub fn cache_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("IRONHULL_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(p).join("ironhull");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("ironhull");
    }
    std::env::temp_dir().join("ironhull-cache")
}

/// `SOURCE_DATE_EPOCH` as seconds, 0 when unset.
pub fn source_date_epoch() -> Result<u64, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<u64>().map_err(|_| {
            format!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds since 1970; unset it or set e.g. $(git log -1 --format=%ct)")
        }),
        _ => Ok(0),
    }
}

/// Writes a small file atomically (temp file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Makes text from hostile input safe to print: control characters (an
/// escape sequence in a crafted tar header could rewrite the user's terminal)
/// are shown escaped; newlines and tabs are kept.
pub fn sanitize(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for c in msg.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints `error: MSG` (sanitized) on stderr and returns `code`.
pub fn fail(code: i32, msg: impl std::fmt::Display) -> i32 {
    let text = msg.to_string();
    eprintln!("error: {}", sanitize(&text));
    if let Some(h) = disk_full_hint(&text) {
        eprintln!("hint: {h}");
    }
    code
}

/// What to do about a full disk (ENOSPC or EDQUOT anywhere in the error):
/// every writer cleans up its temporary files, so the fix is only space.
pub fn disk_full_hint(text: &str) -> Option<&'static str> {
    let full = [
        "No space left on device",
        "os error 28",
        "Disk quota exceeded",
        "os error 122",
    ];
    full.iter().any(|m| text.contains(m)).then_some(
        "the filesystem holding the path above is full (ENOSPC): free space there, or point --cache-dir or the output at a bigger disk, and run again; nothing partial was written and the cache stays usable",
    )
}

/// Opens any image named on the command line (every transport, all
/// platforms unless `platform` picks one) for read-only commands such as
/// `audit` and `inspect`. The returned directory holds extracted archives and
/// must live as long as the image is used. Errors are printed; the exit code
/// is returned.
pub fn open_image(
    image: &str,
    platform: Option<&str>,
    cache: Option<&Path>,
    registry: &ironhull::registry::RegistryOptions,
    what: &str,
) -> Result<(ironhull::base::resolve::ResolvedBase, tempfile::TempDir), i32> {
    use super::exit;
    use ironhull::reference::Transport;
    let transport = Transport::parse_base(image)
        .map_err(|e| fail(exit::INPUT, format!("image {image:?}: {e}")))?;
    if matches!(transport, Transport::Static) {
        return Err(fail(
            exit::INPUT,
            format!(
                "`static` is the built-in base, not an image; {what} a built image such as oci:DIR:TAG"
            ),
        ));
    }
    let platforms = match platform {
        Some(p) => vec![ironhull::image::Platform::parse(p).ok_or_else(|| {
            fail(
                exit::INPUT,
                format!(
                    "--platform {p:?} is not os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"
                ),
            )
        })?],
        None => vec![],
    };
    let cache = cache_dir(cache);
    let work = std::fs::create_dir_all(&cache)
        .and_then(|_| {
            tempfile::Builder::new()
                .prefix(&format!("{what}-"))
                .tempdir_in(&cache)
        })
        .map_err(|e| {
            fail(
                exit::IO,
                format!("cannot create a work directory in {}: {e}", cache.display()),
            )
        })?;
    let stage = ironhull::store::BlobStore::open(work.path().join("blobs"))
        .map_err(|e| fail(exit::IO, e))?;
    let opened = ironhull::base::resolve::open(
        &transport,
        &platforms,
        true,
        work.path(),
        &stage,
        &ironhull::layer::LayerParams::default(),
        registry,
    )
    .map_err(|e| fail(exit::INPUT, e))?;
    Ok((opened, work))
}

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// The error class from an error's `Debug` form: the leading chain of enum
/// variant names (`Artifact(Missing { .. })` → `Build::Artifact::Missing`).
/// Transparent wrappers such as `Base(Store { .. })` keep every level.
pub fn error_kind(prefix: &str, debug: &str) -> String {
    let mut parts = vec![prefix.to_string()];
    let mut rest = debug;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        parts.push(name.clone());
        rest = &rest[name.len()..];
        if let Some(r) = rest.strip_prefix('(') {
            rest = r;
        } else {
            break;
        }
    }
    parts.join("::")
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitize_escapes_control_characters() {
        assert_eq!(
            super::sanitize("a\u{1b}[2J\u{7}b\nc"),
            "a\\u{1b}[2J\\u{7}b\nc"
        );
    }

    #[test]
    fn error_kind_from_debug() {
        assert_eq!(
            super::error_kind("Build", "Artifact(Missing { number: 1 })"),
            "Build::Artifact::Missing"
        );
        assert_eq!(
            super::error_kind("Spec", "RootUser { at: .. }"),
            "Spec::RootUser"
        );
        assert_eq!(
            super::error_kind("Build", "Blob(Io { path: \"x\" })"),
            "Build::Blob::Io"
        );
    }
}
