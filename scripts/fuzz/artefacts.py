"""Small, valid inputs of every kind the `lifelong` binary reads, written from scratch (stdlib only).

The fuzz harness mutates these: each is the smallest file that loads, so that a mutation, not a
missing part, decides the outcome. Weights are random (seeded); nothing here needs a download.
"""
import json
import signal
import subprocess
import time
import os
import random
import shutil
import struct

# GPT-2's byte → printable-character table: the 256 base tokens of a byte-level BPE vocabulary.
def byte_characters():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    codes, extra = [], 0
    for b in range(256):
        if b in printable:
            codes.append(chr(b))
        else:
            codes.append(chr(256 + extra))
            extra += 1
    return codes


MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("a", "n"), ("e", "r"), ("o", "n"), ("Ġ", "a")]
END = "<|endoftext|>"


def bpe_vocabulary():
    tokens = byte_characters() + ["".join(m) for m in MERGES] + [END]
    return tokens


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def random_values(rng, count, scale=0.05):
    return [rng.gauss(0, scale) for _ in range(count)]


# ---------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, shape, list of floats) written as F32."""
    header, blobs, offset = {}, [], 0
    for name, shape, values in tensors:
        blob = f32(values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


GPT2 = dict(vocab=len(bpe_vocabulary()), hidden=16, layers=1, heads=2, positions=64)


def gpt2_tensors(rng):
    v, d, p = GPT2["vocab"], GPT2["hidden"], GPT2["positions"]
    t = [("transformer.wte.weight", [v, d]), ("transformer.wpe.weight", [p, d])]
    for i in range(GPT2["layers"]):
        h = "transformer.h.%d." % i
        t += [(h + "ln_1.weight", [d]), (h + "ln_1.bias", [d]), (h + "attn.c_attn.weight", [d, 3 * d]),
              (h + "attn.c_attn.bias", [3 * d]), (h + "attn.c_proj.weight", [d, d]), (h + "attn.c_proj.bias", [d]),
              (h + "ln_2.weight", [d]), (h + "ln_2.bias", [d]), (h + "mlp.c_fc.weight", [d, 4 * d]),
              (h + "mlp.c_fc.bias", [4 * d]), (h + "mlp.c_proj.weight", [4 * d, d]), (h + "mlp.c_proj.bias", [d])]
    t += [("transformer.ln_f.weight", [d]), ("transformer.ln_f.bias", [d])]
    out = []
    for name, shape in t:
        n = 1
        for s in shape:
            n *= s
        values = [1.0] * n if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight") \
            else random_values(rng, n)
        out.append((name, shape, values))
    return out


def gpt2_config():
    return {"model_type": "gpt2", "activation_function": "gelu_new", "vocab_size": GPT2["vocab"],
            "n_embd": GPT2["hidden"], "n_layer": GPT2["layers"], "n_head": GPT2["heads"],
            "n_positions": GPT2["positions"], "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
            "eos_token_id": GPT2["vocab"] - 1, "bos_token_id": GPT2["vocab"] - 1}


def tokenizer_json():
    tokens = bpe_vocabulary()
    return {"version": "1.0",
            "added_tokens": [{"id": len(tokens) - 1, "content": END, "special": True, "single_word": False,
                              "lstrip": False, "rstrip": False, "normalized": False}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False,
                      "vocab": {t: i for i, t in enumerate(tokens)}, "merges": [" ".join(m) for m in MERGES]}}


def write_gpt2_directory(directory, rng):
    os.makedirs(directory, exist_ok=True)
    write_safetensors(os.path.join(directory, "model.safetensors"), gpt2_tensors(rng), {"format": "pt"})
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(gpt2_config(), f, indent=1)
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False)


# ---------------------------------------------------------------- BERT (sentence encoder)

BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghijklmnopqrstuvwxyz.,!?") + \
    ["the", "a", "is", "good", "bad", "movie", "##s", "##ing"]
BERT = dict(hidden=16, layers=1, heads=2, intermediate=32, positions=32)


def write_bert_directory(directory, rng):
    os.makedirs(directory, exist_ok=True)
    d, ff, v, p = BERT["hidden"], BERT["intermediate"], len(BERT_VOCAB), BERT["positions"]
    shapes = [("embeddings.word_embeddings.weight", [v, d]), ("embeddings.position_embeddings.weight", [p, d]),
              ("embeddings.token_type_embeddings.weight", [2, d]), ("embeddings.LayerNorm.weight", [d]),
              ("embeddings.LayerNorm.bias", [d])]
    for i in range(BERT["layers"]):
        e = "encoder.layer.%d." % i
        for part in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            shapes += [(e + part + ".weight", [d, d]), (e + part + ".bias", [d])]
        shapes += [(e + "attention.output.LayerNorm.weight", [d]), (e + "attention.output.LayerNorm.bias", [d]),
                   (e + "intermediate.dense.weight", [ff, d]), (e + "intermediate.dense.bias", [ff]),
                   (e + "output.dense.weight", [d, ff]), (e + "output.dense.bias", [d]),
                   (e + "output.LayerNorm.weight", [d]), (e + "output.LayerNorm.bias", [d])]
    tensors = []
    for name, shape in shapes:
        n = 1
        for s in shape:
            n *= s
        tensors.append((name, shape, [1.0] * n if name.endswith("LayerNorm.weight") else random_values(rng, n)))
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors, {"format": "pt"})
    config = {"model_type": "bert", "hidden_act": "gelu", "vocab_size": v, "hidden_size": d,
              "num_hidden_layers": BERT["layers"], "num_attention_heads": BERT["heads"], "intermediate_size": ff,
              "max_position_embeddings": p, "type_vocab_size": 2, "layer_norm_eps": 1e-12}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(BERT_VOCAB) + "\n")
    with open(os.path.join(directory, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}], f)
    with open(os.path.join(directory, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 32, "do_lower_case": False}, f)


# ---------------------------------------------------------------- GGUF (Llama)

GGUF_TYPES = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8,
              "arr": 9, "u64": 10, "i64": 11, "f64": 12}
SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
LLAMA = dict(hidden=16, layers=1, heads=2, kv_heads=1, ff=32, context=64)


def gguf_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gguf_value(kind, value):
    """kind: a GGUF type number; arrays are ("arr", element kind, list)."""
    if kind == 8:
        return gguf_string(value)
    if kind == 9:
        element, items = value
        return struct.pack("<IQ", element, len(items)) + b"".join(gguf_value(element, x) for x in items)
    return struct.pack(SCALAR_FORMATS[kind], value)


def llama_metadata(shape=LLAMA):
    """An ordered list of (key, type number, value): the metadata of the tiny Llama GGUF."""
    tokens = bpe_vocabulary()
    return [("general.architecture", 8, "llama"), ("general.alignment", 4, 32),
            ("llama.block_count", 4, shape["layers"]), ("llama.embedding_length", 4, shape["hidden"]),
            ("llama.feed_forward_length", 4, shape["ff"]), ("llama.attention.head_count", 4, shape["heads"]),
            ("llama.attention.head_count_kv", 4, shape["kv_heads"]), ("llama.context_length", 4, shape["context"]),
            ("llama.attention.layer_norm_rms_epsilon", 6, 1e-5), ("llama.rope.freq_base", 6, 10000.0),
            ("llama.vocab_size", 4, len(tokens)),
            ("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.pre", 8, "gpt2"),
            ("tokenizer.ggml.tokens", 9, (8, tokens)),
            ("tokenizer.ggml.token_type", 9, (5, [1] * (len(tokens) - 1) + [3])),
            ("tokenizer.ggml.merges", 9, (8, [" ".join(m) for m in MERGES])),
            ("tokenizer.ggml.bos_token_id", 4, len(tokens) - 1), ("tokenizer.ggml.eos_token_id", 4, len(tokens) - 1)]


def llama_tensors(rng, shape=LLAMA):
    """(GGUF name, GGUF dims (columns first), values) of the tiny Llama, F32."""
    v, d, ff = len(bpe_vocabulary()), shape["hidden"], shape["ff"]
    kv = d // shape["heads"] * shape["kv_heads"]
    t = [("token_embd.weight", [d, v])]
    for i in range(shape["layers"]):
        b = "blk.%d." % i
        t += [(b + "attn_norm.weight", [d]), (b + "attn_q.weight", [d, d]), (b + "attn_k.weight", [d, kv]),
              (b + "attn_v.weight", [d, kv]), (b + "attn_output.weight", [d, d]), (b + "ffn_norm.weight", [d]),
              (b + "ffn_gate.weight", [d, ff]), (b + "ffn_up.weight", [d, ff]), (b + "ffn_down.weight", [ff, d])]
    t += [("output_norm.weight", [d])]
    out = []
    for name, dims in t:
        n = 1
        for s in dims:
            n *= s
        out.append((name, dims, [1.0] * n if "norm" in name else random_values(rng, n)))
    return out


# ggml block types: number → (values per block, bytes per block); the first two bytes of each block
# are an f16 scale.
GGML_BLOCKS = {2: (32, 18), 3: (32, 20), 8: (32, 34), 12: (256, 144), 14: (256, 210)}


def quantised_blocks(rng, count, kind):
    """count values as random blocks of ggml type `kind`, each with the scale 1/64 (f16 0x2400)."""
    per, size = GGML_BLOCKS[kind]
    blocks = max(1, count // per)
    return b"".join(b"\x00\x24" + bytes(rng.randrange(256) for _ in range(size - 2)) for _ in range(blocks))


def gguf_bytes(metadata, tensors, alignment=32, version=3, types=None, rng=None):
    """metadata: list of (key, kind, value) as llama_metadata; tensors: (name, dims, values) as F32,
    except those `types` (name → ggml type number) gives a block type: random blocks of that type."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata))
    for key, kind, value in metadata:
        out += gguf_string(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    offset, blobs = 0, []
    for name, dims, values in tensors:
        kind = (types or {}).get(name, 0)
        out += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", x) for x in dims)
        out += struct.pack("<IQ", kind, offset)
        blob = f32(values) if kind == 0 else quantised_blocks(rng, len(values), kind)
        blob += b"\0" * ((alignment - len(blob) % alignment) % alignment)
        blobs.append(blob)
        offset += len(blob)
    out += b"\0" * ((alignment - len(out) % alignment) % alignment)
    return out + b"".join(blobs)


# ---------------------------------------------------------------- task directories and configs

def write_task_directory(directory, name="fuzzsent"):
    os.makedirs(directory, exist_ok=True)
    rows = [("the movie is good", "positive"), ("the movie is bad", "negative"), ("a good movie", "positive"),
            ("a bad movie", "negative")]
    for split in ["train", "test"]:
        with open(os.path.join(directory, split + ".jsonl"), "w") as f:
            for i, (text, label) in enumerate(rows):
                f.write(json.dumps({"id": "%s-%d" % (split, i), "context": text, "question": "sentiment?",
                                    "answers": [label]}) + "\n")
    with open(os.path.join(directory, "task.json"), "w") as f:
        json.dump({"name": name, "metric": "em"}, f)


def run_config(stream, name="fuzz"):
    """A run that finishes in about a second: a scratch model, one epoch, a handful of examples."""
    return {"name": name, "seed": 1, "model": "scratch",
            "scratch": {"architecture": "gpt2", "hidden": 16, "layers": 1, "heads": 2, "positions": 128},
            "stream": stream, "subsample": {"train": 4, "test": 2},
            "method": {"name": "finetune"},
            "training": {"epochs": 1, "learning_rate": 1e-3, "tokens_per_batch": 256, "max_length": 64},
            "evaluation": {"batch_size": 4}}


RESUMABLE = """name: fz
seed: 1
model: scratch
scratch: {architecture: gpt2, hidden: 32, layers: 2, heads: 2, positions: 128}
stream: synthetic
subsample: {train: 40, test: 6}
checkpoint_every: 2
method: {name: lamol, prompting: task, sample_ratio: 1.0, max_sample_length: 60}
training: {learning_rate: 1.0e-3, epochs: 4, tokens_per_batch: 256, max_length: 64}
evaluation: {batch_size: 8}
"""


def write_resumable_run(root, binary):
    """runs/fz: a LAMOL run stopped with Ctrl-C (SIGINT) inside the second task's training, so its
    checkpoint holds every kind of file (weights, AdamW's moments, the stage's items, state.json,
    manifest.json); `run.yaml` beside it resumes it. Returns False when no such checkpoint came."""
    with open(os.path.join(root, "run.yaml"), "w") as f:
        f.write(RESUMABLE)
    for _ in range(3):  # a busy machine may let the stage finish before the signal lands: again
        shutil.rmtree(os.path.join(root, "runs"), ignore_errors=True)
        if stop_inside_second_task(root, binary):
            return True
    return False


def stop_inside_second_task(root, binary):
    latest = os.path.join(root, "runs", "fz", "checkpoints", "latest")
    process = subprocess.Popen([binary, "run", "run.yaml", "--runs", "runs", "--threads", "1"], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while process.poll() is None and time.time() < deadline:
        try:
            tag = open(latest).read().strip()
        except OSError:
            tag = ""
        if mid_stage(tag):
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.005)
    process.wait(timeout=120)
    return mid_stage(open(latest).read().strip() if os.path.exists(latest) else "")


def mid_stage(tag):
    """A checkpoint tag inside the second task's training: stage1-stepN, N > 0."""
    step = tag[len("stage1-step"):].split(".")[0]
    return tag.startswith("stage1-step") and step.isdigit() and int(step) > 0


def write_all(root, seed=0):
    rng = random.Random(seed)
    write_gpt2_directory(os.path.join(root, "gpt2"), rng)
    write_bert_directory(os.path.join(root, "bert"), rng)
    with open(os.path.join(root, "llama.gguf"), "wb") as f:
        f.write(gguf_bytes(llama_metadata(), llama_tensors(rng)))
    write_task_directory(os.path.join(root, "task"))
