//! builder.toml: any text either parses into a `Spec` or gives an error whose
//! message renders; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ironhull::spec::parse(text, Path::new("/fuzz/builder.toml")) {
        Ok(spec) => {
            // Parsing is a pure function of the text.
            let again = ironhull::spec::parse(text, Path::new("/fuzz/builder.toml"));
            assert!(again.is_ok());
            let _ = format!("{spec:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
