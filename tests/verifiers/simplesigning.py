#!/usr/bin/env python3
"""Independent check of a cosign legacy `.sig` layer for ironhull's tests.

  python3 simplesigning.py PAYLOAD SIGNATURE_B64 PUBKEY.pem --digest sha256:HEX --reference REF

PAYLOAD is the layer blob (the simple-signing JSON, media type
application/vnd.dev.cosign.simplesigning.v1+json); SIGNATURE_B64 is a file
holding the layer's `dev.cosignproject.cosign/signature` annotation (base64,
surrounding whitespace ignored).

1. The signature is ECDSA P-256 with SHA-256 over the payload bytes exactly as
   stored, ASN.1 DER encoded, then standard base64 (padding required, as Go's
   base64.StdEncoding; Go ignores CR/LF inside, so do we). Verified with
   Python `cryptography`.
2. The payload is parsed the way containers/image parses a cosign payload
   (signature/internal/sigstore_payload.go `strictUnmarshalJSON` with
   json.go's `ParanoidUnmarshalJSONObject[ExactFields]`):
   - the document: one JSON object with EXACTLY the keys `critical` and
     `optional` (both required; `optional` may be `null`); nothing after it;
   - `optional`: `null` or an object; any keys are allowed, `creator` must be
     a string and `timestamp` a number with an integral value;
   - `critical`: EXACTLY `type`, `image`, `identity`;
   - `critical.type`: the string "cosign container image signature";
   - `critical.image`: EXACTLY `docker-manifest-digest`, a string that parses
     as a digest (`sha256:` + 64 lowercase hex here);
   - `critical.identity`: EXACTLY `docker-reference`, a string;
   - at every object level a duplicated key is an error, and so is a value of
     the wrong JSON type (Go decodes `null` into a string as "" silently; this
     script rejects it, since "" can never match --reference anyway).
3. `docker-manifest-digest` must equal --digest and `docker-reference` must
   equal --reference.

Exit 0 with one line of JSON on stdout when all holds, 1 with the reason on
stderr when it does not, 2 on a usage or setup error.
"""

import argparse
import base64
import binascii
import json
import re
import sys

SIGNATURE_TYPE = "cosign container image signature"
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class Rejected(Exception):
    """The input is not valid; the message says why."""


def usage_error(msg: str):
    print(f"simplesigning: {msg}", file=sys.stderr)
    sys.exit(2)


def no_duplicates(where):
    def hook(pairs):
        seen = {}
        for k, v in pairs:
            if k in seen:
                raise Rejected(f"{where}: duplicate key {k!r}")
            seen[k] = v
        return seen

    return hook


def bad_constant(name):
    raise Rejected(f"payload: {name} is not JSON")


def exact_fields(obj, where: str, fields) -> None:
    if not isinstance(obj, dict):
        raise Rejected(f"{where}: JSON object expected, got {type(obj).__name__}")
    for k in obj:
        if k not in fields:
            raise Rejected(f"{where}: unknown key {k!r} (allowed exactly: {', '.join(sorted(fields))})")
    for k in fields:
        if k not in obj:
            raise Rejected(f"{where}: key {k!r} missing")


def string_field(obj, key: str, where: str) -> str:
    v = obj[key]
    if not isinstance(v, str):
        raise Rejected(f"{where}.{key}: string expected, got {json.dumps(v)}")
    return v


def parse_payload(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Rejected(f"payload is not UTF-8: {e}") from e
    try:
        # object_pairs_hook rejects duplicates at every level; json.loads
        # rejects trailing data after the top-level value.
        doc = json.loads(text, object_pairs_hook=no_duplicates("payload"), parse_constant=bad_constant)
    except json.JSONDecodeError as e:
        raise Rejected(f"payload is not JSON: {e}") from e

    exact_fields(doc, "payload", ("critical", "optional"))
    optional = doc["optional"]
    if optional is not None:
        if not isinstance(optional, dict):
            raise Rejected(f"payload.optional: JSON object or null expected, got {json.dumps(optional)}")
        if "creator" in optional and not isinstance(optional["creator"], str):
            raise Rejected("payload.optional.creator: string expected")
        if "timestamp" in optional:
            ts = optional["timestamp"]
            if isinstance(ts, bool) or not isinstance(ts, (int, float)) or float(ts) != int(ts):
                raise Rejected("payload.optional.timestamp: integer number expected")

    critical = doc["critical"]
    exact_fields(critical, "payload.critical", ("type", "image", "identity"))
    t = string_field(critical, "type", "payload.critical")
    if t != SIGNATURE_TYPE:
        raise Rejected(f"payload.critical.type: unrecognized signature type {t!r}, want {SIGNATURE_TYPE!r}")
    exact_fields(critical["image"], "payload.critical.image", ("docker-manifest-digest",))
    digest = string_field(critical["image"], "docker-manifest-digest", "payload.critical.image")
    if not DIGEST_RE.match(digest):
        raise Rejected(f"payload.critical.image.docker-manifest-digest: {digest!r} is not sha256:<64 lowercase hex>")
    exact_fields(critical["identity"], "payload.critical.identity", ("docker-reference",))
    ref = string_field(critical["identity"], "docker-reference", "payload.critical.identity")
    return {"digest": digest, "reference": ref, "optional": optional}


def verify_signature(payload: bytes, sig_b64: str, pem: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(pem)
    except ValueError as e:
        raise Rejected(f"public key: not a PEM public key: {e}") from e
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise Rejected("public key: not an ECDSA P-256 key")
    compact = sig_b64.strip().replace("\r", "").replace("\n", "")
    try:
        sig = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Rejected(f"signature annotation is not standard base64: {e}") from e
    try:
        key.verify(sig, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise Rejected("cryptographic signature verification failed: the signature is not by this key over this payload") from e


def main() -> int:
    ap = argparse.ArgumentParser(description="Verify a cosign legacy simple-signing signature.")
    ap.add_argument("payload", help="the .sig layer blob")
    ap.add_argument("signature", help="a file holding the base64 dev.cosignproject.cosign/signature annotation")
    ap.add_argument("pubkey", help="PKIX PEM ECDSA P-256 public key")
    ap.add_argument("--digest", required=True, help="the signed image's manifest digest, sha256:HEX")
    ap.add_argument("--reference", required=True, help="the docker reference the payload must name")
    args = ap.parse_args()
    try:
        import cryptography  # noqa: F401
    except ImportError as e:
        usage_error(f"missing Python module ({e}); install cryptography with .ci/install-deps.sh")
    try:
        with open(args.payload, "rb") as f:
            payload = f.read()
        with open(args.signature, "r", encoding="ascii", errors="replace") as f:
            sig_b64 = f.read()
        with open(args.pubkey, "rb") as f:
            pem = f.read()
    except OSError as e:
        usage_error(str(e))
    try:
        # Signature first, as containers/image does: nothing in an unsigned
        # payload is looked at.
        verify_signature(payload, sig_b64, pem)
        parsed = parse_payload(payload)
        if parsed["digest"] != args.digest:
            raise Rejected(f"payload signs {parsed['digest']}, not {args.digest}")
        if parsed["reference"] != args.reference:
            raise Rejected(f"payload names {parsed['reference']!r}, not {args.reference!r}")
    except Rejected as e:
        print(f"simplesigning: REJECTED: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"verified": True, "verifier": "cryptography + containers/image rules", **parsed}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
