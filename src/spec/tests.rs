use super::*;
use crate::reference::Transport;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FILE: &str = "/specs/builder.toml";

fn ok(text: &str) -> Spec {
    parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("expected Ok, got: {e}\n---\n{text}"))
}

fn err(text: &str) -> SpecError {
    match parse(text, Path::new(FILE)) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// A minimal valid spec with `extra` appended (and `user` replacing the
/// [user] table body).
fn doc(user: &str, extra: &str) -> String {
    format!("[image]\nname = \"hello\"\n[base]\nimage = \"static\"\n[user]\n{user}\n{extra}\n")
}

fn with(extra: &str) -> String {
    doc("uid = 10001", extra)
}

fn line_of(e: &SpecError) -> usize {
    e.location().map(|l| l.line).unwrap_or(0)
}

macro_rules! assert_err {
    ($text:expr, $pat:pat) => {{
        let text: String = $text.into();
        let e = err(&text);
        assert!(matches!(e, $pat), "wrong error class: {e:?}\n---\n{text}");
        e
    }};
}

#[test]
fn example_file_parses() {
    let text = include_str!("../../builder.toml.example");
    let s = ok(text);
    assert_eq!(s.image().name().as_str(), "hello");
    let tags: Vec<&str> = s.image().tags().iter().map(Tag::as_str).collect();
    assert_eq!(tags, ["1.0.0", "latest"]);
    assert_eq!(s.image().platforms().len(), 1);
    assert_eq!(s.base(), &Transport::Static);
    assert_eq!(s.user().uid().get(), 10001);
    assert_eq!(s.user().name().as_str(), "app");
    assert_eq!(s.artifacts().len(), 2);
    let a = &s.artifacts()[0];
    assert_eq!(
        a.src(),
        &ArtifactSrc::Path(PathBuf::from("/specs/build/hello"))
    );
    assert_eq!(a.dest().to_abs(), "/app/hello");
    assert_eq!(a.mode().map(FileMode::bits), Some(0o555));
    assert!(!a.writable());
    let w = &s.artifacts()[1];
    assert_eq!(w.strip_prefix().map(|p| p.as_str()), Some("dist"));
    assert!(w.selects("js/app.js"));
    assert!(!w.selects("js/app.js.map"));
    assert!(!w.selects("README.md"));
    let c = s.config();
    assert_eq!(c.process().entrypoint().map(<[String]>::len), Some(1));
    assert_eq!(c.process().cmd().map(<[String]>::len), Some(2));
    assert_eq!(c.env().get("LOG").map(String::as_str), Some("info"));
    assert_eq!(c.ports()[0].to_string(), "8080/tcp");
    assert_eq!(c.stop_signal().map(StopSignal::as_str), Some("SIGTERM"));
    let h = c.healthcheck().unwrap_or_else(|| panic!("healthcheck"));
    assert_eq!(h.interval(), Some(Duration::from_secs(30)));
    assert_eq!(h.retries(), Some(3));
    assert_eq!(s.layers().level(), 6);
    assert_eq!(s.waivers()[0].check().as_str(), "FS-001");
    assert_eq!(
        s.waivers()[0].path().map(|p| p.to_abs()).as_deref(),
        Some("/app/.git")
    );
}

#[test]
fn defaults() {
    let s = ok(&with(""));
    let tags: Vec<&str> = s.image().tags().iter().map(Tag::as_str).collect();
    assert_eq!(tags, ["latest"]);
    assert_eq!(s.image().platforms()[0].to_string(), "linux/amd64");
    assert_eq!(s.user().gid(), s.user().uid());
    assert_eq!(s.user().name().as_str(), "app");
    assert_eq!(s.user().home().to_abs(), "/home/app");
    assert_eq!(s.layers(), &Layers::default());
    assert_eq!(s.layers().compression(), Compression::Gzip);
    assert_eq!(s.config().process(), &Process::Unset);
    assert!(s.artifacts().is_empty() && s.waivers().is_empty());
    assert_eq!(s.dir(), Path::new("/specs"));
    // Home follows the name.
    let s = ok(&doc("uid = 5\nname = \"svc\"", ""));
    assert_eq!(s.user().home().to_abs(), "/home/svc");
    // A relative spec path resolves against ".".
    let s = parse(
        &with("[[artifacts]]\nsrc = \"x\"\ndest = \"/x\""),
        Path::new("b.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.artifacts()[0].src(),
        &ArtifactSrc::Path(PathBuf::from("./x"))
    );
}

#[test]
fn base_variants() {
    let t = "[image]\nname = \"a\"\n[base]\nimage = \"alpine:3.19\"\n[user]\nuid = 1\n";
    let s = ok(t);
    assert!(
        s.image().platforms().is_empty(),
        "registry base: platforms follow the base"
    );
    assert_eq!(
        s.base().to_string(),
        "docker://docker.io/library/alpine:3.19"
    );
    let s = ok(&t.replace("alpine:3.19", "oci:layout:v1"));
    assert_eq!(
        s.base(),
        &Transport::Oci {
            dir: PathBuf::from("/specs/layout"),
            tag: Some("v1".into())
        }
    );
    assert_err!(
        t.replace("alpine:3.19", "Not A Ref"),
        SpecError::BadBase { .. }
    );
    assert_err!(
        t.replace("alpine:3.19", "containers-storage:x"),
        SpecError::BadBase { .. }
    );
    assert_err!(
        "[image]\nname = \"a\"\n[base]\n[user]\nuid = 1\n",
        SpecError::MissingKey { .. }
    );
}

#[test]
fn unknown_keys_name_key_location_and_suggestion() {
    let e = assert_err!(with("[confg]\n"), SpecError::UnknownKey { .. });
    if let SpecError::UnknownKey { suggestion, .. } = &e {
        assert_eq!(*suggestion, Some("config"));
    }
    let e = assert_err!(
        with("[config]\nentrypont = [\"/app/x\"]\n"),
        SpecError::UnknownKey { .. }
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("/specs/builder.toml:8:1: unknown key `entrypont`"),
        "{msg}"
    );
    assert!(msg.contains("did you mean `entrypoint`?"), "{msg}");
    let e = assert_err!(
        with("[[artifacts]]\nsource = \"a\"\ndest = \"/a\"\n"),
        SpecError::UnknownKey { .. }
    );
    assert!(e.to_string().contains("did you mean `src`?"), "{e}");
    let e = assert_err!(
        doc("uid = 1\nshell = \"/bin/sh\"", ""),
        SpecError::UnknownKey { .. }
    );
    assert!(!e.to_string().contains("did you mean"), "{e}");
    assert_err!(
        with("[config.healthcheck]\ntest = [\"/x\"]\nintervall = \"1s\"\n"),
        SpecError::UnknownKey { .. }
    );
    assert_err!(
        with("[[policy.allow]]\ncheck = \"FS-001\"\nreason = \"r\"\nwhy = \"x\"\n"),
        SpecError::UnknownKey { .. }
    );
}

#[test]
fn type_mismatches() {
    let e = assert_err!(doc("uid = \"10001\"", ""), SpecError::TypeMismatch { .. });
    assert_eq!(line_of(&e), 6);
    assert!(
        e.to_string()
            .contains("`user.uid` must be an integer, found a string"),
        "{e}"
    );
    assert_err!(with("[image2]\n"), SpecError::UnknownKey { .. });
    assert_err!(
        with("[artifacts]\nsrc = \"a\"\ndest = \"/a\"\n"),
        SpecError::TypeMismatch { .. }
    );
    assert_err!(
        with("[config]\nenv = { PORT = 8080 }\n"),
        SpecError::TypeMismatch { .. }
    );
    assert_err!(
        with("[config]\ncmd = [\"/x\", 1]\n"),
        SpecError::TypeMismatch { .. }
    );
    assert_err!(
        with("[[artifacts]]\nsrc = \"a\"\ndest = \"/a\"\nwritable = \"yes\"\n"),
        SpecError::TypeMismatch { .. }
    );
    assert_err!(
        with("[config]\nports = \"80\"\n"),
        SpecError::TypeMismatch { .. }
    );
}

#[test]
fn missing_keys() {
    assert_err!(
        "[base]\nimage = \"static\"\n[user]\nuid = 1\n",
        SpecError::MissingKey { .. }
    );
    assert_err!(
        "[image]\nname = \"a\"\n[base]\nimage = \"static\"\n",
        SpecError::MissingKey { .. }
    );
    let e = assert_err!(doc("gid = 5", ""), SpecError::MissingKey { .. });
    assert!(
        e.to_string()
            .contains("missing required key `uid` in [user]"),
        "{e}"
    );
    assert_err!(
        with("[[artifacts]]\nsrc = \"a\"\n"),
        SpecError::MissingKey { .. }
    );
    assert_err!(
        with("[[policy.allow]]\ncheck = \"FS-001\"\n"),
        SpecError::MissingKey { .. }
    );
    assert_err!(
        with("[config.healthcheck]\ninterval = \"1s\"\n"),
        SpecError::MissingKey { .. }
    );
}

#[test]
fn root_is_refused() {
    let e = assert_err!(doc("uid = 0", ""), SpecError::RootUser { .. });
    assert!(e.to_string().contains("never run as root"), "{e}");
    assert_err!(doc("uid = 1\ngid = 0", ""), SpecError::RootUser { .. });
    assert_err!(
        doc("uid = 1\nname = \"root\"", ""),
        SpecError::RootUser { .. }
    );
    assert_err!(doc("uid = 1\nname = \"0\"", ""), SpecError::RootUser { .. });
    assert_err!(doc("uid = -1", ""), SpecError::OutOfRange { .. });
    assert_err!(doc("uid = 2147483648", ""), SpecError::OutOfRange { .. });
    assert!(
        ok(&doc("uid = 2147483647\ngid = 65534", ""))
            .user()
            .gid()
            .get()
            == 65534
    );
    assert_err!(
        doc("uid = 1\nname = \"App\"", ""),
        SpecError::BadName { .. }
    );
}

#[test]
fn homes_in_system_directories_are_refused() {
    for home in [
        "/",
        "/etc",
        "/etc/app",
        "/usr",
        "/usr/local/app",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64/x",
        "/libexec/app",
        "/boot",
        "/root",
        "/proc",
        "/sys",
        "/dev/x",
        "/var",
        "/run/app",
    ] {
        let e = assert_err!(
            doc(&format!("uid = 10001\nhome = \"{home}\""), ""),
            SpecError::BadPath { .. }
        );
        // [user] is line 5, home is line 7, its value starts at column 8.
        let at = e.location().map(|l| (l.line, l.col));
        assert_eq!(at, Some((7, 8)), "{home}: {e}");
        assert!(e.to_string().contains("user.home"), "{e}");
    }
    for home in [
        "/var/lib/app",
        "/home/app",
        "/srv/app",
        "/app/home",
        "/var/app",
    ] {
        ok(&doc(&format!("uid = 10001\nhome = \"{home}\""), ""));
    }
}

#[test]
fn shell_form_and_shell_programs() {
    let e = assert_err!(
        with("[config]\nentrypoint = \"/app/x --flag\"\n"),
        SpecError::ShellForm { .. }
    );
    assert!(e.to_string().contains("the image has none"), "{e}");
    assert_err!(
        with("[config]\ncmd = \"run\"\n"),
        SpecError::ShellForm { .. }
    );
    assert_err!(
        with("[config]\nhealthcheck = { test = \"curl x\" }\n"),
        SpecError::ShellForm { .. }
    );
    assert_err!(
        with("[config]\nhealthcheck = { test = [\"CMD-SHELL\", \"curl x\"] }\n"),
        SpecError::ShellForm { .. }
    );
    for argv in [
        "[\"sh\", \"-c\", \"x\"]",
        "[\"/bin/bash\"]",
        "[\"/bin/busybox\", \"httpd\"]",
        "[\"/usr/bin/env\", \"dash\"]",
    ] {
        assert_err!(
            with(&format!("[config]\nentrypoint = {argv}\n")),
            SpecError::ShellEntrypoint { .. }
        );
    }
    assert_err!(
        with("[config]\ncmd = [\"/bin/sh\"]\n"),
        SpecError::ShellEntrypoint { .. }
    );
    assert_err!(
        with("[config]\nentrypoint = [\"/usr/bin/env\"]\ncmd = [\"sh\", \"-c\", \"x\"]\n"),
        SpecError::ShellEntrypoint { .. }
    );
    // Arguments to a real program may be anything.
    let s = ok(&with(
        "[config]\nentrypoint = [\"/app/x\"]\ncmd = [\"sh\"]\n",
    ));
    assert_eq!(s.config().process().cmd(), Some(&["sh".to_string()][..]));
}

#[test]
fn programs_must_be_absolute() {
    let e = assert_err!(
        with("[config]\nentrypoint = [\"app\"]\n"),
        SpecError::RelativeProgram { .. }
    );
    assert!(e.to_string().contains("/app/app"), "{e}");
    assert_err!(
        with("[config]\ncmd = [\"app\"]\n"),
        SpecError::RelativeProgram { .. }
    );
    assert_err!(
        with("[config]\nentrypoint = [\"\"]\n"),
        SpecError::EmptyExec { .. }
    );
    let s = ok(&with(
        "[config]\nentrypoint = [\"/app/x\"]\ncmd = [\"--port\", \"1\"]\n",
    ));
    assert_eq!(
        s.config().process().entrypoint(),
        Some(&["/app/x".to_string()][..])
    );
    let s = ok(&with("[config]\nentrypoint = []\ncmd = [\"/app/x\"]\n"));
    assert!(matches!(s.config().process(), Process::Cmd(_)));
    let s = ok(&with(
        "[config]\nhealthcheck = { test = [\"CMD\", \"/app/x\", \"-h\"] }\n",
    ));
    let h = s.config().healthcheck().unwrap_or_else(|| panic!("hc"));
    assert_eq!(h.test().program(), "/app/x");
}

#[test]
fn secrets_in_env_and_metadata() {
    let e = assert_err!(
        with("[config]\nenv = { DB_PASSWORD = \"hunter2\" }\n"),
        SpecError::SecretInEnv { .. }
    );
    let msg = e.to_string();
    assert!(msg.contains("Inject secrets at runtime"), "{msg}");
    assert!(
        !msg.contains("hunter2"),
        "secret leaked into the message: {msg}"
    );
    assert_err!(
        with(&format!(
            "[config]\nenv = {{ GREETING = \"ghp_{}\" }}\n",
            "a".repeat(36)
        )),
        SpecError::SecretInEnv { .. }
    );
    ok(&with(
        "[config]\nenv = { DB_PASSWORD_FILE = \"/run/secrets/db\", DB_PASSWORD = \"\" }\n",
    ));
    assert_err!(
        with(&format!(
            "[config]\nlabels = {{ \"x.y\" = \"ghp_{}\" }}\n",
            "b".repeat(36)
        )),
        SpecError::SecretInMetadata { .. }
    );
    assert_err!(
        with("[config]\nannotations = { \"com.example.api-key\" = \"abc\" }\n"),
        SpecError::SecretInMetadata { .. }
    );
    assert_err!(
        with("[config]\nenv = { 1X = \"a\" }\n"),
        SpecError::BadEnvKey { .. }
    );
    assert_err!(
        with("[config]\nenv = { \"A-B\" = \"a\" }\n"),
        SpecError::BadEnvKey { .. }
    );
}

#[test]
fn bad_paths() {
    for dest in [
        "app/x",
        "/",
        "/proc/x",
        "/sys",
        "/dev/shm/x",
        "/a/../b",
        "/etc/passwd",
    ] {
        let e = assert_err!(
            with(&format!("[[artifacts]]\nsrc = \"a\"\ndest = \"{dest}\"\n")),
            SpecError::BadPath { .. }
        );
        assert_eq!(line_of(&e), 9, "{e}");
    }
    assert_err!(
        with("[config]\nworkdir = \"app\"\n"),
        SpecError::BadPath { .. }
    );
    assert_err!(doc("uid = 1\nhome = \"/\"", ""), SpecError::BadPath { .. });
    assert_err!(
        doc("uid = 1\nhome = \"/home/../etc\"", ""),
        SpecError::BadPath { .. }
    );
    assert_err!(
        with("[[artifacts]]\nsrc = \"a\"\ndest = \"/a\"\nstrip_prefix = \"/dist\"\n"),
        SpecError::BadPath { .. }
    );
    assert_err!(
        with("[[artifacts]]\nsrc = \"a\"\ndest = \"/a\"\nstrip_prefix = \"../x\"\n"),
        SpecError::BadPath { .. }
    );
    assert_err!(
        with("[[artifacts]]\nsrc = \"\"\ndest = \"/a\"\n"),
        SpecError::BadPath { .. }
    );
    assert_err!(
        with("[[policy.allow]]\ncheck = \"FS-001\"\npath = \"rel\"\nreason = \"r\"\n"),
        SpecError::BadPath { .. }
    );
    // Absolute sources are kept.
    let s = ok(&with("[[artifacts]]\nsrc = \"/opt/x\"\ndest = \"/a\"\n"));
    assert_eq!(
        s.artifacts()[0].src(),
        &ArtifactSrc::Path(PathBuf::from("/opt/x"))
    );
}

#[test]
fn modes_digests_globs() {
    let art = |extra: &str| {
        with(&format!(
            "[[artifacts]]\nsrc = \"a\"\ndest = \"/a\"\n{extra}\n"
        ))
    };
    for m in [
        "0o4755", "0o2755", "0o1755", "0o777", "0o646", "555", "0x1ed",
    ] {
        assert_err!(art(&format!("mode = {m}")), SpecError::BadMode { .. });
    }
    let e = err(&art("mode = 555"));
    assert!(e.to_string().contains("0o prefix"), "{e}");
    let hex = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
    let s = ok(&art(&format!("sha256 = \"{hex}\"\nwritable = true")));
    assert_eq!(
        s.artifacts()[0].sha256().map(|d| d.hex().to_string()),
        Some(hex.to_lowercase())
    );
    assert!(s.artifacts()[0].writable());
    ok(&art(&format!("sha256 = \"sha256:{}\"", hex.to_lowercase())));
    assert_err!(art("sha256 = \"abc\""), SpecError::BadDigest { .. });
    assert_err!(art("sha256 = \"md5:abc\""), SpecError::BadDigest { .. });
    assert_err!(art("include = [\"a[\"]"), SpecError::BadGlob { .. });
}

#[test]
fn ports_signals_durations_layers() {
    let s = ok(&with("[config]\nports = [\"9090/udp\", 8080, \"443\"]\n"));
    let p: Vec<String> = s.config().ports().iter().map(ToString::to_string).collect();
    assert_eq!(p, ["443/tcp", "8080/tcp", "9090/udp"]);
    for bad in ["\"0\"", "\"70000\"", "\"80/sctp\"", "\"http\"", "-1"] {
        assert_err!(
            with(&format!("[config]\nports = [{bad}]\n")),
            SpecError::BadPort { .. }
        );
    }
    assert_err!(
        with("[config]\nports = [\"80\", \"80/tcp\"]\n"),
        SpecError::Duplicate { .. }
    );
    assert_err!(
        with("[config]\nstop_signal = \"SIGFOO\"\n"),
        SpecError::BadSignal { .. }
    );
    assert_err!(
        with("[config]\nhealthcheck = { test = [\"/x\"], interval = \"30\" }\n"),
        SpecError::BadDuration { .. }
    );
    assert_err!(
        with("[config]\nhealthcheck = { test = [\"/x\"], retries = 1000 }\n"),
        SpecError::OutOfRange { .. }
    );
    assert_err!(
        with("[layers]\ncompression = \"lz4\"\n"),
        SpecError::BadCompression { .. }
    );
    assert_err!(with("[layers]\nlevel = 10\n"), SpecError::OutOfRange { .. });
    assert_err!(with("[layers]\nbudget = 0\n"), SpecError::OutOfRange { .. });
    let s = ok(&with(
        "[layers]\ncompression = \"none\"\nlevel = 1\nbudget = 2\n",
    ));
    assert_eq!(s.layers().compression(), Compression::None);
    assert_eq!((s.layers().level(), s.layers().budget()), (1, 2));
}

#[test]
fn zstd_levels_are_zstds_own() {
    let with = |layers: &str| with(&format!("[layers]\n{layers}"));
    let s = ok(&with("compression = \"zstd\"\n"));
    assert_eq!(s.layers().compression(), Compression::Zstd);
    assert_eq!(s.layers().level(), 3, "zstd's default, not gzip's 6");
    let s = ok(&with("compression = \"zstd\"\nlevel = 19\n"));
    assert_eq!(s.layers().level(), 19);
    let e = err(&with("compression = \"zstd\"\nlevel = 20\n"));
    assert!(matches!(e, SpecError::OutOfRange { max: 19, .. }), "{e}");
    assert!(e.to_string().contains("zstd"), "{e}");
    // gzip keeps 1..=9, and its message points at zstd's wider range.
    let e = err(&with("level = 19\n"));
    assert!(matches!(e, SpecError::OutOfRange { max: 9, .. }), "{e}");
}

#[test]
fn image_section_errors() {
    let t =
        |image: &str| format!("[image]\n{image}\n[base]\nimage = \"static\"\n[user]\nuid = 1\n");
    assert_err!(t("name = \"Hello\""), SpecError::BadName { .. });
    assert_err!(t("name = \"\""), SpecError::BadName { .. });
    assert_err!(
        t("name = \"a\"\ntags = [\"-x\"]"),
        SpecError::BadName { .. }
    );
    assert_err!(t("name = \"a\"\ntags = []"), SpecError::BadName { .. });
    let e = assert_err!(
        t("name = \"a\"\ntags = [\"v1\",\n \"v1\"]"),
        SpecError::Duplicate { .. }
    );
    assert!(e.to_string().contains("first given at line 3"), "{e}");
    assert_err!(
        t("name = \"a\"\nplatforms = [\"linux\"]"),
        SpecError::BadPlatform { .. }
    );
    let s = ok(&t(
        "name = \"org/app\"\nplatforms = [\"linux/arm64/v8\", \"linux/amd64\"]",
    ));
    assert_eq!(s.image().platforms().len(), 2);
}

#[test]
fn waivers() {
    let w = |check: &str, reason: &str| {
        with(&format!(
            "[[policy.allow]]\ncheck = \"{check}\"\nreason = \"{reason}\"\n"
        ))
    };
    for core in CORE_CHECKS {
        let e = assert_err!(w(core, "because"), SpecError::CoreCheckWaiver { .. });
        assert!(e.to_string().contains("can never be waived"), "{e}");
    }
    assert_err!(w("fs1", "x"), SpecError::BadCheckId { .. });
    assert_err!(w("FS-001", "   "), SpecError::EmptyReason { .. });
    let s = ok(&w("FS-001", "  ok  "));
    assert_eq!(s.waivers()[0].reason(), "ok");
    assert!(s.waivers()[0].path().is_none());
}

#[test]
fn duplicate_dests() {
    let e = assert_err!(
        with(
            "[[artifacts]]\nsrc = \"a\"\ndest = \"/a\"\n[[artifacts]]\nsrc = \"b\"\ndest = \"/a/\"\n"
        ),
        SpecError::Duplicate { .. }
    );
    assert_eq!(line_of(&e), 12);
}

#[test]
fn syntax_errors_have_locations() {
    let e = assert_err!(with("[config\n"), SpecError::Syntax { .. });
    assert_eq!(line_of(&e), 7);
    assert!(e.to_string().starts_with("/specs/builder.toml:7:"), "{e}");
    assert_err!(doc("uid = 1\nuid = 2", ""), SpecError::Syntax { .. });
}

#[test]
fn load_reads_files_but_not_artifacts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path().join("builder.toml");
    let missing = load(&p);
    assert!(matches!(missing, Err(SpecError::Io { .. })));
    std::fs::write(&p, include_str!("../../builder.toml.example"))
        .unwrap_or_else(|e| panic!("{e}"));
    let s = load(&p).unwrap_or_else(|e| panic!("{e}"));
    // The artifact does not exist, and that is fine at this stage.
    assert_eq!(
        s.artifacts()[0].src(),
        &ArtifactSrc::Path(dir.path().join("build/hello"))
    );
    assert!(!dir.path().join("build/hello").exists());
    std::fs::write(&p, vec![b'#'; (MAX_SPEC_BYTES + 10) as usize])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(load(&p), Err(SpecError::TooLarge { .. })));
    std::fs::write(&p, [0xff, 0xfe]).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(load(&p), Err(SpecError::Io { .. })));
}

#[test]
fn secrets_in_cmd_entrypoint_and_healthcheck() {
    let tok = format!("ghp_{}", "c".repeat(36));
    for toml in [
        format!("[config]\nentrypoint = [\"/app/x\", \"--token\", \"{tok}\"]\n"),
        "[config]\ncmd = [\"/app/x\", \"--password\", \"Zx81kq2mv\"]\n".to_string(),
        "[config]\nentrypoint = [\"/app/x\"]\ncmd = [\"--db-password=Zx81kq2mv\"]\n".to_string(),
        "[config]\nhealthcheck = { test = [\"CMD\", \"/app/x\", \"https://bob:Zx81kq2mv@db.corp.internal\"] }\n"
            .to_string(),
    ] {
        let e = assert_err!(with(&toml), SpecError::SecretInArgv { .. });
        let msg = e.to_string();
        assert!(!msg.contains("Zx81kq2mv") && !msg.contains(&tok), "{msg}");
        assert!(msg.contains("argument"), "{msg}");
    }
    ok(&with(
        "[config]\nentrypoint = [\"/app/x\", \"--password-file\", \"/run/secrets/db\"]\n",
    ));
}

const DEB_REPO: &str = "[[repositories]]\nkind = \"deb\"\nurl = \"http://127.0.0.1:8080/debian/\"\nsuite = \"bookworm\"\ncomponents = [\"main\"]\nkeyring = \"keys/archive.gpg\"\n";

#[test]
fn packages_and_repositories_parse() {
    let s = ok(&with(&format!(
        "{DEB_REPO}[packages]\ninstall = [\"libc6\", \"python3 (>= 3.11)\"]\nexclude = [\"debconf\"]\n"
    )));
    let r = &s.repositories()[0];
    assert_eq!(r.kind(), packages::RepoKind::Deb);
    assert_eq!(r.url(), "http://127.0.0.1:8080/debian");
    assert_eq!(r.suite(), Some("bookworm"));
    assert_eq!(r.components(), ["main"]);
    assert_eq!(r.keyring(), Some(Path::new("/specs/keys/archive.gpg")));
    assert!(!r.is_flat());
    let p = s.packages();
    assert_eq!(p.install()[1].name, "python3");
    assert_eq!(
        p.install()[1].constraint,
        Some((">=".into(), "3.11".into()))
    );
    assert_eq!(p.exclude(), ["debconf"]);
    // A flat repository and an apk one with the base's keys.
    let flat = ok(&with(
        "[[repositories]]\nkind = \"deb\"\nurl = \"https://x.example/repo\"\nsuite = \"./\"\nkeyring = \"k.asc\"\n[packages]\ninstall = [\"a1\"]\n",
    ));
    assert!(flat.repositories()[0].is_flat());
    let apk = ok(&with(
        "[[repositories]]\nkind = \"apk\"\nurl = \"https://x.example/v3.20/main\"\n[packages]\ninstall = [\"libstdc++\"]\n",
    ));
    assert_eq!(apk.repositories()[0].keyring(), None);
}

#[test]
fn bad_packages_and_repositories_are_located() {
    let cases: Vec<(String, usize, &str)> = vec![
        (
            with(&DEB_REPO.replace("keyring = \"keys/archive.gpg\"\n", "")),
            7,
            "keyring",
        ),
        (
            with(&DEB_REPO.replace("http://127", "http://user:secret@127")),
            9,
            "credentials",
        ),
        (
            with(&DEB_REPO.replace("\"deb\"", "\"rpm\"")),
            8,
            "\"deb\" or \"apk\"",
        ),
        (with(&DEB_REPO.replace("http://", "ftp://")), 9, "http://"),
        (
            with(&DEB_REPO.replace("components = [\"main\"]\n", "")),
            7,
            "components",
        ),
        (
            with(&format!("{DEB_REPO}[packages]\ninstall = []\n")),
            14,
            "at least one",
        ),
        (
            with(&format!("{DEB_REPO}[packages]\ninstall = [\"a (1.0)\"]\n")),
            14,
            "relation",
        ),
        (
            with(&format!(
                "{DEB_REPO}[packages]\ninstall = [\"a1\"]\nexclude = [\"a1\"]\n"
            )),
            15,
            "also in install",
        ),
        (
            with("[packages]\ninstall = [\"a1\"]\n"),
            7,
            "no [[repositories]]",
        ),
        (with(DEB_REPO), 7, "nothing is installed"),
        (
            with(
                "[[repositories]]\nkind = \"apk\"\nurl = \"https://x/y\"\nsuite = \"v3\"\n[packages]\ninstall = [\"a1\"]\n",
            ),
            10,
            "no suite",
        ),
        (
            with(&format!(
                "{DEB_REPO}[[repositories]]\nkind = \"apk\"\nurl = \"https://x/y\"\n[packages]\ninstall = [\"a1\"]\n"
            )),
            13,
            "one kind",
        ),
    ];
    for (text, line, want) in cases {
        let e = err(&text);
        let msg = e.to_string();
        assert!(msg.contains(want), "{want}: {msg}\n---\n{text}");
        assert_eq!(line_of(&e), line, "{msg}\n---\n{text}");
        assert!(!msg.contains("secret"), "a credential was echoed: {msg}");
    }
}

/// The example's commented OS-package block is a valid spec once
/// uncommented, so its documentation cannot drift from the parser.
#[test]
fn example_package_block_parses_when_uncommented() {
    let text = include_str!("../../builder.toml.example");
    let start = text.find("# [[repositories]]").expect("the block");
    let mut out = text[..start].to_string();
    for line in text[start..].lines() {
        if let Some(l) = line.strip_prefix("# ")
            && !l.starts_with('#')
        {
            out.push_str(l);
        }
        out.push('\n');
    }
    let s = ok(&out);
    assert_eq!(s.repositories().len(), 1);
    assert_eq!(s.packages().install().len(), 3);
    assert_eq!(s.packages().exclude(), ["debconf"]);
}

#[test]
fn python_debian_example_parses() {
    let s = ok(include_str!("../../examples/python-debian/builder.toml"));
    assert_eq!(s.packages().install().len(), 2);
    assert!(
        s.repositories()[0]
            .url()
            .starts_with("https://snapshot.debian.org/")
    );
}

#[test]
fn cxx_alpine_example_parses_and_uses_the_bases_keys() {
    let s = ok(include_str!("../../examples/cxx-alpine/builder.toml"));
    assert_eq!(s.repositories()[0].kind(), packages::RepoKind::Apk);
    assert!(s.repositories()[0].keyring().is_none());
    assert_eq!(s.packages().install()[0].text, "libstdc++");
}
