"""The feature rows (``gold.volume_forecasting_features``), value by value, against a hand
computation.

The model tests check shapes and leakage; these pin what each feature *is*, on a series whose
windows are easy to work out by hand: ``y`` is the day's index squared plus a weekly bump, so
every window, lag and deviation has a distinct value. Rows are addressed by the target day's
index ``t`` and the horizon step ``k`` (origin ``t - k``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import models
from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features
from nyc_lakehouse.pipelines.ml_features.features import (
    CATEGORICAL,
    feature_columns,
    forecast_features,
)

DAYS = 120
START = pd.Timestamp("2023-11-01")  # Thanksgiving and Christmas fall inside the series
HORIZON = 9


def _series() -> np.ndarray:
    i = np.arange(DAYS, dtype=float)
    return i**2 / 10 + 5 * (i % 7)


def _panel() -> pd.DataFrame:
    ds = pd.date_range(START, periods=DAYS, freq="D")
    return pd.DataFrame({"unique_id": "s", "ds": ds, "y": _series()})


def _rows(panel: pd.DataFrame, horizon: int, future: bool = True) -> pd.DataFrame:
    rows = forecast_features(panel, horizon, future=future)
    first = panel["ds"].min()
    return rows.assign(t=(rows["ds"] - first).dt.days, step=rows["horizon_step"])


def _expected(y: np.ndarray, t: int, k: int, future: bool = False) -> dict[str, float]:
    """Each feature of the row predicting day ``t`` from origin ``t - k``, written out plainly."""
    o = t - k
    window28 = y[o - 27 : o + 1]
    level28 = window28.mean()
    scale = max(level28, 1.0)
    back = 7 * math.ceil(k / 7)
    same_dow = [y[t - back - 7 * j] if t - back - 7 * j >= 0 else np.nan for j in range(4)]
    seasonal_errors = np.abs(y[7 : o + 1] - y[: o + 1 - 7])[-364:]  # the year up to the origin
    return {
        "step": float(k),
        "y": np.nan if future else y[t],
        "scale": scale,
        "sn_scale": seasonal_errors.mean(),
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
def test_training_rows_match_a_hand_computation(t, k):
    rows = _rows(_panel(), HORIZON, future=False)
    row = rows[(rows["t"] == t) & (rows["step"] == k)]
    assert len(row) == 1
    row = row.iloc[0]
    for name, value in _expected(_series(), t, k).items():
        assert row[name] == pytest.approx(value, nan_ok=True), name
    # the year-ago features need a year of history: none here
    assert math.isnan(row["last_year"]) and math.isnan(row["last_year_week"])
    target_day = START + pd.Timedelta(days=t)
    assert row["ds"] == target_day
    assert row["forecast_origin"] == target_day - pd.Timedelta(days=k)
    calendar = _calendar_of(target_day)
    for name in (
        "day_of_week",
        "day_of_year",
        "month",
        "days_to_next_holiday",
        "holiday_code",
        "is_holiday",
        "is_day_after_thanksgiving",
        "is_year_end_break",
    ):
        assert row[name] == calendar[name], name
    lag_day = START + pd.Timedelta(days=t - 7 * math.ceil(k / 7))
    assert row["lag_is_holiday"] == _calendar_of(lag_day)["is_holiday"]
    assert row["lag_is_holiday_adjacent"] == _calendar_of(lag_day)["is_holiday_adjacent"]


def test_target_day_calendar_knows_thanksgiving_friday_and_the_year_end():
    panel = _panel().assign(ds=pd.date_range("2023-10-01", periods=DAYS, freq="D"))
    rows = _rows(panel, HORIZON, future=False)
    by_day = rows[rows["step"] == 1].set_index("ds")
    assert by_day.loc[pd.Timestamp("2023-11-24"), "is_day_after_thanksgiving"]
    assert not by_day.loc[pd.Timestamp("2023-11-23"), "is_day_after_thanksgiving"]
    assert by_day.loc[pd.Timestamp("2023-11-23"), "is_holiday"]
    assert by_day.loc[pd.Timestamp("2023-12-24"), "is_year_end_break"]
    assert not by_day.loc[pd.Timestamp("2023-12-23"), "is_year_end_break"]
    assert by_day.loc[pd.Timestamp("2023-12-25"), "holiday_code"] > 0
    assert by_day.loc[pd.Timestamp("2023-12-22"), "holiday_code"] == 0
    assert by_day.loc[pd.Timestamp("2023-11-05"), "is_dst_change"]  # clocks back in New York
    assert by_day["is_dst_change"].sum() == 1
    assert by_day.loc[pd.Timestamp("2024-01-01"), "is_year_end_break"]
    assert not by_day.loc[pd.Timestamp("2024-01-02"), "is_year_end_break"]


def test_level_shifts_are_features_of_the_target_day():
    calendar = {"level_shifts": [{"name": "covid", "start": "2023-12-01"}]}
    rows = forecast_features(_panel(), HORIZON, calendar)
    assert "shift_covid" in feature_columns(rows)
    expected = (rows["ds"] >= pd.Timestamp("2023-12-01")).astype("int64")
    assert rows["shift_covid"].tolist() == expected.tolist()
    assert expected.nunique() == 2


def test_training_rows_cover_every_target_with_a_full_28_day_origin():
    rows = _rows(_panel(), HORIZON, future=False)
    for k in range(1, HORIZON + 1):
        targets = rows.loc[rows["step"] == k, "t"].tolist()
        assert targets == list(range(27 + k, DAYS)), k  # origin index 27 is the first full window
    assert rows["unique_id"].eq("s").all()


def test_forecast_rows_start_from_the_last_day():
    rows = _rows(_panel(), HORIZON, future=True)
    rows = rows[rows["y"].isna()]
    assert rows["t"].tolist() == [DAYS - 1 + k for k in range(1, HORIZON + 1)]
    assert (rows["forecast_origin"] == START + pd.Timedelta(days=DAYS - 1)).all()
    y = np.concatenate([_series(), np.full(HORIZON, np.nan)])
    for _, row in rows.iterrows():
        t, k = int(row["t"]), int(row["step"])
        for name, value in _expected(y, t, k, future=True).items():
            if name == "sn_scale":
                value = np.abs(_series()[7:] - _series()[:-7]).mean()
            assert row[name] == pytest.approx(value, nan_ok=True), (name, k)
        assert row["day_of_year"] == _calendar_of(START + pd.Timedelta(days=t))["day_of_year"]


def test_a_series_with_a_year_of_history_gets_last_year_features():
    days = 400
    i = np.arange(days, dtype=float)
    y = 100 + i + 3 * (i % 7)
    panel = pd.DataFrame(
        {"unique_id": "s", "ds": pd.date_range("2022-01-01", periods=days, freq="D"), "y": y}
    )
    rows = _rows(panel, 7, future=False)
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
    # the noise scale covers the last year only (364 seasonal errors up to the origin)
    o = t - k
    assert row["sn_scale"] == pytest.approx(np.abs(y[o - 363 : o + 1] - y[o - 370 : o - 6]).mean())


def test_short_series_and_the_feature_list():
    short = _panel().iloc[:28]  # 28 days: no origin with a full window
    assert forecast_features(short, HORIZON).empty
    rows = forecast_features(_panel(), HORIZON)
    features = feature_columns(rows)
    assert not {"unique_id", "forecast_origin", "ds", "y", "scale", "sn_scale"} & set(features)
    assert {"horizon_step", "last", "day_of_week", "holiday_code"} <= set(features)
    assert models.GradientBoostingForecaster._categorical_indices(features) == [
        features.index(c) for c in CATEGORICAL
    ]


def test_calendar_features_follow_the_calendar_setting():
    day = pd.Timestamp("2024-02-12")  # Lincoln's Birthday: a NY holiday
    panel = pd.DataFrame(
        {"unique_id": "s", "ds": pd.date_range(day - pd.Timedelta(days=40), day), "y": 1.0}
    )

    def is_holiday(calendar: dict | None) -> bool:
        rows = models.GradientBoostingForecaster(calendar=calendar).feature_rows(panel, 1)
        return bool(rows.set_index("ds").loc[day, "is_holiday"])

    assert is_holiday(None)  # US + NY when nothing is configured
    assert not is_holiday({"country": "US", "subdivision": "TX"})
    assert is_holiday({"country": "US", "subdivision": "NY"})


def test_the_rows_have_exactly_the_documented_gold_columns():
    """gold/tables.py documents gold.volume_forecasting_features; the function produces it."""
    from nyc_lakehouse.pipelines.gold.tables import columns_of

    calendar = {"level_shifts": [{"name": "covid", "start": "2020-03-16"}]}
    rows = forecast_features(_panel(), HORIZON, calendar)
    documented = [c.replace("<name>", "covid") for c in columns_of("volume_forecasting_features")]
    assert list(rows.columns) == documented
