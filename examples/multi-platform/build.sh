#!/usr/bin/env bash
# Builds the multi-platform example: linux/amd64 + linux/arm64 in one index.
# Usage: examples/multi-platform/build.sh [DEST]   (default oci:ironhull-out/multi-platform:1.0.0)
# Needs the Alpine minirootfs tarballs: $IRONHULL_FIXTURES/alpine (default
# ../shared/fixtures/alpine relative to the repository root).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=${1:-oci:ironhull-out/multi-platform:1.0.0}
fixtures=${IRONHULL_FIXTURES:-$root/../shared/fixtures}
mkdir -p "$here/build/x86_64" "$here/build/aarch64"
for m in x86_64 aarch64; do
  tarball="$fixtures/alpine/alpine-minirootfs-3.20.3-$m.tar.gz"
  [ -f "$tarball" ] || { echo "missing $tarball: download it from https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/$m/" >&2; exit 2; }
  ln -sf "$tarball" "$here/build/alpine-minirootfs-3.20.3-$m.tar.gz"
done
# Tiny static ELF programs written byte by byte, so no cross compiler is
# needed: each just calls exit(0) (x86_64: mov edi,0; mov eax,60; syscall;
# aarch64: mov x0,#0; mov x8,#93; svc #0).
python3 - "$here/build" <<'PY'
import struct, sys, os
out = sys.argv[1]
def elf(machine, code):
    entry = 0x400000 + 64 + 56
    ehdr = b'\x7fELF' + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        '<HHIQQQIHHHHHH', 2, machine, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    n = 64 + 56 + len(code)
    phdr = struct.pack('<IIQQQQQQ', 1, 5, 0, 0x400000, 0x400000, n, n, 0x1000)
    return ehdr + phdr + code
x86 = bytes.fromhex('bf00000000' 'b83c000000' '0f05')
arm = struct.pack('<III', 0xd2800000, 0xd2800ba8, 0xd4000001)
for m, mach, code in (('x86_64', 62, x86), ('aarch64', 183, arm)):
    p = os.path.join(out, m, 'hello')
    with open(p, 'wb') as f:
        f.write(elf(mach, code))
    os.chmod(p, 0o755)
PY
cd "$root"
cargo run --release -- build -f examples/multi-platform/builder.toml -o "$dest"
