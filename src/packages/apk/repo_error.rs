//! Why an apk repository could not be read: every error names the
//! repository URL and the file, says what is wrong and how to fix it.

use super::index::IndexError;
use super::keys::KeyError;
use crate::packages::fetch::FetchError;

#[derive(Debug, thiserror::Error)]
pub enum ApkRepoError {
    #[error(
        "repository {url}: keyring: {source}; set `keyring` in [[repositories]] to the repository's *.rsa.pub key (or directory of them), or use a base whose /etc/apk/keys has it"
    )]
    Keyring {
        url: String,
        #[source]
        source: KeyError,
    },
    #[error(
        "repository {url}: fetching {file}: {source}; check that `url` is the directory holding <arch>/APKINDEX.tar.gz (e.g. https://dl-cdn.alpinelinux.org/alpine/v3.20/main)"
    )]
    Fetch {
        url: String,
        file: String,
        #[source]
        source: FetchError,
    },
    #[error(
        "repository {url}: {file}: {source}; the index is damaged or not signed by a key you trust: check the mirror and the repository's `keyring`"
    )]
    Index {
        url: String,
        file: String,
        #[source]
        source: IndexError,
    },
    #[error(
        "repository {url}: {file}: package {package} has architecture {got:?}, but the index is for {arch:?}; the mirror serves a wrong index"
    )]
    Arch {
        url: String,
        file: String,
        package: String,
        got: String,
        arch: String,
    },
}
