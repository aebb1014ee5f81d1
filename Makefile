# Every command a person runs. `make test` and `make demo` work on a fresh clone with only
# Python 3.11+ and make: the virtual environment is created and filled from the lock file.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck unit integration e2e demo local openapi types events-doc lock \
	clean bench \
	tools sam-cli tools-lock layer-requirements build validate scan deploy

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
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy shared/hksync tools/hksync_tools functions

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

# Benchmarks (not tests, and not part of `make test`): every performance claim beside its
# baseline, one table printed, docs/benchmarks.md and its charts rewritten. About 10-15 minutes.
bench: install
	$(BIN)/python -m bench

# The OpenAPI document, generated from the contract models and the template's routes.
openapi: install
	$(BIN)/python -m hksync_tools.openapi template.yaml > docs/openapi.json

# docs/change-events.md's example event and JSON Schema, generated from the contract models.
events-doc: install
	$(BIN)/python -m hksync_tools.change_event_doc

# The HealthKit type table and its client page, generated from the vendored source
# (tools/hksync_tools/healthkit_source/) and the hand-kept bounds.
types: install
	$(BIN)/python -m hksync_tools.typegen

# Re-pin every dependency (run after editing pyproject.toml), and the Lambda layer's with them.
lock: $(UV)
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --universal -q -o requirements/dev.lock
	$(MAKE) layer-requirements

# The dependencies layer's pins: pyproject.toml's runtime dependencies for Lambda's python3.12
# on arm64, at dev.lock's versions (so the tests run what ships), with hashes.
layer-requirements: $(UV)
	$(UV) pip compile pyproject.toml --python-platform aarch64-manylinux_2_28 --python-version 3.12 \
		--constraint requirements/dev.lock --generate-hashes -q -o layers/dependencies/requirements.txt

# ---------------------------------------------------------------------------------------------
# Build, validate, scan, deploy. The SAM CLI and checkov are heavy and pin different boto3
# versions, so each has its own environment under .venv-tools/ (pinned by requirements/sam.lock
# and requirements/checkov.lock), installed on first use; `make test` needs neither.
# ---------------------------------------------------------------------------------------------
TOOLS := .venv-tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
REGION ?= eu-central-1
ENV ?= dev
export SAM_CLI_TELEMETRY := 0

$(TOOLS)/%/.installed: requirements/%.lock | $(UV)
	rm -rf $(TOOLS)/$*
	$(PYTHON) -m venv $(TOOLS)/$*
	$(UV) pip install --quiet --python $(TOOLS)/$*/bin/python -r $<
	touch $@

tools: $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed

# The SAM CLI alone (what the deploy jobs need).
sam-cli: $(TOOLS)/sam/.installed

# Re-pin the tools (after editing requirements/sam.in or checkov.in).
tools-lock: $(UV)
	$(UV) pip compile requirements/sam.in --python-version 3.11 --universal -q -o requirements/sam.lock
	$(UV) pip compile requirements/checkov.in --python-version 3.11 --universal -q -o requirements/checkov.lock

# sam build without Docker and without python3.12: every function and layer is built by make
# (BuildMethod: makefile); the dependencies layer is installed for python3.12 on arm64 by the
# SAM environment's pinned pip. layers/check_build.py then checks the artifacts (aarch64
# shared objects for cpython-312, the pinned versions, nothing but the hksync package).
build: $(TOOLS)/sam/.installed
	PIP="$(abspath $(TOOLS)/sam/bin/python) -m pip" $(SAM) build
	$(TOOLS)/sam/bin/python layers/check_build.py .aws-sam/build

# Each check catches what the others miss (tried on this template): cfn-lint on the SAM
# template (sam validate --lint); SAM's own transform (plain sam validate: a DefaultAuthorizer
# that names no authorizer); cfn-lint on the transformed template of both processing modes (an
# invalid Runtime or Timeout, which both sam validate runs let through), and on the bootstrap
# template (deploy/bootstrap.yaml: an IAM action that does not exist).
validate: $(TOOLS)/sam/.installed install
	$(SAM) validate --lint --region $(REGION)
	$(SAM) validate --region $(REGION)
	mkdir -p .aws-sam
	$(BIN)/python -m tests.infrastructure.template dev direct > .aws-sam/transformed-direct.json
	$(BIN)/python -m tests.infrastructure.template dev queue > .aws-sam/transformed-queue.json
	$(TOOLS)/sam/bin/cfn-lint --regions $(REGION) -- .aws-sam/transformed-direct.json \
		.aws-sam/transformed-queue.json deploy/bootstrap.yaml

# checkov, offline (--skip-download: nothing fetched from or sent to a platform), on the
# templates (the stack's, and deploy/bootstrap.yaml's deploy roles) and the CI workflows.
# Skipped checks are listed in the templates with their reasons.
scan: $(TOOLS)/checkov/.installed
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet
	$(CHECKOV) --file deploy/bootstrap.yaml --framework cloudformation --skip-download --compact \
		--quiet
	$(CHECKOV) --directory .github/workflows --framework github_actions --skip-download --compact \
		--quiet

# Deploy what `make build` built to a samconfig environment: make deploy ENV=staging.
deploy: build
	$(SAM) deploy --config-env $(ENV)

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .aws-sam .hksync
