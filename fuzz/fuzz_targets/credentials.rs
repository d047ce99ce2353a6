//! docker `config.json` / podman `auth.json`: any file either yields
//! credentials, nothing, or an error that does not echo the file's secrets.
//! Credential helpers are looked up in an empty directory, so none runs.
#![no_main]
use ironhull::registry::credentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: the registry to look up; the rest: the file.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(registry) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let file = data.get(split + 1..).unwrap_or_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.json");
    std::fs::write(&path, file).expect("write");
    let no_helpers = dir.path().join("no-helpers");
    std::fs::create_dir(&no_helpers).expect("mkdir");
    match credentials::from_file(&path, registry, Some(no_helpers.as_os_str())) {
        Ok(c) => {
            let _ = format!("{c:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
