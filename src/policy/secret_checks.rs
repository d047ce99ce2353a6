//! SEC-001 over the merged view and SEC-003 over the image config. The
//! per-layer SEC-001/SEC-002 checks are in `layer_scan`; all of them ask the
//! one detector in [`crate::secrets`].

use super::report::Finding;
use crate::fs::{EntryKind, MergedTree};
use crate::secrets;
use serde_json::Value;
use std::collections::BTreeSet;

/// SEC-001 over the merged view, for files not already reported by the layer
/// scan (which sees every layer and the full content, so it is more precise).
pub(crate) fn check_secret_files(
    tree: &MergedTree,
    already: &BTreeSet<String>,
    out: &mut Vec<Finding>,
) {
    for (path, node) in tree.iter() {
        if node.entry.is_dir() || matches!(node.entry.kind, EntryKind::Symlink { .. }) {
            continue;
        }
        let abs = path.to_abs();
        if already.contains(&abs) {
            continue;
        }
        let why = match tree.content(path) {
            Some(c) => secrets::scan_file_bytes(path, c)
                .into_iter()
                .find(secrets::SecretHit::is_file_rule)
                .map(|h| h.description),
            None => secrets::secret_file_name(path),
        };
        if let Some(why) = why {
            out.push(Finding::new("SEC-001", Some(abs), format!("{path}: {why}")));
        }
    }
}

/// Findings per config, so a hostile config cannot flood the report.
const MAX_CONFIG_FINDINGS: usize = 256;
/// JSON nesting followed; deeper values are still walked as strings by
/// nothing, so the cap is generous (configs are flat).
const MAX_DEPTH: usize = 64;

/// SEC-003: every string of the image config JSON, not only `Env` and
/// `Labels`: `Cmd`, `Entrypoint`, `Healthcheck.Test`, `OnBuild`, the build
/// history, and any field a base config passes through that ironhull does
/// not know. `Env` entries are judged as `NAME=value`; a string that is the
/// value of an object member as `member = value` plus its words as a
/// command line; an array of strings as an argv.
pub(crate) fn check_config_secrets(root: &Value, out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    walk(root, "", None, 0, &mut found);
    for (at, h) in found.into_iter().take(MAX_CONFIG_FINDINGS) {
        out.push(Finding::new(
            "SEC-003",
            None,
            format!("{at}: {} ({})", h.description, h.preview),
        ));
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn walk(
    v: &Value,
    at: &str,
    key: Option<&str>,
    depth: usize,
    out: &mut Vec<(String, secrets::SecretHit)>,
) {
    if depth > MAX_DEPTH || out.len() >= MAX_CONFIG_FINDINGS {
        return;
    }
    match v {
        Value::String(s) => {
            if let Some(h) = secrets::config_string_secret(key, s) {
                out.push((at.to_string(), h));
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                walk(v, &join(at, k), Some(k), depth + 1, out);
            }
        }
        Value::Array(a) => {
            let env = key == Some("Env");
            let strings: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
            let mut flagged = BTreeSet::new();
            if !env && strings.len() == a.len() && strings.len() > 1 {
                // An argv: `--password VALUE` spans two elements.
                if let Some((i, h)) = secrets::argv_secret(&strings) {
                    flagged.insert(i);
                    out.push((format!("{at}[{i}]"), h));
                }
            }
            for (i, item) in a.iter().enumerate() {
                if flagged.contains(&i) {
                    continue;
                }
                let here = format!("{at}[{i}]");
                match (env, item) {
                    (true, Value::String(s)) => {
                        let (k, val) = s.split_once('=').unwrap_or((s.as_str(), ""));
                        if let Some(h) = secrets::env_var_secret(k, val) {
                            out.push((format!("{here} {k}"), h));
                        }
                    }
                    _ => walk(item, &here, None, depth + 1, out),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec003(cfg: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(cfg).unwrap();
        let mut out = Vec::new();
        check_config_secrets(&v, &mut out);
        out.into_iter().map(|f| f.message).collect()
    }

    #[test]
    fn every_string_of_the_config_is_checked() {
        let tok = format!("ghp_{}", "b".repeat(36));
        let cases = [
            format!(r#"{{"config":{{"Cmd":["/app","--token","{tok}"]}}}}"#),
            r#"{"config":{"Entrypoint":["/app","--password","Zx81kq2mv"]}}"#.to_string(),
            r#"{"config":{"Healthcheck":{"Test":["CMD","/probe","--db-password=Zx81kq2mv"]}}}"#
                .to_string(),
            r#"{"config":{"Healthcheck":{"Test":["CMD-SHELL","curl -u bob:Zx81kq2mv@x https://bob:Zx81kq2mv@api.corp.internal/health"]}}}"#.to_string(),
            r#"{"config":{"Env":["DB_PASSWORD=hunter3x"]}}"#.to_string(),
            format!(r#"{{"config":{{"Labels":{{"ci":"{tok}"}}}}}}"#),
            format!(r#"{{"x-vendor":{{"deploy":{{"key":"{tok}"}}}}}}"#),
            r#"{"config":{"OnBuild":["ENV API_KEY=abcdef0123"]}}"#.to_string(),
            r#"{"history":[{"created_by":"ENV SECRET_KEY_BASE=abcdef0123"}]}"#.to_string(),
            r#"{"unknown":{"Password":"Zx81kq2mv"}}"#.to_string(),
        ];
        for c in cases {
            assert_eq!(sec003(&c).len(), 1, "{c}: {:?}", sec003(&c));
        }
    }

    #[test]
    fn harmless_configs_are_clean() {
        let cfg = r#"{"architecture":"amd64","os":"linux",
          "config":{"User":"10001:10001","Env":["PATH=/usr/bin","PASSWORD_FILE=/run/secrets/pw"],
            "Entrypoint":["/app/server","--listen=:8080","--password-file","/run/secrets/pw"],
            "Cmd":["--log-level","info"],"Healthcheck":{"Test":["CMD","/app/server","--health"]},
            "Labels":{"org.opencontainers.image.source":"https://github.com/x/y"},
            "StopSignal":"SIGTERM","WorkingDir":"/app"},
          "rootfs":{"type":"layers","diff_ids":["sha256:aaaa"]},
          "history":[{"created_by":"ironhull: add /app","comment":"ironhull"}]}"#;
        assert!(sec003(cfg).is_empty(), "{:?}", sec003(cfg));
    }
}
