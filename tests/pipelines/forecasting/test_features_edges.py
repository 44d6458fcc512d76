"""Edges of the feature rows (``forecast_features``) that the hand-computed series do not reach.

``test_models_features.py`` pins every feature on one long, steadily growing series. These pin
what happens at the limits: a horizon below one, no data, a series one day past the 28-day
window, values so small that the scales' floors apply, a flat series (no noise at all), and
several series that start on different days, given in any order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.ml_features.features import KEY_COLUMNS, forecast_features


def _panel(days: int, start: str = "2023-03-01", values=None, unique_id: str = "s"):
    y = np.arange(days, dtype=float) + 10 if values is None else np.asarray(values, dtype=float)
    ds = pd.date_range(start, periods=days, freq="D")
    return pd.DataFrame({"unique_id": unique_id, "ds": ds, "y": y})


def test_a_horizon_below_one_is_refused():
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):
        forecast_features(_panel(40), 0)


def test_no_data_gives_no_rows_with_the_key_columns():
    empty = _panel(40).iloc[:0]
    rows = forecast_features(empty, 3)
    assert rows.empty
    assert list(rows.columns) == [*KEY_COLUMNS, "y", "scale", "sn_scale"]


def test_29_days_give_one_training_origin_and_the_forecast_rows():
    panel = _panel(29)
    train = forecast_features(panel, 1, future=False)
    assert len(train) == 1  # target day 28 from origin 27, the first full 28-day window
    assert train["ds"].iloc[0] == pd.Timestamp("2023-03-29")
    assert train["forecast_origin"].iloc[0] == pd.Timestamp("2023-03-28")
    y = np.arange(29) + 10.0
    # the origin's 28-day window starts on the series' first day: it counts
    assert train["scale"].iloc[0] == pytest.approx(y[:28].mean())
    assert train["last"].iloc[0] == pytest.approx(y[27] / y[:28].mean())
    assert train["std_28"].iloc[0] == pytest.approx(y[:28].std() / y[:28].mean())
    # the fourth same weekday back is the series' first day
    same_dow = [y[21], y[14], y[7], y[0]]
    assert train["same_dow_mean_4"].iloc[0] == pytest.approx(np.mean(same_dow) / y[:28].mean())
    both = forecast_features(panel, 2)
    assert both["ds"].tolist() == list(pd.date_range("2023-03-29", "2023-03-31"))
    assert both["horizon_step"].tolist() == [1, 1, 2]
    assert both["y"].iloc[0] == 38  # day 28's value
    future = both[both["y"].isna()]
    assert future["horizon_step"].tolist() == [1, 2]
    assert (future["forecast_origin"] == pd.Timestamp("2023-03-29")).all()


def test_28_days_give_no_row_even_for_the_future():
    for future in (True, False):
        rows = forecast_features(_panel(28), 3, future=future)
        assert rows.empty
        assert list(rows.columns) == [*KEY_COLUMNS, "y", "scale", "sn_scale"]


def test_small_values_are_scaled_by_at_least_one():
    # a series below one a day: its 28-day level is under 1, so the scale stays 1
    values = 0.5 + 0.01 * np.arange(60)
    rows = forecast_features(_panel(60, values=values), 1, future=False)
    row = rows.iloc[-1]  # target day 59 from origin 58
    level = values[31:59].mean()
    assert level < 1
    assert row["scale"] == 1.0
    assert row["last"] == pytest.approx(values[58])
    assert row["mean_7"] == pytest.approx(values[52:59].mean())
    assert row["log_level"] == pytest.approx(np.log1p(level))


def test_last_year_features_of_a_small_series_are_divided_by_at_least_one():
    days = 400
    values = 0.2 + 0.001 * np.arange(days)
    rows = forecast_features(_panel(days, start="2022-01-01", values=values), 1, future=False)
    row = rows.iloc[-1]  # target 399, origin 398
    assert row["last_year"] == pytest.approx(values[399 - 364])
    assert row["last_year_week"] == pytest.approx(values[399 - 364 - 3 : 399 - 364 + 4].mean())


def test_a_flat_series_has_no_spread_and_the_smallest_noise_scale():
    rows = forecast_features(_panel(50, values=np.full(50, 7.0)), 2, future=False)
    assert (rows["std_28"] == 0).all()
    assert (rows["sn_scale"] == 1e-6).all()
    assert (rows["last"] == 1).all() and (rows["same_dow_mean_4"] == 1).all()
    assert (rows["scale"] == 7).all()


def test_series_starting_on_different_days_in_any_order():
    a = _panel(35, start="2023-03-01", unique_id="a")
    b = _panel(40, start="2023-03-11", values=np.arange(40) * 2.0 + 1, unique_id="b")
    panel = pd.concat([b, a]).sample(frac=1, random_state=3)
    rows = forecast_features(panel, 2, future=False)
    assert rows["unique_id"].tolist() == sorted(rows["unique_id"])
    for uid, frame in rows.groupby("unique_id"):
        ordered = frame.sort_values(["ds", "horizon_step"], kind="stable")
        assert frame.index.tolist() == ordered.index.tolist()
        source = (a if uid == "a" else b).set_index("ds")["y"]
        # every row's target and origin are days of its own series, and y is that day's value
        assert (frame["ds"] - frame["forecast_origin"]).dt.days.tolist() == frame[
            "horizon_step"
        ].tolist()
        assert frame["y"].tolist() == source.loc[frame["ds"]].tolist()
        assert frame["day_of_year"].tolist() == frame["ds"].dt.dayofyear.tolist()
        assert (
            frame["day_of_week"].tolist() == (frame["ds"].dt.dayofweek + 1).tolist()
        )  # Monday = 1
        first = source.index.min()
        assert frame["forecast_origin"].min() == first + pd.Timedelta(days=27)
    b_row = rows[(rows["unique_id"] == "b") & (rows["horizon_step"] == 1)].iloc[-1]
    y_b = np.arange(40) * 2.0 + 1
    assert b_row["last"] == pytest.approx(y_b[38] / y_b[11:39].mean())


def _calendar_rows(calendar: dict) -> pd.DataFrame:
    days = (pd.Timestamp("2023-11-10") - pd.Timestamp("2023-06-01")).days + 1
    rows = forecast_features(_panel(days, start="2023-06-01"), 1, calendar, future=False)
    return rows.set_index("ds")


def test_the_configured_country_and_time_zone_set_the_target_days_calendar():
    canada = _calendar_rows({"country": "CA", "subdivision": "ON"})
    assert canada.loc[pd.Timestamp("2023-07-01"), "is_holiday"]  # Canada Day
    assert not canada.loc[pd.Timestamp("2023-07-04"), "is_holiday"]
    london = _calendar_rows({"timezone": "Europe/London"})
    assert london.loc[pd.Timestamp("2023-10-29"), "is_dst_change"]  # clocks back in the UK
    assert not london.loc[pd.Timestamp("2023-11-05"), "is_dst_change"]
    assert _calendar_rows({}).loc[pd.Timestamp("2023-11-05"), "is_dst_change"]  # New York


def test_a_series_too_short_for_an_origin_does_not_stop_the_next_ones():
    short = _panel(20, unique_id="a")  # sorted first, no full 28-day window
    long = _panel(35, unique_id="b")
    rows = forecast_features(pd.concat([short, long]), 2, future=False)
    assert set(rows["unique_id"]) == {"b"}
    assert len(rows) == (35 - 28) + (35 - 29)  # targets 28..34 at step 1, 29..34 at step 2


def test_flags_are_booleans_and_the_step_an_integer():
    """The gold table's column types come from these dtypes (boolean, bigint), not floats."""
    rows = forecast_features(_panel(40), 3)
    for flag in ("lag_is_holiday", "lag_is_holiday_adjacent", "is_holiday", "is_weekend"):
        assert rows[flag].dtype == bool, flag
    assert rows["horizon_step"].dtype == np.int64
