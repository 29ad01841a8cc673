# newsclean — `make train` sets everything up and trains; `make test` runs the tests.
# Every target is listed by `make help`. Settings below can be overridden:
#   make train CORPORA_DIR=/path/to/corpora SEED=7 TRACKING_URI=http://127.0.0.1:5000

PYTHON       ?= python3
VENV         := .venv
PY           := $(VENV)/bin/python
NEWSCLEAN    := $(VENV)/bin/newsclean
# Real corpora are used when the folder exists; CORPORA_DIR=none builds from the sample only.
CORPORA_DIR  ?= $(if $(wildcard ../shared/corpora),../shared/corpora,none)
SEED         ?= 13
TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db
ARGS         ?=
PYTEST_ARGS  ?=

export NEWSCLEAN_CORPORA_DIR := $(CORPORA_DIR)
export NEWSCLEAN_SEED := $(SEED)
export NEWSCLEAN_TRACKING_URI := $(TRACKING_URI)
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export MLFLOW_ENABLE_ASYNC_LOGGING := false

.DEFAULT_GOAL := help
.PHONY: help setup data train test test-behaviour test-fast lint format ui config remove-data

help: ## List every target with one line each
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[dev,peers,team,notebooks,browser,spark]'
	touch $@

setup: $(VENV)/.installed ## Create .venv with the pinned dependencies (requirements.lock)

data: setup ## Build the paragraph dataset (data/processed/) and its data card (reports/)
	$(NEWSCLEAN) $(ARGS) data

train: data ## Build the dataset, train kind and topic models, log them to MLflow
	$(NEWSCLEAN) $(ARGS) train

test: setup ## Run the whole test suite (slow tests included), as CI does
	$(PY) -m pytest $(PYTEST_ARGS)

test-behaviour: setup ## Behaviour tests (tests/clean/test_behaviour.py) on the registered champion cleaner
	$(PY) -m pytest tests/clean/test_behaviour.py --cleaner-uri models:/newsclean-cleaner@champion $(PYTEST_ARGS)

test-fast: setup ## Run the tests that take under a few seconds each
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: setup ## Check style with ruff and the import layers (import-linter contracts in pyproject.toml)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/lint-imports

format: setup ## Format the code with ruff
	$(VENV)/bin/ruff check --fix src tests
	$(VENV)/bin/ruff format src tests

ui: setup ## MLflow UI on http://127.0.0.1:5000 over the project's store; prints URL, experiments, links
	$(NEWSCLEAN) $(ARGS) ui --port $(UI_PORT)

config: setup ## Print the effective configuration
	$(NEWSCLEAN) $(ARGS) config

remove-data: ## Delete the built dataset and reports (keeps the venv and the MLflow store); `newsclean clean` cleans articles
	rm -rf data/processed reports/*.md reports/*.json

# Comparing runs: `make ui`, `make compare`, the team server and the notebooks.
UI_PORT      ?= 5000
SERVER_PORT  ?= 5001
LAST         ?= 3
.PHONY: compare server notebooks

compare: setup ## Print the last LAST=3 trainings per experiment: candidates, baselines, champion
	$(NEWSCLEAN) $(ARGS) compare --last $(LAST)

server: setup ## Team mode: PostgreSQL + MLflow tracking server on http://127.0.0.1:5001 (Ctrl-C stops)
	$(NEWSCLEAN) $(ARGS) server --port $(SERVER_PORT)

notebooks: setup ## Execute notebooks/*.ipynb against the project's store into reports/notebooks/
	$(PY) scripts/run_notebooks.py

# The cleaner as a product: REST service and benchmark (newsclean serve, newsclean bench).
SERVE_PORT   ?= 5002
PROFILE      ?= accurate
BENCH_ARGS   ?=
.PHONY: serve bench

serve: setup ## REST cleaner (mlflow models serve) on 127.0.0.1, port SERVE_PORT=5002, PROFILE=accurate|fast
	$(NEWSCLEAN) $(ARGS) serve --port $(SERVE_PORT) --profile $(PROFILE)

bench: setup ## Benchmark the cleaner vs trafilatura, jusText, and Spark vs the CLI: reports/bench.md + MLflow run (BENCH_ARGS="--max-pages 20")
	$(NEWSCLEAN) $(ARGS) bench $(BENCH_ARGS)

# Scale out: the registered cleaner over a crawl on Apache Spark (newsclean clean-spark).
INPUT        ?=
OUTPUT       ?=
MASTER       ?= local[*]
SPARK_ARGS   ?=
.PHONY: clean-spark

clean-spark: setup ## Clean INPUT (JSONL/Parquet) on Spark into OUTPUT (Parquet); MASTER=local[*]
	@if [ -z "$(INPUT)" ] || [ -z "$(OUTPUT)" ]; then \
		echo "usage: make clean-spark INPUT=articles.jsonl OUTPUT=cleaned/ [MASTER=local[*]] [SPARK_ARGS='--overwrite --keep news,teaser']"; \
		exit 2; fi
	$(NEWSCLEAN) $(ARGS) clean-spark $(INPUT) '$(OUTPUT)' --master '$(MASTER)' $(SPARK_ARGS)
