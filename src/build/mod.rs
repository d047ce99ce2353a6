//! The build's parts: the request made from a spec ([`from_spec`],
//! [`request`]), artifact listing ([`artifacts`]), the image config
//! ([`config`]), the caches ([`cache`], [`gate_cache`]) and the artifact
//! inspector ([`intake`]). The stages that use them, in order, are in
//! [`crate::pipeline`]; [`build`] is its image-building part under the name
//! it always had.

pub mod artifacts;
pub mod cache;
pub mod config;
pub mod from_spec;
pub mod gate_cache;
pub mod intake;
pub mod request;

pub use crate::pipeline::build_image as build;
pub use crate::pipeline::reproduce;
pub use crate::pipeline::{BuildError, BuildOptions, Built, BuiltImage, gate_fails};
pub use request::{Allowance, BuildRequest, PackagesReq, UserReq};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::artifacts::ArtifactInput;
    use crate::build::config::Runtime;
    use crate::fs::ImagePath;
    use crate::layer::Compression;
    use crate::layer::LayerParams;
    use crate::reference::Transport;

    fn request(dir: &std::path::Path) -> BuildRequest {
        let bin = dir.join("app");
        std::fs::write(&bin, b"\x7fELF not really, but executable bytes").unwrap();
        BuildRequest {
            name: "t".into(),
            tags: vec!["1".into()],
            base: Transport::Static,
            platforms: vec![],
            user: UserReq {
                uid: 10001,
                gid: 10001,
                name: "app".into(),
                home: ImagePath::parse("/home/app").unwrap(),
            },
            artifacts: vec![ArtifactInput {
                number: 1,
                src_spec: crate::spec::ArtifactSrc::Path(bin.clone()),
                src: bin,
                dest: ImagePath::parse("/app/app").unwrap(),
                mode: Some(0o555),
                sha256: None,
                writable: false,
                strip_prefix: None,
                include: None,
                exclude: None,
            }],
            runtime: Runtime {
                user: "10001:10001".into(),
                entrypoint: Some(vec!["/app/app".into()]),
                ..Default::default()
            },
            annotations: Default::default(),
            layer_params: LayerParams {
                compression: Compression::Gzip { level: 6 },
                mtime: 0,
                keep_xattrs: false,
            },
            layer_budget: 8,
            allow: vec![],
            packages: Default::default(),
        }
    }

    #[test]
    fn static_base_build_passes_gate_and_is_reproducible() {
        let d = tempfile::tempdir().unwrap();
        let req = request(d.path());
        let digest = reproduce::verify(&req, &d.path().join("r"), &Default::default()).unwrap();
        let opts = BuildOptions {
            store: d.path().join("s/blobs"),
            work: d.path().join("s/work"),
            registry: Default::default(),
            mirror: Vec::new(),
            reporter: Default::default(),
        };
        let b = build(&req, &opts).unwrap();
        assert_eq!(b.top.digest, digest);
        assert_eq!(b.images.len(), 1);
        let ids: Vec<_> = b.images[0].report.findings.iter().map(|f| f.id).collect();
        assert!(
            ids.iter().all(|id| *id == "CFG-001"),
            "only the info-level healthcheck note is expected: {ids:?}"
        );
        assert_eq!(b.images[0].base_layers_reused, 1);
        // Base + accounts + one artifact layer.
        assert_eq!(b.images[0].image.layers.len(), 3);
    }
}
