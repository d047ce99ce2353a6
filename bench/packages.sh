#!/usr/bin/env bash
# OS-package rows of the benchmark (issue 15). Sourced by bench/run.sh, or
# run alone:
#
#   ./bench/packages.sh [--runs N] [--bin PATH] [--work DIR]
#
# prints the rows with their ratios (the full report is bench/run.sh's).
if ! declare -f row >/dev/null 2>&1; then
  set -euo pipefail
  STANDALONE=1
  ROOT=$(cd "$(dirname "$0")/.." && pwd)
  RUNS=3; BIN=$ROOT/target/release/ironhull; WORK=${BENCH_WORK:-/tmp/ironhull-bench}
  while [ $# -gt 0 ]; do
    case "$1" in
      --runs) RUNS=$2; shift ;;
      --bin) BIN=$2; shift ;;
      --work) WORK=$2; shift ;;
      *) echo "packages.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  mkdir -p "$WORK"; ROWS=$WORK/pkg-rows.tsv; NOTES=$WORK/pkg-notes.txt; : > "$ROWS"; : > "$NOTES"
  have() { command -v "$1" >/dev/null 2>&1; }
  note() { echo "- $*" >> "$NOTES"; echo "note: $*" >&2; }
  timeit() {
    local s e
    sync; s=$(date +%s.%N)
    if ! "$@" > "$WORK/last.log" 2>&1; then
      echo "packages.sh: command failed: $*" >&2; tail -n 20 "$WORK/last.log" >&2; return 1
    fi
    e=$(date +%s.%N); python3 -c "print(f'{$e - $s:.3f}')"
  }
  median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }
  row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"; }
else
  STANDALONE=0
fi

# The closure of python3.11-minimal + ca-certificates on `static`, from a
# local signed archive of the real debs .ci/install-deps.sh downloads
# (IRONHULL_TEST_DEBS), served on 127.0.0.1. Peer: mmdebstrap
# --variant=extract of the same packages from the same archive, then
# `tar | pigz -6 -p 2` of its tree (what a layer costs). Cold = empty
# ironhull cache; rebuild = same lock, same cache.
DEBS=${IRONHULL_TEST_DEBS:-/var/cache/ironhull-test-debs}/amd64
if false; then :
elif [ ! -f "$DEBS/.complete" ]; then note "no test debs in $DEBS: OS-package rows skipped (run .ci/install-deps.sh)"
elif ! have mmdebstrap || ! have apt-ftparchive || ! have gpg || ! have pigz; then note "mmdebstrap, apt-ftparchive, gpg or pigz missing: OS-package rows skipped"
else
  PK=$WORK/pkgs; rm -rf "$PK"; mkdir -p "$PK/archive/pool/main" "$PK/archive/dists/bookworm/main/binary-amd64" "$PK/gnupg"
  chmod 700 "$PK/gnupg"
  cp "$DEBS"/*.deb "$PK/archive/pool/main/"
  ( cd "$PK/archive" && apt-ftparchive packages pool > dists/bookworm/main/binary-amd64/Packages \
      && xz -k dists/bookworm/main/binary-amd64/Packages \
      && apt-ftparchive -o APT::FTPArchive::Release::Suite=bookworm -o APT::FTPArchive::Release::Codename=bookworm \
           -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
           release dists/bookworm > "$PK/Release" && mv "$PK/Release" dists/bookworm/Release )
  GNUPGHOME=$PK/gnupg gpg --batch --quiet --passphrase '' --quick-gen-key bench-archive ed25519 sign never 2>/dev/null
  GNUPGHOME=$PK/gnupg gpg --batch --quiet --yes --clearsign -o "$PK/archive/dists/bookworm/InRelease" "$PK/archive/dists/bookworm/Release"
  GNUPGHOME=$PK/gnupg gpg --batch --quiet --export > "$PK/keyring.gpg"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ( cd "$PK/archive" && exec python3 -m http.server "$PORT" --bind 127.0.0.1 ) > "$PK/http.log" 2>&1 &
  HTTP_PID=$!
  # Keep run.sh's own EXIT handler (it stops its registry).
  trap 'kill $HTTP_PID 2>/dev/null || true; if declare -f reg_stop >/dev/null; then reg_stop; fi' EXIT
  sleep 1
  mkdir -p "$PK/spec"
  cat > "$PK/spec/builder.toml" <<EOT
[image]
name = "bench-python"
[base]
image = "static"
[user]
uid = 10001
[[repositories]]
kind = "deb"
url = "http://127.0.0.1:$PORT"
suite = "bookworm"
components = ["main"]
keyring = "$PK/keyring.gpg"
[packages]
install = ["python3.11-minimal", "ca-certificates"]
exclude = ["debconf"]
EOT
  "$BIN" lock -f "$PK/spec/builder.toml" --cache-dir "$PK/lockcache" > "$PK/lock.log" 2>&1
  CLOSURE=$(python3 -c 'import re,sys; print(",".join(re.findall(r"^name = \"([^\"]+)\"", open(sys.argv[1]).read(), re.M)))' "$PK/spec/ironhull.lock")
  pk_cold() { rm -rf "$PK/cache" "$PK/out"; "$BIN" build -f "$PK/spec/builder.toml" -o "oci:$PK/out:1" --cache-dir "$PK/cache"; }
  pk_rebuild() { rm -rf "$PK/out"; "$BIN" build -f "$PK/spec/builder.toml" -o "oci:$PK/out:1" --cache-dir "$PK/cache"; }
  pk_peer() {
    rm -rf "$PK/mm"; mkdir -p "$PK/mm"
    mmdebstrap --quiet --variant=extract --include="$CLOSURE" --architectures=amd64 \
      --aptopt="Acquire::Check-Valid-Until false" --keyring="$PK/keyring.gpg" \
      bookworm "$PK/mm" "deb http://127.0.0.1:$PORT bookworm main" \
      && tar -C "$PK/mm" -cf - . | pigz -6 -p 2 > "$PK/mm.tar.gz"
  }
  PC=(); PP=(); PR=()
  for _ in $(seq "$RUNS"); do
    PC+=("$(timeit pk_cold)"); PP+=("$(timeit pk_peer)")
  done
  for _ in $(seq "$RUNS"); do PR+=("$(timeit pk_rebuild)"); done
  PCOLD=$(median "${PC[@]}")
  row "install python3.11-minimal + ca-certificates (cold)" "$PCOLD" "mmdebstrap --variant=extract + tar | pigz -6 -p 2" "$(median "${PP[@]}")" 0.5 s
  row "install python3.11-minimal + ca-certificates (rebuild, same lock)" "$(median "${PR[@]}")" "ironhull cold install" "$PCOLD" 0.05 s
  if [ -x /usr/bin/time ]; then
    rm -rf "$PK/cache" "$PK/out"
    /usr/bin/time -v "$BIN" build -f "$PK/spec/builder.toml" -o "oci:$PK/out:1" --cache-dir "$PK/cache" > /dev/null 2> "$PK/rss.log" || true
    KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$PK/rss.log")
    row "peak RSS, install python3.11-minimal + ca-certificates" "$(python3 -c "print(round(${KB:-0}/1024,1))")" "limit" 100 100 MB
  fi
  kill $HTTP_PID 2>/dev/null || true
fi


if [ $STANDALONE = 1 ]; then
  python3 - "$ROWS" <<'PY'
import sys
for raw in open(sys.argv[1]):
    name, ours, peer, theirs, target, unit = raw.rstrip("\n").split("\t")
    o, t = float(ours), float(theirs)
    if unit == "MB":
        print(f"{name}: {o} MB (limit {target} MB) {'ok' if o <= float(target) else 'MISSED'}")
    else:
        r = o / t if t else float("inf")
        print(f"{name}: {o:.3f} s vs {peer} {t:.3f} s = {r:.3f}x (target <= {target}x) {'ok' if r <= float(target) else 'MISSED'}")
PY
  cat "$NOTES"
fi
