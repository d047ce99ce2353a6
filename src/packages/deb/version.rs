//! Debian package versions, `[epoch:]upstream[-revision]`, ordered exactly as
//! dpkg orders them (deb-version(7), dpkg's `verrevcmp`).
//!
//! The order decides which candidate a dependency like `libc6 (>= 2.36)`
//! accepts and which version the resolver prefers, so it must be dpkg's to
//! the byte: `tests/deb_version_oracle.rs` compares it with
//! `dpkg --compare-versions` over every version this machine's dpkg
//! database knows and generated hard cases (`~`, epochs, letters against
//! other characters, leading zeros).

use std::cmp::Ordering;

/// A parsed version. Comparison is dpkg's; equality is by that order
/// (`1.0` equals `1.00` and `0:1.0`, as dpkg says).
#[derive(Clone, Debug)]
pub struct DebVersion {
    epoch: u64,
    upstream: String,
    /// Empty when absent (which dpkg orders like `0`).
    revision: String,
    raw: String,
}

/// Why a version string is not a Debian version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{version:?} is not a Debian version: {why}")]
pub struct VersionError {
    pub version: String,
    pub why: &'static str,
}

impl DebVersion {
    /// Parses `[epoch:]upstream[-revision]`: the epoch is a number, the
    /// upstream part starts with a digit and holds only letters, digits and
    /// `. + ~ -` (a `-` only when there is a revision), the revision only
    /// letters, digits and `. + ~`.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let bad = |why| VersionError {
            version: s.to_string(),
            why,
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.chars().any(char::is_whitespace) {
            return Err(bad("it contains white space"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the epoch before ':' is not a number"));
                }
                let epoch = e
                    .parse::<u64>()
                    .map_err(|_| bad("the epoch is too large"))?;
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if rest.ends_with('-') {
            return Err(bad("the revision after the last '-' is empty"));
        }
        if upstream.is_empty() {
            return Err(bad("the upstream version is empty"));
        }
        if !upstream.as_bytes()[0].is_ascii_digit() {
            return Err(bad("the upstream version does not start with a digit"));
        }
        let allowed = |b: u8, hyphen: bool| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~') || (hyphen && b == b'-')
        };
        if !upstream.bytes().all(|b| allowed(b, !revision.is_empty())) {
            return Err(bad(
                "the upstream version holds a character other than letters, digits and . + ~ -",
            ));
        }
        if !revision.bytes().all(|b| allowed(b, false)) {
            return Err(bad(
                "the revision holds a character other than letters, digits and . + ~",
            ));
        }
        Ok(Self {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
            raw: s.to_string(),
        })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The revision, empty when the version has none.
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl std::fmt::Display for DebVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for DebVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

/// The weight of one non-digit character: `~` sorts before everything
/// (even the end of the string), letters before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating runs of non-digits (compared by
/// [`order`]) and digits (compared as numbers, leading zeros ignored).
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DebVersion {
        DebVersion::parse(s).unwrap()
    }

    #[test]
    fn dpkg_order() {
        // Each is strictly less than the next (deb-version(7) examples).
        let ascending = [
            "0:0~~", "0~", "0", "0a~", "0a", "1.0~rc1", "1.0", "1.0-0.1", "1.0-1", "1.0+b1",
            "1.0.1", "1.1", "1.01a", "1:0.1",
        ];
        for w in ascending.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("1.0"), v("1.00"));
        assert_eq!(v("1.0"), v("0:1.0"));
        assert_eq!(v("1.0"), v("1.0-0"));
        assert!(v("1.0a~") < v("1.0a"));
        assert!(v("2.36-9+deb12u4") > v("2.36-9"));
    }

    #[test]
    fn bad_versions_say_why() {
        for (s, why) in [
            ("", "empty"),
            ("a1", "start with a digit"),
            ("x:1", "epoch"),
            ("1.0-", "revision"),
            ("1.0 1", "white space"),
            ("1_0", "upstream"),
            ("1-a_b", "revision holds"),
            ("1-2-3!", "revision holds"),
        ] {
            let e = DebVersion::parse(s).unwrap_err();
            assert!(e.to_string().contains(why), "{s:?}: {e}");
        }
        assert_eq!(v("1:2.3-4-5").revision(), "5");
        assert_eq!(v("1:2.3-4-5").upstream(), "2.3-4");
        assert_eq!(v("7:1.0").epoch(), 7);
        assert!(DebVersion::parse("1-2-3").is_ok());
    }
}
