//! Native version ordering for the two package ecosystems ironhull scans.
//!
//! Vulnerability ranges (`introduced`, `fixed`, `last_affected`) are only as
//! good as the comparison used to evaluate them: comparing `1.36.1-r29` with
//! `1.36.1-r3` as strings, or `1:2.0` with `3.0` without the epoch, yields
//! silent false negatives. Both comparators are written clean-room from the
//! published rules (deb-version(7) for dpkg; the documented apk/Gentoo-style
//! version format for apk) and are total orders: any input, even a malformed
//! one, compares without panicking.

use std::cmp::Ordering;

/// A version string that does not follow its ecosystem's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ecosystem} version {version:?} is malformed: {why}")]
pub struct VersionError {
    pub ecosystem: &'static str,
    pub version: String,
    pub why: &'static str,
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Compares two runs of ASCII digits as unbounded non-negative integers, so a
/// 40-digit date-stamp cannot overflow. Empty means zero.
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Splits `s` at the end of its leading run of bytes satisfying `pred`.
fn split_run(s: &str, pred: impl Fn(u8) -> bool) -> (&str, &str) {
    let n = s.bytes().take_while(|b| pred(*b)).count();
    s.split_at(n)
}

// ---------------------------------------------------------------------------
// dpkg
// ---------------------------------------------------------------------------

/// A parsed Debian version: `[epoch:]upstream[-revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgVersion<'a> {
    /// Kept as a digit string so huge epochs cannot overflow.
    pub epoch: &'a str,
    pub upstream: &'a str,
    /// Empty when absent; deb-version(7) says that equals `0`.
    pub revision: &'a str,
}

impl<'a> DpkgVersion<'a> {
    /// Parses per deb-version(7): the epoch is the digits before the first
    /// colon, the revision is whatever follows the LAST hyphen.
    pub fn parse(s: &'a str) -> Result<Self, VersionError> {
        let err = |why| VersionError {
            ecosystem: "dpkg",
            version: s.to_string(),
            why,
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(err("it is empty"));
        }
        let (epoch, rest) = match s_trim.split_once(':') {
            Some((e, r)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("the epoch before ':' must be a non-negative integer"));
                }
                (e, r)
            }
            None => ("0", s_trim),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(err("the upstream version is empty"));
        }
        let ok = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b'-' | b':');
        if !upstream.bytes().all(ok) || !revision.bytes().all(ok) {
            return Err(err(
                "it contains characters other than letters, digits and . + ~ - :",
            ));
        }
        Ok(Self {
            epoch,
            upstream,
            revision,
        })
    }
}

/// The sort weight of one byte of a non-digit run: `~` before the end of the
/// string, the end before letters, letters before everything else.
fn dpkg_weight(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// The deb-version(7) comparison of one part (upstream or revision):
/// alternating non-digit runs (compared with `dpkg_weight`) and digit runs
/// (compared numerically).
fn dpkg_cmp_part(mut a: &str, mut b: &str) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        let (na, ra) = split_run(a, |c| !c.is_ascii_digit());
        let (nb, rb) = split_run(b, |c| !c.is_ascii_digit());
        let (na, nb) = (na.as_bytes(), nb.as_bytes());
        let mut i = 0;
        while i < na.len() || i < nb.len() {
            let o = dpkg_weight(na.get(i).copied()).cmp(&dpkg_weight(nb.get(i).copied()));
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
        }
        let (da, ra) = split_run(ra, |c| c.is_ascii_digit());
        let (db, rb) = split_run(rb, |c| c.is_ascii_digit());
        let o = cmp_digits(da, db);
        if o != Ordering::Equal {
            return o;
        }
        a = ra;
        b = rb;
    }
    Ordering::Equal
}

/// Orders two Debian package versions per deb-version(7). A malformed
/// version is compared as if it were all upstream (epoch 0, no revision), so
/// the order stays total and deterministic.
pub fn dpkg_cmp(a: &str, b: &str) -> Ordering {
    let lenient = |s: &str| -> (String, String, String) {
        match DpkgVersion::parse(s) {
            Ok(v) => (v.epoch.into(), v.upstream.into(), v.revision.into()),
            Err(_) => ("0".into(), s.trim().into(), String::new()),
        }
    };
    let (ea, ua, ra) = lenient(a);
    let (eb, ub, rb) = lenient(b);
    cmp_digits(&ea, &eb)
        .then_with(|| dpkg_cmp_part(&ua, &ub))
        .then_with(|| dpkg_cmp_part(&ra, &rb))
}

// ---------------------------------------------------------------------------
// apk
// ---------------------------------------------------------------------------

/// Suffix kinds in their order. `None` (no suffix) sits between the
/// pre-release kinds and the post-release ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SuffixKind {
    Alpha,
    Beta,
    Pre,
    Rc,
    None,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

impl SuffixKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "alpha" => Self::Alpha,
            "beta" => Self::Beta,
            "pre" => Self::Pre,
            "rc" => Self::Rc,
            "cvs" => Self::Cvs,
            "svn" => Self::Svn,
            "git" => Self::Git,
            "hg" => Self::Hg,
            "p" => Self::P,
            _ => return None,
        })
    }
}

/// A parsed apk version: `N(.N)*[a-z](_suffix[N])*[~hash][-rN]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApkVersion<'a> {
    numbers: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(SuffixKind, &'a str)>,
    hash: &'a str,
    revision: &'a str,
}

impl<'a> ApkVersion<'a> {
    pub fn parse(s: &'a str) -> Result<Self, VersionError> {
        let err = |why| VersionError {
            ecosystem: "apk",
            version: s.to_string(),
            why,
        };
        let mut rest = s.trim();
        // Revision: `-r` followed by digits, at the very end.
        let mut revision = "";
        if let Some((head, r)) = rest.rsplit_once("-r") {
            if !r.is_empty() && r.bytes().all(|c| c.is_ascii_digit()) {
                revision = r;
                rest = head;
            } else {
                return Err(err("the part after '-r' must be a number"));
            }
        } else if rest.contains('-') {
            return Err(err("a '-' may only introduce the '-rN' package revision"));
        }
        let mut hash = "";
        if let Some((head, h)) = rest.split_once('~') {
            if h.is_empty() || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err("the part after '~' must be a hexadecimal commit hash"));
            }
            hash = h;
            rest = head;
        }
        let mut numbers = Vec::new();
        loop {
            let (d, r) = split_run(rest, |c| c.is_ascii_digit());
            if d.is_empty() {
                return Err(err(
                    "it must start with a number, and every '.' must be followed by one",
                ));
            }
            numbers.push(d);
            rest = r;
            match rest.strip_prefix('.') {
                Some(r) => rest = r,
                None => break,
            }
        }
        let mut letter = None;
        if let Some(&c) = rest.as_bytes().first()
            && c.is_ascii_lowercase()
        {
            letter = Some(c);
            rest = &rest[1..];
        }
        let mut suffixes = Vec::new();
        while let Some(r) = rest.strip_prefix('_') {
            let (name, r) = split_run(r, |c| c.is_ascii_lowercase());
            let Some(kind) = SuffixKind::parse(name) else {
                return Err(err(
                    "unknown suffix; use _alpha, _beta, _pre, _rc, _cvs, _svn, _git, _hg or _p",
                ));
            };
            let (n, r) = split_run(r, |c| c.is_ascii_digit());
            suffixes.push((kind, n));
            rest = r;
        }
        if !rest.is_empty() {
            return Err(err("unexpected characters after the version"));
        }
        Ok(Self {
            numbers,
            letter,
            suffixes,
            hash,
            revision,
        })
    }

    fn cmp_parsed(&self, o: &Self) -> Ordering {
        for (a, b) in self.numbers.iter().zip(&o.numbers) {
            let c = cmp_digits(a, b);
            if c != Ordering::Equal {
                return c;
            }
        }
        // 1.2.1 > 1.2: more components is newer.
        let c = self.numbers.len().cmp(&o.numbers.len());
        if c != Ordering::Equal {
            return c;
        }
        let c = self.letter.cmp(&o.letter);
        if c != Ordering::Equal {
            return c;
        }
        let n = self.suffixes.len().max(o.suffixes.len());
        for i in 0..n {
            let a = self
                .suffixes
                .get(i)
                .copied()
                .unwrap_or((SuffixKind::None, ""));
            let b = o.suffixes.get(i).copied().unwrap_or((SuffixKind::None, ""));
            let c = a.0.cmp(&b.0).then_with(|| cmp_digits(a.1, b.1));
            if c != Ordering::Equal {
                return c;
            }
        }
        self.hash
            .cmp(o.hash)
            .then_with(|| cmp_digits(self.revision, o.revision))
    }
}

/// Orders two apk package versions. Malformed versions sort after every
/// well-formed one and among themselves by bytes, so the order stays total.
pub fn apk_cmp(a: &str, b: &str) -> Ordering {
    match (ApkVersion::parse(a), ApkVersion::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp_parsed(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal as E, Greater as G, Less as L};

    fn check(f: fn(&str, &str) -> Ordering, cases: &[(&str, &str, Ordering)]) {
        for (a, b, want) in cases {
            assert_eq!(f(a, b), *want, "cmp({a:?}, {b:?})");
            assert_eq!(f(b, a), want.reverse(), "cmp({b:?}, {a:?}) (antisymmetry)");
        }
    }

    #[test]
    fn dpkg_table() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", E),
            ("1.0", "1.1", L),
            ("1.10", "1.9", G),
            ("1.0-1", "1.0-2", L),
            ("1.0-10", "1.0-9", G),
            ("1:1.0", "2.0", G),
            ("0:1.0", "1.0", E),
            ("1:0.1", "0:9.9", G),
            ("2:1.0", "10:0.1", L),
            ("1.0~rc1", "1.0", L),
            ("1.0~rc1", "1.0~rc2", L),
            ("1.0~~", "1.0~", L),
            ("1.0~", "1.0", L),
            ("1.0~~a", "1.0~", L),
            ("1.0~beta", "1.0~rc", L),
            ("1.0", "1.0a", L),
            ("1.0a", "1.0+", L),
            ("1.0+", "1.0.", L),
            ("1.0a", "1.0b", L),
            ("1.0Z", "1.0a", L),
            ("1.0", "1.0-0", E),
            ("1.0-0", "1.0-0.1", L),
            ("1.0-1", "1.0-1+deb12u1", L),
            ("1.0-1+deb12u1", "1.0-1+deb12u2", L),
            ("1.0-1+deb11u1", "1.0-1+deb12u1", L),
            ("3.0.11-1~deb12u2", "3.0.11-1", L),
            ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1", G),
            ("3.0.13-1~deb12u1", "3.0.11-1~deb12u2", G),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", L),
            ("1.2.3-4-5", "1.2.3-4-6", L),
            ("1.2.3-4-5", "1.2.3-5", G),
            ("1:2.3-4", "1:2.3-4", E),
            ("1.001", "1.1", E),
            ("1.0.0", "1.0", G),
            ("1.0", "1", G),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u6", L),
            ("1.2.13.dfsg-1", "1.2.13.dfsg-1+b1", L),
            ("2022e-1", "2024a-0+deb12u1", L),
            ("99999999999999999999999", "99999999999999999999998", G),
            ("1:1.0~rc1", "1.9", G),
            ("1.0~rc1-1", "1.0-1", L),
            ("abc", "abd", L),
            ("1.0+dfsg", "1.0", G),
            ("5.2.15-2", "5.2.15-2+b2", L),
        ];
        assert!(cases.len() >= 40);
        check(dpkg_cmp, cases);
    }

    #[test]
    fn dpkg_parse() {
        let v = DpkgVersion::parse("1:2.3-4-5").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), ("1", "2.3-4", "5"));
        let v = DpkgVersion::parse("2.3").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), ("0", "2.3", ""));
        assert!(DpkgVersion::parse("").is_err());
        assert!(DpkgVersion::parse("a:1.0").is_err());
        assert!(DpkgVersion::parse("1:").is_err());
        assert!(DpkgVersion::parse("1.0 beta").is_err());
        // Malformed input still compares, without panicking.
        assert_eq!(dpkg_cmp("x:1", "x:1"), E);
        assert_eq!(dpkg_cmp("", ""), E);
    }

    #[test]
    fn apk_table() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", E),
            ("1.0", "1.1", L),
            ("1.10", "1.9", G),
            ("1.2.1", "1.2", G),
            ("1.36.1-r29", "1.36.1-r3", G),
            ("1.36.1-r29", "1.36.1-r30", L),
            ("1.36.1", "1.36.1-r0", E),
            ("1.36.1-r1", "1.36.1", G),
            ("3.3.2-r0", "3.3.2-r1", L),
            ("3.3.2-r1", "3.3.10-r0", L),
            ("1.0_alpha", "1.0_beta", L),
            ("1.0_beta", "1.0_pre", L),
            ("1.0_pre", "1.0_rc", L),
            ("1.0_rc", "1.0", L),
            ("1.0", "1.0_cvs", L),
            ("1.0_cvs", "1.0_svn", L),
            ("1.0_svn", "1.0_git", L),
            ("1.0_git", "1.0_hg", L),
            ("1.0_hg", "1.0_p", L),
            ("1.0_alpha1", "1.0_alpha2", L),
            ("1.0_alpha10", "1.0_alpha9", G),
            ("1.0_rc1", "1.0_rc1-r1", L),
            ("1.0_rc9-r9", "1.0", L),
            ("1.0_p1", "1.0_p2", L),
            ("1.0_p1", "1.0.1", L),
            ("1.0a", "1.0", G),
            ("1.0a", "1.0b", L),
            ("1.0z", "1.0.1", L),
            ("1.0a", "1.0_p1", G),
            ("1.0_alpha_p1", "1.0_alpha", G),
            ("1.0_alpha_p1", "1.0_beta", L),
            ("1.0_rc1_rc1", "1.0_rc1", L),
            ("20240705-r0", "20240226-r0", G),
            ("2.14.4-r0", "2.14.10-r0", L),
            ("1.3.1-r1", "1.3.1-r2", L),
            ("1.001", "1.1", E),
            ("0.9.9", "1.0", L),
            ("1.0-r10", "1.0-r9", G),
            ("99999999999999999999999", "99999999999999999999998", G),
            ("1.2.3_git20240101-r0", "1.2.3-r5", G),
            ("1.2.3_pre20240101-r5", "1.2.3-r0", L),
            ("1.0~abc123", "1.0~abc124", L),
            ("1.0", "not-a-version", L),
            ("6.4_p20240330-r0", "6.4_p20231230-r1", G),
        ];
        assert!(cases.len() >= 40);
        check(apk_cmp, cases);
    }

    #[test]
    fn apk_parse_rejects_garbage() {
        for bad in [
            "", "a1", "1..2", "1.0_foo", "1.0-x", "1.0-r", "1.0_rc1a", "1.0~xyz", "1.0-1",
        ] {
            assert!(
                ApkVersion::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        for good in ["1", "1.2.3a_rc1_p2~abcd-r10", "0.0.0-r0", "2024.1"] {
            assert!(ApkVersion::parse(good).is_ok(), "{good:?} should parse");
        }
        // Total order even for malformed input.
        assert_eq!(apk_cmp("zz", "zz"), E);
        assert_eq!(apk_cmp("b-x", "a-x"), G);
    }
}
