"""Silver's ledger: the bronze files it consumed, at the grain bronze ingests them.

Real landing zone, real bronze and silver pipelines (Kedro's SequentialRunner on the project's
catalog), real Delta tables on Sail. The invariants checked after every scenario:

* every row of every bronze file is in silver or in the quarantine;
* each bronze row was checked by exactly one incremental run: the ledger's row counts and the
  data-quality results' ``total_count`` both add up to bronze's row count, and no quarantined
  row is there twice.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from silver_fixtures import (
    bronze_frame,
    good_911_row,
    good_request,
    project_catalog,
    read_table,
    run_silver,
    write_bronze,
)

from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.sources.sample import generate_nyc311, generate_nyc911
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

NYC311, NYC911 = "nyc311_service_requests", "nyc911_e2e_weekly"
SILVER_311 = "silver.nyc311_service_requests"
LEDGER = "monitoring.silver_batch_log"
# Any quarantine rule: every run records one result per rule, with the increment's row count.
A_RULE = "unique_key_present"


def run_bronze() -> None:
    from kedro.runner import SequentialRunner

    from nyc_lakehouse.pipelines.bronze.pipeline import create_pipeline

    SequentialRunner().run(create_pipeline(), project_catalog(create_pipeline()))


def _keys(rows: list[dict]) -> set[str]:
    return {str(r["unique_key"]) for r in rows}


def _bronze_rows(spark, data_root: Path, table: str) -> list[dict]:
    return read_table(spark, data_root, f"bronze.{table}")


def _without(rows: list[dict], *columns: str) -> list[dict]:
    trimmed = [{k: v for k, v in row.items() if k not in columns} for row in rows]
    return sorted(trimmed, key=lambda row: repr(sorted(row.items(), key=lambda kv: kv[0])))


def assert_each_bronze_row_checked_once(spark, data_root: Path) -> None:
    """Ledger rows and DQ totals of the incremental runs add up to bronze; no quarantine twin."""
    ledger = [r for r in read_table(spark, data_root, LEDGER) if not r["full_refresh"]]
    dq = [
        r
        for r in read_table(spark, data_root, "monitoring.dq_results")
        if r["rule_name"] == A_RULE and r["table_name"] == SILVER_311
    ]
    full_refresh_runs = {r["run_id"] for r in read_table(spark, data_root, LEDGER)} - {
        r["run_id"] for r in ledger
    }
    bronze = _bronze_rows(spark, data_root, NYC311)
    files = Counter((r["_batch_id"], r["_source_file"]) for r in bronze)
    consumed = Counter()
    for row in ledger:
        if row["dataset"] == "nyc311" and row["source_file"] is not None:  # not batch-level
            consumed[(row["batch_id"], row["source_file"])] += row["rows"]
    assert consumed == files
    assert sum(r["total_count"] for r in dq if r["run_id"] not in full_refresh_runs) == len(bronze)
    quarantine = read_table(spark, data_root, "silver.nyc311_quarantine")
    twins = Counter(
        (r["source_unique_key"], r["_batch_id"], r["_source_file"], r["_socrata_id"],
         r["source_updated_at"])
        for r in quarantine
        if r["run_id"] not in full_refresh_runs
    )  # fmt: skip
    assert [k for k, n in twins.items() if n > 1] == []


def assert_nothing_lost(spark, data_root: Path) -> None:
    bronze = {r["unique_key"] for r in _bronze_rows(spark, data_root, NYC311)} - {None}
    kept = _keys(read_table(spark, data_root, SILVER_311)) | {
        r["source_unique_key"] for r in read_table(spark, data_root, "silver.nyc311_quarantine")
    }
    assert bronze and bronze - kept == set()


def test_a_file_repaired_after_its_batch_was_merged_reaches_silver(spark, data_root):
    """The repaired file's rows are in silver or the quarantine, and nothing is counted twice."""
    zone = LandingZone(str(data_root / "landing"))
    month = pa.concat_tables(generate_nyc311(date(2022, 12, 1), date(2022, 12, 10), scale=0.1))
    half = month.num_rows // 2
    first, second = month.slice(0, half), month.slice(half)
    batch = zone.write_batch("nyc311", "b1", [first, second], ingest_date="2024-06-01")
    zone.write_batch(
        "nyc911",
        "b1",
        generate_nyc911(date(2022, 12, 1), date(2022, 12, 31)),
        ingest_date="2024-06-01",
    )
    bad_file = batch.files[1]
    original = Path(bad_file).read_bytes()
    Path(bad_file).write_bytes(b"\x00\x01 not parquet \xff")

    run_bronze()
    assert len(_bronze_rows(spark, data_root, NYC311)) == first.num_rows  # the bad file skipped
    run_silver()
    assert _keys(read_table(spark, data_root, SILVER_311))

    Path(bad_file).write_bytes(original)  # the operator repairs the file, then reruns
    run_bronze()
    assert len(_bronze_rows(spark, data_root, NYC311)) == month.num_rows
    run_silver()

    repaired = {str(k) for k in pq.read_table(bad_file)["unique_key"].to_pylist() if k}
    kept = _keys(read_table(spark, data_root, SILVER_311)) | {
        r["source_unique_key"] for r in read_table(spark, data_root, "silver.nyc311_quarantine")
    }
    assert repaired and repaired - kept == set()
    assert_nothing_lost(spark, data_root)
    assert_each_bronze_row_checked_once(spark, data_root)
    ledger = read_table(spark, data_root, LEDGER)
    assert {(r["batch_id"], r["source_file"]) for r in ledger if r["dataset"] == "nyc311"} == {
        ("b1", batch.files[0]),
        ("b1", bad_file),
    }

    # A rerun has nothing to do: no table changes, the ledger included.
    tables = (SILVER_311, "silver.nyc311_quarantine", "monitoring.dq_results", LEDGER)
    before = {t: read_table(spark, data_root, t) for t in tables}
    run_silver()
    for table in tables:
        rows = read_table(spark, data_root, table)
        if table == "monitoring.dq_results":  # an empty run records its zero counts, no more
            rows = [r for r in rows if r["total_count"]]
            before[table] = [r for r in before[table] if r["total_count"]]
        assert rows == before[table], table

    # A replay from all of bronze gives the incremental runs' tables.
    incremental = read_table(spark, data_root, SILVER_311)
    incremental_911 = read_table(spark, data_root, "silver.nyc911_e2e_weekly")
    run_silver(runtime_params={"full_refresh": True})
    assert _without(read_table(spark, data_root, SILVER_311), "_silver_updated_at") == _without(
        incremental, "_silver_updated_at"
    )
    assert _without(
        read_table(spark, data_root, "silver.nyc911_e2e_weekly"), "_silver_updated_at"
    ) == _without(incremental_911, "_silver_updated_at")
    assert_each_bronze_row_checked_once(spark, data_root)


# ---------------------------------------------------------------------------- interrupted runs
T1 = datetime(2024, 5, 27, 6, 0, tzinfo=UTC)
T2 = datetime(2024, 5, 28, 6, 0, tzinfo=UTC)


def _write_batch(spark, data_root: Path, batch: str, keys: list, at: datetime, **where) -> None:
    """A bronze 311 file (``bad`` keys do not parse: quarantined) and a 911 file of a batch."""
    requests = [good_request(key) for key in keys]
    frame = bronze_frame(spark, requests, NYC311_FIELDS, batch, at, **where)
    write_bronze(spark, data_root, NYC311, frame)
    weekly = [good_911_row(), good_911_row(agency="DOT")]  # one quarantined
    write_bronze(spark, data_root, NYC911, bronze_frame(spark, weekly, NYC911_FIELDS, batch, at))


def _silver_until(*outputs: str) -> None:
    """A silver run that ends once ``outputs`` are written (as a crash would end it)."""
    from kedro.runner import SequentialRunner

    from nyc_lakehouse.pipelines.silver import create_pipeline

    pipeline = create_pipeline()
    if outputs:
        pipeline = pipeline.to_outputs(*outputs)
    else:  # everything but the ledger write
        pipeline = pipeline - pipeline.only_nodes("record_silver_ledger")
    SequentialRunner().run(pipeline, project_catalog(create_pipeline()))


QUARANTINES_AND_DQ = (
    "silver.nyc311_quarantine",
    "silver.nyc911_quarantine",
    "monitoring.dq_results",
)
CRASHES = {
    "after the quarantines and DQ results": QUARANTINES_AND_DQ,
    "before the ledger": (),
    "after the 311 merge": ("silver.nyc311_service_requests",),
}


@pytest.mark.parametrize(
    "crashes",
    [
        ["after the quarantines and DQ results"],
        ["before the ledger"],
        ["before the ledger", "after the quarantines and DQ results"],
        ["after the 311 merge", "before the ledger"],
    ],
)
def test_a_run_ended_before_its_ledger_write_is_taken_up_once(spark, data_root, crashes):
    _write_batch(spark, data_root, "b1", [1, 2, "BAD-1"], T1)
    run_silver()
    _write_batch(spark, data_root, "b2", [3, 2, "BAD-2"], T2)
    for crash in crashes:
        _silver_until(*CRASHES[crash])
    assert "b2" not in {r["batch_id"] for r in read_table(spark, data_root, LEDGER)}

    run_silver()
    assert_nothing_lost(spark, data_root)
    assert_each_bronze_row_checked_once(spark, data_root)
    q911 = read_table(spark, data_root, "silver.nyc911_quarantine")
    assert sorted(r["_batch_id"] for r in q911) == ["b1", "b2"]
    ledger = read_table(spark, data_root, LEDGER)
    runs = {r["run_id"] for r in ledger}
    assert {r["run_id"] for r in read_table(spark, data_root, "monitoring.dq_results")} == runs
    assert {r["run_id"] for r in read_table(spark, data_root, "silver.nyc311_quarantine")} == runs
    assert sorted(r["batch_id"] for r in ledger if r["dataset"] == "nyc311") == ["b1", "b2"]


# ---------------------------------------------------------------------------- the batch-level log
def _to_batch_level_log(spark, data_root: Path) -> tuple[str, datetime]:
    """Rewrite the ledger as the log older lakehouses have: one row per batch, no files."""
    rows = read_table(spark, data_root, LEDGER)
    (run_id, processed_at), *others = {(r["run_id"], r["processed_at"]) for r in rows}
    assert not others
    legacy = sorted({(r["dataset"], r["batch_id"]) for r in rows})
    shutil.rmtree(data_root / "monitoring" / "silver_batch_log")
    spark.createDataFrame(
        [(dataset, batch, run_id, False, processed_at) for dataset, batch in legacy],
        "dataset string, batch_id string, run_id string, full_refresh boolean, "
        "processed_at timestamp",
    ).write.format("delta").save(str(data_root / "monitoring" / "silver_batch_log"))
    return run_id, processed_at


def _bronze_log(spark, data_root: Path, entries: list[tuple[str, str, datetime]]) -> None:
    from nyc_lakehouse.pipelines.bronze.nodes import LOG_SCHEMA

    rows = [("nyc311", batch, file, 1, "ingested", None, at) for batch, file, at in entries]
    spark.createDataFrame(rows, LOG_SCHEMA).write.format("delta").mode("append").save(
        str(data_root / "monitoring" / "bronze_batch_log")
    )


def test_a_batch_level_log_is_migrated_and_its_lost_files_recovered(spark, data_root):
    """Files consumed under the old log stay consumed; a file appended to its batch later is not."""
    older = {"_socrata_updated_at": "2024-05-27T05:00:00.000Z"}
    newer = {"_socrata_updated_at": "2024-05-28T05:00:00.000Z"}

    def bronze_file(batch: str, part: int, requests: list[dict], at: datetime) -> str:
        name = f"landing/{batch}/part-{part}.parquet"
        frame = bronze_frame(spark, requests, NYC311_FIELDS, batch, at, source_file=name)
        write_bronze(spark, data_root, NYC311, frame)
        return name

    by_evidence = bronze_file("b1", 0, [good_request(1), good_request("BAD-1")], T1)
    superseded = bronze_file("b1", 1, [good_request(3, **older)], T1)  # no row left in silver
    bronze_file("b2", 0, [good_request(3, **newer)], T1)
    write_bronze(spark, data_root, NYC911, bronze_frame(spark, [good_911_row()], NYC911_FIELDS))
    run_silver()
    legacy_run, processed_at = _to_batch_level_log(spark, data_root)
    before_run = processed_at - timedelta(hours=1)  # bronze logged it, then the run started
    _bronze_log(spark, data_root, [("b1", superseded, before_run)])
    # A run that checked nothing under the old log: its zero counts are not an interrupted run.
    from nyc_lakehouse.pipelines.silver.nodes import DQ_RESULTS_SCHEMA

    empty_run = [("silver-legacy-empty", SILVER_311, A_RULE, "quarantine", 0, 0, 0.0, before_run)]
    spark.createDataFrame(empty_run, DQ_RESULTS_SCHEMA).write.format("delta").mode("append").save(
        str(data_root / "monitoring" / "dq_results")
    )

    # The bug the ledger fixes: a repaired file appended to batch b1 after b1 was processed.
    later = datetime(2030, 1, 1, tzinfo=UTC)
    repaired = bronze_file("b1", 2, [good_request(4)], later)
    _bronze_log(spark, data_root, [("b1", repaired, later)])

    run_silver()
    assert 4 in {r["unique_key"] for r in read_table(spark, data_root, SILVER_311)}
    assert_nothing_lost(spark, data_root)
    assert_each_bronze_row_checked_once(spark, data_root)
    ledger = {
        (r["dataset"], r["batch_id"], r["source_file"]): r
        for r in read_table(spark, data_root, LEDGER)
        if r["source_file"] is not None
    }
    notes = {key[2]: (row["run_id"], row["note"]) for key, row in ledger.items()}
    assert (
        notes[by_evidence][0] == legacy_run and "silver or the quarantine" in notes[by_evidence][1]
    )
    assert notes[superseded][0] == legacy_run and "bronze had it" in notes[superseded][1]
    assert notes[repaired][0] != legacy_run and notes[repaired][1] is None
    assert ("nyc911", "batch-1", "landing/batch-1/part-0.parquet") in ledger
    dq = read_table(spark, data_root, "monitoring.dq_results")
    assert any(r["run_id"] == "silver-legacy-empty" for r in dq)

    tables = (SILVER_311, "silver.nyc311_quarantine", LEDGER)
    before = {t: read_table(spark, data_root, t) for t in tables}
    run_silver()  # migrated once: nothing more to do
    for table in tables:
        assert read_table(spark, data_root, table) == before[table], table
