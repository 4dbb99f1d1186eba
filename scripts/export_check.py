#!/usr/bin/env python3
"""`lifelong export` checked by the tools that load what it writes (part of `make test`).

Trains small runs with the binary (LAMOL on the tiny stream from scratch and on SmolLM2-135M,
SLM on SmolLM2-135M, Lifelong-MoE on a scratch Llama), exports them, and checks:

- hf: transformers' from_pretrained loads model and tokenizer; the tokenizer gives our ids for
  prompts that use the task tokens and __ans__; the logits after each prompt agree with our
  engine's to 1e-4 (relative to the largest logit); greedy continuations are token-for-token equal
  to `lifelong sample --json`; `lifelong generate --model DIR` reads the export back to the same
  ids. Lifelong-MoE exports as MixtralForCausalLM and passes the same checks.
- gguf: the gguf package reads every key and tensor back bit-exactly (f32 as written, f16 as
  numpy's cast, q8_0 as gguf's own quantiser makes it); transformers' GGUF loader matches the hf
  export's logits; `lifelong generate` on the file equals `lifelong sample` on the run.
- peft: PeftModel.from_pretrained on the hf export with one slot's adapter gives our logits with
  that slot alone at weight 1 (`lifelong sample --slot J`); the keys, retrieval settings,
  pseudo-samples and predictions are there and parse.
- refusals: Lifelong-MoE to GGUF, a GPT-2 mixture to hf, a damaged checkpoint (named), an output
  that exists or lies inside the run; nothing is written beside the output directory.

- llama.cpp (when llama-cpp-python is installed: `make test-llamacpp`): the f32 file tokenises
  the prompts and continues them greedily token for token as `lifelong sample`.

Run with the Python that has torch, transformers, peft and gguf (scripts/python_consumers.sh):
    PY=$(scripts/python_consumers.sh) && $PY scripts/export_check.py --binary .build/release/lifelong
Prints one line per check and "N passed, M failed"; exits 1 if any failed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""), flush=True)
    return ok


def lifelong(binary, *args, ok=True):
    done = subprocess.run([binary, *args], capture_output=True, text=True)
    if ok and done.returncode != 0:
        raise RuntimeError(f"lifelong {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return done


def write_config(folder, name, body):
    path = os.path.join(folder, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(f"name: {name}\nseed: 1\n{body}")
    return path


RUNS = {
    # LAMOL^TASK on the tiny stream, a byte-level GPT-2 from scratch (examples/tiny-lamol.yaml, fewer examples).
    "tiny-lamol": """model: scratch
scratch: {architecture: gpt2, hidden: 64, layers: 2, heads: 4, positions: 320}
stream: tiny
subsample: {train: 150, test: 10}
method: {name: lamol, prompting: task, sample_ratio: 0.2}
training: {learning_rate: 3.0e-3, epochs: 4, tokens_per_batch: 2048, max_length: 256}
""",
    # LAMOL on SmolLM2-135M: two tasks, a few steps.
    "smol-lamol": """model: smollm2-135m
stream: [sst, trec]
subsample: {train: 6, test: 3}
method: {name: lamol, prompting: task, sample_ratio: 0.34}
training: {learning_rate: 1.0e-4, epochs: 1, tokens_per_batch: 256, max_length: 64}
evaluation: {batch_size: 8}
""",
    # SLM on SmolLM2-135M: two tasks, two slots each.
    "smol-slm": """model: smollm2-135m
stream: [sst, trec]
subsample: {train: 6, test: 3}
method: {name: slm, slots_per_task: 2, rank: 4, retrieved_slots: 1, targets: [o_proj], keys: {epochs: 2}}
training: {learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 256, max_length: 64}
evaluation: {batch_size: 8}
""",
    # Lifelong-MoE on a scratch Llama (a mixture in every second block): exports as Mixtral.
    "moe-llama": """model: scratch
scratch: {architecture: llama, hidden: 64, layers: 2, heads: 4, positions: 320}
stream: tiny
subsample: {train: 100, test: 5}
method: {name: lifelong_moe, experts: 2, experts_per_stage: 1, every: 2, top_k: 2}
training: {learning_rate: 3.0e-3, epochs: 3, tokens_per_batch: 2048, max_length: 256}
""",
    # Fine-tuning a scratch Qwen2 (q/k/v biases, rotary rows not permuted in GGUF).
    "qwen2-finetune": """model: scratch
scratch: {architecture: qwen2, hidden: 64, layers: 2, heads: 4, positions: 320}
stream: tiny
subsample: {train: 100, test: 5}
method: {name: finetune}
training: {learning_rate: 3.0e-3, epochs: 3, tokens_per_batch: 2048, max_length: 256}
""",
    # Lifelong-MoE on a scratch GPT-2: transformers has no GPT-2 mixture, so hf is refused.
    "moe-gpt2": """model: scratch
scratch: {architecture: gpt2, hidden: 32, layers: 2, heads: 2, positions: 320}
stream: tiny
subsample: {train: 8, test: 2}
method: {name: lifelong_moe, experts: 2, experts_per_stage: 1, every: 2, top_k: 2}
training: {learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 2048, max_length: 256}
""",
}

PROMPTS = {
    "tiny-lamol": ["__sst__", "a gripping , funny film __ans__", "__clinc_banking__", "what is my balance __ans__",
                   "__mwsc__ The trophy did not fit"],
    "smol-lamol": ["__sst__", "a gripping, funny film __ans__", "__trec__", "Who wrote Hamlet? __ans__",
                   "__sst__ 2 stars out of 10, the plot is thin but"],
    "smol-slm": ["a gripping, funny film =>", "Who wrote Hamlet? =>"],
    "moe-llama": ["__sst__", "a dull film __ans__", "__clinc_travel__", "book a flight __ans__", "__mwsc__ The"],
    "qwen2-finetune": ["a dull film __ans__", "book a flight __ans__", "what is my balance __ans__", "The trophy", "x"],
}
MAX_TOKENS = 12


def ours(binary, run, prompt, slot=None):
    args = ["sample", run, "--prompt", prompt, "--max-tokens", str(MAX_TOKENS), "--json"]
    if slot is not None:
        args += ["--slot", str(slot)]
    return json.loads(lifelong(binary, *args).stdout.splitlines()[0])


def logits_agree(theirs, mine):
    scale = max(1.0, float(np.abs(mine).max()))
    difference = float(np.abs(theirs - mine).max())
    return difference <= 1e-4 * scale, f"max |Δ| {difference:.2e}, largest logit {scale:.1f}"


def greedy(model, ids, end):
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=MAX_TOKENS, do_sample=False, eos_token_id=end, pad_token_id=end)[0, len(ids):].tolist()
    return out[:out.index(end)] if end in out else out


def last_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].numpy().astype(np.float64)


def check_hf(binary, name, run, exports, expect_class):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    folder = os.path.join(exports, f"{name}-hf")
    lifelong(binary, "export", run, "--format", "hf", "--output", folder)
    info = json.load(open(os.path.join(folder, "lifelong_export.json")))
    end = info["end_of_example_token_id"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    check(f"{name} hf: transformers loads {expect_class}", type(model).__name__ == expect_class, type(model).__name__)
    for prompt in PROMPTS[name]:
        mine = ours(binary, run, prompt)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        check(f"{name} hf: tokenizer ids of {prompt!r}", ids == mine["prompt_ids"], f"{ids} vs {mine['prompt_ids']}")
        ok, detail = logits_agree(last_logits(model, mine["prompt_ids"]), np.array(mine["logits"]))
        check(f"{name} hf: logits after {prompt!r}", ok, detail)
        theirs = greedy(model, mine["prompt_ids"], end)
        check(f"{name} hf: greedy continuation of {prompt!r}", theirs == mine["output_ids"], f"{theirs} vs {mine['output_ids']}")
        back = json.loads(lifelong(binary, "generate", "--model", folder, "--prompt", prompt, "--max-tokens", str(MAX_TOKENS),
                                   "--json", "--quiet").stdout)
        check(f"{name} hf: lifelong generate --model on the export, {prompt!r} (stopping at the run's end token)",
              back["output_ids"] == mine["output_ids"], f"{back['output_ids']} vs {mine['output_ids']}")
    return folder, model


def interleave_rotary(weight, heads):
    """llama.cpp's q/k row order (convert_hf_to_gguf's permute)."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def check_gguf(binary, name, run, exports, hf_folder, hf_model):
    import gguf
    from gguf.quants import quantize
    from safetensors.numpy import load_file
    from transformers import AutoModelForCausalLM
    config = json.load(open(os.path.join(hf_folder, "config.json")))
    arch = config["model_type"]
    tok = json.load(open(os.path.join(hf_folder, "tokenizer.json")))
    hf = load_file(os.path.join(hf_folder, "model.safetensors"))
    # llama.cpp's tensor names, as its convert_hf_to_gguf.py writes them.
    if arch == "gpt2":
        names = {"transformer.wte.weight": "token_embd.weight", "transformer.wpe.weight": "position_embd.weight",
                 "transformer.ln_f.weight": "output_norm.weight", "transformer.ln_f.bias": "output_norm.bias"}
        blocks, inner = "transformer.h.", {f"{ours}.{kind}": f"{theirs}.{kind}" for kind in ("weight", "bias") for ours, theirs in [
            ("ln_1", "attn_norm"), ("attn.c_attn", "attn_qkv"), ("attn.c_proj", "attn_output"), ("ln_2", "ffn_norm"),
            ("mlp.c_fc", "ffn_up"), ("mlp.c_proj", "ffn_down")]}
    else:
        names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
        blocks, inner = "model.layers.", {
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "self_attn.q_proj.bias": "attn_q.bias", "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}
    for key in list(hf):
        if key.startswith(blocks):
            layer, rest = key[len(blocks):].split(".", 1)
            names[key] = f"blk.{layer}.{inner[rest]}"
    for storage in ["f32", "f16", "q8_0"]:
        folder = os.path.join(exports, f"{name}-gguf-{storage}")
        lifelong(binary, "export", run, "--format", "gguf", "--gguf-type", storage, "--output", folder)
        reader = gguf.GGUFReader(os.path.join(folder, "model.gguf"))
        tensors = {t.name: t for t in reader.tensors}
        exact = []
        for key, value in hf.items():
            t = tensors.get(names[key])
            if t is None:
                exact.append(f"{key}: missing")
                continue
            if arch == "gpt2" and value.ndim == 2 and not key.endswith(("wte.weight", "wpe.weight")):
                value = np.ascontiguousarray(value.T)  # GPT-2's Conv1D [in, out] is [out, in] in llama.cpp's files
            elif arch == "llama" and key.endswith("q_proj.weight"):  # llama.cpp's Llama rotates interleaved pairs; Qwen2 does not
                value = interleave_rotary(value, config["num_attention_heads"])
            elif arch == "llama" and key.endswith("k_proj.weight"):
                value = interleave_rotary(value, config["num_key_value_heads"])
            raw = np.asarray(t.data)
            if value.ndim == 1 or storage == "f32":
                same = raw.dtype == np.float32 and np.array_equal(raw.reshape(value.shape), value)
            elif storage == "f16":
                same = raw.dtype == np.float16 and np.array_equal(raw.reshape(value.shape).view(np.uint16), value.astype(np.float16).view(np.uint16))
            else:
                same = np.array_equal(raw.reshape(-1), quantize(value, gguf.GGMLQuantizationType.Q8_0).reshape(-1))
            if not same:
                exact.append(key)
        check(f"{name} gguf {storage}: every tensor reads back bit-exactly ({len(hf)} tensors)",
              not exact and len(tensors) == len(hf), ", ".join(exact[:3]))
        field = lambda k: reader.fields[k].contents()
        if arch == "gpt2":
            keys_ok = (field("gpt2.block_count") == config["n_layer"] and field("gpt2.context_length") == config["n_positions"]
                       and field("gpt2.embedding_length") == config["n_embd"] and field("gpt2.attention.head_count") == config["n_head"]
                       and abs(field("gpt2.attention.layer_norm_epsilon") - config["layer_norm_epsilon"]) <= 1e-12)
        else:
            keys_ok = (field(f"{arch}.block_count") == config["num_hidden_layers"]
                       and field(f"{arch}.context_length") == config["max_position_embeddings"]
                       and field(f"{arch}.embedding_length") == config["hidden_size"]
                       and field(f"{arch}.attention.head_count_kv") == config["num_key_value_heads"]
                       and abs(field(f"{arch}.rope.freq_base") - config["rope_theta"]) <= 1e-6 * config["rope_theta"])
        keys_ok = keys_ok and field("general.architecture") == arch and field("tokenizer.ggml.eos_token_id") == config["eos_token_id"]
        vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
        tokens = field("tokenizer.ggml.tokens")
        keys_ok = keys_ok and tokens[:len(vocab)] == [t for t, _ in vocab]
        keys_ok = keys_ok and field("tokenizer.ggml.merges") == [" ".join(m) for m in tok["model"]["merges"]]
        added = {a["id"] for a in tok["added_tokens"]}
        types = field("tokenizer.ggml.token_type")
        keys_ok = keys_ok and all((types[i] in (3, 4)) == (i in added) for i in range(len(vocab)))
        check(f"{name} gguf {storage}: metadata keys and tokenizer read back", keys_ok)
        if storage != "f32":
            continue
        check_llama_cpp(binary, name, run, os.path.join(folder, "model.gguf"), config["eos_token_id"])
        # transformers' GGUF reader maps gpt2.context_length to n_ctx but not to n_positions (it assumes 1024):
        # a GPT-2 with another number of positions needs it given.
        extra = {"n_positions": config["n_positions"]} if arch == "gpt2" else {}
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file="model.gguf", **extra).eval()
        end = config["eos_token_id"]
        for prompt in PROMPTS[name]:
            mine = ours(binary, run, prompt)
            ok, detail = logits_agree(last_logits(model, mine["prompt_ids"]), last_logits(hf_model, mine["prompt_ids"]))
            check(f"{name} gguf: transformers' GGUF loader, logits after {prompt!r}", ok, detail)
            back = json.loads(lifelong(binary, "generate", "--model", os.path.join(folder, "model.gguf"), "--prompt", prompt,
                                       "--max-tokens", str(MAX_TOKENS), "--json", "--quiet").stdout)
            check(f"{name} gguf: lifelong generate on model.gguf, {prompt!r}",
                  back["prompt_ids"] == mine["prompt_ids"] and back["output_ids"] == mine["output_ids"],
                  f"{back['output_ids']} vs {mine['output_ids']}")


def check_llama_cpp(binary, name, run, path, end):
    """llama.cpp itself (llama-cpp-python, when `scripts/python_consumers.sh --llama-cpp` has built it)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        print("SKIP  llama.cpp: llama-cpp-python is not installed here (make test-llamacpp builds it, ~8 min on 2 cores)")
        return
    llm = Llama(model_path=path, n_ctx=256, verbose=False)
    for prompt in PROMPTS[name]:
        mine = ours(binary, run, prompt)
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        theirs = []
        for token in llm.generate(ids, top_k=1, temp=0.0, reset=True):
            if token == end or len(theirs) == MAX_TOKENS:
                break
            theirs.append(token)
        check(f"{name} gguf: llama.cpp tokenises and continues {prompt!r} greedily as we do",
              ids == mine["prompt_ids"] and theirs == mine["output_ids"], f"{ids} → {theirs} vs {mine['prompt_ids']} → {mine['output_ids']}")


def check_peft(binary, name, run, exports, hf_folder):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    folder = os.path.join(exports, f"{name}-peft")
    lifelong(binary, "export", run, "--format", "peft", "--output", folder)
    retrieval = json.load(open(os.path.join(folder, "retrieval", "retrieval.json")))
    owners = retrieval["slot_owners"]
    from safetensors.numpy import load_file
    keys = load_file(os.path.join(folder, "retrieval", "keys.safetensors"))["keys"]
    check(f"{name} peft: one key per slot, the slots' owners", keys.shape[0] == len(owners) and owners[0] == "sst", f"{keys.shape}, {owners}")
    for slot in [0, len(owners) - 1]:
        task, j = owners[slot], owners[:slot + 1].count(owners[slot]) - 1
        adapter = os.path.join(folder, "adapters", task, f"slot{j}")
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(hf_folder), adapter).eval()
        for prompt in PROMPTS[name]:
            mine = ours(binary, run, prompt, slot=slot)
            ok, detail = logits_agree(last_logits(model, mine["prompt_ids"]), np.array(mine["logits"]))
            check(f"{name} peft: adapter {task}/slot{j} (slot {slot}) logits after {prompt!r}", ok, detail)
    for sub, minimum in [("predictions", 2), ("pseudo_samples", 0)]:
        files = sorted(os.listdir(os.path.join(folder, sub))) if os.path.isdir(os.path.join(folder, sub)) else []
        lines = [json.loads(line) for f in files for line in open(os.path.join(folder, sub, f))]
        check(f"{name} peft: {sub} as JSONL", len(files) >= minimum and all(isinstance(x, dict) for x in lines), f"{files}, {len(lines)} lines")


def check_refusals(binary, runs, exports):
    refused = lifelong(binary, "export", runs["moe-llama"], "--format", "gguf", "--output", os.path.join(exports, "x"), ok=False)
    check("Lifelong-MoE to GGUF is refused with the reason", refused.returncode == 64 and "mixtures of experts" in refused.stderr, refused.stderr.strip())
    refused = lifelong(binary, "export", runs["moe-gpt2"], "--format", "hf", "--output", os.path.join(exports, "x"), ok=False)
    check("a GPT-2 mixture to hf is refused with the reason", refused.returncode == 64 and "Mixtral" in refused.stderr, refused.stderr.strip())
    refused = lifelong(binary, "export", runs["tiny-lamol"], "--format", "hf", "--output", os.path.join(runs["tiny-lamol"], "export"), ok=False)
    check("an output inside the run directory is refused", refused.returncode == 64 and "inside the run" in refused.stderr, refused.stderr.strip())
    os.makedirs(os.path.join(exports, "mine"))
    refused = lifelong(binary, "export", runs["tiny-lamol"], "--format", "hf", "--output", os.path.join(exports, "mine"), "--overwrite", ok=False)
    check("--overwrite of a directory that is not an export is refused", refused.returncode == 64 and os.path.isdir(os.path.join(exports, "mine")),
          refused.stderr.strip())
    damaged = os.path.join(os.path.dirname(runs["tiny-lamol"]), "damaged")
    shutil.rmtree(damaged, ignore_errors=True)
    shutil.copytree(runs["tiny-lamol"], damaged)
    latest = open(os.path.join(damaged, "checkpoints", "latest")).read().strip()
    weights = os.path.join(damaged, "checkpoints", latest, "model.safetensors")
    with open(weights, "r+b") as f:
        f.truncate(os.path.getsize(weights) // 2)
    before = sorted(os.listdir(exports))
    refused = lifelong(binary, "export", damaged, "--format", "hf", "--output", os.path.join(exports, "damaged"), ok=False)
    check("a damaged checkpoint is refused naming the file", refused.returncode == 65 and "model.safetensors" in refused.stderr, refused.stderr.strip())
    check("a refused export leaves nothing beside its output", sorted(os.listdir(exports)) == before, f"{before} → {sorted(os.listdir(exports))}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "lifelong"))
    parser.add_argument("--keep", help="work in this directory and keep it")
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    work = args.keep or tempfile.mkdtemp(prefix="lifelong-export-")
    os.makedirs(work, exist_ok=True)
    os.environ.setdefault("LIFELONG_DATA", os.path.join(ROOT, "..", "shared", "data"))
    torch.manual_seed(0)
    configs, exports = os.path.join(work, "configs"), os.path.join(work, "exports")
    os.makedirs(configs, exist_ok=True)
    shutil.rmtree(exports, ignore_errors=True)
    os.makedirs(exports)
    runs = {name: os.path.join(work, "runs", name) for name in RUNS}
    for name, body in RUNS.items():
        if not os.path.exists(os.path.join(runs[name], "results.json")):
            lifelong(binary, "run", write_config(configs, name, body), "--runs", os.path.join(work, "runs"), "--overwrite")
        print(f"trained {name}", flush=True)
    try:
        for name, expect in [("tiny-lamol", "GPT2LMHeadModel"), ("smol-lamol", "LlamaForCausalLM"),
                             ("smol-slm", "LlamaForCausalLM"), ("moe-llama", "MixtralForCausalLM"),
                             ("qwen2-finetune", "Qwen2ForCausalLM")]:
            hf_folder, hf_model = check_hf(binary, name, runs[name], exports, expect)
            if name in ("tiny-lamol", "smol-lamol", "qwen2-finetune"):
                check_gguf(binary, name, runs[name], exports, hf_folder, hf_model)
            if name == "smol-slm":
                check_peft(binary, name, runs[name], exports, hf_folder)
        check_refusals(binary, runs, exports)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    passed, failed = RESULTS.count(True), RESULTS.count(False)
    print(f"export: {passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
