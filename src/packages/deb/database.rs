//! The dpkg database entries for installed packages, so `ironhull sbom`,
//! Syft and Trivy list exactly what was installed.
//!
//! Two layouts exist and the base decides which: a base with a
//! `var/lib/dpkg/status` file (Debian, Ubuntu) gets its file rewritten with
//! the new stanzas appended (`Status: install ok installed`); any other base
//! (the built-in `static`, distroless) gets distroless's one file per
//! package, `var/lib/dpkg/status.d/<pkg>` (the control file) plus
//! `<pkg>.md5sums`. The md5sums are of the files as installed, at the paths
//! where they were installed, so they are true even when a path moved into
//! a merged `/usr`.

use crate::fs::{Entry, EntryKind, ImagePath, MergedTree};

/// Where the database goes on this base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Append to `var/lib/dpkg/status`.
    StatusFile,
    /// One file per package under `var/lib/dpkg/status.d/`.
    StatusD,
}

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d";

/// The layout `base` uses.
pub fn layout_of(base: &MergedTree) -> Layout {
    match ImagePath::parse(STATUS)
        .ok()
        .and_then(|p| base.get(&p).cloned())
    {
        Some(n) if n.entry.is_file() => Layout::StatusFile,
        _ => Layout::StatusD,
    }
}

/// One installed package's database input.
pub struct Record<'a> {
    pub name: &'a str,
    /// The package's `control` file.
    pub control: &'a str,
    /// `md5  path` lines of the installed files.
    pub md5sums: &'a str,
}

/// Why the database cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error(
        "the base's /{STATUS} is larger than ironhull reads ({0} bytes), so installed packages cannot be added to it truthfully; use a base with a smaller dpkg database"
    )]
    StatusTooBig(u64),
}

fn file(path: &str, bytes: Vec<u8>, mtime: u64) -> Option<(Entry, Vec<u8>)> {
    let p = ImagePath::parse(path).ok()?;
    let mut e = Entry::new(p, EntryKind::File, 0o644);
    e.size = bytes.len() as u64;
    e.mtime = mtime;
    Some((e, bytes))
}

/// The control text as a status stanza: `Status:` after `Package:`, no
/// trailing blank lines.
fn stanza(control: &str) -> String {
    let mut out = String::new();
    for line in control.trim_end_matches('\n').lines() {
        if line.starts_with("Status:") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.starts_with("Package:") {
            out.push_str("Status: install ok installed\n");
        }
    }
    out
}

/// The entries to write (sorted by path) for `records` on `base`.
pub fn entries(
    base: &MergedTree,
    records: &[Record<'_>],
    mtime: u64,
) -> Result<Vec<(Entry, Vec<u8>)>, DatabaseError> {
    let mut out = Vec::new();
    match layout_of(base) {
        Layout::StatusFile => {
            let p = ImagePath::parse(STATUS).ok();
            if let Some(too) = p.as_ref().and_then(|p| base.capture_too_big(p)) {
                return Err(DatabaseError::StatusTooBig(too));
            }
            let old = p
                .as_ref()
                .and_then(|p| base.content(p))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let mut text = old.trim_end_matches('\n').to_string();
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            for r in records {
                text.push_str(&stanza(r.control));
                text.push('\n');
            }
            out.extend(file(STATUS, text.into_bytes(), mtime));
            // dpkg's own per-package file lists, for tools that read them.
            for r in records {
                out.extend(file(
                    &format!("var/lib/dpkg/info/{}.md5sums", r.name),
                    r.md5sums.as_bytes().to_vec(),
                    mtime,
                ));
            }
        }
        Layout::StatusD => {
            for r in records {
                let mut control = r.control.trim_end_matches('\n').to_string();
                control.push('\n');
                out.extend(file(
                    &format!("{STATUS_D}/{}", r.name),
                    control.into_bytes(),
                    mtime,
                ));
                out.extend(file(
                    &format!("{STATUS_D}/{}.md5sums", r.name),
                    r.md5sums.as_bytes().to_vec(),
                    mtime,
                ));
            }
        }
    }
    out.sort_by(|a, b| crate::layer::path_order(&a.0.path, &b.0.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::CaptureSet;

    fn tree_with_status(text: Option<&str>) -> MergedTree {
        let mut t = MergedTree::with_capture(CaptureSet::standard());
        if let Some(s) = text {
            let p = ImagePath::parse(STATUS).unwrap();
            let mut e = Entry::new(p.clone(), EntryKind::File, 0o644);
            e.size = s.len() as u64;
            t.insert(0, e);
            t.set_content(&p, s.as_bytes().to_vec());
        }
        t
    }

    const CONTROL: &str =
        "Package: libc6\nVersion: 2.36-9\nArchitecture: amd64\nDescription: GNU C Library\n more\n";

    #[test]
    fn status_d_on_a_base_without_a_status_file() {
        let rec = [Record {
            name: "libc6",
            control: CONTROL,
            md5sums: "abc  usr/lib/x\n",
        }];
        let e = entries(&tree_with_status(None), &rec, 7).unwrap();
        let paths: Vec<&str> = e.iter().map(|(e, _)| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "var/lib/dpkg/status.d/libc6",
                "var/lib/dpkg/status.d/libc6.md5sums"
            ]
        );
        assert_eq!(e[0].1, CONTROL.as_bytes());
        assert!(
            e.iter()
                .all(|(e, b)| e.mtime == 7 && e.size == b.len() as u64)
        );
    }

    #[test]
    fn appends_to_an_existing_status_file_with_status_lines() {
        let old = "Package: base-files\nStatus: install ok installed\nVersion: 12\n\n";
        let rec = [Record {
            name: "libc6",
            control: CONTROL,
            md5sums: "",
        }];
        let e = entries(&tree_with_status(Some(old)), &rec, 0).unwrap();
        let (_, bytes) = e.iter().find(|(e, _)| e.path.as_str() == STATUS).unwrap();
        let status = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            e.iter()
                .any(|(e, _)| e.path.as_str() == "var/lib/dpkg/info/libc6.md5sums")
        );
        assert!(status.starts_with("Package: base-files\n"), "{status}");
        assert!(
            status.contains("\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36-9\n"),
            "{status}"
        );
        let (parsed, skipped) = crate::sbom::dpkg::parse(&status);
        assert_eq!(parsed.len(), 2, "{parsed:?} {skipped:?}");
    }
}
