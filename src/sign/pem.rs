//! PEM framing for key files: one `-----BEGIN LABEL-----` block, base64 body.
//!
//! Why our own and not a strict RFC 7468 reader: cosign reads keys with Go's
//! `encoding/pem`, which skips text before the block and accepts any line
//! width, and users paste keys into CI secrets with the wrapping their tool
//! chose. We accept what Go accepts for the blocks cosign writes (no PEM
//! headers) and write exactly what Go writes (64 columns, LF), so a key file
//! round-trips byte for byte between ironhull and cosign.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The longest label we read; cosign's longest is 30 characters.
const MAX_LABEL: usize = 64;

/// One decoded PEM block.
pub struct Block {
    pub label: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Block {
    /// The label and size only: the body may be key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({}, {} bytes)", self.label, self.bytes.len())
    }
}

/// The first PEM block in `text`. The error says what is missing, for the
/// caller to put into its own message (it never quotes the body).
pub fn decode(text: &[u8]) -> Result<Block, String> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let start = memchr::memmem::find(text, BEGIN).ok_or("no `-----BEGIN ...-----` line")?;
    let after = &text[start + BEGIN.len()..];
    let close = memchr::memmem::find(after, b"-----").ok_or("the BEGIN line is not closed")?;
    let label_bytes = &after[..close];
    if label_bytes.len() > MAX_LABEL
        || !label_bytes
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        return Err("the BEGIN line has no valid label".into());
    }
    let label = String::from_utf8_lossy(label_bytes).into_owned();
    let body_start = &after[close + 5..];
    let end_line = format!("-----END {label}-----");
    let end = memchr::memmem::find(body_start, end_line.as_bytes())
        .ok_or_else(|| format!("no `{end_line}` line"))?;
    let body: Vec<u8> = body_start[..end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if body.contains(&b':') {
        return Err("the block has PEM headers, which cosign keys never have".into());
    }
    let bytes = STANDARD
        .decode(&body)
        .map_err(|_| "the body between BEGIN and END is not valid base64".to_string())?;
    Ok(Block { label, bytes })
}

/// `bytes` as a PEM block the way Go's `pem.EncodeToMemory` writes it.
pub fn encode(label: &str, bytes: &[u8]) -> String {
    let b64 = STANDARD.encode(bytes);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_wraps_at_64_columns() {
        let data: Vec<u8> = (0..=255u8).collect();
        let pem = encode("PUBLIC KEY", &data);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let b = decode(pem.as_bytes()).unwrap();
        assert_eq!(b.label, "PUBLIC KEY");
        assert_eq!(b.bytes, data);
    }

    #[test]
    fn reads_like_go_leading_text_and_other_widths() {
        let body = STANDARD.encode(b"hello world, this is a key body");
        let text = format!(
            "some comment\r\n-----BEGIN X Y-----\r\n{}\r\n{}\r\n-----END X Y-----\r\ntrailer",
            &body[..10],
            &body[10..]
        );
        let b = decode(text.as_bytes()).unwrap();
        assert_eq!(b.label, "X Y");
        assert_eq!(b.bytes, b"hello world, this is a key body");
    }

    #[test]
    fn refusals_say_what_is_missing() {
        assert!(decode(b"").unwrap_err().contains("no `-----BEGIN"));
        assert!(decode(b"-----BEGIN A").unwrap_err().contains("not closed"));
        assert!(
            decode(b"-----BEGIN A-----\nAAAA\n")
                .unwrap_err()
                .contains("no `-----END A-----` line")
        );
        assert!(
            decode(b"-----BEGIN A-----\n!!!!\n-----END A-----\n")
                .unwrap_err()
                .contains("not valid base64")
        );
        assert!(
            decode(b"-----BEGIN A-----\nProc-Type: 4\n\nAAAA\n-----END A-----\n")
                .unwrap_err()
                .contains("headers")
        );
        assert!(
            decode(b"-----BEGIN \x1b[2J-----\n-----END \x1b[2J-----")
                .unwrap_err()
                .contains("label")
        );
    }

    #[test]
    fn debug_shows_no_body() {
        let b = Block {
            label: "L".into(),
            bytes: vec![0x42; 3],
        };
        assert_eq!(format!("{b:?}"), "Block(L, 3 bytes)");
    }
}
