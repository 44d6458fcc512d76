"""Fixtures for the Delta dataset tests: a fresh lakehouse root per test and small readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from nyc_lakehouse.datasets import DeltaTableDataset


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """An empty lakehouse root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture
def make_dataset(lake: Path, spark):
    """Build a DeltaTableDataset on ``<lake>/<schema>/<name>`` (the Sail engine is running)."""

    def factory(table: str = "silver.events", **kwargs) -> DeltaTableDataset:
        return DeltaTableDataset(table=table, root=str(lake), **kwargs)

    return factory


@pytest.fixture
def rows_by_key():
    """A DataFrame's rows as ``{key: row dict}``; fails if the key is not unique."""

    def collect(df, key: str = "id") -> dict:
        rows = [row.asDict() for row in df.collect()]
        result = {row[key]: row for row in rows}
        assert len(result) == len(rows), f"duplicate {key} values in {rows}"
        return result

    return collect
