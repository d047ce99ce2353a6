//! The checks that look at the merged filesystem and the image config.
//!
//! Every input here is hostile: the config is arbitrary JSON (wrong types are
//! treated as absent, never unwrapped), account files may be garbage, and the
//! tree may hold symlink loops. Each check returns findings; none panics.

use super::report::Finding;
use crate::fs::{EntryKind, ImagePath, MergedTree, Node};
use serde_json::Value;
use std::collections::BTreeMap;

// Shell and package manager names and content (SH-001, SH-002, PKG-001):
// the same lists and the same detector hardening strips by.
use crate::detect::{self, Kind};
use crate::harden::accounts::{AccountDb, read_db};

/// The default search path runtimes use when the config has no PATH.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Login "shells" that are not interactive: the classic special accounts.
const NON_LOGIN_SHELLS: &[&str] = &["nologin", "false", "sync", "shutdown", "halt", "true"];

/// Read-only helpers over the image config JSON.
pub(crate) struct Config<'a> {
    root: &'a Value,
}

impl<'a> Config<'a> {
    pub(crate) fn new(root: &'a Value) -> Self {
        Self { root }
    }

    /// A field of the `config` object (Docker and OCI both nest run settings
    /// there); `Config` with a capital C is accepted for old Docker configs.
    fn field(&self, key: &str) -> Option<&'a Value> {
        self.root
            .get("config")
            .or_else(|| self.root.get("Config"))
            .and_then(|c| c.get(key))
            .filter(|v| !v.is_null())
    }

    pub(crate) fn str_field(&self, key: &str) -> Option<&'a str> {
        self.field(key).and_then(Value::as_str)
    }

    /// A string array; non-string items are kept as `None` so indexes stay true.
    fn str_array(&self, key: &str) -> Vec<Option<&'a str>> {
        match self.field(key) {
            Some(Value::Array(a)) => a.iter().map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    fn object_keys(&self, key: &str) -> Vec<&'a str> {
        match self.field(key) {
            Some(Value::Object(m)) => m.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// `Env` as (index, key, value) for well-formed `KEY=VALUE` items.
    fn env(&self) -> Vec<(usize, &'a str, &'a str)> {
        self.str_array("Env")
            .into_iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let (k, v) = e?.split_once('=')?;
                Some((i, k, v))
            })
            .collect()
    }

    /// The PATH directories the runtime searches for a bare argv[0].
    pub(crate) fn path_dirs(&self) -> Vec<ImagePath> {
        let path = self
            .env()
            .into_iter()
            .find(|(_, k, _)| *k == "PATH")
            .map(|(_, _, v)| v)
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| d.starts_with('/'))
            .filter_map(|d| ImagePath::parse(d).ok())
            .collect()
    }
}

/// Is the non-directory at `path` present, following symlinks? Dangling links
/// and links to directories do not count as an executable being present.
fn resolves_to_file<'t>(tree: &'t MergedTree, path: &ImagePath) -> Option<(ImagePath, &'t Node)> {
    tree.resolve(path).filter(|(_, n)| !n.entry.is_dir())
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

/// One line of /etc/passwd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub name: String,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    pub shell: String,
    pub line: usize,
}

/// Parses passwd (or group, with `is_group`): lenient about garbage lines,
/// which are skipped, because this is an audit of someone else's file.
pub(crate) fn parse_passwd(bytes: &[u8]) -> Vec<PasswdEntry> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|(i, l)| {
            let f: Vec<&str> = l.split(':').collect();
            let name = f.first()?.trim();
            if name.is_empty() {
                return None;
            }
            Some(PasswdEntry {
                name: name.to_string(),
                uid: f.get(2).and_then(|s| s.trim().parse().ok()),
                gid: f.get(3).and_then(|s| s.trim().parse().ok()),
                shell: f.get(6).map(|s| s.trim().to_string()).unwrap_or_default(),
                line: i + 1,
            })
        })
        .collect()
}

/// USR-001 and USR-002.
pub(crate) fn check_user(cfg: &Config<'_>, tree: &MergedTree, out: &mut Vec<Finding>) {
    let raw = cfg.str_field("User").unwrap_or("").trim();
    let user = raw.split(':').next().unwrap_or("").trim();
    if user.is_empty() {
        out.push(Finding::new(
            "USR-001",
            None,
            "config.User is not set, so the container runs as root (uid 0)",
        ));
        return;
    }
    if let Ok(uid) = user.parse::<u64>() {
        if uid == 0 {
            out.push(Finding::new(
                "USR-001",
                None,
                format!("config.User is {raw:?}: uid 0 is root"),
            ));
        }
        return;
    }
    let passwd = match read_db(tree, "etc/passwd") {
        AccountDb::Bytes(b) => Some(parse_passwd(b)),
        AccountDb::Absent => None,
        AccountDb::Unreadable(why) => {
            // The runtime resolves the name from a file ironhull cannot
            // read: it may well be uid 0. Fail closed.
            out.push(Finding::new(
                "USR-001",
                Some("/etc/passwd".into()),
                format!(
                    "config.User is {raw:?}, and ironhull cannot show that it is not root: {why}"
                ),
            ));
            return;
        }
    };
    let entry = passwd
        .as_ref()
        .and_then(|p| p.iter().find(|e| e.name == user));
    match entry {
        Some(e) if e.uid == Some(0) => out.push(Finding::new(
            "USR-001",
            Some("/etc/passwd".into()),
            format!(
                "config.User is {raw:?}, which /etc/passwd line {} maps to uid 0 (root)",
                e.line
            ),
        )),
        Some(_) => {}
        None => {
            if user == "root" {
                out.push(Finding::new(
                    "USR-001",
                    None,
                    format!("config.User is {raw:?}"),
                ));
            }
            let why = if passwd.is_some() {
                "is not listed in /etc/passwd"
            } else {
                "cannot be resolved: the image has no readable /etc/passwd"
            };
            out.push(Finding::new(
                "USR-002",
                passwd.as_ref().map(|_| "/etc/passwd".to_string()),
                format!("config.User names the account {user:?}, which {why}"),
            ));
        }
    }
}

/// USR-003: empty password fields in /etc/shadow.
pub(crate) fn check_shadow(tree: &MergedTree, out: &mut Vec<Finding>) {
    let bytes = match read_db(tree, "etc/shadow") {
        AccountDb::Bytes(b) => b,
        AccountDb::Absent => return,
        AccountDb::Unreadable(why) => {
            out.push(Finding::new(
                "USR-003",
                Some("/etc/shadow".into()),
                format!("the password hashes cannot be checked for empty passwords: {why}"),
            ));
            return;
        }
    };
    let text = String::from_utf8_lossy(bytes);
    for (i, line) in text.lines().enumerate() {
        let mut f = line.split(':');
        let (Some(name), Some(pw)) = (f.next(), f.next()) else {
            continue;
        };
        if !name.trim().is_empty() && pw.is_empty() {
            out.push(Finding::new(
                "USR-003",
                Some("/etc/shadow".into()),
                format!(
                    "account {:?} (line {}) has an empty password field",
                    name.trim(),
                    i + 1
                ),
            ));
        }
    }
}

/// USR-004 (duplicate ids) and USR-005 (login shells).
pub(crate) fn check_accounts(tree: &MergedTree, out: &mut Vec<Finding>) {
    if let AccountDb::Bytes(bytes) = read_db(tree, "etc/passwd") {
        let entries = parse_passwd(bytes);
        duplicates(&entries, |e| e.uid, "/etc/passwd", "uid", out);
        for e in &entries {
            let base = e.shell.rsplit('/').next().unwrap_or("");
            if NON_LOGIN_SHELLS.contains(&base) {
                continue;
            }
            let what = if e.shell.is_empty() {
                "an empty shell field, which means /bin/sh".to_string()
            } else {
                format!("the login shell {:?}", e.shell)
            };
            out.push(Finding::new(
                "USR-005",
                Some("/etc/passwd".into()),
                format!("account {:?} (line {}) has {what}", e.name, e.line),
            ));
        }
    }
    if let Some(bytes) = ImagePath::parse("etc/group")
        .ok()
        .and_then(|p| tree.content(&p))
    {
        // group lines are name:x:gid:members; reuse the passwd parser's uid slot.
        let groups = parse_passwd(bytes);
        duplicates(&groups, |e| e.uid, "/etc/group", "gid", out);
    }
}

fn duplicates(
    entries: &[PasswdEntry],
    id: impl Fn(&PasswdEntry) -> Option<u64>,
    file: &str,
    what: &str,
    out: &mut Vec<Finding>,
) {
    let mut by_id: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for e in entries {
        if let Some(i) = id(e) {
            by_id.entry(i).or_default().push(&e.name);
        }
    }
    for (i, names) in by_id {
        if names.len() > 1 {
            out.push(Finding::new(
                "USR-004",
                Some(file.into()),
                format!("{what} {i} is shared by {}", names.join(", ")),
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Shells and package managers
// ---------------------------------------------------------------------------

/// What the detector's name rule says about one path of the tree, for an
/// executable file or a link (hardening strips by the same rule:
/// `harden::rules::classify`).
fn named(p: &ImagePath) -> Option<Kind> {
    if p.components().next() == Some("busybox") {
        return Some(Kind::Shell);
    }
    detect::classify_name(p.file_name())
}

/// SH-001 and PKG-001 for programs: every executable file (anywhere, not
/// only on PATH) whose name the detector knows, every file whose content
/// the layer scan found to be one (`by_content`, from
/// [`crate::detect::ContentDetector`]), and every symlink or hard link that
/// leads to either. Dangling links name no program and are not reported.
pub(crate) fn check_programs(
    tree: &MergedTree,
    by_content: &BTreeMap<String, Kind>,
    out: &mut Vec<Finding>,
) {
    let id = |k: Kind| match k {
        Kind::Shell => "SH-001",
        Kind::PackageManager => "PKG-001",
    };
    let content = |p: &ImagePath| by_content.get(&p.to_abs()).copied();
    let what = |p: &ImagePath, k: Kind| match k {
        Kind::Shell if detect::shell::is_multicall_name(p.file_name()) => {
            "a multi-call binary with a built-in shell".to_string()
        }
        Kind::Shell => "a shell".to_string(),
        Kind::PackageManager => format!("the {} package manager", p.file_name()),
    };
    for (path, node) in tree.iter() {
        let (kind, why) = match &node.entry.kind {
            EntryKind::Dir => continue,
            EntryKind::Symlink { target } => match resolves_to_file(tree, path) {
                Some((rp, _)) => {
                    match named(path).or_else(|| named(&rp)).or_else(|| content(&rp)) {
                        Some(k) => (
                            k,
                            format!("{path} -> {target} resolves to {rp}, {}", what(&rp, k)),
                        ),
                        None => continue,
                    }
                }
                None => continue,
            },
            EntryKind::Hardlink { target } => {
                match named(path)
                    .or_else(|| named(target))
                    .or_else(|| content(target))
                {
                    Some(k) => (
                        k,
                        format!("{path} is a hard link to {target}, {}", what(target, k)),
                    ),
                    None => continue,
                }
            }
            EntryKind::File => {
                let by_name = if node.entry.mode & 0o111 != 0 {
                    named(path)
                } else {
                    None
                };
                match by_name {
                    Some(k) => (k, format!("{path} is {}", what(path, k))),
                    // Content findings come from the layer scan itself.
                    None => continue,
                }
            }
            _ => continue,
        };
        out.push(Finding::new(id(kind), Some(path.to_abs()), why));
    }
}

/// True if the argv[0] basename is a shell or a multi-call binary.
fn is_shell_name(argv0: &str) -> bool {
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    detect::is_shell_name(base)
}

/// SH-002: shell-form entrypoint/cmd, or an argv[0] that cannot be executed.
/// An image with neither entrypoint nor cmd is not flagged: it needs no shell,
/// and base images commonly leave both empty for their users to set.
pub(crate) fn check_entrypoint(cfg: &Config<'_>, tree: &MergedTree, out: &mut Vec<Finding>) {
    for key in ["Entrypoint", "Cmd"] {
        if let Some(Value::String(_)) = cfg.field(key) {
            out.push(Finding::new(
                "SH-002",
                None,
                format!("config.{key} is a string (shell form), which needs /bin/sh -c to run"),
            ));
            return;
        }
    }
    let entry = cfg.str_array("Entrypoint");
    let argv = if entry.is_empty() {
        cfg.str_array("Cmd")
    } else {
        entry
            .into_iter()
            .chain(cfg.str_array("Cmd"))
            .collect::<Vec<_>>()
    };
    let Some(first) = argv.first() else {
        return;
    };
    let Some(argv0) = first.filter(|s| !s.is_empty()) else {
        out.push(Finding::new(
            "SH-002",
            None,
            "argv[0] of the entrypoint/cmd is empty or not a string",
        ));
        return;
    };
    let shown: String = argv0.chars().take(200).collect();
    if is_shell_name(argv0) {
        let form = if argv.contains(&Some("-c")) {
            "shell form (a shell with -c)"
        } else {
            "a shell"
        };
        out.push(Finding::new(
            "SH-002",
            None,
            format!("the entrypoint/cmd runs {shown:?}: {form}"),
        ));
        return;
    }
    let candidates: Vec<ImagePath> = if argv0.starts_with('/') {
        ImagePath::parse(argv0).into_iter().collect()
    } else if argv0.contains('/') {
        let wd = cfg.str_field("WorkingDir").unwrap_or("/");
        ImagePath::parse(wd)
            .and_then(|w| w.join(argv0))
            .into_iter()
            .collect()
    } else {
        cfg.path_dirs()
            .iter()
            .filter_map(|d| d.join(argv0).ok())
            .collect()
    };
    let mut not_exec = None;
    for c in &candidates {
        if let Some((rp, node)) = resolves_to_file(tree, c) {
            let file_like = matches!(
                node.entry.kind,
                EntryKind::File | EntryKind::Hardlink { .. }
            );
            if file_like && node.entry.mode & 0o111 != 0 {
                return;
            }
            not_exec.get_or_insert((rp, node.entry.mode));
        }
    }
    let msg = match not_exec {
        Some((rp, mode)) => format!(
            "argv[0] {shown:?} resolves to {rp}, which is not an executable file (mode {mode:04o})"
        ),
        None if argv0.starts_with('/') || argv0.contains('/') => {
            format!("argv[0] {shown:?} does not exist in the image")
        }
        None => format!("argv[0] {shown:?} is not found in any PATH directory of the image"),
    };
    let path = not_exec_path(argv0);
    out.push(Finding::new("SH-002", path, msg));
}

fn not_exec_path(argv0: &str) -> Option<String> {
    argv0
        .starts_with('/')
        .then(|| ImagePath::parse(argv0).ok().map(|p| p.to_abs()))
        .flatten()
}

/// PKG-001: the pip / npm / yarn / pnpm / corepack module trees that
/// `python -m pip` or `node npm-cli.js` would run without an executable (the
/// executables themselves are [`check_programs`]). The list is the one
/// hardening removes ([`crate::harden::language_pms`]).
pub(crate) fn check_package_modules(tree: &MergedTree, out: &mut Vec<Finding>) {
    for (path, node) in tree.iter() {
        if !node.entry.is_dir() {
            continue;
        }
        if let Some(pm) = crate::harden::language_pms::module_tree(path) {
            out.push(Finding::new(
                "PKG-001",
                Some(path.to_abs()),
                format!("{path} is the {pm} package manager module"),
            ));
        }
    }
}

/// PKG-002: package caches. One finding per cache directory, plus loose
/// package files (`*.deb`, `*.rpm`, `*.apk` under /var/cache or /tmp).
///
/// The directories and the archive rule are hardening's own
/// (`harden::rules::CACHE_DIRS`, `is_cached_package_archive`): a directory
/// counts when it holds at least one non-directory other than a `lock` file
/// (apt keeps `lists/lock` and `archives/lock` in clean images).
pub(crate) fn check_caches(tree: &MergedTree, out: &mut Vec<Finding>) {
    use crate::harden::rules::{is_cache_dir, is_cached_package_archive};
    let mut reported: Vec<ImagePath> = Vec::new();
    for (path, node) in tree.iter() {
        if reported.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        if node.entry.is_dir() && is_cache_dir(path) {
            let files = tree
                .iter()
                .skip_while(|(p, _)| *p <= path)
                .take_while(|(p, _)| p.starts_with(path))
                .filter(|(p, n)| !n.entry.is_dir() && p.file_name() != "lock")
                .count();
            if files > 0 {
                out.push(Finding::new(
                    "PKG-002",
                    Some(path.to_abs()),
                    format!("package cache {path} holds {files} file(s)"),
                ));
                reported.push(path.clone());
            }
        } else if node.entry.is_file() && is_cached_package_archive(path) {
            out.push(Finding::new(
                "PKG-002",
                Some(path.to_abs()),
                format!("{path} is a downloaded package file"),
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Filesystem hygiene
// ---------------------------------------------------------------------------

const JUNK_DIRS: &[&str] = &[
    ".git", ".svn", ".hg", ".bzr", ".aws", ".idea", ".vscode", "__MACOSX",
];
const JUNK_FILES: &[&str] = &[
    "Dockerfile",
    "Containerfile",
    ".dockerignore",
    ".DS_Store",
    "Thumbs.db",
    ".bash_history",
    ".ash_history",
    ".zsh_history",
    ".sh_history",
    ".python_history",
    ".mysql_history",
    ".psql_history",
    ".node_repl_history",
    ".lesshst",
    ".viminfo",
];

/// FS-001: development and host leftovers. A junk directory is reported once,
/// not every file inside it.
pub(crate) fn check_junk(tree: &MergedTree, out: &mut Vec<Finding>) {
    let mut reported: Vec<ImagePath> = Vec::new();
    for (path, node) in tree.iter() {
        if reported.iter().any(|r| path.starts_with(r)) {
            continue;
        }
        let name = path.file_name();
        let hit = if node.entry.is_dir() {
            JUNK_DIRS.contains(&name)
        } else {
            JUNK_FILES.contains(&name)
                || name.starts_with("Dockerfile.")
                || (name.ends_with(".swp") && name.starts_with('.'))
        };
        if hit {
            let what = if node.entry.is_dir() {
                "directory"
            } else {
                "file"
            };
            out.push(Finding::new(
                "FS-001",
                Some(path.to_abs()),
                format!("{path} is a development or host leftover {what}"),
            ));
            if node.entry.is_dir() {
                reported.push(path.clone());
            }
        }
    }
}

/// FS-002 and FS-003: dangerous permission bits.
pub(crate) fn check_modes(tree: &MergedTree, out: &mut Vec<Finding>) {
    for (path, node) in tree.iter() {
        let e = &node.entry;
        if e.is_setuid_or_setgid() {
            let bits = match (
                e.mode & crate::fs::entry::S_ISUID != 0,
                e.mode & crate::fs::entry::S_ISGID != 0,
            ) {
                (true, true) => "setuid and setgid",
                (true, false) => "setuid",
                _ => "setgid",
            };
            out.push(Finding::new(
                "FS-002",
                Some(path.to_abs()),
                format!(
                    "{path} is {bits} (mode {:04o}, owner {}:{})",
                    e.mode, e.uid, e.gid
                ),
            ));
        }
        if e.is_world_writable_unsafe() {
            out.push(Finding::new(
                "FS-003",
                Some(path.to_abs()),
                format!(
                    "{path} is world-writable (mode {:04o}){}",
                    e.mode,
                    if e.is_dir() { " and not sticky" } else { "" }
                ),
            ));
        }
    }
}

/// CFG-001, CFG-002, CFG-003.
pub(crate) fn check_config(cfg: &Config<'_>, out: &mut Vec<Finding>) {
    let test = cfg
        .field("Healthcheck")
        .and_then(|h| h.get("Test"))
        .and_then(Value::as_array);
    let has_health = test.is_some_and(|t| {
        t.first()
            .and_then(Value::as_str)
            .is_some_and(|s| s != "NONE")
    });
    if !has_health {
        out.push(Finding::new(
            "CFG-001",
            None,
            "the image config declares no HEALTHCHECK",
        ));
    }
    for v in cfg.object_keys("Volumes") {
        let Ok(p) = ImagePath::parse(v) else { continue };
        if ["proc", "sys", "dev"]
            .iter()
            .filter_map(|s| ImagePath::parse(s).ok())
            .any(|sys| p.starts_with(&sys))
        {
            out.push(Finding::new(
                "CFG-002",
                Some(p.to_abs()),
                format!("{} is declared as a volume", p.to_abs()),
            ));
        }
    }
    for port in cfg.object_keys("ExposedPorts") {
        let num = port.split('/').next().unwrap_or("");
        let hit = match num.split_once('-') {
            Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) => a <= 22 && 22 <= b,
                _ => false,
            },
            None => num.parse::<u32>() == Ok(22),
        };
        if hit {
            out.push(Finding::new(
                "CFG-003",
                None,
                format!("config.ExposedPorts includes {port:?} (SSH)"),
            ));
        }
    }
}

/// SRC-001: a base named by tag in the provenance annotations.
pub(crate) fn check_base(annotations: &BTreeMap<String, String>, out: &mut Vec<Finding>) {
    let Some(name) = annotations.get(crate::image::annotation::BASE_NAME) else {
        return;
    };
    if name.contains("@sha256:") {
        return;
    }
    // Local sources (a layout, an archive, a rootfs tarball) have no tag that
    // could move under the image; only registry references can be re-pointed.
    if crate::reference::Transport::parse(name)
        .is_ok_and(|t| !matches!(t, crate::reference::Transport::Docker(_)))
    {
        return;
    }
    let digest = annotations
        .get(crate::image::annotation::BASE_DIGEST)
        .map(|d| format!(" (it resolved to {d} at build time)"))
        .unwrap_or_default();
    let shown: String = name.chars().take(200).collect();
    out.push(Finding::new(
        "SRC-001",
        None,
        format!("the base image {shown:?} is referenced by tag, not digest{digest}"),
    ));
}
