//! The Debian version order against its oracle, `dpkg --compare-versions`:
//! every version this machine's dpkg database knows, plus generated hard
//! cases (`~`, epochs, leading zeros, letters against other characters).
//! The versions are sorted with ironhull's order and every neighbouring pair
//! is checked with dpkg (`lt` or `eq`), which pins the whole order, and a
//! few hundred random pairs are checked on top.

mod common;

use common::*;
use ironhull::packages::deb::DebVersion;
use std::cmp::Ordering;
use std::process::Command;

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

fn generated(n: usize) -> Vec<String> {
    let mut r = Rng(0x5eed_1234_abcd_ef01);
    let parts = [
        "0", "00", "1", "01", "10", "2", "9", "a", "b", "z", "A", "~", "~~", ".", "+", "rc", "+b1",
        "~rc1", ".",
    ];
    let mut out = Vec::new();
    for _ in 0..n {
        let mut up = r.pick(&["0", "1", "2", "10", "01"]).to_string();
        for _ in 0..(r.next() % 5) {
            up.push_str(r.pick(&parts));
        }
        let mut v = String::new();
        if r.next().is_multiple_of(4) {
            v.push_str(r.pick(&["0:", "1:", "2:"]));
        }
        v.push_str(&up);
        if r.next().is_multiple_of(2) {
            v.push('-');
            v.push_str(r.pick(&["0", "1", "1.1", "1~", "2+deb12u1", "a", "0.1"]));
        }
        out.push(v);
    }
    out
}

fn dpkg_says(a: &str, op: &str, b: &str) -> bool {
    let st = Command::new("dpkg")
        .args(["--compare-versions", a, op, b])
        .status()
        .expect("run dpkg");
    st.success()
}

#[test]
fn the_order_is_dpkgs() {
    if require_tool("dpkg").is_none() {
        return;
    }
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
    let mut raw: Vec<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Version: "))
        .map(str::to_string)
        .collect();
    let from_system = raw.len();
    if in_ci() {
        assert!(
            from_system > 50,
            "only {from_system} versions in dpkg/status"
        );
    }
    raw.extend(generated(400));
    let mut vs: Vec<DebVersion> = raw
        .iter()
        .filter_map(|s| DebVersion::parse(s).ok())
        .collect();
    assert!(vs.len() > raw.len() * 9 / 10, "most versions must parse");
    vs.sort();
    vs.dedup_by(|a, b| a.as_str() == b.as_str());
    let mut checked = 0;
    for w in vs.windows(2) {
        let (a, b) = (w[0].as_str(), w[1].as_str());
        let op = if w[0] == w[1] { "eq" } else { "lt" };
        assert!(
            dpkg_says(a, op, b),
            "ironhull orders {a} {op} {b}, dpkg disagrees"
        );
        checked += 1;
    }
    let mut r = Rng(42);
    for _ in 0..300 {
        let a = &vs[(r.next() % vs.len() as u64) as usize];
        let b = &vs[(r.next() % vs.len() as u64) as usize];
        let op = match a.cmp(b) {
            Ordering::Less => "lt",
            Ordering::Equal => "eq",
            Ordering::Greater => "gt",
        };
        assert!(
            dpkg_says(a.as_str(), op, b.as_str()),
            "{a} {op} {b}: dpkg disagrees"
        );
        checked += 1;
    }
    eprintln!(
        "deb version oracle: {} versions ({from_system} from dpkg/status), {checked} comparisons agree with dpkg",
        vs.len()
    );
}

#[test]
fn dpkg_refuses_what_ironhull_refuses() {
    if require_tool("dpkg").is_none() {
        return;
    }
    // dpkg --compare-versions exits 255 with "bad syntax" on these errors.
    for bad in ["1.0-", "x:1", "1 0", ":1"] {
        assert!(DebVersion::parse(bad).is_err(), "{bad:?}");
        let out = Command::new("dpkg")
            .args(["--compare-versions", bad, "eq", "1"])
            .output()
            .expect("run dpkg");
        assert!(
            !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("version"),
            "dpkg accepted {bad:?}"
        );
    }
}
