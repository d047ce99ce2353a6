#!/usr/bin/env python3
"""Independent DSSE + in-toto check for ironhull's signing tests.

  python3 dsse_check.py ENVELOPE_OR_BUNDLE.json PUBKEY.pem [--slsa]

1. The DSSE envelope (the file itself, or a Sigstore bundle's `dsseEnvelope`)
   is verified by securesystemslib 1.6.0: `securesystemslib.dsse.Envelope`
   and an `SSlibKey` built from the PEM with `SSlibKey.from_crypto(...,
   scheme="ecdsa-sha2-nistp256")` (keytype "ecdsa"); `Envelope.verify([key], 1)` checks the
   ECDSA P-256/SHA-256 ASN.1 DER signature over the DSSE PAE.
2. The payload is schema-checked as an in-toto Statement v1 by
   in-toto-attestation 0.9.3: parsed into its `Statement` protobuf with
   `json_format.ParseDict` (unknown fields are an error) and checked with the
   library's `Statement.validate()` (type URI, >= 1 subject, every subject a
   valid ResourceDescriptor with a digest, a predicateType, a non-empty
   predicate). One exception: cosign v3's image-signature Statement
   (predicateType https://sigstore.dev/cosign/sign/v1) has the empty
   predicate `{}`, which validate() rejects as its last check; for that
   predicate type, and only for exactly `{}`, that objection is waived.
3. With --slsa the predicateType must be https://slsa.dev/provenance/v1 and
   the predicate is parsed the same strict way into the library's
   `predicates.provenance.v1.Provenance` protobuf. The 0.9.3 Python package
   ships no validator for it (only the Go package has one), so the checks of
   the Go `Provenance.Validate()` are applied here to the parsed proto
   (buildDefinition, buildType, externalParameters, runDetails, builder,
   builder.id required), with the library's `ResourceDescriptor.validate()`
   on every resolvedDependency, byproduct and builderDependency.

Exit 0 with one line of JSON on stdout when everything holds, 1 with the
reason on stderr when something does not, 2 on a usage or setup error (so
tests/common/sigverify.rs can tell "rejected" from "harness broken").

DSSE details that matter to a producer:
- `signatures` must hold exactly one entry (the Sigstore bundle rule; an
  ironhull envelope has one signer).
- `keyid` is optional in DSSE and cosign's protojson output omits an empty
  one. securesystemslib requires the field and only tries keys whose keyid
  equals the signature's, so the trusted key is given the signature's keyid
  (absent = ""): the keyid is an unauthenticated hint, the signature is what
  is checked.
- `payload` and `sig` must be standard base64 (securesystemslib decodes
  with binascii, which rejects non-alphabet characters when validating).
- The payload JSON must not repeat a key (checked here; protobuf's ParseDict
  sees a dict, in which the last duplicate would silently win).
"""

import argparse
import binascii
import copy
import json
import sys

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PREDICATE = "https://slsa.dev/provenance/v1"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class Rejected(Exception):
    """The input is not valid; the message says why."""


def usage_error(msg: str) -> "NoReturn":  # noqa: F821
    print(f"dsse_check: {msg}", file=sys.stderr)
    sys.exit(2)


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Rejected(f"duplicate JSON key {k!r}")
        seen[k] = v
    return seen


def strict_json(data, where: str):
    def bad_constant(name):
        raise Rejected(f"{where}: {name} is not JSON")

    try:
        return json.loads(data, object_pairs_hook=no_duplicates, parse_constant=bad_constant)
    except (ValueError, UnicodeDecodeError) as e:
        if isinstance(e, Rejected):
            raise
        raise Rejected(f"{where}: not JSON: {e}") from e


def load_libraries():
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        from google.protobuf import json_format
        from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
        from in_toto_attestation.v1 import statement_pb2
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement
        from securesystemslib import exceptions as ssl_exceptions
        from securesystemslib.dsse import Envelope
        from securesystemslib.signer import SSlibKey
    except ImportError as e:
        usage_error(
            f"missing Python module ({e}); install securesystemslib==1.6.0 and "
            "in-toto-attestation==0.9.3 with .ci/install-deps.sh"
        )
    return locals()


def verify_envelope(lib, env_json: dict, pem: bytes):
    """Returns the verified payload bytes."""
    if not isinstance(env_json, dict):
        raise Rejected("DSSE envelope is not a JSON object")
    for field in ("payload", "payloadType", "signatures"):
        if field not in env_json:
            raise Rejected(f"DSSE envelope has no {field!r}")
    sigs = env_json["signatures"]
    if not isinstance(sigs, list) or len(sigs) != 1:
        raise Rejected(f"DSSE envelope must have exactly one signature, has {len(sigs) if isinstance(sigs, list) else sigs!r}")
    if not isinstance(sigs[0], dict) or not isinstance(sigs[0].get("sig"), str):
        raise Rejected("DSSE signatures[0] has no string 'sig'")
    if env_json["payloadType"] != INTOTO_PAYLOAD_TYPE:
        raise Rejected(f"payloadType is {env_json['payloadType']!r}, want {INTOTO_PAYLOAD_TYPE!r}")

    data = copy.deepcopy(env_json)  # Envelope.from_dict consumes its input
    keyid = data["signatures"][0].get("keyid", "")
    if not isinstance(keyid, str):
        raise Rejected("DSSE signatures[0].keyid is not a string")
    data["signatures"][0]["keyid"] = keyid
    try:
        envelope = lib["Envelope"].from_dict(data)
    except (binascii.Error, ValueError, KeyError, TypeError) as e:
        raise Rejected(f"securesystemslib cannot read the DSSE envelope: {e}") from e

    try:
        public = lib["load_pem_public_key"](pem)
        parsed = lib["SSlibKey"].from_crypto(public, scheme="ecdsa-sha2-nistp256")
        # from_crypto computes its own keyid when given "" (falsy), so the
        # key is rebuilt under the signature's keyid (see the module docs).
        key = lib["SSlibKey"](keyid, parsed.keytype, parsed.scheme, parsed.keyval)
    except (ValueError, TypeError) as e:
        raise Rejected(f"public key is not an ECDSA P-256 PEM public key: {e}") from e
    try:
        envelope.verify([key], 1)
    except lib["ssl_exceptions"].VerificationError as e:
        raise Rejected(f"securesystemslib: DSSE signature does not verify with the given key: {e}") from e
    return envelope.payload


def parse_proto(lib, message, obj, where: str):
    try:
        lib["json_format"].ParseDict(obj, message)  # ignore_unknown_fields=False
    except lib["json_format"].ParseError as e:
        raise Rejected(f"{where} does not match the in-toto-attestation schema: {e}") from e
    return message


def check_rds(lib, rds, where: str):
    for i, rd in enumerate(rds):
        try:
            lib["ResourceDescriptor"].copy_from_pb(rd).validate()
        except ValueError as e:
            raise Rejected(f"{where}[{i}]: {e}") from e


def check_slsa(lib, predicate) -> dict:
    prov = parse_proto(lib, lib["provenance_pb2"].Provenance(), predicate, "SLSA provenance predicate")
    # Mirrors go/predicates/provenance/v1/provenance.go Validate() of
    # in-toto/attestation (the Python package has no such function).
    if not prov.HasField("build_definition"):
        raise Rejected("SLSA provenance: buildDefinition required")
    bd = prov.build_definition
    if bd.build_type == "":
        raise Rejected("SLSA provenance: buildDefinition.buildType required")
    if not bd.HasField("external_parameters"):
        raise Rejected("SLSA provenance: buildDefinition.externalParameters required")
    check_rds(lib, bd.resolved_dependencies, "SLSA provenance: buildDefinition.resolvedDependencies")
    if not prov.HasField("run_details"):
        raise Rejected("SLSA provenance: runDetails required")
    rd = prov.run_details
    if not rd.HasField("builder"):
        raise Rejected("SLSA provenance: runDetails.builder required")
    if rd.builder.id == "":
        raise Rejected("SLSA provenance: runDetails.builder.id required")
    check_rds(lib, rd.builder.builder_dependencies, "SLSA provenance: runDetails.builder.builderDependencies")
    check_rds(lib, rd.byproducts, "SLSA provenance: runDetails.byproducts")
    return {
        "buildType": bd.build_type,
        "builderId": rd.builder.id,
        "resolvedDependencies": len(bd.resolved_dependencies),
    }


def check(lib, path: str, pem_path: str, slsa: bool) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        with open(pem_path, "rb") as f:
            pem = f.read()
    except OSError as e:
        usage_error(str(e))
    doc = strict_json(raw, path)
    if isinstance(doc, dict) and "dsseEnvelope" in doc:
        env_json, source = doc["dsseEnvelope"], "bundle"
    else:
        env_json, source = doc, "envelope"
    payload = verify_envelope(lib, env_json, pem)

    stmt_json = strict_json(payload, "DSSE payload")
    if not isinstance(stmt_json, dict):
        raise Rejected("DSSE payload is not a JSON object")
    pb = parse_proto(lib, lib["statement_pb2"].Statement(), stmt_json, "in-toto Statement")
    empty_sign_predicate = False
    try:
        lib["Statement"].copy_from_pb(pb).validate()
    except ValueError as e:
        # cosign v3's image signature Statement has predicateType
        # https://sigstore.dev/cosign/sign/v1 and an EMPTY predicate (`{}`,
        # from `Predicate: &structpb.Struct{}`), which 0.9.3's validate()
        # rejects as its very last check. That one objection, for that one
        # predicate type, is accepted; every other check has run by then.
        if not (
            str(e) == "Predicate object required"
            and pb.predicate_type == COSIGN_SIGN_PREDICATE
            and stmt_json.get("predicate") == {}
        ):
            raise Rejected(f"in-toto Statement: {e}") from e
        empty_sign_predicate = True

    summary = {
        "verified": True,
        "verifier": "securesystemslib==1.6.0 + in-toto-attestation==0.9.3",
        "source": source,
        "predicateType": pb.predicate_type,
        "subjects": [f"{a}:{h}" for s in pb.subject for a, h in sorted(s.digest.items())],
        "emptySignPredicate": empty_sign_predicate,
    }
    if slsa:
        if pb.predicate_type != SLSA_PREDICATE:
            raise Rejected(f"predicateType is {pb.predicate_type!r}, want {SLSA_PREDICATE!r} (--slsa)")
        summary["slsa"] = check_slsa(lib, stmt_json.get("predicate"))
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description="Verify a DSSE envelope and schema-check its in-toto Statement.")
    ap.add_argument("file", help="a DSSE envelope or a Sigstore bundle holding one")
    ap.add_argument("pubkey", help="PKIX PEM ECDSA P-256 public key")
    ap.add_argument("--slsa", action="store_true", help="also schema-check a SLSA provenance v1 predicate")
    args = ap.parse_args()
    lib = load_libraries()
    try:
        summary = check(lib, args.file, args.pubkey, args.slsa)
    except Rejected as e:
        print(f"dsse_check: REJECTED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
