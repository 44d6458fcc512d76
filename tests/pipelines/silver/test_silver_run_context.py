"""Run context and the silver-specific dataset switches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nyc_lakehouse.pipelines.silver import nodes
from nyc_lakehouse.pipelines.silver.datasets import RefreshableDeltaTableDataset

UPSERT = {"mode": "upsert", "keys": ["k"], "sequence_column": "s", "partition_by": ["m"]}


def test_run_context_defaults_to_now_and_accepts_a_pinned_as_of():
    run = nodes.start_silver_run(None)
    assert run["run_id"].startswith("silver-") and run["as_of"] == run["started_at"]
    assert nodes.start_silver_run(None)["run_id"] != run["run_id"]
    pinned = nodes.start_silver_run("2024-06-01T08:00:00-04:00")
    assert pinned["as_of"] == datetime(2024, 6, 1, 12, tzinfo=UTC)
    assert nodes.start_silver_run("2024-06-01T12:00:00")["as_of"] == datetime(
        2024, 6, 1, 12, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="silver.as_of='yesterday' is not an ISO date-time"):
        nodes.start_silver_run("yesterday")


@pytest.mark.parametrize(
    ("flag", "replaces"), [(False, False), ("false", False), (True, True), ("true", True)]
)
def test_full_refresh_replaces_the_table_with_the_latest_versions(spark, tmp_path, flag, replaces):
    """A replay keeps one row per key exactly as an upsert does, but drops what the table held."""
    previous = RefreshableDeltaTableDataset(
        table="silver.t", root=str(tmp_path), save_args=dict(UPSERT)
    )
    previous.save(
        spark.createDataFrame(
            [(1, 1, "a", "old"), (9, 1, "a", "stale")], "k int, s int, m string, v string"
        )
    )
    dataset = RefreshableDeltaTableDataset(
        table="silver.t", root=str(tmp_path), full_refresh=flag, save_args=dict(UPSERT)
    )
    assert dataset.full_refresh is replaces
    batch = spark.createDataFrame(
        [(1, 2, "a", "new"), (1, 3, "a", "newest"), (2, 1, "b", "only")],
        "k int, s int, m string, v string",
    )
    dataset.save(batch)
    rows = {r["k"]: r["v"] for r in dataset.load().collect()}
    expected = {1: "newest", 2: "only"} if replaces else {1: "newest", 2: "only", 9: "stale"}
    assert rows == expected
    assert dataset.last_save_metrics.get("replaced", False) is replaces


def test_full_refresh_rejects_a_typo(tmp_path):
    with pytest.raises(ValueError, match="full_refresh='ture'"):
        RefreshableDeltaTableDataset(table="silver.t", root=str(tmp_path), full_refresh="ture")


def test_file_selection_skips_consumed_files_and_keeps_every_row_of_new_ones(spark):
    bronze = spark.createDataFrame(
        [
            ("1", "b1", "f1", "2024-05-01"),
            ("2", "b1", "f2", "2024-05-01"),  # a file added later to an old batch
            ("3", "b2", "f1", "2024-05-02"),
            ("4", "b2", "f1", "2024-05-02"),
            ("5", "b3", "f1", None),  # a row without ingest date is not lost to pruning
            ("6", None, "f1", "2024-05-04"),  # no batch: not a bronze file, never read
        ],
        "unique_key string, _batch_id string, _source_file string, _ingest_date string",
    )
    ledger = spark.createDataFrame(
        [("nyc311", "b1", "f1", 1), ("nyc911", "b2", "f1", 2)],
        "dataset string, batch_id string, source_file string, rows bigint",
    ).selectExpr(
        "*", "'r1' AS run_id", "false AS full_refresh", "current_timestamp() AS processed_at"
    )
    increment, selection = nodes.select_new_311_files(bronze, ledger, False)
    assert [(f.batch_id, f.source_file, f.rows) for f in selection.files] == [
        ("b1", "f2", 1), ("b2", "f1", 2), ("b3", "f1", 1),
    ]  # fmt: skip
    assert sorted(r["unique_key"] for r in increment.collect()) == ["2", "3", "4", "5"]
    everything, refresh = nodes.select_new_311_files(bronze, ledger, True)
    assert len(refresh.files) == 4 and everything.count() == 5
    first_run, first = nodes.select_new_311_files(bronze, None, False)
    assert len(first.files) == 4 and first_run.count() == 5
    done = ledger.union(
        spark.createDataFrame(
            [("nyc311", f.batch_id, f.source_file, f.rows) for f in selection.files],
            "dataset string, batch_id string, source_file string, rows bigint",
        ).selectExpr("*", "'r2'", "false", "current_timestamp()")
    )
    empty, nothing = nodes.select_new_311_files(bronze, done, False)
    assert nothing.files == () and empty.count() == 0
