//! Why a Debian repository could not be read. Every variant names the
//! repository URL and the file, and says what to do about it: these errors
//! reach users whose mirror, keyring or network is wrong, and "signature
//! invalid" alone does not tell them which of the three it is.

use crate::packages::fetch::FetchError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(
        "repository {url}: {source}; check the url and suite, and that the mirror is reachable"
    )]
    Fetch {
        url: String,
        #[source]
        source: FetchError,
    },
    #[error(
        "repository {url}: neither {inrelease} nor {release} exists; check url = and suite = (a flat repository uses suite = \"./\")"
    )]
    NoRelease {
        url: String,
        inrelease: String,
        release: String,
    },
    #[error(
        "repository {url}: {release} has no signature ({signature} is missing); every repository must be signed, there is no way to turn the check off"
    )]
    Unsigned {
        url: String,
        release: String,
        signature: String,
    },
    #[error("repository {url}: keyring {}: {why}", keyring.display())]
    Keyring {
        url: String,
        keyring: PathBuf,
        why: String,
    },
    #[error("repository {url}: {file}: {why}; {fix}")]
    Signature {
        url: String,
        file: String,
        why: String,
        /// What to do (check the keyring, change mirror), by failure kind.
        fix: String,
    },
    #[error("repository {url}: {file} line {line}: {why}")]
    BadRelease {
        url: String,
        file: String,
        line: usize,
        why: String,
    },
    #[error("repository {url}: {file}: {why}")]
    Expired {
        url: String,
        file: String,
        why: String,
    },
    #[error(
        "repository {url}: {release} lists no Packages index for {what} (it lists architectures [{architectures}], components [{components}]); check components = and the platform"
    )]
    NoIndex {
        url: String,
        release: String,
        what: String,
        architectures: String,
        components: String,
    },
    #[error(
        "repository {url}: {file} is {got}, but Release says {expected}: the file was changed, or the mirror is mid-sync (retry later)"
    )]
    Digest {
        url: String,
        file: String,
        expected: String,
        got: String,
    },
    #[error(
        "repository {url}: {file}: cannot decompress it ({why}); the mirror serves a damaged file, retry or use another mirror"
    )]
    Decompress {
        url: String,
        file: String,
        why: String,
    },
    #[error("repository {url}: {file} line {line}, field {field}: {why}")]
    BadStanza {
        url: String,
        file: String,
        line: usize,
        field: String,
        why: String,
    },
    #[error("repository {url}: {why}")]
    Spec { url: String, why: String },
}
