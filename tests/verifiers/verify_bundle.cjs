#!/usr/bin/env node
// Independent verifier of Sigstore bundles for ironhull's signing tests.
//
//   node verify_bundle.cjs BUNDLE.json PUBKEY.pem [--digest ALGO:HEX ...] [--predicate-type URI]
//
// Exit 0 and one line of JSON on stdout when the bundle verifies; exit 1 with
// the reason on stderr when it does not; exit 2 on a usage or setup error
// (bad arguments, unreadable files, the npm modules not installed), so the
// Rust wrapper (tests/common/sigverify.rs) can tell "rejected" from "broken".
//
// The verification is sigstore-js's own, pinned by package-lock.json:
// @sigstore/bundle 4.0.0 `bundleFromJSON` (protobuf-specs 0.5.2 JSON decoding
// + the bundle validators), @sigstore/verify 3.1.1 `toSignedEntity`,
// `toTrustMaterial` (with the PEM key as the only trust material, found by
// `verificationMaterial.publicKey.hint`) and `Verifier` with every threshold
// at 0 (no transparency log, no CT log, no timestamp). After that this script
// checks the in-toto Statement: every `--digest` is among the subjects, and
// `--predicate-type` is the predicateType.
//
// WHAT A KEY-BASED v0.3 BUNDLE MUST CONTAIN TO PASS (read from the 3.1.1 /
// 4.0.0 / 0.5.2 sources in node_modules; "library" = sigstore-js, "script" =
// an extra rule of this file, each stricter than the library and each named
// in its error message):
//
//   {
//     "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
//     "verificationMaterial": {
//       "publicKey": { "hint": "<base64(sha256(SPKI DER of the key))>" },
//       "tlogEntries": []
//     },
//     "dsseEnvelope": {
//       "payload": "<std base64 of the Statement JSON>",
//       "payloadType": "application/vnd.in-toto+json",
//       "signatures": [ { "sig": "<std base64 of an ASN.1 DER ECDSA signature>" } ]
//     }
//   }
//
// - mediaType (library): must match /^application\/vnd\.dev\.sigstore\.bundle\.v\d\.\d\+json/
//   or the legacy /^application\/vnd\.dev\.sigstore\.bundle\+json;version=\d\.\d/;
//   "...+json;version=0.1" and "=0.2" get the older validators (0.1 wants an
//   inclusionPromise, 0.2 an inclusionProof, but only for tlog entries that
//   exist). (script): exactly "application/vnd.dev.sigstore.bundle.v0.3+json",
//   the media type issue 16 and cosign v3 use.
// - verificationMaterial (library): required. Its content is whichever of
//   `publicKey`, `x509CertificateChain`, `certificate` is set, in that order;
//   v0.3 rejects `x509CertificateChain`. (script): `publicKey` is required,
//   and must be the only one of the three.
// - publicKey.hint (library): any string ("" if absent) handed to the key
//   finder; the library never compares it with anything. (script): the key
//   finder knows one key, under base64(sha256(SPKI DER)) of PUBKEY.pem with
//   standard padded base64, so the hint MUST be exactly that string;
//   anything else is "key not found".
// - tlogEntries (library): protobuf JSON decoding turns a missing field into
//   [], so `"tlogEntries": []` and no field at all both pass. With
//   tlogThreshold 0 no entry is needed; an entry that IS present is still
//   verified (inclusion proof against the trusted logs, of which there are
//   none here), so an ironhull bundle must not carry any. An entry with a
//   non-zero integratedTime would also count as a timestamp.
// - timestampVerificationData (library): optional; absent means no
//   timestamps, which passes with timestampThreshold 0. Any rfc3161Timestamps
//   present are parsed and checked against the (empty) TSA list, so it must
//   be absent or `{ "rfc3161Timestamps": [] }`.
// - content (library): `dsseEnvelope` or `messageSignature`. (script):
//   `dsseEnvelope` required (messageSignature is a plain-blob signature).
// - dsseEnvelope.payload (library): non-empty. Decoded with Node's lenient
//   base64 (which silently skips bad characters and accepts URL-safe ones).
//   (script): it must be canonical standard base64 with padding, as Go's
//   encoding (cosign, sigstore-go) writes it, so a corrupted payload string
//   cannot be "repaired" by the lenient decoder.
// - dsseEnvelope.signatures (library): EXACTLY one entry with a non-empty
//   `sig`; `keyid` is optional and ignored. The signature is checked with
//   Node's crypto.verify(undefined, PAE, key, sig): for an EC key that is
//   ECDSA with SHA-256 and an ASN.1 DER signature (a raw 64-byte r||s fails).
//   PAE is "DSSEv1 <len(type)> <type> <len(payload)> <payload>" over the
//   decoded payload bytes. (script): `sig` is canonical padded base64 too.
// - dsseEnvelope.payloadType (library): any string, only used inside PAE.
//   (script): must be "application/vnd.in-toto+json".
// - payload (script): a JSON object with `_type` "https://in-toto.io/Statement/v1",
//   a non-empty `subject` array of {name?, digest: {ALGO: HEX}}, a string
//   `predicateType`; each `--digest ALGO:HEX` must equal some
//   subject's digest[ALGO].
// - Unknown JSON fields anywhere are ignored by the library's protobuf JSON
//   decoding (it does not reject them); this script does not reject them
//   either, so a strict shape check of the bundle belongs to the caller.
// - Verifier options: the Verifier's defaults are tlogThreshold 1,
//   ctlogThreshold 1 and timestampThreshold 1. A key-based offline bundle
//   fails with "expected 1 timestamps, got 0" unless timestampThreshold (and
//   then tlogThreshold) is 0; ctlogThreshold only applies to certificates.
//   All three are passed as 0 below.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");

const BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
const INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";

function usage(msg) {
  process.stderr.write(
    `verify_bundle: ${msg}\nusage: node verify_bundle.cjs BUNDLE.json PUBKEY.pem ` +
      "[--digest ALGO:HEX ...] [--predicate-type URI]\n",
  );
  process.exit(2);
}

function reject(msg) {
  process.stderr.write(`verify_bundle: REJECTED: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const positional = [];
  const digests = [];
  let predicateType;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--digest" || a === "--predicate-type") {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      if (a === "--digest") {
        if (!/^[a-z0-9]+:[0-9a-f]+$/.test(v)) usage(`--digest ${JSON.stringify(v)} is not ALGO:LOWERHEX`);
        digests.push(v);
      } else {
        predicateType = v;
      }
    } else if (a.startsWith("--")) {
      usage(`unknown option ${a}`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 2) usage("expected exactly BUNDLE.json and PUBKEY.pem");
  return { bundlePath: positional[0], keyPath: positional[1], digests, predicateType };
}

function loadModules() {
  try {
    return {
      bundle: require("@sigstore/bundle"),
      verify: require("@sigstore/verify"),
    };
  } catch (e) {
    usage(
      `cannot load @sigstore/bundle and @sigstore/verify (${e.message}); run .ci/install-deps.sh ` +
        "or `npm ci` in tests/verifiers, or set NODE_PATH to their node_modules",
    );
  }
}

// Canonical standard base64 with padding: what Go's encoding/json and
// protojson write. Node's decoder would accept far more.
function strictBase64(where, s) {
  if (typeof s !== "string" || s.length === 0) reject(`${where} is missing or not a string`);
  const buf = Buffer.from(s, "base64");
  if (buf.toString("base64") !== s) {
    reject(`${where} is not canonical standard base64 (RFC 4648 section 4, with padding)`);
  }
  return buf;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const { bundle: sbundle, verify: sverify } = loadModules();

  let raw;
  let pem;
  try {
    raw = fs.readFileSync(args.bundlePath, "utf8");
    pem = fs.readFileSync(args.keyPath, "utf8");
  } catch (e) {
    usage(e.message);
  }

  let key;
  try {
    key = crypto.createPublicKey(pem);
  } catch (e) {
    reject(`${args.keyPath}: not a PEM public key: ${e.message}`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails.namedCurve !== "prime256v1") {
    reject(`${args.keyPath}: not an ECDSA P-256 public key (${key.asymmetricKeyType})`);
  }
  const spki = key.export({ type: "spki", format: "der" });
  const expectedHint = crypto.createHash("sha256").update(spki).digest("base64");

  let json;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    reject(`${args.bundlePath}: not JSON: ${e.message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) reject("bundle is not a JSON object");

  // Script rules (see the header): stricter than the library.
  if (json.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    reject(`mediaType is ${JSON.stringify(json.mediaType)}, want ${JSON.stringify(BUNDLE_V03_MEDIA_TYPE)}`);
  }
  const vm = json.verificationMaterial;
  if (vm === null || typeof vm !== "object") reject("verificationMaterial is missing");
  if (vm.publicKey === undefined || vm.publicKey === null) {
    reject("verificationMaterial.publicKey is missing (a key-signed bundle names its key by hint)");
  }
  if (vm.certificate !== undefined || vm.x509CertificateChain !== undefined) {
    reject("verificationMaterial has a certificate as well as publicKey");
  }
  const env = json.dsseEnvelope;
  if (env === null || typeof env !== "object") reject("dsseEnvelope is missing");
  if (env.payloadType !== INTOTO_PAYLOAD_TYPE) {
    reject(`dsseEnvelope.payloadType is ${JSON.stringify(env.payloadType)}, want ${JSON.stringify(INTOTO_PAYLOAD_TYPE)}`);
  }
  const payload = strictBase64("dsseEnvelope.payload", env.payload);
  if (Array.isArray(env.signatures)) {
    env.signatures.forEach((s, i) => strictBase64(`dsseEnvelope.signatures[${i}].sig`, s && s.sig));
  }

  // The library's verification.
  let signer;
  try {
    const bundle = sbundle.bundleFromJSON(json);
    const entity = sverify.toSignedEntity(bundle);
    const keyFinder = (hint) => {
      if (hint !== expectedHint) {
        throw new sverify.VerificationError({
          code: "PUBLIC_KEY_ERROR",
          message: `key not found: bundle hint ${JSON.stringify(hint)} is not the given key's ${JSON.stringify(expectedHint)} (base64(sha256(SPKI DER)))`,
        });
      }
      return { publicKey: key, validFor: () => true };
    };
    const trust = sverify.toTrustMaterial(
      { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
      keyFinder,
    );
    const verifier = new sverify.Verifier(trust, {
      tlogThreshold: 0,
      ctlogThreshold: 0,
      timestampThreshold: 0,
    });
    signer = verifier.verify(entity);
  } catch (e) {
    const fields = Array.isArray(e.fields) ? ` (fields: ${e.fields.join(", ")})` : "";
    const code = e.code ? `${e.code}: ` : "";
    reject(`@sigstore/verify: ${code}${e.message}${fields}`);
  }
  if (!signer) reject("@sigstore/verify returned no signer");

  // The Statement.
  let stmt;
  try {
    stmt = JSON.parse(payload.toString("utf8"));
  } catch (e) {
    reject(`DSSE payload is not JSON: ${e.message}`);
  }
  if (stmt === null || typeof stmt !== "object" || Array.isArray(stmt)) reject("DSSE payload is not a JSON object");
  if (stmt._type !== STATEMENT_TYPE) {
    reject(`Statement _type is ${JSON.stringify(stmt._type)}, want ${JSON.stringify(STATEMENT_TYPE)}`);
  }
  if (!Array.isArray(stmt.subject) || stmt.subject.length === 0) reject("Statement has no subject");
  const subjects = [];
  stmt.subject.forEach((s, i) => {
    if (s === null || typeof s !== "object" || s.digest === null || typeof s.digest !== "object") {
      reject(`Statement subject[${i}] has no digest object`);
    }
    for (const [algo, hex] of Object.entries(s.digest)) subjects.push(`${algo}:${hex}`);
  });
  for (const d of args.digests) {
    if (!subjects.includes(d)) reject(`no Statement subject has digest ${d} (subjects: ${subjects.join(", ")})`);
  }
  if (typeof stmt.predicateType !== "string" || stmt.predicateType === "") reject("Statement has no predicateType");
  if (args.predicateType !== undefined && stmt.predicateType !== args.predicateType) {
    reject(`predicateType is ${JSON.stringify(stmt.predicateType)}, want ${JSON.stringify(args.predicateType)}`);
  }

  process.stdout.write(
    JSON.stringify({
      verified: true,
      verifier: "@sigstore/verify@3.1.1",
      mediaType: json.mediaType,
      hint: expectedHint,
      predicateType: stmt.predicateType,
      subjects,
    }) + "\n",
  );
}

main();
