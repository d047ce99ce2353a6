//! `ironhull init`: writes a commented `builder.toml` from one of the
//! templates in `templates/`, guessing the template from the artifact when it
//! can, so a newcomer starts from a spec that already validates.
//!
//! Templates are plain, valid `builder.toml` files (they are tested as they
//! are). A line ending in `# ironhull-init: name` or `# ironhull-init:
//! artifact` has its string value replaced; elsewhere the word `myapp` becomes
//! the last component of the image name, so paths and entrypoints follow it.

use super::exit;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// One template: its name, a one-line summary and its text.
pub struct Template {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

/// Every template, in `--list` order.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "static",
        summary: "statically linked binary (Go, Rust musl, C) on the built-in base",
        text: include_str!("../../templates/static.toml"),
    },
    Template {
        name: "cc",
        summary: "glibc-dynamic binary on gcr.io/distroless/cc-debian12",
        text: include_str!("../../templates/cc.toml"),
    },
    Template {
        name: "python",
        summary: "Python app directory on gcr.io/distroless/python3-debian12, PYTHONPATH=/app",
        text: include_str!("../../templates/python.toml"),
    },
    Template {
        name: "node",
        summary: "Node.js app directory on gcr.io/distroless/nodejs22-debian12",
        text: include_str!("../../templates/node.toml"),
    },
    Template {
        name: "java",
        summary: "executable jar on gcr.io/distroless/java21-debian12",
        text: include_str!("../../templates/java.toml"),
    },
    Template {
        name: "alpine-musl",
        summary: "musl binary on the Alpine minirootfs, shell and apk stripped",
        text: include_str!("../../templates/alpine-musl.toml"),
    },
    Template {
        name: "static-site",
        summary: "static web server + site directory + writable cache dir, built-in base",
        text: include_str!("../../templates/static-site.toml"),
    },
];

/// The word in templates that stands for the application's name.
const NAME_TOKEN: &str = "myapp";
const MARKER: &str = "# ironhull-init:";

pub fn template(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  ironhull init --artifact target/x86_64-unknown-linux-musl/release/server\n  ironhull init --template python --artifact . --name my-api\n  ironhull init --list\n  ironhull init --template static -o deploy/builder.toml --force\n\nWithout --template the template is guessed from --artifact: a static ELF → static, an ELF with a musl interpreter → alpine-musl, another dynamic ELF → cc, a .jar → java, package.json → node, pyproject.toml → python."
)]
pub struct InitArgs {
    /// Template to use (see --list); guessed from --artifact when omitted.
    #[arg(long, short = 't')]
    pub template: Option<String>,
    /// The file or directory to package; its path is written into the spec.
    #[arg(long, short = 'a')]
    pub artifact: Option<PathBuf>,
    /// Image name (lowercase, e.g. "api" or "org/api"); default: from the artifact's name.
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
    /// List the templates and exit.
    #[arg(long)]
    pub list: bool,
    /// Where to write the spec.
    #[arg(long, short = 'o', default_value = "builder.toml")]
    pub output: PathBuf,
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

impl InitError {
    fn exit_code(&self) -> i32 {
        match self {
            InitError::Write { .. } => exit::IO,
            _ => exit::INPUT,
        }
    }
}

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

/// How an ELF file is linked, from its program headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfLinkage {
    /// No PT_INTERP: nothing to load before the program (static or static-pie).
    Static,
    /// The PT_INTERP path, e.g. `/lib/ld-musl-x86_64.so.1`.
    Dynamic(String),
}

/// How many bytes of an ELF file we read to find PT_INTERP. Program headers
/// and the interpreter path sit at the start of every real executable; a file
/// whose headers lie beyond this is not guessed (the user passes --template).
const ELF_READ_LIMIT: u64 = 1 << 20;

/// Parses the ELF header and program headers in `bytes` (the start of a file).
/// Returns `None` when it is not an ELF file or its headers are out of range.
/// Every offset is bounds-checked: the file is untrusted.
pub fn elf_linkage(bytes: &[u8]) -> Option<ElfLinkage> {
    if bytes.len() < 52 || &bytes[..4] != b"\x7fELF" {
        return None;
    }
    let class64 = match bytes[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match bytes[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let rd = |off: usize, n: usize| -> Option<u64> {
        let s = bytes.get(off..off.checked_add(n)?)?;
        let mut v: u64 = 0;
        for i in 0..n {
            let b = if le { s[n - 1 - i] } else { s[i] };
            v = (v << 8) | u64::from(b);
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if class64 {
        (rd(32, 8)?, rd(54, 2)?, rd(56, 2)?)
    } else {
        (rd(28, 4)?, rd(42, 2)?, rd(44, 2)?)
    };
    let min_ent = if class64 { 56 } else { 32 };
    if phnum == 0 {
        return Some(ElfLinkage::Static);
    }
    if phentsize < min_ent {
        return None;
    }
    for i in 0..phnum {
        let base = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
        let p_type = rd(base, 4)?;
        if p_type != 3 {
            continue;
        }
        let (off, size) = if class64 {
            (rd(base + 8, 8)?, rd(base + 32, 8)?)
        } else {
            (rd(base + 4, 4)?, rd(base + 16, 4)?)
        };
        let start = usize::try_from(off).ok()?;
        let len = usize::try_from(size).ok()?.min(4096);
        let raw = bytes.get(start..start.checked_add(len)?)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        return Some(ElfLinkage::Dynamic(
            String::from_utf8_lossy(&raw[..end]).into_owned(),
        ));
    }
    Some(ElfLinkage::Static)
}

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
    if head.starts_with(b"\x7fELF") {
        return match elf_linkage(&head) {
            Some(ElfLinkage::Static) => Ok(ArtifactKind::StaticElf),
            Some(ElfLinkage::Dynamic(interp)) => {
                let base = interp.rsplit('/').next().unwrap_or(&interp);
                if base.starts_with("ld-musl-") {
                    Ok(ArtifactKind::MuslElf)
                } else {
                    Ok(ArtifactKind::DynamicElf)
                }
            }
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

/// A TOML basic string holding `s`.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a template: marker lines get their value, `myapp` elsewhere becomes
/// the last component of `name`.
pub fn render(text: &str, name: &str, artifact: Option<&str>) -> String {
    let short = name.rsplit('/').next().unwrap_or(name);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let marked = line.find(MARKER).and_then(|i| {
            let key = line[i + MARKER.len()..].trim();
            let eq = line[..i].find('=')?;
            Some((line[..eq].trim_end(), key))
        });
        match marked {
            Some((lhs, "name")) => {
                out.push_str(&format!("{lhs} = {}", toml_string(name)));
            }
            Some((lhs, "artifact")) => {
                let default = line
                    .find(MARKER)
                    .map(|i| line[..i].trim_end())
                    .unwrap_or(line)
                    .to_string();
                match artifact {
                    Some(a) => out.push_str(&format!("{lhs} = {}", toml_string(a))),
                    None => out.push_str(&default.replace(NAME_TOKEN, short)),
                }
            }
            _ => out.push_str(&line.replace(NAME_TOKEN, short)),
        }
        out.push('\n');
    }
    out
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

/// What `init` decided and wrote, for the message.
pub struct Outcome {
    pub template: &'static str,
    pub guessed: Option<ArtifactKind>,
    pub text: String,
}

/// Renders (and self-checks) the spec `init` would write, without writing.
pub fn prepare(a: &InitArgs) -> Result<Outcome, InitError> {
    let mut guessed = None;
    let tname = match (&a.template, &a.artifact) {
        (Some(t), _) => t.clone(),
        (None, Some(art)) => {
            let k = guess(art)?;
            guessed = Some(k);
            k.template().to_string()
        }
        (None, None) => "static".to_string(),
    };
    let tpl = template(&tname).ok_or_else(|| {
        let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
        let hint = names
            .iter()
            .map(|n| (strsim::levenshtein(n, &tname), *n))
            .filter(|(d, _)| *d <= 3)
            .min()
            .map(|(_, n)| format!("; did you mean {n:?}?"))
            .unwrap_or_default();
        InitError::UnknownTemplate {
            name: tname.clone(),
            hint,
            all: names.join(", "),
        }
    })?;
    let name = match (&a.name, &a.artifact) {
        (Some(n), _) => n.clone(),
        (None, Some(art)) => name_from_path(&absolute(art)),
        (None, None) => NAME_TOKEN.to_string(),
    };
    ironhull::spec::ImageName::parse(&name).map_err(|why| InitError::BadName {
        name: name.clone(),
        why,
    })?;
    let artifact = a.artifact.as_ref().map(|art| {
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
        spec_relative(&p, &a.output)
    });
    let text = render(tpl.text, &name, artifact.as_deref());
    // The rendered spec must validate: a template bug is caught here, not by
    // the user's first build.
    ironhull::spec::parse(&text, &a.output).map_err(|e| InitError::Invalid {
        template: tpl.name.into(),
        message: e.to_string(),
    })?;
    Ok(Outcome {
        template: tpl.name,
        guessed,
        text,
    })
}

pub fn list() -> String {
    let mut s = String::new();
    for t in TEMPLATES {
        s.push_str(&format!("{:<12} {}\n", t.name, t.summary));
    }
    s
}

pub fn run(a: InitArgs) -> i32 {
    if a.list {
        print!("{}", list());
        return exit::OK;
    }
    let result =
        prepare(&a).and_then(|o| write_new(&a.output, o.text.as_bytes(), a.force).map(|()| o));
    match result {
        Ok(o) => {
            let why = o
                .guessed
                .map(|k| format!(" (the artifact looks like {k})"))
                .unwrap_or_default();
            eprintln!(
                "wrote {} from template {:?}{why}.\nNext: read it, adjust it, then run `ironhull build -f {}`.",
                a.output.display(),
                o.template,
                a.output.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 little-endian executable header with the given
    /// program headers: (p_type, offset, filesz) and trailing bytes.
    fn elf64(phdrs: &[(u32, u64, u64)], tail: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"\x7fELF");
        b.extend_from_slice(&[2, 1, 1, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&2u16.to_le_bytes()); // e_type
        b.extend_from_slice(&62u16.to_le_bytes()); // x86_64
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&0x400000u64.to_le_bytes()); // entry
        b.extend_from_slice(&64u64.to_le_bytes()); // phoff
        b.extend_from_slice(&0u64.to_le_bytes()); // shoff
        b.extend_from_slice(&0u32.to_le_bytes()); // flags
        b.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        b.extend_from_slice(&56u16.to_le_bytes()); // phentsize
        b.extend_from_slice(&(phdrs.len() as u16).to_le_bytes());
        b.extend_from_slice(&[0; 6]);
        for (t, off, sz) in phdrs {
            b.extend_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&4u32.to_le_bytes());
            b.extend_from_slice(&off.to_le_bytes());
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&sz.to_le_bytes());
            b.extend_from_slice(&sz.to_le_bytes());
            b.extend_from_slice(&1u64.to_le_bytes());
        }
        b.extend_from_slice(tail);
        b
    }

    fn with_interp(interp: &str) -> Vec<u8> {
        let off = 64 + 2 * 56;
        let mut s = interp.as_bytes().to_vec();
        s.push(0);
        elf64(&[(6, 64, 112), (3, off, s.len() as u64)], &s)
    }

    #[test]
    fn elf_static_and_dynamic() {
        assert_eq!(
            elf_linkage(&elf64(&[(1, 0, 0)], &[])),
            Some(ElfLinkage::Static)
        );
        assert_eq!(
            elf_linkage(&with_interp("/lib/ld-musl-x86_64.so.1")),
            Some(ElfLinkage::Dynamic("/lib/ld-musl-x86_64.so.1".into()))
        );
        assert_eq!(
            elf_linkage(b"not an elf file at all, no no no no no no no no"),
            None
        );
    }

    #[test]
    fn hostile_elf_headers_do_not_panic() {
        // Interpreter offset far out of range.
        let b = elf64(&[(3, u64::MAX - 3, 100)], &[]);
        assert_eq!(elf_linkage(&b), None);
        // Program header table beyond the buffer.
        let mut b = elf64(&[(1, 0, 0)], &[]);
        b[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(elf_linkage(&b), None);
        // Tiny phentsize.
        let mut b = elf64(&[(3, 0, 4)], &[]);
        b[54..56].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(elf_linkage(&b), None);
        // Every truncation of a valid file.
        let full = with_interp("/lib64/ld-linux-x86-64.so.2");
        for n in 0..full.len() {
            let _ = elf_linkage(&full[..n]);
        }
    }

    #[test]
    fn names_from_paths() {
        assert_eq!(name_from_path(Path::new("/x/My_Server")), "my-server");
        assert_eq!(name_from_path(Path::new("/x/app-1.2.jar")), "app-1-2");
        assert_eq!(name_from_path(Path::new("/x/web/package.json")), "web");
        assert_eq!(name_from_path(Path::new("/x/__")), "app");
    }

    #[test]
    fn render_substitutes_marked_values_and_token() {
        let t = "name = \"myapp\"  # ironhull-init: name\nsrc = \"build/myapp\"  # ironhull-init: artifact\nentrypoint = [\"/app/myapp\"]\n";
        let r = render(t, "org/api", Some("bin/a \"b\""));
        assert_eq!(
            r,
            "name = \"org/api\"\nsrc = \"bin/a \\\"b\\\"\"\nentrypoint = [\"/app/api\"]\n"
        );
        let r = render(t, "svc", None);
        assert!(r.contains("src = \"build/svc\"\n"), "{r}");
    }

    #[test]
    fn every_template_is_valid_as_is_and_rendered() {
        for t in TEMPLATES {
            ironhull::spec::parse(t.text, Path::new("/tmp/builder.toml"))
                .unwrap_or_else(|e| panic!("template {}: {e}", t.name));
            let r = render(t.text, "acme/web-api", Some("/opt/x y/bin"));
            ironhull::spec::parse(&r, Path::new("/tmp/builder.toml"))
                .unwrap_or_else(|e| panic!("template {} rendered: {e}\n{r}", t.name));
            assert!(!r.contains(MARKER), "{}", t.name);
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
}
