//! cosign's legacy signature format: a "simple signing" payload naming the
//! image digest, signed directly (no DSSE), stored as a layer of an image
//! tagged `sha256-<hex>.sig` with the signature in the layer's
//! `dev.cosignproject.cosign/signature` annotation. Verifiers that predate
//! bundles (cosign 1 and 2, containers/image's sigstore support, policy
//! controllers) read only this.
//!
//! The payload carries exactly the fields containers/image's strict parser
//! accepts: `critical` with exactly `identity.docker-reference`,
//! `image.docker-manifest-digest` and `type`, and `optional` (null).

use crate::digest::Digest;
use serde_json::Value;

pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// The `.sig` tag of a digest: `sha256-<hex>.sig`.
pub fn sig_tag(d: &Digest) -> String {
    format!("{}-{}.sig", d.algorithm(), d.hex())
}

/// The payload for `digest`, claimed for `reference` (a repository name,
/// `registry/repo`, as cosign writes it).
pub fn payload(reference: &str, digest: &Digest) -> Result<Vec<u8>, serde_json::Error> {
    crate::cjson::to_vec(&serde_json::json!({
        "critical": {
            "identity": { "docker-reference": reference },
            "image": { "docker-manifest-digest": digest.to_string() },
            "type": SIGNATURE_TYPE,
        },
        "optional": null,
    }))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("the simple-signing payload is not JSON: {0}")]
    Json(String),
    #[error("the simple-signing payload is malformed: {0}")]
    Shape(String),
}

/// What a *verified* payload claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub reference: String,
    pub digest: Digest,
}

/// Parses a verified payload as strictly as containers/image does: the
/// exact key sets, nothing more.
pub fn parse(bytes: &[u8]) -> Result<Claim, PayloadError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json(e.to_string()))?;
    let shape = |w: &str| PayloadError::Shape(w.into());
    let top = exact(&v, &["critical", "optional"])
        .ok_or_else(|| shape("the top level must hold exactly `critical` and `optional`"))?;
    match &top[1] {
        Value::Null | Value::Object(_) => {}
        _ => return Err(shape("`optional` must be an object or null")),
    }
    let crit = exact(top[0], &["identity", "image", "type"])
        .ok_or_else(|| shape("`critical` must hold exactly `identity`, `image` and `type`"))?;
    if crit[2].as_str() != Some(SIGNATURE_TYPE) {
        return Err(shape(
            "`critical.type` is not \"cosign container image signature\"",
        ));
    }
    let ident = exact(crit[0], &["docker-reference"])
        .ok_or_else(|| shape("`critical.identity` must hold exactly `docker-reference`"))?;
    let image = exact(crit[1], &["docker-manifest-digest"])
        .ok_or_else(|| shape("`critical.image` must hold exactly `docker-manifest-digest`"))?;
    let reference = ident[0]
        .as_str()
        .ok_or_else(|| shape("`docker-reference` is not a string"))?;
    let digest = image[0]
        .as_str()
        .and_then(|d| Digest::parse(d).ok())
        .ok_or_else(|| shape("`docker-manifest-digest` is not a sha256 digest"))?;
    Ok(Claim {
        reference: reference.into(),
        digest,
    })
}

/// The values of an object holding exactly `keys`, in that order.
fn exact<'a>(v: &'a Value, keys: &[&str]) -> Option<Vec<&'a Value>> {
    let o = v.as_object()?;
    if o.len() != keys.len() {
        return None;
    }
    keys.iter().map(|k| o.get(*k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_is_what_cosign_writes() {
        let d = Digest::of(b"x");
        let p = payload("127.0.0.1:5000/app", &d).unwrap();
        assert_eq!(
            String::from_utf8(p.clone()).unwrap(),
            format!(
                "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"127.0.0.1:5000/app\"}},\"image\":{{\"docker-manifest-digest\":\"{d}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}"
            )
        );
        assert_eq!(
            parse(&p).unwrap(),
            Claim {
                reference: "127.0.0.1:5000/app".into(),
                digest: d.clone()
            }
        );
        assert_eq!(sig_tag(&d), format!("sha256-{}.sig", d.hex()));
    }

    #[test]
    fn strict_like_containers_image() {
        let d = Digest::of(b"x");
        let ok = String::from_utf8(payload("r", &d).unwrap()).unwrap();
        for bad in [
            ok.replace("\"optional\":null", "\"optional\":1"),
            ok.replace(",\"optional\":null", ""),
            ok.replace("\"type\":", "\"extra\":1,\"type\":"),
            ok.replace("cosign container image signature", "something else"),
            ok.replace(
                "\"docker-reference\":\"r\"",
                "\"docker-reference\":\"r\",\"x\":1",
            ),
            ok.replace(&d.to_string(), "sha256:zz"),
            "{}".into(),
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        let with_optional = ok.replace("\"optional\":null", "\"optional\":{\"creator\":\"x\"}");
        assert!(parse(with_optional.as_bytes()).is_ok());
    }
}
