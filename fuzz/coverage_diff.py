#!/usr/bin/env python3
"""Where a fuzz campaign's new coverage is: ironhull's code or its dependencies.

libFuzzer's cov: column counts every instrumented edge, most of them in
dependencies (toml, regex-syntax, flate2, ...). Whether a target "stopped
finding anything new" in *our* code is read here: the committed corpus and
a grown one are each run once with -print_coverage=1, and the covered edges
are compared per function and summed per origin.

  fuzz/coverage_diff.py TARGET OLD_CORPUS NEW_CORPUS

(from fuzz/, after `cargo +nightly fuzz build -O`).
"""
import collections
import re
import subprocess
import sys

BIN = "./target/x86_64-unknown-linux-gnu/release/"
LINE = re.compile(r"(UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) (.*) (\S+):\d+$")


def covered(target, corpus):
    out = subprocess.run(
        [BIN + target, "-runs=0", "-print_coverage=1", "-rss_limit_mb=2048", corpus],
        capture_output=True, text=True, errors="replace", check=False,
    ).stderr
    funcs = {}
    for line in out.splitlines():
        m = LINE.match(line.strip())
        if m:
            funcs[(m.group(4), m.group(5))] = int(m.group(2))
    return funcs


def origin(path):
    if "/fuzz/" in path and "fuzz_targets" in path:
        return "fuzz harness"
    if "/src/" in path and "index.crates.io" not in path and "/rustc/" not in path and "/rust/deps/" not in path:
        return "ironhull src/" + path.split("/src/", 1)[1].split("/")[0]
    if "/rustc/" in path or "/rust/deps/" in path:
        return "rust std"
    m = re.search(r"index\.crates\.io-[^/]+/([^/]+)/", path)
    return "crate " + re.sub(r"-[0-9][^-]*$", "", m.group(1)) if m else path


def main():
    target, old_dir, new_dir = sys.argv[1:4]
    old, new = covered(target, old_dir), covered(target, new_dir)
    gained = collections.Counter()
    ours = []
    for k in sorted(set(old) | set(new)):
        d = new.get(k, 0) - old.get(k, 0)
        if d:
            gained[origin(k[1])] += d
            if origin(k[1]).startswith("ironhull"):
                ours.append((d, k[0]))
    ih = lambda f: sum(v for k, v in f.items() if origin(k[1]).startswith("ironhull"))
    print(f"{target}: ironhull-code edges {ih(old)} -> {ih(new)} (+{ih(new) - ih(old)}); "
          f"all edges {sum(old.values())} -> {sum(new.values())} (+{sum(new.values()) - sum(old.values())})")
    for o, v in gained.most_common(12):
        print(f"  {v:+5d}  {o}")
    for d, f in ours:
        print(f"    {d:+3d} {f[:120]}")


if __name__ == "__main__":
    main()
