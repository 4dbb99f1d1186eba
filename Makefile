# The two set-up commands of the README. Both install missing system packages first.
SWIFT ?= swift

.PHONY: demo test build deps bench fixtures

demo: build
	.build/release/lifelong demo

test: deps
	$(SWIFT) test -c release

build: deps
	$(SWIFT) build -c release --product lifelong

deps:
	@scripts/install-deps.sh

bench: build
	.build/release/lifelong bench matmul

# Regenerates the PyTorch reference fixtures (needs torch, transformers and safetensors).
fixtures:
	python3 scripts/make_fixtures.py
