"""Analytics nodes on hand-written fixtures, checked against independent Python arithmetic."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from nyc_lakehouse.pipelines.analytics import nodes
from nyc_lakehouse.pipelines.gold.tables import columns_of
from nyc_lakehouse.pipelines.gold.testing import SILVER_311_RECORDS

PARAMS = {
    "covid_baseline_year": 2019,
    "holiday_window_weeks": 3,
    "seasonal_all_label": "All",
    "hotspot": {"threshold": 1.5, "high": 2.0, "medium": 1.5, "low": 1.2},
}


def _request(
    key: int, day: date, complaint: str = "Noise - Residential", borough: str = "BROOKLYN"
):
    return {
        "unique_key": key,
        "created_date": datetime(day.year, day.month, day.day, 12),
        "complaint_type": complaint,
        "borough": borough,
        "incident_zip": "11201" if borough == "BROOKLYN" else "10025",
    }


def test_seasonal_trends_index_and_peak(gold_from):
    gold = gold_from(SILVER_311_RECORDS)
    table = nodes.build_seasonal_trends(gold["agg_daily_type_borough"], PARAMS)
    assert table.columns == columns_of("seasonal_trends")
    rows = {(r["complaint_type"], r["month_of_year"]): r for r in table.collect()}
    # covered months: April, July, December (one year each); noise only in July (2 requests)
    noise_july = rows[("Noise - Residential", 7)]
    assert noise_july["request_count"] == 2 and noise_july["years_observed"] == 1
    assert noise_july["seasonal_index"] == pytest.approx(3.0)
    assert noise_july["is_peak_month"] and noise_july["month_name"] == "July"
    assert rows[("Noise - Residential", 4)]["request_count"] == 0
    assert rows[("All", 7)]["seasonal_index"] == pytest.approx(3 / (7 / 3), abs=1e-4)
    assert {m for (t, m) in rows if t == "All"} == {4, 7, 12}


def _expected_covid(records, peak_start=date(2020, 3, 16), peak_end=date(2021, 6, 30)):
    """Independent computation of the (ALL, ALL) rows."""
    days_by_request = [r["created_date"].date() for r in records]
    first, last = min(days_by_request), max(days_by_request)
    period = lambda d: "pre" if d < peak_start else ("peak" if d <= peak_end else "post")  # noqa: E731
    all_days = [first + timedelta(n) for n in range((last - first).days + 1)]
    baseline_days = {}
    for d in all_days:
        if d.year == 2019:
            baseline_days[d.month] = baseline_days.get(d.month, 0) + 1
    baseline_counts = {}
    for d in days_by_request:
        if d.year == 2019:
            baseline_counts[d.month] = baseline_counts.get(d.month, 0) + 1
    rate = {m: baseline_counts.get(m, 0) / n for m, n in baseline_days.items()}
    out = {}
    for p in ("pre", "peak", "post"):
        days = [d for d in all_days if period(d) == p]
        if not days:
            continue
        count = sum(1 for d in days_by_request if period(d) == p)
        covered = [d for d in days if d.month in rate]
        baseline = sum(rate[d.month] for d in covered) / len(covered) if covered else None
        out[p] = (len(days), count, count / len(days), baseline)
    return out


def test_covid_impact_against_same_month_baseline(gold_from):
    records = [
        _request(1, date(2019, 3, 1)),
        _request(2, date(2019, 3, 1)),
        _request(3, date(2019, 4, 10), "Heat/Hot Water", "MANHATTAN"),
        _request(4, date(2020, 3, 20)),
        _request(5, date(2020, 5, 5)),
        _request(6, date(2021, 7, 1), "Heat/Hot Water", "MANHATTAN"),
    ]
    gold = gold_from(records)
    table = nodes.build_covid_impact_analysis(
        gold["agg_daily_type_borough"], gold["dim_date"], PARAMS
    )
    assert table.columns == columns_of("covid_impact_analysis")
    rows = {(r["complaint_type"], r["borough"], r["covid_period"]): r for r in table.collect()}
    # 2 types x 2 boroughs seen as pairs (2) + type rollups (2) + borough rollups (2) + ALL = 7 groups
    assert len(rows) == 7 * 3
    for period, (days, count, avg, baseline) in _expected_covid(records).items():
        row = rows[("ALL", "ALL", period)]
        assert (row["days_observed"], row["request_count"]) == (days, count), period
        assert row["avg_daily_requests"] == pytest.approx(avg, abs=1e-4)
        assert row["baseline_avg_daily_requests"] == pytest.approx(baseline, abs=1e-4)
        expected_pct = None if not baseline else round((avg - baseline) / baseline * 100, 2)
        assert row["pct_change_vs_baseline"] == pytest.approx(expected_pct, abs=0.02)
    pre, peak = rows[("ALL", "ALL", "pre")], rows[("ALL", "ALL", "peak")]
    assert pre["period_start"] == date(2019, 3, 1) and pre["period_end"] == date(2020, 3, 15)
    assert peak["period_start"] == date(2020, 3, 16) and peak["period_end"] == date(2021, 6, 30)
    assert peak["pct_change_vs_pre"] == pytest.approx(
        round((2 / 472 - 3 / 381) / (3 / 381) * 100, 2), abs=0.02
    )
    # a group with no request in a period still has its row, with a zero count
    heat_peak = rows[("Heat/Hot Water", "MANHATTAN", "peak")]
    assert heat_peak["request_count"] == 0 and heat_peak["pct_change_vs_pre"] == -100.0


def test_covid_impact_without_baseline_year_is_null_not_zero(gold_from):
    gold = gold_from([_request(1, date(2022, 1, 3)), _request(2, date(2022, 1, 4))])
    table = nodes.build_covid_impact_analysis(
        gold["agg_daily_type_borough"], gold["dim_date"], PARAMS
    )
    rows = table.collect()
    assert {r["covid_period"] for r in rows} == {"post"}
    assert all(r["baseline_avg_daily_requests"] is None for r in rows)
    assert all(r["pct_change_vs_baseline"] is None and r["pct_change_vs_pre"] is None for r in rows)


def test_holiday_pattern_compares_same_weekday_non_holidays(gold_from):
    gold = gold_from(SILVER_311_RECORDS)
    table = nodes.build_holiday_pattern_analysis(
        gold["agg_daily_summary"], gold["dim_date"], PARAMS
    )
    assert table.columns == columns_of("holiday_pattern_analysis")
    rows = {r["holiday_date"]: r for r in table.collect()}
    july4 = rows[date(2019, 7, 4)]
    assert july4["holiday_name"] == "Independence Day" and july4["day_of_week"] == 4
    # data starts 2019-07-03: comparable Thursdays are 07-11 (1 request), 07-18 and 07-25 (0)
    assert (july4["request_count"], july4["comparable_days"]) == (1, 3)
    assert july4["comparable_avg_requests"] == pytest.approx(0.33, abs=0.01)
    assert july4["pct_difference"] == pytest.approx(200.0)
    # every holiday inside the data range, and only those
    assert min(rows) >= date(2019, 7, 3) and max(rows) <= date(2021, 12, 27)
    assert date(2020, 11, 26) in rows  # Thanksgiving 2020
    assert rows[date(2021, 12, 24)]["request_count"] == 1


def test_borough_hotspots_grade_days_against_the_borough_average(gold_from):
    # Brooklyn over 10 days, 20 requests: 2.0 a day on average. Day 3 (5) is 2.5x: HIGH;
    # day 6 (3) is 1.5x: LOW, not a hotspot (not above 1.5); day 10 (6) is 3.0x: HIGH; the
    # 1-request days are below average and the empty day 8 counts in the average.
    # Manhattan: 2 requests on one day, exactly its average: no row.
    start = date(2021, 3, 1)
    per_day = [1, 1, 5, 1, 1, 3, 1, 0, 1, 6]
    records, key = [], 0
    for offset, count in enumerate(per_day):
        for _ in range(count):
            key += 1
            records.append(_request(key, start + timedelta(days=offset)))
    for _ in range(2):
        key += 1
        records.append(_request(key, start, borough="MANHATTAN"))
    gold = gold_from(records)
    table = nodes.build_borough_hotspots(gold["agg_daily_type_borough"], PARAMS)
    assert table.columns == columns_of("borough_hotspots")
    rows = {(r["borough"], r["date"]): r for r in table.collect()}
    assert set(rows) == {
        ("BROOKLYN", start + timedelta(days=2)),
        ("BROOKLYN", start + timedelta(days=5)),
        ("BROOKLYN", start + timedelta(days=9)),
    }
    day3 = rows[("BROOKLYN", start + timedelta(days=2))]
    assert day3["borough_avg_daily_requests"] == 2.0
    assert (day3["request_count"], day3["volume_ratio"], day3["severity"]) == (5, 2.5, "HIGH")
    assert day3["is_hotspot"] is True
    day6 = rows[("BROOKLYN", start + timedelta(days=5))]
    assert (day6["volume_ratio"], day6["severity"], day6["is_hotspot"]) == (1.5, "LOW", False)


def test_borough_hotspot_thresholds_must_be_ordered(gold_from):
    gold = gold_from([_request(1, date(2021, 3, 1))])
    params = {**PARAMS, "hotspot": {"threshold": 1.5, "high": 1.2, "medium": 1.5, "low": 1.2}}
    with pytest.raises(ValueError, match="high >= medium >= low"):
        nodes.build_borough_hotspots(gold["agg_daily_type_borough"], params)
