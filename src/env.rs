//! Settings ironhull takes from the environment when the caller does not
//! give them: where the cache lives, and `SOURCE_DATE_EPOCH`.
//!
//! They are here, not in the CLI, so that every front end (the CLI, an
//! embedding program, a CI plugin) finds the same cache and stamps the same
//! times, and so builds agree bit for bit whoever drives them.

use std::path::{Path, PathBuf};

/// The blob cache: `flag` (`--cache-dir`), else `$IRONHULL_CACHE_DIR`, else
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

/// `SOURCE_DATE_EPOCH` from the environment, as seconds; 0 when unset.
pub fn source_date_epoch() -> Result<u64, String> {
    parse_source_date_epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())
}

/// A `SOURCE_DATE_EPOCH` value as seconds: 0 when unset or blank.
pub fn parse_source_date_epoch(raw: Option<&str>) -> Result<u64, String> {
    match raw {
        Some(v) if !v.trim().is_empty() => v.trim().parse::<u64>().map_err(|_| {
            format!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds since 1970; unset it or set e.g. $(git log -1 --format=%ct)")
        }),
        _ => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn source_date_epoch_values() {
        use super::parse_source_date_epoch as p;
        assert_eq!(p(None), Ok(0));
        assert_eq!(p(Some(" ")), Ok(0));
        assert_eq!(p(Some(" 1700000000\n")), Ok(1_700_000_000));
        assert!(
            p(Some("yesterday"))
                .unwrap_err()
                .contains("SOURCE_DATE_EPOCH")
        );
        assert!(p(Some("-1")).is_err());
    }
}
