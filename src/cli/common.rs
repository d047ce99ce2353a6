//! Helpers shared by subcommands: the cache location, SOURCE_DATE_EPOCH,
//! atomic small-file writes, and colour decisions.

use std::io::IsTerminal;

pub use ironhull::env::cache_dir;

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

/// Colour only on a terminal, and never when NO_COLOR is set.
pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
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
}
