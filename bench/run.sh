#!/usr/bin/env bash
# ironhull benchmark suite (issue 7). One command:
#
#   ./bench/run.sh            full run: 200 MB set, 3 runs per row, ratio checks,
#                             writes bench/RESULTS.md, exit 1 if a target is missed
#   ./bench/run.sh --smoke    tiny sizes, 1 run, no buildah/trivy/syft/RSS/OS-package rows
#                             (push rows only when docker-registry and skopeo
#                             exist), no ratio checks, results in $BENCH_WORK
#                             only (used by tests/bench_smoke.rs)
#
# Options: --runs N, --size BYTES, --work DIR (default: $BENCH_WORK or
# /tmp/ironhull-bench), --bin PATH (default: target/release/ironhull, built
# when missing), --no-rss (skip the 1 GB peak-RSS rows).
#
# Every scenario runs the tools alternately (ironhull, peer, ironhull, peer,
# ...) so drift on the machine (thermal, page cache) hits both sides alike;
# medians are reported. Peers that are not installed are skipped with a note.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SMOKE=0; RUNS=3; SIZE=$((200 * 1000 * 1000)); RSS=1
WORK=${BENCH_WORK:-/tmp/ironhull-bench}; BIN=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1; RUNS=1; SIZE=$((4 * 1000 * 1000)); RSS=0 ;;
    --runs) RUNS=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --work) WORK=$2; shift ;;
    --bin) BIN=$2; shift ;;
    --no-rss) RSS=0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$BIN" ]; then
  BIN=$ROOT/target/release/ironhull
  if [ ! -x "$BIN" ]; then (cd "$ROOT" && cargo build --release --quiet); fi
fi
[ -x "$BIN" ] || { echo "run.sh: ironhull binary $BIN not found; build it with cargo build --release" >&2; exit 2; }

mkdir -p "$WORK"
DATA=$WORK/data; OUT=$WORK/out; CACHE=$WORK/cache
ROWS=$WORK/rows.tsv; NOTES=$WORK/notes.txt
: > "$ROWS"; : > "$NOTES"
FAIL=0

have() { command -v "$1" >/dev/null 2>&1; }
note() { echo "- $*" >> "$NOTES"; echo "note: $*" >&2; }
# Seconds (float) one command takes; its output goes to $WORK/last.log.
timeit() {
  local s e
  # Flush dirty pages left by the previous command (buildah writes GBs), so
  # no tool pays for another's writeback when it fsyncs its own output.
  sync
  s=$(date +%s.%N)
  if ! "$@" > "$WORK/last.log" 2>&1; then
    echo "run.sh: command failed: $*" >&2; tail -n 20 "$WORK/last.log" >&2; return 1
  fi
  e=$(date +%s.%N)
  python3 -c "print(f'{$e - $s:.3f}')"
}
median() { python3 -c 'import statistics,sys; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.3f}")' "$@"; }
# row NAME OURS PEER_NAME PEER TARGET(max ratio ours/peer, or "-") UNIT
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$ROWS"
}

# ---------------------------------------------------------------- data
echo "generating $SIZE bytes of artifacts in $DATA ..." >&2
python3 "$ROOT/bench/gen.py" "$DATA" "$SIZE"
NFILES=8

# A tiny local base, built once by ironhull itself (the built-in static base
# written to an oci: layout), so both builders start FROM the same image.
BASE=$WORK/base
if [ ! -d "$BASE" ]; then
  mkdir -p "$WORK/basesrc"
  printf 'base\n' > "$WORK/basesrc/README"
  cat > "$WORK/basesrc/builder.toml" <<TOML
[image]
name = "bench-base"
tags = ["1"]
[base]
image = "static"
[user]
uid = 10001
[[artifacts]]
src = "README"
dest = "/README"
mode = 0o444
TOML
  "$BIN" build -f "$WORK/basesrc/builder.toml" -o "oci:$BASE:1" --cache-dir "$WORK/basecache" >/dev/null
fi

SPEC=$DATA/builder.toml
{
  printf '[image]\nname = "bench"\ntags = ["1"]\n[base]\nimage = "oci:%s:1"\n[user]\nuid = 10001\n' "$BASE"
  for i in $(seq 0 $((NFILES - 1))); do
    printf '[[artifacts]]\nsrc = "art%d.bin"\ndest = "/app/art%d.bin"\nmode = 0o444\n' "$i" "$i"
  done
} > "$SPEC"

ih_build() { # $1 = cache dir, $2 = output layout
  rm -rf "$2"
  "$BIN" build -f "$SPEC" -o "oci:$2:1" --cache-dir "$1"
}
pigz_pipe() { tar -C "$DATA" -cf - . | pigz -6 -p 2 | sha256sum; }

# ---------------------------------------------------------------- cold build
declare -a IH=() PZ=() BA=()
BUILDAH=0
if [ $SMOKE = 0 ] && have buildah; then BUILDAH=1; else
  [ $SMOKE = 1 ] || note "buildah not installed: cold-build row vs buildah skipped (install with .ci/install-deps.sh)"; fi
if [ $BUILDAH = 1 ]; then
  {
    echo "FROM oci:$BASE:1"
    echo "COPY art*.bin /app/"
    echo "USER 10001"
  } > "$DATA/Dockerfile"
fi
buildah_build() {
  local root=$WORK/buildah-root runroot=$WORK/buildah-run
  rm -rf "$WORK/buildah-out"
  buildah --storage-driver vfs --root "$root" --runroot "$runroot" bud --isolation chroot \
    --timestamp 0 -t bench-buildah -f "$DATA/Dockerfile" "$DATA" &&
  buildah --storage-driver vfs --root "$root" --runroot "$runroot" push bench-buildah "oci:$WORK/buildah-out:1"
  buildah --storage-driver vfs --root "$root" --runroot "$runroot" rmi -a -f >/dev/null 2>&1 || true
}
if have pigz; then :; else note "pigz not installed: compression-floor row skipped"; fi
for r in $(seq 1 "$RUNS"); do
  rm -rf "$CACHE"
  IH+=("$(timeit ih_build "$CACHE" "$OUT")")
  if have pigz; then PZ+=("$(timeit pigz_pipe)"); fi
  if [ $BUILDAH = 1 ]; then BA+=("$(timeit buildah_build)"); fi
done
COLD=$(median "${IH[@]}")
have pigz && row "cold build (${SIZE} B)" "$COLD" "tar | pigz -6 -p 2 | sha256sum" "$(median "${PZ[@]}")" 0.7 s
[ $BUILDAH = 1 ] && row "cold build (${SIZE} B)" "$COLD" "buildah bud + push (vfs, chroot)" "$(median "${BA[@]}")" 0.3333 s

# ---------------------------------------------------------------- no-op rebuild
# The same command again with nothing changed (the output is still there):
# the target row. Into a fresh output directory, every blob must be written
# and fsynced again, so that row is reported for information only.
ih_rebuild() { "$BIN" build -f "$SPEC" -o "oci:$OUT:1" --cache-dir "$CACHE"; }
NOOP=(); FRESH=()
for r in $(seq 1 "$RUNS"); do
  NOOP+=("$(timeit ih_rebuild)")
  FRESH+=("$(timeit ih_build "$CACHE" "$WORK/out-fresh")")
done
row "no-op rebuild" "$(median "${NOOP[@]}")" "ironhull cold build" "$COLD" 0.05 s
row "no-op rebuild into an empty output dir" "$(median "${FRESH[@]}")" "ironhull cold build" "$COLD" - s
rm -rf "$WORK/out-fresh"

# A cache restored under another key (a CI runner without IRONHULL_CACHE_KEY,
# or a rotated key): no record authenticates, so every layer is rebuilt and
# every blob hashed, then re-sealed. Each run gets a fresh random key; one
# untimed rebuild with the normal key re-seals the cache for the rows below.
ih_rekeyed() {
  IRONHULL_CACHE_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))') \
    "$BIN" build -f "$SPEC" -o "oci:$OUT:1" --cache-dir "$CACHE"
}
REKEY=()
for r in $(seq 1 "$RUNS"); do REKEY+=("$(timeit ih_rekeyed)"); done
timeit ih_rebuild >/dev/null
row "no-op rebuild, cache sealed with another key" "$(median "${REKEY[@]}")" "ironhull cold build" "$COLD" - s

# ---------------------------------------------------------------- one artifact changed
ONE=()
for r in $(seq 1 "$RUNS"); do
  python3 "$ROOT/bench/gen.py" "$DATA" "$SIZE" --change 2 --seed $((100 + r))
  # Rebuild into the same output, as a developer loop does: the unchanged
  # layers are neither rebuilt nor copied again.
  ONE+=("$(timeit ih_rebuild)")
done
# Restore the original file for later scenarios and runs.
rm -f "$DATA/art2.bin"; python3 "$ROOT/bench/gen.py" "$DATA" "$SIZE"
# Target: proportional to changed bytes (1/NFILES of the set), with 2x slack.
row "one of $NFILES artifacts changed" "$(median "${ONE[@]}")" "ironhull cold build" "$COLD" "$(python3 -c "print(round(2/$NFILES, 4))")" s

# ---------------------------------------------------------------- peak RSS
if [ $RSS = 1 ]; then
  if [ -x /usr/bin/time ]; then
    BIG=$WORK/big
    python3 "$ROOT/bench/gen.py" "$BIG" $((1000 * 1000 * 1000)) --files 2
    { printf '[image]\nname = "big"\ntags = ["1"]\n[base]\nimage = "oci:%s:1"\n[user]\nuid = 10001\n' "$BASE"
      printf '[[artifacts]]\nsrc = "art0.bin"\ndest = "/big0"\nmode = 0o444\n[[artifacts]]\nsrc = "art1.bin"\ndest = "/big1"\nmode = 0o444\n'; } > "$BIG/builder.toml"
    rm -rf "$WORK/bigcache" "$WORK/bigout"
    /usr/bin/time -v "$BIN" build -f "$BIG/builder.toml" -o "oci:$WORK/bigout:1" --cache-dir "$WORK/bigcache" > /dev/null 2> "$WORK/rss-build.log" || true
    KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/rss-build.log")
    row "peak RSS, build 1 GB" "$(python3 -c "print(round(${KB:-0}/1024,1))")" "limit" 100 100 MB
    if /usr/bin/time -v "$BIN" audit "oci:$WORK/bigout:1" > /dev/null 2> "$WORK/rss-audit.log" || grep -q "Maximum resident" "$WORK/rss-audit.log"; then
      KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/rss-audit.log")
      row "peak RSS, audit 1 GB image" "$(python3 -c "print(round(${KB:-0}/1024,1))")" "limit" 100 100 MB
    fi
  else
    note "/usr/bin/time missing (apt-get install time): peak-RSS rows skipped"
  fi
fi

# ---------------------------------------------------------------- push
# Each run gets a freshly started docker-registry with empty storage, so the
# first push of an image really uploads every blob. (A new repository name in
# one long-lived registry is not enough: skopeo remembers where it pushed a
# blob before, in its blob-info cache, and mounts it across repositories.)
# The second push of the same image to the same repository must cost only
# HEAD requests: the registry's access log is checked for anything else.
REG=$WORK/registry; REGPID=""; REGPORT=""
reg_stop() {
  if [ -n "$REGPID" ]; then kill "$REGPID" 2>/dev/null || true; wait "$REGPID" 2>/dev/null || true; REGPID=""; fi
}
trap reg_stop EXIT
reg_start() {
  reg_stop
  rm -rf "$REG/storage"; mkdir -p "$REG/storage"
  REGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat > "$REG/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REG/storage
http:
  addr: 127.0.0.1:$REGPORT
YML
  docker-registry serve "$REG/config.yml" > "$REG/log" 2>&1 &
  REGPID=$!
  local i
  for i in $(seq 1 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$REGPORT/v2/', timeout=1)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$REGPID" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: docker-registry did not answer on 127.0.0.1:$REGPORT; its log:" >&2; tail -n 20 "$REG/log" >&2
  return 1
}
# Requests other than HEAD in the registry's access log after line $1.
non_head_since() { tail -n +"$(($1 + 1))" "$REG/log" | grep -E '"(GET|POST|PUT|PATCH|DELETE) /v2/' | grep -vc '"GET /v2/ HTTP' || true; }
ih_push() { "$BIN" push -q "oci:$OUT:1" "docker://127.0.0.1:$REGPORT/$1:1"; }
sk_push() { skopeo copy -q --dest-tls-verify=false "oci:$OUT:1" "docker://127.0.0.1:$REGPORT/$1:1"; }
if ! have docker-registry; then
  note "docker-registry not installed (apt-get install docker-registry): push rows skipped"
elif ! have skopeo; then
  note "skopeo not installed (apt-get install skopeo): push rows skipped"
else
  mkdir -p "$REG"
  PI=(); PS=(); RI=(); RS=(); EXTRA=0
  for r in $(seq 1 "$RUNS"); do
    reg_start
    PI+=("$(timeit ih_push "ih-$r")")
    mark=$(wc -l < "$REG/log")
    RI+=("$(timeit ih_push "ih-$r")")
    n=$(non_head_since "$mark"); EXTRA=$((EXTRA + n))
    reg_start
    PS+=("$(timeit sk_push "sk-$r")")
    RS+=("$(timeit sk_push "sk-$r")")
  done
  reg_stop
  row "push image of the ${SIZE} B set, fresh registry" "$(median "${PI[@]}")" "skopeo copy oci: docker://" "$(median "${PS[@]}")" 1.1 s
  row "push again (all blobs present)" "$(median "${RI[@]}")" "skopeo copy, same repository" "$(median "${RS[@]}")" 1.1 s
  row "push again: requests other than HEAD" "$EXTRA" "limit" 0 0 requests
fi

# ---------------------------------------------------------------- audit / sbom
if [ $SMOKE = 0 ]; then
  if "$BIN" audit --help > /dev/null 2>&1 && have trivy; then
    A=(); T=()
    for r in $(seq 1 "$RUNS"); do
      A+=("$(timeit sh -c "'$BIN' audit 'oci:$OUT:1' || [ \$? -le 1 ]")")
      T+=("$(timeit trivy image --offline-scan --skip-db-update --scanners secret,misconfig --input "$OUT" -q)")
    done
    row "audit 200 MB image" "$(median "${A[@]}")" "trivy --scanners secret,misconfig" "$(median "${T[@]}")" 0.3333 s
  else
    note "ironhull audit or trivy missing: audit row skipped"
  fi
  if "$BIN" sbom --help > /dev/null 2>&1 && have syft; then
    S=(); Y=()
    for r in $(seq 1 "$RUNS"); do
      S+=("$(timeit "$BIN" sbom "oci:$OUT:1")")
      Y+=("$(timeit syft -q "oci-dir:$OUT")")
    done
    row "sbom 200 MB image" "$(median "${S[@]}")" "syft" "$(median "${Y[@]}")" 0.2 s
  else
    note "ironhull sbom is not a subcommand yet or syft is missing: sbom row skipped"
  fi
fi

# ---------------------------------------------------------------- OS packages
# bench/packages.sh (also runnable alone: ./bench/packages.sh --bin B).
if [ $SMOKE = 0 ]; then source "$ROOT/bench/packages.sh"; fi

# ---------------------------------------------------------------- report
REPORT=$WORK/RESULTS.md
STATUS=0
python3 - "$ROWS" "$NOTES" "$REPORT" "$SMOKE" "$RUNS" "$SIZE" <<'PY' || STATUS=$?
import os, platform, subprocess, sys
rows_f, notes_f, out, smoke, runs, size = sys.argv[1:]
smoke = smoke == "1"
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
mem = "unknown"
try:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) // 1024} MiB"; break
except OSError:
    pass
lines = [
    "# ironhull benchmark results", "",
    f"Machine: {os.cpu_count()} CPUs (nproc), CPU `{cpu}`, memory {mem}, kernel {platform.release()}.",
    f"Artifact set: {int(size)} bytes in 8 files (half binary-like, half random; bench/gen.py, seed 1). Medians of {runs} alternating run(s).",
    "", "| scenario | ironhull | compared with | theirs | ratio | target | ok |",
    "|---|---|---|---|---|---|---|",
]
failed = 0
for raw in open(rows_f):
    name, ours, peer, theirs, target, unit = raw.rstrip("\n").split("\t")
    o, t = float(ours), float(theirs)
    if unit in ("MB", "requests"):
        # Absolute limits rather than ratios.
        ok = o <= float(target)
        ratio, tgt = "-", f"<= {target} {unit}"
    elif target == "-":
        ok = True
        ratio, tgt = (f"{o / t:.3f}x" if t > 0 else "-"), "(information)"
    else:
        r = o / t if t > 0 else float("inf")
        ok = r <= float(target)
        ratio, tgt = f"{r:.3f}x", f"<= {target}x"
    if smoke:
        okc = "(not checked)"
    else:
        okc = "-" if target == "-" else ("yes" if ok else "**MISSED**")
        failed += 0 if ok else 1
    peer = peer.replace("|", "\\|")
    ours_s = f"{o:.0f}" if unit == "requests" else f"{o:.3f}"
    theirs_s = "-" if unit == "requests" else f"{t:.3f} {unit if unit != 'MB' else ''}".rstrip()
    lines.append(f"| {name} | {ours_s} {unit} | {peer} | {theirs_s} | {ratio} | {tgt} | {okc} |")
notes = open(notes_f).read().strip()
if notes:
    lines += ["", "Notes:", "", notes]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(1 if failed else 0)
PY
if [ $SMOKE = 0 ]; then cp "$REPORT" "$ROOT/bench/RESULTS.md"; fi
exit $STATUS
