#!/usr/bin/env bash
# Fails if a headless build links a GUI crate: runtime, nodes and `streamloom --no-default-features`
# must not depend on egui, eframe, winit or wgpu (or their windowing/GL stacks).
set -euo pipefail
cd "$(dirname "$0")/.."
gui='^(egui|eframe|epaint|emath|ecolor|egui-snarl|egui_plot|egui_kittest|winit|wgpu|glow|glutin|rfd)( |$)'
fail=0
check() {
    local what="$1"; shift
    local found
    found=$(cargo tree "$@" -e normal,build --prefix none --format '{p}' | sort -u | grep -E "$gui" || true)
    if [ -n "$found" ]; then
        echo "!!! $what links GUI crates:" >&2
        echo "$found" >&2
        fail=1
    else
        echo "ok: $what links no GUI crate"
    fi
}
check "streamloom-runtime" -p streamloom-runtime
check "streamloom-nodes" -p streamloom-nodes
check "streamloom --no-default-features" -p streamloom --no-default-features
# The check must be able to fail: the default build does link egui.
if ! cargo tree -p streamloom -e normal --prefix none --format '{p}' | grep -qE '^egui '; then
    echo "!!! the GUI check found no egui in the default build either: the check is broken" >&2
    fail=1
fi
exit $fail
