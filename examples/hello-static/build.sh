#!/usr/bin/env bash
# One command to build the hello-static example image:
#   1. compile build/hello (static) with make,
#   2. run `ironhull build` on builder.toml.
# Usage: examples/hello-static/build.sh [DEST]
#   DEST defaults to oci:ironhull-out/hello:1.0.0 (relative to the repo root).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=${1:-oci:ironhull-out/hello:1.0.0}
make -C "$here"
cd "$root"
cargo run --release -- build -f examples/hello-static/builder.toml -o "$dest"
