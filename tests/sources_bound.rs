//! What a lock check or a provenance statement says about an artifact must
//! be what the image holds. An attacker who can write the artifact tree
//! while the build runs (a shared CI workspace, a watcher, a second job)
//! edits a file after its layer was written and before the sources are
//! hashed: before this was fixed, `--locked` passed on the old bytes and
//! the provenance described the new ones, bytes the image does not hold.
//!
//! The edit is made deterministically from the build's own event stream:
//! the reporter rewrites the file when the build announces `Built` (every
//! layer written), which is exactly that window.

mod common;

use common::*;
use ironhull::events::{Event, Reporter, SharedReporter};
use ironhull::pipeline::{self, BuildJob, attach::Signing};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rewrites `path` with `bytes` when the build says every layer is written.
struct EditAfterLayers {
    path: PathBuf,
    bytes: &'static [u8],
}

impl Reporter for EditAfterLayers {
    fn event(&self, e: &Event<'_>) {
        if matches!(e, Event::Built(_)) {
            fs::write(&self.path, self.bytes).unwrap();
        }
    }
}

fn project(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(dir.join("app/config.txt"), b"mode = safe\n").unwrap();
    fs::write(
        dir.join("builder.toml"),
        "[image]\nname = \"bound\"\ntags = [\"1\"]\n[base]\nimage = \"static\"\n[user]\nuid = 10001\n[[artifacts]]\nsrc = \"app\"\ndest = \"/app\"\n",
    )
    .unwrap();
    dir.join("builder.toml")
}

fn job(spec: &Path, cache: &Path, out: &Path) -> BuildJob {
    let mut j = BuildJob::new(spec, cache);
    j.outputs = vec![format!("oci:{}:1", out.display())];
    j
}

fn editing(path: PathBuf) -> SharedReporter {
    SharedReporter(Arc::new(EditAfterLayers {
        path,
        bytes: b"mode = attacker\n",
    }))
}

/// Builds the project twice with `configure`: undisturbed (it must pass, so
/// the test can tell the two apart), then with the artifact edited after
/// its layer was written. Returns the second build's error, after checking
/// that it wrote nothing.
fn quiet_then_edited(t: &Path, spec: &Path, configure: impl Fn(&mut BuildJob)) -> String {
    let cache = t.join("cache");
    let mut j = job(spec, &cache, &t.join("ok"));
    configure(&mut j);
    pipeline::build(&j, &SharedReporter::default()).expect("an undisturbed build passes");

    let out = t.join("out");
    let mut j = job(spec, &cache, &out);
    configure(&mut j);
    let e = pipeline::build(&j, &editing(t.join("p/app/config.txt")))
        .expect_err("an artifact edited mid-build must fail the build");
    assert!(!out.exists(), "nothing is written: {}", out.display());
    e.to_string()
}

#[test]
fn a_locked_build_refuses_an_artifact_edited_after_its_layer_was_written() {
    let t = tempfile::tempdir().unwrap();
    let spec = project(&t.path().join("p"));
    let mut lock = ironhull();
    lock.args(["lock", "-f"])
        .arg(&spec)
        .arg("--cache-dir")
        .arg(t.path().join("cache"));
    run(lock).assert_code(0);
    let msg = quiet_then_edited(t.path(), &spec, |j| j.locked = true);
    assert!(
        msg.contains("config.txt") && msg.contains("changed"),
        "{msg}"
    );
}

#[test]
fn provenance_never_describes_bytes_the_image_does_not_hold() {
    let t = tempfile::tempdir().unwrap();
    let spec = project(&t.path().join("p"));
    let msg = quiet_then_edited(t.path(), &spec, |j| {
        j.signing = Some(Signing {
            signer: Arc::new(ironhull::sign::signer::KeySigner::new(
                ironhull::sign::key::generate(),
            )),
            format: Default::default(),
            builder_id: "https://example.com/ci".into(),
        })
    });
    assert!(
        msg.contains("config.txt") && msg.contains("changed while the build ran"),
        "{msg}"
    );
}

#[test]
fn the_lock_and_provenance_record_the_spec_text_the_build_parsed() {
    // The spec's digest comes from the bytes parsed, not from a second read.
    let t = tempfile::tempdir().unwrap();
    let spec = project(&t.path().join("p"));
    let text = fs::read(&spec).unwrap();
    let parsed = ironhull::spec::load(&spec).unwrap();
    assert_eq!(*parsed.text_digest(), ironhull::digest::Digest::of(&text));
    fs::write(&spec, [text.as_slice(), b"# edited\n"].concat()).unwrap();
    assert_eq!(*parsed.text_digest(), ironhull::digest::Digest::of(&text));
}
