"""ml_features on a real Sail session: the daily panel and the feature table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from nyc_lakehouse.pipelines.ml_features import nodes

PARAMS = {
    "top_n_complaint_types": 2,
    "boroughs": ["BROOKLYN", "QUEENS"],
    "drop_last_days": 1,
    "start_date": None,
    "lags": [1, 7],
    "rolling_windows": [3],
    "calendar": {"country": "US", "subdivision": "NY"},
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


def test_features_use_past_values_only(spark):
    days = pd.date_range("2024-06-25", "2024-07-08", freq="D")
    values = [float(i) for i in range(len(days))]
    panel = spark.createDataFrame(pd.DataFrame({"unique_id": "s", "ds": days.date, "y": values}))
    features = nodes.volume_forecasting_features(panel, PARAMS).toPandas().set_index("ds")
    july4 = features.loc[dt.date(2024, 7, 4)]
    y = july4["y"]
    assert july4["lag_1"] == y - 1
    assert july4["lag_7"] == y - 7
    assert july4["rolling_mean_3"] == pytest.approx(y - 2)  # mean of y-3, y-2, y-1: not y
    assert july4["rolling_std_3"] == pytest.approx(1.0)
    assert bool(july4["is_holiday"]) and july4["holiday_name"] == "Independence Day"
    assert july4["day_of_week"] == 4  # Thursday, 1 = Monday
    assert july4["trend"] == 9
    first = features.loc[dt.date(2024, 6, 25)]
    assert pd.isna(first["lag_1"]) and pd.isna(first["rolling_mean_3"])
    assert pd.isna(features.loc[dt.date(2024, 6, 27), "rolling_mean_3"])  # only 2 past days
    assert features.loc[dt.date(2024, 7, 3), "days_to_next_holiday"] == 1
    assert features.loc[dt.date(2024, 7, 6), "days_since_previous_holiday"] == 2
    assert len(features) == len(days)
