"""SLA breach flags exactly at their targets and one unit over (real Sail engine).

A breach means *over* the target: a request resolved in exactly its target hours, or a 911 week
picked up in exactly the target seconds, met the service level. The shared fixtures never sit on
a target, so a ``>=`` in place of ``>`` would pass them; these rows sit on it and one unit past.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.testing import silver_311_frame, silver_911_frame

# 2021-05-03 09:00 New York: no DST change within 30 days on either side.
CREATED = datetime(2021, 5, 3, 9)


def _fact_311(spark, gold_params, resolved_after: dict[int, timedelta], complaint_type: str):
    silver = silver_311_frame(
        spark,
        [
            {
                "unique_key": key,
                "created_date": CREATED,
                "closed_date": CREATED + delay,
                "complaint_type": complaint_type,
            }
            for key, delay in resolved_after.items()
        ],
    )
    fact = nodes.build_fact_311(
        silver, gold_params["sla"], gold_params["response_time_outlier_hours"]
    )
    return {row["unique_key"]: row.asDict() for row in fact.collect()}


def test_311_resolved_exactly_at_the_sla_target_is_not_a_breach(spark, gold_params):
    # Noise - Residential has a 24-hour target in conf/base/parameters_gold.yml.
    assert gold_params["sla"]["targets_hours"]["Noise - Residential"] == 24
    rows = _fact_311(
        spark,
        gold_params,
        {
            1: timedelta(hours=24) - timedelta(seconds=1),
            2: timedelta(hours=24),
            3: timedelta(hours=24, seconds=1),
        },
        "Noise - Residential",
    )
    assert rows[2]["response_time_hours"] == 24.0 and rows[2]["sla_target_hours"] == 24.0
    assert rows[1]["is_sla_breached"] is False
    assert rows[2]["is_sla_breached"] is False  # exactly on target: met
    assert rows[3]["is_sla_breached"] is True  # one second over: breached


def test_311_default_target_boundary_and_the_breach_share(spark, gold_params):
    # An unlisted complaint type takes the 168-hour default; the aggregate counts one breach
    # of the two eligible rows (the on-target row is not one).
    assert gold_params["sla"]["default_target_hours"] == 168
    rows = _fact_311(
        spark,
        gold_params,
        {1: timedelta(hours=168), 2: timedelta(hours=169)},
        "Graffiti",
    )
    assert (rows[1]["sla_target_hours"], rows[1]["is_sla_breached"]) == (168.0, False)
    assert (rows[2]["sla_target_hours"], rows[2]["is_sla_breached"]) == (168.0, True)


def _fact_911(spark, gold_params, pickups: dict[str, float]):
    silver = silver_911_frame(
        spark,
        [
            {
                "week_start_date": date(2021, 5, 3),
                "agency": "NYPD",
                "incident_type": name,
                "incident_count": 10,
                "call_to_first_pickup_seconds": seconds,
            }
            for name, seconds in pickups.items()
        ],
    )
    return nodes.build_fact_911_weekly(silver, gold_params["nyc911"])


def test_911_pickup_exactly_at_the_target_is_not_a_breach(spark, gold_params):
    target = float(gold_params["nyc911"]["pickup_target_seconds"])
    assert target == 5.0
    fact = _fact_911(
        spark,
        gold_params,
        {"under": target - 1, "at": target, "one over": target + 1, "just over": target + 0.01},
    )
    rows = {row["incident_type"]: row.asDict() for row in fact.collect()}
    assert rows["at"]["pickup_target_seconds"] == target
    assert rows["under"]["is_sla_breached"] is False
    assert rows["at"]["is_sla_breached"] is False  # exactly on target: met
    assert rows["one over"]["is_sla_breached"] is True
    assert rows["just over"]["is_sla_breached"] is True
    # The monthly share counts the two breaching rows' incidents, not the on-target row's.
    (month,) = nodes.build_agg_911_monthly_agency(fact).collect()
    assert month["sla_breach_incidents"] == 20
    assert month["sla_breach_rate_pct"] == 50.0


def test_911_plausibility_range_is_inclusive_at_both_ends(spark, gold_params):
    low, high = (float(v) for v in gold_params["nyc911"]["plausible_pickup_seconds"])
    assert (low, high) == (0.0, 120.0)
    fact = _fact_911(
        spark,
        gold_params,
        {"below": low - 1, "low": low, "high": high, "above": high + 1},
    )
    rows = {row["incident_type"]: row.asDict() for row in fact.collect()}
    assert rows["low"]["is_pickup_plausible"] is True
    assert rows["low"]["is_sla_breached"] is False
    assert rows["high"]["is_pickup_plausible"] is True
    assert rows["high"]["is_sla_breached"] is True
    for name in ("below", "above"):
        assert rows[name]["is_pickup_plausible"] is False and rows[name]["is_sla_breached"] is None
