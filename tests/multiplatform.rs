//! Issue 6, "How it is proven": one spec, two platforms, built on the REAL
//! Alpine minirootfs fixtures (x86_64 and aarch64, chosen by the `{machine}`
//! placeholder) with per-platform static artifacts (`{arch}`).
//!
//! Everything is checked with tools that know nothing about ironhull:
//! `skopeo inspect --raw` reads the index, `skopeo copy --override-arch`
//! resolves it the way a runtime does, and the real Distribution registry
//! stores and serves it back. The failure cases (wrong-architecture ELF, a
//! platform without a source, a docker-archive of two platforms) must fail
//! with a clear message AND leave no output behind.
//!
//! The two-platform build is slow in debug mode, so it runs ONCE per process
//! (`shared()`); the tests that need their own build use their own project.

mod common;
#[path = "common/registry.rs"]
mod reg;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

const TAG: &str = "1";
const UID: u32 = 10001;

/// A tiny static aarch64 ELF (`mov x0, #0; mov x8, #93; svc #0`: exit(0)).
/// It never runs here; it only has to be a well-formed aarch64 executable so
/// the ELF machine check and the image's layer carry real arm64 content.
fn aarch64_elf() -> Vec<u8> {
    let code: Vec<u8> = [0xd280_0000u32, 0xd280_0ba8, 0xd400_0001]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let entry: u64 = 0x40_0000 + 64 + 56;
    let n: u64 = 64 + 56 + code.len() as u64;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF");
    f.extend_from_slice(&[2, 1, 1, 0]);
    f.extend_from_slice(&[0; 8]);
    // ELF64 header after e_ident: '<HHIQQQIHHHHHH'
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type EXEC
    f.extend_from_slice(&183u16.to_le_bytes()); // e_machine AARCH64
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&entry.to_le_bytes()); // e_entry
    f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for h in [64u16, 56, 1, 0, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        f.extend_from_slice(&h.to_le_bytes());
    }
    assert_eq!(f.len(), 64, "ELF header size");
    // Program header: '<IIQQQQQQ' PT_LOAD, R+X.
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&5u32.to_le_bytes());
    for q in [0u64, 0x40_0000, 0x40_0000, n, n, 0x1000] {
        f.extend_from_slice(&q.to_le_bytes());
    }
    assert_eq!(f.len(), 64 + 56, "program header size");
    f.extend_from_slice(&code);
    f
}

/// `rootfs:<fixtures>/alpine/alpine-minirootfs-3.20.3-{machine}.tar.gz`,
/// after checking that both machines' tarballs exist.
fn base_with_placeholder() -> Option<String> {
    let x86 = alpine_rootfs("x86_64")?;
    let arm = alpine_rootfs("aarch64")?;
    let x86_name = x86.to_string_lossy().into_owned();
    let templ = x86_name.replace("-x86_64.tar.gz", "-{machine}.tar.gz");
    assert_eq!(
        templ.replace("{machine}", "aarch64"),
        arm.to_string_lossy(),
        "the x86_64 and aarch64 fixtures must be the same Alpine version"
    );
    Some(format!("rootfs:{templ}"))
}

/// The `[[artifacts]] src` forms the tests use.
enum Src<'a> {
    /// `src = "dist/{arch}/app"`.
    Placeholder,
    /// `src = { "<platform>" = "<path>", ... }`.
    Table(&'a [(&'a str, &'a str)]),
}

/// Writes a two-platform project into `dir`: `dist/amd64/app` is the static
/// hello program, `dist/arm64/app` the tiny aarch64 ELF. Returns the spec.
fn project(dir: &Path, src: Src<'_>) -> Option<PathBuf> {
    let base = base_with_placeholder()?;
    build_hello_static(&dir.join("dist/amd64"))?;
    fs::rename(dir.join("dist/amd64/hello"), dir.join("dist/amd64/app"))
        .expect("rename hello to app");
    fs::create_dir_all(dir.join("dist/arm64")).expect("mkdir dist/arm64");
    fs::write(dir.join("dist/arm64/app"), aarch64_elf()).expect("write arm64 app");
    let src = match src {
        Src::Placeholder => "\"dist/{arch}/app\"".to_string(),
        Src::Table(entries) => {
            let items: Vec<String> = entries
                .iter()
                .map(|(p, s)| format!("\"{p}\" = \"{s}\""))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    };
    let spec = dir.join("builder.toml");
    fs::write(
        &spec,
        format!(
            r#"[image]
name = "mp"
tags = ["{TAG}"]
platforms = ["linux/amd64", "linux/arm64"]

[base]
image = "{base}"

[user]
uid = {UID}

[[artifacts]]
src = {src}
dest = "/app/app"
mode = 0o555

[config]
entrypoint = ["/app/app"]
"#
        ),
    )
    .expect("write builder.toml");
    Some(spec)
}

/// The shared two-platform build.
struct Shared {
    dir: tempfile::TempDir,
    spec: PathBuf,
    layout: PathBuf,
    digest: String,
}

impl Shared {
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
}

fn shared() -> Option<&'static Shared> {
    static CELL: OnceLock<Option<Shared>> = OnceLock::new();
    CELL.get_or_init(|| {
        // A static is never dropped, so keep this under target/ (removed by
        // `cargo clean`) rather than leaking it into /tmp.
        let dir = tempfile::Builder::new()
            .prefix("multiplatform-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        let spec = project(&dir.path().join("project"), Src::Placeholder)?;
        let layout = dir.path().join("layout");
        let out = format!("oci:{}:{TAG}", layout.display());
        let r = run(ironhull_build(
            &spec,
            &dir.path().join("cache"),
            &["-o", &out],
        ));
        r.assert_success();
        let digest = printed_digest(&r);
        assert_eq!(layout_tag_digest(&layout, TAG), digest, "{}", r.describe());
        Some(Shared {
            dir,
            spec,
            layout,
            digest,
        })
    })
    .as_ref()
}

fn parse_json(text: &str, what: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON ({e}):\n{text}"))
}

/// The index entry of `arch` in an index document.
fn entry<'a>(index: &'a serde_json::Value, arch: &str) -> &'a serde_json::Value {
    index["manifests"]
        .as_array()
        .and_then(|m| m.iter().find(|e| e["platform"]["architecture"] == arch))
        .unwrap_or_else(|| panic!("no {arch} entry in the index:\n{index:#}"))
}

/// The (uncompressed) content of `path` in the last layer of a manifest.
fn file_in_top_layer(layout: &Path, manifest: &serde_json::Value, path: &str) -> Option<Vec<u8>> {
    let layers = manifest["layers"].as_array()?;
    let top = layers.last()?["digest"].as_str()?;
    let bytes = layer_bytes(&layout_blob(layout, top));
    let mut ar = tar::Archive::new(&bytes[..]);
    for e in ar.entries().ok()? {
        let mut e = e.ok()?;
        let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if p.trim_start_matches("./").trim_start_matches('/') == path.trim_start_matches('/') {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut out).ok()?;
            return Some(out);
        }
    }
    None
}

#[test]
fn aarch64_elf_matches_the_reference_layout() {
    // Guards the hand-assembled file itself (no tools needed).
    let f = aarch64_elf();
    assert_eq!(f.len(), 64 + 56 + 12);
    assert_eq!(&f[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([f[18], f[19]]), 183, "e_machine");
    assert_eq!(
        u64::from_le_bytes(f[24..32].try_into().expect("8 bytes")),
        0x40_0000 + 120,
        "e_entry"
    );
    assert_eq!(&f[120..124], &0xd280_0000u32.to_le_bytes());
}

#[test]
fn index_has_two_correct_platform_entries() {
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    let Some(s) = shared() else { return };
    let r = skopeo([
        "inspect",
        "--raw",
        &format!("oci:{}:{TAG}", s.layout.display()),
    ]);
    r.assert_success();
    assert_eq!(
        ironhull::digest::Digest::of(r.stdout.as_bytes()).to_string(),
        s.digest,
        "skopeo's raw bytes are the index ironhull printed"
    );
    let index = parse_json(&r.stdout, "skopeo inspect --raw");
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index:#}"
    );
    let manifests = index["manifests"].as_array().expect("manifests array");
    assert_eq!(manifests.len(), 2, "one manifest per platform:\n{index:#}");
    let mut archs: Vec<&str> = manifests
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap_or(""))
        .collect();
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"], "{index:#}");

    let hello = fs::read(s.spec.parent().expect("dir").join("dist/amd64/app")).expect("read app");
    for (arch, artifact) in [("amd64", hello), ("arm64", aarch64_elf())] {
        let e = entry(&index, arch);
        assert_eq!(e["platform"]["os"], "linux", "{e:#}");
        assert_eq!(
            e["mediaType"], "application/vnd.oci.image.manifest.v1+json",
            "{e:#}"
        );
        let m = read_json(&layout_blob(&s.layout, e["digest"].as_str().unwrap_or("")));
        let config = read_json(&layout_blob(
            &s.layout,
            m["config"]["digest"].as_str().unwrap_or(""),
        ));
        assert_eq!(config["architecture"], arch, "config of {arch}: {config:#}");
        assert_eq!(config["os"], "linux", "config of {arch}");
        assert_eq!(
            config["variant"], e["platform"]["variant"],
            "config variant must match the index entry for {arch}"
        );
        // Each platform carries ITS artifact, not the other one.
        assert_eq!(
            file_in_top_layer(&s.layout, &m, "app/app").as_deref(),
            Some(&artifact[..]),
            "/app/app of {arch} is not the {arch} artifact"
        );
        // And its own Alpine: the base layers differ per machine.
        let apk_arch = if arch == "amd64" { "x86_64" } else { "aarch64" };
        let layers = m["layers"].as_array().expect("layers");
        let base_text: Vec<u8> = layers[..layers.len() - 1]
            .iter()
            .flat_map(|l| layer_bytes(&layout_blob(&s.layout, l["digest"].as_str().unwrap_or(""))))
            .collect();
        assert!(
            contains_bytes(&base_text, format!("A:{apk_arch}\n").as_bytes()),
            "the {arch} image's base layers hold no apk package of arch {apk_arch}"
        );
    }
}

#[test]
fn skopeo_override_arch_picks_the_arm64_manifest() {
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    let Some(s) = shared() else { return };
    let index = read_json(&layout_blob(&s.layout, &s.digest));
    let arm = entry(&index, "arm64")["digest"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let out = tempfile::tempdir().expect("tempdir");
    let dest = out.path().join("copy");
    skopeo([
        "copy",
        "--override-arch",
        "arm64",
        &format!("oci:{}:{TAG}", s.layout.display()),
        &format!("oci:{}:x", dest.display()),
    ])
    .assert_success();
    let copied = layout_tag_digest(&dest, "x");
    assert_eq!(copied, arm, "skopeo chose another manifest than arm64");
    let m = read_json(&layout_blob(&dest, &copied));
    let config = read_json(&layout_blob(
        &dest,
        m["config"]["digest"].as_str().unwrap_or(""),
    ));
    assert_eq!(config["architecture"], "arm64", "{config:#}");

    // The same for amd64, so the test cannot pass by always taking entry 2.
    let amd = entry(&index, "amd64")["digest"]
        .as_str()
        .unwrap_or("")
        .to_string();
    skopeo([
        "copy",
        "--override-arch",
        "amd64",
        &format!("oci:{}:{TAG}", s.layout.display()),
        &format!("oci:{}:y", dest.display()),
    ])
    .assert_success();
    assert_eq!(layout_tag_digest(&dest, "y"), amd);
}

#[test]
fn index_pushed_to_registry_comes_back_identical() {
    let Some(_) = require_tool("skopeo") else {
        return;
    };
    let Some(_) = require_tool("docker-registry") else {
        return;
    };
    let Some(s) = shared() else { return };
    let registry = reg::Registry::start(reg::Auth::None, None);
    let host = &registry.host;
    let dcfg = tempfile::tempdir().expect("tempdir");
    let dest = format!("docker://{host}/mp:1");
    let r = run(ironhull_build(
        &s.spec,
        &s.cache(),
        &[
            "-o",
            &dest,
            "--docker-config",
            &dcfg.path().to_string_lossy(),
        ],
    ));
    r.assert_success();
    let pushed = printed_digest(&r);
    assert_eq!(
        pushed, s.digest,
        "the same spec and inputs must give the same index digest"
    );
    let raw = skopeo([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{host}/mp:1"),
    ]);
    raw.assert_success();
    assert_eq!(
        ironhull::digest::Digest::of(raw.stdout.as_bytes()).to_string(),
        pushed,
        "the registry serves other index bytes than ironhull built"
    );
    let local = fs::read(layout_blob(&s.layout, &s.digest)).expect("read local index");
    assert_eq!(raw.stdout.as_bytes(), &local[..]);
    // Both manifests are there, byte for byte, and skopeo resolves arm64.
    let index = parse_json(&raw.stdout, "index");
    for arch in ["amd64", "arm64"] {
        let d = entry(&index, arch)["digest"].as_str().unwrap_or("");
        let m = skopeo([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{host}/mp@{d}"),
        ]);
        m.assert_success();
        assert_eq!(
            ironhull::digest::Digest::of(m.stdout.as_bytes()).to_string(),
            d,
            "{arch} manifest"
        );
    }
    let cfg = skopeo([
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        &format!("docker://{host}/mp:1"),
    ]);
    cfg.assert_success();
    let v = parse_json(&cfg.stdout, "skopeo inspect");
    assert_eq!(v["Architecture"], "arm64", "{v:#}");
    // skopeo's "Digest" is the top-level (index) digest; the resolved
    // manifest shows in its layers.
    assert_eq!(v["Digest"].as_str(), Some(pushed.as_str()), "{v:#}");
    let arm = read_json(&layout_blob(
        &s.layout,
        entry(&index, "arm64")["digest"].as_str().unwrap_or(""),
    ));
    let want: Vec<&serde_json::Value> = arm["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| &l["digest"])
        .collect();
    let got: Vec<&serde_json::Value> = v["Layers"].as_array().expect("Layers").iter().collect();
    assert_eq!(got, want, "skopeo resolved another manifest than arm64");
}

#[test]
fn verify_reproducible_covers_both_platforms() {
    let Some(s) = shared() else { return };
    let out = tempfile::tempdir().expect("tempdir");
    let layout = out.path().join("layout");
    let r = run(ironhull_build(
        &s.spec,
        &s.cache(),
        &[
            "--verify-reproducible",
            "-o",
            &format!("oci:{}:{TAG}", layout.display()),
        ],
    ));
    r.assert_success();
    assert_eq!(printed_digest(&r), s.digest);
    assert!(
        r.stderr.contains("reproducible") && r.stderr.contains(&s.digest),
        "--verify-reproducible must report the digest it verified:\n{}",
        r.describe()
    );
    assert_eq!(
        layout_manifests(&layout, &s.digest).len(),
        2,
        "both platforms written"
    );
}

/// Asserts that nothing exists at any of `paths`.
#[track_caller]
fn assert_absent(paths: &[&Path], r: &Run) {
    for p in paths {
        assert!(
            !p.exists(),
            "a failed build must leave no output, but {} exists:\n{}",
            p.display(),
            r.describe()
        );
    }
}

#[test]
fn wrong_architecture_artifact_is_refused_without_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project_dir = dir.path().join("project");
    let Some(spec) = project(&project_dir, Src::Placeholder) else {
        return;
    };
    // An x86_64 binary where the arm64 one belongs.
    let bad = project_dir.join("dist/arm64/app");
    fs::copy(project_dir.join("dist/amd64/app"), &bad).expect("copy");
    let layout = dir.path().join("out");
    let archive = dir.path().join("out.tar");
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &[
            "-o",
            &format!("oci:{}:{TAG}", layout.display()),
            "-o",
            &format!("oci-archive:{}", archive.display()),
        ],
    ));
    r.assert_code(2);
    let err = &r.stderr;
    assert!(
        err.contains("dist/arm64/app"),
        "the error must name the file:\n{err}"
    );
    assert!(
        err.contains("linux/arm64") && err.contains("x86_64"),
        "the error must name the platform and the file's machine:\n{err}"
    );
    assert_absent(&[&layout, &archive], &r);

    // --json gives a stable kind for CI.
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &["--json", "-o", &format!("oci:{}:{TAG}", layout.display())],
    ));
    r.assert_code(2);
    let (kind, message, code) = json_error(&r);
    assert_eq!(code, 2);
    assert!(kind.contains("WrongArchitecture"), "kind {kind:?}");
    assert!(message.contains("dist/arm64/app"), "{message}");
    assert_absent(&[&layout], &r);
}

#[test]
fn platform_without_a_source_is_refused_without_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let project_dir = dir.path().join("project");
    let Some(spec) = project(
        &project_dir,
        Src::Table(&[("linux/amd64", "dist/amd64/app")]),
    ) else {
        return;
    };
    let layout = dir.path().join("out");
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &["--json", "-o", &format!("oci:{}:{TAG}", layout.display())],
    ));
    r.assert_code(2);
    let (kind, message, _) = json_error(&r);
    assert_eq!(kind, "Spec::MissingPlatformSource", "{message}");
    assert!(
        message.contains("linux/arm64") && message.contains("/app/app"),
        "the error must name the platform and the artifact:\n{message}"
    );
    assert!(
        message.contains("builder.toml"),
        "the error must say where:\n{message}"
    );
    assert_absent(&[&layout], &r);
    // The text form says the same on stderr.
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &["-o", &format!("oci:{}:{TAG}", layout.display())],
    ));
    r.assert_code(2);
    assert!(r.stderr.contains("linux/arm64"), "{}", r.describe());
    assert_absent(&[&layout], &r);

    // With both platforms in the table, the same project builds.
    let spec2 = project(
        &project_dir,
        Src::Table(&[
            ("linux/amd64", "dist/amd64/app"),
            ("linux/arm64", "dist/arm64/app"),
        ]),
    )
    .expect("project");
    let r = run(ironhull_build(
        &spec2,
        &dir.path().join("cache"),
        &["-o", &format!("oci:{}:{TAG}", layout.display())],
    ));
    r.assert_success();
    let d = printed_digest(&r);
    assert_eq!(layout_manifests(&layout, &d).len(), 2);
}

#[test]
fn docker_archive_needs_one_platform() {
    let Some(s) = shared() else { return };
    let out = tempfile::tempdir().expect("tempdir");
    let archive = out.path().join("mp-docker.tar");
    let layout = out.path().join("layout");
    let r = run(ironhull_build(
        &s.spec,
        &s.cache(),
        &[
            "-o",
            &format!("oci:{}:{TAG}", layout.display()),
            "-o",
            &format!("docker-archive:{}", archive.display()),
        ],
    ));
    r.assert_code(2);
    assert!(
        r.stderr.contains("--platform") && r.stderr.contains("docker-archive"),
        "the error must ask for --platform:\n{}",
        r.describe()
    );
    assert_absent(&[&archive, &layout], &r);

    // One platform picked: a docker-archive of the arm64 image.
    let r = run(ironhull_build(
        &s.spec,
        &s.cache(),
        &[
            "--platform",
            "linux/arm64",
            "-o",
            &format!("docker-archive:{}", archive.display()),
        ],
    ));
    r.assert_success();
    let bytes = fs::read(&archive).expect("read docker archive");
    let mut files = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(&bytes[..]);
    for e in ar.entries().expect("tar") {
        let mut e = e.expect("entry");
        let p = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).expect("read entry");
        files.insert(p, b);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(files.get("manifest.json").expect("manifest.json"))
            .expect("manifest.json is JSON");
    assert_eq!(manifest.as_array().map(Vec::len), Some(1), "{manifest:#}");
    let cfg_name = manifest[0]["Config"].as_str().expect("Config");
    let config: serde_json::Value =
        serde_json::from_slice(files.get(cfg_name).expect("config file")).expect("config JSON");
    assert_eq!(config["architecture"], "arm64", "{config:#}");

    // A platform not in the spec is refused by name.
    let r = run(ironhull_build(
        &s.spec,
        &s.cache(),
        &[
            "--platform",
            "linux/s390x",
            "-o",
            &format!("docker-archive:{}", out.path().join("other.tar").display()),
        ],
    ));
    r.assert_code(2);
    assert!(r.stderr.contains("linux/s390x"), "{}", r.describe());
    assert!(!out.path().join("other.tar").exists());
}
