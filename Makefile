# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit contract dockerlint bench bench-inference bench-tasks clean \
	bench-overhead bench-precedence bench-p1-tasks bench-loadtest

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

## bench-tasks: the three model tasks through the pipeline, 1/4/16 reports in flight, and quality
bench-tasks: $(STAMP)
	$(BIN)/python -m loadtest.tasks_bench --inflight 1 4 16 --out bench-results/tasks.json

## bench-overhead: the whole pipeline with the stand-in engine against a plain relay (tracing on/off, both sync settings), and the census of what the bus carries per report
bench-overhead: $(STAMP)
	$(BIN)/vigie bench overhead --out bench-results/overhead-always.json
	$(BIN)/vigie bench overhead --env VIGIE_TELEMETRY__ENABLED=false --out bench-results/overhead-no-telemetry.json
	$(BIN)/vigie bench overhead --sync-interval default --out bench-results/overhead-default.json
	$(BIN)/python -m loadtest.census --reports 300

## bench-precedence: P5, FLASH p99 with ROUTINE offered at 2x capacity vs FLASH alone (CPU engine)
bench-precedence: $(STAMP)
	$(BIN)/vigie bench precedence --out bench-results/precedence-p5.json

## bench-p1-tasks: P1 over the three tasks, engine through the pipeline vs the same requests direct
bench-p1-tasks: $(STAMP)
	$(BIN)/vigie bench tasks --out bench-results/tasks-p1.json

## bench-loadtest: a one-minute mixed open-loop load test on the stand-in engine (JSON, MD, PNG)
bench-loadtest: $(STAMP)
	$(BIN)/vigie loadtest --rate 10 --duration 60 --out bench-results/loadtest

## bench-inference: the CPU engine alone (P3, P7, FLASH under load) and through the bus (P1)
bench-inference: $(STAMP)
	$(BIN)/python -m services.inference.bench sweep --out bench-results/inference-p3.json
	$(BIN)/python -m services.inference.bench sweep --decode-group 0 \
		--out bench-results/inference-p3-throughput.json
	$(BIN)/python -m services.inference.bench constrained --concurrency 16 \
		--out bench-results/inference-p7.json
	$(BIN)/python -m services.inference.bench flash --concurrency 16 --requests 20 \
		--out bench-results/inference-flash.json
	$(BIN)/python -m loadtest.inference_bench --out bench-results/inference-p1.json

clean:
	rm -rf $(VENV) .vigie .mypy_cache .ruff_cache .pytest_cache
