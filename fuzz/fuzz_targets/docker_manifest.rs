//! `docker save`'s `manifest.json`: parses or is refused; the entry chosen
//! for a reference is one of the entries and carries that reference; a
//! `repo_tag` normalization is a fixed point and names the same image.
#![no_main]
use ironhull::store::docker_archive::{parse_manifest_json, ref_key, repo_tag, select_entry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First line: a reference to select; the rest: manifest.json.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(reference) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let json = data.get(split + 1..).unwrap_or_default();
    if let Ok(t) = repo_tag(reference) {
        assert_eq!(
            repo_tag(&t).as_deref().ok(),
            Some(t.as_str()),
            "{reference:?}"
        );
        assert_eq!(ref_key(&t), ref_key(reference), "{reference:?} -> {t:?}");
    }
    let Ok(entries) = parse_manifest_json(json, "fuzz") else {
        return;
    };
    let back = serde_json::to_vec(&entries).expect("serializes");
    assert_eq!(
        parse_manifest_json(&back, "fuzz").ok().as_ref(),
        Some(&entries)
    );
    for r in [None, Some(reference)] {
        if let Ok(e) = select_entry(&entries, r, "fuzz") {
            assert!(entries.iter().any(|x| std::ptr::eq(x, e)));
            if let Some(r) = r.filter(|r| !r.starts_with('@')) {
                let key = ref_key(r);
                assert!(
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|t| t == r || ref_key(t) == key)
                );
            }
        }
    }
});
