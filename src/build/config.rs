//! The image config: the base's config edited as JSON, so fields ironhull does
//! not know survive untouched, then written canonically.

use crate::digest::Digest;
use crate::image::Platform;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A HEALTHCHECK in exec form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    pub test: Vec<String>,
    pub interval_ns: Option<u64>,
    pub timeout_ns: Option<u64>,
    pub start_period_ns: Option<u64>,
    pub retries: Option<u32>,
}

/// The runtime settings the spec controls.
#[derive(Clone, Debug, Default)]
pub struct Runtime {
    pub user: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<String>,
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub healthcheck: Option<Health>,
}

/// One history entry for a layer ironhull added.
pub struct AddedLayer {
    pub created_by: String,
    pub comment: Option<String>,
}

/// Builds the final config from the base's.
pub fn image_config(
    base: &Value,
    platform: &Platform,
    rt: &Runtime,
    diff_ids: &[Digest],
    added: &[AddedLayer],
    created: &str,
) -> Value {
    let mut cfg = match base {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    cfg.insert("architecture".into(), json!(platform.architecture));
    cfg.insert("os".into(), json!(platform.os));
    match &platform.variant {
        Some(v) => cfg.insert("variant".into(), json!(v)),
        None => cfg.remove("variant"),
    };
    cfg.insert("created".into(), json!(created));
    // Docker-only fields that would mislead: there is no shell to run ONBUILD
    // triggers or SHELL with, and the build host's identity does not belong.
    for k in ["container", "container_config", "docker_version", "author"] {
        cfg.remove(k);
    }

    let mut c = match cfg.remove("config") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for k in [
        "Shell",
        "OnBuild",
        "Hostname",
        "Domainname",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Image",
    ] {
        c.remove(k);
    }
    c.insert("User".into(), json!(rt.user));
    if let Some(ep) = &rt.entrypoint {
        c.insert("Entrypoint".into(), json!(ep));
        // As in Docker: a new entrypoint resets the base's cmd unless one is given.
        c.insert("Cmd".into(), json!(rt.cmd.clone().unwrap_or_default()));
    } else if let Some(cmd) = &rt.cmd {
        c.insert("Cmd".into(), json!(cmd));
    }
    for k in ["Entrypoint", "Cmd"] {
        if c.get(k)
            .is_some_and(|v| v.as_array().is_some_and(|a| a.is_empty()) || v.is_null())
        {
            c.remove(k);
        }
    }
    // Env: base values first, spec values override by key, order kept stable.
    let mut env: Vec<(String, String)> = c
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (s.to_string(), String::new()),
                })
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in &rt.env {
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.insert(
            0,
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
        );
    }
    c.insert(
        "Env".into(),
        json!(
            env.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        ),
    );
    if let Some(w) = &rt.workdir {
        c.insert("WorkingDir".into(), json!(w));
    }
    if !rt.ports.is_empty() {
        let mut ports = c
            .get("ExposedPorts")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for p in &rt.ports {
            let key = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            ports.insert(key, json!({}));
        }
        c.insert("ExposedPorts".into(), Value::Object(ports));
    }
    if !rt.labels.is_empty() {
        let mut labels = c
            .get("Labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in &rt.labels {
            labels.insert(k.clone(), json!(v));
        }
        c.insert("Labels".into(), Value::Object(labels));
    }
    if let Some(s) = &rt.stop_signal {
        c.insert("StopSignal".into(), json!(s));
    }
    if let Some(h) = &rt.healthcheck {
        let mut hc = Map::new();
        let mut test = vec!["CMD".to_string()];
        test.extend(h.test.iter().cloned());
        hc.insert("Test".into(), json!(test));
        if let Some(v) = h.interval_ns {
            hc.insert("Interval".into(), json!(v));
        }
        if let Some(v) = h.timeout_ns {
            hc.insert("Timeout".into(), json!(v));
        }
        if let Some(v) = h.start_period_ns {
            hc.insert("StartPeriod".into(), json!(v));
        }
        if let Some(v) = h.retries {
            hc.insert("Retries".into(), json!(v));
        }
        c.insert("Healthcheck".into(), Value::Object(hc));
    }
    cfg.insert("config".into(), Value::Object(c));
    cfg.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
    );
    let mut history: Vec<Value> = cfg
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for a in added {
        let mut h = Map::new();
        h.insert("created".into(), json!(created));
        h.insert("created_by".into(), json!(a.created_by));
        if let Some(c) = &a.comment {
            h.insert("comment".into(), json!(c));
        }
        history.push(Value::Object(h));
    }
    cfg.insert("history".into(), Value::Array(history));
    Value::Object(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_unknown_fields_and_override() {
        let base = json!({
            "architecture": "amd64", "os": "linux", "x-custom": 1,
            "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["/bin/sh"], "Shell": ["/bin/sh", "-c"], "User": "0"},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [{"created_by": "base"}]
        });
        let rt = Runtime {
            user: "10001:10001".into(),
            entrypoint: Some(vec!["/app/x".into()]),
            env: BTreeMap::from([("A".into(), "2".into()), ("B".into(), "3".into())]),
            ports: vec!["8080".into()],
            ..Default::default()
        };
        let d = Digest::of(b"x");
        let cfg = image_config(
            &base,
            &Platform::linux("amd64", None),
            &rt,
            std::slice::from_ref(&d),
            &[AddedLayer {
                created_by: "ironhull".into(),
                comment: None,
            }],
            "1970-01-01T00:00:00Z",
        );
        assert_eq!(cfg["x-custom"], 1);
        let c = &cfg["config"];
        assert_eq!(c["User"], "10001:10001");
        assert_eq!(c["Entrypoint"], json!(["/app/x"]));
        assert!(c.get("Cmd").is_none(), "base cmd reset by new entrypoint");
        assert!(c.get("Shell").is_none());
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}}));
        assert_eq!(cfg["rootfs"]["diff_ids"], json!([d.to_string()]));
        assert_eq!(cfg["history"].as_array().unwrap().len(), 2);
    }
}
