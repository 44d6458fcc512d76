"""ml_features on a real Sail session: the daily panel from gold; the calendar knowledge."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from nyc_lakehouse.pipelines.ml_features import nodes
from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features, level_shift_features

PARAMS = {
    "top_n_complaint_types": 2,
    "boroughs": ["BROOKLYN", "QUEENS"],
    "drop_last_days": 1,
    "start_date": None,
}


def _requests(spark, rows):
    frame = pd.DataFrame(rows, columns=["created_date_only", "borough", "complaint_type"])
    frame["created_date_only"] = pd.to_datetime(frame["created_date_only"]).dt.date
    return spark.createDataFrame(frame)


@pytest.fixture
def requests(spark):
    rows = (
        [("2024-07-01", "BROOKLYN", "Noise")] * 3
        + [("2024-07-01", "QUEENS", "Heat")] * 2
        + [("2024-07-03", "BROOKLYN", "Heat")]
        + [("2024-07-04", "UNSPECIFIED", "Noise")] * 4
        + [("2024-07-04", "QUEENS", "Rodent")]
        + [("2024-07-05", "QUEENS", "Noise")]  # the newest day: dropped as partial
        + [("2099-01-01", "QUEENS", "Noise")]  # a bad future date: ignored
    )
    return _requests(spark, rows)


def test_daily_volume_panel_is_zero_filled_with_top_n_types(requests):
    panel = nodes.daily_volume_panel(requests, PARAMS).toPandas()
    assert set(panel["unique_id"]) == {
        "citywide",
        "borough:BROOKLYN",
        "borough:QUEENS",
        "complaint_type:Noise",
        "complaint_type:Heat",
    }
    # every series has every day from the first to the last complete day
    days = [dt.date(2024, 7, d) for d in range(1, 5)]
    assert panel.groupby("unique_id")["ds"].apply(sorted).map(lambda d: d == days).all()
    assert not panel.duplicated(["unique_id", "ds"]).any()
    y = panel.set_index(["unique_id", "ds"])["y"]
    assert y[("citywide", dt.date(2024, 7, 1))] == 5
    assert y[("citywide", dt.date(2024, 7, 2))] == 0
    assert y[("citywide", dt.date(2024, 7, 4))] == 5  # UNSPECIFIED counts citywide
    assert y[("borough:BROOKLYN", dt.date(2024, 7, 3))] == 1
    assert y[("complaint_type:Noise", dt.date(2024, 7, 4))] == 4
    assert panel["y"].sum() == 11 + (4 + 3) + (7 + 3)  # citywide + boroughs + types
    assert str(panel["y"].dtype) == "float64"


def test_panel_with_nothing_left_after_dropping_the_last_day_fails_clearly(spark):
    requests = _requests(spark, [("2024-07-01", "QUEENS", "Heat")])
    with pytest.raises(ValueError, match="drop_last_days"):
        nodes.daily_volume_panel(requests, PARAMS)


def test_the_panel_is_built_from_gold_daily_counts(spark, requests):
    """gold.agg_daily_type_borough (requests per day x complaint type x borough) gives the
    panel one row per request gives."""
    frame = requests.toPandas().rename(columns={"created_date_only": "date"})
    counts = frame.groupby(["date", "complaint_type", "borough"]).size()
    daily = counts.rename("request_count").astype("int64").reset_index()
    from_gold = nodes.daily_volume_panel_from_gold(spark.createDataFrame(daily), PARAMS).toPandas()
    expected = nodes.daily_volume_panel(requests, PARAMS).toPandas()
    key = ["unique_id", "ds"]
    pd.testing.assert_frame_equal(
        from_gold.sort_values(key).reset_index(drop=True),
        expected.sort_values(key).reset_index(drop=True),
    )
    assert from_gold["y"].sum() == 11 + (4 + 3) + (7 + 3)


def test_calendar_knows_observed_holidays_special_days_and_clock_changes():
    days = pd.date_range("2021-11-20", "2022-01-03", freq="D")
    cal = calendar_features(days).set_index("ds")
    assert cal.loc["2021-11-25", "holiday_name"] == "Thanksgiving Day"
    assert cal.loc["2021-11-26", "is_day_after_thanksgiving"]
    assert cal["is_day_after_thanksgiving"].sum() == 1
    # Christmas 2021 fell on a Saturday: observed on Friday 24 December
    assert cal.loc["2021-12-24", "is_observed_holiday"] and cal.loc["2021-12-24", "is_holiday"]
    assert not cal.loc["2021-12-25", "is_observed_holiday"]
    assert cal.loc["2021-12-24":"2022-01-01", "is_year_end_break"].all()
    assert cal["is_year_end_break"].sum() == 9
    assert not cal["is_dst_change"].any()
    codes = cal.loc[cal["is_holiday"], "holiday_code"]
    assert (codes > 0).all() and (cal.loc[~cal["is_holiday"], "holiday_code"] == 0).all()
    assert cal.loc["2021-12-24", "holiday_code"] == cal.loc["2021-12-25", "holiday_code"]
    # the Sundays the clocks change in New York, not in a zone without daylight saving
    spring = pd.date_range("2024-03-09", "2024-03-11", freq="D")
    assert calendar_features(spring)["is_dst_change"].tolist() == [False, True, False]
    assert not calendar_features(spring, timezone="UTC")["is_dst_change"].any()


def test_level_shift_columns_switch_on_at_their_start():
    shifts = [{"name": "covid", "start": "2020-03-16"}, {"name": "x", "start": "2020-01-01",
              "end": "2020-03-15"}]  # fmt: skip
    out = level_shift_features(["2020-03-15", "2020-03-16", "2021-01-01"], shifts)
    assert out["shift_covid"].tolist() == [0, 1, 1]
    assert out["shift_x"].tolist() == [1, 0, 0]
    assert level_shift_features(["2020-03-15"], None).columns.tolist() == []
