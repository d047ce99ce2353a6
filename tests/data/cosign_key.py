#!/usr/bin/env python3
"""An independent implementation of cosign's private key file format, for
tests/sign_keys.rs: Python `cryptography` (scrypt, PKCS#8, ECDSA) and PyNaCl
(secretbox), written from the format's definition in go-securesystemslib's
`encrypted` package and cosign's `pkg/cosign/keys.go`, not from ironhull.

The password is read from the environment variable KEY_PASSWORD (unset means
the empty password), never from argv, so it never shows in a process list.

  cosign_key.py decrypt KEYFILE
      Decrypts a cosign key file and prints its public key as a PKIX
      `PUBLIC KEY` PEM (what cosign writes to cosign.pub).
  cosign_key.py encrypt OUT [--legacy-label] [--log-n 15|16|17]
      Writes a new P-256 key to OUT in cosign's format and its public key
      PEM to OUT.pub.
  cosign_key.py verify PUBFILE MSGFILE SIGFILE
      Verifies a DER ECDSA-SHA256 signature; exit 0 when valid, 1 when not.
"""

import base64
import json
import os
import sys

import nacl.secret
import nacl.utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

LABELS = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
# go-securesystemslib's allow-list (legacy, standard, OWASP).
ACCEPTED = {(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)}


def password() -> bytes:
    return os.environb.get(b"KEY_PASSWORD", b"")


def pem_decode(text: str):
    lines = [line.strip() for line in text.strip().splitlines()]
    begin, end = lines[0], lines[-1]
    if not (begin.startswith("-----BEGIN ") and begin.endswith("-----")):
        sys.exit("not PEM")
    label = begin[len("-----BEGIN ") : -5]
    if end != f"-----END {label}-----":
        sys.exit("PEM END line does not match")
    return label, base64.b64decode("".join(lines[1:-1]), validate=True)


def pem_encode(label: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def box_key(pw: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(pw)


def public_pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def decrypt(path: str) -> None:
    label, body = pem_decode(open(path).read())
    if label not in LABELS:
        sys.exit(f"unexpected PEM label {label!r}")
    doc = json.loads(body)
    kdf, cipher = doc["kdf"], doc["cipher"]
    assert kdf["name"] == "scrypt", kdf["name"]
    assert cipher["name"] == "nacl/secretbox", cipher["name"]
    params = (kdf["params"]["N"], kdf["params"]["r"], kdf["params"]["p"])
    assert params in ACCEPTED, params
    salt = base64.b64decode(kdf["salt"], validate=True)
    nonce = base64.b64decode(cipher["nonce"], validate=True)
    assert len(salt) == 32 and len(nonce) == 24, (len(salt), len(nonce))
    key = box_key(password(), salt, *params)
    pkcs8 = nacl.secret.SecretBox(key).decrypt(
        base64.b64decode(doc["ciphertext"], validate=True), nonce
    )
    private = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey), type(private)
    assert isinstance(private.curve, ec.SECP256R1), private.curve.name
    sys.stdout.write(public_pem(private))


def encrypt(out: str, legacy: bool, log_n: int) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt = os.urandom(32)
    nonce = nacl.utils.random(24)
    n = 1 << log_n
    key = box_key(password(), salt, n, 8, 1)
    # SecretBox.encrypt returns nonce || tag || ciphertext; cosign stores the
    # nonce separately and tag || ciphertext as "ciphertext".
    sealed = nacl.secret.SecretBox(key).encrypt(pkcs8, nonce).ciphertext
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": 8, "p": 1},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    label = LABELS[1] if legacy else LABELS[0]
    with open(out, "w") as f:
        f.write(pem_encode(label, json.dumps(doc, separators=(",", ":")).encode()))
    with open(out + ".pub", "w") as f:
        f.write(public_pem(private))


def verify(pub: str, msg: str, sig: str) -> None:
    key = serialization.load_pem_public_key(open(pub, "rb").read())
    try:
        key.verify(open(sig, "rb").read(), open(msg, "rb").read(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        print("signature INVALID")
        sys.exit(1)
    print("signature OK")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["decrypt"] and len(args) == 2:
        decrypt(args[1])
    elif args[:1] == ["encrypt"] and len(args) >= 2:
        log_n = int(args[args.index("--log-n") + 1]) if "--log-n" in args else 16
        encrypt(args[1], "--legacy-label" in args, log_n)
    elif args[:1] == ["verify"] and len(args) == 4:
        verify(args[1], args[2], args[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
