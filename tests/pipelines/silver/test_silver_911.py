"""911 End-to-End silver: dates, agencies, units, thousands separators, newest revision."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from silver_fixtures import good_911_row, materialize

from nyc_lakehouse.pipelines.silver import nodes


def test_911_base_parses_units_agencies_and_separators(spark, bronze_911, silver_params):
    bronze = bronze_911(
        [
            good_911_row(_socrata_id="a"),
            good_911_row(
                _socrata_id="b",
                week_start_date="2019-06-17T00:00:00.000",
                agency=" nypd (non cip) ",
                of_incidents_calculated="8,881",
                call_to_agency_arrival="1,234.5",
            ),
            good_911_row(_socrata_id="c", agency="Fdny", week_start_date="2019-06-10"),
        ]
    )
    rows = {
        r["_socrata_id"]: r.asDict()
        for r in nodes.clean_911_base(bronze, silver_params["nyc911"]).collect()
    }
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert a["week_start_date"] == date(2019, 6, 24)
    assert a["agency"] == "EMS" and a["incident_type"] == "1. Life Threating Med Emergencies"
    assert a["incident_count"] == 7801
    # "Call to" and "Median" columns are seconds; "Average" columns are minutes.
    assert a["call_to_first_pickup_seconds"] == pytest.approx(4.51)
    assert a["median_travel_seconds"] == pytest.approx(366.5)
    assert a["average_travel_seconds"] == pytest.approx(6.98 * 60)
    assert a["average_pickup_seconds"] == pytest.approx(4.8)
    assert a["average_fd_pickup_seconds"] is None  # empty in the source
    assert a["parse_errors"] == []
    assert a["source_updated_at"].timestamp() == datetime(2019, 7, 1, 10, tzinfo=UTC).timestamp()
    assert b["week_start_date"] == date(2019, 6, 17)
    assert b["agency"] == "NYPD (Non-CIP)"
    assert b["incident_count"] == 8881 and b["call_to_agency_arrival_seconds"] == pytest.approx(
        1234.5
    )
    assert c["agency"] == "FDNY" and c["week_start_date"] == date(2019, 6, 10)


def test_911_final_keeps_newest_revision(spark, bronze_911, silver_params, run_context, tmp_path):
    params = silver_params["nyc911"]
    early = datetime(2019, 7, 2, tzinfo=UTC)
    late = datetime(2019, 8, 2, tzinfo=UTC)
    first = bronze_911(
        [
            good_911_row(of_incidents_calculated="100", _socrata_updated_at="2019-07-01T00:00:00Z"),
            good_911_row(
                agency="FDNY",
                of_incidents_calculated="5",
                _socrata_updated_at="2019-07-01T00:00:00Z",
            ),
        ],
        batch_id="b1",
        ingested_at=early,
    )
    second = bronze_911(
        [
            # newer :updated_at wins
            good_911_row(of_incidents_calculated="120", _socrata_updated_at="2019-08-01T00:00:00Z"),
            # same :updated_at, later ingestion wins
            good_911_row(
                agency="FDNY",
                of_incidents_calculated="6",
                _socrata_updated_at="2019-07-01T00:00:00Z",
            ),
        ],
        batch_id="b2",
        ingested_at=late,
    )
    base = materialize(
        spark, nodes.clean_911_base(first.unionByName(second), params), tmp_path / "b"
    )
    passed, quarantine, _ = nodes.check_911_quality(base, params, run_context)
    final = {r["agency"]: r.asDict() for r in nodes.finalize_911(passed, run_context).collect()}
    assert quarantine.count() == 0
    assert final["EMS"]["incident_count"] == 120 and final["FDNY"]["incident_count"] == 6
    assert {r["_batch_id"] for r in final.values()} == {"b2"}


def test_a_month_of_911_with_too_many_bad_rows_fails_with_the_default_threshold(
    spark, bronze_911, silver_params, run_context, tmp_path
):
    """About 80 rows a month: judged by share (5%); a weekly increment of 18 rows is not."""
    from nyc_lakehouse.quality import DataQualityError

    def month(bad: int, rows: int):
        records = [
            good_911_row(_socrata_id=f"r{i}", agency="XYZ" if i < bad else "EMS")
            for i in range(rows)
        ]
        return materialize(
            spark,
            nodes.clean_911_base(bronze_911(records), silver_params["nyc911"]),
            tmp_path / f"base_{bad}_{rows}",
        )

    params = silver_params["nyc911"]
    with pytest.raises(DataQualityError, match=r"5 of 80 rows.*'known_agency': 5"):
        nodes.check_911_quality(month(bad=5, rows=80), params, run_context)
    passed, quarantine, _ = nodes.check_911_quality(month(bad=3, rows=80), params, run_context)
    assert (passed.count(), quarantine.count()) == (77, 3)  # 3.75%: under the threshold
    passed, quarantine, _ = nodes.check_911_quality(month(bad=2, rows=18), params, run_context)
    assert (passed.count(), quarantine.count()) == (16, 2)  # a weekly increment: not judged


def test_911_rows_without_an_incident_type_are_kept_as_unspecified(
    spark, bronze_911, silver_params, run_context, tmp_path, caplog
):
    """The real export has weeks with an empty Final Incident Type: their incidents count."""
    types = [None, "", "   ", "1. Life Threating Med Emergencies", "2. Structural Fires"]
    records = [
        good_911_row(
            _socrata_id=f"r{i}",
            final_incident_type=kind,
            of_incidents_calculated=str(100 + i),
            week_start_date=(date(2019, 6, 3) + timedelta(weeks=i)).isoformat(),
        )
        for i, kind in enumerate(types)
    ]
    params = silver_params["nyc911"]
    base = materialize(spark, nodes.clean_911_base(bronze_911(records), params), tmp_path / "b")
    with caplog.at_level("WARNING", logger=nodes.__name__):
        passed, quarantine, dq = nodes.check_911_quality(base, params, run_context)
    final = nodes.finalize_911(passed, run_context).collect()
    assert quarantine.count() == 0
    assert sorted(r["incident_type"] for r in final) == [
        "1. Life Threating Med Emergencies",
        "2. Structural Fires",
        "Unspecified",
        "Unspecified",
        "Unspecified",
    ]
    assert sum(r["incident_count"] for r in final) == sum(100 + i for i in range(len(types)))
    (rule,) = [r for r in dq if r["rule_name"] == "incident_type_specified"]
    assert (rule["action"], rule["failed_count"]) == ("warn", 3)
    assert "3 row(s) without a Final Incident Type kept as 'Unspecified'" in caplog.text
