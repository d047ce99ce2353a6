//! Signing what ironhull builds, and verifying it, in the formats cosign and
//! the Sigstore verifiers accept, offline: no Fulcio, no Rekor, no network
//! service of any kind is contacted to sign.

pub mod signer;
pub mod bundle;
pub mod dsse;
pub mod statement;
pub mod simple_signing;
pub mod provenance;
pub mod documents;
