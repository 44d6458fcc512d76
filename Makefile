# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11 or 3.12 and pip
# needed: PYTHON (default python3) is the interpreter .venv is built with, e.g. PYTHON=python3.12.
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
# uv needs the system CA bundle behind TLS-intercepting proxies; harmless elsewhere.
export SSL_CERT_FILE ?= $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt))
# uv from PATH, else the pip-installed module (installed on first use: only pip is required).
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
RUN := $(UV) run --frozen --no-sync
# $(PYTHON)'s real path: uv would otherwise look a bare name (or a pyenv shim) up on its own.
VENV_PYTHON = $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)


.PHONY: python-version uv setup jars run daily test lint bench bench-full bench-components mutate viz mlflow-ui screenshots clean-data docs help

help:
	@echo "make run     - set up and run the whole lakehouse on the bundled sample"
	@echo "make daily   - the daily run: both sources from the live API, every layer (data-live/)"
	@echo "make test    - set up, lint and run the whole test suite"
	@echo "make bench   - lakehouse benchmark: every layer at 100k/1M/5M rows (bench/results/)"
	@echo "make bench-full - the benchmark at 5M and 40M rows (the whole 311 history), ~1 h"
	@echo "make bench-components - per-component micro-benchmarks (tests/benchmarks)"
	@echo "make mutate  - mutation testing of the critical modules, hours (docs/mutation.md)"
	@echo "make viz     - open kedro-viz (lineage and table previews)"
	@echo "make mlflow-ui - open the MLflow UI on the local tracking store"
	@echo "make screenshots - docs/images/*.png (dashboard, kedro-viz, MLflow) of a lakehouse built by make run; needs chromium"
	@echo "make docs    - regenerate docs/tables.md and docs/quality-rules.md from the code"
	@echo "make clean-data - delete every generated table and landed batch under data/ (keeps the folders)"

# pyproject's requires-python (>=3.11,<3.13): say so before pip or uv fail in their own words.
python-version:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] not in ((3, 11), (3, 12)))' 2>/dev/null \
	  || { echo "nyc-lakehouse needs Python 3.11 or 3.12, but PYTHON=$(PYTHON) is" \
	    "$$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not found')." \
	    "Choose one, e.g. make run PYTHON=python3.12" >&2; exit 1; }

uv: python-version
	@# Plain pip first; a system Python that refuses it (PEP 668, "externally-managed-environment")
	@# gets uv in the user's site-packages instead (~/.local), never in the system's.
	@$(UV) --version >/dev/null 2>&1 || { echo "Installing uv with pip..."; \
	  $(PYTHON) -m pip install --quiet "uv>=0.5" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --user "uv>=0.5" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --user --break-system-packages "uv>=0.5"; }

setup: uv
	$(UV) sync --frozen --python $(VENV_PYTHON)
	@# Compile the environment's bytecode once per lock change: where PYTHONDONTWRITEBYTECODE is
	@# set (CI images, this project's dev machines) every process would otherwise recompile every
	@# module it imports, a start-up cost paid by every `kedro run`.
	@if [ ! -f .venv/.bytecode-compiled ] || [ uv.lock -nt .venv/.bytecode-compiled ]; then \
	  echo "Compiling bytecode (once per lock change)..."; \
	  $(UV) sync --frozen --python $(VENV_PYTHON) --compile-bytecode --quiet && touch .venv/.bytecode-compiled; \
	fi
	@$(MAKE) --no-print-directory jars

# delta-spark's jars for the `jvm` engine (docs/engines.md), fetched once into ~/.m2 with Maven;
# quiet when present. No Maven or no Maven Central: a warning, and Sail still works.
jars:
	@$(RUN) python -m nyc_lakehouse.spark_jvm

run: setup
	$(RUN) kedro run

# The daily run against the live API (conf/live): both sources incrementally, then every layer,
# into data-live/. Schedule it with cron or a systemd timer (docs/operations.md). DAILY_ARGS
# passes more options, e.g. make daily DAILY_ARGS='--pipeline ingestion'.
daily: setup
	$(RUN) kedro run --env live $(DAILY_ARGS)

lint: setup
	$(RUN) ruff check src tests bench
	$(RUN) ruff format --check src tests bench

test: setup lint
	$(RUN) pytest -m "not benchmark" -p no:cacheprovider

# The lakehouse benchmark (docs/performance.md): every layer at 100k, 1M and 5M rows, the I/O
# floor, DuckDB, the daily upsert and the forecasting backtest; results in bench/results/
# (git-ignored), compared with the committed reference run bench/baseline.json. BENCH_ARGS
# passes options, e.g. make bench BENCH_ARGS="--sizes 100000 --series 10"; a whole run becomes
# the new baseline with make bench BENCH_ARGS=--save-baseline.
bench: setup
	$(RUN) python bench/lakehouse_bench.py $(BENCH_ARGS)

# The whole 311 history on one machine (docs/performance.md, "40M rows"): 5M and 40M rows, JVM
# Spark and DuckDB at 5M only (--jvm-max-rows, --duckdb-max-rows), no forecasting; about 25 GB
# of disk under bench/.work and an hour on 2 cores (add --jvm-max-rows 40000000 for JVM Spark at
# 40M: about 40 more minutes). BENCH_ARGS adds options as above.
bench-full: setup
	$(RUN) python bench/lakehouse_bench.py --sizes 5000000,40000000 --series "" \
		--forecast-panels "" $(BENCH_ARGS)

# The per-component micro-benchmarks (tests/benchmarks, marked `benchmark`): printed, not asserted.
bench-components: setup
	$(RUN) pytest -m benchmark -s -p no:cacheprovider

# Mutation testing of the modules where a silent bug costs most (scripts/mutate.py), each against
# the tests that guard it; not part of make test. MUTATE_ARGS picks modules and options, e.g.
# make mutate MUTATE_ARGS="gold monitoring" or MUTATE_ARGS="gold --survivors".
mutate: setup
	$(RUN) python scripts/mutate.py $(MUTATE_ARGS)

viz: setup
	$(RUN) kedro viz run

mlflow-ui: setup
	$(RUN) mlflow ui --backend-store-uri sqlite:///mlflow.db --default-artifact-root ./mlartifacts

# The docs' screenshots (docs/images/): the dashboard, kedro-viz and the MLflow run, in headless
# Chromium, from the lakehouse `make run` built. SCREENSHOTS_ARGS passes options, e.g. --out DIR.
screenshots: setup
	$(RUN) python scripts/screenshots.py $(SCREENSHOTS_ARGS)

# The reference pages, generated from the table registries and rule lists in the code
# (tests/test_reference_docs.py fails while the committed pages are stale).
docs: setup
	$(RUN) python -m nyc_lakehouse.reference_docs

clean-data:
	find data -mindepth 2 ! -name .gitkeep -delete 2>/dev/null || true
