#!/usr/bin/env bash
# Installs the system packages Streamloom needs, once. Idempotent and quiet when all is there.
#   scripts/setup.sh editor   what the editor needs at run time (X11/Wayland client libs, GL)
#   scripts/setup.sh test     plus what the tests need (Mesa's software Vulkan/GL for rendered
#                             UI snapshots, Xvfb and xdotool for screenshots, and the
#                             brokers the broker node tests start: nats-server and mosquitto)
set -euo pipefail
profile="${1:-test}"

packages=(libxkbcommon-x11-0 libx11-6 libxcursor1 libxrandr2 libxi6 libgl1 libegl1 libgl1-mesa-dri libglx-mesa0 libegl-mesa0)
if [ "$profile" = test ]; then
    packages+=(mesa-vulkan-drivers libvulkan1 xvfb xdotool python3 nats-server mosquitto)
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "!!! cargo not found: install Rust 1.95 or newer (https://rustup.rs) and run this again" >&2
    exit 1
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
else
    echo "!!! not a Debian-like system: make sure these are installed: ${packages[*]}" >&2
fi

if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "!!! missing packages and no root: ${missing[*]}" >&2
            echo "!!! rendered UI tests and the editor may not work until they are installed" >&2
            exit 0
        fi
    fi
    echo ">>> installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
        echo "!!! could not install: ${missing[*]}; tests that need them will say so" >&2
    fi
fi
