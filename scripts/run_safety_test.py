#!/usr/bin/env python3
"""Run safety against the real binary, with real signals (python3 stdlib only; `make test` runs it).

  - a second `lifelong run` of an existing run is refused, and the old run's files are untouched;
  - a run directory has one owner: `--overwrite` of a running run is refused naming its pid, and
    the running one finishes normally;
  - kill -9 at many moments, then kill -9 again during the `--resume`, then resume to the end:
    the final weights and predictions equal an uninterrupted run's (a stale lock never blocks);
  - the same for every other method (fine-tune, replay, EWC, multitask, L2KD, SLM, Lifelong-MoE);
  - one Ctrl-C (SIGINT) during pseudo-sample generation stops the run (exit 130) before the
    task's training, and `--resume` ends equal to an uninterrupted run;
  - `lifelong demo` writes runs that `lifelong sample` can use.

    python3 scripts/run_safety_test.py --binary .build/release/lifelong
"""
import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

# A LAMOL run of about two seconds on one thread: a scratch model, checkpoints every 3 steps.
FAST = """name: {name}
seed: 1
model: scratch
scratch: {{architecture: gpt2, hidden: 32, layers: 2, heads: 2, positions: 128}}
stream: synthetic
subsample: {{train: 80, test: 10}}
checkpoint_every: 3
method: {{name: lamol, prompting: task, sample_ratio: 2.0, max_sample_length: 100}}
training: {{learning_rate: 1.0e-3, epochs: 2, tokens_per_batch: 256, max_length: 64}}
evaluation: {{batch_size: 16}}
"""
# Generation dominates task 2 (800 pseudo-samples from a barely trained model: several seconds).
GENERATING = """name: {name}
seed: 1
model: scratch
scratch: {{architecture: gpt2, hidden: 128, layers: 4, heads: 4, positions: 128}}
stream: synthetic
subsample: {{train: 40, test: 10}}
method: {{name: lamol, prompting: task, sample_ratio: 20.0, max_sample_length: 120}}
training: {{learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 256, max_length: 64}}
evaluation: {{batch_size: 16}}
"""

# Every other method on a small Llama (0.3–2.5 s each): kill -9 inside its training, its
# preparation (teachers, keys, pseudo-samples) or its evaluation, then --resume.
METHOD = """name: {name}
seed: 1
model: scratch
scratch: {{architecture: llama, hidden: 32, layers: 2, heads: 2, positions: 128}}
stream: synthetic
subsample: {{train: 60, test: 6}}
checkpoint_every: 3
method: {method}
training: {{learning_rate: 1.0e-3, epochs: 2, tokens_per_batch: 256, max_length: 64}}
evaluation: {{batch_size: 8}}
"""
METHODS = {"finetune": "{name: finetune}", "replay": "{name: replay}", "ewc": "{name: ewc}", "multitask": "{name: multitask}",
           "l2kd": "{name: l2kd, teacher: {epochs: 1}}", "slm": '{name: slm, separator: "="}', "lifelong_moe": "{name: lifelong_moe}"}


class Check:
    def __init__(self):
        self.failures = []

    def __call__(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            self.failures.append(what)


def digest_tree(root):
    """sha256 of every file under root, by relative path; not `.lock`, which names the pid of the
    last process that held the directory (the refused one too: it takes the lock before looking)."""
    sums = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name == ".lock":
                continue
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                sums[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return sums


def final_state(run):
    """The latest checkpoint's weights and the final predictions of a finished run."""
    with open(os.path.join(run, "checkpoints", "latest")) as f:
        tag = f.read().strip()
    with open(os.path.join(run, "checkpoints", tag, "model.safetensors"), "rb") as f:
        weights = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(run, "results.json")) as f:
        results = json.load(f)
    return weights, json.dumps(results["final_predictions"], sort_keys=True), results["matrix"]


class Runner:
    def __init__(self, binary, root):
        self.binary, self.root = binary, root
        self.runs = os.path.join(root, "runs")

    def config(self, template, name, **values):
        path = os.path.join(self.root, name + ".yaml")
        with open(path, "w") as f:
            f.write(template.format(name=name, **values))
        return path

    def start(self, config, *flags):
        return subprocess.Popen([self.binary, "run", config, "--runs", self.runs, "--threads", "1", *flags],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, config, *flags):
        process = self.start(config, *flags)
        out, err = process.communicate(timeout=300)
        return process.returncode, out, err

    def resume_to_end(self, config, name):
        """--resume (or a fresh start if the kill came before config.yaml) until the run completes."""
        saved = os.path.join(self.runs, name, "config.yaml")
        code, out, err = self.run(config, *(["--resume"] if os.path.exists(saved) else []))
        return code, err


def refuses_rerun(check, runner, reference):
    before = digest_tree(reference)
    code, _, err = runner.run(runner.config(FAST, "reference"))
    check(code == 64 and reference in err and "--resume" in err and "--overwrite" in err,
          f"a second run of an existing run is refused (exit {code}: {err.strip()[:120]})")
    check(digest_tree(reference) == before, "the existing run's files are byte-identical after the refusal")


def one_owner(check, runner):
    config = runner.config(GENERATING, "owned")
    first = runner.start(config)
    saved = os.path.join(runner.runs, "owned", "config.yaml")
    deadline = time.time() + 60
    while not os.path.exists(saved) and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    code, _, err = runner.run(config, "--overwrite")
    check(code != 0 and f"process {first.pid}" in err, f"--overwrite of a running run is refused naming pid {first.pid} ({err.strip()[:120]})")
    out, err = first.communicate(timeout=300)
    check(first.returncode == 0, f"the running run finished normally (exit {first.returncode})")


def survives_kill9(check, runner, expected, moments):
    config = runner.config(FAST, "killed")
    for delay in moments:
        subprocess.run(["rm", "-rf", os.path.join(runner.runs, "killed")])
        process = runner.start(config)
        time.sleep(delay)
        process.kill()
        process.wait()
        # Kill the first resume too: a checkpoint of the same tag is rewritten while `latest` names it.
        saved = os.path.join(runner.runs, "killed", "config.yaml")
        again = runner.start(config, *(["--resume"] if os.path.exists(saved) else []))
        time.sleep(delay / 2)
        again.kill()
        again.wait()
        code, err = runner.resume_to_end(config, "killed")
        same = code == 0 and final_state(os.path.join(runner.runs, "killed")) == expected
        check(same, f"kill -9 at {delay:.2f} s and at {delay / 2:.2f} s of the resume, then --resume: "
                    + ("identical weights, R and predictions" if same else f"exit {code}: {err.strip()[-300:]}"))


def every_method_survives_kill9(check, runner, moments):
    """Each method, killed at `moments` points spread over its run, resumes to the uninterrupted
    run's weights, R and predictions, bit for bit."""
    for method, section in METHODS.items():
        reference = runner.config(METHOD, method + "-reference", method=section)
        started = time.time()
        code, _, err = runner.run(reference)
        duration = time.time() - started
        if code != 0:
            check(False, f"{method}: the uninterrupted run (exit {code}: {err.strip()[-200:]})")
            continue
        expected = final_state(os.path.join(runner.runs, method + "-reference"))
        config = runner.config(METHOD, method, method=section)
        failures = []
        for k in range(moments):
            delay = duration * (k + 0.5) / moments
            subprocess.run(["rm", "-rf", os.path.join(runner.runs, method)])
            process = runner.start(config)
            time.sleep(delay)
            process.kill()
            process.wait()
            code, err = runner.resume_to_end(config, method)
            if code != 0 or final_state(os.path.join(runner.runs, method)) != expected:
                failures.append(f"{delay:.2f} s (exit {code}{': ' + err.strip()[-200:] if code else ', results differ'})")
        check(not failures, f"{method}: kill -9 at {moments} moments of a {duration:.1f} s run, then --resume: "
                            + ("identical weights, R and predictions" if not failures else "; ".join(failures)))


def sigint_during_generation(check, runner):
    reference = runner.config(GENERATING, "generating-reference")
    code, _, err = runner.run(reference)
    check(code == 0, f"uninterrupted generating run (exit {code})")
    expected = final_state(os.path.join(runner.runs, "generating-reference"))
    config = runner.config(GENERATING, "generating")
    process = runner.start(config)
    for line in process.stdout:  # generation for task 2 starts right after its "training on" line
        if "(2/3)" in line:
            break
    time.sleep(0.3)
    signalled = time.time()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    waited = time.time() - signalled
    log = open(os.path.join(runner.runs, "generating", "log.jsonl")).read()
    trained_task2 = '"task":"lastword"' in log
    check(process.returncode == 130 and not trained_task2,
          f"one SIGINT during generation stops the run before task 2 trains (exit {process.returncode}, {waited:.1f} s after the signal)")
    code, err = runner.resume_to_end(config, "generating")
    check(code == 0 and final_state(os.path.join(runner.runs, "generating")) == expected,
          f"--resume after it ends identical to the uninterrupted run (exit {code})")


def demo_runs_are_ordinary(check, binary, root):
    output = os.path.join(root, "demo")
    code = subprocess.run([binary, "demo", "--train-examples", "20", "--epochs", "1", "--threads", "1", "--output", output],
                          capture_output=True, timeout=300).returncode
    sample = subprocess.run([binary, "sample", os.path.join(output, "lamol-task"), "--prompt", "__sentiment__", "--count", "1",
                             "--max-tokens", "8"], capture_output=True, text=True, timeout=120)
    check(code == 0 and os.path.exists(os.path.join(output, "lamol-task", "config.yaml")) and sample.returncode == 0,
          f"demo runs have config.yaml and `lifelong sample` uses them (demo exit {code}, sample exit {sample.returncode})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--moments", type=int, default=6, help="kill -9 moments spread over the LAMOL run")
    parser.add_argument("--method-moments", type=int, default=4, help="kill -9 moments spread over each other method's run")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    check = Check()
    with tempfile.TemporaryDirectory(prefix="run-safety-") as root:
        runner = Runner(binary, root)
        started = time.time()
        code, _, err = runner.run(runner.config(FAST, "reference"))
        duration = time.time() - started
        if code != 0:
            sys.exit(f"the reference run failed (exit {code}): {err}")
        reference = os.path.join(runner.runs, "reference")
        expected = final_state(reference)
        refuses_rerun(check, runner, reference)
        one_owner(check, runner)
        survives_kill9(check, runner, expected, [duration * (k + 0.5) / args.moments for k in range(args.moments)])
        every_method_survives_kill9(check, runner, args.method_moments)
        sigint_during_generation(check, runner)
        demo_runs_are_ordinary(check, binary, root)
    if check.failures:
        sys.exit(f"{len(check.failures)} run-safety check(s) failed")
    print("run safety: all checks passed")


if __name__ == "__main__":
    main()
