//! Outputs: every transport ironhull writes (`oci:`, `oci-archive:`,
//! `docker-archive:`) is read back by skopeo, a tool that knows nothing about
//! ironhull; the printed digest, `--digest-file` and `index.json` agree; the
//! default destination, tag accumulation in an existing layout, and refusal to
//! clobber a directory that is not a layout.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A temp project with the hello-static example (spec as shipped, plus a
/// freshly compiled `build/hello`). `None` when no C compiler (skip).
fn project(dir: &Path) -> Option<PathBuf> {
    build_hello_static(&dir.join("build"))?;
    let spec = dir.join("builder.toml");
    fs::copy(
        repo_root().join("examples/hello-static/builder.toml"),
        &spec,
    )
    .expect("copy builder.toml");
    Some(spec)
}

fn skopeo_inspect(image: &str) -> serde_json::Value {
    let r = skopeo(["inspect", image]);
    assert!(
        r.success(),
        "skopeo inspect rejected {image}:\n{}",
        r.describe()
    );
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("skopeo inspect {image}: not JSON ({e}):\n{}", r.stdout))
}

#[test]
fn every_output_format_is_accepted_by_skopeo() {
    if require_tool("skopeo").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&dir.path().join("p")) else {
        return;
    };
    let out = dir.path().join("out");
    let layout = out.join("layout");
    let archive = out.join("image.oci.tar");
    let docker = out.join("image.docker.tar");
    let digest_file = out.join("image.digest");
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &[
            "-o",
            &format!("oci:{}:t", layout.display()),
            "-o",
            &format!("oci-archive:{}", archive.display()),
            "-o",
            &format!("docker-archive:{}:hello:1.0.0", docker.display()),
            "--digest-file",
            &digest_file.display().to_string(),
        ],
    ));
    r.assert_success();
    let digest = printed_digest(&r);

    // The printed digest is the layout's, the blob is intact, and the digest
    // file holds exactly what was printed.
    assert_eq!(layout_tag_digest(&layout, "t"), digest);
    assert_eq!(digest_file_of(&layout, &digest), digest);
    let df = fs::read_to_string(&digest_file).expect("digest file");
    assert_eq!(df.trim(), digest, "--digest-file differs from stdout");

    // skopeo reads every format, and sees the same image.
    let oci = skopeo_inspect(&format!("oci:{}:t", layout.display()));
    assert_eq!(oci["Digest"], digest.as_str());
    assert_eq!(oci["Os"], "linux");
    assert_eq!(oci["Architecture"], "amd64");
    let oci_ar = skopeo_inspect(&format!("oci-archive:{}", archive.display()));
    assert_eq!(
        oci_ar["Digest"],
        digest.as_str(),
        "oci-archive holds another image"
    );
    let dock = skopeo_inspect(&format!("docker-archive:{}", docker.display()));
    assert_eq!(dock["Os"], "linux");
    assert_eq!(dock["Architecture"], "amd64");
    assert_eq!(
        dock["Layers"].as_array().map(Vec::len),
        oci["Layers"].as_array().map(Vec::len),
        "docker-archive has a different number of layers"
    );
    // Labels from the spec survive in every format.
    for v in [&oci, &oci_ar, &dock] {
        assert_eq!(
            v["Labels"]["org.opencontainers.image.title"],
            "hello-static"
        );
    }

    // The config says non-root, in the docker archive too.
    let r = skopeo([
        "inspect",
        "--config",
        &format!("docker-archive:{}", docker.display()),
    ]);
    assert!(r.success(), "{}", r.describe());
    let cfg: serde_json::Value = serde_json::from_str(&r.stdout).expect("config JSON");
    assert_eq!(cfg["config"]["User"], "10001:10001");

    // A docker-archive can be converted back to an OCI layout by skopeo.
    let copied = dir.path().join("copied");
    let r = skopeo([
        "copy",
        &format!("docker-archive:{}", docker.display()),
        &format!("oci:{}:x", copied.display()),
    ]);
    assert!(
        r.success(),
        "skopeo copy docker-archive → oci failed:\n{}",
        r.describe()
    );
    let again = skopeo_inspect(&format!("oci:{}:x", copied.display()));
    assert_eq!(
        again["Layers"].as_array().map(Vec::len),
        oci["Layers"].as_array().map(Vec::len)
    );

    // Nothing else was left next to the outputs (no temp files).
    let mut names: Vec<String> = fs::read_dir(&out)
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "image.digest",
            "image.docker.tar",
            "image.oci.tar",
            "layout"
        ],
        "unexpected files next to the outputs"
    );
}

/// sha256 of the blob named `digest` in `layout`.
fn digest_file_of(layout: &Path, digest: &str) -> String {
    digest_file(layout_blob(layout, digest))
}

#[test]
fn default_output_is_ironhull_out_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&dir.path().join("p")) else {
        return;
    };
    // Run from an unrelated working directory: the default is relative to it.
    let cwd = dir.path().join("cwd");
    fs::create_dir_all(&cwd).expect("cwd");
    let mut cmd = ironhull_build(&spec, &dir.path().join("cache"), &[]);
    cmd.current_dir(&cwd);
    let r = run(cmd);
    r.assert_success();
    let digest = printed_digest(&r);
    let layout = cwd.join("ironhull-out/hello-static");
    assert!(
        layout.join("oci-layout").is_file(),
        "no OCI layout at {}:\n{}",
        layout.display(),
        r.describe()
    );
    // Tagged with the spec's first tag.
    assert_eq!(layout_tag_digest(&layout, "1.0.0"), digest);
    // And nothing was written next to the spec.
    assert!(!dir.path().join("p/ironhull-out").exists());
}

#[test]
fn existing_non_layout_directory_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&dir.path().join("p")) else {
        return;
    };
    let target = dir.path().join("photos");
    fs::create_dir_all(target.join("2024")).expect("mkdir");
    fs::write(target.join("keep.txt"), b"precious\n").expect("write");
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &["--json", "-o", &format!("oci:{}:1", target.display())],
    ));
    let (kind, message, code) = json_error(&r);
    eprintln!("{kind}: {message}");
    // Every destination is checked before the build starts: a user mistake (2).
    r.assert_code(2);
    assert_eq!(code, 2);
    assert_eq!(kind, "Output::Preflight");
    assert!(message.contains(&target.display().to_string()), "{message}");
    let mut names: Vec<String> = fs::read_dir(&target)
        .expect("target")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["2024", "keep.txt"], "the directory was modified");
    assert_eq!(
        fs::read(target.join("keep.txt")).expect("keep"),
        b"precious\n"
    );
    assert_eq!(fs::read_dir(target.join("2024")).expect("2024").count(), 0);
}

/// When one destination is unusable, no destination may be written: a
/// half-finished multi-output build is what CI scripts then publish.
#[test]
fn unusable_second_output_leaves_first_unwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&dir.path().join("p")) else {
        return;
    };
    let good = dir.path().join("good");
    let bad = dir.path().join("bad");
    fs::create_dir_all(&bad).expect("mkdir");
    fs::write(bad.join("keep.txt"), b"x").expect("write");
    let r = run(ironhull_build(
        &spec,
        &dir.path().join("cache"),
        &[
            "-o",
            &format!("oci:{}:1", good.display()),
            "-o",
            &format!("oci:{}:1", bad.display()),
        ],
    ));
    r.assert_code(2);
    assert!(
        !good.exists(),
        "the build failed (exit 2) but still wrote {}",
        good.display()
    );
}

#[test]
fn existing_layout_gets_second_tag_and_keeps_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&dir.path().join("p")) else {
        return;
    };
    let layout = dir.path().join("layout");
    let cache = dir.path().join("cache");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:one", layout.display())],
    ));
    r.assert_success();
    let first = printed_digest(&r);

    // A different image (one more env var) into the same layout, other tag.
    let text = fs::read_to_string(&spec).expect("spec");
    let text = text.replace(
        "entrypoint = [\"/app/hello\"]",
        "entrypoint = [\"/app/hello\"]\nenv = { GREETING = \"second\" }",
    );
    assert!(
        text.contains("GREETING"),
        "spec template changed; update this test"
    );
    fs::write(&spec, text).expect("spec");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:two", layout.display())],
    ));
    r.assert_success();
    let second = printed_digest(&r);
    assert_ne!(first, second);

    assert_eq!(
        layout_tag_digest(&layout, "one"),
        first,
        "first tag lost or moved"
    );
    assert_eq!(layout_tag_digest(&layout, "two"), second);
    assert_eq!(digest_file_of(&layout, &first), first);
    assert_eq!(digest_file_of(&layout, &second), second);
    if find_on_path("skopeo").is_some() {
        assert_eq!(
            skopeo_inspect(&format!("oci:{}:one", layout.display()))["Digest"],
            first.as_str()
        );
        assert_eq!(
            skopeo_inspect(&format!("oci:{}:two", layout.display()))["Digest"],
            second.as_str()
        );
    }
}

/// Outputs must not share inodes with the blob cache: a user (or a tool)
/// that edits a file in an output layout must not corrupt the cache, and so
/// every later build.
#[test]
fn editing_an_output_does_not_poison_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(spec) = project(&dir.path().join("p")) else {
        return;
    };
    let cache = dir.path().join("cache");
    let one = dir.path().join("one");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", one.display())],
    ));
    r.assert_success();
    let digest = printed_digest(&r);
    // Overwrite every blob of the output in place (same inode).
    for e in fs::read_dir(one.join("blobs/sha256"))
        .expect("blobs")
        .flatten()
    {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(e.path())
            .expect("open blob");
        f.write_all(b"garbage").expect("overwrite");
    }
    let two = dir.path().join("two");
    let r = run(ironhull_build(
        &spec,
        &cache,
        &["-o", &format!("oci:{}:1", two.display())],
    ));
    assert!(
        r.success(),
        "a build failed because an earlier OUTPUT was edited (outputs share inodes with the cache):\n{}",
        r.describe()
    );
    assert_eq!(printed_digest(&r), digest);
    assert_eq!(digest_file_of(&two, &digest), digest);
}
