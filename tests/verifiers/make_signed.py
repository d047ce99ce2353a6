#!/usr/bin/env python3
"""Writes known-good and known-bad signed objects for tests/verifier_harness.rs.

The independent verifiers in this directory (verify_bundle.cjs, dsse_check.py,
simplesigning.py) are only worth something if they can say "no". This
generator makes the inputs that prove it: objects signed correctly with a
fresh ECDSA P-256 key (Python `cryptography`, nothing of ironhull's), and
copies that differ from them in exactly one way each. It writes no ironhull
format of its own invention: the shapes are the ones cosign v3 emits and the
lead's signing code must emit too (see the comment at the top of
verify_bundle.cjs).

Usage:
  python3 make_signed.py OUTDIR --digest sha256:HEX --reference REF

Writes into OUTDIR (which must exist):
  key.pem, pub.pem          the signing key (PKCS#8) and its PKIX public key
  other_key.pem, other_pub.pem  an unrelated P-256 key pair
  bundle.json               v0.3 bundle, DSSE over a Statement whose subject is
                            --digest, predicateType https://sigstore.dev/cosign/sign/v1
  bundle_tampered.json      bundle.json with the payload changed after signing
  bundle_other_key.json     signed by other_key, but hinting at key (so only
                            the signature check can catch it)
  bundle_other_hint.json    signed by other_key and hinting at other_key (the
                            key lookup must catch it)
  envelope.json             bundle.json's bare DSSE envelope
  bundle_raw_sig.json       bundle.json with its DER signature re-encoded as the
                            raw 64-byte r||s form (what p256's
                            `Signature::to_bytes` gives; cosign writes DER)
  slsa_bundle.json          v0.3 bundle over a SLSA v1 provenance Statement
  slsa_unknown_field.json   the same with an unknown key in buildDefinition
  slsa_no_builder_id.json   the same with runDetails.builder.id empty
  payload.json, payload.sig  a legacy simple-signing payload and its base64
                            signature (the .sig layer and its annotation)
  payload_tampered.json     payload.json with the digest changed (old signature)
  payload_extra_critical.json, payload_extra_critical.sig
                            a correctly signed payload with an unknown key in
                            `critical` (only the strict parser can catch it)
  payload_extra_image.json, payload_extra_image.sig
                            the same with an unknown key in `critical.image`
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
SLSA_PREDICATE = "https://slsa.dev/provenance/v1"
SIMPLE_SIGNING_TYPE = "cosign container image signature"


def b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def spki_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def hint(key: ec.EllipticCurvePrivateKey) -> str:
    """cosign's key hint: base64(sha256(SPKI DER))."""
    return b64(hashlib.sha256(spki_der(key)).digest())


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 over SHA-256, ASN.1 DER signature (what cosign writes)."""
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def statement(digest: str, predicate_type: str, predicate: dict) -> bytes:
    algo, hexpart = digest.split(":", 1)
    stmt = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "image", "digest": {algo: hexpart}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(stmt, separators=(",", ":"), sort_keys=True).encode("utf-8")


def envelope(key: ec.EllipticCurvePrivateKey, payload: bytes) -> dict:
    sig = sign(key, pae(INTOTO_PAYLOAD_TYPE, payload))
    # keyid is optional in DSSE and cosign's protojson output omits an empty
    # one; leaving it out is the shape the verifiers must accept.
    return {
        "payload": b64(payload),
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{"sig": b64(sig)}],
    }


def bundle(env: dict, key_hint: str) -> dict:
    return {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint}, "tlogEntries": []},
        "dsseEnvelope": env,
    }


def provenance(digest: str) -> dict:
    return {
        "buildDefinition": {
            "buildType": "https://example.invalid/ironhull-harness/build/v1",
            "externalParameters": {"spec": {"path": "builder.toml", "digest": {"sha256": "00" * 32}}},
            "internalParameters": {},
            "resolvedDependencies": [
                {"uri": "docker://example.invalid/base", "digest": {"sha256": "11" * 32}},
                {"name": "artifact/app", "digest": {"sha256": "22" * 32}},
            ],
        },
        "runDetails": {
            "builder": {"id": "https://example.invalid/ironhull-harness", "version": {"ironhull": "0.0.0"}},
            "metadata": {"invocationId": digest, "startedOn": "2024-01-01T00:00:00Z", "finishedOn": "2024-01-01T00:00:00Z"},
        },
    }


def simple_signing_payload(digest: str, reference: str, extra_critical=None, extra_image=None) -> bytes:
    image = {"docker-manifest-digest": digest}
    if extra_image:
        image.update(extra_image)
    critical = {
        "identity": {"docker-reference": reference},
        "image": image,
        "type": SIMPLE_SIGNING_TYPE,
    }
    if extra_critical:
        critical.update(extra_critical)
    return json.dumps({"critical": critical, "optional": None}, separators=(",", ":")).encode("utf-8")


def write(outdir: str, name: str, data) -> None:
    path = os.path.join(outdir, name)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=2).encode("utf-8")
    elif isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


def write_key(outdir: str, stem: str, key: ec.EllipticCurvePrivateKey) -> None:
    write(
        outdir,
        f"{stem}.pem",
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    pub_stem = stem.replace("key", "pub")
    write(
        outdir,
        f"{pub_stem}.pem",
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--digest", required=True, help="sha256:HEX the objects sign")
    ap.add_argument("--reference", required=True, help="docker reference for the simple-signing payload")
    args = ap.parse_args()
    if not os.path.isdir(args.outdir):
        print(f"make_signed: {args.outdir} is not a directory", file=sys.stderr)
        return 2
    if ":" not in args.digest:
        print(f"make_signed: --digest {args.digest!r} is not ALGO:HEX", file=sys.stderr)
        return 2
    out = args.outdir

    key = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    write_key(out, "key", key)
    write_key(out, "other_key", other)

    payload = statement(args.digest, COSIGN_SIGN_PREDICATE, {})
    good_env = envelope(key, payload)
    write(out, "envelope.json", good_env)
    write(out, "bundle.json", bundle(good_env, hint(key)))

    raw_env = copy.deepcopy(good_env)
    r, s_ = decode_dss_signature(base64.standard_b64decode(good_env["signatures"][0]["sig"]))
    raw_env["signatures"][0]["sig"] = b64(r.to_bytes(32, "big") + s_.to_bytes(32, "big"))
    write(out, "bundle_raw_sig.json", bundle(raw_env, hint(key)))

    tampered_env = copy.deepcopy(good_env)
    tampered_env["payload"] = b64(statement("sha256:" + "ee" * 32, COSIGN_SIGN_PREDICATE, {}))
    write(out, "bundle_tampered.json", bundle(tampered_env, hint(key)))

    other_env = envelope(other, payload)
    write(out, "bundle_other_key.json", bundle(other_env, hint(key)))
    write(out, "bundle_other_hint.json", bundle(other_env, hint(other)))

    prov = provenance(args.digest)
    write(out, "slsa_bundle.json", bundle(envelope(key, statement(args.digest, SLSA_PREDICATE, prov)), hint(key)))
    unknown = copy.deepcopy(prov)
    unknown["buildDefinition"]["notASlsaField"] = True
    write(
        out,
        "slsa_unknown_field.json",
        bundle(envelope(key, statement(args.digest, SLSA_PREDICATE, unknown)), hint(key)),
    )
    no_id = copy.deepcopy(prov)
    no_id["runDetails"]["builder"]["id"] = ""
    write(
        out,
        "slsa_no_builder_id.json",
        bundle(envelope(key, statement(args.digest, SLSA_PREDICATE, no_id)), hint(key)),
    )

    ss = simple_signing_payload(args.digest, args.reference)
    write(out, "payload.json", ss)
    write(out, "payload.sig", b64(sign(key, ss)))
    write(out, "payload_tampered.json", simple_signing_payload("sha256:" + "ee" * 32, args.reference))
    extra = simple_signing_payload(args.digest, args.reference, extra_critical={"extra": "x"})
    write(out, "payload_extra_critical.json", extra)
    write(out, "payload_extra_critical.sig", b64(sign(key, extra)))
    extra_img = simple_signing_payload(args.digest, args.reference, extra_image={"extra": "x"})
    write(out, "payload_extra_image.json", extra_img)
    write(out, "payload_extra_image.sig", b64(sign(key, extra_img)))
    print(json.dumps({"outdir": out, "hint": hint(key)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
