#!/usr/bin/env bash
# A long fuzz campaign (CI runs each target for 20 s only): every target in
# TARGETS (default: all) for SECS seconds (default 900) from its committed
# corpus, one at a time at low priority; then the corpus it grew is merged
# (-merge=1, minimized) into OUT/min/<target>, for review and commit:
#
#   SECS=900 OUT=/tmp/fuzzrun fuzz/campaign.sh
#   rm -r fuzz/corpus/T && cp -r /tmp/fuzzrun/min/T fuzz/corpus/T
#
# NOBUILD=1 skips the build (the binaries are current). OUT/summary gets
# a line per target, with where its new coverage is (coverage_diff.py: in
# ironhull's code, or a dependency's; that, not libFuzzer's `cov:` column,
# is what "stopped finding anything new" means). OUT/<target>.log has
# libFuzzer's progress; crashes go to OUT/artifacts_<target>-*. A target with `dict/<target>.dict`
# runs with that libFuzzer dictionary (the format's keywords, so mutations
# reach keyword-guarded branches without guessing them byte by byte).
set -u
# The whole script is one function, called on the last line: bash reads a
# script as it runs, so editing this file during a campaign (hours long)
# would otherwise run the edited bytes from the old offset.
main() {
cd "$(dirname "${BASH_SOURCE[0]}")"
SECS=${SECS:-900}
OUT=${OUT:-/tmp/ironhull-fuzz}
mkdir -p "$OUT"
if [ -z "${NOBUILD:-}" ]; then
  cargo +nightly fuzz build -O > "$OUT/build.log" 2>&1 || { echo "build failed, see $OUT/build.log" >&2; exit 1; }
fi
bin=./target/x86_64-unknown-linux-gnu/release
for t in ${TARGETS:-$(cargo +nightly fuzz list)}; do
  work=$OUT/work/$t; min=$OUT/min/$t
  rm -rf "$work" "$min"; mkdir -p "$work" "$min"
  cp corpus/"$t"/* "$work"/ 2>/dev/null
  start=$(date +%s)
  dict=()
  [ -f "dict/$t.dict" ] && dict=("-dict=dict/$t.dict")
  nice -n 19 "$bin/$t" "$work" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$OUT/artifacts_$t-" > "$OUT/$t.log" 2>&1
  echo "$t rc=$? secs=$(( $(date +%s) - start ))" >> "$OUT/summary"
  nice -n 19 "$bin/$t" -merge=1 "$min" "$work" > "$OUT/$t.merge.log" 2>&1
  # Where the new coverage is: ironhull's code, or a dependency's.
  nice -n 19 python3 coverage_diff.py "$t" corpus/"$t" "$min" > "$OUT/$t.coverage" 2>&1
  head -n 1 "$OUT/$t.coverage" >> "$OUT/summary"
done
echo done >> "$OUT/summary"
}
main "$@"; exit
