//! apk package versions (`1.2.3_rc1-r0`), validated and ordered exactly as
//! apk-tools 2.14 does (`apk_version_validate`, `apk_version_compare`).
//!
//! WHY a faithful port of apk's tokenizer rather than a grammar of our own:
//! the order decides which candidate `so:libc.musl-x86_64.so.1` or
//! `python3>=3.11` accepts and which version the resolver prefers, so it
//! must be apk's to the byte, quirks included (`1.0` > `1.00`, `1.` < `1.0`,
//! `1-r1-r2` is a valid version, an empty version is valid). apk 2.14 has
//! no `~hash` part (that is apk 3): `1.2~ab` is refused, as `apk version -c`
//! refuses it. `tests/apk_version_oracle.rs` checks every answer against
//! the real `apk version -t` / `apk version -c` of the Alpine fixture.
//!
//! A version is a stream of tokens: digits, `.`-separated digit groups (a
//! group with leading zeros sorts below one without), one lower-case letter,
//! `_suffix` + optional number (`alpha beta pre rc` sort before the bare
//! version, `cvs svn git hg p` after), and `-rN`. Two versions compare
//! token by token; where one stops or changes kind first, the kinds decide.

use std::cmp::Ordering;

// Token kinds, in apk's order: a later kind may only follow an earlier one
// (with the three exceptions in `next_token`), and at a divergence the
// higher kind sorts lower.
const INVALID: i8 = -1;
const DIGIT_OR_ZERO: i8 = 0;
const DIGIT: i8 = 1;
const LETTER: i8 = 2;
const SUFFIX: i8 = 3;
const SUFFIX_NO: i8 = 4;
const REVISION_NO: i8 = 5;
const END: i8 = 6;

const PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];

/// Reads the separator (or the implicit boundary) in front of the next
/// token and sets `ty` to that token's kind.
fn next_token(ty: &mut i8, b: &mut &[u8]) {
    let mut n = INVALID;
    match b.first() {
        None | Some(0) => n = END,
        Some(&c) if (*ty == DIGIT || *ty == DIGIT_OR_ZERO) && c.is_ascii_lowercase() => n = LETTER,
        Some(&c) if *ty == LETTER && c.is_ascii_digit() => n = DIGIT,
        Some(&c) if *ty == SUFFIX && c.is_ascii_digit() => n = SUFFIX_NO,
        Some(&c) => {
            match c {
                b'.' => n = DIGIT_OR_ZERO,
                b'_' => n = SUFFIX,
                b'-' if b.get(1) == Some(&b'r') => {
                    n = REVISION_NO;
                    *b = &b[1..];
                }
                _ => {}
            }
            *b = &b[1..];
        }
    }
    if n < *ty
        && !((n == DIGIT_OR_ZERO && *ty == DIGIT)
            || (n == SUFFIX && *ty == SUFFIX_NO)
            || (n == DIGIT && *ty == LETTER))
    {
        n = INVALID;
    }
    *ty = n;
}

/// Reads one token of kind `ty`, returns its value and moves `ty` to the
/// next token's kind (`END`, or `INVALID` when the rest is not a version).
fn get_token(ty: &mut i8, b: &mut &[u8]) -> i64 {
    if b.is_empty() {
        *ty = END;
        return 0;
    }
    let mut i = 0usize;
    let mut nt = INVALID;
    let mut v: i64 = 0;
    match *ty {
        DIGIT_OR_ZERO if b[0] == b'0' => {
            // Leading zeros: `.001` sorts below `.01` below `.1`; the
            // digits after them are read as a plain number next.
            while i + 1 < b.len() && b[i + 1] == b'0' {
                i += 1;
            }
            nt = DIGIT;
            v = -(i as i64);
        }
        DIGIT_OR_ZERO | DIGIT | SUFFIX_NO | REVISION_NO => {
            while i < b.len() && b[i].is_ascii_digit() {
                v = v.wrapping_mul(10).wrapping_add(i64::from(b[i] - b'0'));
                i += 1;
            }
            if i >= 18 {
                *ty = INVALID;
                return -1;
            }
        }
        LETTER => {
            v = i64::from(b[0]);
            i = 1;
        }
        SUFFIX => {
            if let Some(k) = PRE_SUFFIXES.iter().position(|s| b.starts_with(s)) {
                i = PRE_SUFFIXES[k].len();
                v = k as i64 - PRE_SUFFIXES.len() as i64;
            } else if let Some(k) = POST_SUFFIXES.iter().position(|s| b.starts_with(s)) {
                i = POST_SUFFIXES[k].len();
                v = k as i64;
            } else {
                *ty = INVALID;
                return -1;
            }
        }
        _ => {
            *ty = INVALID;
            return -1;
        }
    }
    *b = &b[i..];
    if b.is_empty() {
        *ty = END;
    } else if nt != INVALID {
        *ty = nt;
    } else {
        next_token(ty, b);
    }
    v
}

/// apk's `apk_version_validate`.
fn validate(mut b: &[u8]) -> bool {
    let mut t = DIGIT;
    while t != END && t != INVALID {
        get_token(&mut t, &mut b);
    }
    t == END
}

/// apk's `apk_version_compare_blob_fuzzy`: with `fuzzy`, `a` equals `b`
/// when they agree up to where the shorter one stops (`~1.2` accepts
/// `1.2.5`).
fn compare(mut a: &[u8], mut b: &[u8], fuzzy: bool) -> Ordering {
    let (mut at, mut bt) = (DIGIT, DIGIT);
    let (mut av, mut bv) = (0i64, 0i64);
    while at == bt && at != END && at != INVALID && av == bv {
        av = get_token(&mut at, &mut a);
        bv = get_token(&mut bt, &mut b);
    }
    match av.cmp(&bv) {
        Ordering::Equal => {}
        o => return o,
    }
    if at == bt || fuzzy {
        return Ordering::Equal;
    }
    // Same so far, and one goes on: the longer one is greater, unless
    // what follows is a pre-release suffix.
    let mut tt = at;
    if at == SUFFIX && get_token(&mut tt, &mut a) < 0 {
        return Ordering::Less;
    }
    tt = bt;
    if bt == SUFFIX && get_token(&mut tt, &mut b) < 0 {
        return Ordering::Greater;
    }
    bt.cmp(&at)
}

/// A validated apk version. Equality is apk's order (`1.0-r0` equals
/// `1.0-r00`); [`ApkVersion::as_str`] keeps what was written.
#[derive(Clone, Debug)]
pub struct ApkVersion {
    raw: String,
}

/// Why a string is not an apk version.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{version:?} is not an apk version (digits and dots, then an optional lower-case letter, `_alpha`/`_beta`/`_pre`/`_rc`/`_cvs`/`_svn`/`_git`/`_hg`/`_p` suffixes with optional numbers, then `-rN`, e.g. 1.2.3_rc1-r0)"
)]
pub struct ApkVersionError {
    pub version: String,
}

impl ApkVersion {
    /// Parses `s`, accepting exactly what apk 2.14 accepts (and refusing a
    /// NUL byte, where apk's C strings would silently stop).
    pub fn parse(s: &str) -> Result<Self, ApkVersionError> {
        if s.as_bytes().contains(&0) || !validate(s.as_bytes()) {
            return Err(ApkVersionError {
                version: s.to_string(),
            });
        }
        Ok(Self { raw: s.to_string() })
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// apk's fuzzy comparison (`~`): equal when `self` and `other` agree
    /// as far as the shorter goes.
    pub fn cmp_fuzzy(&self, other: &Self) -> Ordering {
        compare(self.raw.as_bytes(), other.raw.as_bytes(), true)
    }
}

impl std::fmt::Display for ApkVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for ApkVersion {
    type Err = ApkVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.raw.as_bytes(), other.raw.as_bytes(), false)
    }
}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ApkVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap()
    }

    #[test]
    fn validates_as_apk() {
        for ok in [
            "1",
            "1.2.3",
            "1.2a",
            "1.2_rc1",
            "1.2_p1_rc2",
            "1-r0",
            "1.2.3_git20240101-r10",
            "",
            "a",
            "1_",
            "1.",
            "1-r1-r2",
            "0.0.1",
            "1.2-r",
            ".1",
        ] {
            assert!(ApkVersion::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "1.2~ab",
            "1.0_rc1.2",
            "1A",
            "1-2",
            "1_foo",
            "1 2",
            "1ab",
            "1-r1a",
            "1234567890123456789",
            "1\0",
            "1.2.3-R0",
        ] {
            let e = ApkVersion::parse(bad);
            assert!(e.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn orders_as_apk() {
        use Ordering::*;
        for (a, b, o) in [
            ("1.0", "1.00", Greater),
            ("1.", "1.0", Less),
            ("1.0_rc1", "1.0", Less),
            ("1.0_p1", "1.0", Greater),
            ("1.0-r1", "1.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0.1", Less),
            ("1.2_alpha", "1.2_beta", Less),
            ("1.2_rc", "1.2_rc1", Less),
            ("2", "10", Less),
            ("1.01", "1.1", Less),
            ("1.0-r0", "1.0-r00", Equal),
        ] {
            assert_eq!(v(a).cmp(&v(b)), o, "{a} vs {b}");
            assert_eq!(v(b).cmp(&v(a)), o.reverse(), "{b} vs {a}");
        }
        assert_eq!(v("1.2.5").cmp_fuzzy(&v("1.2")), Equal);
        assert_eq!(v("1.3").cmp_fuzzy(&v("1.2")), Greater);
    }
}
