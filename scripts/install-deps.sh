#!/usr/bin/env bash
# Installs what building LifelongLM needs on Debian/Ubuntu, if it is missing:
# OpenBLAS (libopenblas-dev) and pkg-config. The Swift toolchain itself must already be installed.
set -euo pipefail

if ! command -v swift >/dev/null 2>&1; then
    echo "error: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org first." >&2
    exit 1
fi

if [ "$(uname)" = "Darwin" ]; then
    exit 0  # macOS uses Accelerate, which ships with the system.
fi

if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install libopenblas-dev" >&2; exit 1; }
    sudo="sudo"
fi
echo "Installing libopenblas-dev and pkg-config…"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
