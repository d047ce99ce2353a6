#!/usr/bin/env python3
"""Deterministic artifact generator for the ironhull benchmark.

Writes N files whose bytes depend only on (total size, seed, file index,
variant), so every run and every machine benchmarks the same input:

- even-numbered files are "binary-like": slices of a low-entropy symbol pool
  glued together, which deflate compresses to roughly a third, like
  executables and libraries;
- odd-numbered files are incompressible bytes from a seeded PRNG, like
  already-compressed assets.

usage: gen.py OUT_DIR TOTAL_BYTES [--files N] [--seed S] [--change I]
  --change I  regenerate only file I with a different variant (the
              "one artifact changed" scenario); other files are untouched.
"""
import argparse
import os
import random
import sys


def binary_like(rng: random.Random, size: int) -> bytes:
    symbols = b"\x00\x00\x00\x00\x48\x89\xe5\x8b\x45\xfc\x0f\x1f\x44\xc3" + b"libc.so.6 main GLIBC_2.34 .text .data"
    pool = bytes(rng.choices(symbols, k=256 * 1024))
    out = bytearray()
    while len(out) < size:
        n = rng.randint(64, 4096)
        off = rng.randrange(0, len(pool) - n)
        out += pool[off:off + n]
        out += rng.randbytes(rng.randint(0, 24))
    return bytes(out[:size])


def write_file(path: str, size: int, seed: int, index: int, variant: int) -> None:
    rng = random.Random(f"ironhull-bench:{seed}:{index}:{variant}")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 8 << 20)
            f.write(binary_like(rng, n) if index % 2 == 0 else rng.randbytes(n))
            left -= n
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("total", type=int)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--change", type=int, default=None)
    a = ap.parse_args()
    if a.files < 1 or a.total < a.files:
        print("gen.py: need at least one file and one byte per file", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    each = a.total // a.files
    for i in range(a.files):
        path = os.path.join(a.out, f"art{i}.bin")
        if a.change is not None:
            if i == a.change:
                write_file(path, each, a.seed, i, variant=1)
        elif not os.path.exists(path) or os.path.getsize(path) != each:
            write_file(path, each, a.seed, i, variant=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
