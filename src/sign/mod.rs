//! Signing what ironhull builds, and verifying it, in the formats cosign and
//! the Sigstore verifiers accept, offline: no Fulcio, no Rekor, no network
//! service of any kind is contacted to sign.

pub mod bundle;
pub mod discover;
pub mod documents;
pub mod dsse;
pub mod key;
pub mod key_error;
pub mod key_ref;
pub mod password;
pub mod pem;
pub mod provenance;
pub mod signer;
pub mod simple_signing;
pub mod statement;
pub mod target;
pub mod verify;
