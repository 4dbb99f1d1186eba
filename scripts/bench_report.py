#!/usr/bin/env python3
"""How `lifelong report` scales with the number of runs (a sweep of thousands of points).

Writes N small run directories (results.json + config.yaml: 4 methods × 5 seeds × N/20 settings of
one key, 3 tasks), times `lifelong report` over the folder at each N, and prints seconds and
milliseconds per run; per-run time that stays flat is linear scaling.

    python3 scripts/bench_report.py --binary .build/release/lifelong --runs 1000 2500 10000
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

METHODS = ["finetune", "lamol", "replay", "ewc"]


def write_runs(root, count):
    for i in range(count):
        method, seed, setting = METHODS[i % 4], i // 4 % 5 + 1, i // 20
        run = os.path.join(root, "run-%05d" % i)
        os.makedirs(run)
        matrix = [[(i * 7 + 13 * j + 3 * k) % 100 for k in range(3)] for j in range(3)]
        results = {"method": method, "model": "scratch", "seed": seed, "tasks": ["a", "b", "c"],
                    "task_metrics": ["em"] * 3, "matrix": matrix, "baseline": [0.0] * 3, "final_average": sum(matrix[-1]) / 3,
                    "pseudo_samples": [], "seconds_training": 1.0, "seconds_evaluating": 1.0, "formulas": [], "complete": True}
        with open(os.path.join(run, "results.json"), "w") as f:
            json.dump(results, f)
        with open(os.path.join(run, "config.yaml"), "w") as f:
            f.write("name: run-%05d\nseed: %d\nmodel: scratch\nstream: [a, b, c]\nmethod: {name: %s}\n"
                    "training: {learning_rate: %g}\n" % (i, seed, method, 1e-4 * (1 + setting)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/lifelong")
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 2500, 10000])
    args = parser.parse_args()
    print("| runs | seconds | ms per run |\n|---:|---:|---:|")
    for count in args.runs:
        root = tempfile.mkdtemp(prefix="bench-report-")
        try:
            write_runs(os.path.join(root, "sweep"), count)
            start = time.perf_counter()
            subprocess.run([os.path.abspath(args.binary), "report", os.path.join(root, "sweep"), "--out", os.path.join(root, "report")],
                           check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            print("| %d | %.1f | %.2f |" % (count, seconds, 1000 * seconds / count))
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
