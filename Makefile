# SOS 1379. `make up` starts the local stack; `make test` runs every test. Both install first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV ?= tests/data/routing_cases.jsonl

.PHONY: install up test test-fast browser-deps bench eval-routing demo package deploy clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

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

test-fast: install
	$(BIN)/pytest tests/unit tests/api tests/integration

## All benchmarks; writes artifacts/bench/summary.json and summary.md.
bench: install
	$(BIN)/sos1379 bench

## Router evaluation table on a JSON-lines set with gold labels (default: the project's own cases).
eval-routing: install
	$(BIN)/sos1379 route eval $(DEV) $(if $(CATALOG),--catalog $(CATALOG))

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
