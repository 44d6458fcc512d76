"""Gold node tests on small hand-written silver fixtures (real Sail engine)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.tables import columns_of


@pytest.fixture
def star(silver_311, gold_params):
    dims = {
        "dim_date": nodes.build_dim_date(silver_311, gold_params["calendar"]),
        "dim_agency": nodes.build_dim_agency(silver_311),
        "dim_complaint_type": nodes.build_dim_complaint_type(silver_311, gold_params["sla"]),
        "dim_location": nodes.build_dim_location(silver_311),
    }
    dims["fact_311"] = nodes.build_fact_311(
        silver_311, gold_params["sla"], gold_params["response_time_outlier_hours"]
    )
    return dims


def _rows(df, key):
    return {row[key]: row.asDict() for row in df.collect()}


def test_surrogate_keys_are_stable_and_null_aware(spark):
    df = spark.createDataFrame([("a", None), (None, "a"), ("a", None)], "x string, y string")
    keys = [r[0] for r in df.select(nodes.surrogate_key("x", "y")).collect()]
    assert keys[0] == keys[2]
    assert keys[0] != keys[1]
    again = [r[0] for r in df.select(nodes.surrogate_key("x", "y")).collect()]
    assert keys == again


def test_dim_date_covers_whole_years_with_holidays_and_covid_periods(star):
    dim = star["dim_date"]
    assert dim.columns == columns_of("dim_date")
    rows = _rows(dim, "date")
    assert min(rows) == date(2019, 1, 1)
    # the outlier closed on 2024-01-01 is a valid closed date: the calendar reaches it
    assert max(rows) == date(2024, 12, 31)
    assert len(rows) == (date(2024, 12, 31) - date(2019, 1, 1)).days + 1
    july4 = rows[date(2019, 7, 4)]
    assert july4["is_holiday"] and july4["is_federal_holiday"]
    assert july4["holiday_name"] == "Independence Day"
    assert july4["day_of_week"] == 4 and july4["day_name"] == "Thursday"
    lincoln = rows[date(2020, 2, 12)]  # New York State holiday, not federal
    assert lincoln["is_holiday"] and not lincoln["is_federal_holiday"]
    assert not rows[date(2019, 7, 5)]["is_holiday"]
    assert rows[date(2020, 3, 15)]["covid_period"] == "pre"
    assert rows[date(2020, 3, 16)]["covid_period"] == "peak"
    assert rows[date(2021, 6, 30)]["covid_period"] == "peak"
    assert rows[date(2021, 7, 1)]["covid_period"] == "post"
    assert rows[date(2019, 7, 6)]["is_weekend"]
    assert rows[date(2019, 7, 4)]["week_start_date"] == date(2019, 7, 1)


def test_covid_period_boundaries_come_from_parameters():
    periods = {"peak_start": "2020-01-01", "peak_end": "2020-01-31"}
    assert nodes.covid_period_of(date(2019, 12, 31), periods) == "pre"
    assert nodes.covid_period_of(date(2020, 1, 31), periods) == "peak"
    assert nodes.covid_period_of(date(2020, 2, 1), periods) == "post"
    with pytest.raises(ValueError, match="after peak_end"):
        nodes.covid_period_of(
            date(2020, 1, 1), {"peak_start": "2021-01-01", "peak_end": "2020-01-01"}
        )


def test_dimensions_have_one_row_per_natural_key(star):
    agencies = _rows(star["dim_agency"], "agency")
    assert set(agencies) == {"NYPD", "HPD", "DOT", "UNSPECIFIED"}
    assert agencies["HPD"]["agency_name"].startswith("Department of Housing")
    types = _rows(star["dim_complaint_type"], "complaint_type")
    assert set(types) == {
        "Noise - Residential",
        "Heat/Hot Water",
        "Street Condition",
        "Unspecified",
    }
    assert types["Heat/Hot Water"]["complaint_category"] == "Housing"
    # per-type targets from parameters (case-insensitive), else the default
    assert types["Noise - Residential"]["sla_target_hours"] == 24
    assert types["Unspecified"]["sla_target_hours"] == 168
    locations = star["dim_location"].collect()
    assert len(locations) == 4
    brooklyn = next(r for r in locations if r["borough"] == "BROOKLYN")
    assert brooklyn["centroid_latitude"] == pytest.approx(40.695)
    unknown = next(r for r in locations if r["borough"] == "UNSPECIFIED")
    assert unknown["centroid_latitude"] is None and unknown["incident_zip"] is None


def test_fact_has_one_row_per_request_with_resolvable_keys(star, silver_311):
    fact = star["fact_311"]
    assert fact.columns == columns_of("fact_311")
    assert fact.count() == silver_311.count()
    for column, dim, key in [
        ("agency_key", "dim_agency", "agency_key"),
        ("complaint_type_key", "dim_complaint_type", "complaint_type_key"),
        ("location_key", "dim_location", "location_key"),
        ("created_date_key", "dim_date", "date_key"),
    ]:
        orphans = fact.join(star[dim], fact[column] == star[dim][key], "left_anti").count()
        assert orphans == 0, column
    rows = _rows(fact, "unique_key")
    assert rows[1]["resolution_bucket"] == "same_day" and rows[1]["is_sla_breached"] is False
    assert rows[2]["response_time_hours"] == 48 and rows[2]["is_sla_breached"] is True
    assert rows[3]["closed_date_key"] is None and rows[3]["is_sla_breached"] is None
    assert rows[4]["resolution_bucket"] == "within_30_days"
    # closed before created: no closed-date key, no response time, flag kept from silver
    assert rows[5]["closed_date_key"] is None and rows[5]["has_invalid_closed_date"] is True
    assert rows[6]["is_response_time_outlier"] is True
    assert rows[7]["is_response_time_outlier"] is False


def test_keys_are_identical_when_dimensions_are_rebuilt_from_other_data(
    star, silver_311, gold_params
):
    fewer = silver_311.where(F.col("unique_key") > 3)
    rebuilt = _rows(nodes.build_dim_agency(fewer), "agency")
    original = _rows(star["dim_agency"], "agency")
    for agency, row in rebuilt.items():
        assert row["agency_key"] == original[agency]["agency_key"]


def test_aggregates_count_and_percentiles(star):
    fact, dim_date = star["fact_311"], star["dim_date"]
    daily = nodes.build_agg_daily_summary(fact, dim_date)
    assert daily.columns == columns_of("agg_daily_summary")
    rows = _rows(daily, "date")
    assert min(rows) == date(2019, 7, 3) and max(rows) == date(2021, 12, 27)
    assert len(rows) == (date(2021, 12, 27) - date(2019, 7, 3)).days + 1
    assert rows[date(2019, 7, 5)]["request_count"] == 0  # zero-filled
    assert (
        rows[date(2019, 7, 4)]["is_holiday"] and rows[date(2019, 7, 4)]["sla_breach_pct"] == 100.0
    )

    monthly = _rows(nodes.build_agg_monthly_summary(fact), "created_month")
    july = monthly["2019-07"]
    assert (july["request_count"], july["closed_count"], july["open_count"]) == (3, 2, 1)
    assert july["active_days"] == 3 and july["avg_daily_requests"] == 1.0
    assert july["sla_breach_count"] == 1 and july["sla_breach_pct"] == 50.0
    assert july["median_response_hours"] == 27.0  # exact median of 6 h and 48 h
    assert july["p90_response_hours"] == pytest.approx(6 + 0.9 * 42, abs=0.01)

    agencies = nodes.build_agg_agency_metrics(fact, star["dim_agency"]).collect()
    (dot,) = [r for r in agencies if r["agency"] == "DOT"]  # both DOT requests in one month
    # the 2-year outlier is out of the percentiles but still an SLA breach
    assert dot["median_response_hours"] == 1.0 and dot["avg_response_hours"] == 1.0
    assert dot["sla_breach_count"] == 1 and dot["request_count"] == 2

    types = nodes.build_agg_complaint_type_metrics(fact, star["dim_complaint_type"])
    assert types.columns == columns_of("agg_complaint_type_metrics")
    assert types.count() == fact.select("created_month", "complaint_type_key").distinct().count()
    locations = nodes.build_agg_location_metrics(fact, star["dim_location"])
    assert locations.columns == columns_of("agg_location_metrics")
    assert sum(r["request_count"] for r in locations.collect()) == fact.count()


def test_missing_silver_column_is_a_clear_error(silver_311, gold_params):
    broken = silver_311.drop("response_time_hours")
    with pytest.raises(ValueError, match="missing column.*response_time_hours"):
        nodes.build_fact_311(broken, gold_params["sla"], 17520)


def test_dim_date_comes_from_whichever_source_has_data(silver_311, silver_911, gold_params):
    """Each source stands alone: a 911-only lakehouse gets its calendar from the 911 weeks."""
    calendar = gold_params["calendar"]
    no_311, no_911 = silver_311.limit(0), silver_911.limit(0)

    def days(frame):
        return sorted(r["date"] for r in frame.select("date").collect())

    weeks = sorted({r["week_start_date"] for r in silver_911.collect()})
    from_911 = days(nodes.build_dim_date(no_311, calendar, silver_911))
    last_day = weeks[-1] + timedelta(days=6)
    assert from_911[0] == date(weeks[0].year, 1, 1)
    assert from_911[-1] == date(last_day.year, 12, 31)
    assert len(from_911) == (from_911[-1] - from_911[0]).days + 1
    assert set(weeks) <= set(from_911)
    assert days(nodes.build_dim_date(silver_311, calendar, no_911)) == days(
        nodes.build_dim_date(silver_311, calendar)
    )
    configured = {**calendar, "start": "2015-03-01", "end": "2016-02-01"}
    assert len(days(nodes.build_dim_date(no_311, configured, no_911))) == 365 + 366
    empty = nodes.build_dim_date(no_311, calendar, no_911)
    assert empty.columns == columns_of("dim_date") and empty.count() == 0


def test_sla_targets_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        nodes.sla_target_hours({"default_target_hours": 0})


def test_911_fact_monthly_and_kpis(silver_911, gold_params):
    fact = nodes.build_fact_911_weekly(silver_911, gold_params["nyc911"])
    assert fact.columns == columns_of("fact_911_weekly")
    facts = fact.collect()
    assert len(facts) == 5
    implausible = next(r for r in facts if r["call_to_first_pickup_seconds"] == 500.0)
    assert implausible["is_pickup_plausible"] is False and implausible["is_sla_breached"] is None

    monthly = {
        (r["month"], r["agency"]): r for r in nodes.build_agg_911_monthly_agency(fact).collect()
    }
    ems_june = monthly[("2019-06", "EMS")]
    assert ems_june["incidents"] == 450  # SUM of incident_count, not 3 rows
    assert ems_june["weeks"] == 2
    assert ems_june["avg_call_to_first_pickup_seconds"] == pytest.approx(
        (400 + 2400 + 300) / 450, abs=0.01
    )
    # the negative source average is left out of the weighted mean
    assert ems_june["avg_dispatch_seconds"] == 90.0
    assert ems_june["avg_travel_seconds"] == pytest.approx((40000 + 180000) / 400, abs=0.01)
    assert ems_june["sla_breach_incidents"] == 350
    assert ems_june["sla_breach_rate_pct"] == pytest.approx(350 / 450 * 100, abs=0.01)
    nypd_july = monthly[("2019-07", "NYPD")]
    assert nypd_july["incidents"] == 10 and nypd_july["avg_call_to_first_pickup_seconds"] is None

    kpis = {
        r["agency_scope"]: r
        for r in nodes.build_kpi_911_overview(fact, gold_params["nyc911"]).collect()
    }
    assert set(kpis) == {"ALL", "EMS", "NYPD"}
    total = kpis["ALL"]
    assert total["total_incidents"] == 1460
    assert total["data_start_week"] == date(2019, 6, 17) and total["data_end_week"] == date(
        2019, 7, 1
    )
    assert total["latest_week"] == date(2019, 6, 24)
    assert total["latest_avg_pickup_seconds"] == pytest.approx((300 + 3000) / 1050, abs=0.01)
    assert total["sla_breach_pct"] == pytest.approx(350 / 1450 * 100, abs=0.01)
    assert kpis["EMS"]["latest_avg_pickup_seconds"] == 6.0


def test_911_per_agency_target(silver_911, gold_params):
    params = {**gold_params["nyc911"], "pickup_target_seconds_by_agency": {"EMS": 10}}
    fact = nodes.build_fact_911_weekly(silver_911, params)
    ems = [r for r in fact.collect() if r["agency"] == "EMS"]
    assert all(r["pickup_target_seconds"] == 10 and r["is_sla_breached"] is False for r in ems)


def test_optional_silver_quality_details_are_carried_or_typed_null(silver_311, gold_params):
    sla, outlier = gold_params["sla"], gold_params["response_time_outlier_hours"]
    absent = nodes.build_fact_311(silver_311, sla, outlier)
    assert absent.where("dq_warnings IS NOT NULL").count() == 0
    present = silver_311.withColumn("dq_warnings", F.array(F.lit("valid_zip"))).withColumn(
        "borough_recovered_from", F.lit("zip")
    )
    fact = nodes.build_fact_311(present, sla, outlier)
    assert fact.schema.simpleString() == absent.schema.simpleString()
    row = fact.first()
    assert row["dq_warnings"] == ["valid_zip"] and row["borough_recovered_from"] == "zip"


def test_dimension_attributes_are_deterministic_on_ties(spark, gold_params):
    from nyc_lakehouse.pipelines.gold.testing import silver_311_frame

    base = {"created_date": datetime(2021, 5, 1, 9), "agency": "DOT"}
    silver = silver_311_frame(
        spark,
        [
            {**base, "unique_key": 1, "agency_name": "Dept of Transportation"},
            {**base, "unique_key": 2, "agency_name": "Department of Transportation"},
            {**base, "unique_key": 3, "agency_name": None},
        ],
    )
    names = {nodes.build_dim_agency(silver).first()["agency_name"] for _ in range(3)}
    assert names == {"Dept of Transportation"}


def test_fact_coordinates_are_null_unless_the_location_is_valid(spark, gold_params):
    from nyc_lakehouse.pipelines.gold.testing import silver_311_frame

    base = {"created_date": datetime(2021, 5, 1, 9), "agency": "DOT"}
    silver = silver_311_frame(
        spark,
        [
            {**base, "unique_key": 1, "latitude": 40.7, "longitude": -73.9},
            # 0/0 as the source sends it: silver keeps the numbers but flags the row
            {**base, "unique_key": 2, "latitude": 0.0, "longitude": 0.0},
        ],
    ).withColumn("has_valid_location", F.col("unique_key") == 1)
    fact = nodes.build_fact_311(
        silver, gold_params["sla"], gold_params["response_time_outlier_hours"]
    )
    rows = _rows(fact, "unique_key")
    assert (rows[1]["latitude"], rows[1]["longitude"]) == (40.7, -73.9)
    assert (rows[2]["latitude"], rows[2]["longitude"]) == (None, None)
    assert rows[2]["has_valid_location"] is False


def test_resolution_buckets_follow_their_parameters(spark):
    hours = spark.createDataFrame([(1, 20.0), (2, 30.0), (3, 200.0), (4, None)], "k int, h double")

    def buckets(bounds):
        frame = hours.select("k", nodes.resolution_bucket(F.col("h"), bounds).alias("b"))
        return {r["k"]: r["b"] for r in frame.collect()}

    assert buckets(None) == {1: "same_day", 2: "within_7_days", 3: "within_30_days", 4: None}
    # a 12-hour "same day" and a 10-day second bucket move the boundaries, not the names
    assert buckets({"same_day": 12, "within_7_days": 240}) == {
        1: "within_7_days",
        2: "within_7_days",
        3: "within_7_days",
        4: None,
    }
    with pytest.raises(ValueError, match="increasing positive hours"):
        nodes.resolution_bucket(F.col("h"), {"same_day": 200, "within_7_days": 100})
    with pytest.raises(ValueError, match="increasing positive hours"):
        nodes.resolution_bucket(F.col("h"), {"next_week": 100})
