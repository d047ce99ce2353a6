//! The one-way flow, enforced: the OCI core (digests, canonical JSON, the
//! image model, references, the tar reader and merged view, layer writing,
//! the blob store and output formats, and the detectors) knows nothing of
//! specs, policy, hardening, builds or commands. If it did, a change to a
//! policy could change how bytes are read or written. This is the boundary a
//! separate crate would draw; the README's Design section says why it is a
//! test and not a workspace.

use std::fs;
use std::path::Path;

/// The core modules (a directory under src/ or a file src/NAME.rs).
const CORE: &[&str] = &[
    "digest",
    "cjson",
    "image",
    "reference",
    "fs",
    "layer",
    "store",
    "detect",
    "error",
    "elf",
];

/// What the core must not name.
const ABOVE: &[&str] = &[
    "spec",
    "policy",
    "harden",
    "build",
    "pipeline",
    "commands",
    "lock",
    "sbom",
    "vuln",
    "secrets",
    "base",
    "output",
    "registry",
    "events",
    "cache_auth",
];

fn rust_files(p: &Path, out: &mut Vec<std::path::PathBuf>) {
    if p.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if p.is_file() && p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

#[test]
fn the_core_never_imports_what_is_built_on_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut files_checked = 0;
    for m in CORE {
        let mut files = Vec::new();
        rust_files(&src.join(m), &mut files);
        rust_files(&src.join(format!("{m}.rs")), &mut files);
        assert!(!files.is_empty(), "core module {m} not found under src/");
        for f in files {
            files_checked += 1;
            let text = fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                // `crate::policy::…`, `crate::policy;` and `use crate::{policy, …}`.
                let words: Vec<&str> = line
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .collect();
                let grouped = line.contains("crate::{");
                for a in ABOVE {
                    let direct = line.contains(&format!("crate::{a}::"))
                        || line.contains(&format!("crate::{a};"));
                    if direct || (grouped && words.contains(a)) {
                        violations.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(files_checked > 20, "only {files_checked} core files found");
    assert!(
        violations.is_empty(),
        "the core imports modules above it:\n{}",
        violations.join("\n")
    );
}
