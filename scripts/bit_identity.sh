#!/bin/bash
# Records what must not change when the code is rebuilt: the sha256 (first 16 hex) of every method's
# final model.safetensors and its score matrix R, on three small streams, plus the demo's two runs.
#
#   scripts/bit_identity.sh OLD_BINARY /tmp/old && scripts/bit_identity.sh NEW_BINARY /tmp/new
#   diff /tmp/old/hashes.txt /tmp/new/hashes.txt        # empty: bit-identical
#
# Build an old binary with `git checkout REV -- Sources && swift build -c release --product lifelong
# && cp .build/release/lifelong /tmp/old-lifelong && git checkout HEAD -- Sources`. Hashes depend on
# the machine (BLAS, CPU): compare two binaries on the same one. About 15 minutes on 2 cores.
set -u
B=$(realpath "$1"); O=$2
export LIFELONG_DATA=${LIFELONG_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
mkdir -p "$O" && cd "$O" || exit 1
cat > tiny-gpt2.yaml <<Y
name: x
seed: 1
model: scratch
scratch: {architecture: gpt2, hidden: 64, layers: 2, heads: 4, positions: 320}
stream: tiny
training: {learning_rate: 1.0e-3, epochs: 1, tokens_per_batch: 2048, max_length: 256}
Y
cat > synthetic-llama.yaml <<Y
name: x
seed: 1
model: scratch
scratch: {architecture: llama, hidden: 32, layers: 2, heads: 2, positions: 128}
stream: synthetic
subsample: {train: 60, test: 6}
training: {learning_rate: 1.0e-3, epochs: 2, tokens_per_batch: 256, max_length: 64}
evaluation: {batch_size: 8}
Y
cat > synthetic-gpt2.yaml <<Y
name: x
seed: 1
model: scratch
scratch: {architecture: gpt2, hidden: 128, layers: 4, heads: 4, positions: 64}
stream: synthetic
subsample: {train: 150, test: 30}
training: {learning_rate: 1.0e-3, warmup_fraction: 0.05, tokens_per_batch: 192, max_length: 64, epochs: 3}
evaluation: {decoding: greedy, batch_size: 64}
Y
record() {  # name run-directory
  local d=$2 tag
  tag=$(cat "$d/checkpoints/latest" 2>/dev/null) || { echo "$1 FAILED"; return; }
  echo "$1 $(sha256sum "$d/checkpoints/$tag/model.safetensors" | cut -c1-16) $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['matrix'])" "$d/results.json")"
}
: > hashes.txt
for stream in tiny-gpt2 synthetic-llama synthetic-gpt2; do
  case $stream in *gpt2) targets="[attn.c_proj]";; *) targets="[o_proj]";; esac
  for m in "finetune|{name: finetune}" "lamol|{name: lamol, prompting: task, sample_ratio: 0.2, max_sample_length: 40}" \
           "replay|{name: replay}" "ewc|{name: ewc}" "l2kd|{name: l2kd, variant: seq_soft, teacher: {epochs: 1}}" \
           "slm|{name: slm, separator: \"=\", targets: $targets}" "moe|{name: lifelong_moe}"; do
    n=${m%%|*}; spec=${m#*|}
    "$B" run $stream.yaml --set "name=$stream-$n" --set "method=$spec" --runs runs --threads 1 --overwrite > "log-$stream-$n.txt" 2>&1
    record "$stream-$n" "runs/$stream-$n" >> hashes.txt
  done
done
"$B" demo --output demo --threads 1 > demo.log 2>&1
for r in finetune lamol-task; do record "demo-$r" "demo/$r" >> hashes.txt; done
cat hashes.txt
