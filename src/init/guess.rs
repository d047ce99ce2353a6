//! What an artifact is, as far as picking an `init` template goes, and the
//! image name its file name suggests.

use super::InitError;
use crate::elf::{self, Linkage};
use std::fmt;
use std::io::Read;
use std::path::Path;

/// What kind of artifact a path is, as far as picking a template goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    StaticElf,
    MuslElf,
    DynamicElf,
    Jar,
    Node,
    Python,
}

impl ArtifactKind {
    /// The template that fits this kind of artifact.
    pub fn template(self) -> &'static str {
        match self {
            ArtifactKind::StaticElf => "static",
            ArtifactKind::MuslElf => "alpine-musl",
            ArtifactKind::DynamicElf => "cc",
            ArtifactKind::Jar => "java",
            ArtifactKind::Node => "node",
            ArtifactKind::Python => "python",
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArtifactKind::StaticElf => "a statically linked ELF binary",
            ArtifactKind::MuslElf => "an ELF binary linked against musl",
            ArtifactKind::DynamicElf => "a dynamically linked (glibc) ELF binary",
            ArtifactKind::Jar => "a Java archive",
            ArtifactKind::Node => "a Node.js project (package.json)",
            ArtifactKind::Python => "a Python project (pyproject.toml)",
        })
    }
}

/// How many bytes of an ELF file we read to find PT_INTERP. Program headers
/// and the interpreter path sit at the start of every real executable; a file
/// whose headers lie beyond this is not guessed (the user passes --template).
const ELF_READ_LIMIT: u64 = 1 << 20;

/// Guesses what `path` is. Directories are recognised by the project file
/// they hold; `package.json` / `pyproject.toml` themselves stand for their
/// directory.
pub fn guess(path: &Path) -> Result<ArtifactKind, InitError> {
    let meta = std::fs::metadata(path).map_err(|source| InitError::Artifact {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        if path.join("package.json").is_file() {
            return Ok(ArtifactKind::Node);
        }
        if path.join("pyproject.toml").is_file() {
            return Ok(ArtifactKind::Python);
        }
        return Err(InitError::CannotGuess(format!(
            "directory {} holds neither package.json nor pyproject.toml",
            path.display()
        )));
    }
    match path.file_name().and_then(|n| n.to_str()) {
        Some("package.json") => return Ok(ArtifactKind::Node),
        Some("pyproject.toml") => return Ok(ArtifactKind::Python),
        _ => {}
    }
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(ELF_READ_LIMIT).read_to_end(&mut head))
        .map_err(|source| InitError::Artifact {
            path: path.to_path_buf(),
            source,
        })?;
    if head.starts_with(elf::MAGIC) {
        return match elf::parse(&head).and_then(|e| e.linkage) {
            Some(Linkage::Static) => Ok(ArtifactKind::StaticElf),
            Some(l) if l.is_musl() => Ok(ArtifactKind::MuslElf),
            Some(Linkage::Dynamic(_)) => Ok(ArtifactKind::DynamicElf),
            None => Err(InitError::CannotGuess(format!(
                "{} starts like an ELF file but its headers are truncated or malformed",
                path.display()
            ))),
        };
    }
    let is_jar_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jar"));
    if head.starts_with(b"PK\x03\x04") || (is_jar_name && head.starts_with(b"PK")) {
        return Ok(ArtifactKind::Jar);
    }
    Err(InitError::CannotGuess(format!(
        "{} is not an ELF binary, a jar, package.json or pyproject.toml",
        path.display()
    )))
}

/// An image name from a file or directory name: lowercased, runs of other
/// characters turned into `-`, version-ish suffixes such as `.jar` dropped.
pub fn name_from_path(path: &Path) -> String {
    let stem = match path.file_name().and_then(|n| n.to_str()) {
        Some("package.json" | "pyproject.toml") | None => path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or(""),
        Some(n) => n,
    };
    let stem = stem.strip_suffix(".jar").unwrap_or(stem);
    let mut out = String::new();
    for c in stem.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "app".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_paths() {
        assert_eq!(name_from_path(Path::new("/x/My_Server")), "my-server");
        assert_eq!(name_from_path(Path::new("/x/app-1.2.jar")), "app-1-2");
        assert_eq!(name_from_path(Path::new("/x/web/package.json")), "web");
        assert_eq!(name_from_path(Path::new("/x/__")), "app");
    }

    #[test]
    fn guesses_by_content_and_name() {
        let d = tempfile::tempdir().unwrap();
        let p = |n: &str| d.path().join(n);
        std::fs::write(p("a.jar"), b"PK\x05\x06").unwrap();
        assert_eq!(guess(&p("a.jar")).unwrap(), ArtifactKind::Jar);
        std::fs::write(p("pyproject.toml"), b"[project]\n").unwrap();
        assert_eq!(guess(d.path()).unwrap(), ArtifactKind::Python);
        std::fs::write(p("bad"), b"\x7fELF\x02\x01\x01").unwrap();
        assert!(
            matches!(guess(&p("bad")), Err(InitError::CannotGuess(m)) if m.contains("truncated"))
        );
        std::fs::write(p("text"), b"hello").unwrap();
        assert!(matches!(guess(&p("text")), Err(InitError::CannotGuess(_))));
        assert!(matches!(
            guess(&p("missing")),
            Err(InitError::Artifact { .. })
        ));
    }
}
