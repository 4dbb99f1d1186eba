#!/usr/bin/env python3
"""Reference outputs of the real models, for the parity tests that run on them in CI.

    /tmp/ref/bin/pip install torch transformers gguf sentence-transformers
    /tmp/ref/bin/python scripts/make_real_model_fixtures.py \\
        --smollm2 ~/.cache/lifelong/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --minilm ~/.cache/lifelong/minilm-l6/model

SmolLM2 is loaded by transformers from the same GGUF file (`gguf_file=`), dequantised to fp32.
Writes, under Tests/ModelTests/Fixtures/:
  smollm2.expected.safetensors  prompt ids, greedy continuations (16 tokens), last-position logits
  smollm2-tokens.json           token ids of every text of tokenizer-corpus.json
  minilm.expected.json          sentence-transformers embeddings and WordPiece ids
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelTests", "Fixtures")
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, there was a little",
    "Question: What is 12 plus 7?\nAnswer:",
]


def corpus():
    with open(os.path.join(FIXTURES, "tokenizer-corpus.json"), encoding="utf-8") as f:
        return json.load(f)


def smollm2(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    directory, name = os.path.split(os.path.abspath(path))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.eval()
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 2
    expected = {}
    with torch.no_grad():
        for i, prompt in enumerate(PROMPTS):
            ids = torch.tensor([tokenizer(prompt, add_special_tokens=False).input_ids])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False)
            expected[f"prompt{i}"] = ids[0]
            expected[f"greedy{i}"] = out[0, ids.shape[1]:].contiguous()
            if i < 2:
                expected[f"logits{i}"] = model(ids).logits[0, -1].contiguous()
    save_file(expected, os.path.join(FIXTURES, "smollm2.expected.safetensors"))
    tokens = [tokenizer.encode(text, add_special_tokens=False) for text in corpus()]
    with open(os.path.join(FIXTURES, "smollm2-tokens.json"), "w") as f:
        json.dump(tokens, f, separators=(",", ":"))


def minilm(directory):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoTokenizer
    model = SentenceTransformer(directory, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(directory)
    texts = corpus()
    sentences = [t for t in texts if t.strip()][:24]
    embeddings = model.encode(sentences, normalize_embeddings=True, convert_to_numpy=True)
    with open(os.path.join(FIXTURES, "minilm.expected.json"), "w") as f:
        json.dump({
            "sentences": sentences,
            "embeddings": [[round(float(x), 7) for x in row] for row in embeddings],
            "token_ids": [tokenizer(t).input_ids for t in texts],
        }, f, separators=(",", ":"), ensure_ascii=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smollm2")
    parser.add_argument("--minilm")
    args = parser.parse_args()
    if args.smollm2:
        smollm2(args.smollm2)
    if args.minilm:
        minilm(args.minilm)
    print("written to", os.path.abspath(FIXTURES))
