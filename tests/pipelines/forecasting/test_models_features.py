"""The gradient-boosting feature rows, value by value, against a hand computation.

The model tests check shapes and leakage; these pin what each feature *is*, on a series whose
windows are easy to work out by hand: ``y`` is the day's index squared plus a weekly bump, so
every window, lag and deviation has a distinct value.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import models
from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features

DAYS = 120
START = pd.Timestamp("2023-11-01")  # Thanksgiving and Christmas fall inside the series
HORIZON = 9


def _series() -> np.ndarray:
    i = np.arange(DAYS, dtype=float)
    return i**2 / 10 + 5 * (i % 7)


def _panel() -> pd.DataFrame:
    ds = pd.date_range(START, periods=DAYS, freq="D")
    return pd.DataFrame({"unique_id": "s", "ds": ds, "y": _series()})


def _expected(y: np.ndarray, t: int, k: int, future: bool = False) -> dict[str, float]:
    """Each feature of the row predicting day ``t`` from origin ``t - k``, written out plainly."""
    o = t - k
    window28 = y[o - 27 : o + 1]
    level28 = window28.mean()
    scale = max(level28, 1.0)
    back = 7 * math.ceil(k / 7)
    same_dow = [y[t - back - 7 * j] if t - back - 7 * j >= 0 else np.nan for j in range(4)]
    return {
        "step": float(k),
        "target": np.nan if future else y[t] / scale,
        "scale": scale,
        "sn_scale": np.mean(np.abs(y[7:] - y[:-7])),
        "log_level": math.log1p(level28),
        "last": y[o] / scale,
        "mean_7": y[o - 6 : o + 1].mean() / scale,
        "mean_91": y[o - 90 : o + 1].mean() / scale if o >= 90 else np.nan,
        "std_28": window28.std() / scale,  # population deviation
        "same_dow_1": same_dow[0] / scale,
        "same_dow_2": same_dow[1] / scale,
        "same_dow_mean_4": np.nanmean(same_dow) / scale,
    }


def _calendar_of(day: pd.Timestamp) -> dict:
    return calendar_features([day]).iloc[0].to_dict()


@pytest.mark.parametrize(("t", "k"), [(40, 1), (95, 3), (100, 7), (119, 9)])
def test_training_rows_match_a_hand_computation(make_params, t, k):
    forecaster = models.build_forecaster(
        "HistGradientBoosting", make_params(("HistGradientBoosting",))
    )
    rows = forecaster._rows(_panel(), HORIZON, future=False)
    row = rows[(rows["t"] == t) & (rows["step"] == k)]
    assert len(row) == 1
    row = row.iloc[0]
    for name, value in _expected(_series(), t, k).items():
        assert row[name] == pytest.approx(value, nan_ok=True), name
    # the year-ago features need a year of history: none here
    assert math.isnan(row["last_year"]) and math.isnan(row["last_year_week"])
    target_day = START + pd.Timedelta(days=t)
    calendar = _calendar_of(target_day)
    for name in ("day_of_week", "day_of_year", "month", "days_to_next_holiday"):
        assert row[name] == calendar[name], name
    assert row["is_holiday"] == float(calendar["is_holiday"])
    lag_day = START + pd.Timedelta(days=t - 7 * math.ceil(k / 7))
    assert row["lag_is_holiday"] == float(_calendar_of(lag_day)["is_holiday"])
    assert row["lag_is_holiday_adjacent"] == float(_calendar_of(lag_day)["is_holiday_adjacent"])


def test_training_rows_cover_every_target_with_a_full_28_day_origin(make_params):
    forecaster = models.build_forecaster(
        "HistGradientBoosting", make_params(("HistGradientBoosting",))
    )
    rows = forecaster._rows(_panel(), HORIZON, future=False)
    for k in range(1, HORIZON + 1):
        targets = rows.loc[rows["step"] == k, "t"].tolist()
        assert targets == list(range(27 + k, DAYS)), k  # origin index 27 is the first full window
    assert rows["unique_id"].eq("s").all()


def test_forecast_rows_start_from_the_last_day(make_params):
    forecaster = models.build_forecaster(
        "HistGradientBoosting", make_params(("HistGradientBoosting",))
    )
    rows = forecaster._rows(_panel(), HORIZON, future=True)
    assert rows["t"].tolist() == [DAYS - 1 + k for k in range(1, HORIZON + 1)]
    y = np.concatenate([_series(), np.full(HORIZON, np.nan)])
    for _, row in rows.iterrows():
        t, k = int(row["t"]), int(row["step"])
        for name, value in _expected(y, t, k, future=True).items():
            if name == "sn_scale":
                value = np.mean(np.abs(_series()[7:] - _series()[:-7]))
            assert row[name] == pytest.approx(value, nan_ok=True), (name, k)
        assert row["day_of_year"] == _calendar_of(START + pd.Timedelta(days=t))["day_of_year"]


def test_a_series_with_a_year_of_history_gets_last_year_features(make_params):
    days = 400
    i = np.arange(days, dtype=float)
    y = 100 + i + 3 * (i % 7)
    panel = pd.DataFrame(
        {"unique_id": "s", "ds": pd.date_range("2022-01-01", periods=days, freq="D"), "y": y}
    )
    forecaster = models.build_forecaster(
        "HistGradientBoosting", make_params(("HistGradientBoosting",))
    )
    rows = forecaster._rows(panel, 7, future=False)
    t, k = 399, 2
    row = rows[(rows["t"] == t) & (rows["step"] == k)].iloc[0]
    # a year (364 days, whole weeks) before: the value, the week around it, both divided by
    # the 28-day level at the origin a year earlier
    ly_level = y[t - k - 364 - 27 : t - k - 364 + 1].mean()
    assert row["last_year"] == pytest.approx(y[t - 364] / ly_level)
    assert row["last_year_week"] == pytest.approx(y[t - 364 - 3 : t - 364 + 4].mean() / ly_level)
    assert row["mean_91"] == pytest.approx(
        y[t - k - 90 : t - k + 1].mean() / y[t - k - 27 : t - k + 1].mean()
    )


def test_short_series_and_the_feature_list(make_params):
    forecaster = models.build_forecaster(
        "HistGradientBoosting", make_params(("HistGradientBoosting",))
    )
    short = _panel().iloc[:28]  # 28 days: no origin with a full window and a target after it
    assert forecaster._rows(short, HORIZON, future=False).empty
    rows = forecaster._rows(_panel(), HORIZON, future=False)
    features = models.GradientBoostingForecaster._feature_names(rows)
    assert not {"unique_id", "t", "target", "scale", "sn_scale"} & set(features)
    assert {"step", "last", "day_of_week", "holiday_code"} <= set(features)
    assert models.GradientBoostingForecaster._categorical_indices(features) == [
        features.index("day_of_week"),
        features.index("month"),
        features.index("holiday_code"),
    ]


def test_calendar_features_follow_the_calendar_setting():
    day = pd.DatetimeIndex([pd.Timestamp("2024-02-12")])  # Lincoln's Birthday: a NY holiday
    default = models.GradientBoostingForecaster()._calendar(day)
    assert default.loc[day[0], "is_holiday"]  # US + NY when nothing is configured
    texas = models.GradientBoostingForecaster(calendar={"country": "US", "subdivision": "TX"})
    assert not texas._calendar(day).loc[day[0], "is_holiday"]
    configured = models.GradientBoostingForecaster(calendar={"country": "US", "subdivision": "NY"})
    assert configured._calendar(day).loc[day[0], "is_holiday"]
