#!/usr/bin/env python3
"""Writes the reference fixtures the Swift parity tests compare against.

Run by hand when the fixtures must change (needs torch, transformers, safetensors):

    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformers safetensors
    /tmp/ref/bin/python scripts/make_fixtures.py

For a tiny GPT-2, a tiny Llama and a tiny Qwen2 (random weights, every parameter perturbed so that no bias is 0 and
no norm weight is 1) it saves the Hugging Face directory (config.json + model.safetensors) and
`expected.safetensors` with: the token ids and attention mask, the logits, the loss, the gradient of
every parameter, every parameter after one and after two AdamW steps (grad-norm clipping 1.0, weight
decay 0.1 on matrices only), the gradients at the second step, and greedy continuations of a few
prompts by `generate`. `losses.safetensors` holds cases for the fused losses.

With case names as arguments (`make_fixtures.py qwen2`), only those cases are written; each of the
cases added after the first five seeds its own generator, so it comes out the same either way.
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
import sys

from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelTests", "Fixtures")
torch.manual_seed(0)


def perturb(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))


def adamw_step(model, params):
    decay = [p for _, p in params if p.dim() >= 2]
    no_decay = [p for _, p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-2, betas=(0.9, 0.999), eps=1e-8, foreach=False)


PROMPTS = [[5, 9, 13], [7, 3, 22, 41, 8], [60]]


def greedy_references(model, expected):
    """Each prompt continued alone by transformers' greedy generate (8 new tokens, no EOS stop)."""
    model.generation_config.eos_token_id = None
    model.generation_config.pad_token_id = 0
    with torch.no_grad():
        for i, prompt in enumerate(PROMPTS):
            ids = torch.tensor([prompt])
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False)
            expected[f"generate.prompt{i}"] = ids[0].to(torch.int64)
            expected[f"generate.output{i}"] = out[0, len(prompt):].to(torch.int64).contiguous()


def write_case(name, model, ids, mask):
    directory = os.path.join(OUT, name)
    os.makedirs(directory, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)
    for extra in ("generation_config.json",):
        path = os.path.join(directory, extra)
        if os.path.exists(path):
            os.remove(path)
    # Parameters by checkpoint name; a tied head appears once, under the embedding's name.
    params = [(n, p) for n, p in model.named_parameters()]
    labels = ids.masked_fill(mask == 0, -100)
    expected = {}
    greedy_references(model, expected)
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    expected.update({
        "ids": ids.to(torch.int64), "mask": mask.to(torch.int64),
        "logits": out.logits.detach().contiguous(), "loss": out.loss.detach().reshape(1),
    })
    for n, p in params:
        expected["grad." + n] = p.grad.detach().clone()
    optimizer = adamw_step(model, params)
    for step in (1, 2):
        if step == 2:
            optimizer.zero_grad()
            model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            for n, p in params:
                expected["grad2." + n] = p.grad.detach().clone()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        for n, p in params:
            expected[f"step{step}." + n] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(directory, "expected.safetensors"))


def gpt2_case():
    config = GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=4,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = GPT2LMHeadModel(config)
    perturb(model)
    ids = torch.randint(0, 64, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.int64)
    write_case("tiny-gpt2", model, ids, mask)


def llama_case():
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                         attention_dropout=0.0)
    model = LlamaForCausalLM(config)
    model.config._attn_implementation = "eager"
    perturb(model)
    ids = torch.randint(0, 64, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.int64)
    mask[1, 5:] = 0  # right padding in the second row
    write_case("tiny-llama", model, ids, mask)


def qwen2_case():
    """Qwen2: Llama's blocks plus q/k/v biases (perturbed, so they are not 0), grouped-query heads,
    an untied head and right padding."""
    torch.manual_seed(2)
    config = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                         attention_dropout=0.0, use_sliding_window=False)
    model = Qwen2ForCausalLM(config)
    model.config._attn_implementation = "eager"
    perturb(model)
    ids = torch.randint(0, 64, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.int64)
    mask[0, 6:] = 0
    write_case("tiny-qwen2", model, ids, mask)


def loss_cases():
    logits = torch.randn(6, 10, requires_grad=True)
    targets = torch.tensor([1, 4, -100, 9, 0, 4])
    class_weights = torch.ones(10)
    class_weights[4] = 5.0  # LAMOL weighs its ANS token this way
    ce = F.cross_entropy(logits, targets, weight=class_weights, ignore_index=-100)
    ce.backward()
    student = torch.randn(5, 10, requires_grad=True)
    teacher = torch.randn(5, 10)
    T = 2.0
    kl = F.kl_div(F.log_softmax(student / T, -1), F.softmax(teacher / T, -1), reduction="batchmean") * T * T
    kl.backward()
    save_file({
        "ce.logits": logits.detach(), "ce.targets": targets, "ce.class_weights": class_weights,
        "ce.loss": ce.detach().reshape(1), "ce.grad": logits.grad,
        "kl.student": student.detach(), "kl.teacher": teacher, "kl.loss": kl.detach().reshape(1),
        "kl.grad": student.grad,
    }, os.path.join(OUT, "losses.safetensors"))


def gguf_case():
    """A small GGUF with one tensor of each supported type and metadata of every value type; the
    expected fp32 values come from the gguf package's own dequantiser."""
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as Q

    rng = np.random.default_rng(0)
    path = os.path.join(OUT, "types.gguf")
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_uint8("test.u8", 200); writer.add_int8("test.i8", -100)
    writer.add_uint16("test.u16", 60000); writer.add_int16("test.i16", -30000)
    writer.add_uint32("test.u32", 4000000000); writer.add_int32("test.i32", -2000000000)
    writer.add_uint64("test.u64", 2**40); writer.add_int64("test.i64", -(2**40))
    writer.add_float32("test.f32", 0.25); writer.add_float64("test.f64", -1.5)
    writer.add_bool("test.bool", True); writer.add_string("test.string", "héllo ✓")
    writer.add_array("test.array", ["a", "bc", ""])
    expected = {}
    for qtype in (Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q4_K, Q.Q6_K):
        name = qtype.name.lower()
        values = rng.standard_normal((2, 256)).astype(np.float32)
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        if qtype in (Q.Q4_K, Q.Q6_K):
            # Random blocks with sane fp16 scales (K-quant quantisers are not in the package).
            raw = rng.integers(0, 256, size=(2, 256 // block_size * type_size), dtype=np.uint8)
            blocks = raw.reshape(-1, type_size)
            scale = np.array([0.01], dtype=np.float16).view(np.uint8)
            if qtype == Q.Q4_K:
                blocks[:, 0:2] = scale; blocks[:, 2:4] = np.array([0.02], dtype=np.float16).view(np.uint8)
            else:
                blocks[:, 208:210] = scale
            data = raw
        elif qtype == Q.F32:
            data = values
        else:
            data = gguf.quants.quantize(values, qtype)
        writer.add_tensor(name, data, raw_dtype=qtype)
        expected[name] = torch.from_numpy(np.ascontiguousarray(gguf.quants.dequantize(data, qtype)).astype(np.float32))
    writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()
    save_file(expected, os.path.join(OUT, "types.expected.safetensors"))


def bpe_case():
    """Two tiny byte-level BPE tokenizers trained by Hugging Face `tokenizers` on the parity corpus:
    one saved as tokenizer.json with individual-digit splitting before ByteLevel (as SmolLM2's own
    tokenizer.json), one as GPT-2's vocab.json + merges.txt; with their ids for every corpus text."""
    import json
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    with open(os.path.join(OUT, "tokenizer-corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    expected = {}
    for name, digits in (("bpe-digits", True), ("bpe-gpt2", False)):
        tokenizer = Tokenizer(models.BPE())
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                                   if digits else byte_level)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(corpus * 3, trainer=trainer)
        directory = os.path.join(OUT, name)
        os.makedirs(directory, exist_ok=True)
        if digits:
            tokenizer.save(os.path.join(directory, "tokenizer.json"))
        else:
            tokenizer.model.save(directory)  # vocab.json + merges.txt
        expected[name] = [tokenizer.encode(text).ids for text in corpus]
    with open(os.path.join(OUT, "bpe-tokens.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    cases = {"bpe": bpe_case, "gguf": gguf_case, "gpt2": gpt2_case, "llama": llama_case, "losses": loss_cases,
             "qwen2": qwen2_case}
    for name in sys.argv[1:] or list(cases):
        cases[name]()
    print("fixtures written to", os.path.abspath(OUT))
