# SOS 1379. `make up` starts the local stack; `make test` runs every test. Both install first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV ?= tests/data/routing_cases.jsonl

.PHONY: install lock up test test-fast smoke browser-deps bench eval-routing demo package deploy clean

# Installs the exact, hash-checked versions of requirements-dev.lock: the Lambda layer is built
# from requirements.lock (same versions), so the tests run what ships. `make lock` after editing
# requirements*.txt.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Re-resolve requirements.lock and requirements-dev.lock (with hashes, for Python 3.11 to 3.13).
lock: install
	$(BIN)/uv pip compile requirements.txt --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock" -q -o requirements.lock
	$(BIN)/uv pip compile requirements-dev.txt --universal --python-version 3.11 --generate-hashes \
	  -c requirements.lock --custom-compile-command "make lock" -q -o requirements-dev.lock

## Start the local stack (moto server + API on http://127.0.0.1:$${API_PORT:-8000}); Ctrl-C stops it.
up: install
	$(BIN)/sos1379 up

## Debian's Chromium for the browser tests (needs root or sudo; skipped when already present).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-nanum >/dev/null; }

## Every test: unit, integration (moto), API, end-to-end (local stack), browser (Chromium).
test: install browser-deps
	$(BIN)/pytest

## Every Lambda function from the built artefacts (infra.package) in a clean Python of Lambda's
## version with only the runtime's boto3, against the local stack (tests/smoke; `make test` runs it too).
smoke: install
	$(BIN)/pytest tests/smoke -q -s -p no:randomly

test-fast: install
	$(BIN)/pytest tests/unit tests/api tests/integration

## All benchmarks; writes artifacts/bench/summary.json and summary.md.
bench: install
	$(BIN)/sos1379 bench

## Router evaluation: synthetic sets ($(DEV) and the holdout), the real-case dev and test splits,
## the learning curve and the calibration table (docs/routing.md).
eval-routing: install
	$(BIN)/sos1379 route eval $(DEV) $(if $(CATALOG),--catalog $(CATALOG))
	$(BIN)/sos1379 route eval tests/data/routing_holdout.jsonl $(if $(CATALOG),--catalog $(CATALOG))
	$(BIN)/sos1379 route eval tests/data/routing_real_dev.jsonl $(if $(CATALOG),--catalog $(CATALOG))
	$(BIN)/sos1379 route eval tests/data/routing_real_test.jsonl $(if $(CATALOG),--catalog $(CATALOG))
	$(BIN)/sos1379 route eval tests/data/routing_real_fresh.jsonl $(if $(CATALOG),--catalog $(CATALOG))
	$(BIN)/sos1379 route eval tests/data/routing_real_dev.jsonl --leave-site-out
	$(BIN)/sos1379 route eval tests/data/routing_real_test.jsonl --leave-site-out
	$(BIN)/sos1379 route eval tests/data/routing_real_fresh.jsonl --leave-site-out
	$(BIN)/sos1379 route curve
	$(BIN)/sos1379 route calibrate --leave-site-out

demo: install
	$(BIN)/sos1379 demo

## Build deployable artefacts for Lambda python3.12 x86_64 into build/.
package: install
	$(BIN)/python -m infra.package build

## Deploy to AWS (docs/deploy.md): samconfig.toml holds the stack name, region and capabilities
## (CAPABILITY_NAMED_IAM: the template names its managed policies; CAPABILITY_AUTO_EXPAND: SAM).
deploy: package
	sam deploy --config-file samconfig.toml --template-file template.yaml --stack-name $${STACK:-sos1379} \
	  --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND \
	  $(if $(PARAMETERS),--parameter-overrides $(PARAMETERS))
	$(BIN)/python -m infra.package upload-model --stack $${STACK:-sos1379}

clean:
	rm -rf $(VENV) build artifacts .local .pytest_cache
