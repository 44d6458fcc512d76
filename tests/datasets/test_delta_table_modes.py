"""Save modes overwrite, append, replace_where, overwrite_partitions (real Sail + Delta)."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable
from kedro.io.core import DatasetError

SCHEMA = "id long, m string, v string"


def test_overwrite_creates_then_replaces(spark, make_dataset, lake, rows_by_key):
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


def test_overwrite_schema_false_refuses_a_schema_change(spark, make_dataset):
    ds = make_dataset(save_args={"overwrite_schema": False, "merge_schema": False})
    ds.save(spark.createDataFrame([(1, "a")], "id long, v string"))
    with pytest.raises(Exception):  # noqa: B017 - the engine's own schema mismatch error
        ds.save(spark.createDataFrame([(1, 2.5)], "id long, w double"))
    assert ds.load().columns == ["id", "v"]


def test_append_adds_rows_and_new_columns(spark, make_dataset, rows_by_key):
    ds = make_dataset(save_args={"mode": "append"})
    ds.save(spark.createDataFrame([(1, "a")], "id long, v string"))
    ds.save(spark.createDataFrame([(2, "b", 7)], "id long, v string, extra int"))
    rows = rows_by_key(ds.load())
    assert set(rows) == {1, 2}
    assert rows[2]["extra"] == 7 and rows[1]["extra"] is None


def test_partition_by_applies_on_creation(spark, make_dataset, lake):
    ds = make_dataset(save_args={"mode": "append", "partition_by": ["m"]})
    ds.save(spark.createDataFrame([(1, "2024-01", "a"), (2, "2024-02", "b")], SCHEMA))
    ds.save(spark.createDataFrame([(3, "2024-02", "c")], SCHEMA))
    assert DeltaTable(str(lake / "silver" / "events")).metadata().partition_columns == ["m"]
    assert ds.load().count() == 3


def test_pandas_input_is_accepted(make_dataset, rows_by_key):
    ds = make_dataset()
    ds.save(pd.DataFrame({"id": [1, 2], "v": ["a", "b"]}))
    assert {k: r["v"] for k, r in rows_by_key(ds.load()).items()} == {1: "a", 2: "b"}


def test_arrow_input_is_accepted(make_dataset, rows_by_key):
    import pyarrow as pa

    ds = make_dataset()
    ds.save(pa.table({"id": [1, 2], "v": ["a", "b"]}))
    assert {k: r["v"] for k, r in rows_by_key(ds.load()).items()} == {1: "a", 2: "b"}


def test_other_inputs_are_a_clear_error(make_dataset):
    with pytest.raises(DatasetError, match="can only save a Spark DataFrame"):
        make_dataset().save([{"id": 1}])


def _seed_partitioned(spark, ds):
    ds.save(
        spark.createDataFrame(
            [(1, "2024-01", "a"), (2, "2024-02", "b"), (3, "2024-03", "c")], SCHEMA
        )
    )


def test_replace_where_replaces_only_the_predicate(spark, make_dataset, rows_by_key):
    seed = make_dataset(save_args={"partition_by": ["m"]})
    _seed_partitioned(spark, seed)
    ds = make_dataset(save_args={"mode": "replace_where", "predicate": "m = '2024-02'"})
    ds.save(spark.createDataFrame([(20, "2024-02", "B"), (21, "2024-02", "B2")], SCHEMA))
    rows = rows_by_key(ds.load())
    assert {k: (r["m"], r["v"]) for k, r in rows.items()} == {
        1: ("2024-01", "a"),
        3: ("2024-03", "c"),
        20: ("2024-02", "B"),
        21: ("2024-02", "B2"),
    }


def test_replace_where_rejects_rows_outside_the_predicate(spark, make_dataset, rows_by_key):
    seed = make_dataset(save_args={"partition_by": ["m"]})
    _seed_partitioned(spark, seed)
    version = seed.version()
    ds = make_dataset(save_args={"mode": "replace_where", "predicate": "m = '2024-02'"})
    bad = spark.createDataFrame([(20, "2024-02", "B"), (99, "2024-03", "oops")], SCHEMA)
    with pytest.raises(DatasetError, match=r"do not match replace_where.*99"):
        ds.save(bad)
    assert seed.version() == version  # nothing written
    assert sorted(rows_by_key(ds.load())) == [1, 2, 3]


def test_replace_where_null_predicate_rows_are_outside(spark, make_dataset):
    seed = make_dataset()
    _seed_partitioned(spark, seed)
    ds = make_dataset(save_args={"mode": "replace_where", "predicate": "m = '2024-02'"})
    with pytest.raises(DatasetError, match="do not match"):
        ds.save(spark.createDataFrame([(20, None, "B")], SCHEMA))


def test_replace_where_creates_a_missing_table(spark, make_dataset):
    ds = make_dataset(
        save_args={"mode": "replace_where", "predicate": "m = '2024-02'", "partition_by": ["m"]}
    )
    ds.save(spark.createDataFrame([(20, "2024-02", "B")], SCHEMA))
    assert ds.load().count() == 1


def test_replace_where_needs_a_predicate(make_dataset):
    with pytest.raises(DatasetError, match="needs save_args.predicate"):
        make_dataset(save_args={"mode": "replace_where"})


def test_overwrite_partitions_replaces_only_partitions_in_the_data(
    spark, make_dataset, rows_by_key
):
    ds = make_dataset(save_args={"mode": "overwrite_partitions", "partition_by": ["m"]})
    _seed_partitioned(spark, ds)
    ds.save(
        spark.createDataFrame(
            [(20, "2024-02", "B"), (40, "2024-04", "d"), (41, "it's", "quote")], SCHEMA
        )
    )
    assert ds.last_save_metrics["partitions"] == 3
    rows = rows_by_key(ds.load())
    # 2024-01 and 2024-03 untouched; 2024-02 replaced (id 2 gone); new partitions added.
    assert sorted(rows) == [1, 3, 20, 40, 41]
    # Rerun: same result (idempotent), not appended twice.
    ds.save(
        spark.createDataFrame(
            [(20, "2024-02", "B"), (40, "2024-04", "d"), (41, "it's", "quote")], SCHEMA
        )
    )
    assert sorted(rows_by_key(ds.load())) == [1, 3, 20, 40, 41]


def test_overwrite_partitions_with_two_partition_columns(spark, make_dataset, rows_by_key):
    schema = "id long, y int, d date"
    ds = make_dataset(save_args={"mode": "overwrite_partitions", "partition_by": ["y", "d"]})
    ds.save(
        spark.sql(
            "select * from values (1, 2024, date'2024-01-01'), (2, 2024, date'2024-01-02'), "
            "(3, 2023, date'2024-01-01') as t(id, y, d)"
        ).selectExpr("cast(id as long) id", "y", "d")
    )
    ds.save(
        spark.createDataFrame([], schema).union(
            spark.sql("select cast(9 as long) id, 2024 y, date'2024-01-01' d")
        )
    )
    assert sorted(rows_by_key(ds.load())) == [2, 3, 9]


def test_overwrite_partitions_empty_batch_changes_nothing(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "overwrite_partitions", "partition_by": ["m"]})
    _seed_partitioned(spark, ds)
    version = ds.version()
    ds.save(spark.createDataFrame([], SCHEMA))
    assert ds.version() == version
    assert ds.load().count() == 3


def test_overwrite_partitions_needs_partition_by(make_dataset):
    with pytest.raises(DatasetError, match="needs save_args.partition_by"):
        make_dataset(save_args={"mode": "overwrite_partitions"})


def test_unknown_mode_and_save_args_are_clear_errors(make_dataset):
    with pytest.raises(DatasetError, match="mode='merge'"):
        make_dataset(save_args={"mode": "merge"})
    with pytest.raises(DatasetError, match="unknown save_args"):
        make_dataset(save_args={"mode": "append", "partitionBy": ["m"]})
