# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11 and pip needed.
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


.PHONY: uv setup run test lint bench bench-components viz mlflow-ui clean-data docs help

help:
	@echo "make run     - set up and run the whole lakehouse on the bundled sample"
	@echo "make test    - set up, lint and run the whole test suite"
	@echo "make bench   - lakehouse benchmark: every layer at 100k/1M/5M rows (bench/results/)"
	@echo "make bench-components - per-component micro-benchmarks (tests/benchmarks)"
	@echo "make viz     - open kedro-viz (lineage and table previews)"
	@echo "make mlflow-ui - open the MLflow UI on the local tracking store"
	@echo "make docs    - regenerate docs/tables.md and docs/quality-rules.md from the code"
	@echo "make clean-data - delete every generated table and landed batch under data/ (keeps the folders)"

uv:
	@# Plain pip first; a system Python that refuses it (PEP 668, "externally-managed-environment")
	@# gets uv in the user's site-packages instead (~/.local), never in the system's.
	@$(UV) --version >/dev/null 2>&1 || { echo "Installing uv with pip..."; \
	  $(PYTHON) -m pip install --quiet "uv>=0.5" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --user "uv>=0.5" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet --user --break-system-packages "uv>=0.5"; }

setup: uv
	$(UV) sync --frozen --python 3.11
	@# Compile the environment's bytecode once per lock change: where PYTHONDONTWRITEBYTECODE is
	@# set (CI images, this project's dev machines) every process would otherwise recompile every
	@# module it imports, a start-up cost paid by every `kedro run`.
	@if [ ! -f .venv/.bytecode-compiled ] || [ uv.lock -nt .venv/.bytecode-compiled ]; then \
	  echo "Compiling bytecode (once per lock change)..."; \
	  $(UV) sync --frozen --python 3.11 --compile-bytecode --quiet && touch .venv/.bytecode-compiled; \
	fi

run: setup
	$(RUN) kedro run

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

# The per-component micro-benchmarks (tests/benchmarks, marked `benchmark`): printed, not asserted.
bench-components: setup
	$(RUN) pytest -m benchmark -s -p no:cacheprovider

viz: setup
	$(RUN) kedro viz run

mlflow-ui: setup
	$(RUN) mlflow ui --backend-store-uri sqlite:///mlflow.db --default-artifact-root ./mlartifacts

# The reference pages, generated from the table registries and rule lists in the code
# (tests/test_reference_docs.py fails while the committed pages are stale).
docs: setup
	$(RUN) python -m nyc_lakehouse.reference_docs

clean-data:
	find data -mindepth 2 ! -name .gitkeep -delete 2>/dev/null || true
