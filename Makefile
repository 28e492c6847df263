# Two commands set up everything on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint format ingest serve eval bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: any other spec pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

ingest: $(STAMP)
	$(BIN)/policy-assistant ingest corpus/

run: ingest
	$(BIN)/policy-assistant serve --host 127.0.0.1 --port 8000

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
