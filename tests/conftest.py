"""Shared fixtures: one real Sail engine for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Engines for tests (see tests/engines.py): `engine` runs a test on sail, jvm and remote.
from engines import (  # noqa: F401 - fixtures, registered by being here
    _default_engine_unless_asked,
    _engines_stopped_at_the_end,
    engine,
    engine_mode,
    stop_engines,
    use_engine,
)

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
# A SPARK_REMOTE left in the developer's shell must not redirect the tests to another cluster.
os.environ.pop("SPARK_REMOTE", None)
os.environ.pop("NYC_LAKEHOUSE_SPARK_MODE", None)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """A real Sail Spark Connect session, started once and stopped (before the server) at the end.

    The same settings the Kedro hook uses (conf/base/spark.yml), forced to the embedded engine;
    the same session as ``engine`` on ``sail`` (tests/engines.py), kept across other engines.
    """
    yield use_engine("sail")
    stop_engines()


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty lakehouse root for one test; the catalog's paths follow it."""
    root = tmp_path / "data"
    for schema in ("landing", "bronze", "silver", "gold", "ml", "monitoring", "reporting"):
        (root / schema).mkdir(parents=True)
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(root))
    return root


@pytest.fixture(autouse=True)
def _no_mlflow_run_leaks_between_tests() -> Iterator[None]:
    """Forget any MLflow run a test left active.

    kedro-mlflow finishes its run in the store but can leave it on this thread's active-run
    stack; the next Kedro session in the same process (often with another tracking store) would
    then try to resume a run that its store does not have ("Run with id=... not found").
    """
    yield
    import sys

    if "mlflow" not in sys.modules:
        return
    from mlflow.tracking import fluent

    fluent._active_run_stack.get().clear()


@pytest.fixture(autouse=True)
def _plain_scratch_table_names() -> Iterator[None]:
    """Start every test with plain scratch-table names.

    A Kedro context created in this process (a session that never ran a pipeline) leaves its
    run's scratch token set, and a catalog built by a later test would then name the per-run
    scratch tables instead of the plain ones that test expects.
    """
    from nyc_lakehouse.run_lock import scratch

    scratch.set_token(None)
    yield
    scratch.set_token(None)
