"""Fixtures of the reporting tests: a small gold layer on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gold_sample import write_gold_sample  # noqa: E402


@pytest.fixture
def gold_sample(data_root: Path) -> dict:
    """Sample gold tables written under the test's lakehouse root."""
    return write_gold_sample(data_root)


@pytest.fixture
def isolated_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kedro-mlflow tracks pipelines not listed in mlflow.yml: keep it off the project's store."""
    store = tmp_path / "mlflow"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.setenv("NYC_LAKEHOUSE_MLFLOW_ARTIFACTS", str(store / "artifacts"))
    return store
