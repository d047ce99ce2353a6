//! The secret scanner: streaming the content in arbitrary chunks finds
//! exactly what one whole-buffer scan finds (the gate streams layers, intake
//! scans buffers).
#![no_main]
use ironhull::secrets::{self, ContentScanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose the chunk size for the streamed scan.
    let (chunk, content) = match data {
        [a, b, rest @ ..] => (1 + (usize::from(*a) << 8 | usize::from(*b)), rest),
        _ => (1, data),
    };
    let whole = secrets::scan_content(content);
    let mut s = ContentScanner::new();
    for piece in content.chunks(chunk) {
        s.feed(piece);
    }
    assert_eq!(s.finish(), whole, "chunk size {chunk}");
});
