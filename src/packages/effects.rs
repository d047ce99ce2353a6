//! What maintainer scripts would have done, done natively. ironhull runs no
//! script, so the few effects an image needs are produced here from the
//! installed files alone, deterministically, and reported next to the
//! script that was not run:
//!
//! - `ca-certificates`' postinst runs `update-ca-certificates`, which
//!   concatenates the certificates into `/etc/ssl/certs/ca-certificates.crt`.
//!   Here: every `.crt` under `/usr/share/ca-certificates/`, in byte order
//!   of their paths, as distroless builds its bundle.
//!
//! Nothing else is emulated: accounts come from the spec only, and no
//! package can add a user, a service or an alternative.

use super::install::{InstallPlan, Staged};
use crate::fs::{Entry, EntryKind, ImagePath, MergedTree};
use std::sync::Arc;

/// Where update-ca-certificates writes the bundle.
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
const CA_SOURCES: &str = "usr/share/ca-certificates";

/// Applies the native effects to `plan` (in place) and records, per
/// package, what was done instead of its scripts.
pub fn apply(plan: &mut InstallPlan, base: &MergedTree, mtime: u64) {
    ca_bundle(plan, base, mtime);
}

fn ca_bundle(plan: &mut InstallPlan, base: &MergedTree, mtime: u64) {
    let Ok(sources) = ImagePath::parse(CA_SOURCES) else {
        return;
    };
    let mut certs: Vec<(&ImagePath, &Staged)> = plan
        .staged
        .iter()
        .filter(|(p, s)| {
            p.starts_with(&sources) && s.entry.is_file() && p.as_str().ends_with(".crt")
        })
        .collect();
    if certs.is_empty() {
        return;
    }
    certs.sort_by(|a, b| a.0.as_str().as_bytes().cmp(b.0.as_str().as_bytes()));
    let owner = certs[0].1.package;
    let mut bundle = Vec::new();
    for (_, s) in &certs {
        if let Some(c) = &s.content {
            bundle.extend_from_slice(c);
            if !bundle.ends_with(b"\n") {
                bundle.push(b'\n');
            }
        }
    }
    let n = certs.len();
    let Ok(path) = ImagePath::parse(CA_BUNDLE) else {
        return;
    };
    // The bundle's directories: the base's (through its links) or new.
    for dir in ["etc", "etc/ssl", "etc/ssl/certs"] {
        let Ok(d) = ImagePath::parse(dir) else {
            continue;
        };
        if base.get(&d).is_none() && !plan.staged.contains_key(&d) {
            let mut e = Entry::new(d.clone(), EntryKind::Dir, 0o755);
            e.mtime = mtime;
            plan.staged.insert(
                d,
                Staged {
                    entry: e,
                    content: None,
                    package: owner,
                },
            );
        }
    }
    let mut e = Entry::new(path.clone(), EntryKind::File, 0o644);
    e.size = bundle.len() as u64;
    e.mtime = mtime;
    plan.staged.insert(
        path,
        Staged {
            entry: e,
            content: Some(Arc::new(bundle)),
            package: owner,
        },
    );
    if let Some(p) = plan.packages.get_mut(owner) {
        p.instead.push(format!(
            "/{CA_BUNDLE} written from the {n} certificates under /{CA_SOURCES} (what update-ca-certificates would do)"
        ));
    }
}
