//! OS packages end to end (issue 15): a signed Debian archive of real
//! packages served on 127.0.0.1, a spec that installs from it, and the
//! image run by runc and podman.
//!
//! - `static` + `libc6` runs a dynamically linked C program (a
//!   distroless/base equivalent built from the archive alone);
//! - `python3.11-minimal` runs `python3 -c` as the spec's user, with no
//!   shell in the image;
//! - `ironhull lock` pins every package; a rebuild from the lock with the
//!   archive gone reads no index and gives the same digest;
//! - attacks and mistakes (a requested shell, a tampered index, a wrong
//!   key, a swapped package) fail with a clear error and write nothing.

mod common;
#[path = "common/debrepo.rs"]
mod debrepo;
#[path = "common/http_files.rs"]
mod http_files;

use common::*;
use debrepo::{DebRepo, DebRepoOptions};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const UID: u32 = 10001;

/// The archive of every downloaded amd64 package, signed, served.
fn archive() -> Option<(DebRepo, http_files::FileServer)> {
    let dir = debrepo::test_debs("amd64")?;
    debrepo::require_tools()?;
    let repo = DebRepo::build(&debrepo::all_debs(&dir), DebRepoOptions::default());
    let server = repo.serve();
    Some((repo, server))
}

fn spec(dir: &Path, url: &str, keyring: &Path, install: &str, tail: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let p = dir.join("builder.toml");
    fs::write(
        &p,
        format!(
            "[image]\nname = \"pkgs\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = {UID}\n\
             [[repositories]]\nkind = \"deb\"\nurl = \"{url}/\"\nsuite = \"bookworm\"\ncomponents = [\"main\"]\nkeyring = \"{}\"\n\
             [packages]\ninstall = [{install}]\n{tail}",
            keyring.display()
        ),
    )
    .unwrap();
    p
}

/// The archive, a scratch directory and a spec installing `install` from it.
struct Project {
    repo: DebRepo,
    server: http_files::FileServer,
    dir: tempfile::TempDir,
    spec: PathBuf,
}

fn project(install: &str, tail: &str) -> Option<Project> {
    let (repo, server) = archive()?;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let spec = spec(
        &dir.path().join("p"),
        &server.url(),
        &repo.keyring,
        install,
        tail,
    );
    Some(Project {
        repo,
        server,
        dir,
        spec,
    })
}

/// A dynamically linked C program (gcc's default), or None after a SKIP.
fn dynamic_hello(dir: &Path) -> Option<PathBuf> {
    let cc = require_tool("gcc")?;
    fs::create_dir_all(dir).unwrap();
    let src = dir.join("hello.c");
    fs::write(
        &src,
        "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"hello from glibc as %d\\n\", (int)getuid());return 0;}\n",
    )
    .unwrap();
    let out = dir.join("hello");
    let st = Command::new(cc)
        .arg("-O2")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "gcc failed");
    let file = Command::new("sh")
        .arg("-c")
        .arg("od -An -c -N 4 \"$0\"")
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&file.stdout).contains("E   L   F"));
    Some(out)
}

struct Built {
    layout: PathBuf,
    archive: PathBuf,
    json: serde_json::Value,
    digest: String,
}

fn build(spec: &Path, cache: &Path, out: &Path) -> Result<Built, Run> {
    let layout = out.join("layout");
    let archive = out.join("image.tar");
    let r = run(ironhull_build(
        spec,
        cache,
        &[
            "--json",
            "-o",
            &format!("oci:{}:1", layout.display()),
            "-o",
            &format!("oci-archive:{}", archive.display()),
        ],
    ));
    if !r.success() {
        return Err(r);
    }
    let json: serde_json::Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("--json is not JSON ({e}):\n{}", r.describe()));
    let digest = json["digest"].as_str().unwrap_or_default().to_string();
    Ok(Built {
        layout,
        archive,
        json,
        digest,
    })
}

fn installed_names(b: &Built) -> Vec<String> {
    let mut v: Vec<String> = b.json["packages"][0]["installed"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    v.sort();
    v
}

fn runc_prints(b: &Built, scratch: &Path, want: &str) {
    if require_runc().is_none() {
        return;
    }
    let bundle = scratch.join("bundle");
    umoci_unpack(&b.layout, "1", &bundle);
    let r = runc_run(&bundle, None);
    r.assert_success();
    assert_eq!(r.stdout.trim(), want, "{}", r.describe());
    let r = runc_run(&bundle, Some(&["/bin/sh", "-c", "id"]));
    assert!(!r.success(), "a shell ran:\n{}", r.describe());
    let _ = fs::remove_dir_all(&bundle);
}

fn podman_prints(b: &Built, scratch: &Path, want: &str) {
    let Some(podman) = Podman::new(&scratch.join("podman")) else {
        return;
    };
    let image = podman.load(&b.archive);
    let r = podman.run(&image, &[], &[]);
    r.assert_success();
    assert_eq!(r.stdout.trim(), want, "{}", r.describe());
}

#[test]
fn static_plus_libc6_runs_a_dynamic_c_program_under_runc_and_podman() {
    let Some((repo, server)) = archive() else {
        return;
    };
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let Some(hello) = dynamic_hello(&d.path().join("src")) else {
        return;
    };
    let spec = spec(
        &d.path().join("p"),
        &server.url(),
        &repo.keyring,
        "\"libc6\"",
        &format!(
            "[[artifacts]]\nsrc = \"{}\"\ndest = \"/app/hello\"\nmode = 0o555\n[config]\nentrypoint = [\"/app/hello\"]\n",
            hello.display()
        ),
    );
    let b = build(&spec, &d.path().join("cache"), &d.path().join("out"))
        .unwrap_or_else(|r| panic!("{}", r.describe()));
    assert_eq!(installed_names(&b), ["gcc-12-base", "libc6", "libgcc-s1"]);
    let libc = b.json["packages"][0]["installed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libc6")
        .unwrap()
        .clone();
    assert!(
        libc["scriptsNotRun"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "postinst"),
        "{libc}"
    );
    let want = format!("hello from glibc as {UID}");
    runc_prints(&b, d.path(), &want);
    podman_prints(&b, d.path(), &want);

    // `ironhull sbom` lists exactly the installed packages, with versions.
    let mut c = ironhull();
    c.args(["sbom", "--format", "spdx-json"])
        .arg(format!("oci:{}:1", b.layout.display()));
    let r = run(c);
    r.assert_success();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let mut names: Vec<String> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"].as_array().is_some_and(|r| {
                r.iter().any(|x| {
                    x["referenceLocator"]
                        .as_str()
                        .is_some_and(|l| l.starts_with("pkg:deb/"))
                })
            })
        })
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    names.sort();
    assert_eq!(names, ["gcc-12-base", "libc6", "libgcc-s1"], "{}", r.stdout);
}

#[test]
fn python_runs_as_the_spec_user_with_no_shell() {
    let Some(Project {
        repo: _repo,
        server: _server,
        dir: d,
        spec,
    }) = project(
        "\"python3.11-minimal\", \"ca-certificates\"",
        "exclude = [\"debconf\"]\n[config]\nentrypoint = [\"/usr/bin/python3.11\", \"-c\", \"import os, ssl; print(os.getuid(), ssl.get_default_verify_paths().cafile is not None)\"]\n",
    )
    else {
        return;
    };
    let b = build(&spec, &d.path().join("cache"), &d.path().join("out"))
        .unwrap_or_else(|r| panic!("{}", r.describe()));
    let names = installed_names(&b);
    for want in [
        "python3.11-minimal",
        "libpython3.11-minimal",
        "ca-certificates",
        "libc6",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    for never in ["debconf", "bash", "dash"] {
        assert!(
            !names.iter().any(|n| n == never),
            "{never} installed: {names:?}"
        );
    }
    runc_prints(&b, d.path(), &format!("{UID} True"));
}

#[test]
fn the_lock_pins_packages_and_a_rebuild_reads_no_index() {
    let Some(Project {
        repo,
        server,
        dir: d,
        spec,
    }) = project("\"libc6\"", "")
    else {
        return;
    };
    let cache = d.path().join("cache");
    let mut c = ironhull();
    c.args(["lock", "-f"])
        .arg(&spec)
        .arg("--cache-dir")
        .arg(&cache);
    run(c).assert_success();
    let lock = fs::read_to_string(d.path().join("p/ironhull.lock")).unwrap();
    for want in [
        "[[packages.pinned]]",
        "name = \"libc6\"",
        "sha256 = ",
        "InRelease",
    ] {
        assert!(lock.contains(want), "{want} not in the lock:\n{lock}");
    }
    let first =
        build(&spec, &cache, &d.path().join("o1")).unwrap_or_else(|r| panic!("{}", r.describe()));
    // The packages are cached now: with every index refused by the server,
    // the build still works, reads no index, and gives the same image.
    server.reset_counts();
    for f in ["InRelease", "Release", "Release.gpg"] {
        server.status(&repo.url_path(f), 500);
    }
    let again =
        build(&spec, &cache, &d.path().join("o2")).unwrap_or_else(|r| panic!("{}", r.describe()));
    assert_eq!(first.digest, again.digest);
    let read: Vec<String> = server.requests().into_iter().map(|(p, _)| p).collect();
    assert!(read.is_empty(), "a locked, cached build fetched {read:?}");
    assert_eq!(first.json["packages"], again.json["packages"]);
    // The sealed install report lets that rebuild skip unpacking; a forged
    // one is not trusted: the packages are installed again, and the build
    // reports what really happened.
    let mut forged = 0;
    for e in fs::read_dir(cache.join("cache/packages"))
        .unwrap()
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("report-") {
            fs::write(e.path(), br#"[{"name":"forged","version":"1","arch":"all","scriptsNotRun":[],"instead":[],"changed":[]}]"#).unwrap();
            forged += 1;
        }
    }
    assert_eq!(forged, 1, "one sealed install report per package set");
    let forged_build =
        build(&spec, &cache, &d.path().join("o2b")).unwrap_or_else(|r| panic!("{}", r.describe()));
    assert_eq!(forged_build.digest, first.digest);
    assert_eq!(forged_build.json["packages"], first.json["packages"]);
    // From another cache (the packages must be downloaded, by sha256) the
    // digest is the same too.
    let third = build(&spec, &d.path().join("cache2"), &d.path().join("o3"))
        .unwrap_or_else(|r| panic!("{}", r.describe()));
    assert_eq!(first.digest, third.digest);
    assert!(
        server
            .requests()
            .iter()
            .all(|(p, _)| p.starts_with("/pool/")),
        "{:?}",
        server.requests()
    );
}

/// A control-only package built with dpkg-deb: `name` depending on `depends`.
fn fake_deb(dir: &Path, name: &str, depends: &str) -> PathBuf {
    let root = dir.join(format!("{name}-root"));
    fs::create_dir_all(root.join("DEBIAN")).unwrap();
    fs::create_dir_all(root.join("usr/share/doc").join(name)).unwrap();
    fs::write(
        root.join("usr/share/doc").join(name).join("README"),
        "fake\n",
    )
    .unwrap();
    fs::write(
        root.join("DEBIAN/control"),
        format!("Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.com>\nDepends: {depends}\nDescription: a test package\n"),
    )
    .unwrap();
    let out = dir.join(format!("{name}_1.0_all.deb"));
    let st = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&root)
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    out
}

/// Each of these fails with a clear message and leaves no output.
#[test]
fn refusals_are_clear_and_write_nothing() {
    let Some(dir) = debrepo::test_debs("amd64") else {
        return;
    };
    if debrepo::require_tools().is_none() {
        return;
    }
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut debs = debrepo::all_debs(&dir);
    debs.push(fake_deb(d.path(), "app-tool", "dash"));
    let repo = DebRepo::build(&debs, DebRepoOptions::default());
    let server = repo.serve();
    let case = |name: &str, install: &str, keyring: &Path, want: &[&str]| {
        let spec = spec(&d.path().join(name), &server.url(), keyring, install, "");
        let out = d.path().join(format!("out-{name}"));
        let r = build(&spec, &d.path().join(format!("cache-{name}")), &out)
            .err()
            .unwrap_or_else(|| panic!("{name}: the build succeeded"));
        for w in want {
            assert!(
                r.stderr.contains(w),
                "{name}: {w:?} not in:\n{}",
                r.describe()
            );
        }
        assert!(!r.stderr.contains("panicked"), "{}", r.describe());
        assert!(
            !out.join("layout").exists() && !out.join("image.tar").exists(),
            "{name}: output left behind"
        );
    };
    // A shell asked for, and one pulled in by a dependency.
    case(
        "bash",
        "\"bash\", \"mawk\"",
        &repo.keyring,
        &[
            "package bash is refused",
            "shell",
            "remove \"bash\" from [packages] install",
        ],
    );
    case(
        "pulled",
        "\"app-tool\"",
        &repo.keyring,
        &[
            "is refused",
            "pulled in by app-tool -> dash",
            "[packages] exclude",
        ],
    );
    // A package manager asked for.
    case(
        "dpkg",
        "\"dpkg\"",
        &repo.keyring,
        &["package dpkg is refused", "package manager"],
    );
    // A name no repository has: the close one is suggested.
    case("unknown", "\"libc7\"", &repo.keyring, &["libc7", "libc6"]);
    // An unsatisfiable request names the chain.
    case(
        "unsat",
        "\"libc6 (>= 99)\"",
        &repo.keyring,
        &["libc6", "99"],
    );
    // An ambiguous virtual lists the candidates.
    case(
        "virtual",
        "\"awk\"",
        &repo.keyring,
        &["gawk", "mawk", "original-awk"],
    );
    // Another key: the archive's signature does not verify.
    let other = d.path().join("other");
    debrepo::gen_key(&other, "someone-else");
    let other_key = d.path().join("other.gpg");
    debrepo::export_key(&other, &other_key, false);
    case(
        "wrongkey",
        "\"libc6\"",
        &other_key,
        &["keyring", "InRelease"],
    );
    // A tampered Packages index (one byte), served instead of the real one.
    let rel = format!("/dists/bookworm/{}.xz", repo.packages_rel("amd64"));
    let mut bytes = fs::read(repo.root.join(rel.trim_start_matches('/'))).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    server.replace(&rel, bytes);
    case(
        "tampered",
        "\"libc6\"",
        &repo.keyring,
        &["Packages.xz", "but Release says"],
    );
    server.clear_overrides();
    // A swapped .deb: the pool serves another package's bytes for libc6.
    let (libc, _) = repo
        .debs
        .iter()
        .find(|(rel, _)| rel.contains("/libc6_"))
        .unwrap()
        .clone();
    let (other, _) = repo
        .debs
        .iter()
        .find(|(rel, _)| rel.contains("/zlib1g_"))
        .unwrap()
        .clone();
    server.replace(
        &format!("/{libc}"),
        fs::read(repo.root.join(&other)).unwrap(),
    );
    case(
        "swapped",
        "\"libc6\"",
        &repo.keyring,
        &["libc6", "different file than it signed"],
    );
    // A truncated download of it.
    server.clear_overrides();
    server.truncate(&format!("/{libc}"), 1000);
    case(
        "truncated",
        "\"libc6\"",
        &repo.keyring,
        &["libc6", "closed the connection early"],
    );
    server.clear_overrides();
}

/// (name, version) of every Debian package `ironhull sbom` lists.
fn sbom_packages(layout: &Path) -> std::collections::BTreeSet<(String, String)> {
    let mut c = ironhull();
    c.args(["sbom", "--format", "cyclonedx-json"])
        .arg(format!("oci:{}:1", layout.display()));
    let r = run(c);
    r.assert_success();
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    purl_packages(&doc["components"], "pkg:deb/")
}

/// Syft and Trivy, reading the image on their own, list exactly the
/// packages ironhull installed and `ironhull sbom` reports. Trivy names an
/// image's OS from `/etc/os-release` and lists OS packages only for an OS
/// it knows, so the spec installs `base-files` (as distroless does; its
/// `awk` dependency is excluded through `mawk`, which provides it).
#[test]
fn syft_and_trivy_see_exactly_the_installed_packages() {
    let (Some(syft), Some(trivy)) = (require_tool("syft"), require_tool("trivy")) else {
        return;
    };
    let Some(Project {
        repo: _repo,
        server: _server,
        dir: d,
        spec,
    }) = project(
        "\"python3.11-minimal\", \"ca-certificates\", \"tzdata\", \"base-files\"",
        "exclude = [\"debconf\", \"mawk\"]\n",
    )
    else {
        return;
    };
    let b = build(&spec, &d.path().join("cache"), &d.path().join("out"))
        .unwrap_or_else(|r| panic!("{}", r.describe()));
    let installed: std::collections::BTreeSet<(String, String)> =
        b.json["packages"][0]["installed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap_or("").to_string(),
                    p["version"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
    assert!(installed.len() >= 8, "{installed:?}");
    assert_eq!(sbom_packages(&b.layout), installed, "ironhull sbom");

    assert_eq!(syft_packages(&syft, &b.layout, "deb"), installed, "syft");
    assert_eq!(
        trivy_packages(&trivy, &b.layout, &d.path().join("trivy-cache"), "pkg:deb/"),
        installed,
        "trivy"
    );
}

/// A multi-platform spec resolves per platform: arm64 gets arm64 packages
/// (from the same archive, `binary-arm64`), amd64 its own; the lock holds
/// both. Nothing arm64 is run.
#[test]
fn each_platform_resolves_its_own_architecture() {
    let Some(amd) = debrepo::test_debs("amd64") else {
        return;
    };
    let Some(arm) = debrepo::test_debs("arm64") else {
        return;
    };
    if debrepo::require_tools().is_none() {
        return;
    }
    let mut debs = debrepo::pick(&amd, &["libc6", "libgcc-s1", "gcc-12-base"]);
    debs.extend(debrepo::all_debs(&arm));
    let repo = DebRepo::build(
        &debs,
        DebRepoOptions {
            archs: vec!["amd64".into(), "arm64".into()],
            ..DebRepoOptions::default()
        },
    );
    let server = repo.serve();
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let p = spec(
        &d.path().join("p"),
        &server.url(),
        &repo.keyring,
        "\"libc6\"",
        "",
    );
    let text = fs::read_to_string(&p).unwrap().replace(
        "tags = [\"1\"]\n",
        "tags = [\"1\"]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n",
    );
    fs::write(&p, text).unwrap();
    let mut c = ironhull();
    c.args(["lock", "-f"])
        .arg(&p)
        .arg("--cache-dir")
        .arg(d.path().join("cache"));
    run(c).assert_success();
    let lock: toml::Value =
        toml::from_str(&fs::read_to_string(d.path().join("p/ironhull.lock")).unwrap()).unwrap();
    let platforms = lock["packages"].as_array().unwrap();
    assert_eq!(platforms.len(), 2, "{lock:#?}");
    for pl in platforms {
        let want = match pl["platform"].as_str().unwrap() {
            "linux/amd64" => "amd64",
            "linux/arm64" => "arm64",
            other => panic!("unexpected platform {other}"),
        };
        let pinned = pl["pinned"].as_array().unwrap();
        let libc = pinned
            .iter()
            .find(|x| x["name"].as_str() == Some("libc6"))
            .unwrap();
        assert_eq!(libc["architecture"].as_str(), Some(want), "{pl:#?}");
        assert!(
            libc["path"]
                .as_str()
                .unwrap()
                .contains(&format!("_{want}.deb"))
        );
    }
    let b = build(&p, &d.path().join("cache"), &d.path().join("out"))
        .unwrap_or_else(|r| panic!("{}", r.describe()));
    let per: Vec<(String, Vec<String>)> = b.json["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["platform"].as_str().unwrap().to_string(),
                x["installed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| {
                        format!(
                            "{}:{}",
                            i["name"].as_str().unwrap(),
                            i["arch"].as_str().unwrap()
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(per.len(), 2, "{per:?}");
    assert!(
        per.iter()
            .any(|(p, i)| p == "linux/arm64" && i.iter().any(|x| x == "libc6:arm64")),
        "{per:?}"
    );
    assert!(
        per.iter()
            .any(|(p, i)| p == "linux/amd64" && i.iter().any(|x| x == "libc6:amd64")),
        "{per:?}"
    );
}
