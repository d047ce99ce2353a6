#!/usr/bin/env bash
# Builds the data-dir-ca example image.
# Usage: examples/data-dir-ca/build.sh [DEST]   (default oci:ironhull-out/data-dir-ca:1.0.0)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=${1:-oci:ironhull-out/data-dir-ca:1.0.0}
mkdir -p "$here/build" "$here/data"
# An empty writable directory is a valid artifact; create it if missing.
mkdir -p "$here/data"
cc=$(command -v musl-gcc || echo cc)
"$cc" -Os -static -s -o "$here/build/datastore" "$here/datastore.c"
if [ ! -s "$here/build/extra-ca.crt" ]; then
  # A throw-away self-signed test CA. Only the certificate is kept: the key
  # goes to a temporary file that is deleted right away, so no private key
  # ever sits in the build directory (ironhull would refuse it anyway).
  key=$(mktemp)
  trap 'rm -f "$key"' EXIT
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0} openssl req -x509 -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$key" \
    -subj "/CN=ironhull example test CA" -days 3650 \
    -out "$here/build/extra-ca.crt" 2>/dev/null
  rm -f "$key"
fi
cd "$root"
cargo run --release -- build -f examples/data-dir-ca/builder.toml -o "$dest"
