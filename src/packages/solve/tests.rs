//! The resolver's rules, one test each, on a small integer-versioned
//! universe written in Debian's relation syntax.

use super::*;

#[derive(Clone, Copy)]
enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

struct Rel(Op, u32);

impl Relation<u32> for Rel {
    fn accepts(&self, v: &u32) -> bool {
        match self.0 {
            Op::Lt => *v < self.1,
            Op::Le => *v <= self.1,
            Op::Eq => *v == self.1,
            Op::Ge => *v >= self.1,
            Op::Gt => *v > self.1,
        }
    }
    fn describe(&self) -> String {
        let op = match self.0 {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        };
        format!("{op} {}", self.1)
    }
}

/// `name` or `name (op n)`.
fn req(s: &str) -> Req<u32> {
    let s = s.trim();
    match s.split_once('(') {
        None => Req::any(s),
        Some((name, rest)) => {
            let rest = rest.trim_end_matches(')').trim();
            let (op, n) = rest.split_once(' ').unwrap();
            let op = match op {
                "<<" => Op::Lt,
                "<=" => Op::Le,
                "=" => Op::Eq,
                ">=" => Op::Ge,
                ">>" => Op::Gt,
                _ => panic!("{op}"),
            };
            Req::with(name.trim(), Rel(op, n.parse().unwrap()))
        }
    }
}

fn groups(s: &str) -> Vec<Vec<Req<u32>>> {
    s.split(',')
        .filter(|g| !g.trim().is_empty())
        .map(|g| g.split('|').map(req).collect())
        .collect()
}

struct P(Candidate<u32>);

fn pkg(name: &str, version: u32) -> P {
    P(Candidate {
        name: name.into(),
        version,
        arch: "amd64".into(),
        depends: Vec::new(),
        provides: Vec::new(),
        conflicts: Vec::new(),
        origin: 0,
        key: format!("{name}={version}"),
    })
}

impl P {
    fn dep(mut self, s: &str) -> Self {
        self.0.depends.extend(groups(s));
        self
    }
    /// `v` or `v=3`.
    fn provides(mut self, s: &str) -> Self {
        for p in s.split(',') {
            let p = p.trim();
            self.0.provides.push(match p.split_once('=') {
                Some((n, v)) => (n.into(), Some(v.parse().unwrap())),
                None => (p.into(), None),
            });
        }
        self
    }
    fn conflicts(mut self, s: &str) -> Self {
        self.0.conflicts.extend(s.split(',').map(req));
        self
    }
}

fn universe(ps: Vec<P>) -> Universe<u32> {
    Universe {
        candidates: ps.into_iter().map(|p| p.0).collect(),
    }
}

fn ask(install: &[&str]) -> Request<u32> {
    Request {
        install: install.iter().map(|s| req(s)).collect(),
        exclude: Vec::new(),
        installed: Vec::new(),
    }
}

/// The chosen keys, sorted.
fn keys(u: &Universe<u32>, r: &Request<u32>) -> Vec<String> {
    let s = solve(u, r).unwrap_or_else(|e| panic!("{e}"));
    for p in &s.packages {
        assert_eq!(u.candidates[p.index].key, p.key);
    }
    let mut k: Vec<String> = s.packages.into_iter().map(|p| p.key).collect();
    k.sort();
    k
}

#[test]
fn alternatives_first_satisfiable_wins() {
    let u = universe(vec![
        pkg("app", 1).dep("b | c"),
        pkg("b", 1),
        pkg("c", 1),
        pkg("c", 2),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "b=1"]);
    // Written the other way round, the other one.
    let u = universe(vec![pkg("app", 1).dep("c | b"), pkg("b", 1), pkg("c", 1)]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "c=1"]);
    // The first is not satisfiable (no such version): the second.
    let u = universe(vec![
        pkg("app", 1).dep("b (>= 2) | c"),
        pkg("b", 1),
        pkg("c", 1),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "c=1"]);
    // The first is missing altogether.
    let u = universe(vec![pkg("app", 1).dep("gone | c"), pkg("c", 1)]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "c=1"]);
}

#[test]
fn version_ranges_pick_the_highest_accepted() {
    let u = universe(vec![
        pkg("app", 1).dep("lib (>= 2), lib (<< 4)"),
        pkg("lib", 1),
        pkg("lib", 2),
        pkg("lib", 3),
        pkg("lib", 4),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "lib=3"]);
    assert_eq!(keys(&u, &ask(&["lib"])), ["lib=4"]);
    assert_eq!(keys(&u, &ask(&["lib (<= 2)"])), ["lib=2"]);
    assert_eq!(keys(&u, &ask(&["lib (= 1)"])), ["lib=1"]);
    assert_eq!(keys(&u, &ask(&["lib (>> 3)"])), ["lib=4"]);
    // One version per name: app needs lib 2 or 3, the request lib 4.
    let e = solve(&u, &ask(&["app", "lib (= 4)"])).unwrap_err();
    assert!(matches!(e, SolveError::Unsatisfiable { .. }), "{e}");
}

#[test]
fn virtual_with_one_provider() {
    let u = universe(vec![
        pkg("app", 1).dep("mta"),
        pkg("exim", 1).provides("mta"),
        pkg("exim", 2).provides("mta"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "exim=2"]);
    // A versioned dependency needs a versioned provide.
    let u = universe(vec![
        pkg("app", 1).dep("awk (>= 2)"),
        pkg("mawk", 1).provides("awk"),
        pkg("gawk", 1).provides("awk=3"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "gawk=1"]);
}

#[test]
fn ambiguous_virtual_is_an_error_listing_the_providers() {
    let u = universe(vec![
        pkg("app", 1).dep("mta"),
        pkg("top", 1).dep("app"),
        pkg("exim", 1).provides("mta"),
        pkg("postfix", 1).provides("mta"),
    ]);
    let e = solve(&u, &ask(&["top"])).unwrap_err();
    assert_eq!(
        e,
        SolveError::Ambiguous {
            name: "mta".into(),
            providers: vec!["exim".into(), "postfix".into()],
            chain: vec!["top".into(), "app".into()],
        }
    );
    let text = e.to_string();
    assert!(text.contains("top -> app needs \"mta\""), "{text}");
    assert!(text.contains("provided by exim, postfix"), "{text}");
    assert!(text.contains("add one of them to install"), "{text}");
    // Naming one resolves it.
    assert_eq!(
        keys(&u, &ask(&["top", "postfix"])),
        ["app=1", "postfix=1", "top=1"]
    );
    // So does having one in the base.
    let mut r = ask(&["top"]);
    r.installed.push(Installed {
        name: "exim".into(),
        version: 1,
        provides: vec![("mta".into(), None)],
    });
    assert_eq!(keys(&u, &r), ["app=1", "top=1"]);
    // Requesting the virtual itself is just as ambiguous.
    let e = solve(&u, &ask(&["mta"])).unwrap_err();
    assert!(
        matches!(&e, SolveError::Ambiguous { chain, .. } if chain.is_empty()),
        "{e}"
    );
    // An alternative that avoids it is taken without complaint.
    let u = universe(vec![
        pkg("app", 1).dep("mta | sendmail"),
        pkg("sendmail", 1),
        pkg("exim", 1).provides("mta"),
        pkg("postfix", 1).provides("mta"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "sendmail=1"]);
}

#[test]
fn real_package_beats_a_provider() {
    let u = universe(vec![
        pkg("app", 1).dep("awk"),
        pkg("awk", 1),
        pkg("gawk", 5).provides("awk=9"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "awk=1"]);
    // Unless the real one cannot be used.
    let u = universe(vec![
        pkg("app", 1).dep("awk").conflicts("awk (<< 2)"),
        pkg("awk", 1),
        pkg("gawk", 5).provides("awk"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "gawk=5"]);
}

#[test]
fn installed_counts_first_and_is_not_reinstalled() {
    let u = universe(vec![
        pkg("app", 1).dep("libc (>= 2), b | c"),
        pkg("libc", 2),
        pkg("libc", 3),
        pkg("b", 1),
        pkg("c", 1),
    ]);
    let mut r = ask(&["app"]);
    r.installed = vec![Installed::new("libc", 2), Installed::new("c", 1)];
    // libc comes from the base, not the newer repository version; c in the
    // base satisfies `b | c`.
    assert_eq!(keys(&u, &r), ["app=1"]);
    // A request the base already satisfies installs nothing.
    let mut r = ask(&["libc"]);
    r.installed = vec![Installed::new("libc", 2)];
    assert_eq!(keys(&u, &r), Vec::<String>::new());
    // A dependency the base's version does not meet: the base has it.
    let u = universe(vec![pkg("app", 1).dep("libc (>= 3)"), pkg("libc", 3)]);
    let mut r = ask(&["app"]);
    r.installed = vec![Installed::new("libc", 2)];
    let e = solve(&u, &r).unwrap_err().to_string();
    assert!(e.contains("the base has libc=2"), "{e}");
    assert!(e.contains("app=1"), "{e}");
}

#[test]
fn the_same_version_in_two_repositories_comes_from_the_first() {
    let mut second = pkg("lib", 1);
    second.0.origin = 1;
    second.0.key = "lib=1 from the second".into();
    let mut first = pkg("lib", 1);
    first.0.key = "lib=1 from the first".into();
    let u = universe(vec![second, first]);
    assert_eq!(keys(&u, &ask(&["lib"])), ["lib=1 from the first"]);
    // A newer version wins over repository order.
    let mut newer = pkg("lib", 2);
    newer.0.origin = 1;
    let u = universe(vec![pkg("lib", 1), newer]);
    assert_eq!(keys(&u, &ask(&["lib"])), ["lib=2"]);
    assert!(solve(&u, &ask(&[])).unwrap().packages.is_empty());
}

#[test]
fn conflicts_with_the_base_are_errors() {
    let u = universe(vec![pkg("app", 1).conflicts("old")]);
    let mut r = ask(&["app"]);
    r.installed = vec![Installed::new("old", 1)];
    let e = solve(&u, &r).unwrap_err();
    assert!(matches!(e, SolveError::Unsatisfiable { .. }), "{e}");
}

#[test]
fn exclude_directly_and_via_a_virtual() {
    let u = universe(vec![
        pkg("tzdata", 1).dep("debconf (>= 5) | debconf-2.0, libc"),
        pkg("debconf", 5).provides("debconf-2.0"),
        pkg("cdebconf", 1).provides("debconf-2.0"),
        pkg("libc", 1),
        pkg("ca", 1).dep("debconf-2.0"),
    ]);
    let mut r = ask(&["tzdata", "ca"]);
    r.exclude = vec!["debconf".into()];
    // tzdata names debconf; ca names a virtual debconf provides.
    assert_eq!(keys(&u, &r), ["ca=1", "libc=1", "tzdata=1"]);
    // Without the exclusion, debconf comes in.
    let r = ask(&["tzdata"]);
    assert_eq!(keys(&u, &r), ["debconf=5", "libc=1", "tzdata=1"]);
    // An excluded package is never installed, even if only it would do.
    let u = universe(vec![pkg("app", 1).dep("lib"), pkg("lib", 1)]);
    let mut r = ask(&["app"]);
    r.exclude = vec!["lib".into()];
    assert_eq!(keys(&u, &r), ["app=1"]);
    let mut r = ask(&["lib"]);
    r.exclude = vec!["lib".into()];
    assert!(matches!(
        solve(&u, &r).unwrap_err(),
        SolveError::RequestedAndExcluded { .. }
    ));
    let mut r = ask(&["app"]);
    r.exclude = vec!["lob".into()];
    let e = solve(&u, &r).unwrap_err();
    assert!(e.to_string().contains("did you mean lib?"), "{e}");
}

#[test]
fn conflicts_force_the_other_alternative() {
    let u = universe(vec![
        pkg("app", 1).dep("b | c, d"),
        pkg("b", 1),
        pkg("c", 1),
        pkg("d", 1).conflicts("b"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "c=1", "d=1"]);
    // Breaks of a version range, the same way.
    let u = universe(vec![
        pkg("app", 1).dep("lib, tool"),
        pkg("lib", 1),
        pkg("lib", 2),
        pkg("tool", 1).conflicts("lib (>= 2)"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "lib=1", "tool=1"]);
    // A conflict with a virtual means every provider but the package itself.
    let u = universe(vec![
        pkg("app", 1).dep("mta-a | mta-b, mta-b"),
        pkg("mta-a", 1).provides("mta").conflicts("mta"),
        pkg("mta-b", 1).provides("mta").conflicts("mta"),
    ]);
    assert_eq!(keys(&u, &ask(&["app"])), ["app=1", "mta-b=1"]);
    let e = solve(&u, &ask(&["mta-a", "mta-b"])).unwrap_err();
    assert!(matches!(e, SolveError::Unsatisfiable { .. }), "{e}");
}

#[test]
fn unsatisfiable_names_the_chain() {
    let u = universe(vec![
        pkg("python3", 1).dep("libpython3"),
        pkg("libpython3", 1).dep("libssl (>= 3)"),
        pkg("libssl", 1),
    ]);
    let e = solve(&u, &ask(&["python3"])).unwrap_err();
    let SolveError::Unsatisfiable { explanation } = &e else {
        panic!("{e}")
    };
    println!("{explanation}");
    for part in ["python3=1", "libpython3=1", "libssl (>= 3)"] {
        assert!(explanation.contains(part), "{part}: {explanation}");
    }
    // The same explanation every time.
    for _ in 0..10 {
        assert_eq!(solve(&u, &ask(&["python3"])).unwrap_err(), e);
    }
    let e = solve(&u, &ask(&["pyhton3"])).unwrap_err();
    assert!(
        matches!(&e, SolveError::Unknown { name, suggestions }
            if name == "pyhton3" && suggestions[0] == "python3"),
        "{e}"
    );
    let e = solve(&u, &ask(&["zzzz"])).unwrap_err().to_string();
    assert!(e.contains("check the name"), "{e}");
}

#[test]
fn chains_and_install_order() {
    let u = universe(vec![
        pkg("python", 1).dep("libpython, libc"),
        pkg("libpython", 1).dep("libssl, libc"),
        pkg("libssl", 1).dep("libc"),
        pkg("libc", 1),
    ]);
    let s = solve(&u, &ask(&["python"])).unwrap();
    let order: Vec<&str> = s.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(order, ["libc", "libssl", "libpython", "python"]);
    let ssl = s.packages.iter().find(|p| p.name == "libssl").unwrap();
    assert_eq!(ssl.chain_text(), "python -> libpython -> libssl");
    let libc = s.packages.iter().find(|p| p.name == "libc").unwrap();
    assert_eq!(libc.chain_text(), "python -> libc");
}

#[test]
fn cycles_are_broken_by_name() {
    let u = universe(vec![
        pkg("app", 1).dep("zeta"),
        pkg("zeta", 1).dep("beta"),
        pkg("beta", 1).dep("zeta, base"),
        pkg("base", 1),
    ]);
    let s = solve(&u, &ask(&["app"])).unwrap();
    let order: Vec<&str> = s.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(order, ["base", "beta", "zeta", "app"]);
    let beta = s.packages.iter().find(|p| p.name == "beta").unwrap();
    assert_eq!(beta.chain_text(), "app -> zeta -> beta");
}

/// A small deterministic generator (no dependency on a random crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `n` package names, each with 1–3 versions depending on lower-numbered
/// names (so the universe is mostly satisfiable), with alternatives,
/// ranges, virtuals and conflicts.
fn random_universe(n: usize, seed: u64) -> Universe<u32> {
    let mut rng = Lcg(seed);
    let mut ps = Vec::new();
    for i in 0..n {
        for v in 1..=(1 + rng.below(3) as u32) {
            let mut p = pkg(&format!("p{i}"), v);
            if i > 0 {
                for _ in 0..rng.below(4) {
                    let a = rng.below(i);
                    let mut alt = vec![format!("p{a}")];
                    if rng.below(4) == 0 {
                        alt[0] = format!("p{a} (>= {})", 1 + rng.below(2));
                    }
                    if rng.below(5) == 0 {
                        alt.push(format!("p{}", rng.below(i)));
                    }
                    if rng.below(8) == 0 {
                        alt.push(format!("virt{}", rng.below(20)));
                    }
                    p = p.dep(&alt.join(" | "));
                }
                if rng.below(10) == 0 {
                    p = p.conflicts(&format!("p{} (<< 2)", rng.below(i)));
                }
            }
            if rng.below(15) == 0 {
                p = p.provides(&format!("virt{}", rng.below(20)));
            }
            ps.push(p);
        }
    }
    universe(ps)
}

#[test]
fn same_input_same_output_under_shuffling() {
    let u = random_universe(300, 7);
    let r = ask(&["p299", "p250", "p120"]);
    let want = solve(&u, &r);
    let mut rng = Lcg(99);
    for _ in 0..8 {
        let mut c = u.candidates.clone();
        for i in (1..c.len()).rev() {
            c.swap(i, rng.below(i + 1));
        }
        let shuffled = Universe { candidates: c };
        let got = solve(&shuffled, &r);
        match (&want, &got) {
            (Ok(a), Ok(b)) => {
                let ka: Vec<(&str, &Vec<String>)> = a
                    .packages
                    .iter()
                    .map(|p| (p.key.as_str(), &p.chain))
                    .collect();
                let kb: Vec<(&str, &Vec<String>)> = b
                    .packages
                    .iter()
                    .map(|p| (p.key.as_str(), &p.chain))
                    .collect();
                assert_eq!(ka, kb);
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("{want:?} vs {got:?}"),
        }
    }
    println!(
        "shuffled 8 times: {}",
        match &want {
            Ok(s) => format!("{} packages", s.packages.len()),
            Err(e) => e.to_string(),
        }
    );
}

#[test]
fn two_thousand_packages() {
    let u = random_universe(2000, 42);
    let names: Vec<String> = (1990..2000).map(|i| format!("p{i}")).collect();
    let r = Request {
        install: names.iter().map(Req::any).collect(),
        exclude: Vec::new(),
        installed: Vec::new(),
    };
    let t = std::time::Instant::now();
    let s = solve(&u, &r);
    let took = t.elapsed();
    println!(
        "{} candidates, {}: {took:?}",
        u.candidates.len(),
        match &s {
            Ok(s) => format!("{} packages chosen", s.packages.len()),
            Err(e) => format!("unsatisfiable ({})", e.to_string().lines().count()),
        }
    );
    // Whatever the answer, every chosen package's dependencies are met.
    if let Ok(s) = s {
        let chosen: std::collections::BTreeMap<&str, u32> = s
            .packages
            .iter()
            .map(|p| (p.name.as_str(), u.candidates[p.index].version))
            .collect();
        for p in &s.packages {
            for g in &u.candidates[p.index].depends {
                assert!(
                    g.iter().any(
                        |r| chosen.get(r.name.as_str()).is_some_and(|v| r.accepts(v))
                            || s.packages.iter().any(|q| u.candidates[q.index]
                                .provides
                                .iter()
                                .any(|(n, v)| *n == r.name && r.accepts_provided(v.as_ref())))
                    ),
                    "{}: {g:?}",
                    p.key
                );
            }
        }
    }
}
