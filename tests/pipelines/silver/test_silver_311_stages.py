"""The four 311 stages on small bronze-shaped fixtures (real Sail)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from silver_fixtures import good_request, materialize

from nyc_lakehouse.delta import ROW_IDENTITY_COLUMNS, with_row_hash, with_row_id
from nyc_lakehouse.pipelines.silver import nodes


def _rows(df, key: str = "unique_key") -> dict:
    return {row[key]: row.asDict() for row in df.collect()}


def test_base_stage_types_names_and_placeholders(spark, bronze_311, silver_params):
    bronze = bronze_311(
        [
            good_request(1),
            good_request(
                2,
                agency=" dsny ",
                complaint_type="  ",
                incident_zip="N/A",
                borough="Unspecified",
                descriptor="N/A",
                latitude="not-a-number",
                closed_date="2024-02-30T01:00:00.000",
                created_date="02/28/2023 11:31:05 PM",
            ),
            good_request("12x", incident_zip="10033-1234"),
            good_request(13, incident_zip="0"),
            good_request(14, incident_zip="1234"),
        ]
    )
    base = nodes.clean_311_base(bronze, silver_params["nyc311"])
    types = dict(base.dtypes)
    assert types["unique_key"] == "bigint"
    assert types["created_date"] == "timestamp"
    assert types["latitude"] == "double"
    assert "complaint_type_raw" in types and "complaint_type" not in types
    assert "location" not in types

    rows = {row["source_unique_key"]: row.asDict() for row in base.collect()}
    good, messy, bad_key = rows["1"], rows["2"], rows["12x"]
    assert good["unique_key"] == 1
    # Floating NYC time 23:10 EDT is 03:10 UTC the next day.
    assert good["created_date"].timestamp() == datetime(2024, 5, 27, 3, 10, tzinfo=UTC).timestamp()
    assert (
        good["source_updated_at"].timestamp()
        == datetime(2024, 5, 27, 5, 10, tzinfo=UTC).timestamp()
    )
    assert good["parse_errors"] == []
    assert messy["agency"] == "DSNY"
    assert messy["complaint_type_raw"] is None
    assert (
        messy["incident_zip"] is None and messy["borough"] is None and messy["descriptor"] is None
    )
    assert messy["latitude"] is None and messy["closed_date"] is None
    # 11:31:05 PM EST on 2023-02-28 is 04:31:05 UTC on 2023-03-01.
    assert (
        messy["created_date"].timestamp() == datetime(2023, 3, 1, 4, 31, 5, tzinfo=UTC).timestamp()
    )
    assert sorted(messy["parse_errors"]) == ["closed_date", "latitude"]  # N/A is a placeholder
    assert bad_key["unique_key"] is None and bad_key["parse_errors"] == ["unique_key"]
    assert bad_key["incident_zip"] == "10033"
    # A zero ZIP is a placeholder (null, no error); a 4-digit ZIP is malformed (null + error).
    assert rows["13"]["incident_zip"] is None and rows["13"]["parse_errors"] == []
    assert rows["14"]["incident_zip"] is None and rows["14"]["parse_errors"] == ["incident_zip"]


def test_flags_enrichment_and_final(spark, bronze_311, silver_params, run_context, tmp_path):
    params = silver_params["nyc311"]
    bronze = bronze_311(
        [
            good_request(1),
            # Closed without closed date: inferred from the resolution date.
            good_request(2, status="CLOSED", closed_date=None, borough=None, incident_zip="11372"),
            # Closed before created: flagged, no response time; borough from the city name.
            good_request(
                3,
                closed_date="2024-05-20T00:00:00.000",
                borough="Unspecified",
                incident_zip=None,
                city="Flushing",
                status="in progress",
                complaint_type="HEAT/HOT WATER",
                incident_address="12  main ave",
                latitude="0",
                longitude="0",
            ),
            # Closed far in the future; Brooklyn exclusion 11241-11243 keeps it unspecified.
            good_request(
                4,
                closed_date="2025-01-01T00:00:00.000",
                borough=None,
                incident_zip="11242",
                city=None,
                status="weird",
                resolution_description=None,
                complaint_type="Illegal Parking",
            ),
            good_request(5, closed_date="2009-12-31T00:00:00.000", incident_zip="07030"),
            # New Year's Eve, 23:30 New York time: 04:30 UTC on 1 January.
            good_request(
                8,
                created_date="2023-12-31T23:30:00.000",
                closed_date="2105-01-01T00:00:00.000",
                _socrata_updated_at="2024-01-01T05:00:00.000Z",
            ),
        ]
    )
    base = materialize(spark, nodes.clean_311_base(bronze, params), tmp_path / "base")
    passed, quarantine, records = nodes.check_311_quality(base, params, run_context)
    assert quarantine.count() == 0
    assert {r["rule_name"] for r in records} == {r["name"] for r in params["rules"]}
    enriched = nodes.enrich_311(passed, params, run_context)
    final = _rows(nodes.finalize_311(enriched, run_context))
    assert list(nodes.finalize_311(enriched, run_context).columns) == list(
        nodes.NYC311_SILVER_COLUMNS
    )

    one, two, three, four, five, eight = (final[k] for k in (1, 2, 3, 4, 5, 8))
    # Calendar parts in New York time even though the base stage was read back from Delta.
    assert (eight["created_month"], eight["created_year"], eight["created_hour"]) == (
        "2023-12",
        2023,
        23,
    )
    assert (
        eight["created_date_only"].isoformat() == "2023-12-31" and eight["created_day_of_week"] == 7
    )
    assert eight["has_future_closed_date"] and eight["parse_errors"] == []
    assert one["has_valid_location"] and one["has_valid_zip"] and one["has_resolution"]
    assert one["response_time_hours"] == 2.0 and one["is_closed"] and one["status"] == "CLOSED"
    assert (one["created_month"], one["created_year"], one["created_month_num"]) == (
        "2024-05",
        2024,
        5,
    )
    assert one["created_day_of_week"] == 7 and one["created_hour"] == 23  # Sunday 23:10 NYC
    assert one["created_date_only"].isoformat() == "2024-05-26"
    assert one["closed_date_only"].isoformat() == "2024-05-27"  # closed 01:10 NYC
    assert one["incident_address"] == "600 WEST 178 STREET"
    assert one["complaint_type"] == "Noise - Residential" and one["complaint_category"] == "Noise"
    assert one["borough"] == "MANHATTAN" and one["borough_recovered_from"] == "source"
    assert one["dq_warnings"] == []

    assert (
        two["is_closed_date_inferred"]
        and two["closed_date"] == two["resolution_action_updated_date"]
    )
    assert two["response_time_hours"] == 2.0
    assert two["borough"] == "QUEENS" and two["borough_recovered_from"] == "zip"

    assert three["has_invalid_closed_date"] and three["response_time_hours"] is None
    assert not three["has_valid_location"] and not three["has_valid_zip"]
    assert three["borough"] == "QUEENS" and three["borough_recovered_from"] == "city"
    assert three["status"] == "IN PROGRESS" and not three["is_closed"]
    assert three["complaint_type"] == "Heat/Hot Water" and three["complaint_category"] == "Housing"
    assert three["incident_address"] == "12 MAIN AVENUE"
    assert set(three["dq_warnings"]) == {
        "valid_location",
        "valid_zip",
        "closed_date_not_before_created",
    }

    assert four["has_future_closed_date"] and four["response_time_hours"] is None
    assert four["borough"] == "UNSPECIFIED" and four["status"] == "UNSPECIFIED"
    assert not four["has_resolution"]
    assert four["complaint_category"] == "Parking & Vehicles"

    assert five["has_invalid_closed_date"]  # closed before 2010
    assert five["incident_zip"] == "07030" and not five["has_valid_zip"]  # 5 digits, not NYC


def test_quarantine_share_threshold_uses_configured_parameters(
    spark, bronze_311, silver_params, run_context, tmp_path
):
    from nyc_lakehouse.quality import DataQualityError

    params = {**silver_params["nyc311"], "min_rows_for_share_check": 4}
    records = [good_request(k) for k in (1, 2, 3)] + [good_request("bad-key")]
    base = materialize(spark, nodes.clean_311_base(bronze_311(records), params), tmp_path / "b")
    with pytest.raises(DataQualityError, match=r"1 of 4 rows \(25.0%\).*'unique_key_present': 1"):
        nodes.check_311_quality(base, params, run_context)
    # With the default minimum size (1000 rows) a 4-row increment is not judged by share.
    passed, quarantine, _ = nodes.check_311_quality(base, silver_params["nyc311"], run_context)
    assert passed.count() == 3 and quarantine.count() == 1


SAME = "2024-05-28T05:00:00.000Z"
TIES = [
    (8, "Open", "Closed"),
    (9, "Closed", "Open"),
    (10, "Assigned", "Pending"),
    (11, "Pending", "Assigned"),
]


def test_final_keeps_latest_version_per_key(
    spark, bronze_311, silver_params, run_context, tmp_path
):
    """Through the catalog's own silver dataset: its upsert keeps one row per request."""
    from silver_fixtures import load_config

    from nyc_lakehouse.datasets import DeltaTableDataset

    params = silver_params["nyc311"]
    early = datetime(2024, 5, 28, 6, 0, tzinfo=UTC)
    late = datetime(2024, 5, 29, 6, 0, tzinfo=UTC)
    bronze = bronze_311(
        [
            good_request(7, status="Open", _socrata_updated_at="2024-05-27T05:00:00.000Z"),
            good_request(7, status="Closed", _socrata_updated_at="2024-05-28T05:00:00.000Z"),
            good_request(7, status="Assigned", _socrata_updated_at="2024-05-27T09:00:00.000Z"),
            *[good_request(key, status=first, _socrata_updated_at=SAME) for key, first, _ in TIES],
        ],
        ingested_at=early,
    ).unionByName(
        # the same version stamp, ingested later: the later ingestion wins (four pairs, in
        # both directions, so that a pick by chance cannot pass)
        bronze_311(
            [good_request(key, status=last, _socrata_updated_at=SAME) for key, _, last in TIES],
            ingested_at=late,
            batch_id="batch-2",
        )
    )
    base = materialize(spark, nodes.clean_311_base(bronze, params), tmp_path / "base")
    passed, _, _ = nodes.check_311_quality(base, params, run_context)
    final = nodes.finalize_311(nodes.enrich_311(passed, params, run_context), run_context)
    assert final.count() == 3 + 2 * len(TIES)  # the node hands over the whole increment

    entry = dict(load_config("catalog")["silver.nyc311_service_requests"])
    dataset = DeltaTableDataset(
        table="silver.nyc311_service_requests",
        root=str(tmp_path / "lake"),
        save_args=entry["save_args"],
    )
    dataset.save(final)
    rows = {r["unique_key"]: r for r in dataset.load().collect()}
    expected = {7: "CLOSED", **{key: last.upper() for key, _, last in TIES}}
    assert {key: row["status"] for key, row in rows.items()} == expected
    # again, as a merge into the existing table: still one row each, nothing changes
    dataset.save(final)
    again = {r["unique_key"]: r["status"] for r in dataset.load().collect()}
    assert again == expected


def test_prepared_increment_matches_the_stage_by_stage_path(
    spark, bronze_311, silver_params, run_context, tmp_path
):
    """The pipeline's one-pass increment gives the same silver rows and the same quarantine
    (typed values as received, not their enriched values) as clean -> check -> enrich."""
    params = silver_params["nyc311"]
    records = [
        good_request(1, incident_address="600 w. 178 st", street_name="w 178 st"),
        good_request(2, status="Closed", closed_date=None, borough="Unspecified"),
        good_request(3, status="weird", borough="Unspecified", incident_zip="11101"),
        # quarantined, with values that enrichment would change in place
        good_request("not-a-key", status="closed", incident_address="1 main st."),
        good_request(4, created_date=None, borough="Unspecified", street_name="ocean pkwy"),
    ]
    bronze = bronze_311(records)
    assert set(nodes.NYC311_ENRICHED_IN_PLACE) <= set(nodes.nyc311_base_columns())
    base = materialize(spark, nodes.clean_311_base(bronze, params), tmp_path / "base")
    assert base.columns == nodes.nyc311_base_columns()
    passed, quarantine, records_a = nodes.check_311_quality(base, params, run_context)
    expected_final = _rows(
        nodes.finalize_311(nodes.enrich_311(passed, params, run_context), run_context)
    )

    # persisted as the catalog does it: the dataset adds the row identity as it writes
    prepared = materialize(
        spark,
        with_row_id(
            with_row_hash(
                nodes.prepare_311_increment(bronze, params, run_context),
                exclude=("_run_as_of", "_silver_updated_at"),
            )
        ),
        tmp_path / "prepared",
    )
    passed_b, quarantine_b, records_b = nodes.check_311_increment(prepared, params, run_context)
    # the received values are kept for the quarantine only: null on the rows that pass
    received = [f"{nodes.TYPED_PREFIX}{c}" for c in nodes.NYC311_ENRICHED_IN_PLACE]
    by_key = {r["unique_key"]: r for r in prepared.collect() if r["unique_key"] in (1, 2, 3)}
    assert sorted(by_key) == [1, 2, 3]
    assert all(by_key[k][c] is None for k in by_key for c in [*received, "source_unique_key"])
    finalized = nodes.finalize_311(passed_b, run_context)
    # the row identity rides along to the upsert (which drops it), after the contract columns
    assert finalized.columns == [*nodes.NYC311_SILVER_COLUMNS, *ROW_IDENTITY_COLUMNS]
    final = _rows(finalized.drop(*ROW_IDENTITY_COLUMNS))

    assert final == expected_final and sorted(final) == [1, 2, 3]
    assert records_b == records_a
    assert quarantine_b.columns == quarantine.columns
    by_source = {r["source_unique_key"]: r.asDict() for r in quarantine_b.collect()}
    assert by_source == {r["source_unique_key"]: r.asDict() for r in quarantine.collect()}
    assert sorted(by_source) == ["4", "not-a-key"]
    # as received: not standardized, not normalized
    assert by_source["not-a-key"]["status"] == "closed"
    assert by_source["not-a-key"]["incident_address"] == "1 main st."
    assert by_source["4"]["street_name"] == "ocean pkwy" and by_source["4"]["borough"] is None


def test_the_content_hash_does_not_depend_on_the_run(spark, bronze_311, silver_params, tmp_path):
    """Two versions of a request with the same sequence are told apart by the content hash that
    the catalog's increment adds as it writes; a hash over the run's as-of time or stamp would
    let a replay keep the other one. Checked through the real catalog entry, whose first-load
    layout hashes only the rows that can be ranked (both versions here)."""
    from datetime import UTC, datetime

    from silver_fixtures import load_config

    from nyc_lakehouse.datasets import DeltaTableDataset

    entry = dict(load_config("catalog")["silver.nyc311_increment"])
    entry.pop("type")
    params = silver_params["nyc311"]
    bronze = bronze_311(
        [good_request(1, descriptor="a"), good_request(1, descriptor="b"), good_request(2)]
    )
    hashes = []
    for day in (1, 2):
        at = datetime(2024, 6, day, 12, tzinfo=UTC)
        run = {"run_id": f"silver-{day}", "started_at": at, "as_of": at}
        increment = DeltaTableDataset(**{**entry, "root": str(tmp_path / f"run{day}")})
        increment.save(nodes.prepare_311_increment(bronze, params, run))
        rows = increment.load().select("unique_key", "descriptor", "_row_hash").collect()
        by_key = sorted((r["unique_key"], r["descriptor"], r["_row_hash"]) for r in rows)
        hashes.append(by_key)
    assert hashes[0] == hashes[1]
    (_, _, first), (_, _, second), (_, _, alone) = hashes[0]
    assert first is not None and second is not None and first != second
    assert alone is None  # a key seen once is never ranked: not hashed on a first load
