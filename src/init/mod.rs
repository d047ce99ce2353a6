//! `ironhull init` as a library entry point: picks a template (or guesses
//! it from the artifact), renders a commented `builder.toml` that already
//! validates, and writes it without clobbering. The CLI maps its flags to
//! [`InitOptions`] and prints the [`InitOutcome`]; error messages name the
//! flags because that is how users reach this code.

mod guess;
mod templates;

pub use guess::{ArtifactKind, guess, name_from_path};
pub use templates::{MARKER, NAME_TOKEN, TEMPLATES, Template, render, template};

use std::path::{Component, Path, PathBuf};

/// What to write: the `init` flags, typed.
#[derive(Clone, Debug)]
pub struct InitOptions {
    /// Template name; guessed from `artifact` when `None` (`static` without one).
    pub template: Option<String>,
    /// The file or directory to package; its path is written into the spec.
    pub artifact: Option<PathBuf>,
    /// Image name; default from the artifact's name.
    pub name: Option<String>,
    /// Where the spec goes.
    pub output: PathBuf,
    /// Replace `output` when it exists.
    pub force: bool,
}

/// What `init` decided and wrote.
#[derive(Clone, Debug)]
pub struct InitOutcome {
    pub template: &'static str,
    /// What the artifact looked like, when the template was guessed from it.
    pub guessed: Option<ArtifactKind>,
    /// The spec text (written to `path` by [`init`]).
    pub text: String,
    pub path: PathBuf,
}

/// Why `init` could not write a spec.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(
        "unknown template {name:?}{hint}; the templates are: {all}. Run `ironhull init --list`"
    )]
    UnknownTemplate {
        name: String,
        hint: String,
        all: String,
    },
    #[error(
        "cannot guess a template: {0}. Pick one with --template NAME (see `ironhull init --list`)"
    )]
    CannotGuess(String),
    #[error("--artifact {path}: {source}; check the path")]
    Artifact {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "--name {name:?} is not a valid image name: {why}. Pass --name with a valid one, e.g. --name my-app"
    )]
    BadName { name: String, why: &'static str },
    #[error(
        "{} already exists; pass --force to overwrite it, or -o OTHER.toml to write elsewhere",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "internal error: template {template:?} rendered an invalid spec ({message}); please report this bug"
    )]
    Invalid { template: String, message: String },
}

/// Every template, in `--list` order.
pub fn list() -> &'static [Template] {
    TEMPLATES
}

/// Renders the spec (checking that it validates) and writes it to
/// `opts.output`, refusing to replace a file unless `opts.force`.
pub fn init(opts: &InitOptions) -> Result<InitOutcome, InitError> {
    let outcome = prepare(opts)?;
    write_new(&outcome.path, outcome.text.as_bytes(), opts.force)?;
    Ok(outcome)
}

/// Renders (and self-checks) the spec [`init`] would write, without writing.
pub fn prepare(opts: &InitOptions) -> Result<InitOutcome, InitError> {
    let mut guessed = None;
    let tname = match (&opts.template, &opts.artifact) {
        (Some(t), _) => t.clone(),
        (None, Some(art)) => {
            let k = guess(art)?;
            guessed = Some(k);
            k.template().to_string()
        }
        (None, None) => "static".to_string(),
    };
    let tpl = template(&tname).ok_or_else(|| unknown_template(&tname))?;
    let name = match (&opts.name, &opts.artifact) {
        (Some(n), _) => n.clone(),
        (None, Some(art)) => name_from_path(&absolute(art)),
        (None, None) => NAME_TOKEN.to_string(),
    };
    crate::spec::ImageName::parse(&name).map_err(|why| InitError::BadName {
        name: name.clone(),
        why,
    })?;
    let artifact = opts.artifact.as_ref().map(|art| {
        // package.json / pyproject.toml stand for their project directory.
        let is_project_file = matches!(
            art.file_name().and_then(|n| n.to_str()),
            Some("package.json" | "pyproject.toml")
        ) && matches!(tpl.name, "node" | "python");
        let p = if is_project_file {
            absolute(art)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("/"))
        } else {
            art.clone()
        };
        spec_relative(&p, &opts.output)
    });
    let text = render(tpl.text, &name, artifact.as_deref());
    // The rendered spec must validate: a template bug is caught here, not by
    // the user's first build.
    crate::spec::parse(&text, &opts.output).map_err(|e| InitError::Invalid {
        template: tpl.name.into(),
        message: e.to_string(),
    })?;
    Ok(InitOutcome {
        template: tpl.name,
        guessed,
        text,
        path: opts.output.clone(),
    })
}

/// The error for a template name that is not one, with the closest name.
fn unknown_template(tname: &str) -> InitError {
    let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
    let hint = names
        .iter()
        .map(|n| (strsim::levenshtein(n, tname), *n))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| format!("; did you mean {n:?}?"))
        .unwrap_or_default();
    InitError::UnknownTemplate {
        name: tname.to_string(),
        hint,
        all: names.join(", "),
    }
}

/// `path` made absolute against the current directory, with `.` and `..`
/// resolved lexically (the artifact may not exist yet for a template).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The artifact path as the spec should hold it: relative to the spec's
/// directory when it lies below it (so the project can move), else absolute.
pub fn spec_relative(artifact: &Path, spec: &Path) -> String {
    let a = absolute(artifact);
    let dir = absolute(spec)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    match a.strip_prefix(&dir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => a.to_string_lossy().into_owned(),
    }
}

/// Writes `bytes` to `path` atomically; refuses to replace an existing file
/// unless `force` (the no-clobber rename makes that race-free).
fn write_new(path: &Path, bytes: &[u8], force: bool) -> Result<(), InitError> {
    use std::io::Write;
    let werr = |source| InitError::Write {
        path: path.to_path_buf(),
        source,
    };
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(InitError::Exists(path.to_path_buf()));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(werr)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".ironhull-init-")
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    if force {
        tmp.persist(path).map_err(|e| werr(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                InitError::Exists(path.to_path_buf())
            } else {
                werr(e.error)
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> InitOptions {
        InitOptions {
            template: None,
            artifact: None,
            name: None,
            output: dir.join("builder.toml"),
            force: false,
        }
    }

    #[test]
    fn spec_relative_paths() {
        assert_eq!(
            spec_relative(Path::new("/p/build/app"), Path::new("/p/builder.toml")),
            "build/app"
        );
        assert_eq!(
            spec_relative(Path::new("/q/app"), Path::new("/p/builder.toml")),
            "/q/app"
        );
        assert_eq!(
            spec_relative(Path::new("/p"), Path::new("/p/builder.toml")),
            "."
        );
    }

    #[test]
    fn no_overwrite_without_force() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("builder.toml");
        write_new(&p, b"one", false).unwrap();
        assert!(matches!(
            write_new(&p, b"two", false),
            Err(InitError::Exists(_))
        ));
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_new(&p, b"three", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
    }

    #[test]
    fn init_writes_a_valid_spec_and_refuses_to_clobber() {
        let d = tempfile::tempdir().unwrap();
        let art = d.path().join("bin/My_Server");
        std::fs::create_dir_all(art.parent().unwrap()).unwrap();
        std::fs::write(&art, b"PK\x03\x04").unwrap();
        let o = InitOptions {
            artifact: Some(art),
            ..opts(d.path())
        };
        let out = init(&o).unwrap();
        assert_eq!(
            (out.template, out.guessed),
            ("java", Some(ArtifactKind::Jar))
        );
        let written = std::fs::read_to_string(&out.path).unwrap();
        assert_eq!(written, out.text);
        assert!(written.contains("\"my-server\""), "{written}");
        assert!(written.contains("\"bin/My_Server\""), "{written}");
        assert!(matches!(init(&o), Err(InitError::Exists(_))));
        let forced = InitOptions { force: true, ..o };
        assert!(init(&forced).is_ok());
    }

    #[test]
    fn bad_template_and_name_are_input_errors() {
        let d = tempfile::tempdir().unwrap();
        let o = InitOptions {
            template: Some("pyhton".into()),
            ..opts(d.path())
        };
        match prepare(&o) {
            Err(InitError::UnknownTemplate { hint, .. }) => {
                assert_eq!(hint, "; did you mean \"python\"?")
            }
            other => panic!("{other:?}"),
        }
        let o = InitOptions {
            name: Some("Bad Name".into()),
            ..opts(d.path())
        };
        assert!(matches!(prepare(&o), Err(InitError::BadName { .. })));
        assert!(!d.path().join("builder.toml").exists());
        assert_eq!(list().len(), TEMPLATES.len());
    }
}
