"""Bulk-export batches through the real silver pipeline.

Export batches carry no Socrata system fields (``_socrata_id``, ``_socrata_updated_at``,
``_socrata_created_at`` are all null): silver must still build a correct table from them alone,
and a later API version of a request must replace the exported one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from silver_fixtures import (
    bronze_frame,
    good_911_row,
    good_request,
    read_table,
    run_silver,
    write_bronze,
)

from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

NYC311 = "nyc311_service_requests"
NYC911 = "nyc911_e2e_weekly"
NO_SOCRATA = {"_socrata_id": None, "_socrata_updated_at": None, "_socrata_created_at": None}


def _exported(record: dict) -> dict:
    return {**record, **NO_SOCRATA}


def test_export_only_batches_then_later_api_versions_win(spark, data_root):
    exported_311 = [
        _exported(good_request(10)),
        # Real exports contain typos far in the future: a warn rule, never a failed run, and
        # the typo must not become a version stamp that no later correction can beat.
        _exported(
            good_request(
                11,
                closed_date="2031-05-27T01:10:00.000",
                resolution_action_updated_date="2031-05-27T01:10:00.000",
            )
        ),
        _exported(
            good_request(12, status="Open", closed_date=None, resolution_action_updated_date=None)
        ),
        # Realistic broken rows: quarantined with the rules they failed, never lost.
        _exported(good_request("not-a-key")),
        _exported(good_request(13, created_date="2024-02-30T10:00:00.000")),  # no such day
        _exported(good_request(14, created_date="1900-01-01T00:00:00.000")),  # out of range
    ]
    exported_911 = [_exported(good_911_row())]
    t_export = datetime(2024, 5, 28, 6, 0, tzinfo=UTC)
    write_bronze(
        spark, data_root, NYC311, bronze_frame(spark, exported_311, NYC311_FIELDS, "e1", t_export)
    )
    write_bronze(
        spark, data_root, NYC911, bronze_frame(spark, exported_911, NYC911_FIELDS, "e1", t_export)
    )

    run_silver()

    silver = {r["unique_key"]: r for r in read_table(spark, data_root, f"silver.{NYC311}")}
    assert sorted(silver) == [10, 11, 12]
    assert all(r["_socrata_id"] is None for r in silver.values())
    assert all(r["source_updated_at"] is not None for r in silver.values())
    assert silver[11]["has_future_closed_date"] and silver[11]["response_time_hours"] is None
    assert silver[11]["source_updated_at"].year == 2024  # capped at ingestion, not 2031
    assert silver[12]["status"] == "OPEN" and silver[10]["status"] == "CLOSED"
    quarantine = {
        r["source_unique_key"]: r for r in read_table(spark, data_root, "silver.nyc311_quarantine")
    }
    assert sorted(quarantine) == ["13", "14", "not-a-key"]
    # failed_rules lists every rule a row failed, warn rules included (all_fields_parsed).
    assert quarantine["not-a-key"]["failed_rules"] == ["unique_key_present", "all_fields_parsed"]
    assert quarantine["13"]["failed_rules"] == ["created_date_present", "all_fields_parsed"]
    assert quarantine["13"]["parse_errors"] == ["created_date"]
    assert quarantine["14"]["failed_rules"] == ["created_date_in_range"]
    assert all(r["_source_file"] == "landing/e1/part-0.parquet" for r in quarantine.values())
    # Nothing lost: every bronze key is in silver or in the quarantine.
    kept = {str(k) for k in silver} | set(quarantine)
    assert {r["unique_key"] for r in exported_311} == kept
    weekly = read_table(spark, data_root, f"silver.{NYC911}")
    assert len(weekly) == 1 and weekly[0]["source_updated_at"] is not None

    # Later API pages: 11 corrected and 12 closed after the export (both win); an API copy of
    # 10 fetched before the export, still open (loses); the city's revision of the 911 week.
    api_311 = [
        good_request(
            11,
            closed_date="2024-05-29T01:10:00.000",
            resolution_action_updated_date="2024-05-29T01:10:00.000",
            _socrata_updated_at="2024-05-29T09:00:00.000Z",
        ),
        good_request(12, _socrata_updated_at="2024-05-29T09:00:00.000Z"),
        good_request(
            10,
            status="Open",
            closed_date=None,
            resolution_action_updated_date=None,
            _socrata_updated_at="2024-05-27T04:00:00.000Z",
        ),
    ]
    api_911 = [
        good_911_row(of_incidents_calculated="9,000", _socrata_updated_at="2024-05-30T00:00:00Z")
    ]
    t_api = datetime(2024, 5, 30, 6, 0, tzinfo=UTC)
    write_bronze(spark, data_root, NYC311, bronze_frame(spark, api_311, NYC311_FIELDS, "a1", t_api))
    write_bronze(spark, data_root, NYC911, bronze_frame(spark, api_911, NYC911_FIELDS, "a1", t_api))

    run_silver()

    silver = {r["unique_key"]: r for r in read_table(spark, data_root, f"silver.{NYC311}")}
    assert sorted(silver) == [10, 11, 12]
    assert silver[11]["_batch_id"] == "a1" and not silver[11]["has_future_closed_date"]
    assert silver[11]["response_time_hours"] == 50.0
    assert silver[12]["_batch_id"] == "a1" and silver[12]["status"] == "CLOSED"
    assert silver[10]["_batch_id"] == "e1" and silver[10]["status"] == "CLOSED"
    weekly = read_table(spark, data_root, f"silver.{NYC911}")
    assert len(weekly) == 1
    assert weekly[0]["incident_count"] == 9000 and weekly[0]["_batch_id"] == "a1"

    # Replay from all of bronze (export and API batches together) reaches the same table.
    def comparable(rows: list[dict]) -> list[dict]:
        trimmed = [{k: v for k, v in r.items() if k != "_silver_updated_at"} for r in rows]
        return sorted(trimmed, key=lambda r: r["unique_key"])

    incremental = read_table(spark, data_root, f"silver.{NYC311}")
    run_silver(runtime_params={"full_refresh": True})
    assert comparable(read_table(spark, data_root, f"silver.{NYC311}")) == comparable(incremental)
