# Two commands set up everything on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint format ingest serve eval bench clean

HOST ?= 127.0.0.1
PORT ?= 8000

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first, by pip, pinned: pip takes the CPU wheel on this disk, while any other spec (or uv)
# pulls a multi-GB CUDA build. The rest goes in with uv, which installs ~150 packages in about a
# tenth of pip's time and keeps the torch already there; pip is the fallback when uv can't run.
# UV=0 installs with pip alone (the baseline of bench/fresh_run.sh).
# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as here) nothing is ever cached, and every
# process (a worker, the CLI, a test's server) compiled its imports again: 6.3 s against 3.1 s.
UV ?= 1
$(STAMP): pyproject.toml | $(BIN)/python
ifeq ($(UV),1)
	$(BIN)/pip install -q torch==2.13.0 uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]' || $(BIN)/pip install -q -e '.[dev]'
else
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
endif
	touch $(STAMP)

install: $(STAMP)

ingest: $(STAMP)
	$(BIN)/policy-assistant ingest corpus/

run: ingest
	$(BIN)/policy-assistant serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check assistant api tests bench
	$(BIN)/ruff format --check assistant api tests bench
	$(BIN)/mypy assistant

format: $(STAMP)
	$(BIN)/ruff check --fix assistant api tests bench
	$(BIN)/ruff format assistant api tests bench

eval: ingest
	$(BIN)/policy-assistant eval bench/data/seed_qa.jsonl

bench: $(STAMP)
	$(BIN)/python bench/retrieval_vs_tutorial.py

clean:
	rm -rf index .pytest_cache .mypy_cache .ruff_cache
