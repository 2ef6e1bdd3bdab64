# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit contract dockerlint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

## demo: embedded nats-server + every service + a demo feed; prints the enriched events
demo: $(STAMP)
	$(BIN)/vigie up --demo --once --data-dir .vigie

## test: lint, type checks, contract drift, Dockerfile lint, then the whole test suite
test: $(DEV_STAMP) lint typecheck dockerlint
	$(BIN)/pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

dockerlint: $(DEV_STAMP)
	$(BIN)/hadolint Dockerfile

contract: $(DEV_STAMP)
	$(BIN)/python -m bus.contract

## bench: throughput and latency of the deterministic pipeline against a plain relay
bench: $(STAMP)
	$(BIN)/python -m loadtest.spine_bench

clean:
	rm -rf $(VENV) .vigie .mypy_cache .ruff_cache .pytest_cache
