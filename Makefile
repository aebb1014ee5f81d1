# Every command a person runs. `make test` and `make demo` work on a fresh clone with only
# Python 3.11+ and make: the virtual environment is created and filled from the lock file.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck unit integration e2e demo local openapi lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check uv

# Reinstall only when the lock or the project metadata changed.
$(STAMP): $(UV) requirements/dev.lock pyproject.toml
	$(UV) pip install --quiet --python $(BIN)/python -r requirements/dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared/hksync functions

# The whole suite: lint, types, then unit, integration and end-to-end tests.
test: lint typecheck
	$(BIN)/pytest -n 2 --dist loadfile

unit: install
	$(BIN)/pytest -m unit

integration: install
	$(BIN)/pytest -m integration

e2e: install
	$(BIN)/pytest -m e2e

# The whole pipeline on this machine: local stack, a simulated Apple Watch user, a summary.
demo: install
	$(BIN)/hksync demo

# The local stack alone, on http://127.0.0.1:3000, until Ctrl-C.
local: install
	$(BIN)/hksync local up

# The OpenAPI document, generated from the contract models and the template's routes.
openapi: install
	$(BIN)/python -m hksync.contract.openapi template.yaml > docs/openapi.json

# Re-pin every dependency (run after editing pyproject.toml).
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --universal -q -o requirements/dev.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .aws-sam .hksync
