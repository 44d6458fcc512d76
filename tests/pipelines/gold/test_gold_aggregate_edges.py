"""Gold aggregates and facts at their edges: two-decimal rounding of every share and average,
partial dimensions, month starts, SLA target validation and the 911 fact's keys (real Sail).

Frames are built inside each test: mutmut credits a function to the test during which it ran.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.testing import silver_311_frame, silver_911_frame

CREATED = datetime(2021, 5, 3, 9)


def _fact(spark, gold_params, hours_by_day: list[tuple[int, float | None]]):
    """One request per entry, created ``day`` days after CREATED, resolved after ``hours``."""
    records = []
    for key, (day, hours) in enumerate(hours_by_day, start=1):
        created = CREATED + timedelta(days=day)
        records.append(
            {
                "unique_key": key,
                "created_date": created,
                "closed_date": None if hours is None else created + timedelta(hours=hours),
                "complaint_type": "Noise - Residential",  # 24-hour target
                "agency": "NYPD" if key % 2 else "DOT",
            }
        )
    silver = silver_311_frame(spark, records)
    return silver, nodes.build_fact_311(
        silver, gold_params["sla"], gold_params["response_time_outlier_hours"]
    )


# hours: 1, 2, 30 (a breach of the 24-hour target), and one open request
HOURS = [(0, 1.0), (0, 2.0), (1, 30.0), (2, None)]


def test_monthly_shares_and_averages_are_rounded_to_two_decimals(spark, gold_params):
    _, fact = _fact(spark, gold_params, HOURS + [(2, 2.0), (2, 2.0), (2, 2.0)])
    (month,) = nodes.build_agg_monthly_summary(fact).collect()
    # 7 requests on 3 days, 6 closed, 1 breach of 6 with a resolution time
    assert (month["request_count"], month["closed_count"], month["open_count"]) == (7, 6, 1)
    assert month["closed_pct"] == round(6 * 100 / 7, 2) == 85.71
    assert month["sla_breach_pct"] == round(100 / 6, 2) == 16.67
    assert month["avg_daily_requests"] == round(7 / 3, 2) == 2.33
    hours = sorted([1.0, 2.0, 30.0, 2.0, 2.0, 2.0])
    assert month["avg_response_hours"] == round(sum(hours) / 6, 2) == 6.5
    assert month["median_response_hours"] == 2.0
    # p90 by linear interpolation: position 0.9 * 5 = 4.5, between 2 and 30
    assert month["p90_response_hours"] == round(2 + 0.5 * 28, 2) == 16.0
    assert month["month_start"] == date(2021, 5, 1)


def test_response_averages_keep_two_decimals(spark, gold_params):
    _, fact = _fact(spark, gold_params, [(0, 1.0), (0, 2.125), (0, 3.3333)])
    (day,) = [
        r
        for r in nodes.build_agg_daily_summary(
            fact, nodes.build_dim_date(fact_to_silver(spark), gold_params["calendar"])
        ).collect()
        if r["request_count"]
    ]
    assert day["avg_response_hours"] == round((1 + 2.125 + 3.3333) / 3, 2) == 2.15
    assert day["median_response_hours"] == 2.13  # 2.125 h, rounded half up
    assert day["p90_response_hours"] == round(2.125 + 0.8 * (3.3333 - 2.125), 2) == 3.09
    assert day["closed_pct"] == 100.0 and day["sla_breach_pct"] == 0.0


def fact_to_silver(spark):
    return silver_311_frame(spark, [{"unique_key": 1, "created_date": CREATED}])


def test_metrics_by_a_dimension_keep_keys_the_dimension_lacks(spark, gold_params):
    silver, fact = _fact(spark, gold_params, HOURS)
    only_nypd = nodes.build_dim_agency(silver.where("agency = 'NYPD'"))
    rows = {r["agency_key"]: r for r in nodes.build_agg_agency_metrics(fact, only_nypd).collect()}
    assert len(rows) == 2  # DOT's requests are still counted, with no agency attributes
    names = sorted((r["agency"] or "") for r in rows.values())
    assert names == ["", "NYPD"]


def test_sla_targets_must_be_positive_but_may_be_fractional():
    target = nodes.sla_target_hours({"default_target_hours": 0.5, "targets_hours": {"a": 0.25}})
    assert target is not None
    with pytest.raises(ValueError, match="positive"):
        nodes.sla_target_hours({"default_target_hours": 0})
    with pytest.raises(ValueError, match="positive"):
        nodes.sla_target_hours({"default_target_hours": 24, "targets_hours": {"a": 0}})


def test_911_fact_keys_plausibility_of_missing_pickups_and_contract_errors(spark, gold_params):
    week = date(2021, 5, 3)
    rows = [
        {"week_start_date": week, "agency": agency, "incident_type": "A", "incident_count": 5,
         "call_to_first_pickup_seconds": pickup}
        for agency, pickup in (("EMS", 4.0), ("NYPD", None))
    ]  # fmt: skip
    fact = nodes.build_fact_911_weekly(silver_911_frame(spark, rows), gold_params["nyc911"])
    got = {r["agency"]: r for r in fact.collect()}
    assert got["EMS"]["fact_911_key"] != got["NYPD"]["fact_911_key"]  # the agency is in the key
    assert got["NYPD"]["is_pickup_plausible"] is False and got["NYPD"]["is_sla_breached"] is None
    broken = silver_911_frame(spark, rows).drop("incident_count")
    with pytest.raises(ValueError, match=r"^silver\.nyc911_e2e_weekly is missing column\(s\) "):
        nodes.build_fact_911_weekly(broken, gold_params["nyc911"])
