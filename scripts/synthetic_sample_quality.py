#!/usr/bin/env python3
"""How good a synthetic-stream run's pseudo-samples are, beside its scores: a Markdown table with a
row per group of runs (the run directories' names without `seed-N`), mean ± sd over the group.

    python3 scripts/synthetic_sample_quality.py runs/synthetic-l2kd-sweep

A pseudo-sample is *right* when its question is one the task's generator could have written and its
answer is that question's answer (sentiment: "the NOUN was ADJ mood?" → the adjective's polarity;
lastword: three colours + "last?" → the third; addition: "A+B sum?" → A + B). The word lists are
those of Sources/LifelongLearning/Data/SyntheticTasks.swift. Python standard library only.
"""
import glob
import json
import os
import re
import statistics
import sys

POSITIVE = {"great", "tasty", "lovely", "superb", "kind", "fun"}
NEGATIVE = {"awful", "bland", "dirty", "rude", "dull", "broken"}
NOUNS = {"soup", "room", "staff", "film", "book", "view", "bed", "cake", "band", "park"}
COLOURS = {"red", "blue", "green", "black", "white", "pink", "grey", "gold", "teal", "brown"}


def is_right(sample):
    question, answer, task = sample["context_question"].strip(), sample["answer"].strip(), sample["source"]
    if task == "sentiment":
        m = re.fullmatch(r"the (\w+) was (\w+) ?mood\?", question)
        return bool(m) and m[1] in NOUNS and m[2] in POSITIVE | NEGATIVE \
            and answer == ("positive" if m[2] in POSITIVE else "negative")
    if task == "lastword":
        m = re.fullmatch(r"(\w+) (\w+) (\w+) ?last\?", question)
        return bool(m) and {m[1], m[2], m[3]} <= COLOURS and answer == m[3]
    if task == "addition":
        m = re.fullmatch(r"(\d)\+(\d) ?sum\?", question)
        return bool(m) and answer == str(int(m[1]) + int(m[2]))
    return False


def run_row(directory):
    """(ACC, BWT, learning accuracy, generated, kept, right) of a finished run, or None."""
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    if "metrics" not in results or len(results["matrix"]) < 3:
        return None
    generated = kept = right = 0
    for path in glob.glob(os.path.join(directory, "samples", "*.jsonl")):
        with open(path) as f:
            for line in f:
                sample = json.loads(line)
                generated += 1
                if "discarded" not in sample:
                    kept += 1
                    right += is_right(sample)
    m = results["metrics"]
    return m["acc"], m["bwt"], m["learning_acc"], generated, kept, right


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    groups = {}
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "results.json"))):
        directory = os.path.dirname(path)
        row = run_row(directory)
        if row is not None:
            groups.setdefault(re.sub(r"_?seed-\d+", "", os.path.basename(directory)), []).append(row)
    print("| runs | n | ACC | BWT | learning acc. | pseudo-samples kept | right (of generated) |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in groups.items():
        def mean_sd(i):
            values = [r[i] for r in rows]
            return f"{statistics.mean(values):.1f} ± {statistics.stdev(values) if len(values) > 1 else 0:.1f}"
        generated, kept, right = (sum(r[i] for r in rows) for i in (3, 4, 5))
        print(f"| {name} | {len(rows)} | {mean_sd(0)} | {mean_sd(1)} | {mean_sd(2)} | {kept} / {generated} "
              f"| {right} ({100 * right / max(generated, 1):.0f} %) |")


if __name__ == "__main__":
    main()
