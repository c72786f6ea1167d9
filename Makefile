# Streaming KPIs: `make help` lists the targets. The first target you run creates .venv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATE ?= 2024-06-25
PARAMS ?= params/local.yaml
SAMPLE_DIR := data/sample

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml lib/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -r requirements.txt -e lib -e .
	@# jsonschema imports rfc3987-syntax only if present, to check IRI formats nothing here uses; the
	@# package builds a lark grammar at import, ~2.5 s in every kernel and in the runner.
	$(PY) -m pip uninstall --yes --quiet rfc3987-syntax
	touch $@

venv: $(VENV)/.installed ## Create the virtual environment (pinned by constraints.txt)

SAMPLE_ARGS ?=
sample-data: $(VENV)/.installed ## Generate the deterministic sample week into data/sample; SAMPLE_ARGS="--days 35 --incident DATE=cutoff ..." adds generator options
	$(PY) -m tools.sample_data --out $(SAMPLE_DIR) $(SAMPLE_ARGS)

# QUIET=1 (cron): print nothing but failures (not even the command); the run folder's logs still get everything.
QUIET_FLAG := $(if $(filter 1 yes true,$(QUIET)),--quiet)
Q := $(if $(QUIET_FLAG),@)
# The default params read the sample week: generate it on first use.
ENSURE_SAMPLE = @if [ "$(PARAMS)" = "params/local.yaml" ] && [ -z "$$(ls -A $(SAMPLE_DIR) 2>/dev/null)" ]; then \
		$(MAKE) --no-print-directory sample-data; fi

run: $(VENV)/.installed ## Run the pipeline for DATE (default 2024-06-25) with PARAMS (default params/local.yaml); QUIET=1 for cron
	$(ENSURE_SAMPLE)
	$(Q)$(PY) -m pipeline run --date $(DATE) --params $(PARAMS) $(QUIET_FLAG)

JOBS ?= 1
backfill: $(VENV)/.installed ## Run every date from START to END (YYYY-MM-DD), in order, past failures; JOBS=N dates at once (default 1)
	@if [ -z "$(START)" ] || [ -z "$(END)" ]; then echo "usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD [JOBS=N]" >&2; exit 2; fi
	$(ENSURE_SAMPLE)
	$(Q)$(PY) -m pipeline backfill --start $(START) --end $(END) --params $(PARAMS) --jobs $(JOBS) $(QUIET_FLAG)

test: $(VENV)/.installed ## Run the test suite
	$(PY) -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed ## Check the Python code and the notebooks with ruff (lint, format) and that notebooks are clean
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/nbstripout --keep-id --verify notebooks/[0-9][0-9]_*.ipynb

format: $(VENV)/.installed ## Fix what ruff can fix and format the Python code and the notebooks
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

AIRFLOW_VENV := .venv-airflow
AIRFLOW_REQ := pipeline/airflow/requirements.txt
AIRFLOW_PINS := pipeline/airflow/constraints.txt

$(AIRFLOW_VENV)/.installed: $(AIRFLOW_REQ) $(AIRFLOW_PINS)
	rm -rf $(AIRFLOW_VENV) && $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet -c $(AIRFLOW_PINS) -r $(AIRFLOW_REQ)
	touch $@

airflow-venv: $(AIRFLOW_VENV)/.installed ## Create .venv-airflow (Apache Airflow, own pins) for the DAG's tests

airflow-lock: ## Re-resolve pipeline/airflow/constraints.txt (needs the registry)
	rm -rf build/airflow-lock && $(PYTHON) -m venv build/airflow-lock
	build/airflow-lock/bin/pip install --quiet --upgrade pip
	build/airflow-lock/bin/pip install --quiet -r $(AIRFLOW_REQ)
	{ echo "# Pins of the Airflow test environment (.venv-airflow); regenerate with 'make airflow-lock'."; \
	  build/airflow-lock/bin/pip freeze --exclude-editable; } > $(AIRFLOW_PINS)
	rm -rf build/airflow-lock

SIZES ?= 1e6 1e7

bench: $(VENV)/.installed ## Benchmark the project vs the seed approach, the floor and the limit (SIZES="1e6 1e7"; not in test)
	$(PY) benchmarks/bench.py --sizes $(SIZES) $(BENCH_ARGS)

.PHONY: bench

# JupyterLab refuses to start as root (a container) without --allow-root.
lab: $(VENV)/.installed ## Open JupyterLab on notebooks/ with the project's kernel
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

strip-notebooks: $(VENV)/.installed ## Clear outputs and execution counts of notebooks/*.ipynb before committing
	$(VENV)/bin/nbstripout --keep-id notebooks/[0-9][0-9]_*.ipynb

lock: ## Re-resolve constraints.txt from requirements.txt (needs the registry)
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet --upgrade pip
	build/lock-venv/bin/pip install --quiet -r requirements.txt
	build/lock-venv/bin/pip freeze --exclude-editable > constraints.txt
	rm -rf build/lock-venv

clean: ## Remove generated reports, staging, sample data and the local warehouse (keeps .venv)
	rm -rf reports data warehouse

.PHONY: help venv sample-data run backfill test lint format lab strip-notebooks lock clean
.PHONY: airflow-venv airflow-lock
