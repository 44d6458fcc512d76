"""Save modes of DeltaTableDataset against real Sail + Delta tables."""

from __future__ import annotations

import pytest
from conftest import rows_by_key
from kedro.io.core import DatasetError


def test_overwrite_creates_then_replaces(spark, make_dataset, lake):
    ds = make_dataset()
    assert not ds.exists()
    ds.save(spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string"))
    assert ds.exists()
    assert (lake / "silver" / "events" / "_delta_log").is_dir()
    ds.save(spark.createDataFrame([(3, "c")], "id long, v string"))
    assert sorted(rows_by_key(ds.load())) == [3]


def test_overwrite_follows_the_new_schema(spark, make_dataset):
    ds = make_dataset()
    ds.save(spark.createDataFrame([(1, "a")], "id long, v string"))
    ds.save(spark.createDataFrame([(1, 2.5)], "id long, w double"))
    assert ds.load().columns == ["id", "w"]


def test_append_adds_rows_and_new_columns(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "append"})
    ds.save(spark.createDataFrame([(1, "a")], "id long, v string"))
    ds.save(spark.createDataFrame([(2, "b", 7)], "id long, v string, extra int"))
    rows = rows_by_key(ds.load())
    assert set(rows) == {1, 2}
    assert rows[2]["extra"] == 7 and rows[1]["extra"] is None


def test_upsert_inserts_updates_and_creates(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "upsert", "keys": ["id"]})
    ds.save(spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string"))
    assert ds.last_save_metrics["created"] is True
    ds.save(spark.createDataFrame([(2, "B"), (3, "c")], "id long, v string"))
    rows = rows_by_key(ds.load())
    assert {k: r["v"] for k, r in rows.items()} == {1: "a", 2: "B", 3: "c"}


def test_unknown_mode_is_a_clear_error(make_dataset):
    with pytest.raises(DatasetError, match="mode='merge'"):
        make_dataset(save_args={"mode": "merge"})
