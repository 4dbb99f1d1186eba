#!/usr/bin/env python3
"""Compiles every CUDA kernel (Sources/CUDAKernels/kernels/*.cu) with NVRTC to machine code for the
H100 (sm_90), as the CUDA backend will at run time, and fails on a compile error or a register
spill. No GPU is needed: NVRTC is a compiler library (the pip package nvidia-cuda-nvrtc, CUDA 13.0,
the device machine's version; scripts/python_consumers.sh installs it).

    python3 scripts/nvrtc_check.py [--arch sm_90] [--nvrtc PATH/libnvrtc.so.13]

Prints each kernel's registers and spills and "nvrtc: N passed, M failed"; exits 1 if any failed.
"""
import argparse
import ctypes
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "Sources", "CUDAKernels", "kernels")


def find_nvrtc():
    """libnvrtc.so.13 of the nvidia-cuda-nvrtc package in this Python's site-packages."""
    import site
    for folder in site.getsitepackages():
        found = sorted(glob.glob(os.path.join(folder, "nvidia", "cu13", "lib", "libnvrtc.so.13")))
        if found:
            return found[0]
    sys.exit("nvrtc_check: libnvrtc.so.13 not found (pip install nvidia-cuda-nvrtc==13.0.88)")


def load(path):
    # libnvrtc loads its builtins by soname; loading them first, globally, by path makes that work
    # without LD_LIBRARY_PATH (otherwise every compile fails with NVRTC error 7).
    for builtins in glob.glob(os.path.join(os.path.dirname(path), "libnvrtc-builtins.so.*")):
        if ".alt." not in builtins:
            ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
    nvrtc = ctypes.CDLL(path)
    nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
    return nvrtc


def compile_file(nvrtc, path, arch):
    """(ok, log, cubin bytes) for one .cu file."""
    source = open(path, "rb").read()
    program = ctypes.c_void_p()
    status = nvrtc.nvrtcCreateProgram(ctypes.byref(program), source, os.path.basename(path).encode(), 0, None, None)
    if status != 0:
        return False, nvrtc.nvrtcGetErrorString(status).decode(), b""
    options = [f"--gpu-architecture={arch}", f"--include-path={KERNELS}", "--ptxas-options=-v", "--std=c++17"]
    array = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    status = nvrtc.nvrtcCompileProgram(program, len(options), array)
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    cubin = b""
    if status == 0:
        nvrtc.nvrtcGetCUBINSize(program, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetCUBIN(program, buffer)
        cubin = buffer.raw
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    return status == 0, log.value.decode(errors="replace"), cubin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("--nvrtc", help="path of libnvrtc.so.13 (default: from the pip package)")
    args = parser.parse_args()
    nvrtc = load(args.nvrtc or find_nvrtc())
    major, minor = ctypes.c_int(), ctypes.c_int()
    nvrtc.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    print(f"NVRTC {major.value}.{minor.value}, {args.arch}")
    passed = failed = 0
    for path in sorted(glob.glob(os.path.join(KERNELS, "*.cu"))):
        ok, log, cubin = compile_file(nvrtc, path, args.arch)
        name = os.path.basename(path)
        # ptxas -v: "Compiling entry function 'x' for 'sm_90'", "Used N registers", "N bytes spill stores, M bytes spill loads".
        entries = re.findall(r"Compiling entry function '(\w+)'", log)
        spills = [int(a) + int(b) for a, b in re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)]
        registers = [int(r) for r in re.findall(r"Used (\d+) registers", log)]
        if not ok or not cubin or not entries or any(spills):
            failed += 1
            print(f"FAIL  {name}: {'compile error' if not ok else 'register spill' if any(spills) else 'no machine code'}\n{log}")
            continue
        passed += 1
        print(f"PASS  {name}: {len(cubin)} bytes of {args.arch} code; " + ", ".join(
            f"{e} {r} registers" for e, r in zip(entries, registers)) + "; no spills")
    print(f"nvrtc: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
