//! OpenPGP verification of repository indexes (Debian `InRelease`,
//! `Release` + `Release.gpg`), on rPGP (pure Rust).
//!
//! WHY a policy layer over rPGP: rPGP verifies the mathematics, but not
//! whether a signature should count. Here a signature counts only when
//! - its issuer is a key (or a signing subkey) of the keyring, whose self
//!   signatures verify;
//! - the key is neither revoked nor expired (at `now`), nor was it expired
//!   when the signature was made, and the signature itself has not expired;
//! - it hashes with SHA-2 or SHA-3 (MD5, SHA-1 and RIPEMD-160 are refused:
//!   SHA-1 collisions are practical, and apt refuses them too);
//! - it is a binary or text document signature.
//!
//! A signature by a keyring key that does not verify is an error even when
//! another one verifies (the document was changed); signatures by keys
//! outside the keyring are ignored, as gpgv does (Debian signs with several
//! keys). For clearsigned text only the signed part is returned: text before
//! or after the signed block is an error, never silently dropped.

use pgp::composed::{
    CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Timestamp};
use std::path::{Path, PathBuf};

/// Cap on one keyring file (Debian's whole archive keyring is ~100 KB).
const MAX_KEYRING_FILE: u64 = 16 * 1024 * 1024;

/// The public keys a repository's indexes must be signed by.
pub struct Keyring {
    /// Where the keys came from, for messages (`check keyring = ...`).
    pub source: PathBuf,
    keys: Vec<SignedPublicKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum PgpError {
    #[error("keyring {path}: {why}")]
    Keyring { path: PathBuf, why: String },
    #[error("{why}")]
    Signature { why: String, problem: SigProblem },
}

/// What kind of signature failure it is, so the caller can say what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigProblem {
    /// Not a well-formed signed file, or text outside the signed part.
    Malformed,
    /// A keyring key's signature does not verify: the bytes were changed.
    Tampered,
    /// No signature counts: unknown key, weak hash, expired or revoked key.
    Untrusted,
}

fn sig_err(why: impl Into<String>) -> PgpError {
    PgpError::Signature {
        why: why.into(),
        problem: SigProblem::Malformed,
    }
}

impl Keyring {
    /// Loads a file (binary or ASCII-armored, one or several keys) or a
    /// directory of `*.gpg` / `*.asc` / `*.pgp` files (sorted by name).
    pub fn load(path: &Path) -> Result<Self, PgpError> {
        let err = |why: String| PgpError::Keyring {
            path: path.to_path_buf(),
            why,
        };
        let mut files = Vec::new();
        let meta = std::fs::metadata(path).map_err(|e| {
            err(format!(
                "cannot read it ({e}); set keyring to the repository's public key file or a directory of *.gpg/*.asc files"
            ))
        })?;
        if meta.is_dir() {
            let rd = std::fs::read_dir(path).map_err(|e| err(format!("cannot list it: {e}")))?;
            for entry in rd.flatten() {
                let p = entry.path();
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                if matches!(ext, "gpg" | "asc" | "pgp") && p.is_file() {
                    files.push(p);
                }
            }
            files.sort();
            if files.is_empty() {
                return Err(err(
                    "the directory holds no *.gpg, *.asc or *.pgp key file".to_string()
                ));
            }
        } else {
            files.push(path.to_path_buf());
        }
        let mut keys = Vec::new();
        for f in &files {
            let bytes = read_capped(f).map_err(|why| PgpError::Keyring {
                path: f.clone(),
                why,
            })?;
            let mut found = parse_keys(&bytes).map_err(|why| PgpError::Keyring {
                path: f.clone(),
                why,
            })?;
            keys.append(&mut found);
        }
        if keys.is_empty() {
            return Err(err(
                "no usable OpenPGP public key in it (export one with `gpg --export KEYID > file`)"
                    .to_string(),
            ));
        }
        Ok(Self {
            source: path.to_path_buf(),
            keys,
        })
    }

    /// Keys from bytes already in memory (`source` names them in messages).
    pub fn from_bytes(source: &Path, bytes: &[u8]) -> Result<Self, PgpError> {
        let keys = parse_keys(bytes).map_err(|why| PgpError::Keyring {
            path: source.to_path_buf(),
            why,
        })?;
        if keys.is_empty() {
            return Err(PgpError::Keyring {
                path: source.to_path_buf(),
                why: "no OpenPGP public key in it".to_string(),
            });
        }
        Ok(Self {
            source: source.to_path_buf(),
            keys,
        })
    }

    /// Fingerprints of the primary keys, upper-case hex, for messages.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{:X}", k.fingerprint()))
            .collect()
    }

    /// Verifies a clearsigned message (`InRelease`) and returns the signed
    /// text with `\n` line ends, and the fingerprint of the key that signed.
    pub fn verify_cleartext(&self, text: &[u8], now: Timestamp) -> Result<Verified, PgpError> {
        let text = std::str::from_utf8(text)
            .map_err(|_| sig_err("the clearsigned file is not UTF-8 text"))?;
        let body = only_signed_block(text)?;
        let (msg, _) = CleartextSignedMessage::from_string(body)
            .map_err(|e| sig_err(format!("not a valid clearsigned message: {e}")))?;
        let signed = msg.signed_text();
        let signer = self.verify_any(msg.signatures(), signed.as_bytes(), now)?;
        let mut out = signed.replace("\r\n", "\n");
        if !out.ends_with('\n') {
            out.push('\n');
        }
        Ok(Verified { text: out, signer })
    }

    /// Verifies a detached signature (armored or binary, e.g. `Release.gpg`)
    /// over `data`; returns the fingerprint of the key that signed.
    pub fn verify_detached(
        &self,
        data: &[u8],
        signature: &[u8],
        now: Timestamp,
    ) -> Result<String, PgpError> {
        let sigs = parse_signatures(signature)?;
        self.verify_any(&sigs, data, now)
    }

    fn verify_any(
        &self,
        sigs: &[Signature],
        data: &[u8],
        now: Timestamp,
    ) -> Result<String, PgpError> {
        if sigs.is_empty() {
            return Err(sig_err("the file holds no signature"));
        }
        let mut reasons = Vec::new();
        let mut good = None;
        for sig in sigs {
            let issuer = issuer_of(sig);
            match self.check_one(sig, data, now) {
                Check::Good(fp) => {
                    good.get_or_insert(fp);
                }
                Check::Unknown => {
                    reasons.push(format!("signed by {issuer}, which is not in the keyring"))
                }
                Check::Refused(why) => reasons.push(format!("the signature by {issuer} {why}")),
                Check::Bad => {
                    return Err(PgpError::Signature {
                        why: format!(
                            "the signature by {issuer} does not verify: the file was changed after it was signed"
                        ),
                        problem: SigProblem::Tampered,
                    });
                }
            }
        }
        match good {
            Some(fp) => Ok(fp),
            None => Err(PgpError::Signature {
                why: format!(
                    "no valid signature from the keyring: {}; the keyring holds {}",
                    reasons.join("; "),
                    self.fingerprints().join(", ")
                ),
                problem: SigProblem::Untrusted,
            }),
        }
    }

    fn check_one(&self, sig: &Signature, data: &[u8], now: Timestamp) -> Check {
        for key in &self.keys {
            for cand in candidates(key) {
                if !cand.issued(sig) {
                    continue;
                }
                // From here on the signature is claimed by a keyring key.
                let fp = format!("{:X}", key.fingerprint());
                if key.verify_bindings().is_err() {
                    return Check::Refused(format!(
                        "is by key {fp}, whose self-signatures do not verify"
                    ));
                }
                if let Some(why) = weak_hash(sig) {
                    return Check::Refused(why);
                }
                if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
                    return Check::Refused(format!(
                        "is of type {:?}, not a document signature",
                        sig.typ()
                    ));
                }
                if let Some(why) = revoked_or_expired(key, &cand, sig, now) {
                    return Check::Refused(format!("is by key {fp}, which {why}"));
                }
                return match cand.verify(sig, data) {
                    Ok(()) => Check::Good(fp),
                    // rPGP's reason (often an assertion dump) adds nothing for a user.
                    Err(_) => Check::Bad,
                };
            }
        }
        Check::Unknown
    }
}

/// A key that may make document signatures: the primary key (unless its
/// flags say it may not sign), or a subkey with a valid binding signature
/// that grants signing (the newest binding counts).
enum Candidate<'a> {
    Primary(&'a SignedPublicKey),
    Sub(&'a SignedPublicSubKey, &'a Signature),
}

impl Candidate<'_> {
    fn issued(&self, sig: &Signature) -> bool {
        let (fp, id) = match self {
            Candidate::Primary(k) => (k.fingerprint(), k.legacy_key_id()),
            Candidate::Sub(k, _) => (k.fingerprint(), k.legacy_key_id()),
        };
        sig.issuer_fingerprint().iter().any(|f| **f == fp)
            || sig.issuer_key_id().iter().any(|k| **k == id)
    }

    fn verify(&self, sig: &Signature, data: &[u8]) -> pgp::errors::Result<()> {
        match self {
            Candidate::Primary(k) => sig.verify(*k, data),
            Candidate::Sub(k, _) => sig.verify(*k, data),
        }
    }
}

fn candidates(key: &SignedPublicKey) -> Vec<Candidate<'_>> {
    let mut out = Vec::new();
    let flags = latest_self_sig(key).map(|s| s.key_flags());
    // Old keys carry no key flags subpacket at all: the primary may sign.
    let unflagged = flags
        .as_ref()
        .is_none_or(|f| !f.sign() && !f.certify() && !f.encrypt_comms() && !f.encrypt_storage());
    if unflagged || flags.as_ref().is_some_and(|f| f.sign()) {
        out.push(Candidate::Primary(key));
    }
    for sub in &key.public_subkeys {
        if sub
            .signatures
            .iter()
            .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
        {
            continue;
        }
        let binding = sub
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
            .filter(|s| s.verify_subkey_binding(&key.primary_key, &sub.key).is_ok())
            .max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0));
        if let Some(b) = binding
            && b.key_flags().sign()
        {
            out.push(Candidate::Sub(sub, b));
        }
    }
    out
}

/// What [`Keyring::verify_cleartext`] returns.
pub struct Verified {
    /// The signed text only, `\n` line ends, ending with a newline.
    pub text: String,
    /// Fingerprint of the primary key that made the good signature.
    pub signer: String,
}

enum Check {
    Good(String),
    Unknown,
    Refused(String),
    Bad,
}

/// The issuer as the signature names it (fingerprint, else key id).
fn issuer_of(sig: &Signature) -> String {
    if let Some(fp) = sig.issuer_fingerprint().first() {
        return format!("key {fp:X}");
    }
    if let Some(id) = sig.issuer_key_id().first() {
        return format!("key id {}", id.to_string().to_ascii_uppercase());
    }
    "an unnamed key".to_string()
}

fn weak_hash(sig: &Signature) -> Option<String> {
    match sig.hash_alg() {
        Some(
            HashAlgorithm::Sha256
            | HashAlgorithm::Sha384
            | HashAlgorithm::Sha512
            | HashAlgorithm::Sha224
            | HashAlgorithm::Sha3_256
            | HashAlgorithm::Sha3_512,
        ) => None,
        Some(h) => Some(format!(
            "uses the {h:?} hash, which is too weak to trust (re-sign with SHA-256 or better, e.g. gpg --digest-algo SHA512)"
        )),
        None => Some("names no hash algorithm".to_string()),
    }
}

/// The newest self-signature over a user id or the key itself.
fn latest_self_sig(key: &SignedPublicKey) -> Option<&Signature> {
    key.details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(key.details.direct_signatures.iter())
        .filter(|s| {
            s.issuer_fingerprint()
                .iter()
                .any(|f| **f == key.fingerprint())
                || s.issuer_key_id().iter().any(|k| **k == key.legacy_key_id())
        })
        .max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0))
}

/// Why a key may not sign now, if it may not: revoked, or expired at `now`
/// or at the signature's creation, or the signature itself expired.
fn revoked_or_expired(
    key: &SignedPublicKey,
    cand: &Candidate<'_>,
    sig: &Signature,
    now: Timestamp,
) -> Option<String> {
    if !key.details.revocation_signatures.is_empty() {
        return Some("is revoked; update the keyring".to_string());
    }
    let created = u64::from(sig.created().map(|t| t.as_secs()).unwrap_or(0));
    let now = u64::from(now.as_secs());
    if let Some(exp) = sig.signature_expiration_time()
        && exp.as_secs() != 0
        && created + u64::from(exp.as_secs()) <= now
    {
        return Some("made a signature that has expired; the repository must re-sign".to_string());
    }
    // Key expiry counts from the key's creation (RFC 9580 5.2.3.13).
    let mut limits = Vec::new();
    if let Some(exp) = latest_self_sig(key).and_then(|s| s.key_expiration_time())
        && exp.as_secs() != 0
    {
        limits.push(u64::from(key.created_at().as_secs()) + u64::from(exp.as_secs()));
    }
    if let Candidate::Sub(sub, binding) = cand
        && let Some(exp) = binding.key_expiration_time()
        && exp.as_secs() != 0
    {
        limits.push(u64::from(sub.created_at().as_secs()) + u64::from(exp.as_secs()));
    }
    for limit in limits {
        if limit <= now {
            return Some(
                "has expired; update the keyring (e.g. a newer debian-archive-keyring)".to_string(),
            );
        }
        if limit <= created {
            return Some("had expired when the signature was made".to_string());
        }
    }
    None
}

/// The part of a clearsigned file from `-----BEGIN PGP SIGNED MESSAGE-----`
/// to `-----END PGP SIGNATURE-----`; anything but whitespace around it is
/// refused (an attacker could otherwise append unsigned stanzas that a
/// lax parser reads).
fn only_signed_block(text: &str) -> Result<&str, PgpError> {
    const BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
    const END: &str = "-----END PGP SIGNATURE-----";
    let Some(start) = text.find(BEGIN) else {
        return Err(sig_err(
            "not a clearsigned file (no `-----BEGIN PGP SIGNED MESSAGE-----` line)",
        ));
    };
    if !text[..start].trim().is_empty() {
        return Err(sig_err(
            "text before the signed block; only the signed part may be in the file",
        ));
    }
    let Some(end_rel) = text[start..].find(END) else {
        return Err(sig_err("the signature block is not terminated"));
    };
    let end = start + end_rel + END.len();
    if !text[end..].trim().is_empty() {
        return Err(sig_err(
            "text after the signature block; only the signed part may be in the file",
        ));
    }
    if text[start + BEGIN.len()..].contains(BEGIN) {
        return Err(sig_err("more than one signed block in the file"));
    }
    Ok(&text[start..end])
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut out = Vec::new();
    f.take(MAX_KEYRING_FILE + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if out.len() as u64 > MAX_KEYRING_FILE {
        return Err(format!(
            "larger than {MAX_KEYRING_FILE} bytes; not a keyring"
        ));
    }
    Ok(out)
}

fn is_armored(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    String::from_utf8_lossy(head)
        .trim_start()
        .starts_with("-----BEGIN PGP")
}

/// Every public key in a binary keyring or in one or more armored blocks.
fn parse_keys(bytes: &[u8]) -> Result<Vec<SignedPublicKey>, String> {
    let mut out = Vec::new();
    if is_armored(bytes) {
        let text =
            std::str::from_utf8(bytes).map_err(|_| "armored keyring is not UTF-8".to_string())?;
        const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
        let starts: Vec<usize> = text.match_indices(BEGIN).map(|(i, _)| i).collect();
        if starts.is_empty() {
            return Err("an armored file without a `PUBLIC KEY BLOCK`".to_string());
        }
        for (n, &s) in starts.iter().enumerate() {
            let e = starts.get(n + 1).copied().unwrap_or(text.len());
            let (keys, _) = SignedPublicKey::from_armor_many(&text.as_bytes()[s..e])
                .map_err(|e| format!("armored key block {}: {e}", n + 1))?;
            for k in keys {
                out.push(k.map_err(|e| format!("armored key block {}: {e}", n + 1))?);
            }
        }
    } else {
        let keys = SignedPublicKey::from_bytes_many(bytes)
            .map_err(|e| format!("not an OpenPGP keyring: {e}"))?;
        for k in keys {
            out.push(k.map_err(|e| format!("not an OpenPGP keyring: {e}"))?);
        }
    }
    Ok(out)
}

fn parse_signatures(bytes: &[u8]) -> Result<Vec<Signature>, PgpError> {
    let bad = |e: pgp::errors::Error| sig_err(format!("not an OpenPGP signature: {e}"));
    let mut out = Vec::new();
    if is_armored(bytes) {
        let (sigs, _) = DetachedSignature::from_armor_many(bytes).map_err(bad)?;
        for s in sigs {
            out.push(s.map_err(bad)?.signature);
        }
    } else {
        for s in DetachedSignature::from_bytes_many(bytes).map_err(bad)? {
            out.push(s.map_err(bad)?.signature);
        }
    }
    Ok(out)
}

/// `now` for verification, from a Unix time.
pub fn timestamp(unix_secs: u64) -> Timestamp {
    Timestamp::from_secs(u32::try_from(unix_secs).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nSuite: x\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----";

    #[test]
    fn only_the_signed_block_may_be_in_the_file() {
        assert_eq!(only_signed_block(BLOCK).unwrap(), BLOCK);
        assert_eq!(only_signed_block(&format!("\n{BLOCK}\n\n")).unwrap(), BLOCK);
        for (text, why) in [
            (format!("Suite: evil\n{BLOCK}"), "before"),
            (format!("{BLOCK}\nSuite: evil\n"), "after"),
            (format!("{BLOCK}\n{BLOCK}"), "after"),
            ("Suite: x\n".to_string(), "not a clearsigned file"),
            (
                BLOCK.replace("-----END PGP SIGNATURE-----", ""),
                "not terminated",
            ),
        ] {
            let e = only_signed_block(&text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn keyring_errors_say_what_is_wrong() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Keyring::load(&tmp.path().join("missing.gpg"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("missing.gpg") && e.contains("cannot read"),
            "{e}"
        );
        let e = Keyring::load(tmp.path()).err().unwrap().to_string();
        assert!(e.contains("no *.gpg"), "{e}");
        std::fs::write(
            tmp.path().join("junk.asc"),
            "-----BEGIN PGP MESSAGE-----\nxx\n",
        )
        .unwrap();
        let e = Keyring::load(tmp.path()).err().unwrap().to_string();
        assert!(
            e.contains("junk.asc") && e.contains("PUBLIC KEY BLOCK"),
            "{e}"
        );
        std::fs::write(tmp.path().join("junk.asc"), [0x99u8, 0, 3, 1, 2, 3]).unwrap();
        assert!(Keyring::load(tmp.path()).is_err());
    }
}
