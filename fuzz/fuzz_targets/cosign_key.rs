//! cosign key files and `--key` values: any bytes either parse or give an
//! error, never a panic, and never a KDF run with parameters outside the
//! allow-list. Only the password-free stage (`parse_encrypted`) is fuzzed,
//! so each input costs microseconds, not one scrypt run.
#![no_main]
use ironhull::sign::{key, key_ref::KeyRef, pem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line doubles as a `--key` value.
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    if let Ok(s) = std::str::from_utf8(first) {
        match KeyRef::parse(s) {
            Ok(r) => {
                let _ = r.origin();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    match key::parse_encrypted(data, "fuzz") {
        // Accepted files ask only for an allow-listed scrypt cost.
        Ok(k) => assert!((15..=17).contains(&k.log_n()), "{k:?}"),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match key::parse_public_pem(data) {
        Ok(vk) => {
            // What we read, we write back the same way and read again.
            let text = key::public_pem(&vk);
            assert_eq!(key::parse_public_pem(text.as_bytes()).ok(), Some(vk));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(block) = pem::decode(data) {
        let again = pem::encode(&block.label, &block.bytes);
        let back = pem::decode(again.as_bytes()).expect("our own PEM reads back");
        assert_eq!(back.label, block.label);
        assert_eq!(back.bytes, block.bytes);
    }
});
