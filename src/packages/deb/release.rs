//! Debian `Release` files (the signed text of `InRelease`, or `Release`
//! checked against `Release.gpg`): which suite it is, until when it is
//! valid, and the SHA256 and size of every index file below it. Only the
//! SHA256 list is read: MD5Sum and SHA1 lists are ignored, since they prove
//! nothing against an attacker.
//!
//! `Valid-Until` is checked by [`check_valid_until`] on its own, with the
//! caller's `now`: resolving (`ironhull lock`) checks it, building from a
//! lock does not read indexes at all, and snapshot archives are
//! legitimately expired.

use super::control::{self, field_line};
use std::collections::BTreeMap;

/// One `SHA256:` line: `<hex> <size> <path relative to dists/<suite>/>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexFile {
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub suite: Option<String>,
    pub codename: Option<String>,
    /// `Date`, as Unix seconds.
    pub date: Option<u64>,
    /// `Valid-Until`, as Unix seconds.
    pub valid_until: Option<u64>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub acquire_by_hash: bool,
    /// Path → digest and size, from the SHA256 list.
    pub sha256: BTreeMap<String, IndexFile>,
}

/// What is wrong with a Release file: the line and the why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ReleaseError {
    pub line: usize,
    pub why: String,
}

fn err(line: usize, why: impl Into<String>) -> ReleaseError {
    ReleaseError {
        line,
        why: why.into(),
    }
}

/// Parses the first (and only) stanza of a Release file.
pub fn parse(text: &str) -> Result<Release, ReleaseError> {
    let stanzas = control::parse(text).map_err(|e| err(e.line, e.why))?;
    let Some(st) = stanzas.first() else {
        return Err(err(1, "the Release file is empty"));
    };
    if let Some(extra) = stanzas.get(1) {
        return Err(err(
            extra.line,
            "a second paragraph; a Release file has exactly one",
        ));
    }
    let words = |name: &str| -> Vec<String> {
        st.get(name)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let date = |name: &str| -> Result<Option<u64>, ReleaseError> {
        match st.get(name) {
            None => Ok(None),
            Some(v) => parse_date(v).map(Some).ok_or_else(|| {
                err(
                    field_line(text, st, name),
                    format!("{name}: {v:?} is not an RFC 2822 date (e.g. `Sat, 10 Jun 2023 08:45:53 UTC`)"),
                )
            }),
        }
    };
    let acquire_by_hash = match st.get("Acquire-By-Hash") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("yes") => true,
        Some(v) if v.eq_ignore_ascii_case("no") => false,
        Some(v) => {
            return Err(err(
                field_line(text, st, "Acquire-By-Hash"),
                format!("Acquire-By-Hash: {v:?} is neither yes nor no"),
            ));
        }
    };
    let mut sha256 = BTreeMap::new();
    if let Some(list) = st.get("SHA256") {
        let first = field_line(text, st, "SHA256");
        // The value starts with an empty first line; entries follow.
        for (i, line) in list.split('\n').enumerate() {
            let n = first + i;
            if line.trim().is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [hex, size, path] = parts[..] else {
                return Err(err(
                    n,
                    format!("SHA256 entry {line:?} is not `<sha256> <size> <path>`"),
                ));
            };
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    n,
                    format!("SHA256 entry for {path}: {hex:?} is not a SHA-256 in hex"),
                ));
            }
            let size: u64 = size.parse().map_err(|_| {
                err(
                    n,
                    format!("SHA256 entry for {path}: size {size:?} is not a number"),
                )
            })?;
            if path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty()) {
                return Err(err(
                    n,
                    format!("SHA256 entry path {path:?} leaves the suite directory"),
                ));
            }
            sha256.insert(
                path.to_string(),
                IndexFile {
                    sha256: hex.to_ascii_lowercase(),
                    size,
                },
            );
        }
    }
    Ok(Release {
        suite: st.get("Suite").map(str::to_string),
        codename: st.get("Codename").map(str::to_string),
        date: date("Date")?,
        valid_until: date("Valid-Until")?,
        architectures: words("Architectures"),
        components: words("Components"),
        acquire_by_hash,
        sha256,
    })
}

/// Why a Release is too old to resolve from at `now` (Unix seconds), if it is.
pub fn check_valid_until(release: &Release, now: u64) -> Result<(), String> {
    match release.valid_until {
        Some(until) if until < now => Err(format!(
            "Valid-Until {} has passed ({} seconds ago): the mirror is stale or replays an old index; use an up-to-date mirror (for a snapshot archive, build from the lock instead of re-resolving)",
            format_date(until),
            now - until
        )),
        _ => Ok(()),
    }
}

/// Parses `Sat, 10 Jun 2023 08:45:53 UTC` (also `+0000`, `GMT`, `Z`, and
/// without the weekday) into Unix seconds. None for anything else.
pub fn parse_date(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = match s.split_once(',') {
        Some((_, rest)) => rest.trim(),
        None => s,
    };
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [day, mon, year, time, zone] = parts[..] else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| mon.eq_ignore_ascii_case(m))? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let t: Vec<&str> = time.split(':').collect();
    let [h, m, sec] = t[..] else { return None };
    let (h, m, sec): (u64, u64, u64) = (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
    if !(1..=31).contains(&day) || !(1970..=9999).contains(&year) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let offset: i64 = match zone {
        "UTC" | "GMT" | "Z" | "UT" => 0,
        z if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let hh: i64 = z[1..3].parse().ok()?;
            let mm: i64 = z[3..5].parse().ok()?;
            let v = hh * 3600 + mm * 60;
            if z.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = i64::try_from(days * 86400 + h * 3600 + m * 60 + sec).ok()? - offset;
    u64::try_from(secs).ok()
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm), for year >= 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146097 + doe).saturating_sub(719468)
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`, for messages.
pub fn format_date(secs: u64) -> String {
    let days = secs / 86400;
    let rem = secs % 86400;
    // civil_from_days
    let z = days + 719468;
    let era = z / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Origin: Debian\nLabel: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 10 Jun 2023 08:45:53 UTC\nValid-Until: Sat, 17 Jun 2023 08:45:53 UTC\nAcquire-By-Hash: yes\nArchitectures: all amd64 arm64\nComponents: main contrib\nMD5Sum:\n 0123 10 main/binary-amd64/Packages\nSHA256:\n 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 1234 main/binary-amd64/Packages\n 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 99 main/binary-amd64/Packages.xz\n";

    #[test]
    fn reads_a_release() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.suite.as_deref(), Some("stable"));
        assert_eq!(r.codename.as_deref(), Some("bookworm"));
        assert_eq!(r.date, Some(1686386753));
        assert_eq!(r.valid_until, Some(1686386753 + 7 * 86400));
        assert_eq!(r.architectures, ["all", "amd64", "arm64"]);
        assert_eq!(r.components, ["main", "contrib"]);
        assert!(r.acquire_by_hash);
        assert_eq!(r.sha256.len(), 2);
        let p = &r.sha256["main/binary-amd64/Packages"];
        assert_eq!(p.size, 1234);
        assert!(p.sha256.starts_with("9f86d0"));
    }

    #[test]
    fn valid_until_is_checked_against_now() {
        let r = parse(SAMPLE).unwrap();
        let until = r.valid_until.unwrap();
        assert!(check_valid_until(&r, until).is_ok());
        let e = check_valid_until(&r, until + 1).unwrap_err();
        assert!(e.contains("2023-06-17 08:45:53 UTC"), "{e}");
        let mut no = r.clone();
        no.valid_until = None;
        assert!(check_valid_until(&no, u64::MAX).is_ok());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(parse_date("29 Feb 2024 12:00:00 +0100"), Some(1709204400));
        assert_eq!(
            parse_date("Tue, 01 Dec 2026 15:00:00 GMT"),
            Some(1796137200)
        );
        assert_eq!(format_date(1796137200), "2026-12-01 15:00:00 UTC");
        for bad in [
            "",
            "yesterday",
            "Sat, 10 Foo 2023 08:45:53 UTC",
            "10 Jun 2023 25:00:00 UTC",
            "10 Jun 2023 08:45:53 CEST",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn hostile_release_names_the_line() {
        for (text, line, why) in [
            (
                "Suite: x\nSHA256:\n zz 1 main/Packages\n",
                3,
                "not a SHA-256",
            ),
            (
                "Suite: x\nSHA256:\n 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 -1 p\n",
                3,
                "not a number",
            ),
            (
                "Suite: x\nSHA256:\n 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 1 ../p\n",
                3,
                "leaves",
            ),
            (
                "Suite: x\nSHA256:\n onlytwo 1\n",
                3,
                "<sha256> <size> <path>",
            ),
            ("Suite: x\nDate: soon\n", 2, "RFC 2822"),
            ("Suite: x\nAcquire-By-Hash: maybe\n", 2, "neither"),
            ("Suite: x\n\nSuite: y\n", 3, "second paragraph"),
            ("", 1, "empty"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.why.contains(why), "{text:?}: {e}");
        }
    }
}
