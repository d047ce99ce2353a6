//! `ironhull sign` and `ironhull verify`: signing an existing image, and
//! checking that an image is signed by a key. The CLI loads the key; these
//! take a [`Signer`] or a public key, so an embedder can bring its own.

use crate::error::ErrorClass;
use crate::output::signatures::{self, Placed};
use crate::registry::RegistryOptions;
use crate::sign::discover;
use crate::sign::documents::{self, SignatureFormat};
use crate::sign::signer::Signer;
use crate::sign::statement::PredicateKind;
use crate::sign::target::{self, Place};
use crate::sign::verify::{self, Verified};
use p256::ecdsa::VerifyingKey;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SignError {
    pub class: ErrorClass,
    pub message: String,
}

fn err(class: ErrorClass, message: impl std::fmt::Display) -> SignError {
    SignError {
        class,
        message: message.to_string(),
    }
}

#[derive(Clone, Debug)]
pub struct SignJob {
    pub image: String,
    pub format: SignatureFormat,
    /// The time stamp of the referrer manifests (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    pub registry: RegistryOptions,
}

#[derive(Clone, Debug)]
pub struct SignOutcome {
    pub digest: String,
    pub placed: Vec<Placed>,
}

/// Signs `job.image` (its top digest and every platform manifest) and
/// attaches the signatures where the image is.
pub fn sign(job: &SignJob, signer: &dyn Signer) -> Result<SignOutcome, SignError> {
    let t = target::resolve(&job.image, &job.registry).map_err(|e| err(ErrorClass::Input, e))?;
    let subjects = t.subjects();
    let digests: Vec<_> = subjects.iter().map(|s| s.digest.clone()).collect();
    // Every document is signed before anything is written.
    let bundles = if job.format.bundle() {
        vec![documents::image_signature(signer, &digests).map_err(|e| err(ErrorClass::Input, e))?]
    } else {
        Vec::new()
    };
    let mut legacy = Vec::new();
    if job.format.legacy() {
        for d in &digests {
            legacy.push(
                documents::legacy(signer, &t.name, d).map_err(|e| err(ErrorClass::Input, e))?,
            );
        }
    }
    let created = crate::layer::time::rfc3339(job.mtime).map_err(|e| err(ErrorClass::Input, e))?;
    let work = tempfile::tempdir().map_err(|e| err(ErrorClass::Io, e))?;
    let store = crate::store::BlobStore::open(work.path()).map_err(|e| err(ErrorClass::Io, e))?;
    let placed = match &t.place {
        Place::Registry { client, reference } => signatures::push(
            client, reference, &subjects, &bundles, &legacy, &created, &store,
        ),
        Place::Layout { dir } => {
            signatures::write_layout(dir, &subjects, &bundles, &legacy, &created, &store)
        }
    }
    .map_err(|e| err(ErrorClass::Io, e))?;
    Ok(SignOutcome {
        digest: t.top.digest.to_string(),
        placed,
    })
}

#[derive(Clone, Debug)]
pub struct VerifyJob {
    pub image: String,
    /// `None`: the image signature; otherwise that attestation.
    pub attestation: Option<PredicateKind>,
    pub registry: RegistryOptions,
}

/// Checks that a valid signature by `key` covers the image's digest. A
/// failure is [`ErrorClass::Policy`] (exit 1) and says why.
pub fn verify(job: &VerifyJob, key: &VerifyingKey) -> Result<Verified, SignError> {
    let t = target::resolve(&job.image, &job.registry).map_err(|e| err(ErrorClass::Input, e))?;
    let want = job.attestation.unwrap_or(PredicateKind::Signature);
    let candidates = match &t.place {
        Place::Registry { client, reference } => {
            let work = tempfile::tempdir().map_err(|e| err(ErrorClass::Io, e))?;
            let store =
                crate::store::BlobStore::open(work.path()).map_err(|e| err(ErrorClass::Io, e))?;
            discover::registry(client, reference, &t.top.digest, &store)
                .map_err(|e| err(ErrorClass::Io, e))?
        }
        Place::Layout { dir } => {
            discover::layout(dir, &t.top.digest).map_err(|e| err(ErrorClass::Input, e))?
        }
    };
    verify::check(&candidates, &t.top.digest, key, want).map_err(|r| {
        err(
            ErrorClass::Policy,
            format!("{}: verification failed: {r}", job.image),
        )
    })
}
