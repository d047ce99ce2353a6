//! Signing what ironhull builds, and verifying it, in the formats cosign and
//! the Sigstore verifiers accept, offline: no Fulcio, no Rekor, no network
//! service of any kind is contacted to sign.

pub mod key;
pub mod key_error;
pub mod key_ref;
pub mod password;
pub mod pem;
pub mod signer;
