//! Registry credentials: docker's `config.json` (`auths`, `credsStore`,
//! `credHelpers`), podman/skopeo `auth.json`, and `docker-credential-*`
//! helpers.
//!
//! Secrets stay inside [`Credential`], whose `Debug` is redacted, and are
//! never put in an error message: errors name the file and key only.

use super::{RegistryError, RegistryOptions};
use base64::Engine as _;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Docker Hub's key in `config.json`, kept for compatibility with docker.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Username and password (or personal access token).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token
    /// server for access tokens.
    IdentityToken { username: String, token: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Credential::IdentityToken { username, .. } => {
                write!(
                    f,
                    "IdentityToken {{ username: {username:?}, token: <redacted> }}"
                )
            }
        }
    }
}

impl Credential {
    /// The `Authorization: Basic …` value (only for Basic credentials).
    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Credential::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Credential::IdentityToken { .. } => None,
        }
    }
}

/// The canonical registry name for config keys: `docker.io` for all Hub
/// spellings, else the host as given (without scheme or path).
fn canonical(registry: &str) -> String {
    let r = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let r = r.split('/').next().unwrap_or(r);
    match r {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}

/// The server URL handed to helpers and used as the `auths` key on write.
fn server_key(registry: &str) -> String {
    let c = canonical(registry);
    if c == "docker.io" {
        DOCKER_HUB_KEY.into()
    } else {
        c
    }
}

/// True when an `auths` key names `registry` (keys may carry a scheme and a
/// path, e.g. `https://index.docker.io/v1/`).
fn key_matches(key: &str, registry: &str) -> bool {
    canonical(key) == canonical(registry)
}

/// `$DOCKER_CONFIG` or `~/.docker`, unless `opts` names a directory.
pub fn docker_config_dir(opts: &RegistryOptions) -> Option<PathBuf> {
    if let Some(d) = &opts.docker_config_dir {
        return Some(d.clone());
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".docker")),
    }
}

/// Reads a JSON config file; a missing file is `None`.
fn read_json(path: &Path) -> Result<Option<serde_json::Value>, RegistryError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Credentials {
                path: path.display().to_string(),
                detail: format!("cannot read it: {e}"),
            });
        }
    };
    if bytes.len() > super::MAX_DOC as usize {
        return Err(RegistryError::Credentials {
            path: path.display().to_string(),
            detail: "larger than 4 MiB; it is not a credentials file".into(),
        });
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RegistryError::Credentials {
            path: path.display().to_string(),
            // serde's message has line/column but not the offending value.
            detail: format!(
                "invalid JSON at line {} column {}; fix or delete the file",
                e.line(),
                e.column()
            ),
        })
}

/// Decodes one `auths` entry: `auth` (base64 `user:pass`) and/or
/// `identitytoken`. `None` when the entry holds neither.
fn decode_entry(
    entry: &serde_json::Value,
    path: &Path,
    key: &str,
) -> Result<Option<Credential>, RegistryError> {
    let bad = |detail: &str| RegistryError::Credentials {
        path: path.display().to_string(),
        detail: format!("auths.{key:?}: {detail}"),
    };
    let mut username = entry
        .get("username")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let mut password = entry
        .get("password")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    if let Some(auth) = entry
        .get("auth")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("`auth` is not valid base64; run `ironhull login` again"))?;
        let text = String::from_utf8(raw)
            .map_err(|_| bad("`auth` does not decode to UTF-8 text; run `ironhull login` again"))?;
        let (u, p) = text.split_once(':').ok_or_else(|| {
            bad("`auth` must encode `username:password`; run `ironhull login` again")
        })?;
        username = u.to_string();
        password = p.to_string();
    }
    if let Some(tok) = entry
        .get("identitytoken")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        return Ok(Some(Credential::IdentityToken {
            username,
            token: tok.to_string(),
        }));
    }
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential::Basic { username, password }))
}

fn valid_helper_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

fn find_helper(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let exe = format!("docker-credential-{name}");
    let owned;
    let path = match path {
        Some(p) => p,
        None => {
            owned = std::env::var_os("PATH")?;
            owned.as_os_str()
        }
    };
    std::env::split_paths(path)
        .map(|d| d.join(&exe))
        .find(|p| p.is_file())
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin.
fn run_helper(
    helper: &str,
    action: &str,
    server: &str,
    input: &[u8],
    path: Option<&OsStr>,
) -> Result<(bool, Vec<u8>), RegistryError> {
    let err = |detail: String| RegistryError::Helper {
        helper: helper.into(),
        action: action.into(),
        server: server.into(),
        detail,
    };
    if !valid_helper_name(helper) {
        return Err(err(
            "the helper name may only hold letters, digits, `-`, `_` and `.`; fix credsStore/credHelpers in the docker config".into(),
        ));
    }
    let exe = find_helper(helper, path).ok_or_else(|| {
        err(format!(
            "docker-credential-{helper} is not on PATH; install it or remove it from the docker config"
        ))
    })?;
    let mut child = Command::new(&exe)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot start {}: {e}", exe.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin gives EPIPE; its exit
        // status tells the real story.
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for {}: {e}", exe.display())))?;
    if out.status.success() {
        return Ok((true, out.stdout));
    }
    // Helpers print "credentials not found in native keychain" on a miss.
    // Their stdout/stderr never holds the secret on failure, but keep only a
    // short first line anyway.
    let mut msg = String::from_utf8_lossy(&out.stdout).into_owned();
    msg.push_str(&String::from_utf8_lossy(&out.stderr));
    let first: String = msg
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Ok((false, first.into_bytes()))
}

fn helper_get(
    helper: &str,
    registry: &str,
    path: Option<&OsStr>,
) -> Result<Option<Credential>, RegistryError> {
    let server = server_key(registry);
    let (ok, out) = run_helper(helper, "get", &server, server.as_bytes(), path)?;
    if !ok {
        let msg = String::from_utf8_lossy(&out).to_ascii_lowercase();
        if msg.contains("not found") || msg.is_empty() {
            return Ok(None);
        }
        return Err(RegistryError::Helper {
            helper: helper.into(),
            action: "get".into(),
            server,
            detail: String::from_utf8_lossy(&out).into_owned(),
        });
    }
    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|_| RegistryError::Helper {
        helper: helper.into(),
        action: "get".into(),
        server: server.clone(),
        detail: "its output is not the expected JSON {\"Username\",\"Secret\"}".into(),
    })?;
    let username = v
        .get("Username")
        .and_then(|x| x.as_str())
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(|x| x.as_str()).unwrap_or_default();
    if secret.is_empty() {
        return Ok(None);
    }
    if username == "<token>" {
        return Ok(Some(Credential::IdentityToken {
            username: String::new(),
            token: secret.into(),
        }));
    }
    Ok(Some(Credential::Basic {
        username: username.into(),
        password: secret.into(),
    }))
}

/// Looks credentials for `registry` up in docker's config then podman's
/// `auth.json` files. `helper_path` overrides `$PATH` for helpers.
pub fn lookup(
    registry: &str,
    opts: &RegistryOptions,
    helper_path: Option<&OsStr>,
) -> Result<Option<Credential>, RegistryError> {
    // An explicit $REGISTRY_AUTH_FILE is the user's stated choice: first.
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty())
        && let Some(c) = from_file(&PathBuf::from(f), registry, helper_path)?
    {
        return Ok(Some(c));
    }
    if let Some(dir) = docker_config_dir(opts)
        && let Some(c) = from_file(&dir.join("config.json"), registry, helper_path)?
    {
        return Ok(Some(c));
    }
    let mut podman = Vec::new();
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        podman.push(PathBuf::from(x).join("containers/auth.json"));
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        podman.push(PathBuf::from(h).join(".config/containers/auth.json"));
    }
    for p in podman {
        if let Some(c) = from_file(&p, registry, helper_path)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Credentials for `registry` from one docker-format file (docker's
/// config.json and podman's auth.json share the format).
pub fn from_file(
    path: &Path,
    registry: &str,
    helper_path: Option<&OsStr>,
) -> Result<Option<Credential>, RegistryError> {
    let Some(cfg) = read_json(path)? else {
        return Ok(None);
    };
    let host = canonical(registry);
    if let Some(helpers) = cfg.get("credHelpers").and_then(|v| v.as_object()) {
        for (k, v) in helpers {
            if key_matches(k, &host)
                && let Some(h) = v.as_str()
            {
                return helper_get(h, &host, helper_path);
            }
        }
    }
    if let Some(auths) = cfg.get("auths").and_then(|v| v.as_object()) {
        for (k, v) in auths {
            if key_matches(k, &host)
                && let Some(c) = decode_entry(v, path, k)?
            {
                return Ok(Some(c));
            }
        }
    }
    if let Some(store) = cfg
        .get("credsStore")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
    {
        return helper_get(store, &host, helper_path);
    }
    Ok(None)
}

/// The helper configured for `registry` in a config value, if any.
fn helper_for(cfg: &serde_json::Value, host: &str) -> Option<String> {
    if let Some(helpers) = cfg.get("credHelpers").and_then(|v| v.as_object()) {
        for (k, v) in helpers {
            if key_matches(k, host)
                && let Some(h) = v.as_str()
            {
                return Some(h.to_string());
            }
        }
    }
    cfg.get("credsStore")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn config_path(opts: &RegistryOptions) -> Result<PathBuf, RegistryError> {
    docker_config_dir(opts)
        .map(|d| d.join("config.json"))
        .ok_or_else(|| RegistryError::Credentials {
            path: "~/.docker/config.json".into(),
            detail: "neither DOCKER_CONFIG nor HOME is set; set DOCKER_CONFIG to a directory"
                .into(),
        })
}

/// Writes `cfg` to `path` atomically (temp file + rename) with mode 0600,
/// because the file holds secrets.
fn write_config(path: &Path, cfg: &serde_json::Value) -> Result<(), RegistryError> {
    let err = |detail: String| RegistryError::Credentials {
        path: path.display().to_string(),
        detail,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create its directory: {e}")))?;
    let bytes =
        serde_json::to_vec_pretty(cfg).map_err(|e| err(format!("cannot serialize: {e}")))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".config.json.")
        .tempfile_in(dir)
        .map_err(|e| err(format!("cannot create a temporary file next to it: {e}")))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    tmp.write_all(&bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| err(format!("cannot write: {e}")))?;
    tmp.persist(path)
        .map_err(|e| err(format!("cannot replace it: {}", e.error)))?;
    Ok(())
}

/// Stores `cred` for `registry`: through the configured helper when there is
/// one, else in `auths.<server>.auth` of the docker config.
pub fn store(
    registry: &str,
    cred: &Credential,
    opts: &RegistryOptions,
    helper_path: Option<&OsStr>,
) -> Result<(), RegistryError> {
    let path = config_path(opts)?;
    let mut cfg = read_json(&path)?.unwrap_or_else(|| serde_json::json!({}));
    if !cfg.is_object() {
        return Err(RegistryError::Credentials {
            path: path.display().to_string(),
            detail: "the top level is not a JSON object; fix or delete the file".into(),
        });
    }
    let server = server_key(registry);
    let (username, secret) = match cred {
        Credential::Basic { username, password } => (username.clone(), password.clone()),
        Credential::IdentityToken { token, .. } => ("<token>".to_string(), token.clone()),
    };
    if let Some(h) = helper_for(&cfg, &canonical(registry)) {
        let input =
            serde_json::json!({"ServerURL": server, "Username": username, "Secret": secret});
        let bytes = serde_json::to_vec(&input).unwrap_or_default();
        let (ok, out) = run_helper(&h, "store", &server, &bytes, helper_path)?;
        if !ok {
            return Err(RegistryError::Helper {
                helper: h,
                action: "store".into(),
                server,
                detail: String::from_utf8_lossy(&out).into_owned(),
            });
        }
        return Ok(());
    }
    let entry = match cred {
        Credential::Basic { username, password } => serde_json::json!({
            "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        }),
        Credential::IdentityToken { token, .. } => serde_json::json!({ "identitytoken": token }),
    };
    let root = cfg
        .as_object_mut()
        .ok_or_else(|| RegistryError::Credentials {
            path: path.display().to_string(),
            detail: "the top level is not a JSON object".into(),
        })?;
    let auths = root.entry("auths").or_insert_with(|| serde_json::json!({}));
    if !auths.is_object() {
        *auths = serde_json::json!({});
    }
    if let Some(a) = auths.as_object_mut() {
        // Drop other spellings of the same registry so lookups are unambiguous.
        let host = canonical(registry);
        a.retain(|k, _| !key_matches(k, &host));
        a.insert(server, entry);
    }
    write_config(&path, &cfg)
}

/// Removes credentials for `registry` (helper `erase`, or the `auths` entry).
pub fn erase(
    registry: &str,
    opts: &RegistryOptions,
    helper_path: Option<&OsStr>,
) -> Result<(), RegistryError> {
    let path = config_path(opts)?;
    let Some(mut cfg) = read_json(&path)? else {
        return Ok(());
    };
    let host = canonical(registry);
    let server = server_key(registry);
    if let Some(h) = helper_for(&cfg, &host) {
        let (ok, out) = run_helper(&h, "erase", &server, server.as_bytes(), helper_path)?;
        let msg = String::from_utf8_lossy(&out).to_ascii_lowercase();
        if !ok && !msg.contains("not found") {
            return Err(RegistryError::Helper {
                helper: h,
                action: "erase".into(),
                server,
                detail: String::from_utf8_lossy(&out).into_owned(),
            });
        }
    }
    let mut changed = false;
    if let Some(a) = cfg.get_mut("auths").and_then(|v| v.as_object_mut()) {
        let before = a.len();
        a.retain(|k, _| !key_matches(k, &host));
        changed = a.len() != before;
    }
    if changed {
        write_config(&path, &cfg)?;
    }
    Ok(())
}

/// `PATH`-style list helper for callers that want one extra directory.
pub fn prepend_path(dir: &Path) -> OsString {
    let mut parts = vec![dir.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(parts).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> RegistryOptions {
        RegistryOptions {
            docker_config_dir: Some(dir.to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn auths_with_hub_key_and_debug_redacts() {
        let d = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            d.path().join("config.json"),
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"localhost:5000":{{"identitytoken":"tok"}}}}}}"#),
        )
        .unwrap();
        let c = from_file(&d.path().join("config.json"), "docker.io", None)
            .unwrap()
            .unwrap();
        assert_eq!(
            c,
            Credential::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        let t = from_file(&d.path().join("config.json"), "localhost:5000", None)
            .unwrap()
            .unwrap();
        assert!(matches!(t, Credential::IdentityToken { ref token, .. } if token == "tok"));
        assert!(!format!("{t:?}").contains("tok\""));
        assert_eq!(
            from_file(&d.path().join("config.json"), "ghcr.io", None).unwrap(),
            None
        );
    }

    #[test]
    fn bad_base64_names_file_and_key_not_secret() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"auths":{"r.example":{"auth":"!!notbase64secret"}}}"#,
        )
        .unwrap();
        let e = from_file(&p, "r.example", None).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("r.example"), "{e}");
        assert!(!e.contains("notbase64secret"), "{e}");
    }

    #[test]
    fn store_then_lookup_then_erase_keeps_other_keys() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"auths":{"other.example":{"auth":"eDp5"}},"psFormat":"x"}"#,
        )
        .unwrap();
        let o = opts(d.path());
        let cred = Credential::Basic {
            username: "u".into(),
            password: "p:w".into(),
        };
        store("docker.io", &cred, &o, None).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert!(v["auths"][DOCKER_HUB_KEY]["auth"].is_string());
        assert_eq!(from_file(&p, "index.docker.io", None).unwrap(), Some(cred));
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        erase("docker.io", &o, None).unwrap();
        assert_eq!(from_file(&p, "docker.io", None).unwrap(), None);
        assert!(from_file(&p, "other.example", None).unwrap().is_some());
    }

    #[test]
    fn helper_is_called_with_server_on_stdin() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let h = bin.join("docker-credential-unit");
        std::fs::write(
            &h,
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = reg.example:5000 ]; then echo '{\"Username\":\"bob\",\"Secret\":\"pw\"}'; exit 0; fi\necho 'credentials not found in native keychain'; exit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&h, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = d.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"credHelpers":{"reg.example:5000":"unit"},"credsStore":"unit"}"#,
        )
        .unwrap();
        let path = bin.as_os_str();
        assert_eq!(
            from_file(&p, "reg.example:5000", Some(path)).unwrap(),
            Some(Credential::Basic {
                username: "bob".into(),
                password: "pw".into()
            })
        );
        // credsStore fallback, helper says not found -> None.
        assert_eq!(from_file(&p, "other.example", Some(path)).unwrap(), None);
        // Missing helper -> clear error.
        std::fs::write(&p, r#"{"credsStore":"absent"}"#).unwrap();
        let e = from_file(&p, "x.example", Some(path))
            .unwrap_err()
            .to_string();
        assert!(e.contains("docker-credential-absent is not on PATH"), "{e}");
        std::fs::write(&p, r#"{"credsStore":"../evil"}"#).unwrap();
        assert!(from_file(&p, "x.example", Some(path)).is_err());
    }
}
