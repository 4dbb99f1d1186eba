#!/usr/bin/env python3
"""Feeds the `lifelong` binary hostile inputs and classifies every outcome.

    python3 scripts/fuzz/fuzz.py --binary .build/release/lifelong --count 10000 --seed 1 --jobs 2

Every case runs in its own directory (a fresh copy of small valid artefacts, one of them mutated;
families.py says how) with a time limit, and ends as one of:
  clean-error   a non-zero exit whose message names the file, key or flag at fault;
  vague-error   a non-zero exit whose message names none of them;
  success       exit 0 on an input that may load (a harmless mutation);
  garbage-ok    exit 0 on an input that must be refused (silent success on garbage);
  crash         killed by a signal or a Swift runtime trap;
  hang          still running at the time limit;
  escape        a file written outside the case's run directory.
The exit status is 1 when any case crashed, hung, escaped or accepted garbage (the failures listed
with the command that reproduces each: `--only N`).
"""
import argparse
import collections
import concurrent.futures
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import artefacts  # noqa: E402
import families  # noqa: E402

FAILURES = ("crash", "hang", "escape", "garbage-ok")


def yaml_scalar(value):
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\0", "\\0") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(yaml_scalar(v) for v in value) + "]"
    return "{" + ", ".join("%s: %s" % (k, yaml_scalar(v)) for k, v in value.items()) + "}"


def write_config(directory, config):
    text = config if isinstance(config, str) else "".join("%s: %s\n" % (k, yaml_scalar(v)) for k, v in config.items())
    with open(os.path.join(directory, "cfg.yaml"), "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(text)


def snapshot(directory):
    found = set()
    for root, _, files in os.walk(directory):
        for name in files:
            found.add(os.path.relpath(os.path.join(root, name), directory))
    return found


def run_case(index, args, base):
    rng = random.Random(args.seed * 1_000_003 + index)
    family = args.families[index % len(args.families)]
    directory = tempfile.mkdtemp(prefix="case-%d-" % index, dir=args.scratch)
    try:
        for name in os.listdir(base):
            source = os.path.join(base, name)
            (shutil.copytree if os.path.isdir(source) else shutil.copy)(source, os.path.join(directory, name))
        case = families.FAMILIES[family](rng, directory)
        if case.config is not None:
            write_config(directory, case.config)
        before = snapshot(directory)
        environment = dict(os.environ, LIFELONG_CACHE=os.path.join(directory, "cache"), LIFELONG_DATA=args.data)
        try:
            done = subprocess.run([args.binary] + case.argv, cwd=directory, env=environment, capture_output=True,
                                  timeout=args.timeout)
            output = (done.stderr + done.stdout).decode("utf-8", "replace")
            outcome = classify(case, done.returncode, output)
        except subprocess.TimeoutExpired:
            outcome, output = "hang", ""
        if outcome not in ("crash", "hang"):
            written = {p for p in snapshot(directory) - before
                       if not p.startswith(("runs/", "cache/")) and p != "cfg.yaml"}
            if written:
                outcome, output = "escape", "wrote " + ", ".join(sorted(written)[:3])
        return index, case, outcome, output
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def classify(case, status, output):
    trapped = any(s in output for s in ("Fatal error", "Segmentation fault", "Illegal instruction", "Crash", "💣",
                                        "Current stack trace"))
    if status < 0 or status >= 128 and status != 130 or trapped:
        return "crash"
    if status == 0:
        return "garbage-ok" if case.must_fail else "success"
    message = output.lower()
    named = not case.names or any(n.lower() in message for n in case.names if n)
    return "clean-error" if named else "vague-error"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/lifelong")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--family", action="append", help="only these families (repeatable)")
    parser.add_argument("--only", type=int, action="append", help="only these case numbers (repeatable)")
    parser.add_argument("--data", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "../../../shared/data")))
    parser.add_argument("--show", type=int, default=40, help="failures and vague errors to print")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    args.families = sorted(args.family or families.FAMILIES)
    unknown = set(args.families) - set(families.FAMILIES)
    if unknown:
        parser.error("unknown family %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(families.FAMILIES))))
    if not (1 <= args.count <= 1_000_000 and 1 <= args.jobs <= 64):
        parser.error("--count must be in 1…1000000 and --jobs in 1…64")
    args.scratch = tempfile.mkdtemp(prefix="lifelong-fuzz-")
    base = os.path.join(args.scratch, "base")
    artefacts.write_all(base, seed=args.seed)
    if {"damaged-run", "report-inputs"} & set(args.families) and not artefacts.write_resumable_run(base, args.binary):
        shutil.rmtree(args.scratch, ignore_errors=True)
        sys.exit("fuzz: the run for the damaged-run family did not stop inside its second task (see artefacts.RESUMABLE)")
    cases = args.only or range(args.count)
    counts = collections.defaultdict(collections.Counter)
    shown = []
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for index, case, outcome, output in pool.map(lambda i: run_case(i, args, base), cases):
                counts[case.family][outcome] += 1
                if outcome in FAILURES + ("vague-error",) and len(shown) < args.show:
                    shown.append((index, case, outcome, output))
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)
    report(counts, shown, args)
    return 1 if any(c[f] for c in counts.values() for f in FAILURES) else 0


def report(counts, shown, args):
    columns = ["clean-error", "vague-error", "success", "garbage-ok", "crash", "hang", "escape"]
    print("| family | inputs | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    total = collections.Counter()
    for family in sorted(counts):
        c = counts[family]
        total.update(c)
        print("| %s | %d | " % (family, sum(c.values())) + " | ".join(str(c[k]) for k in columns) + " |")
    print("| **all** | %d | " % sum(total.values()) + " | ".join(str(total[k]) for k in columns) + " |")
    for index, case, outcome, output in shown:
        lines = output.strip().splitlines() or [""]
        line = next((x for x in lines if "Fatal error" in x or x.startswith("Error")), lines[-1])[:240]
        print("\n[%s] case %d (%s: %s)\n  %s\n  reproduce: python3 %s --seed %d --only %d --binary %s"
              % (outcome, index, case.family, case.what, line, sys.argv[0], args.seed, index, args.binary))


if __name__ == "__main__":
    sys.exit(main())
