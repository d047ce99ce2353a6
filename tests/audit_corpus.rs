//! Proves `ironhull audit` (issue 4) on a corpus of images written directly
//! by the tests (not by `ironhull build`): one or more planted violations per
//! check, plus clean images. For every image the test asserts the EXACT set
//! of check IDs reported: no misses and no extra findings.
//!
//! The images are built from one distroless-like base (dpkg status.d, a
//! non-root 65532 account with nologin, an exec-form entrypoint to an existing
//! executable, a health check) which itself must audit clean, so every extra
//! ID in a planted image is attributable to the plant.

mod common;
#[path = "common/images.rs"]
mod images;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use images::*;
use serde_json::{Value, json};

/// Runs `ironhull audit REF --format json` and returns (exit code, JSON).
/// `--fail-on critical` keeps the exit code meaningful for input errors only
/// (2/3) in most calls; tests that care about it check it explicitly.
fn audit_json(reference: &str, cache: &Path) -> (i32, Value) {
    let (code, v) = audit_report(reference, "critical", cache);
    assert!(
        code == 0 || code == 1,
        "audit of {reference} failed with {code}:\n{v:#}"
    );
    (code, v)
}

fn ids(report: &Value) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["id"].as_str().expect("id string").to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Asserts the exact set of IDs and prints the findings when it differs.
#[track_caller]
fn assert_ids(name: &str, report: &Value, want: &[&str]) {
    let got = ids(report);
    let want = set(want);
    assert_eq!(
        got,
        want,
        "{name}: wrong check IDs.\n missing: {:?}\n extra: {:?}\nfull report:\n{}",
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(&want).collect::<Vec<_>>(),
        serde_json::to_string_pretty(report).unwrap_or_default()
    );
}

/// Findings of check `id`.
fn findings<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// A fake static executable: an ELF header followed by filler. Audit never
/// runs anything, it only needs a regular file with an exec bit.
const FAKE_ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0fake-static-binary";

const DPKG_BASE_FILES: &str = "Package: base-files\nStatus: install ok installed\nPriority: required\nSection: admin\nMaintainer: Santiago Vila <sanvila@debian.org>\nArchitecture: amd64\nVersion: 12.4+deb12u5\nDescription: Debian base system miscellaneous files\n";
const DPKG_LIBC6: &str = "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u7\nDescription: GNU C Library: Shared libraries\n";

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n";

/// The distroless-like base layer (the shape of gcr.io/distroless/base-debian12).
fn distroless_layer() -> Vec<TarEntry> {
    let mut l = skeleton();
    l.extend([
        dir("var/lib", 0o755),
        dir("var/lib/dpkg", 0o755),
        dir("var/lib/dpkg/status.d", 0o755),
        file("var/lib/dpkg/status.d/base-files", 0o644, DPKG_BASE_FILES),
        file("var/lib/dpkg/status.d/libc6", 0o644, DPKG_LIBC6),
        file("etc/passwd", 0o644, PASSWD),
        file("etc/group", 0o644, GROUP),
        file(
            "etc/os-release",
            0o644,
            "PRETTY_NAME=\"Distroless\"\nID=debian\n",
        ),
        dir("home", 0o755),
        dir("home/nonroot", 0o700).owned(65532, 65532),
        dir("root", 0o700),
        file("app/x", 0o755, FAKE_ELF),
    ]);
    l
}

/// The distroless-like image config: non-root, exec-form entrypoint to an
/// existing executable, a health check.
fn distroless_config() -> Value {
    json!({
        "User": "65532",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Entrypoint": ["/app/x"],
        "WorkingDir": "/app",
        "Healthcheck": {"Test": ["CMD", "/app/x", "--health"], "Interval": 30_000_000_000u64},
    })
}

fn distroless() -> ImageDef {
    ImageDef::new(distroless_config()).layer(distroless_layer())
}

/// Writes `def` into a fresh layout under `dir/name` and audits it.
fn audit_def(dir: &Path, name: &str, def: &ImageDef) -> (Written, Value) {
    let w = def.write_layout(&dir.join(name), "t");
    let (_, report) = audit_json(&w.reference(), &dir.join("cache"));
    eprintln!("{name}: {:?}", ids(&report));
    (w, report)
}

/// The distroless base with `entries` added as a second layer.
fn with_layer(entries: Vec<TarEntry>) -> ImageDef {
    distroless().layer(entries)
}

/// The distroless base with the config edited by `f`.
fn with_config(f: impl FnOnce(&mut Value)) -> ImageDef {
    let mut def = distroless();
    f(&mut def.config);
    def
}

#[test]
fn alpine_minirootfs_as_is() {
    let Some(rootfs) = alpine_rootfs("x86_64") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, report) = audit_json(&format!("rootfs:{}", rootfs.display()), tmp.path());
    // SH-001: /bin/sh -> busybox and friends. PKG-001: /sbin/apk.
    // USR-001: a rootfs has no config, so it runs as root. USR-005: root's
    // login shell in /etc/passwd is /bin/sh (a genuine finding; the other
    // system accounts use /sbin/nologin). CFG-001 (info): no HEALTHCHECK.
    assert_ids(
        "alpine",
        &report,
        &["SH-001", "PKG-001", "USR-001", "USR-005", "CFG-001"],
    );
    assert_eq!(code, 1, "USR-001 is critical, so --fail-on critical fails");
    let usr5 = findings(&report, "USR-005");
    assert!(
        usr5.iter()
            .any(|f| f["message"].as_str().unwrap_or("").contains("root")),
        "USR-005 must name root: {usr5:?}"
    );
    assert!(
        findings(&report, "SH-001")
            .iter()
            .any(|f| f["path"] == "/bin/sh"),
        "SH-001 must report /bin/sh"
    );
    assert!(
        findings(&report, "PKG-001")
            .iter()
            .any(|f| f["path"] == "/sbin/apk"),
        "PKG-001 must report /sbin/apk"
    );
}

#[test]
fn distroless_like_image_is_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Nothing is genuinely wrong: non-root numeric user that exists in
    // passwd, every account has nologin, no shell or package manager (the
    // dpkg status.d files are metadata, not a package manager), an exec-form
    // entrypoint to an existing executable, a health check, and /tmp is
    // world-writable but sticky.
    let (_, report) = audit_def(tmp.path(), "distroless", &distroless());
    assert_ids("distroless", &report, &[]);
    assert_eq!(report["summary"]["total"], 0);
}

#[test]
fn scratch_like_image_with_numeric_user_is_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // No /etc/passwd at all: a numeric User needs none, so no USR-002.
    let def = ImageDef::new(json!({
        "User": "10001:10001",
        "Entrypoint": ["/app/x"],
        "Cmd": ["serve"],
        "Healthcheck": {"Test": ["CMD", "/app/x", "--health"]},
    }))
    .layer(vec![dir("app", 0o755), file("app/x", 0o555, FAKE_ELF)]);
    let (_, report) = audit_def(tmp.path(), "scratch", &def);
    assert_ids("scratch", &report, &[]);
}

#[test]
fn debug_image_with_busybox_shell() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The shape of distroless :debug: busybox under /busybox with sh as a
    // symlink to it, and /busybox appended to PATH.
    let mut def = with_layer(vec![
        dir("busybox", 0o755),
        file("busybox/busybox", 0o755, FAKE_ELF),
        symlink("busybox/sh", "/busybox/busybox"),
    ]);
    def.config["Env"] =
        json!(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/busybox"]);
    let (_, report) = audit_def(tmp.path(), "debug", &def);
    assert_ids("debug", &report, &["SH-001"]);
    let paths: BTreeSet<_> = findings(&report, "SH-001")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(paths.contains("/busybox/sh"), "{paths:?}");
}

#[test]
fn secret_added_then_deleted_is_found_in_its_layer() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (aws_id, aws_secret) = fake_aws_pair();
    let def = distroless()
        .layer(vec![
            dir("app/conf", 0o755),
            file("app/conf/deploy.txt", 0o644, fake_rsa_pem()),
            file(
                "app/conf/settings.ini",
                0o644,
                format!(
                    "[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n"
                ),
            ),
        ])
        .layer(vec![
            whiteout("app/conf/deploy.txt"),
            whiteout("app/conf/settings.ini"),
        ]);
    let (w, report) = audit_def(tmp.path(), "deleted-secret", &def);
    assert_ids("deleted-secret", &report, &["SEC-002"]);
    let sec = findings(&report, "SEC-002");
    let paths: BTreeSet<_> = sec.iter().filter_map(|f| f["path"].as_str()).collect();
    assert!(
        paths.contains("/app/conf/deploy.txt") && paths.contains("/app/conf/settings.ini"),
        "both planted secrets must be found: {paths:?}"
    );
    for f in &sec {
        assert_eq!(
            f["layer"].as_str(),
            Some(w.layers[1].as_str()),
            "SEC-002 must name the layer that holds the secret (layer 1): {f}"
        );
        let text = f.to_string();
        assert!(
            !text.contains(&aws_secret) && !text.contains("MIIEowIBAAKCAQEA"),
            "a finding must never print the secret itself: {text}"
        );
    }
}

/// One planted violation per check: (name, image, expected IDs).
fn planted() -> Vec<(&'static str, ImageDef, Vec<&'static str>)> {
    let (aws_id, aws_secret) = fake_aws_pair();
    vec![
        (
            "setuid",
            with_layer(vec![file("usr/bin/su-exec", 0o4755, FAKE_ELF)]),
            vec!["FS-002"],
        ),
        (
            "setgid",
            with_layer(vec![file("usr/bin/wall", 0o2755, FAKE_ELF)]),
            vec!["FS-002"],
        ),
        (
            "file-capability",
            with_layer(vec![
                file("usr/bin/ping", 0o755, FAKE_ELF).xattr(
                    "security.capability",
                    &[1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                ),
            ]),
            vec!["FS-004"],
        ),
        (
            "posix-acl",
            with_layer(vec![dir("app/shared", 0o755).xattr(
                "system.posix_acl_default",
                &[2, 0, 0, 0, 0x20, 0, 7, 0, 255, 255, 255, 255],
            )]),
            vec!["FS-005"],
        ),
        (
            "user-in-privileged-group",
            with_layer(vec![file(
                "etc/group",
                0o644,
                format!("{GROUP}docker:x:999:nonroot\n"),
            )]),
            vec!["USR-006"],
        ),
        (
            "world-writable-dir",
            with_layer(vec![dir("app/uploads", 0o777)]),
            vec!["FS-003"],
        ),
        (
            "world-writable-file",
            with_layer(vec![file("app/settings.json", 0o666, "{}")]),
            vec!["FS-003"],
        ),
        (
            "shadow-empty-password",
            with_layer(vec![file(
                "etc/shadow",
                0o640,
                "root::19000:0:99999:7:::\nnonroot:!:19000::::::\n",
            )]),
            vec!["USR-003"],
        ),
        (
            "duplicate-uid",
            with_layer(vec![file(
                "etc/passwd",
                0o644,
                format!("{PASSWD}toor:x:0:0:alias:/root:/sbin/nologin\n"),
            )]),
            vec!["USR-004"],
        ),
        (
            "duplicate-gid",
            with_layer(vec![file(
                "etc/group",
                0o644,
                format!("{GROUP}wheel:x:0:\n"),
            )]),
            vec!["USR-004"],
        ),
        (
            "login-shell",
            with_layer(vec![file(
                "etc/passwd",
                0o644,
                format!("{PASSWD}dev:x:1000:1000::/home/dev:/bin/bash\n"),
            )]),
            vec!["USR-005"],
        ),
        (
            "user-not-in-passwd",
            with_config(|c| c["User"] = json!("appuser")),
            vec!["USR-002"],
        ),
        (
            "user-named-root",
            with_config(|c| c["User"] = json!("root")),
            vec!["USR-001"],
        ),
        (
            "user-unset",
            with_config(|c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("User");
                }
            }),
            vec!["USR-001"],
        ),
        (
            "user-uid0-with-group",
            with_config(|c| c["User"] = json!("0:65532")),
            vec!["USR-001"],
        ),
        (
            "env-aws-secret",
            with_config(|c| {
                c["Env"] = json!([
                    "PATH=/usr/bin:/bin",
                    format!("AWS_ACCESS_KEY_ID={aws_id}"),
                    format!("AWS_SECRET_ACCESS_KEY={aws_secret}"),
                ])
            }),
            vec!["SEC-003"],
        ),
        (
            "volume-proc",
            with_config(|c| c["Volumes"] = json!({"/proc": {}, "/data": {}})),
            vec!["CFG-002"],
        ),
        (
            "exposed-ssh",
            with_config(|c| c["ExposedPorts"] = json!({"22/tcp": {}, "8080/tcp": {}})),
            vec!["CFG-003"],
        ),
        (
            "no-healthcheck",
            with_config(|c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("Healthcheck");
                }
            }),
            vec!["CFG-001"],
        ),
        (
            "git-dir",
            with_layer(vec![
                dir("app/.git", 0o755),
                file(
                    "app/.git/config",
                    0o644,
                    "[core]\n\trepositoryformatversion = 0\n",
                ),
            ]),
            vec!["FS-001"],
        ),
        (
            "dockerfile",
            with_layer(vec![file(
                "app/Dockerfile",
                0o644,
                "FROM scratch\nCOPY x /app/x\n",
            )]),
            vec!["FS-001"],
        ),
        (
            "git-credentials",
            with_layer(vec![file(
                "root/.git-credentials",
                0o600,
                "https://deploy:not-a-real-token@git.corp.internal\n",
            )]),
            // The name (SEC-001) and the password in the URL (SEC-002).
            vec!["SEC-001", "SEC-002"],
        ),
        (
            "netrc",
            with_layer(vec![
                dir("home/nonroot", 0o700).owned(65532, 65532),
                file(
                    "home/nonroot/.netrc",
                    0o600,
                    "machine example.com login me password not-a-secret\n",
                )
                .owned(65532, 65532),
            ]),
            vec!["SEC-001"],
        ),
        (
            "apk-cache",
            with_layer(vec![
                dir("var/cache", 0o755),
                dir("var/cache/apk", 0o755),
                file(
                    "var/cache/apk/APKINDEX.tar.gz",
                    0o644,
                    b"\x1f\x8b\x08\0\0\0\0\0\0\x03",
                ),
            ]),
            vec!["PKG-002"],
        ),
        (
            "apt-lists",
            with_layer(vec![
                dir("var/lib/apt", 0o755),
                dir("var/lib/apt/lists", 0o755),
                file(
                    "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease",
                    0o644,
                    "Origin: Debian\n",
                ),
            ]),
            vec!["PKG-002"],
        ),
        (
            "apt-get",
            with_layer(vec![file("usr/bin/apt-get", 0o755, FAKE_ELF)]),
            vec!["PKG-001"],
        ),
        (
            "shell-form-cmd",
            with_config(|c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("Entrypoint");
                }
                c["Cmd"] = json!(["/bin/sh", "-c", "/app/x --serve"]);
            }),
            vec!["SH-002"],
        ),
        (
            "missing-argv0",
            with_config(|c| c["Entrypoint"] = json!(["/app/missing"])),
            vec!["SH-002"],
        ),
        (
            "argv0-not-executable",
            with_layer(vec![file("app/data.bin", 0o644, FAKE_ELF)]).clone_with(|d| {
                d.config["Entrypoint"] = json!(["/app/data.bin"]);
            }),
            vec!["SH-002"],
        ),
        (
            "base-by-tag",
            distroless().annotation(
                "org.opencontainers.image.base.name",
                "docker.io/library/alpine:3.20",
            ),
            vec!["SRC-001"],
        ),
        (
            // Recording the resolved digest does not pin the reference: a
            // rebuild still follows the tag.
            "base-by-tag-with-recorded-digest",
            distroless()
                .annotation(
                    "org.opencontainers.image.base.name",
                    "docker.io/library/alpine:3.20",
                )
                .annotation(
                    "org.opencontainers.image.base.digest",
                    "sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a",
                ),
            vec!["SRC-001"],
        ),
        (
            "base-by-digest",
            distroless().annotation(
                "org.opencontainers.image.base.name",
                "docker.io/library/alpine@sha256:1e42bbe2508154c9126d48c2b8a75420c3544343bf86fd041fb7527e017a4b4a",
            ),
            vec![],
        ),
    ]
}

/// Small extension so a table row can edit a built definition inline.
trait CloneWith {
    fn clone_with(self, f: impl FnOnce(&mut Self)) -> Self;
}
impl CloneWith for ImageDef {
    fn clone_with(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}

#[test]
fn planted_violations_report_exactly_their_check() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for (name, def, want) in planted() {
        let (_, report) = audit_def(tmp.path(), name, &def);
        let got = ids(&report);
        let want = set(&want);
        if got != want {
            failures.push(format!(
                "{name}: missing {:?}, extra {:?}\n{}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>(),
                serde_json::to_string_pretty(&report["findings"]).unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus image(s) reported the wrong checks:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_check_in_the_catalog_is_planted_somewhere() {
    // The corpus covers the whole catalog: a new check without a planted
    // image fails here, so it cannot ship unproven.
    let r = run({
        let mut c = ironhull();
        c.args(["checks", "--json"]);
        c
    });
    r.assert_success();
    let catalog: Value = serde_json::from_str(&r.stdout).expect("checks --json is JSON");
    let mut covered: BTreeSet<String> = planted()
        .into_iter()
        .flat_map(|(_, _, ids)| ids.into_iter().map(String::from))
        .collect();
    // Covered by the dedicated tests above; SEC-004 (verified distro key
    // material) by tests/real_bases.rs and policy::distro_content.
    covered.extend(set(&["SH-001", "SEC-002", "SEC-004"]));
    let all: BTreeSet<String> = catalog
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "checks with no planted image: {missing:?}"
    );
}

/// `ironhull build` of examples/hello-static on `base` (the `[base] image`
/// value), written to an OCI layout, an oci-archive and a docker-archive;
/// returns the three references to audit.
fn build_hello(dir: &Path, base: &str) -> Option<Vec<String>> {
    let project = dir.join("project");
    build_hello_static(&project.join("build"))?;
    let shipped = std::fs::read_to_string(repo_root().join("examples/hello-static/builder.toml"))
        .expect("read the example builder.toml");
    assert!(
        shipped.contains("image = \"static\""),
        "the example no longer uses the static base; update this test"
    );
    let spec = project.join("builder.toml");
    std::fs::write(
        &spec,
        shipped.replace("image = \"static\"", &format!("image = {base:?}")),
    )
    .expect("write builder.toml");
    let refs = vec![
        format!("oci:{}:1.0.0", dir.join("layout").display()),
        format!("oci-archive:{}:1.0.0", dir.join("image.oci.tar").display()),
        format!(
            "docker-archive:{}:hello-static:1.0.0",
            dir.join("image.docker.tar").display()
        ),
    ];
    let mut cmd = ironhull();
    cmd.arg("build").arg("-f").arg(&spec);
    for r in &refs {
        cmd.arg("-o").arg(r);
    }
    run(cmd).assert_success();
    // The docker-archive is audited by file (its first image).
    let mut audit_refs = refs;
    audit_refs[2] = format!("docker-archive:{}", dir.join("image.docker.tar").display());
    Some(audit_refs)
}

/// Audits `reference` with `--fail-on info` and asserts that only info
/// findings appear, in which case the exit code must be 0 or 1 accordingly.
fn assert_only_info(reference: &str, cache: &Path) {
    let mut cmd = ironhull();
    cmd.arg("audit")
        .arg(reference)
        .args(["--format", "json", "--fail-on", "info", "--cache-dir"])
        .arg(cache);
    let r = run(cmd);
    let report: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("audit output is not JSON ({e}):\n{}", r.describe()));
    let bad: Vec<_> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(
        bad.is_empty(),
        "an image built by ironhull has non-info findings in {reference}:\n{}",
        serde_json::to_string_pretty(&bad).unwrap_or_default()
    );
    let any = report["summary"]["total"].as_u64().unwrap_or(0) > 0;
    assert_eq!(
        r.code(),
        Some(i32::from(any)),
        "--fail-on info must exit 1 exactly when there are (info) findings:\n{}",
        r.describe()
    );
}

#[test]
fn images_built_by_ironhull_on_the_static_base_audit_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(refs) = build_hello(tmp.path(), "static") else {
        return;
    };
    for r in refs {
        assert_only_info(&r, &tmp.path().join("cache"));
    }
}

#[test]
fn images_built_by_ironhull_on_alpine_audit_clean() {
    let Some(rootfs) = alpine_rootfs("x86_64") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = format!("rootfs:{}", rootfs.display());
    let Some(refs) = build_hello(tmp.path(), &base) else {
        return;
    };
    for r in refs {
        assert_only_info(&r, &tmp.path().join("cache"));
    }
}

// ---------------------------------------------------------------------------
// Trivy witness
// ---------------------------------------------------------------------------

/// Secrets Trivy reports (by image path) that ironhull deliberately does not
/// report, each with the reason. Empty: every secret path Trivy finds in the
/// corpus, ironhull finds too (as SEC-001 or SEC-002).
const TRIVY_SECRET_ALLOW: &[(&str, &str)] = &[];

/// Trivy misconfiguration IDs and the ironhull check each corresponds to.
const TRIVY_MISCONFIG_MAP: &[(&str, &str)] = &[
    ("DS002", "USR-001"),
    ("DS004", "CFG-003"),
    ("DS026", "CFG-001"),
    ("DS016", "SEC-003"),
];

/// `DS-0026` and `DS026` are the same Trivy check (new and old ID styles).
fn avd_number(id: &str) -> Option<(String, u32)> {
    let prefix: String = id.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let digits: String = id.chars().filter(|c| c.is_ascii_digit()).collect();
    Some((prefix, digits.parse().ok()?))
}

/// Runs Trivy offline on an OCI layout directory (Trivy's `--input` reads an
/// OCI layout as a directory, not as an oci-archive tar). Misconfiguration
/// checks come from the checks embedded in the binary (`--skip-check-update`
/// makes Trivy fall back to them, no network needed); the image config is
/// scanned too (`--image-config-scanners`), so USER/HEALTHCHECK/EXPOSE
/// rules apply to the config of an image that has no Dockerfile.
fn trivy_scan(layout: &Path, cache: &Path) -> Value {
    let mut cmd = std::process::Command::new("trivy");
    cmd.arg("image")
        .arg("--input")
        .arg(layout)
        .args([
            "--scanners",
            "secret,misconfig",
            "--image-config-scanners",
            "misconfig,secret",
            "--skip-db-update",
            "--skip-java-db-update",
            "--skip-check-update",
            "--offline-scan",
            "--format",
            "json",
            "--quiet",
            "--cache-dir",
        ])
        .arg(cache);
    let r = run(cmd);
    r.assert_success();
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("trivy output is not JSON ({e}):\n{}", r.describe()))
}

/// (rule ID, image path, layer digest) of every secret Trivy found.
fn trivy_secrets(report: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for res in report["Results"].as_array().into_iter().flatten() {
        for s in res["Secrets"].as_array().into_iter().flatten() {
            let target = res["Target"].as_str().unwrap_or("");
            out.push((
                s["RuleID"].as_str().unwrap_or("?").to_string(),
                format!("/{}", target.trim_start_matches('/')),
                s["Layer"]["Digest"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

/// (ID, target) of every misconfiguration Trivy reported as failing.
fn trivy_misconfigs(report: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for res in report["Results"].as_array().into_iter().flatten() {
        for m in res["Misconfigurations"].as_array().into_iter().flatten() {
            if m["Status"].as_str().unwrap_or("FAIL") == "FAIL" {
                out.push((
                    m["ID"].as_str().unwrap_or("?").to_string(),
                    res["Target"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn trivy_witness_finds_no_secret_that_ironhull_misses() {
    let Some(_) = require_tool("trivy") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (aws_id, aws_secret) = fake_aws_pair();
    let mut corpus: Vec<(&str, ImageDef)> = vec![
        ("distroless", distroless()),
        (
            "deleted-secret",
            distroless()
                .layer(vec![
                    dir("app/conf", 0o755),
                    file("app/conf/deploy.txt", 0o644, fake_rsa_pem()),
                    file(
                        "app/conf/settings.ini",
                        0o644,
                        format!(
                            "[default]\naws_access_key_id = {aws_id}\naws_secret_access_key = {aws_secret}\n"
                        ),
                    ),
                ])
                .layer(vec![
                    whiteout("app/conf/deploy.txt"),
                    whiteout("app/conf/settings.ini"),
                ]),
        ),
    ];
    let wanted = [
        "env-aws-secret",
        "git-credentials",
        "netrc",
        "user-unset",
        "exposed-ssh",
        "no-healthcheck",
        "setuid",
    ];
    corpus.extend(
        planted()
            .into_iter()
            .filter(|(n, _, _)| wanted.contains(n))
            .map(|(n, d, _)| (n, d)),
    );
    let mut misses = Vec::new();
    let mut notes = Vec::new();
    for (name, def) in &corpus {
        let w = def.write_layout(&tmp.path().join(name), "t");
        let (_, ours) = audit_json(&w.reference(), &tmp.path().join("cache"));
        let theirs = trivy_scan(&w.layout, &tmp.path().join("trivy-cache"));
        let our_ids = ids(&ours);
        let our_secret_paths: BTreeSet<String> = ["SEC-001", "SEC-002"]
            .iter()
            .flat_map(|id| findings(&ours, id))
            .filter_map(|f| f["path"].as_str().map(String::from))
            .collect();
        for (rule, path, layer) in trivy_secrets(&theirs) {
            // Trivy's image-config secret scan reports the image itself as the
            // target, with no layer: that is ironhull's SEC-003.
            let in_config = layer.is_empty();
            let line = format!("{name}: trivy secret {rule} at {path} (layer {layer})");
            if in_config && our_ids.contains("SEC-003") {
                notes.push(format!("{line}: image config; ironhull agrees (SEC-003)"));
            } else if our_secret_paths.contains(&path) {
                notes.push(format!("{line}: ironhull agrees (SEC-001/SEC-002)"));
            } else if let Some((_, why)) = TRIVY_SECRET_ALLOW.iter().find(|(p, _)| *p == path) {
                notes.push(format!("{line}: ironhull does not report it: {why}"));
            } else {
                misses.push(line);
            }
        }
        for (id, target) in trivy_misconfigs(&theirs) {
            let mapped = TRIVY_MISCONFIG_MAP
                .iter()
                .find(|(t, _)| avd_number(t) == avd_number(&id));
            let verdict = match mapped {
                Some((_, ours_id)) if our_ids.contains(*ours_id) => {
                    format!("ironhull agrees ({ours_id})")
                }
                Some((_, ours_id)) => format!("IRONHULL DOES NOT REPORT {ours_id}"),
                None => "no ironhull counterpart".to_string(),
            };
            notes.push(format!(
                "{name}: trivy misconfig {id} ({target}): {verdict}"
            ));
        }
        notes.push(format!("{name}: ironhull reports {our_ids:?}"));
    }
    eprintln!("Trivy witness:\n  {}", notes.join("\n  "));
    assert!(
        misses.is_empty(),
        "Trivy found secrets that ironhull misses (fix the scanner or explain in \
         TRIVY_SECRET_ALLOW):\n  {}",
        misses.join("\n  ")
    );
}
