//! Turns the spanned TOML tree into the validated model, section by section.
//! Every refusal carries the location of the offending key or value.

use super::error::SpecError;
use super::model::*;
use super::raw::Table;
use crate::digest::Digest;
use crate::fs::ImagePath;
use crate::image::Platform;
use crate::reference::Transport;
use crate::secrets;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::DeValue;

const TOP_KEYS: &[&str] = &[
    "image",
    "base",
    "user",
    "artifacts",
    "config",
    "layers",
    "policy",
    "repositories",
    "packages",
];
const IMAGE_KEYS: &[&str] = &["name", "tags", "platforms"];
const BASE_KEYS: &[&str] = &["image"];
const USER_KEYS: &[&str] = &["uid", "gid", "name", "home"];
const ARTIFACT_KEYS: &[&str] = &[
    "src",
    "dest",
    "mode",
    "sha256",
    "writable",
    "strip_prefix",
    "include",
    "exclude",
];
const CONFIG_KEYS: &[&str] = &[
    "entrypoint",
    "cmd",
    "env",
    "workdir",
    "ports",
    "labels",
    "annotations",
    "stop_signal",
    "healthcheck",
];
const HEALTH_KEYS: &[&str] = &["test", "interval", "timeout", "start_period", "retries"];
const LAYERS_KEYS: &[&str] = &["compression", "level", "budget"];
const POLICY_KEYS: &[&str] = &["allow"];
const ALLOW_KEYS: &[&str] = &["check", "path", "reason"];

const EXEC_HINT: &str = "Write the exec form, e.g. [\"/app/x\", \"--flag\"]";

pub(super) fn spec(root: &Table<'_, '_>, path: &Path) -> Result<Spec, SpecError> {
    root.check_keys(TOP_KEYS)?;
    let dir = spec_dir(path);

    let base_t = root
        .table("base")?
        .ok_or_else(|| root.missing("base", "[base] image = \"static\""))?;
    let base = base_section(&base_t, dir)?;

    let image_t = root
        .table("image")?
        .ok_or_else(|| root.missing("image", "[image] name = \"hello\""))?;
    let image = image_section(&image_t, &base)?;

    let user_t = root
        .table("user")?
        .ok_or_else(|| root.missing("user", "[user] uid = 10001"))?;
    let user = user_section(&user_t)?;

    let mut artifacts = Vec::new();
    let mut dests: HashMap<ImagePath, usize> = HashMap::new();
    for t in root.tables("artifacts")? {
        let (a, dest_span) = artifact(&t, dir)?;
        if let ArtifactSrc::PerPlatform(m) = &a.src
            && let Some(missing) = image.platforms().iter().find(|p| !m.contains_key(*p))
        {
            return Err(SpecError::MissingPlatformSource {
                at: t.here(),
                platform: missing.to_string(),
                dest: a.dest().to_abs(),
            });
        }
        let here = root.ctx.at(&dest_span);
        if let Some(first) = dests.get(&a.dest) {
            return Err(SpecError::Duplicate {
                at: here,
                what: "artifact dest",
                value: a.dest.to_abs(),
                first_line: *first,
            });
        }
        dests.insert(a.dest.clone(), here.line);
        artifacts.push(a);
    }

    let config = match root.table("config")? {
        Some(t) => config_section(&t)?,
        None => Config {
            process: Process::Unset,
            env: BTreeMap::new(),
            workdir: None,
            ports: Vec::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            stop_signal: None,
            healthcheck: None,
        },
    };

    let layers = match root.table("layers")? {
        Some(t) => layers_section(&t)?,
        None => Layers::default(),
    };

    let mut waivers = Vec::new();
    if let Some(p) = root.table("policy")? {
        p.check_keys(POLICY_KEYS)?;
        for t in p.tables("allow")? {
            waivers.push(waiver(&t)?);
        }
    }

    let mut repositories = Vec::new();
    let repo_tables = root.tables("repositories")?;
    for t in &repo_tables {
        repositories.push(super::packages::repository(t, dir)?);
    }
    let packages = match root.table("packages")? {
        Some(t) => {
            let p = super::packages::packages(&t)?;
            if repositories.is_empty() {
                return Err(SpecError::BadPackages {
                    at: t.here(),
                    key: "packages.install".into(),
                    value: p.install().iter().map(|r| r.text.clone()).collect::<Vec<_>>().join(", "),
                    why: "no [[repositories]] to install them from; add one with kind, url and keyring".into(),
                });
            }
            p
        }
        None => {
            if let Some(t) = repo_tables.first() {
                return Err(SpecError::BadPackages {
                    at: t.here(),
                    key: "repositories".into(),
                    value: repositories.first().map(|r| r.url().to_string()).unwrap_or_default(),
                    why: "nothing is installed from it; add [packages] install = [...] or remove the repository".into(),
                });
            }
            super::packages::Packages::default()
        }
    };
    if let (Some(first), Some((t, other))) = (
        repositories.first(),
        repo_tables
            .iter()
            .zip(&repositories)
            .find(|(_, r)| r.kind() != repositories[0].kind()),
    ) {
        return Err(SpecError::BadPackages {
            at: t.here(),
            key: "kind".into(),
            value: other.kind().as_str().into(),
            why: format!(
                "the first repository (line {}) is {}; one image takes packages of one kind",
                first.line(),
                first.kind().as_str()
            ),
        });
    }

    Ok(Spec {
        repositories,
        packages,
        path: path.to_path_buf(),
        text_digest: crate::digest::Digest::of(b""),
        image,
        base,
        user,
        artifacts,
        config,
        layers,
        waivers,
    })
}

fn base_section(t: &Table<'_, '_>, dir: &Path) -> Result<Transport, SpecError> {
    t.check_keys(BASE_KEYS)?;
    let (s, span) = t.req_str("image", "image = \"static\" or image = \"alpine:3.19\"")?;
    let tr = Transport::parse_base(s).map_err(|source| SpecError::BadBase {
        at: t.ctx.at(&span),
        source,
    })?;
    Ok(tr.resolve_relative(dir))
}

fn image_section(t: &Table<'_, '_>, base: &Transport) -> Result<ImageSection, SpecError> {
    t.check_keys(IMAGE_KEYS)?;
    let (n, span) = t.req_str("name", "name = \"hello\"")?;
    let name = ImageName::parse(n).map_err(|why| SpecError::BadName {
        at: t.ctx.at(&span),
        what: "image name",
        value: n.into(),
        why,
    })?;

    let mut tags: Vec<Tag> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    match t.str_array("tags", "Write tags = [\"1.0.0\", \"latest\"]")? {
        None => tags.push(Tag::parse("latest").map_err(|why| SpecError::BadName {
            at: t.here(),
            what: "tag",
            value: "latest".into(),
            why,
        })?),
        Some((list, arr_span)) => {
            if list.is_empty() {
                return Err(SpecError::BadName {
                    at: t.ctx.at(&arr_span),
                    what: "tags",
                    value: "[]".into(),
                    why: "give at least one tag, or remove the key to get \"latest\"",
                });
            }
            for (s, span) in list {
                let at = t.ctx.at(&span);
                if let Some(first) = seen.get(s) {
                    return Err(SpecError::Duplicate {
                        at,
                        what: "tag",
                        value: s.into(),
                        first_line: *first,
                    });
                }
                seen.insert(s, at.line);
                tags.push(Tag::parse(s).map_err(|why| SpecError::BadName {
                    at,
                    what: "tag",
                    value: s.into(),
                    why,
                })?);
            }
        }
    }

    let mut platforms: Vec<Platform> = Vec::new();
    if let Some((list, _)) = t.str_array("platforms", "Write platforms = [\"linux/amd64\"]")? {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (s, span) in list {
            let at = t.ctx.at(&span);
            if let Some(first) = seen.get(s) {
                return Err(SpecError::Duplicate {
                    at,
                    what: "platform",
                    value: s.into(),
                    first_line: *first,
                });
            }
            seen.insert(s, at.line);
            let p = Platform::parse(s)
                .filter(Platform::is_buildable)
                .ok_or_else(|| SpecError::BadPlatform {
                    at,
                    value: s.into(),
                })?;
            platforms.push(p);
        }
    }
    if platforms.is_empty() && *base == Transport::Static {
        platforms.push(Platform::linux("amd64", None));
    }
    Ok(ImageSection {
        name,
        tags,
        platforms,
    })
}

fn id(t: &Table<'_, '_>, key: &str) -> Result<Option<NonRootId>, SpecError> {
    let Some((n, _, span)) = t.int(key)? else {
        return Ok(None);
    };
    let at = t.ctx.at(&span);
    if n == 0 {
        return Err(SpecError::RootUser {
            at,
            key: t.key_path(key),
            value: "0".into(),
        });
    }
    u32::try_from(n)
        .ok()
        .and_then(NonRootId::new)
        .map(Some)
        .ok_or_else(|| SpecError::OutOfRange {
            at,
            key: t.key_path(key),
            value: n.to_string(),
            min: 1,
            max: i64::from(NonRootId::MAX),
            hint: "Pick an unprivileged id such as 10001",
        })
}

fn user_section(t: &Table<'_, '_>) -> Result<User, SpecError> {
    t.check_keys(USER_KEYS)?;
    let uid = id(t, "uid")?.ok_or_else(|| t.missing("uid", "uid = 10001"))?;
    let gid = id(t, "gid")?.unwrap_or(uid);
    let name = match t.str("name")? {
        None => UserName::parse("app").map_err(|why| SpecError::BadName {
            at: t.here(),
            what: "user name",
            value: "app".into(),
            why,
        })?,
        Some((s, span)) => {
            let at = t.ctx.at(&span);
            if s == "root" || s == "0" {
                return Err(SpecError::RootUser {
                    at,
                    key: t.key_path("name"),
                    value: format!("{s:?}"),
                });
            }
            UserName::parse(s).map_err(|why| SpecError::BadName {
                at,
                what: "user name",
                value: s.into(),
                why,
            })?
        }
    };
    let home = match t.str("home")? {
        None => {
            let d = format!("/home/{name}");
            image_path(&d, false).map_err(|why| bad_path(t, "home", &d, &t.span, why))?
        }
        Some((s, span)) => {
            let p = image_path(s, false).map_err(|why| bad_path(t, "home", s, &span, why))?;
            if let Some(why) = system_home(&p) {
                return Err(bad_path(t, "home", s, &span, why));
            }
            p
        }
    };
    Ok(User {
        uid,
        gid,
        name,
        home,
    })
}

/// System directories a home may not be or lie under: the user owns its home
/// (mode 0700), so a home there would hand it part of the system. `/var`
/// itself is refused, but a dedicated subdirectory such as `/var/lib/app` is
/// fine.
const SYSTEM_DIRS: &[&str] = &[
    "etc", "usr", "bin", "sbin", "boot", "root", "proc", "sys", "dev", "run",
];

/// Why `home` cannot be the user's home directory, if so.
fn system_home(home: &ImagePath) -> Option<String> {
    let fix = "use a dedicated directory such as /home/app or /var/lib/app";
    if home.is_root() {
        return Some(format!(
            "is the root directory, which the user would own; {fix}"
        ));
    }
    let top = home.components().next().unwrap_or("");
    if SYSTEM_DIRS.contains(&top) || top.starts_with("lib") {
        return Some(format!(
            "{} is a system directory; {fix}",
            if home.components().count() == 1 {
                home.to_abs()
            } else {
                format!("it lies under /{top}, which")
            }
        ));
    }
    if home.as_str() == "var" {
        return Some(format!("/var holds system state; {fix}"));
    }
    None
}

fn bad_path(
    t: &Table<'_, '_>,
    key: &str,
    value: &str,
    span: &Range<usize>,
    why: String,
) -> SpecError {
    SpecError::BadPath {
        at: t.ctx.at(span),
        key: t.key_path(key),
        value: value.into(),
        why,
    }
}

fn globs(t: &Table<'_, '_>, key: &str) -> Result<(Vec<String>, GlobSet), SpecError> {
    let mut b = GlobSetBuilder::new();
    let mut pats = Vec::new();
    let at_arr;
    if let Some((list, arr_span)) = t.str_array(key, "Write e.g. [\"**/*.js\"]")? {
        at_arr = t.ctx.at(&arr_span);
        for (p, span) in list {
            let g = Glob::new(p).map_err(|e| SpecError::BadGlob {
                at: t.ctx.at(&span),
                pattern: p.into(),
                message: e.kind().to_string(),
            })?;
            b.add(g);
            pats.push(p.to_string());
        }
    } else {
        at_arr = t.here();
    }
    let set = b.build().map_err(|e| SpecError::BadGlob {
        at: at_arr,
        pattern: pats.join(", "),
        message: e.to_string(),
    })?;
    Ok((pats, set))
}

fn artifact(t: &Table<'_, '_>, dir: &Path) -> Result<(Artifact, Range<usize>), SpecError> {
    t.check_keys(ARTIFACT_KEYS)?;
    let check_src = |s: &str, span: &Range<usize>, key: &str| -> Result<PathBuf, SpecError> {
        if s.is_empty() || s.contains('\0') {
            return Err(bad_path(
                t,
                key,
                s,
                span,
                "the source must be a non-empty path without NUL bytes, relative to the spec's directory or absolute".into(),
            ));
        }
        if let Err(why) = crate::spec::model::check_placeholders(s) {
            return Err(bad_path(t, key, s, span, why));
        }
        let p = PathBuf::from(s);
        Ok(if p.is_absolute() { p } else { dir.join(p) })
    };
    let src = match t.get("src").map(|v| v.get_ref()) {
        Some(DeValue::Table(_)) => {
            let mut m = BTreeMap::new();
            for (k, kspan, v, vspan) in t.str_map("src")? {
                let platform = Platform::parse(k)
                    .filter(Platform::is_buildable)
                    .ok_or_else(|| SpecError::BadPlatform {
                        at: t.ctx.at(&kspan),
                        value: k.into(),
                    })?;
                m.insert(platform, check_src(v, &vspan, &format!("src.\"{k}\""))?);
            }
            if m.is_empty() {
                return Err(t.missing("src", "src = { \"linux/amd64\" = \"dist/amd64/app\" }"));
            }
            ArtifactSrc::PerPlatform(m)
        }
        _ => {
            let (src_s, src_span) = t.req_str("src", "src = \"build/hello\"")?;
            ArtifactSrc::Path(check_src(src_s, &src_span, "src")?)
        }
    };
    let (dest_s, dest_span) = t.req_str("dest", "dest = \"/app/hello\"")?;
    let dest = artifact_dest(dest_s).map_err(|why| bad_path(t, "dest", dest_s, &dest_span, why))?;

    let mode = match t.int("mode")? {
        None => None,
        Some((n, radix, span)) => {
            let at = t.ctx.at(&span);
            if radix != 8 {
                return Err(SpecError::BadMode {
                    at,
                    mode: n,
                    why: "write the mode in octal with the 0o prefix, e.g. mode = 0o555 (TOML reads 555 as decimal)",
                });
            }
            let m = u32::try_from(n).map_err(|_| SpecError::BadMode {
                at: at.clone(),
                mode: n,
                why: "only permission bits (0o000-0o777) may be set",
            })?;
            Some(FileMode::new(m).map_err(|why| SpecError::BadMode { at, mode: n, why })?)
        }
    };

    let sha256 = match t.str("sha256")? {
        None => None,
        Some((s, span)) => {
            let hex = s.strip_prefix("sha256:").unwrap_or(s).to_ascii_lowercase();
            Some(Digest::from_hex(&hex).map_err(|_| SpecError::BadDigest {
                at: t.ctx.at(&span),
                value: s.chars().take(80).collect(),
            })?)
        }
    };
    let writable = t.bool("writable")?.unwrap_or(false);

    let strip_prefix = match t.str("strip_prefix")? {
        None => None,
        Some((s, span)) => {
            let bad = |why: &str| bad_path(t, "strip_prefix", s, &span, why.into());
            if s.starts_with('/') {
                return Err(bad(
                    "strip_prefix is relative to the source directory; drop the leading `/`",
                ));
            }
            let p = ImagePath::parse(s).map_err(|e| bad(&e.to_string()))?;
            if p.is_root() {
                return Err(bad(
                    "strip_prefix is empty; remove the key or name a directory like \"dist/\"",
                ));
            }
            Some(p)
        }
    };
    let (include, include_set) = globs(t, "include")?;
    let (exclude, exclude_set) = globs(t, "exclude")?;
    Ok((
        Artifact {
            src,
            dest,
            mode,
            sha256,
            writable,
            strip_prefix,
            include,
            exclude,
            include_set,
            exclude_set,
        },
        dest_span,
    ))
}

/// Reads an exec-form array; a string is shell form and refused.
type SpannedArgv = (Vec<String>, Range<usize>);

fn argv(t: &Table<'_, '_>, key: &str) -> Result<Option<SpannedArgv>, SpecError> {
    if let Some(v) = t.get(key)
        && matches!(v.get_ref(), DeValue::String(_))
    {
        return Err(SpecError::ShellForm {
            at: t.ctx.at(&v.span()),
            key: t.key_path(key),
        });
    }
    let Some((l, span)) = t.str_array(key, EXEC_HINT)? else {
        return Ok(None);
    };
    // The argv ends up in the image config, which anyone who pulls the
    // image can read: the same rules as SEC-003.
    let words: Vec<&str> = l.iter().map(|(s, _)| *s).collect();
    if let Some((i, hit)) = secrets::argv_secret(&words) {
        let at = l.get(i).map(|(_, sp)| sp).unwrap_or(&span);
        return Err(SpecError::SecretInArgv {
            at: t.ctx.at(at),
            key: t.key_path(key),
            index: i,
            rule: hit.rule,
        });
    }
    Ok(Some((
        l.into_iter().map(|(s, _)| s.to_string()).collect(),
        span,
    )))
}

fn exec(
    t: &Table<'_, '_>,
    key: &str,
    argv: Vec<String>,
    span: &Range<usize>,
) -> Result<ExecForm, SpecError> {
    let at = t.ctx.at(span);
    let key = t.key_path(key);
    ExecForm::new(argv).map_err(|e| match e {
        ExecError::Empty => SpecError::EmptyExec { at, key },
        ExecError::Shell(program) => SpecError::ShellEntrypoint { at, key, program },
        ExecError::Relative(program) => SpecError::RelativeProgram { at, key, program },
    })
}

fn config_section(t: &Table<'_, '_>) -> Result<Config, SpecError> {
    t.check_keys(CONFIG_KEYS)?;
    let ep = argv(t, "entrypoint")?.filter(|(v, _)| !v.is_empty());
    let cmd = argv(t, "cmd")?.filter(|(v, _)| !v.is_empty());
    let process = match (ep, cmd) {
        (Some((ep, ep_span)), cmd) => {
            let entrypoint = exec(t, "entrypoint", ep, &ep_span)?;
            let (cmd, cmd_span) = cmd.unwrap_or((Vec::new(), ep_span));
            // `entrypoint = ["/usr/bin/env"]` + `cmd = ["sh"]` is a shell too.
            let mut full = entrypoint.argv().to_vec();
            full.extend(cmd.iter().cloned());
            if let Some(sh) = shell_in_argv(&full) {
                return Err(SpecError::ShellEntrypoint {
                    at: t.ctx.at(&cmd_span),
                    key: t.key_path("cmd"),
                    program: sh.to_string(),
                });
            }
            Process::Entrypoint { entrypoint, cmd }
        }
        (None, Some((cmd, span))) => Process::Cmd(exec(t, "cmd", cmd, &span)?),
        (None, None) => Process::Unset,
    };

    let mut env = BTreeMap::new();
    for (k, kspan, v, vspan) in t.str_map("env")? {
        let b = k.as_bytes();
        let ok = !b.is_empty()
            && (b[0].is_ascii_alphabetic() || b[0] == b'_')
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
        if !ok {
            return Err(SpecError::BadEnvKey {
                at: t.ctx.at(&kspan),
                key: k.into(),
            });
        }
        if let Some(hit) = secrets::env_var_secret(k, v) {
            return Err(SpecError::SecretInEnv {
                at: t.ctx.at(&vspan),
                key: k.into(),
                rule: hit.rule,
            });
        }
        env.insert(k.to_string(), v.to_string());
    }

    let workdir = match t.str("workdir")? {
        None => None,
        Some((s, span)) => {
            Some(image_path(s, true).map_err(|why| bad_path(t, "workdir", s, &span, why))?)
        }
    };

    let mut ports = Vec::new();
    if let Some(v) = t.get("ports") {
        let DeValue::Array(a) = v.get_ref() else {
            return Err(t.mismatch("ports", v, "an array", "Write ports = [\"8080/tcp\"]"));
        };
        let mut seen: HashMap<Port, usize> = HashMap::new();
        for e in a.iter() {
            let at = t.ctx.at(&e.span());
            let raw = match e.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i.to_string(),
                _ => {
                    return Err(t.mismatch(
                        "ports",
                        e,
                        "a port string or number",
                        "Write ports = [\"8080/tcp\"]",
                    ));
                }
            };
            let p = Port::parse(&raw).map_err(|why| SpecError::BadPort {
                at: at.clone(),
                value: raw.clone(),
                why,
            })?;
            if let Some(first) = seen.get(&p) {
                return Err(SpecError::Duplicate {
                    at,
                    what: "port",
                    value: p.to_string(),
                    first_line: *first,
                });
            }
            seen.insert(p, at.line);
            ports.push(p);
        }
        ports.sort();
    }

    let labels = metadata(t, "labels", "label")?;
    let annotations = metadata(t, "annotations", "annotation")?;

    let stop_signal = match t.str("stop_signal")? {
        None => None,
        Some((s, span)) => Some(StopSignal::parse(s).ok_or_else(|| SpecError::BadSignal {
            at: t.ctx.at(&span),
            value: s.into(),
        })?),
    };

    let healthcheck = match t.table("healthcheck")? {
        None => None,
        Some(h) => Some(healthcheck(&h)?),
    };

    Ok(Config {
        process,
        env,
        workdir,
        ports,
        labels,
        annotations,
        stop_signal,
        healthcheck,
    })
}

fn metadata(
    t: &Table<'_, '_>,
    key: &str,
    what: &'static str,
) -> Result<BTreeMap<String, String>, SpecError> {
    let mut out = BTreeMap::new();
    for (k, kspan, v, vspan) in t.str_map(key)? {
        if k.is_empty() || k.chars().any(char::is_control) {
            return Err(SpecError::BadName {
                at: t.ctx.at(&kspan),
                what: if key == "labels" {
                    "label key"
                } else {
                    "annotation key"
                },
                value: k.into(),
                why: "keys must be non-empty and printable, e.g. \"org.opencontainers.image.source\"",
            });
        }
        if let Some(hit) = secrets::env_var_secret(k, v) {
            return Err(SpecError::SecretInMetadata {
                at: t.ctx.at(&vspan),
                section: what,
                key: k.into(),
                rule: hit.rule,
            });
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn duration(t: &Table<'_, '_>, key: &str) -> Result<Option<std::time::Duration>, SpecError> {
    match t.str(key)? {
        None => Ok(None),
        Some((s, span)) => parse_duration(s)
            .map(Some)
            .ok_or_else(|| SpecError::BadDuration {
                at: t.ctx.at(&span),
                value: s.into(),
            }),
    }
}

fn healthcheck(t: &Table<'_, '_>) -> Result<Healthcheck, SpecError> {
    t.check_keys(HEALTH_KEYS)?;
    let (mut test, span) =
        argv(t, "test")?.ok_or_else(|| t.missing("test", "test = [\"/app/x\", \"--health\"]"))?;
    // Docker's own syntax: ["CMD", argv...] is exec form; CMD-SHELL needs a shell.
    match test.first().map(String::as_str) {
        Some("CMD") => {
            test.remove(0);
        }
        Some("CMD-SHELL") => {
            return Err(SpecError::ShellForm {
                at: t.ctx.at(&span),
                key: t.key_path("test"),
            });
        }
        _ => {}
    }
    let test = exec(t, "test", test, &span)?;
    let retries = match t.int("retries")? {
        None => None,
        Some((n, _, span)) => {
            Some(u32::try_from(n).ok().filter(|n| *n <= 100).ok_or_else(|| {
                SpecError::OutOfRange {
                    at: t.ctx.at(&span),
                    key: t.key_path("retries"),
                    value: n.to_string(),
                    min: 0,
                    max: 100,
                    hint: "A handful of retries (e.g. 3) is typical",
                }
            })?)
        }
    };
    Ok(Healthcheck {
        test,
        interval: duration(t, "interval")?,
        timeout: duration(t, "timeout")?,
        start_period: duration(t, "start_period")?,
        retries,
    })
}

fn ranged(
    t: &Table<'_, '_>,
    key: &str,
    min: i64,
    max: i64,
    hint: &'static str,
) -> Result<Option<u32>, SpecError> {
    match t.int(key)? {
        None => Ok(None),
        Some((n, _, span)) => {
            if (min..=max).contains(&n) {
                Ok(u32::try_from(n).ok())
            } else {
                Err(SpecError::OutOfRange {
                    at: t.ctx.at(&span),
                    key: t.key_path(key),
                    value: n.to_string(),
                    min,
                    max,
                    hint,
                })
            }
        }
    }
}

fn layers_section(t: &Table<'_, '_>) -> Result<Layers, SpecError> {
    t.check_keys(LAYERS_KEYS)?;
    let compression = match t.str("compression")? {
        None => Compression::Gzip,
        Some(("gzip", _)) => Compression::Gzip,
        Some(("zstd", _)) => Compression::Zstd,
        Some(("none", _)) => Compression::None,
        Some((s, span)) => {
            return Err(SpecError::BadCompression {
                at: t.ctx.at(&span),
                value: s.into(),
            });
        }
    };
    // The level is on the chosen codec's own scale, so `level = 19` means
    // what zstd users expect and gzip's 6 stays gzip's 6.
    let level = match compression {
        Compression::Zstd => ranged(
            t,
            "level",
            1,
            19,
            "with compression = \"zstd\" the level is zstd's: 1 is fastest, 19 smallest; 3 is the default",
        )?
        .unwrap_or(Layers::DEFAULT_ZSTD_LEVEL),
        Compression::Gzip | Compression::None => ranged(
            t,
            "level",
            1,
            9,
            "1 is fastest, 9 smallest; 6 is the default (with compression = \"zstd\", 1..=19 is allowed)",
        )?
        .unwrap_or(Layers::DEFAULT_LEVEL),
    };
    let budget = ranged(
        t,
        "budget",
        1,
        100,
        "Artifacts are grouped into at most this many layers; 8 is the default",
    )?
    .unwrap_or(Layers::DEFAULT_BUDGET);
    Ok(Layers {
        compression,
        level,
        budget,
    })
}

fn waiver(t: &Table<'_, '_>) -> Result<Waiver, SpecError> {
    t.check_keys(ALLOW_KEYS)?;
    let (c, cspan) = t.req_str("check", "check = \"FS-001\"")?;
    let check = CheckId::parse(c).map_err(|e| match e {
        CheckIdError::Core => SpecError::CoreCheckWaiver {
            at: t.ctx.at(&cspan),
            check: c.into(),
        },
        CheckIdError::Malformed => SpecError::BadCheckId {
            at: t.ctx.at(&cspan),
            value: c.into(),
        },
    })?;
    let path = match t.str("path")? {
        None => None,
        Some((s, span)) => {
            Some(image_path(s, true).map_err(|why| bad_path(t, "path", s, &span, why))?)
        }
    };
    let (reason, rspan) = t.req_str("reason", "reason = \"needed for version display\"")?;
    if reason.trim().is_empty() {
        return Err(SpecError::EmptyReason {
            at: t.ctx.at(&rspan),
        });
    }
    Ok(Waiver {
        check,
        path,
        reason: reason.trim().to_string(),
    })
}
