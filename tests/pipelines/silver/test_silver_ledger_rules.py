"""The ledger's rules one by one (pipelines/silver/ledger.py), on small real DataFrames and tables."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from nyc_lakehouse.pipelines.silver import ledger
from nyc_lakehouse.pipelines.silver.datasets import RunAppendDeltaTableDataset, RunRows

LEGACY_SCHEMA = (
    "dataset string, batch_id string, run_id string, full_refresh boolean, processed_at timestamp"
)
T0 = datetime(2024, 5, 1, 6, 0)


def _file(batch: str, name: str, rows: int = 1, day: str | None = "2024-05-01"):
    return ledger.BronzeFile(batch, name, day, rows)


def test_read_ledger_tells_files_from_batch_level_entries(spark):
    legacy = spark.createDataFrame(
        [
            ("nyc311", "b1", "r2", True, T0 + timedelta(days=1)),
            ("nyc311", "b1", "r1", False, T0),
            ("nyc911", "b9", "r1", False, T0),
        ],
        LEGACY_SCHEMA,
    )
    state = ledger.read_ledger(legacy, "nyc311")
    assert state.consumed == frozenset() and state.needs_migration
    assert [(run.run_id, run.full_refresh) for run in state.legacy["b1"]] == [
        ("r1", False),
        ("r2", True),
    ]  # oldest first
    assert set(state.legacy) == {"b1"}  # the other dataset's batches are not this one's

    files = spark.createDataFrame(
        [("nyc311", "b1", "r3", False, T0, "f1", 5, None)], ledger.LEDGER_SCHEMA
    )
    migrated = ledger.read_ledger(legacy.unionByName(files, allowMissingColumns=True), "nyc311")
    assert migrated.consumed == {("b1", "f1")} and not migrated.needs_migration
    assert ledger.read_ledger(None, "nyc311") == ledger.Ledger()


def test_select_files_takes_what_the_ledger_lacks_and_everything_on_a_full_refresh():
    files = [_file("b1", "f1"), _file("b1", "f2"), _file("b2", "f1")]
    state = ledger.Ledger(consumed=frozenset({("b1", "f1")}), lists_files=True)
    assert [f.key for f in ledger.select_files("nyc311", files, state, False).files] == [
        ("b1", "f2"),
        ("b2", "f1"),
    ]
    assert ledger.select_files("nyc311", files, state, True).files == tuple(files)
    run = ledger.LegacyRun("r1", T0, False)
    legacy = {("b2", "f1"): (run, "why")}
    selection = ledger.select_files("nyc311", files, state, False, legacy)
    assert [f.key for f in selection.files] == [("b1", "f2")]
    assert selection.migrated == ((files[2], run, "why"),)
    rows = ledger.ledger_rows(selection, {"run_id": "r9", "started_at": T0}, False)
    assert [(r[1], r[2], r[5], r[7] is None) for r in rows] == [
        ("b1", "r9", "f2", True),
        ("b2", "r1", "f1", False),  # recorded under the run that consumed it
    ]


def test_the_filter_reads_exactly_the_listed_files_even_if_bronze_grows_meanwhile(spark, tmp_path):
    """A bronze run appending to the same batch between the listing and the read adds nothing."""
    path = str(tmp_path / "bronze")
    schema = "k string, _batch_id string, _source_file string, _ingest_date string"
    first = spark.createDataFrame([("1", "b1", "f1", "d1"), ("2", "b1", "f1", "d1")], schema)
    first.write.format("delta").partitionBy("_ingest_date").save(path)
    bronze = spark.read.format("delta").load(path)
    selection = ledger.select_files(
        "nyc311", ledger.list_bronze_files(bronze), ledger.Ledger(), False
    )
    assert [(f.key, f.rows, f.ingest_date) for f in selection.files] == [(("b1", "f1"), 2, "d1")]
    late = spark.createDataFrame([("3", "b1", "f2", "d1")], schema)
    late.write.format("delta").mode("append").save(path)
    read = spark.read.format("delta").load(path).filter(ledger.file_filter(selection))
    assert sorted(r["k"] for r in read.collect()) == ["1", "2"]
    nothing = ledger.Selection("nyc311", ())
    assert spark.read.format("delta").load(path).filter(ledger.file_filter(nothing)).count() == 0


def test_legacy_files_count_as_consumed_only_with_a_trace_of_it(spark):
    """Bronze logged it before the run started, or its rows are in silver from that era."""
    run = ledger.LegacyRun("r1", T0, False)
    state = ledger.Ledger(legacy={"b1": (run,)})
    files = [_file("b1", f) for f in ("logged", "written", "late", "untraced")]
    log = spark.createDataFrame(
        [
            ("nyc311", "b1", "logged", 1, "ingested", None, T0 - timedelta(hours=1)),
            ("nyc311", "b1", "late", 1, "unreadable", "bad", T0 - timedelta(hours=1)),
            ("nyc311", "b1", "late", 1, "ingested", None, T0 + timedelta(hours=1)),
            ("nyc911", "b1", "untraced", 1, "ingested", None, T0 - timedelta(hours=1)),
        ],
        "dataset string, batch_id string, source_file string, rows bigint, status string, "
        "error string, logged_at timestamp",
    )
    silver = spark.createDataFrame(
        [("b1", "written", T0), ("b1", "late", T0 + timedelta(days=1))],
        "_batch_id string, _source_file string, _silver_updated_at timestamp",
    )
    found = ledger.legacy_consumed(
        "nyc311", files, state, log, [(silver, "_silver_updated_at"), (None, "quarantined_at")]
    )
    assert {key[1]: why for key, (_, why) in found.items()} == {
        "logged": "bronze had it when the run started",
        "written": "its rows are in silver or the quarantine",
    }
    selection = ledger.select_files("nyc311", files, state, False, found)
    assert [f.source_file for f in selection.files] == ["late", "untraced"]


def test_interrupted_runs_are_the_writers_the_ledger_never_heard_of(spark):
    ledger_rows = spark.createDataFrame([("nyc311", "b1", "done", False, T0)], LEGACY_SCHEMA)
    quarantine = spark.createDataFrame([("done",), ("crashed",)], "run_id string")
    dq = spark.createDataFrame(
        [("done", 3), ("crashed-before-quarantine", 2), ("checked-nothing", 0)],
        "run_id string, total_count bigint",
    )
    assert ledger.interrupted_runs(ledger_rows, [quarantine, None], dq) == [
        "crashed",
        "crashed-before-quarantine",
    ]
    assert ledger.interrupted_runs(None, [None], None) == []


@pytest.mark.parametrize("table_exists", [True, False])
def test_run_rows_replace_the_interrupted_runs_rows(spark, tmp_path, table_exists):
    dataset = RunAppendDeltaTableDataset(path=str(tmp_path / "q"), save_args={"mode": "append"})
    schema = "run_id string, v int, at timestamp"
    if table_exists:
        dataset.save(
            spark.createDataFrame([("done", 1, T0), ("crashed", 2, T0), ("crashed", 3, T0)], schema)
        )
    dataset.save(RunRows(spark.createDataFrame([("now", 4, T0)], schema), "now", ("crashed",)))
    rows = sorted((r["run_id"], r["v"]) for r in dataset.load().collect())
    assert rows == ([("done", 1), ("now", 4)] if table_exists else [("now", 4)])
    dataset.save(RunRows(spark.createDataFrame([("next", 5, T0)], schema), "next"))
    assert len(dataset.load().collect()) == len(rows) + 1  # nothing to replace: an append
