#!/usr/bin/env bash
# The Python of the checks whose other side is someone else's tool: scripts/export_check.py (torch
# CPU, transformers, peft and gguf load what `lifelong export` writes), and NVRTC (CUDA 13.0, the
# pip package) with which the tests compile the CUDA kernels. A virtual environment in the model cache at pinned
# versions, made once and brought to the pins when they change. Prints the path of its python.
#   scripts/python_consumers.sh              # the consumers `make test` checks against
#   scripts/python_consumers.sh --llama-cpp  # also llama-cpp-python (builds llama.cpp: ~8 min on 2 cores)
#   scripts/python_consumers.sh --nvrtc      # prints the path of its libnvrtc.so.13 instead (LIFELONG_NVRTC)
# torch comes from a local CPU wheel when the machine has one (/opt/wheels), else from PyPI.
set -euo pipefail

PINS="transformers==5.25.0 peft==0.22.0 gguf==0.19.0 safetensors==0.8.0 numpy==2.4.6 nvidia-cuda-nvrtc==13.0.88"
TORCH=2.13.0
LLAMA_CPP=llama-cpp-python==0.3.36
cache="${LIFELONG_CACHE:-$HOME/.cache/lifelong}"
venv="$cache/python-consumers"
stamp="$venv/pins.txt"
want="torch==$TORCH $PINS"

if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$cache"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
    wheel=$(ls /opt/wheels/torch-$TORCH+cpu-*.whl 2>/dev/null | head -n 1 || true)
    echo "Installing torch $TORCH (${wheel:-from PyPI}) and $PINS into $venv…" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${wheel:-torch==$TORCH}" $PINS >&2
    echo "$want" > "$stamp"
fi
if [ "${1:-}" = "--llama-cpp" ] && ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    echo "Building $LLAMA_CPP into $venv (compiles llama.cpp)…" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$LLAMA_CPP" >&2
fi
if [ "${1:-}" = "--nvrtc" ]; then
    ls "$venv"/lib/python3*/site-packages/nvidia/cu13/lib/libnvrtc.so.13
else
    echo "$venv/bin/python"
fi
