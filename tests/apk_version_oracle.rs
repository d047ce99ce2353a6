//! The apk version rules against their oracle, the real apk 2.14 of the
//! Alpine fixture (run under chroot): `apk version -c` for validity of
//! hand-picked and generated strings (valid and not), `apk version -t`
//! for the order of several hundred pairs. The valid versions are also
//! sorted with ironhull's order and every neighbouring pair checked, which
//! pins the whole order, not only the sampled pairs.

#[path = "common/apk.rs"]
mod apk;
mod common;

use ironhull::packages::apk::ApkVersion;
use std::cmp::Ordering;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// Hand-picked cases: apk's quirks (leading zeros, a bare `.`/`_`/`-r`,
/// repeated revisions, letters after digits), and near misses.
const TRICKY: &[&str] = &[
    "",
    "0",
    "00",
    "1",
    "01",
    "1.0",
    "1.00",
    "1.000",
    "1.01",
    "1.001",
    "1.1",
    "1.10",
    "1.",
    "1.0.",
    "1_",
    "1-r",
    "1-r0",
    "1-r00",
    "1-r1",
    "1-r1-r2",
    "1-r10",
    "1a",
    "1.0a",
    "1.0b",
    "1.0a1",
    "1.0z",
    "1.2_alpha",
    "1.2_alpha1",
    "1.2_beta",
    "1.2_beta2",
    "1.2_pre",
    "1.2_rc",
    "1.2_rc1",
    "1.2_rc10",
    "1.2_cvs",
    "1.2_svn",
    "1.2_git",
    "1.2_git20240101",
    "1.2_hg",
    "1.2_p",
    "1.2_p1",
    "1.2_p1_rc1",
    "1.2_rc1_p1",
    "1.2_alpha_beta",
    "1.2.3_git1-r5",
    ".1",
    "..1",
    "a",
    "b",
    "1.2.3",
    "1.2.3.4.5.6",
    "3.20.3-r0",
    "2.14.4-r1",
    "1.36.1-r29",
    "17.0.1_p12-r0",
    "12345678901234567",
    "123456789012345678",
    "1.2~ab",
    "1.2~",
    "1A",
    "1-2",
    "1_foo",
    "1.2-R0",
    "1ab",
    "1-r1a",
    "1.0_rc1.2",
    "1_p_",
    "1.2_rc1-r",
    "1.2_prerc",
    "1.2_alphabeta",
    "1.2.a",
    "1.a",
    "1-",
    "1--r1",
    "-r1",
    "_p1",
    "1.2_rc1a",
    "1..2",
    "1._1",
];

/// Random strings from version pieces, most of them valid, some not.
fn generated(n: usize) -> Vec<String> {
    let mut r = Rng(0x0a1b_2c3d_4e5f_6071);
    let firsts = ["0", "1", "2", "10", "01", "1.0", "1.2"];
    let parts = [
        ".0", ".00", ".1", ".01", ".10", ".2", ".001", "a", "b", "z", "_alpha", "_beta", "_pre",
        "_rc", "_rc1", "_rc2", "_p", "_p1", "_p10", "_git2024", "_cvs", "_svn", "_hg", "-r0",
        "-r1", "-r10", ".", "_", "-r", "A", "~1", "1", "0",
    ];
    let mut out = Vec::new();
    for _ in 0..n {
        let mut v = r.pick(&firsts).to_string();
        for _ in 0..(r.next() % 5) {
            v.push_str(r.pick(&parts));
        }
        out.push(v);
    }
    out
}

/// The strings `apk version -c` calls invalid (it prints each, one a line).
fn apk_invalid(chroot: &apk::AlpineChroot, vs: &[&str]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for chunk in vs.chunks(200) {
        let mut args = vec!["version", "-c", "--"];
        args.extend(chunk);
        let r = chroot.apk(&args);
        out.extend(r.stdout.lines().map(str::to_string));
    }
    out
}

fn apk_order(chroot: &apk::AlpineChroot, a: &str, b: &str) -> Ordering {
    let r = chroot.apk(&["version", "-t", "--", a, b]);
    match r.stdout.trim() {
        "<" => Ordering::Less,
        "=" => Ordering::Equal,
        ">" => Ordering::Greater,
        other => panic!(
            "apk version -t {a:?} {b:?} printed {other:?}: {}",
            r.describe()
        ),
    }
}

#[test]
fn validity_and_order_agree_with_apk() {
    let Some(chroot) = apk::AlpineChroot::new() else {
        return;
    };
    let generated_ = generated(400);
    let mut all: Vec<&str> = TRICKY.to_vec();
    all.extend(generated_.iter().map(String::as_str));
    all.sort();
    all.dedup();
    // The empty string cannot be told apart in apk's output (one line per
    // invalid version); apk_version_validate("") is true and so is ours.
    let nonempty: Vec<&str> = all.iter().copied().filter(|v| !v.is_empty()).collect();
    let invalid = apk_invalid(&chroot, &nonempty);
    let mut valid = Vec::new();
    let mut disagree = Vec::new();
    for v in &nonempty {
        let ours = ApkVersion::parse(v).is_ok();
        let theirs = !invalid.contains(*v);
        if ours != theirs {
            disagree.push(format!("{v:?}: ironhull {ours}, apk {theirs}"));
        }
        if ours {
            valid.push(ApkVersion::parse(v).unwrap());
        }
    }
    assert!(
        disagree.is_empty(),
        "validity differs:\n{}",
        disagree.join("\n")
    );
    assert!(ApkVersion::parse("").is_ok());
    let n_invalid = nonempty.len() - valid.len();
    assert!(
        valid.len() > 150 && n_invalid > 40,
        "{} valid, {n_invalid} invalid",
        valid.len()
    );

    // Neighbours in ironhull's order, then random pairs, against apk.
    valid.sort();
    let mut pairs: Vec<(usize, usize)> = (1..valid.len()).map(|i| (i - 1, i)).collect();
    let mut r = Rng(0x1357_9bdf_2468_ace0);
    for _ in 0..300 {
        let a = (r.next() % valid.len() as u64) as usize;
        let b = (r.next() % valid.len() as u64) as usize;
        pairs.push((a, b));
    }
    let mut wrong = Vec::new();
    let mut equal = 0;
    for (a, b) in &pairs {
        let (va, vb) = (&valid[*a], &valid[*b]);
        let ours = va.cmp(vb);
        let theirs = apk_order(&chroot, va.as_str(), vb.as_str());
        if ours == Ordering::Equal {
            equal += 1;
        }
        if ours != theirs {
            wrong.push(format!("{va} vs {vb}: ironhull {ours:?}, apk {theirs:?}"));
        }
    }
    eprintln!(
        "apk version oracle: {} strings ({} valid, {n_invalid} invalid), {} pairs compared ({equal} equal)",
        nonempty.len(),
        valid.len(),
        pairs.len()
    );
    assert!(wrong.is_empty(), "order differs:\n{}", wrong.join("\n"));
}

#[test]
fn fuzzy_prefix_matches_as_apk_tilde() {
    // `~` dependencies use the fuzzy comparison: equal up to where the
    // shorter version stops. Checked here without apk; the dependency
    // oracle in tests/solve_vs_apk.rs checks it through `apk add`.
    let v = |s: &str| ApkVersion::parse(s).unwrap();
    assert_eq!(v("1.2.5-r3").cmp_fuzzy(&v("1.2")), Ordering::Equal);
    assert_eq!(v("1.20").cmp_fuzzy(&v("1.2")), Ordering::Greater);
    assert_eq!(v("1.1.9").cmp_fuzzy(&v("1.2")), Ordering::Less);
}
