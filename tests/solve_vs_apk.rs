//! Resolution against the real apk 2.14: for each scenario, a signed
//! repository is served over HTTP and read by ironhull's repository reader,
//! ironhull's apk resolver (`solve_records`: the SAT solver plus install_if
//! to a fixed point) chooses a set, and the fixture's `apk add --simulate`
//! (offline, same index, same installed base, no .apk files needed) chooses
//! its own. The sets must be equal, or both must refuse.
//!
//! Intended differences, not exercised here: where several packages
//! provide a virtual name and none is installed or requested, apk picks by
//! `k:` provider_priority and ironhull refuses and asks (resolver rule 5);
//! apk may upgrade base packages, ironhull never does.

#[path = "common/apk.rs"]
mod apk;
mod common;
#[path = "common/http_files.rs"]
mod http_files;

use apk::{AlpineChroot, ApkTestKey, SigKind, stanza};
use ironhull::packages::apk::keys::ApkKeyring;
use ironhull::packages::apk::repo::{ApkRepoSpec, open_repository};
use ironhull::packages::apk::{dependency, resolve, universe};
use ironhull::packages::fetch::HttpFetch;

/// The base every scenario starts from: musl, which provides libc's soname.
const BASE: &str = "C:Q1hdeIRlj9pGk0VEO8U3SKwIXo6xI=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:1\nI:1\np:so:libc.musl-x86_64.so.1=1\n\n";

struct Scenario {
    what: &'static str,
    index: Vec<String>,
    /// (ironhull's request text, apk's argument).
    request: Vec<(&'static str, &'static str)>,
    /// The expected set, or `None` when both must refuse.
    expect: Option<&'static [&'static str]>,
}

fn scenarios() -> Vec<Scenario> {
    let s = stanza;
    vec![
        Scenario {
            what: "a dependency chain",
            index: vec![
                s("a", "1.0-r0", "D:b\n"),
                s("b", "1.0-r0", "D:c\n"),
                s("c", "3-r1", ""),
            ],
            request: vec![("a", "a")],
            expect: Some(&["a=1.0-r0", "b=1.0-r0", "c=3-r1"]),
        },
        Scenario {
            what: "the highest version wins, by apk's order",
            index: vec![
                s("b", "1.0-r0", ""),
                s("b", "1.10-r0", ""),
                s("b", "1.2-r0", ""),
                s("b", "1.10_rc1-r0", ""),
            ],
            request: vec![("b", "b")],
            expect: Some(&["b=1.10-r0"]),
        },
        Scenario {
            what: "a versioned dependency",
            index: vec![
                s("a", "1-r0", "D:b<1.2\n"),
                s("b", "1.0-r0", ""),
                s("b", "1.1_rc1-r0", ""),
                s("b", "1.2-r0", ""),
            ],
            request: vec![("a", "a")],
            expect: Some(&["a=1-r0", "b=1.1_rc1-r0"]),
        },
        Scenario {
            what: "a so: dependency on a provider",
            index: vec![
                s("a", "1-r0", "D:so:libfoo.so.1\n"),
                s("libfoo", "1.0-r0", "p:so:libfoo.so.1=1.0.0\n"),
            ],
            request: vec![("a", "a")],
            expect: Some(&["a=1-r0", "libfoo=1.0-r0"]),
        },
        Scenario {
            what: "the base's musl satisfies so:libc",
            index: vec![s("a", "1-r0", "D:so:libc.musl-x86_64.so.1\n")],
            request: vec![("a", "a")],
            expect: Some(&["a=1-r0"]),
        },
        Scenario {
            what: "a fuzzy ~ dependency",
            index: vec![
                s("a", "1-r0", "D:b~1.2\n"),
                s("b", "1.2.5-r0", ""),
                s("b", "1.3-r0", ""),
                s("b", "1.1-r0", ""),
            ],
            request: vec![("a", "a")],
            expect: Some(&["a=1-r0", "b=1.2.5-r0"]),
        },
        Scenario {
            what: "install_if adds a package when all its conditions hold",
            index: vec![
                s("a", "1-r0", ""),
                s("docs", "1-r0", ""),
                s("a-doc", "1-r0", "i:a=1-r0 docs\n"),
                s("b-doc", "1-r0", "i:b docs\n"),
            ],
            request: vec![("a", "a"), ("docs", "docs")],
            expect: Some(&["a-doc=1-r0", "a=1-r0", "docs=1-r0"]),
        },
        Scenario {
            what: "install_if chained through a dependency of an added package",
            index: vec![
                s("a", "1-r0", ""),
                s("a-lang", "1-r0", "i:a\nD:lang-data\n"),
                s("lang-data", "2-r0", ""),
            ],
            request: vec![("a", "a")],
            expect: Some(&["a-lang=1-r0", "a=1-r0", "lang-data=2-r0"]),
        },
        Scenario {
            what: "a request with a version, in the Debian-like and apk forms",
            index: vec![
                s("b", "1.0-r0", ""),
                s("b", "1.2-r0", ""),
                s("c", "5-r0", ""),
                s("c", "4-r0", ""),
            ],
            request: vec![("b (<< 1.2)", "b<1.2"), ("c<5", "c<5")],
            expect: Some(&["b=1.0-r0", "c=4-r0"]),
        },
        Scenario {
            what: "4-r0 is above 4, so c<=4 has no candidate",
            index: vec![s("c", "5-r0", ""), s("c", "4-r0", "")],
            request: vec![("c<=4", "c<=4")],
            expect: None,
        },
        Scenario {
            what: "a cmd: provider",
            index: vec![
                s("a", "1-r0", "D:cmd:foo\n"),
                s("foo-bin", "1-r0", "p:cmd:foo=1-r0\n"),
            ],
            request: vec![("a", "a")],
            expect: Some(&["a=1-r0", "foo-bin=1-r0"]),
        },
        Scenario {
            what: "a conflict makes the request unsatisfiable",
            index: vec![s("a", "1-r0", "D:!c\n"), s("c", "1-r0", "")],
            request: vec![("a", "a"), ("c", "c")],
            expect: None,
        },
        Scenario {
            what: "a missing dependency",
            index: vec![s("a", "1-r0", "D:nothere\n")],
            request: vec![("a", "a")],
            expect: None,
        },
        Scenario {
            what: "a versioned conflict only hits the matching versions",
            index: vec![
                s("a", "1-r0", "D:!c<2\n"),
                s("c", "1-r0", ""),
                s("c", "2-r0", ""),
            ],
            request: vec![("a", "a"), ("c", "c")],
            expect: Some(&["a=1-r0", "c=2-r0"]),
        },
    ]
}

#[test]
fn ironhull_and_apk_choose_the_same_packages() {
    let Some(key) = ApkTestKey::generate("ironhull-solve") else {
        return;
    };
    let Some(chroot) = AlpineChroot::new() else {
        return;
    };
    let installed = universe::installed(BASE).unwrap();
    let mut agreed = 0;
    for sc in scenarios() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        apk::write_signed_index(&repo, "x86_64", &sc.index.concat(), &key, SigKind::Rsa);
        let keys = key.keys_dir(tmp.path());
        let server = http_files::FileServer::start(&repo);
        let spec = ApkRepoSpec {
            url: server.url(),
            arch: "x86_64".into(),
            keyring: ApkKeyring::load(&keys).unwrap(),
            position: 0,
        };
        let index = open_repository(&spec, &HttpFetch::new()).unwrap();
        let reqs: Vec<_> = sc
            .request
            .iter()
            .map(|(t, _)| dependency::parse_request(t).unwrap().req())
            .collect();
        let ours = resolve::solve_records(&index.records, &reqs, &[], &installed).map(|s| {
            let mut v: Vec<String> = s
                .packages
                .iter()
                .map(|p| {
                    let r = &index.records[p.index];
                    format!("{}={}", r.name, r.version)
                })
                .collect();
            v.sort();
            v
        });
        let args: Vec<&str> = sc.request.iter().map(|(_, a)| *a).collect();
        let run = chroot.simulate_add(&repo, &keys, BASE, "musl\n", &args);
        let theirs = run.success().then(|| {
            let mut v: Vec<String> = apk::simulated_installs(&run.stdout)
                .into_iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            v.sort();
            v
        });
        match (&ours, &theirs) {
            (Ok(o), Some(t)) => assert_eq!(
                o,
                t,
                "{}: ironhull and apk differ\n{}",
                sc.what,
                run.describe()
            ),
            (Err(_), None) => {}
            _ => panic!(
                "{}: ironhull {ours:?}, apk {theirs:?}\n{}",
                sc.what,
                run.describe()
            ),
        }
        match (sc.expect, &ours) {
            (Some(want), Ok(o)) => assert_eq!(o, want, "{}", sc.what),
            (None, Err(_)) => {}
            _ => panic!("{}: expected {:?}, got {ours:?}", sc.what, sc.expect),
        }
        agreed += 1;
    }
    eprintln!("solve_vs_apk: {agreed} scenarios, ironhull and apk agree on all");
}
