# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
TRAIN_STAMP := $(VENV)/.installed-train


.PHONY: browser bench-console
.PHONY: demo test lock lock-upgrade lock-check lint typecheck unit contract dockerlint bench bench-inference bench-tasks clean \
	bench-overhead bench-precedence bench-p1-tasks bench-loadtest bench-server bench-flash wheelhouse wheelhouse-check licences sbom audit

LOCK_DIR := ops/lock
#: Where the CPU torch wheel lies (the file download.pytorch.org/whl/cpu publishes).
TORCH_WHEELS ?= /opt/wheels
# Every install is from a lock of what was tested (exact versions, sha256 hashes, no other
# package): the build tools first, then the rest with --no-build-isolation so llama-cpp-python and
# the project build with the locked backends too. `make lock` refreshes the locks (README).
PIP_LOCKED := $(BIN)/python -m pip install --quiet --require-hashes --no-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-build: $(LOCK_DIR)/build.txt | $(BIN)/python
	$(PIP_LOCKED) -r $(LOCK_DIR)/build.txt
	touch $@

$(STAMP): pyproject.toml $(LOCK_DIR)/runtime.txt $(VENV)/.installed-build
	$(PIP_LOCKED) --no-build-isolation -r $(LOCK_DIR)/runtime.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(DEV_STAMP): pyproject.toml $(LOCK_DIR)/dev.txt $(VENV)/.installed-build
	$(PIP_LOCKED) --no-build-isolation -r $(LOCK_DIR)/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(STAMP)

# The training extra (`vigie finetune`: torch CPU build, transformers, peft, gguf), over the dev
# set: its own lock, since torch is the CPU build from a local wheel directory (pip's find-links;
# README, "Fine-tuning"), not the multi-GB CUDA build PyPI serves for Linux.
$(TRAIN_STAMP): $(LOCK_DIR)/train.txt $(DEV_STAMP)
	$(PIP_LOCKED) -r $(LOCK_DIR)/train.txt
	touch $@

## lock: re-resolve the locks after a change to pyproject.toml, keeping every pin still allowed
## lock-upgrade: re-resolve the locks to the newest releases pyproject.toml allows (then `make test`)
UV_COMPILE := $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"
lock lock-upgrade: $(DEV_STAMP)
	$(UV_COMPILE) $(if $(filter lock-upgrade,$@),--upgrade) --extra dev \
		pyproject.toml $(LOCK_DIR)/build.in -o $(LOCK_DIR)/dev.txt
	$(UV_COMPILE) -c $(LOCK_DIR)/dev.txt pyproject.toml $(LOCK_DIR)/build.in -o $(LOCK_DIR)/runtime.txt
	$(UV_COMPILE) -c $(LOCK_DIR)/dev.txt $(LOCK_DIR)/build.in -o $(LOCK_DIR)/build.txt
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --find-links $(TORCH_WHEELS) \
		--custom-compile-command "make lock" $(if $(filter lock-upgrade,$@),--upgrade) \
		-c $(LOCK_DIR)/dev.txt $(LOCK_DIR)/train.in -o $(LOCK_DIR)/train.txt

## lock-check: the installed environment is exactly the dev lock (no other version, no extra package)
lock-check: $(TRAIN_STAMP)
	$(BIN)/python -m services.cli.lockcheck $(LOCK_DIR)/dev.txt $(LOCK_DIR)/train.txt

## demo: embedded nats-server + every service + a demo feed; prints the enriched events
demo: $(STAMP)
	$(BIN)/vigie up --demo --once --data-dir .vigie

## test: lock check, licences, lint, type checks, contract drift, Dockerfile lint, then the whole test suite
## (the console's browser tests need Debian's chromium: installed here when missing, and required)
test: $(TRAIN_STAMP) lock-check licences lint typecheck dockerlint browser
	VIGIE_REQUIRE_BROWSER=1 $(BIN)/pytest -q

## browser: headless Chromium and its driver from Debian's packages (Selenium never downloads one)
CHROMIUM_PACKAGES := chromium chromium-driver
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; else \
		echo "installing $(CHROMIUM_PACKAGES) (browser tests of vigie console)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			$(CHROMIUM_PACKAGES); \
	fi

## licences: every shipped component's licence against ops/licences/allow.toml (installed metadata, no network)
licences: $(DEV_STAMP)
	$(BIN)/vigie ops licences --quiet --lock $(LOCK_DIR)/runtime.txt
	$(BIN)/vigie ops licences --quiet --lock $(LOCK_DIR)/train.txt --allow ops/licences/allow-train.toml

## sbom: a CycloneDX SBOM of this environment (Python packages, nats-server, llama.cpp, models)
sbom: $(DEV_STAMP)
	mkdir -p dist
	$(BIN)/vigie ops sbom --out dist/sbom.cdx.json

## audit: the runtime lock against an OSV snapshot brought in by the operator (DB=all.zip or a folder)
audit: $(DEV_STAMP)
	$(if $(DB),,$(error set DB to an OSV export, e.g. make audit DB=all.zip (README, "Installing without a network")))
	$(BIN)/vigie ops audit --db $(DB) --lock $(LOCK_DIR)/runtime.txt

## wheelhouse: every wheel the product needs, to install with no network (README, "Installing without a network")
## wheelhouse-check: build it, install it in a network namespace with only loopback, run the demo
WHEELHOUSE ?= dist/wheelhouse
## WHEELHOUSE_EXTRAS: optional extras whose own locks join the wheelhouse, e.g. WHEELHOUSE_EXTRAS=train
WHEELHOUSE_EXTRAS ?=
CPU_BASELINE ?= x86-64-v3
wheelhouse: $(DEV_STAMP)
	$(BIN)/python ops/wheelhouse/build.py --lock $(LOCK_DIR)/runtime.txt --out $(WHEELHOUSE) \
		--cpu $(CPU_BASELINE) $(foreach x,$(WHEELHOUSE_EXTRAS),--extra-lock $(LOCK_DIR)/$(x).txt)

wheelhouse-check: wheelhouse
	VIGIE_WHEELHOUSE=$(abspath $(WHEELHOUSE)) VIGIE_OPS=$(abspath $(BIN)/vigie) \
		$(BIN)/pytest -q -s tests/install

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
	$(BIN)/python -m loadtest.tasks_throughput_bench --inflight 1 4 16 --out bench-results/tasks.json

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
	$(BIN)/python -m services.inference.bench sweep --decode-group 7 \
		--out bench-results/inference-p3-invariant.json
	$(BIN)/python -m services.inference.bench prefix --concurrency 16 --filler 16 \
		--out bench-results/inference-prefix.json
	$(BIN)/python -m services.inference.bench constrained --concurrency 16 \
		--out bench-results/inference-p7.json
	$(BIN)/python -m services.inference.bench flash --concurrency 16 --requests 20 \
		--out bench-results/inference-flash.json
	$(BIN)/python -m loadtest.inference_bench --out bench-results/inference-p1.json

## bench-server: the CPU engine through the bus vs llama-server (built offline from the llama.cpp
## that llama-cpp-python vendors: LLAMA_SDIST, default the wheelhouse's), two workloads
LLAMA_SDIST ?= $(firstword $(wildcard $(WHEELHOUSE)/llama_cpp_python-*.tar.gz))
bench-server: $(STAMP)
	$(BIN)/python -m loadtest.llama_build $(if $(LLAMA_SDIST),--sdist $(LLAMA_SDIST)) \
		--out .vigie/llama-server-build
	$(BIN)/vigie bench server --server .vigie/llama-server-build/build/bin/llama-server \
		--out bench-results/llama-server.json

## bench-flash: FLASH reports alone (publish → complete event) and the tasks at 1/4/16 in flight,
## today's behaviour (BASELINE settings) against the shipped defaults, in one run
BASELINE ?= VIGIE_INFERENCE__BATCH_INVARIANT=true,VIGIE_INFERENCE__PREFIX_CACHE=false,VIGIE_INFERENCE__MAX_SEQUENCES=14
bench-flash: $(STAMP)
	$(BIN)/vigie bench throughput --inflight 1 4 16 --flash 20 \
		--variant "baseline:$(BASELINE)" --variant shipped: --out bench-results/tasks-flash.json

clean:
	rm -rf $(VENV) .vigie .mypy_cache .ruff_cache .pytest_cache
