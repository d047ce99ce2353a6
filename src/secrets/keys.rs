//! Private keys, in every form people ship them: PEM (also indented in YAML,
//! JSON-escaped, or base64-wrapped as in Kubernetes Secrets and kubeconfig
//! `client-key-data`), PuTTY `.ppk`, age identities, and binary DER
//! (PKCS#8, PKCS#1 RSA, SEC1 EC), detected by their ASN.1 structure.

use super::normalise::{base64_prefix, json_unescape};
use super::rules::{boundary_before, count_while, is_alnum};

/// `-----BEGIN … PRIVATE KEY-----` with a body. The window may hide the key
/// behind JSON escapes (`\n`, `\u002d`); those are undone first.
pub fn match_private_key(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    if w.starts_with(b"-----BEGIN ")
        && let Some(n) = pem_at(w)
    {
        return Some(n);
    }
    if kw.starts_with(b"\\") || w.contains(&b'\\') {
        let plain = json_unescape(w);
        if plain.starts_with(b"-----BEGIN ") {
            return pem_at(&plain);
        }
    }
    None
}

/// A PEM private key wrapped in base64 (the keyword is base64 of
/// `-----BEGIN `, which is how every such value starts).
pub fn match_base64_pem(w: &[u8], _kw: &[u8], before: Option<u8>) -> Option<usize> {
    if before.is_some_and(|b| is_alnum(b) || b == b'+' || b == b'/') {
        return None;
    }
    let plain = base64_prefix(w)?;
    if !plain.starts_with(b"-----BEGIN ") {
        return None;
    }
    pem_at(&plain).map(|_| count_while(w, |b| is_alnum(b) || b == b'+' || b == b'/'))
}

/// The header line and the start of a body: a newline (real or escaped)
/// followed by base64 or PEM headers, after any indentation. A bare header
/// string is just a parser constant in some binary (OpenSSL, Go's crypto).
fn pem_at(w: &[u8]) -> Option<usize> {
    let kw = b"-----BEGIN ".len();
    let rest = w.get(kw..)?;
    // Label: uppercase words, e.g. "RSA PRIVATE KEY", "PRIVATE KEY",
    // "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK".
    let label_len = count_while(rest, |b| {
        b.is_ascii_uppercase() || b == b' ' || b.is_ascii_digit()
    });
    let label = &rest[..label_len];
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return None;
    }
    let after = rest[label_len..].strip_prefix(b"-----")?;
    let mut body = after
        .strip_prefix(b"\r\n")
        .or_else(|| after.strip_prefix(b"\n"))
        .or_else(|| after.strip_prefix(b"\\r\\n"))
        .or_else(|| after.strip_prefix(b"\\n"))?;
    // Indentation (YAML block scalars, Helm values, Ansible vars) and the
    // blank line armored PGP blocks have before the body.
    loop {
        let n = count_while(body, |b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        body = &body[n..];
        match body.strip_prefix(b"\\n") {
            Some(b) => body = b,
            None => break,
        }
    }
    let is_headers = body.starts_with(b"Proc-Type:")
        || body.starts_with(b"Version:")
        || body.starts_with(b"Comment:");
    let b64 = count_while(body, |b| is_alnum(b) || b == b'+' || b == b'/' || b == b'=');
    (is_headers || b64 >= 32).then_some(kw + label_len + 5)
}

/// PuTTY's `.ppk`: `PuTTY-User-Key-File-2: ssh-rsa` then `Encryption:`.
/// The format always carries the private half (`Private-Lines`).
pub fn match_putty(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    let rest = w.get(kw.len()..)?;
    if !matches!(rest.first(), Some(b'1'..=b'3')) {
        return None;
    }
    let rest = rest.get(1..)?.strip_prefix(b": ")?;
    if !(rest.starts_with(b"ssh-") || rest.starts_with(b"ecdsa-")) {
        return None;
    }
    let alg = count_while(rest, |b| is_alnum(b) || matches!(b, b'-' | b'@' | b'.'));
    let line = &rest[alg..];
    let line = line
        .strip_prefix(b"\r\n")
        .or_else(|| line.strip_prefix(b"\n"))?;
    line.starts_with(b"Encryption: ")
        .then_some(kw.len() + 3 + alg)
}

/// Identities published as examples: age-keygen prints this one in its own
/// usage text (and age's README shows it), so every age-keygen binary holds it.
const AGE_EXAMPLES: &[&[u8]] =
    &[b"AGE-SECRET-KEY-1N9JEPW6DWJ0ZQUDX63F5A03GX8QUW7PXDE39N8UYF82VZ9PC8UFS3M7XA9"];

/// An age identity: `AGE-SECRET-KEY-1` and 58 bech32 characters.
pub fn match_age(w: &[u8], kw: &[u8], before: Option<u8>) -> Option<usize> {
    if !boundary_before(before) {
        return None;
    }
    const BECH32: &[u8] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
    let n = count_while(&w[kw.len()..], |b| BECH32.contains(&b));
    let after = w.get(kw.len() + n).copied();
    let key = &w[..kw.len() + n];
    (n == 58 && !after.is_some_and(is_alnum) && !AGE_EXAMPLES.contains(&key))
        .then_some(kw.len() + n)
}

/// Reads a DER length at `w[0..]`; returns (length, header bytes).
fn der_len(w: &[u8]) -> Option<(usize, usize)> {
    match *w.first()? {
        n @ 0..=0x7f => Some((usize::from(n), 1)),
        0x81 => Some((usize::from(*w.get(1)?), 2)),
        0x82 => Some((usize::from(*w.get(1)?) << 8 | usize::from(*w.get(2)?), 3)),
        _ => None,
    }
}

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
/// Ed25519, X25519, Ed448, X448 (1.3.101.110–113).
const OIDS_EDWARDS: &[&[u8]] = &[
    &[0x2b, 0x65, 0x6e],
    &[0x2b, 0x65, 0x6f],
    &[0x2b, 0x65, 0x70],
    &[0x2b, 0x65, 0x71],
];

/// A DER PKCS#8 `PrivateKeyInfo`: the keyword is `version INTEGER 0|1` and
/// the start of the `AlgorithmIdentifier` SEQUENCE; the matcher then needs a
/// private-key algorithm OID and an OCTET STRING holding that algorithm's
/// private-key structure. A certificate or public key never has this shape
/// (their key algorithm is followed by a BIT STRING, not an OCTET STRING).
pub fn match_der_pkcs8(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    let alg_len = usize::from(*w.get(kw.len())?);
    let alg = w.get(kw.len() + 1..kw.len() + 1 + alg_len)?;
    let oid = alg.strip_prefix(&[0x06])?;
    let (oid_len, h) = der_len(oid)?;
    let oid = oid.get(h..h + oid_len)?;
    let mut at = kw.len() + 1 + alg_len;
    if *w.get(at)? != 0x04 {
        return None;
    }
    at += 1;
    let (len, h) = der_len(w.get(at..)?)?;
    let inner = w.get(at + h..)?;
    let ok = if oid == OID_RSA || oid == OID_RSA_PSS {
        // RSAPrivateKey: SEQUENCE { version 0, modulus, … }
        inner.first() == Some(&0x30)
            && der_len(inner.get(1..)?)
                .and_then(|(_, h)| inner.get(1 + h..1 + h + 3))
                .is_some_and(|v| v == [0x02, 0x01, 0x00])
    } else if oid == OID_EC {
        // ECPrivateKey: SEQUENCE { version 1, privateKey OCTET STRING, … }
        inner.first() == Some(&0x30)
            && der_len(inner.get(1..)?)
                .and_then(|(_, h)| inner.get(1 + h..1 + h + 4))
                .is_some_and(|v| v == [0x02, 0x01, 0x01, 0x04])
    } else if OIDS_EDWARDS.contains(&oid) {
        // CurvePrivateKey: OCTET STRING of 32 or 57 bytes.
        inner.first() == Some(&0x04) && matches!(inner.get(1), Some(0x20 | 0x38 | 0x39))
    } else if oid == OID_DSA {
        inner.first() == Some(&0x02)
    } else {
        false
    };
    (ok && len >= 16).then_some(at + h + len)
}

/// A DER PKCS#1 `RSAPrivateKey` (`openssl rsa -outform DER`): version 0,
/// then a modulus of at least 1024 bits, the public exponent and the private
/// exponent, each an INTEGER.
pub fn match_der_rsa(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    // The keyword ends with the modulus INTEGER's tag and length byte.
    let mut at = kw.len() - 2;
    let mut ints = Vec::new();
    for _ in 0..3 {
        if *w.get(at)? != 0x02 {
            return None;
        }
        let (len, h) = der_len(w.get(at + 1..)?)?;
        ints.push(len);
        at += 1 + h + len;
    }
    (ints.first().is_some_and(|&m| m >= 128)
        && ints.get(1).is_some_and(|&e| (1..=8).contains(&e))
        && ints.get(2).is_some_and(|&d| d >= 64))
    .then_some(at)
}

/// A DER SEC1 `ECPrivateKey` (`openssl ec -outform DER`): version 1, the
/// private key OCTET STRING, then `[0]` with a named-curve OID.
pub fn match_der_ec(w: &[u8], kw: &[u8], _before: Option<u8>) -> Option<usize> {
    let len = usize::from(*w.get(kw.len())?);
    if !matches!(len, 24 | 28 | 32 | 48 | 66) {
        return None;
    }
    let at = kw.len() + 1 + len;
    let tail = w.get(at..at + 5)?;
    let curve_oid = tail[0] == 0xa0 && tail[2] == 0x06;
    let prefix = w.get(at + 4..at + 9)?;
    let known = prefix.starts_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d])
        || prefix.starts_with(&[0x2b, 0x81, 0x04])
        || prefix.starts_with(&[0x2b, 0x24]);
    (curve_oid && known).then_some(at + 5)
}
