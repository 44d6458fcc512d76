"""The silver pipeline as Kedro runs it: SequentialRunner, the real catalog and Delta tables.

One scenario walks through incremental runs, a rerun with nothing new, a late update, an
out-of-order older version, a 911 revision and a full-refresh replay.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from silver_fixtures import (
    bronze_frame,
    good_911_row,
    good_request,
    read_table,
    run_silver,
    write_bronze,
)

from nyc_lakehouse.quality import DataQualityError
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

NYC311 = "nyc311_service_requests"
NYC911 = "nyc911_e2e_weekly"


def _by(rows: list[dict], *keys: str) -> dict:
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}


def _without(rows: list[dict], *columns: str) -> list[dict]:
    trimmed = [{k: v for k, v in row.items() if k not in columns} for row in rows]
    return sorted(trimmed, key=lambda row: repr(sorted(row.items(), key=lambda kv: kv[0])))


def test_incremental_rerun_late_updates_and_replay(spark, data_root):
    batch1_311 = [
        good_request(1),
        good_request(2, status="Open", _socrata_updated_at="2024-05-27T05:00:00.000Z"),
        good_request(3, latitude="0", longitude="0"),  # warn only: kept
        good_request(
            5, status="Open", closed_date=None, _socrata_updated_at="2024-05-27T05:00:00Z"
        ),
        good_request("ABC-1"),  # key does not parse: quarantined
        good_request(6, created_date=""),  # no created date: quarantined
    ]
    batch1_911 = [
        good_911_row(),
        good_911_row(agency="nypd (non-cip)", final_incident_type="2. Serious"),
        good_911_row(agency="DOT"),  # not a 911 agency: quarantined
    ]
    t1 = datetime(2024, 5, 27, 6, 0, tzinfo=UTC)
    write_bronze(spark, data_root, NYC311, bronze_frame(spark, batch1_311, NYC311_FIELDS, "b1", t1))
    write_bronze(spark, data_root, NYC911, bronze_frame(spark, batch1_911, NYC911_FIELDS, "b1", t1))

    run_silver()

    silver = read_table(spark, data_root, "silver.nyc311_service_requests")
    assert sorted(r["unique_key"] for r in silver) == [1, 2, 3, 5]
    quarantine = read_table(spark, data_root, "silver.nyc311_quarantine")
    by_source_key = _by(quarantine, "source_unique_key")
    assert set(by_source_key) == {"ABC-1", "6"}
    assert "unique_key_present" in by_source_key["ABC-1"]["failed_rules"]
    assert "created_date_present" in by_source_key["6"]["failed_rules"]
    assert all(r["run_id"].startswith("silver-") and r["_source_file"] for r in quarantine)
    assert all(r["_batch_id"] == "b1" for r in quarantine)
    weekly = read_table(spark, data_root, "silver.nyc911_e2e_weekly")
    assert sorted(r["agency"] for r in weekly) == ["EMS", "NYPD (Non-CIP)"]
    q911 = read_table(spark, data_root, "silver.nyc911_quarantine")
    assert len(q911) == 1 and "known_agency" in q911[0]["failed_rules"]
    dq = read_table(spark, data_root, "monitoring.dq_results")
    dq_311 = _by(
        [r for r in dq if r["table_name"] == "silver.nyc311_service_requests"], "rule_name"
    )
    assert dq_311["unique_key_present"]["failed_count"] == 1
    assert dq_311["unique_key_present"]["total_count"] == 6
    assert dq_311["valid_location"]["failed_count"] == 1
    assert dq_311["valid_location"]["failed_share"] == pytest.approx(1 / 6)
    assert len({r["run_id"] for r in dq}) == 1
    log = read_table(spark, data_root, "monitoring.silver_batch_log")
    assert sorted((r["dataset"], r["batch_id"]) for r in log) == [
        ("nyc311", "b1"),
        ("nyc911", "b1"),
    ]

    # Rerun on the same bronze: nothing new, so every table stays identical.
    before = {
        t: read_table(spark, data_root, t)
        for t in (
            "silver.nyc311_service_requests",
            "silver.nyc911_e2e_weekly",
            "silver.nyc311_quarantine",
        )
    }
    run_silver()
    for table, rows in before.items():
        assert read_table(spark, data_root, table) == rows, table

    # Batch 2: request 5 closed later (wins), an older version of request 2 (loses), a new
    # request 7, and the city's revision of an already published 911 week.
    batch2_311 = [
        good_request(5, status="Closed", _socrata_updated_at="2024-05-28T09:00:00.000Z"),
        good_request(2, status="Assigned", _socrata_updated_at="2024-05-26T05:00:00.000Z"),
        good_request(
            7, created_date="2024-04-02T08:00:00.000", closed_date="2024-04-02T09:30:00.000"
        ),
    ]
    batch2_911 = [
        good_911_row(of_incidents_calculated="8,881", _socrata_updated_at="2019-08-01T00:00:00Z")
    ]
    t2 = datetime(2024, 5, 29, 6, 0, tzinfo=UTC)
    write_bronze(spark, data_root, NYC311, bronze_frame(spark, batch2_311, NYC311_FIELDS, "b2", t2))
    write_bronze(spark, data_root, NYC911, bronze_frame(spark, batch2_911, NYC911_FIELDS, "b2", t2))

    run_silver()

    silver = _by(read_table(spark, data_root, "silver.nyc311_service_requests"), "unique_key")
    assert sorted(silver) == [1, 2, 3, 5, 7]
    assert silver[5]["status"] == "CLOSED" and silver[5]["_batch_id"] == "b2"
    assert silver[2]["status"] == "OPEN" and silver[2]["_batch_id"] == "b1"
    assert silver[7]["created_month"] == "2024-04" and silver[7]["response_time_hours"] == 1.5
    weekly = _by(read_table(spark, data_root, "silver.nyc911_e2e_weekly"), "agency")
    assert weekly["EMS"]["incident_count"] == 8881 and weekly["EMS"]["_batch_id"] == "b2"
    assert len(weekly) == 2

    # Nothing lost: every bronze unique_key is in silver or in the quarantine.
    bronze_keys = {r["unique_key"] for r in batch1_311 + batch2_311}
    kept = {str(k) for k in silver} | {
        r["source_unique_key"] for r in read_table(spark, data_root, "silver.nyc311_quarantine")
    }
    assert bronze_keys <= kept

    # Replay: a full refresh from all of bronze gives the same tables as the incremental runs.
    incremental_311 = read_table(spark, data_root, "silver.nyc311_service_requests")
    incremental_911 = read_table(spark, data_root, "silver.nyc911_e2e_weekly")
    run_silver(runtime_params={"full_refresh": True})
    assert _without(
        read_table(spark, data_root, "silver.nyc311_service_requests"), "_silver_updated_at"
    ) == _without(incremental_311, "_silver_updated_at")
    assert _without(
        read_table(spark, data_root, "silver.nyc911_e2e_weekly"), "_silver_updated_at"
    ) == _without(incremental_911, "_silver_updated_at")
    log = read_table(spark, data_root, "monitoring.silver_batch_log")
    assert sum(1 for r in log if r["full_refresh"]) == 4  # b1, b2 for both datasets


def test_fail_rule_stops_the_run_and_names_rule_and_count(spark, data_root):
    records = [
        good_request(1),
        good_request(2, _socrata_updated_at="2099-01-01T00:00:00.000Z"),
    ]
    write_bronze(spark, data_root, NYC311, bronze_frame(spark, records, NYC311_FIELDS, "b1"))
    write_bronze(
        spark, data_root, NYC911, bronze_frame(spark, [good_911_row()], NYC911_FIELDS, "b1")
    )

    with pytest.raises(
        DataQualityError, match=r"'source_updated_at_not_in_future' failed for 1 of 2"
    ):
        run_silver()
    # Nothing merged, and the batch is not marked processed: the next run retries it.
    assert not (data_root / "silver" / "nyc311_service_requests" / "_delta_log").exists()
    assert not (data_root / "monitoring" / "silver_batch_log" / "_delta_log").exists()


def test_one_source_failing_leaves_the_other_and_a_retry_quarantines_once(spark, data_root):
    """Each source stands alone: 911's failing check does not hold 311 back, and retrying the
    failed runs never quarantines a row twice."""
    nyc311 = [good_request(1), good_request("ABC-1")]  # one quarantined 311 row
    nyc911 = [good_911_row(), good_911_row(agency="DOT")]  # 50% quarantined
    write_bronze(spark, data_root, NYC311, bronze_frame(spark, nyc311, NYC311_FIELDS, "b1"))
    write_bronze(spark, data_root, NYC911, bronze_frame(spark, nyc911, NYC911_FIELDS, "b1"))
    strict_911 = {"max_quarantine_share": 0.1, "min_rows_for_share_check": 1}

    # The per-source runs (the Databricks tasks silver_nyc911, silver_nyc311).
    with pytest.raises(DataQualityError, match="failed quarantine rules"):
        run_silver(sources=("nyc911",), nyc911=strict_911)
    run_silver(sources=("nyc311",))
    assert [
        r["unique_key"] for r in read_table(spark, data_root, "silver.nyc311_service_requests")
    ] == [1]
    assert not (data_root / "silver" / "nyc911_quarantine" / "_delta_log").exists()
    ledger = read_table(spark, data_root, "monitoring.silver_batch_log")
    assert {r["dataset"] for r in ledger} == {"nyc311"}

    # The whole layer in one run fails on 911 twice, then passes: each row quarantined once.
    for _attempt in range(2):
        with pytest.raises(DataQualityError, match="failed quarantine rules"):
            run_silver(nyc911=strict_911)
    run_silver()
    assert [
        r["source_unique_key"] for r in read_table(spark, data_root, "silver.nyc311_quarantine")
    ] == ["ABC-1"]
    assert len(read_table(spark, data_root, "silver.nyc911_quarantine")) == 1
    ledger = read_table(spark, data_root, "monitoring.silver_batch_log")
    assert sorted(r["dataset"] for r in ledger) == ["nyc311", "nyc911"]


def test_bundled_sample_nothing_lost_and_idempotent(spark, data_root):
    """The sample generator's output (real-world defects included) through the whole pipeline."""
    from datetime import date

    import pyarrow as pa

    from nyc_lakehouse.sources.sample import generate_nyc311, generate_nyc911

    ingested = datetime(2023, 1, 5, tzinfo=UTC)
    bronze_keys: set[str] = set()
    for name, tables in (
        (NYC311, generate_nyc311(start=date(2022, 12, 1), end=date(2022, 12, 10))),
        (NYC911, generate_nyc911(start=date(2022, 12, 1), end=date(2022, 12, 31))),
    ):
        for index, table in enumerate(tables):
            if name == NYC311:
                bronze_keys |= {k for k in table["unique_key"].to_pylist() if k is not None}
            n = table.num_rows
            for column, values in (
                ("_ingested_at", pa.array([ingested] * n, pa.timestamp("us", tz="UTC"))),
                ("_source_file", pa.array([f"landing/{name}-{index}.parquet"] * n)),
                ("_batch_id", pa.array([f"sample-{index}"] * n)),
                ("_ingest_date", pa.array(["2023-01-05"] * n)),
            ):
                table = table.append_column(column, values)
            write_bronze(spark, data_root, name, spark.createDataFrame(table.to_pandas()))

    run_silver()
    silver = read_table(spark, data_root, "silver.nyc311_service_requests")
    quarantine = read_table(spark, data_root, "silver.nyc311_quarantine")
    kept = {str(r["unique_key"]) for r in silver} | {r["source_unique_key"] for r in quarantine}
    assert bronze_keys and bronze_keys <= kept
    assert len(silver) == len({r["unique_key"] for r in silver})  # one row per request
    assert {r["created_month"] for r in silver} == {"2022-12"}
    assert {r["borough"] for r in silver} <= {
        "MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND", "UNSPECIFIED",
    }  # fmt: skip
    weekly = read_table(spark, data_root, "silver.nyc911_e2e_weekly")
    grain = {(r["week_start_date"], r["agency"], r["incident_type"]) for r in weekly}
    assert weekly and len(grain) == len(weekly)

    before = read_table(spark, data_root, "silver.nyc311_service_requests")
    run_silver()
    assert read_table(spark, data_root, "silver.nyc311_service_requests") == before
