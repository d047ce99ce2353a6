//! Loading OSV records (https://ossf.github.io/osv-schema/) from a directory
//! of JSON files or from an `all.zip` as osv.dev publishes per ecosystem.
//!
//! Records are input from outside, so every size is bounded and a malformed
//! record is reported (file name and reason) and skipped instead of failing
//! the scan or, worse, being half-understood.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::VulnSeverity;
use super::cvss;

/// Largest single record accepted. Real records are a few KiB.
pub const MAX_RECORD_BYTES: u64 = 8 * 1024 * 1024;
/// Most records (files or zip entries) read from one database.
pub const MAX_RECORDS: usize = 2_000_000;
/// Deepest directory recursion when loading a directory.
const MAX_DEPTH: usize = 8;

/// Why the database could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum OsvError {
    #[error(
        "vulnerability database {path} cannot be read: {source}; pass --db a directory of OSV \
         JSON files or an OSV all.zip"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "vulnerability database {path} is not a readable zip archive: {detail}; download the \
         ecosystem's all.zip again, or unpack it into a directory"
    )]
    Zip { path: PathBuf, detail: String },
    #[error(
        "vulnerability database {path} holds more than {MAX_RECORDS} records; split it by ecosystem"
    )]
    TooMany { path: PathBuf },
}

/// One `ECOSYSTEM` (or `SEMVER`) range event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// One `affected[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub ecosystem: String,
    pub name: String,
    /// Only ranges of type `ECOSYSTEM` (and `SEMVER`, evaluated the same way);
    /// `GIT` ranges name commits, not package versions.
    pub ranges: Vec<Vec<Event>>,
    /// Explicitly enumerated affected versions.
    pub versions: Vec<String>,
    /// Severity given for this package specifically (ecosystem_specific or
    /// database_specific), which overrides the record's.
    pub severity: Option<VulnSeverity>,
}

/// One OSV record, reduced to what matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: VulnSeverity,
    pub affected: Vec<Affected>,
    /// Where it was read from (file or zip entry), for messages.
    pub origin: String,
}

/// Loaded records, indexed by (ecosystem, package name).
#[derive(Debug, Default, Clone)]
pub struct Database {
    pub records: Vec<Record>,
    index: BTreeMap<(String, String), Vec<(usize, usize)>>,
    /// Records that were skipped, with the reason.
    pub warnings: Vec<String>,
}

impl Database {
    /// Builds a database from records (tests and adapters use this directly).
    pub fn from_records(records: Vec<Record>) -> Self {
        let mut db = Database::default();
        for r in records {
            db.push(r);
        }
        db
    }

    fn push(&mut self, r: Record) {
        let i = self.records.len();
        for (j, a) in r.affected.iter().enumerate() {
            self.index
                .entry((a.ecosystem.clone(), a.name.clone()))
                .or_default()
                .push((i, j));
        }
        self.records.push(r);
    }

    /// Every (record, affected entry) about `name` in `ecosystem`. An entry for
    /// the bare ecosystem (`Alpine`, `Debian`) applies to every release of it.
    pub fn lookup<'a>(&'a self, ecosystem: &str, name: &str) -> Vec<(&'a Record, &'a Affected)> {
        let mut keys = vec![ecosystem.to_string()];
        if let Some((bare, _)) = ecosystem.split_once(':') {
            keys.push(bare.to_string());
        }
        let mut out = Vec::new();
        for k in keys {
            if let Some(v) = self.index.get(&(k, name.to_string())) {
                for &(i, j) in v {
                    if let Some(r) = self.records.get(i)
                        && let Some(a) = r.affected.get(j)
                    {
                        out.push((r, a));
                    }
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Loads `path`: a directory (JSON files at any depth up to 8) or a zip.
    /// When `want` is given, only `affected` entries of those ecosystems (or
    /// their bare names) are kept, which keeps a large all.zip cheap in memory.
    pub fn load(path: &Path, want: Option<&BTreeSet<String>>) -> Result<Self, OsvError> {
        let meta = fs::metadata(path).map_err(|source| OsvError::Io {
            path: path.into(),
            source,
        })?;
        let mut db = Database::default();
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_json(path, 0, &mut files).map_err(|source| OsvError::Io {
                path: path.into(),
                source,
            })?;
            files.sort();
            if files.len() > MAX_RECORDS {
                return Err(OsvError::TooMany { path: path.into() });
            }
            for f in files {
                let shown = f.display().to_string();
                let bytes = match read_bounded(fs::File::open(&f), &shown) {
                    Ok(b) => b,
                    Err(w) => {
                        db.warnings.push(w);
                        continue;
                    }
                };
                db.add_bytes(&bytes, &shown, want);
            }
        } else {
            let f = fs::File::open(path).map_err(|source| OsvError::Io {
                path: path.into(),
                source,
            })?;
            let mut zip = zip::ZipArchive::new(f).map_err(|e| OsvError::Zip {
                path: path.into(),
                detail: e.to_string(),
            })?;
            if zip.len() > MAX_RECORDS {
                return Err(OsvError::TooMany { path: path.into() });
            }
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(|e| OsvError::Zip {
                    path: path.into(),
                    detail: format!("entry {i}: {e}"),
                })?;
                let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
                if !entry.is_file() || !name.ends_with(".json") {
                    continue;
                }
                let shown = format!("{}!{name}", path.display());
                if entry.size() > MAX_RECORD_BYTES {
                    db.warnings.push(format!(
                        "{shown}: larger than {MAX_RECORD_BYTES} bytes; skipped"
                    ));
                    continue;
                }
                let mut bytes = Vec::new();
                if let Err(e) = (&mut entry)
                    .take(MAX_RECORD_BYTES + 1)
                    .read_to_end(&mut bytes)
                {
                    db.warnings
                        .push(format!("{shown}: cannot be decompressed ({e}); skipped"));
                    continue;
                }
                if bytes.len() as u64 > MAX_RECORD_BYTES {
                    db.warnings.push(format!(
                        "{shown}: larger than {MAX_RECORD_BYTES} bytes; skipped"
                    ));
                    continue;
                }
                db.add_bytes(&bytes, &shown, want);
            }
        }
        Ok(db)
    }

    fn add_bytes(&mut self, bytes: &[u8], shown: &str, want: Option<&BTreeSet<String>>) {
        let v: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                self.warnings
                    .push(format!("{shown}: not valid JSON ({e}); skipped"));
                return;
            }
        };
        match parse_record(&v, shown) {
            Ok(Some(mut r)) => {
                if let Some(want) = want {
                    r.affected.retain(|a| {
                        want.contains(&a.ecosystem)
                            || want
                                .iter()
                                .any(|w| w.split_once(':').is_some_and(|(b, _)| b == a.ecosystem))
                    });
                    if r.affected.is_empty() {
                        return;
                    }
                }
                self.push(r);
            }
            Ok(None) => {}
            Err(why) => self.warnings.push(format!("{shown}: {why}; skipped")),
        }
    }
}

fn collect_json(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    for e in fs::read_dir(dir)? {
        let e = e?;
        let ty = e.file_type()?;
        let p = e.path();
        if ty.is_dir() {
            collect_json(&p, depth + 1, out)?;
        } else if ty.is_file() && p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
        if out.len() > MAX_RECORDS {
            return Ok(());
        }
    }
    Ok(())
}

fn read_bounded(f: std::io::Result<fs::File>, shown: &str) -> Result<Vec<u8>, String> {
    let f = f.map_err(|e| format!("{shown}: cannot be opened ({e}); skipped"))?;
    let mut bytes = Vec::new();
    f.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot be read ({e}); skipped"))?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(format!(
            "{shown}: larger than {MAX_RECORD_BYTES} bytes; skipped"
        ));
    }
    Ok(bytes)
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A textual severity inside `database_specific` / `ecosystem_specific`.
fn specific_severity(v: &Value) -> Option<VulnSeverity> {
    for k in ["database_specific", "ecosystem_specific"] {
        if let Some(s) = v
            .get(k)
            .and_then(|d| d.get("severity"))
            .and_then(Value::as_str)
            && let Some(sev) = VulnSeverity::from_label(s)
        {
            return Some(sev);
        }
    }
    None
}

/// The rating of the record's `severity[]`: scored CVSS v3 vectors first,
/// then a plain numeric score, then CVSS v2.
fn cvss_severity(v: &Value) -> Option<VulnSeverity> {
    let list = v.get("severity").and_then(Value::as_array)?;
    let mut best: Option<VulnSeverity> = None;
    let mut v2: Option<VulnSeverity> = None;
    for s in list {
        let ty = str_field(s, "type").unwrap_or("");
        let score = str_field(s, "score").unwrap_or("");
        let scored = match ty {
            "CVSS_V3" => cvss::v3_base_score(score).or_else(|| score.parse::<f64>().ok()),
            "CVSS_V2" => {
                v2 = v2.max(cvss::v2_base_score(score).map(VulnSeverity::from_score));
                continue;
            }
            _ => score.parse::<f64>().ok(),
        };
        if let Some(sc) = scored {
            best = best.max(Some(VulnSeverity::from_score(sc)));
        } else if let Some(l) = VulnSeverity::from_label(score) {
            best = best.max(Some(l));
        }
    }
    best.or(v2)
}

/// Parses one record. `Ok(None)` for records that must be ignored
/// (withdrawn); `Err` for records that are malformed.
pub fn parse_record(v: &Value, origin: &str) -> Result<Option<Record>, String> {
    let id = str_field(v, "id")
        .filter(|s| !s.is_empty())
        .ok_or("the record has no \"id\"")?;
    if v.get("withdrawn").is_some_and(|w| !w.is_null()) {
        return Ok(None);
    }
    let aliases = v
        .get("aliases")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let severity = cvss_severity(v)
        .or_else(|| specific_severity(v))
        .unwrap_or(VulnSeverity::Unknown);
    let mut affected = Vec::new();
    for a in v
        .get("affected")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(pkg) = a.get("package") else {
            continue;
        };
        let (Some(eco), Some(name)) = (str_field(pkg, "ecosystem"), str_field(pkg, "name")) else {
            return Err("an \"affected\" entry has no package.ecosystem or package.name".into());
        };
        let mut ranges = Vec::new();
        for r in a
            .get("ranges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !matches!(str_field(r, "type"), Some("ECOSYSTEM" | "SEMVER")) {
                continue;
            }
            let mut evs = Vec::new();
            for e in r
                .get("events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ev = if let Some(x) = str_field(e, "introduced") {
                    Event::Introduced(x.into())
                } else if let Some(x) = str_field(e, "fixed") {
                    Event::Fixed(x.into())
                } else if let Some(x) = str_field(e, "last_affected") {
                    Event::LastAffected(x.into())
                } else if let Some(x) = str_field(e, "limit") {
                    Event::Limit(x.into())
                } else {
                    return Err(format!(
                        "range event {e} has none of introduced/fixed/last_affected/limit"
                    ));
                };
                evs.push(ev);
            }
            ranges.push(evs);
        }
        let versions = a
            .get("versions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        affected.push(Affected {
            ecosystem: eco.into(),
            name: name.into(),
            ranges,
            versions,
            severity: specific_severity(a),
        });
    }
    Ok(Some(Record {
        id: id.into(),
        aliases,
        summary: str_field(v, "summary").map(String::from),
        severity,
        affected,
        origin: origin.into(),
    }))
}
