//! Smoke run of the benchmark harness (`bench/run.sh --smoke`): tiny sizes,
//! one run, no ratio checks. The real benchmark is too slow and noisy for CI;
//! this test only proves the harness still works end to end (data generation,
//! builds, cache scenarios, push to a throwaway local registry, the
//! Markdown table).

mod common;

use std::process::Command;
use std::time::Duration;

#[test]
fn bench_harness_smoke_run() {
    for tool in ["bash", "python3", "tar", "sha256sum"] {
        if common::require_tool(tool).is_none() {
            return;
        }
    }
    let work = tempfile::tempdir().expect("temp dir for the bench smoke run");
    let mut cmd = Command::new("bash");
    cmd.arg(common::repo_root().join("bench/run.sh"))
        .arg("--smoke")
        .arg("--work")
        .arg(work.path())
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_ironhull"))
        .env_remove("SOURCE_DATE_EPOCH");
    let run = common::run_timeout(cmd, Duration::from_secs(120));
    run.assert_success();
    let report = std::fs::read_to_string(work.path().join("RESULTS.md"))
        .expect("the smoke run writes RESULTS.md into its work dir");
    for needle in [
        "| scenario | ironhull |",
        "cold build",
        "no-op rebuild",
        "one of 8 artifacts changed",
        "Machine:",
    ] {
        assert!(
            report.contains(needle),
            "{needle:?} missing from:\n{report}"
        );
    }
    // Push rows need a local registry and skopeo; without them the report
    // must say why they were skipped.
    // (In CI a missing tool fails the test instead.)
    let push_ok = ["docker-registry", "skopeo"]
        .iter()
        .all(|t| common::require_tool(t).is_some());
    let push_needles: &[&str] = if push_ok {
        &[
            "push image of the",
            "push again (all blobs present)",
            "push again: requests other than HEAD | 0 requests",
        ]
    } else {
        &["push rows skipped"]
    };
    for needle in push_needles {
        assert!(
            report.contains(needle),
            "{needle:?} missing from:\n{report}"
        );
    }
    assert!(
        !report.contains("MISSED"),
        "smoke runs check no ratios:\n{report}"
    );
    // The smoke run must not overwrite the committed full results.
    let committed = common::repo_root().join("bench/RESULTS.md");
    if let Ok(text) = std::fs::read_to_string(&committed) {
        assert!(
            !text.contains("(not checked)"),
            "smoke results leaked into {}",
            committed.display()
        );
    }
}
