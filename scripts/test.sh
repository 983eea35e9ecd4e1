#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
mkdir -p -m 700 /tmp/streamloom-xdg
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/streamloom-xdg}"
cargo test --workspace --locked "$@"
