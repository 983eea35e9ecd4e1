#!/usr/bin/env bash
# Builds Streamloom (release) and opens the editor on a bundled example graph (or the graph given).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh editor
graph="${1:-assets/graphs/purchases.ron}"
exec cargo run --release --locked -p streamloom -- "$graph"
