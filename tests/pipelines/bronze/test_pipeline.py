"""The bronze pipeline on a real catalog (conf/), real Delta tables and SequentialRunner."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from nyc_lakehouse.pipelines.bronze import nodes
from nyc_lakehouse.pipelines.bronze.pipeline import create_pipeline
from nyc_lakehouse.sources.sample import generate_nyc311


def _table(spark, data_root, name: str):
    return spark.read.format("delta").load(str(data_root / name))


def _log(spark, data_root) -> list[dict]:
    return [r.asDict() for r in _table(spark, data_root, "monitoring/bronze_batch_log").collect()]


def test_pipeline_ingests_both_sources_with_audit_columns(spark, data_root, land, run_bronze):
    batches_311 = [land("nyc311", 2020, m) for m in (1, 2)]
    batches_911 = [land("nyc911", 2020, m) for m in (1, 2)]
    run_bronze()

    bronze_311 = _table(spark, data_root, "bronze/nyc311_service_requests")
    bronze_911 = _table(spark, data_root, "bronze/nyc911_e2e_weekly")
    assert bronze_311.count() == sum(b.rows for b in batches_311)
    assert bronze_911.count() == sum(b.rows for b in batches_911)
    landed = [c for c in bronze_311.columns if c not in nodes.AUDIT_COLUMNS]
    assert bronze_311.columns[-4:] == list(nodes.AUDIT_COLUMNS)
    assert all(t == "string" for c, t in bronze_311.dtypes if c in landed)
    assert dict(bronze_311.dtypes)["_ingested_at"] == "timestamp"
    assert "week_start_date" in bronze_911.columns
    partitions = DeltaTable(str(data_root / "bronze" / "nyc311_service_requests"))
    assert partitions.metadata().partition_columns == list(nodes.AUDIT_COLUMNS)

    per_file = {
        r["_source_file"]: r["count"] for r in bronze_311.groupBy("_source_file").count().collect()
    }
    assert per_file == {b.files[0]: b.rows for b in batches_311}
    # as received: the landed values are untouched
    landed_rows = pa.concat_tables([pq.read_table(b.files[0]) for b in batches_311])
    keys_bronze = sorted(r["unique_key"] for r in bronze_311.select("unique_key").collect())
    assert keys_bronze == sorted(landed_rows["unique_key"].to_pylist())

    log = _log(spark, data_root)
    assert len(log) == 4 and {r["status"] for r in log} == {"ingested"}
    assert {(r["dataset"], r["batch_id"], r["rows"]) for r in log} == {
        *(("nyc311", b.batch_id, b.rows) for b in batches_311),
        *(("nyc911", b.batch_id, b.rows) for b in batches_911),
    }


def test_running_twice_ingests_nothing_twice_and_picks_up_new_batches(
    spark, data_root, land, run_bronze
):
    land("nyc311", 2020, 1)
    land("nyc911", 2020, 1)
    run_bronze()
    first_311 = _table(spark, data_root, "bronze/nyc311_service_requests").count()
    first_911 = _table(spark, data_root, "bronze/nyc911_e2e_weekly").count()

    run_bronze()  # nothing new landed: same row counts, no new log entries
    assert _table(spark, data_root, "bronze/nyc311_service_requests").count() == first_311
    assert _table(spark, data_root, "bronze/nyc911_e2e_weekly").count() == first_911
    assert len(_log(spark, data_root)) == 2

    added = land("nyc311", 2020, 2)  # the next ingestion run lands a month
    run_bronze()
    bronze = _table(spark, data_root, "bronze/nyc311_service_requests")
    assert bronze.count() == first_311 + added.rows
    assert bronze.filter(f"_batch_id = '{added.batch_id}'").count() == added.rows
    assert len(_log(spark, data_root)) == 3


def test_bad_files_are_skipped_recorded_and_retried(spark, data_root, land, zone, run_bronze):
    good = land("nyc311", 2020, 1)
    corrupt = land("nyc311", 2020, 2)
    empty = land("nyc311", 2020, 3)
    with open(corrupt.files[0], "wb") as handle:
        handle.write(b"\x00\x01 not parquet \xff")
    original_empty = open(empty.files[0], "rb").read()
    open(empty.files[0], "wb").close()

    run_bronze()
    bronze = _table(spark, data_root, "bronze/nyc311_service_requests")
    assert bronze.count() == good.rows  # the good file is not blocked by the bad ones
    status = {r["batch_id"]: r for r in _log(spark, data_root)}
    assert status[good.batch_id]["status"] == "ingested"
    assert status[corrupt.batch_id]["status"] == "unreadable"
    assert status[corrupt.batch_id]["source_file"] == corrupt.files[0]
    assert status[corrupt.batch_id]["error"]
    assert status[empty.batch_id]["status"] == "empty"

    run_bronze()  # still broken: tried again, recorded again, nothing duplicated
    assert _table(spark, data_root, "bronze/nyc311_service_requests").count() == good.rows
    attempts = [r["status"] for r in _log(spark, data_root) if r["batch_id"] == corrupt.batch_id]
    assert attempts == ["unreadable", "unreadable"]

    # the files are repaired (re-landed): the next run ingests them
    with open(empty.files[0], "wb") as handle:
        handle.write(original_empty)
    tables = list(generate_nyc311(*_month(2020, 2), scale=0.1))
    pq.write_table(pa.concat_tables(tables), corrupt.files[0], compression="zstd")
    run_bronze()
    bronze = _table(spark, data_root, "bronze/nyc311_service_requests")
    assert bronze.count() == good.rows + corrupt.rows + empty.rows
    latest = {
        r["batch_id"]: r["status"]
        for r in sorted(_log(spark, data_root), key=lambda r: r["logged_at"])
    }
    assert set(latest.values()) == {"ingested"}


def _month(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    return first, date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def test_a_crash_between_the_append_and_the_log_write_duplicates_nothing(
    spark, data_root, land, run_bronze
):
    batch = land("nyc311", 2020, 1)
    land("nyc911", 2020, 1)
    appends_only = create_pipeline().only_nodes(
        "plan_bronze_nyc311", "append_bronze_nyc311", "plan_bronze_nyc911", "append_bronze_nyc911"
    )
    run_bronze(appends_only)  # the run "dies" before log_bronze_batches
    with pytest.raises(Exception):  # noqa: B017 - no log table yet
        _log(spark, data_root)

    run_bronze()
    bronze = _table(spark, data_root, "bronze/nyc311_service_requests")
    assert bronze.count() == batch.rows
    log = _log(spark, data_root)
    assert {(r["dataset"], r["status"], r["error"]) for r in log} == {
        ("nyc311", "ingested", nodes.RECOVERED_NOTE),
        ("nyc911", "ingested", nodes.RECOVERED_NOTE),
    }
    assert [r["rows"] for r in log if r["dataset"] == "nyc311"] == [batch.rows]

    run_bronze()  # and the recovery itself is logged once
    assert len(_log(spark, data_root)) == 2


def test_a_new_source_column_is_added_by_schema_evolution(spark, data_root, land, run_bronze):
    first = land("nyc311", 2020, 1, scale=0.05)
    run_bronze()
    month = next(generate_nyc311(*_month(2020, 2), scale=0.05))
    # a new API field and a new computed region (which sorts into the middle of the columns)
    evolved = month.append_column("new_api_field", pa.array(["v"] * month.num_rows))
    position = evolved.column_names.index("_computed_region_yeji_bk3q")
    evolved = evolved.add_column(
        position, "_computed_region_zz99_new1", pa.array(["42"] * month.num_rows)
    )
    second = land("nyc311", 2020, 2, tables=[evolved])
    run_bronze()

    bronze = _table(spark, data_root, "bronze/nyc311_service_requests")
    assert bronze.count() == first.rows + second.rows
    assert {"new_api_field", "_computed_region_zz99_new1"} <= set(bronze.columns)
    old = bronze.filter(f"_batch_id = '{first.batch_id}'")
    new = bronze.filter(f"_batch_id = '{second.batch_id}'")
    assert old.filter("new_api_field IS NOT NULL").count() == 0
    assert (
        new.filter("new_api_field = 'v' AND _computed_region_zz99_new1 = '42'").count()
        == second.rows
    )
    # columns matched by name, not position: values stayed in their own columns
    expected = month.column("_computed_region_yeji_bk3q").to_pylist()
    got = [r[0] for r in new.select("_computed_region_yeji_bk3q").collect()]
    assert sorted(v for v in got if v) == sorted(v for v in expected if v)
    assert new.filter("created_date NOT LIKE '2020-02-%'").count() == 0


def test_bronze_runs_after_ingestion_and_before_silver(data_root, make_catalog):
    from nyc_lakehouse.pipelines.ingestion.pipeline import create_pipeline as ingestion
    from nyc_lakehouse.pipelines.silver.pipeline import create_pipeline as silver

    bronze = create_pipeline()
    handed_over = ingestion().all_outputs() & bronze.all_inputs()
    assert handed_over == {"ingestion.nyc311_done", "ingestion.nyc911_done"}
    assert {"bronze.nyc311_service_requests", "bronze.nyc911_e2e_weekly"} <= (
        bronze.all_outputs() & silver().all_inputs()
    )
    # every dataset bronze touches is a real catalog entry, except the in-run plans
    catalog = make_catalog()
    free = {n for n in bronze.datasets() if not n.startswith("params:") and n not in catalog}
    assert free == {"bronze_plan_nyc311", "bronze_plan_nyc911"}


def test_a_first_run_on_an_empty_landing_zone_creates_empty_tables(spark, data_root, run_bronze):
    run_bronze()  # fresh clone, bronze on its own: no ingestion summary, nothing landed
    bronze_311 = _table(spark, data_root, "bronze/nyc311_service_requests")
    bronze_911 = _table(spark, data_root, "bronze/nyc911_e2e_weekly")
    assert bronze_311.count() == 0 and bronze_911.count() == 0
    assert {"unique_key", "created_date", "_socrata_updated_at", *nodes.AUDIT_COLUMNS} <= set(
        bronze_311.columns
    )
    assert {"week_start_date", "of_incidents_calculated", "_batch_id"} <= set(bronze_911.columns)
    assert _log(spark, data_root) == []
