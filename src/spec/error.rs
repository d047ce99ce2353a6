//! Spec errors. Every variant carries the `file:line:col` of the offending key
//! or value, says what is wrong and how to fix it, and is its own class so
//! callers and tests can match on exactly what went wrong.

use crate::reference::ReferenceError;
use std::fmt;
use std::path::{Path, PathBuf};

/// A position in the spec file (1-based line and column, columns in
/// characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// Maps byte offsets (from toml's spans) to line:col.
pub(crate) struct SourceMap<'a> {
    file: &'a Path,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file,
            text,
            line_starts,
        }
    }

    /// Location of a byte offset; offsets past the end clamp to the end, and
    /// offsets inside a UTF-8 sequence count that character once.
    pub(crate) fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.line_starts.get(line_idx).copied().unwrap_or(0);
        let col = self
            .text
            .get(start..)
            .map(|rest| {
                rest.char_indices()
                    .take_while(|(i, _)| start + i < offset)
                    .count()
            })
            .unwrap_or(0);
        Location {
            file: self.file.to_path_buf(),
            line: line_idx + 1,
            col: col + 1,
        }
    }
}

fn did_you_mean(s: &Option<&'static str>) -> String {
    match s {
        Some(k) => format!(" (did you mean `{k}`?)"),
        None => String::new(),
    }
}

fn list(v: &[&'static str]) -> String {
    v.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{}: cannot read the spec: {source}. Check the path and its permissions", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the spec is {size} bytes; the limit is {limit}. A builder.toml is a few KiB; check you passed the right file", path.display())]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{at}: invalid TOML: {message}. Fix the syntax at this position")]
    Syntax { at: Location, message: String },
    #[error("{at}: unknown key `{key}` in {section}{}. Valid keys here: {}", did_you_mean(.suggestion), list(.valid))]
    UnknownKey {
        at: Location,
        key: String,
        section: String,
        suggestion: Option<&'static str>,
        valid: &'static [&'static str],
    },
    #[error("{at}: `{key}` must be {expected}, found {found}. {hint}")]
    TypeMismatch {
        at: Location,
        key: String,
        expected: &'static str,
        found: &'static str,
        hint: &'static str,
    },
    #[error("{at}: missing required key `{key}` in {section}. Add it, e.g. {example}")]
    MissingKey {
        at: Location,
        key: String,
        section: String,
        example: &'static str,
    },
    #[error(
        "{at}: `{key}` is {value}, which is root. ironhull images never run as root: a root process that escapes the container is root on the host, and root inside can undo every other hardening step. Use an unprivileged id such as 10001 (and a name other than `root`)"
    )]
    RootUser {
        at: Location,
        key: String,
        value: String,
    },
    #[error("{at}: `{key}` = {value} is out of range: it must be between {min} and {max}. {hint}")]
    OutOfRange {
        at: Location,
        key: String,
        value: String,
        min: i64,
        max: i64,
        hint: &'static str,
    },
    #[error("{at}: invalid {what} {value:?}: {why}")]
    BadName {
        at: Location,
        what: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{at}: invalid base image: {source}")]
    BadBase {
        at: Location,
        source: ReferenceError,
    },
    #[error(
        "{at}: `{key}` is a string (shell form). Shell form needs a shell, and the image has none; write the exec form instead, e.g. [\"/app/x\", \"arg\"]"
    )]
    ShellForm { at: Location, key: String },
    #[error(
        "{at}: `{key}` runs the shell `{program}`. ironhull images contain no shell, so this cannot start, and shipping one would let an attacker run anything; call your program directly, e.g. [\"/app/x\", \"arg\"]"
    )]
    ShellEntrypoint {
        at: Location,
        key: String,
        program: String,
    },
    #[error(
        "{at}: `{key}` starts with {program:?}, which is not an absolute path. A bare name is looked up in PATH at run time, which can pick a different binary than you tested; write the full path, e.g. \"/app/{program}\""
    )]
    RelativeProgram {
        at: Location,
        key: String,
        program: String,
    },
    #[error(
        "{at}: `{key}` has an empty argument list entry or program. Give the program as the first element, e.g. [\"/app/x\"]"
    )]
    EmptyExec { at: Location, key: String },
    #[error(
        "{at}: environment variable `{key}` looks like a credential ({rule}). Inject secrets at runtime (e.g. a mounted file or your orchestrator's secret store), never bake them into an image; a `*_FILE=/run/secrets/...` reference is fine"
    )]
    SecretInEnv {
        at: Location,
        key: String,
        rule: &'static str,
    },
    #[error(
        "{at}: `{key}` argument {index} looks like a credential ({rule}). The command line is public image metadata; read the secret at runtime from a mounted file or the environment your orchestrator injects (e.g. `--password-file /run/secrets/db`)"
    )]
    SecretInArgv {
        at: Location,
        key: String,
        index: usize,
        rule: &'static str,
    },
    #[error(
        "{at}: {section} `{key}` looks like it holds a credential ({rule}). Labels and annotations are public image metadata; remove the secret and inject it at runtime"
    )]
    SecretInMetadata {
        at: Location,
        section: &'static str,
        key: String,
        rule: &'static str,
    },
    #[error(
        "{at}: invalid environment variable name {key:?}: names are letters, digits and `_`, not starting with a digit, e.g. `LOG_LEVEL`"
    )]
    BadEnvKey { at: Location, key: String },
    #[error("{at}: `{key}` = {value:?} is not allowed: {why}")]
    BadPath {
        at: Location,
        key: String,
        value: String,
        why: String,
    },
    #[error("{at}: mode {mode:#o} is not allowed: {why}")]
    BadMode {
        at: Location,
        mode: i64,
        why: &'static str,
    },
    #[error(
        "{at}: invalid sha256 {value:?}: expected 64 hex digits, optionally prefixed with `sha256:` (compute it with `sha256sum FILE`)"
    )]
    BadDigest { at: Location, value: String },
    #[error(
        "{at}: invalid glob {pattern:?}: {message}. See https://docs.rs/globset for the syntax, e.g. \"**/*.js\""
    )]
    BadGlob {
        at: Location,
        pattern: String,
        message: String,
    },
    #[error(
        "{at}: invalid port {value:?}: {why}. Write \"8080\", \"8080/tcp\" or \"53/udp\" (1-65535)"
    )]
    BadPort {
        at: Location,
        value: String,
        why: &'static str,
    },
    #[error(
        "{at}: invalid stop signal {value:?}. Write a signal name like \"SIGTERM\" or a number 1-64"
    )]
    BadSignal { at: Location, value: String },
    #[error(
        "{at}: invalid duration {value:?}. Write a positive duration like \"30s\", \"1m30s\" or \"500ms\" (units: ms, s, m, h)"
    )]
    BadDuration { at: Location, value: String },
    #[error("{at}: unknown compression {value:?}. Use \"gzip\" (default), \"zstd\" or \"none\"")]
    BadCompression { at: Location, value: String },
    #[error(
        "{at}: platform {value:?} is invalid. Write linux/ARCH[/VARIANT] with a known architecture (amd64, arm64, arm, 386, ppc64le, s390x, riscv64, …), e.g. \"linux/amd64\" or \"linux/arm/v7\""
    )]
    BadPlatform { at: Location, value: String },
    #[error(
        "{at}: the artifact for {dest} has no `src` for platform {platform}, which [image] platforms lists. Add `\"{platform}\" = \"path/to/file\"` to its src table, or use one src with placeholders like \"dist/{{arch}}/app\""
    )]
    MissingPlatformSource {
        at: Location,
        platform: String,
        dest: String,
    },
    #[error(
        "{at}: check {check} is a core check and can never be waived: it guards an invariant (no root, no shell, no package manager, no setuid, no secrets) that every ironhull image keeps. Fix the image instead"
    )]
    CoreCheckWaiver { at: Location, check: String },
    #[error(
        "{at}: invalid check id {value:?}. Check ids look like \"FS-001\"; run `ironhull checks` for the list"
    )]
    BadCheckId { at: Location, value: String },
    #[error(
        "{at}: `reason` is empty. Every waiver needs a reason so reviewers know why the check does not apply"
    )]
    EmptyReason { at: Location },
    #[error("{at}: `{key}` = {value:?}: {why}")]
    BadPackages {
        at: Location,
        key: String,
        value: String,
        why: String,
    },
    #[error(
        "{at}: duplicate {what} {value:?} (first given at line {first_line}). Remove one of them"
    )]
    Duplicate {
        at: Location,
        what: &'static str,
        value: String,
        first_line: usize,
    },
}

impl SpecError {
    /// Where the error is, when it comes from the spec's content.
    pub fn location(&self) -> Option<&Location> {
        use SpecError::*;
        match self {
            Io { .. } | TooLarge { .. } => None,
            Syntax { at, .. }
            | UnknownKey { at, .. }
            | TypeMismatch { at, .. }
            | MissingKey { at, .. }
            | RootUser { at, .. }
            | OutOfRange { at, .. }
            | BadName { at, .. }
            | BadBase { at, .. }
            | ShellForm { at, .. }
            | ShellEntrypoint { at, .. }
            | RelativeProgram { at, .. }
            | EmptyExec { at, .. }
            | SecretInEnv { at, .. }
            | SecretInArgv { at, .. }
            | SecretInMetadata { at, .. }
            | BadEnvKey { at, .. }
            | BadPath { at, .. }
            | BadMode { at, .. }
            | BadDigest { at, .. }
            | BadGlob { at, .. }
            | BadPort { at, .. }
            | BadSignal { at, .. }
            | BadDuration { at, .. }
            | BadCompression { at, .. }
            | BadPlatform { at, .. }
            | MissingPlatformSource { at, .. }
            | CoreCheckWaiver { at, .. }
            | BadCheckId { at, .. }
            | EmptyReason { at }
            | BadPackages { at, .. }
            | Duplicate { at, .. } => Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_lines_and_columns() {
        let text = "a = 1\nbé = 2\n\nc";
        let m = SourceMap::new(Path::new("f.toml"), text);
        let at = |o| {
            let l = m.locate(o);
            (l.line, l.col)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(4), (1, 5));
        assert_eq!(at(6), (2, 1));
        // `=` after a two-byte char is column 4.
        assert_eq!(at(10), (2, 4));
        assert_eq!(at(14), (3, 1));
        assert_eq!(at(15), (4, 1));
        assert_eq!(at(1000), (4, 2));
        assert_eq!(m.locate(6).to_string(), "f.toml:2:1");
    }
}
