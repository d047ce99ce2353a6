//! `examples/embed.rs` is documentation that must keep working: run it on a
//! real spec and check what it built against the CLI's own view.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

/// The example binary `cargo test --all-targets` builds beside the tests;
/// built here when a narrower `cargo test` did not.
fn embed_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = debug.join("examples").join("embed");
    if !bin.exists() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--example", "embed"])
            .current_dir(repo_root());
        run(cmd).assert_success();
    }
    bin
}

#[test]
fn the_embed_example_builds_audits_and_writes_an_image() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("motd"), "hello from the library\n").unwrap();
    let spec = work.path().join("builder.toml");
    std::fs::write(
        &spec,
        "[image]\nname = \"embedded\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"motd\"\ndest = \"/app/motd\"\n",
    )
    .unwrap();
    let out = work.path().join("out");
    let mut cmd = Command::new(embed_binary());
    cmd.arg(&spec)
        .arg(&out)
        .arg(work.path().join("cache"))
        .env("XDG_STATE_HOME", test_state_home());
    let r = run(cmd);
    r.assert_success();
    // The digest it printed is the one the layout holds under the spec's tag.
    let printed = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("digest "))
        .unwrap_or_else(|| panic!("no digest line:\n{}", r.describe()))
        .to_string();
    assert_eq!(printed, layout_tag_digest(&out, "1"));
    assert!(
        r.stdout.contains("worst info") || r.stdout.contains("worst none"),
        "the audit of a gated image finds nothing above info:\n{}",
        r.describe()
    );
    // Every stage was reported, in order, through the example's reporter.
    let stages: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("embed: stage "))
        .collect();
    assert_eq!(
        stages,
        [
            "Inputs", "Resolve", "Harden", "Layers", "Image", "Gate", "Attach", "Outputs"
        ],
        "{}",
        r.describe()
    );
    // And the CLI reads the same image.
    let mut cmd = ironhull();
    cmd.args([
        "audit",
        &format!("oci:{}:1", out.display()),
        "--format",
        "json",
    ]);
    let a = run(cmd);
    assert_eq!(a.code(), Some(0), "{}", a.describe());
}
