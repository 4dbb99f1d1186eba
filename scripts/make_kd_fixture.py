#!/usr/bin/env python3
"""Writes the Word-KD fixture for L2KD's objective test (needs torch, transformers, safetensors).

    /path/to/python-with-torch scripts/make_kd_fixture.py

Student: the tiny GPT-2 of Tests/ModelTests/Fixtures/tiny-gpt2. Teacher: a second tiny GPT-2 of the
same shape with its own random weights, saved to Fixtures/kd-teacher/. A batch of three right-padded
LAMOL QA sequences: rows 0 and 2 are real examples of the current task (Word-KD), row 1 is a
pseudo-sample (hard-label cross-entropy). Per target position t with weight w_t (one ANS-like target
weighs 5):

    loss = (Σ_{t in pseudo rows} w_t·CE_t + Σ_{t in real rows} w_t·T²·KL_t) / Σ_t w_t,   T = 2,
    KL_t = KL(softmax(z_teacher,t / T) ‖ softmax(z_student,t / T))

Saved in Fixtures/word-kd.safetensors: ids, mask, targets, weights, real (per row), the loss, its two
parts, and the gradient of every student parameter.
"""
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelTests", "Fixtures")
torch.manual_seed(12)
T = 2.0

student = GPT2LMHeadModel.from_pretrained(os.path.join(FIXTURES, "tiny-gpt2"))
config = GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
teacher = GPT2LMHeadModel(config)
with torch.no_grad():
    for p in teacher.parameters():
        p.add_(torch.randn_like(p) * 0.05)
teacher_dir = os.path.join(FIXTURES, "kd-teacher")
teacher.save_pretrained(teacher_dir, safe_serialization=True)
for extra in ("generation_config.json",):
    if os.path.exists(os.path.join(teacher_dir, extra)):
        os.remove(os.path.join(teacher_dir, extra))

# c q ANS a EOS, with ANS = 60 and EOS = 63: targets from the ANS position on.
rows = [[5, 9, 13, 60, 21, 22, 63], [7, 8, 60, 30, 63], [11, 12, 14, 15, 60, 40, 63]]
real = torch.tensor([1, 0, 1])
length = max(len(r) for r in rows)
ids = torch.full((3, length), 63, dtype=torch.int64)
mask = torch.zeros(3, length, dtype=torch.int64)
targets = torch.full((3, length), -100, dtype=torch.int64)
weights = torch.zeros(3, length)
for b, r in enumerate(rows):
    ids[b, :len(r)] = torch.tensor(r)
    mask[b, :len(r)] = 1
    ans = r.index(60)
    for t in range(ans, len(r) - 1):
        targets[b, t] = r[t + 1]
        weights[b, t] = 1.0
weights[2, 4] = 5.0  # one target weighed as LAMOL weighs ANS in its LM sequence

student_logits = student(input_ids=ids, attention_mask=mask).logits
with torch.no_grad():
    teacher_logits = teacher(input_ids=ids, attention_mask=mask).logits
kept = targets != -100
real_positions = kept & (real[:, None] == 1)
hard_positions = kept & (real[:, None] == 0)
ce = F.cross_entropy(student_logits.reshape(-1, 64), targets.reshape(-1).clamp(min=0), reduction="none").reshape(3, length)
kl = (F.softmax(teacher_logits / T, -1) * (F.log_softmax(teacher_logits / T, -1) - F.log_softmax(student_logits / T, -1))).sum(-1) * T * T
total_weight = weights[kept].sum()
hard = (weights * ce)[hard_positions].sum() / total_weight
distilled = (weights * kl)[real_positions].sum() / total_weight
loss = hard + distilled
loss.backward()

expected = {"ids": ids, "mask": mask, "targets": targets, "weights": weights, "real": real,
            "loss": loss.detach().reshape(1), "hard": hard.detach().reshape(1), "kd": distilled.detach().reshape(1)}
for name, p in student.named_parameters():
    expected["grad." + name] = p.grad.detach().clone()
save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(FIXTURES, "word-kd.safetensors"))
print("loss", loss.item(), "hard", hard.item(), "kd", distilled.item())
