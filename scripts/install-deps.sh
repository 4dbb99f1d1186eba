#!/usr/bin/env bash
# Installs what building LifelongLM needs on Debian/Ubuntu, if it is missing:
# OpenBLAS (libopenblas-dev), pkg-config, zlib (zlib1g-dev, for unpacking model wheels), libcurl
# (Foundation's HTTPS client, for fetching them) and python3 (the fuzz harness in `make test`).
# The Swift toolchain itself must already be installed.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "error: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org first." >&2
    exit 1
fi

if [ "$(uname)" = "Darwin" ]; then
    exit 0  # macOS uses Accelerate, which ships with the system.
fi

packages=()
command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas || packages+=(libopenblas-dev pkg-config)
pkg-config --exists zlib 2>/dev/null || packages+=(zlib1g-dev)
ldconfig -p | grep -q 'libcurl.so.4 ' || packages+=(libcurl4)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
[ ${#packages[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install ${packages[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "Installing ${packages[*]}…"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
