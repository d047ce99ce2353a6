//! Flattening the validated spec into a [`BuildRequest`]. This is the only
//! place that knows both shapes.

use super::artifacts::ArtifactInput;
use super::config::{Health, Runtime};
use super::request::{Allowance, BuildRequest, UserReq};
use crate::layer::{Compression, LayerParams};
use crate::spec::Spec;
use crate::spec::model::{Compression as SpecCompression, Protocol};
use globset::{Glob, GlobSet, GlobSetBuilder};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{spec}: artifact #{number}: glob {pattern:?}: {source}")]
    Glob {
        spec: String,
        number: usize,
        pattern: String,
        source: globset::Error,
    },
}

fn globs(spec: &Spec, number: usize, pats: &[String]) -> Result<Option<GlobSet>, RequestError> {
    if pats.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in pats {
        let g = Glob::new(p).map_err(|source| RequestError::Glob {
            spec: spec.path().display().to_string(),
            number,
            pattern: p.clone(),
            source,
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|source| RequestError::Glob {
        spec: spec.path().display().to_string(),
        number,
        pattern: pats.join(","),
        source,
    })
}

/// Builds the request; `mtime` is SOURCE_DATE_EPOCH (or 0).
pub fn request(spec: &Spec, mtime: u64) -> Result<BuildRequest, RequestError> {
    let img = spec.image();
    let u = spec.user();
    let mut artifacts = Vec::new();
    for (i, a) in spec.artifacts().iter().enumerate() {
        let number = i + 1;
        artifacts.push(ArtifactInput {
            number,
            src: match a.src() {
                crate::spec::ArtifactSrc::Path(p) => p.clone(),
                crate::spec::ArtifactSrc::PerPlatform(m) => {
                    m.values().next().cloned().unwrap_or_default()
                }
            },
            src_spec: a.src().clone(),
            dest: a.dest().clone(),
            mode: a.mode().map(|m| m.bits()),
            sha256: a.sha256().cloned(),
            writable: a.writable(),
            strip_prefix: a.strip_prefix().map(|p| p.as_str().to_string()),
            include: globs(spec, number, a.include())?,
            exclude: globs(spec, number, a.exclude())?,
        });
    }
    let c = spec.config();
    let runtime = Runtime {
        user: format!("{}:{}", u.uid(), u.gid()),
        entrypoint: c.process().entrypoint().map(<[String]>::to_vec),
        cmd: c.process().cmd().map(<[String]>::to_vec),
        env: c.env().clone(),
        workdir: c.workdir().map(|w| w.to_abs()),
        ports: c
            .ports()
            .iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.number(),
                    if p.protocol() == Protocol::Udp {
                        "udp"
                    } else {
                        "tcp"
                    }
                )
            })
            .collect(),
        labels: c.labels().clone(),
        stop_signal: c.stop_signal().map(|s| s.as_str().to_string()),
        healthcheck: c.healthcheck().map(|h| Health {
            test: h.test().argv().to_vec(),
            interval_ns: h.interval().map(|d| d.as_nanos() as u64),
            timeout_ns: h.timeout().map(|d| d.as_nanos() as u64),
            start_period_ns: h.start_period().map(|d| d.as_nanos() as u64),
            retries: h.retries(),
        }),
    };
    let l = spec.layers();
    let compression = match l.compression() {
        SpecCompression::Gzip => Compression::Gzip { level: l.level() },
        SpecCompression::None => Compression::None,
        SpecCompression::Zstd => Compression::Zstd { level: l.level() },
    };
    Ok(BuildRequest {
        name: img.name().as_str().to_string(),
        tags: img.tags().iter().map(|t| t.as_str().to_string()).collect(),
        base: spec.base().clone(),
        platforms: img.platforms().to_vec(),
        user: UserReq {
            uid: u.uid().get(),
            gid: u.gid().get(),
            name: u.name().as_str().to_string(),
            home: u.home().clone(),
        },
        artifacts,
        runtime,
        annotations: c.annotations().clone(),
        layer_params: LayerParams {
            compression,
            mtime,
            keep_xattrs: false,
        },
        layer_budget: l.budget() as usize,
        allow: spec
            .waivers()
            .iter()
            .map(|w| Allowance {
                check: w.check().as_str().to_string(),
                path: w.path().map(|p| p.to_abs()),
                reason: w.reason().to_string(),
            })
            .collect(),
        packages: crate::build::PackagesReq {
            repositories: spec.repositories().to_vec(),
            install: spec.packages().install().to_vec(),
            exclude: spec.packages().exclude().to_vec(),
            locked: None,
        },
    })
}
