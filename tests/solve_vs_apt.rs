//! The resolver against apt itself. Small fake packages (control files
//! only, no content) are built with `dpkg-deb --build`, indexed with
//! `apt-ftparchive`, and resolved twice: by `apt-get -s install
//! --no-install-recommends` on an apt with no system state (its own
//! lists, cache and an empty-but-for-one-package `dpkg/status`), and by
//! `packages::solve` over the same `Packages` file read with
//! `packages::deb::universe`. Each scenario says whether the two must
//! agree or where ironhull differs on purpose, and the test checks both
//! halves of that claim: our answer, and that apt's is what we say it is.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use ironhull::packages::deb::{DebVersion, universe};
use ironhull::packages::solve::{self, Req, Request, SolveError, Universe};

/// (name, version, extra control fields)
const PACKAGES: &[(&str, &str, &str)] = &[
    // 1: alternatives, the first wins
    ("s1-app", "1", "Depends: s1-b | s1-c"),
    ("s1-b", "1", ""),
    ("s1-c", "1", ""),
    // 2: the first alternative does not exist
    ("s2-app", "1", "Depends: s2-missing | s2-c"),
    ("s2-c", "1", ""),
    // 3: a range only an older version meets
    ("s3-app", "1", "Depends: s3-lib (>= 2), s3-lib (<< 4)"),
    ("s3-lib", "1", ""),
    ("s3-lib", "2", ""),
    ("s3-lib", "3", ""),
    ("s3-lib", "4", ""),
    // 4: a virtual with one provider
    ("s4-app", "1", "Depends: s4-mta"),
    ("s4-exim", "1", "Provides: s4-mta"),
    // 5: a virtual with two providers
    ("s5-app", "1", "Depends: s5-mta"),
    ("s5-exim", "1", "Provides: s5-mta"),
    ("s5-postfix", "1", "Provides: s5-mta"),
    // 6: a real package and a provider of its name
    ("s6-app", "1", "Depends: s6-awk"),
    ("s6-awk", "1", ""),
    ("s6-gawk", "5", "Provides: s6-awk"),
    // 7: a versioned dependency on a virtual
    ("s7-app", "1", "Depends: s7-awk (>= 2)"),
    ("s7-mawk", "1", "Provides: s7-awk"),
    ("s7-gawk", "1", "Provides: s7-awk (= 3)"),
    // 8: a conflict rules out the first alternative
    ("s8-app", "1", "Depends: s8-d, s8-b | s8-c"),
    ("s8-b", "1", ""),
    ("s8-c", "1", ""),
    ("s8-d", "1", "Conflicts: s8-b"),
    // 9: Breaks a version range
    ("s9-app", "1", "Depends: s9-tool, s9-lib"),
    ("s9-lib", "1", ""),
    ("s9-lib", "2", ""),
    ("s9-tool", "1", "Breaks: s9-lib (>= 2)"),
    // 10: the base (dpkg/status) has s10-libc 1
    ("s10-app", "1", "Depends: s10-libc"),
    ("s10-new", "1", "Depends: s10-libc (>= 2)"),
    ("s10-libc", "1", ""),
    ("s10-libc", "2", ""),
    // 11: a dependency nothing satisfies
    ("s11-app", "1", "Depends: s11-lib"),
    ("s11-lib", "1", "Depends: s11-missing"),
    // 12: a cycle
    ("s12-a", "1", "Depends: s12-b"),
    ("s12-b", "1", "Depends: s12-a"),
    // 13: Pre-Depends and a chain with Debian versions
    (
        "s13-app",
        "1:2.0-1",
        "Pre-Depends: s13-lib (>= 1.0~rc1)\nDepends: s13-data",
    ),
    ("s13-lib", "1.0-1", "Depends: s13-data (= 2024a-1)"),
    ("s13-data", "2024a-1", ""),
    // 14: two requested packages that conflict
    ("s14-a", "1", "Conflicts: s14-b"),
    ("s14-b", "1", ""),
    // 15: a virtual provided by a requested package
    ("s15-app", "1", "Depends: s15-mta"),
    ("s15-exim", "1", "Provides: s15-mta"),
    ("s15-postfix", "1", "Provides: s15-mta"),
];

const STATUS: &str = "Package: s10-libc\nStatus: install ok installed\nVersion: 1\n\
    Architecture: all\nMaintainer: t <t@example.invalid>\nDescription: base\n";

/// What a resolver answered: the installed names, or a failure.
type Outcome = Result<BTreeSet<String>, String>;

enum Expect {
    /// Both give this set (or both fail, for `None`).
    Same(Option<&'static [&'static str]>),
    /// We give `ours` (or fail); apt gives `apt` (or fails): on purpose.
    Differ {
        ours: Option<&'static [&'static str]>,
        apt: Option<&'static [&'static str]>,
        why: &'static str,
    },
}

const SCENARIOS: &[(&[&str], Expect)] = &[
    (&["s1-app"], Expect::Same(Some(&["s1-app", "s1-b"]))),
    (&["s2-app"], Expect::Same(Some(&["s2-app", "s2-c"]))),
    (
        &["s3-app"],
        Expect::Differ {
            ours: Some(&["s3-app", "s3-lib"]),
            apt: None,
            why: "apt only considers each package's candidate (highest) version; we back-track to s3-lib 3",
        },
    ),
    (&["s4-app"], Expect::Same(Some(&["s4-app", "s4-exim"]))),
    (
        &["s5-app"],
        Expect::Differ {
            ours: None,
            apt: Some(&["s5-app", "s5-postfix"]),
            why: "apt picks a provider of an ambiguous virtual; we refuse and ask for one by name",
        },
    ),
    // Asked for directly, apt refuses too ("a virtual package ... select one").
    (&["s5-mta"], Expect::Same(None)),
    (&["s6-app"], Expect::Same(Some(&["s6-app", "s6-awk"]))),
    (&["s7-app"], Expect::Same(Some(&["s7-app", "s7-gawk"]))),
    (&["s8-app"], Expect::Same(Some(&["s8-app", "s8-c", "s8-d"]))),
    (
        &["s9-app"],
        Expect::Differ {
            ours: Some(&["s9-app", "s9-lib", "s9-tool"]),
            apt: None,
            why: "apt keeps the candidate s9-lib 2, which s9-tool breaks; we take s9-lib 1",
        },
    ),
    (&["s10-app"], Expect::Same(Some(&["s10-app"]))),
    (
        &["s10-new"],
        Expect::Differ {
            ours: None,
            apt: Some(&["s10-libc", "s10-new"]),
            why: "apt upgrades the base's s10-libc; we never change a package in the base",
        },
    ),
    (&["s11-app"], Expect::Same(None)),
    (&["s12-a"], Expect::Same(Some(&["s12-a", "s12-b"]))),
    (
        &["s13-app"],
        Expect::Same(Some(&["s13-app", "s13-data", "s13-lib"])),
    ),
    (&["s14-a", "s14-b"], Expect::Same(None)),
    (
        &["s15-app", "s15-postfix"],
        Expect::Same(Some(&["s15-app", "s15-postfix"])),
    ),
];

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn build_repo(repo: &Path, work: &Path) {
    for (name, version, extra) in PACKAGES {
        let dir = work.join(format!("{name}_{}", version.replace(':', "%")));
        fs::create_dir_all(dir.join("DEBIAN")).unwrap();
        let mut control = format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\n\
             Maintainer: t <t@example.invalid>\nDescription: fake {name}\n"
        );
        if !extra.is_empty() {
            control.push_str(extra);
            control.push('\n');
        }
        fs::write(dir.join("DEBIAN/control"), control).unwrap();
        let deb = repo.join(format!("{name}_{}_all.deb", version.replace(':', "%3a")));
        let out = run(Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zgzip", "--build"])
            .arg(&dir)
            .arg(&deb));
        assert!(
            out.status.success(),
            "dpkg-deb {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(Command::new("apt-ftparchive")
        .args(["packages", "."])
        .current_dir(repo));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(repo.join("Packages"), &out.stdout).unwrap();
    let out = run(Command::new("apt-ftparchive")
        .args(["release", "."])
        .current_dir(repo));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(repo.join("Release"), &out.stdout).unwrap();
}

/// apt-get with every path inside `root` and no system state.
fn apt(root: &Path, args: &[&str]) -> std::process::Output {
    let p = |s: &str| root.join(s).display().to_string();
    let opts = [
        format!("Dir={}", p("")),
        format!("Dir::State={}", p("state")),
        format!("Dir::State::status={}", p("status")),
        format!("Dir::Cache={}", p("cache")),
        format!("Dir::Etc={}", p("etc")),
        format!("Dir::Etc::sourcelist={}", p("etc/sources.list")),
        format!("Dir::Etc::sourceparts={}", p("etc/sources.list.d")),
        format!("Dir::Etc::parts={}", p("etc/apt.conf.d")),
        format!("Dir::Etc::preferencesparts={}", p("etc/preferences.d")),
        "Debug::NoLocking=1".into(),
        "APT::Architecture=amd64".into(),
        "APT::Architectures::=amd64".into(),
        "Acquire::AllowInsecureRepositories=true".into(),
        "APT::Get::AllowUnauthenticated=true".into(),
        "APT::Install-Recommends=false".into(),
    ];
    let mut cmd = Command::new("apt-get");
    cmd.env("APT_CONFIG", root.join("etc/apt.conf"));
    for o in &opts {
        cmd.arg("-o").arg(o);
    }
    cmd.args(args);
    run(&mut cmd)
}

fn apt_outcome(root: &Path, install: &[&str]) -> Outcome {
    let mut args = vec!["-s", "-q", "install", "--no-install-recommends"];
    args.extend_from_slice(install);
    let out = apt(root, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect())
}

fn our_outcome(u: &Universe<DebVersion>, base: &Request<DebVersion>, install: &[&str]) -> Outcome {
    let mut r = base.clone();
    r.install = install.iter().map(|n| Req::any(*n)).collect();
    match solve::solve(u, &r) {
        Ok(s) => Ok(s.packages.into_iter().map(|p| p.name).collect()),
        Err(e) => Err(e.to_string()),
    }
}

fn set(names: Option<&[&str]>) -> Option<BTreeSet<String>> {
    names.map(|n| n.iter().map(|s| s.to_string()).collect())
}

/// A mismatch, described, or `None`.
fn check(
    who: &str,
    got: &Outcome,
    want: &Option<BTreeSet<String>>,
    install: &[&str],
) -> Option<String> {
    match (got, want) {
        (Ok(g), Some(w)) if g == w => None,
        (Err(_), None) => None,
        (Ok(g), Some(w)) => Some(format!(
            "{who}, install {install:?}: expected {w:?}, got {g:?}"
        )),
        (Ok(g), None) => Some(format!(
            "{who}, install {install:?}: expected a failure, got {g:?}"
        )),
        (Err(e), Some(w)) => Some(format!(
            "{who}, install {install:?}: expected {w:?}, got:\n{e}"
        )),
    }
}

#[test]
fn solve_agrees_with_apt() {
    for tool in ["dpkg-deb", "apt-ftparchive", "apt-get"] {
        if common::require_tool(tool).is_none() {
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let work = tmp.path().join("work");
    let root = tmp.path().join("apt");
    for d in [
        &repo,
        &work,
        &root.join("state/lists/partial"),
        &root.join("cache/archives/partial"),
        &root.join("etc/sources.list.d"),
        &root.join("etc/apt.conf.d"),
        &root.join("etc/preferences.d"),
    ] {
        fs::create_dir_all(d).unwrap();
    }
    build_repo(&repo, &work);
    fs::write(root.join("etc/apt.conf"), "").unwrap();
    fs::write(root.join("status"), STATUS).unwrap();
    fs::write(
        root.join("etc/sources.list"),
        format!("deb [trusted=yes] file:{} ./\n", repo.display()),
    )
    .unwrap();
    let out = apt(&root, &["-q", "update"]);
    assert!(
        out.status.success(),
        "apt-get update: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let packages = fs::read_to_string(repo.join("Packages")).unwrap();
    let u = Universe {
        candidates: universe::candidates(&packages, 0, "amd64").unwrap(),
    };
    assert_eq!(u.candidates.len(), PACKAGES.len());
    let base = Request {
        install: Vec::new(),
        exclude: Vec::new(),
        installed: universe::installed(STATUS).unwrap(),
    };

    let (mut same, mut differ) = (0, 0);
    let mut wrong = Vec::new();
    for (install, expect) in SCENARIOS {
        let ours = our_outcome(&u, &base, install);
        let theirs = apt_outcome(&root, install);
        match expect {
            Expect::Same(want) => {
                let want = set(*want);
                wrong.extend(check("ironhull", &ours, &want, install));
                wrong.extend(check("apt", &theirs, &want, install));
                same += 1;
            }
            Expect::Differ {
                ours: o,
                apt: a,
                why,
            } => {
                wrong.extend(check("ironhull", &ours, &set(*o), install));
                wrong.extend(check("apt", &theirs, &set(*a), install));
                println!("{install:?}: differs on purpose: {why}");
                differ += 1;
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
    println!(
        "{} scenarios: {same} agree with apt, {differ} differ on purpose",
        SCENARIOS.len()
    );
}

#[test]
fn refusals_say_why() {
    // The messages the installer will show, from the same Packages text
    // apt-ftparchive writes (no tools needed).
    let packages = PACKAGES
        .iter()
        .map(|(n, v, extra)| format!("Package: {n}\nVersion: {v}\nArchitecture: all\n{extra}\n"))
        .collect::<Vec<_>>()
        .join("\n");
    let u = Universe {
        candidates: universe::candidates(&packages, 0, "amd64").unwrap(),
    };
    let base = Request {
        install: Vec::new(),
        exclude: Vec::new(),
        installed: universe::installed(STATUS).unwrap(),
    };
    let mut r = base.clone();
    r.install = vec![Req::any("s5-app")];
    let e = solve::solve(&u, &r).unwrap_err();
    assert!(
        matches!(&e, SolveError::Ambiguous { providers, .. } if providers == &["s5-exim", "s5-postfix"]),
        "{e}"
    );
    r.install = vec![Req::any("s10-new")];
    let e = solve::solve(&u, &r).unwrap_err().to_string();
    assert!(e.contains("the base has s10-libc=1"), "{e}");
    r.install = vec![Req::any("s11-app")];
    let e = solve::solve(&u, &r).unwrap_err().to_string();
    assert!(e.contains("s11-missing"), "{e}");
}
