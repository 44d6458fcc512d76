"""The 911 KPI overview and monthly table on rows the shared fixture lacks (real Sail engine).

Fixtures are per test (not per module): mutmut maps each function to the tests that ran it, and
work done in a shared fixture would be credited to the first test only.

An agency that sorts before "ALL", one with no plausible pickup at all, one whose counts are all
missing, per-agency targets and an average that needs rounding: each pins a part of the KPI
expressions that the broader tests cannot tell apart from a wrong one.
"""

from __future__ import annotations

from datetime import date

import pytest

from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.testing import silver_911_frame

WEEK_1, WEEK_2 = date(2021, 5, 3), date(2021, 5, 10)


def _row(week, agency, incident_type, count, pickup, **durations):
    return {
        "week_start_date": week,
        "agency": agency,
        "incident_type": incident_type,
        "incident_count": count,
        "call_to_first_pickup_seconds": pickup,
        **durations,
    }


def _durations(seconds: float) -> dict:
    return {
        "average_dispatch_seconds": seconds,
        "call_to_agency_dispatch_seconds": 2 * seconds,
        "average_travel_seconds": 3 * seconds,
    }


ROWS = [
    # ACS sorts before "ALL": the overview must still list ALL first
    _row(WEEK_1, "ACS", "A", 30, 4.0),
    _row(WEEK_2, "ACS", "A", 10, 2.0),
    _row(WEEK_2, "ACS", "B", 20, 4.0),
    _row(WEEK_2, "ACS", "C", 5, 500.0),  # implausible: left out of the latest average
    # EMS: every pickup implausible, so it has no latest plausible week
    _row(WEEK_1, "EMS", "A", 7, 900.0),
    # FDNY: counts unknown
    _row(WEEK_1, "FDNY", "A", None, 3.0),
    # DOT: a zero average is a real value; a negative one is a source defect
    _row(WEEK_1, "DOT", "A", 10, 2.0, **_durations(0.0)),
    _row(WEEK_1, "DOT", "B", 10, 2.0, **_durations(10.0)),
    _row(WEEK_1, "DOT", "C", 10, 2.0, **_durations(-5.0)),
]


@pytest.fixture
def params(gold_params):
    # DOT's target is above the default: ALL must still show the default, not the highest
    return {**gold_params["nyc911"], "pickup_target_seconds_by_agency": {"ACS": 3, "DOT": 8}}


@pytest.fixture
def fact(spark, params):
    return nodes.build_fact_911_weekly(silver_911_frame(spark, ROWS), params)


@pytest.fixture
def overview(fact, params):
    return nodes.build_kpi_911_overview(fact, params).collect()


def test_all_comes_first_then_agencies_alphabetically(overview):
    assert [r["agency_scope"] for r in overview] == ["ALL", "ACS", "DOT", "EMS", "FDNY"]


def test_the_latest_average_is_incident_weighted_over_plausible_rows_only(overview):
    acs = {r["agency_scope"]: r for r in overview}["ACS"]
    assert acs["latest_week"] == WEEK_2
    # (2 * 10 + 4 * 20) / 30 = 3.33; the 500 s row of the same week is not in it
    assert acs["latest_avg_pickup_seconds"] == 3.33
    assert acs["total_incidents"] == 65


def test_an_agency_without_a_plausible_week_is_kept_with_no_latest_figures(overview):
    ems = {r["agency_scope"]: r for r in overview}["EMS"]
    assert ems["total_incidents"] == 7
    assert ems["latest_week"] is None and ems["latest_avg_pickup_seconds"] is None
    assert ems["sla_breach_pct"] is None  # nothing eligible


def test_unknown_counts_total_zero_incidents(overview):
    fdny = {r["agency_scope"]: r for r in overview}["FDNY"]
    assert fdny["total_incidents"] == 0
    assert fdny["data_start_week"] == WEEK_1 and fdny["data_end_week"] == WEEK_1
    dot = {r["agency_scope"]: r for r in overview}["DOT"]
    assert dot["sla_breach_pct"] == 0.0  # plausible weeks without a breach


def test_targets_per_agency_and_the_default_for_all(overview):
    targets = {r["agency_scope"]: r["pickup_target_seconds"] for r in overview}
    assert targets == {"ALL": 5.0, "ACS": 3.0, "DOT": 8.0, "EMS": 5.0, "FDNY": 5.0}


def test_breach_share_uses_each_agency_target(overview):
    scopes = {r["agency_scope"]: r for r in overview}
    # ACS (target 3 s): 30 incidents at 4 s and 20 at 4 s breach, 10 at 2 s do not: 50 of 60
    assert scopes["ACS"]["sla_breach_pct"] == pytest.approx(83.33)
    # ALL: ACS's 50 breaching of 90 plausible (ACS 60, DOT 30); FDNY's row has no count
    assert scopes["ALL"]["sla_breach_pct"] == pytest.approx(55.56)


def test_monthly_averages_are_rounded_to_two_decimals(fact):
    months = {r["agency"]: r for r in nodes.build_agg_911_monthly_agency(fact).collect()}
    acs = months["ACS"]
    # (4 * 30 + 2 * 10 + 4 * 20) / 60 = 3.666... -> 3.67
    assert acs["avg_call_to_first_pickup_seconds"] == 3.67
    assert acs["incidents"] == 65 and acs["weeks"] == 2
    assert acs["sla_breach_incidents"] == 50
    assert months["FDNY"]["incidents"] == 0
    assert months["EMS"]["avg_call_to_first_pickup_seconds"] is None
    # zero counts, the negative defect does not: (0 * 10 + 10 * 10) / 20 and so on
    dot = months["DOT"]
    assert dot["avg_dispatch_seconds"] == 5.0
    assert dot["avg_call_to_agency_dispatch_seconds"] == 10.0
    assert dot["avg_travel_seconds"] == 15.0
    # plausible weeks without a breach: 0 incidents and 0%, not unknown
    assert (dot["sla_breach_incidents"], dot["sla_breach_rate_pct"]) == (0, 0.0)
    assert dot["month_start"] == date(2021, 5, 1) and dot["month"] == "2021-05"
