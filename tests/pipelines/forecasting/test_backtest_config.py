"""The backtest's settings and defaults, its shortest eligible series, and the ensemble's edges.

Runs the seasonal-naive baseline only (fast and exact), on panels whose lengths put a series
exactly at the minimum training length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import models

LAST = pd.Timestamp("2024-06-30")


def _series(name: str, days: int, end: pd.Timestamp = LAST) -> pd.DataFrame:
    ds = pd.date_range(end=end, periods=days, freq="D")
    return pd.DataFrame({"unique_id": name, "ds": ds, "y": np.arange(days, dtype=float) % 7})


def _params(**backtest) -> dict:
    params = {"horizon": 7, "levels": [80], "models": {"SeasonalNaive": {"enabled": True}}}
    if backtest:
        params["backtest"] = backtest
    return params


def test_defaults_three_windows_a_horizon_apart_and_56_training_days():
    # 56 + 3 * 7 days: exactly 56 days up to the first cutoff
    panel = _series("s", 56 + 21)
    result = bt.run_backtest(panel, _params())
    cutoffs = sorted(result["cutoff"].unique())
    assert cutoffs == [LAST - pd.Timedelta(days=d) for d in (21, 14, 7)]
    assert list(result.columns) == [
        "cutoff", "unique_id", "ds", "model", "y_hat", "y_hat_lo_80", "y_hat_hi_80", "y"
    ]  # fmt: skip
    assert len(result) == 3 * 7
    # a longer panel still gets three windows by default
    longer = bt.run_backtest(_series("s", 56 + 35), _params())
    assert sorted(longer["cutoff"].unique()) == cutoffs
    # one day shorter and the first window has no series long enough
    shorter = bt.run_backtest(_series("s", 55 + 21), _params())
    assert sorted(shorter["cutoff"].unique()) == cutoffs[1:]


def test_settings_come_from_params_backtest():
    panel = _series("s", 40)
    result = bt.run_backtest(panel, _params(n_windows=2, step=3, min_train_days=10))
    assert sorted(result["cutoff"].unique()) == [
        LAST - pd.Timedelta(days=10),
        LAST - pd.Timedelta(days=7),
    ]


def test_a_series_with_exactly_min_train_days_is_scored():
    # "short" has exactly 20 days up to the first cutoff (day 20 inclusive), "long" more
    cutoff = LAST - pd.Timedelta(days=7)
    panel = pd.concat([_series("long", 60), _series("short", 27)], ignore_index=True)
    result = bt.run_backtest(panel, _params(n_windows=1, min_train_days=20))
    assert set(result["cutoff"]) == {cutoff}
    assert sorted(result["unique_id"].unique()) == ["long", "short"]
    result = bt.run_backtest(panel, _params(n_windows=1, min_train_days=21))
    assert sorted(result["unique_id"].unique()) == ["long"]


def test_too_short_a_panel_says_how_long_it_must_be():
    with pytest.raises(ValueError, match="every series needs >= 56 days before the first cutoff"):
        bt.run_backtest(_series("s", 30), _params())


# ensemble_forecast ---------------------------------------------------------------------------
LEVELS = [80]


def _member(model: str, uid: str, day: str, y_hat: float, **keys) -> dict:
    return {
        **keys,
        "unique_id": uid,
        "ds": pd.Timestamp(day),
        "model": model,
        "y_hat": y_hat,
        "y_hat_lo_80": y_hat - 1,
        "y_hat_hi_80": y_hat + 1,
    }


def test_two_members_are_enough_and_rows_come_out_sorted():
    rows = [
        _member("A", "b", "2024-01-02", 10.0),
        _member("B", "b", "2024-01-02", 20.0),
        _member("A", "a", "2024-01-02", 1.0),
        _member("B", "a", "2024-01-02", 3.0),
        _member("A", "a", "2024-01-01", 5.0),
        _member("B", "a", "2024-01-01", 7.0),
        _member("A", "c", "2024-01-01", 9.0),  # one member only: no ensemble
    ]
    combined = models.ensemble_forecast(pd.DataFrame(rows), ["A", "B"], LEVELS)
    assert list(combined.columns) == models.forecast_columns(LEVELS)
    assert list(
        zip(combined["unique_id"], combined["ds"].dt.day, combined["y_hat"], strict=True)
    ) == [
        ("a", 1, 6.0),
        ("a", 2, 2.0),
        ("b", 2, 15.0),
    ]


def test_an_extra_key_with_missing_values_still_groups():
    # backtest frames carry a cutoff; a live forecast combined with them has none
    rows = [
        _member("A", "a", "2024-01-01", 1.0, cutoff=None),
        _member("B", "a", "2024-01-01", 3.0, cutoff=None),
    ]
    combined = models.ensemble_forecast(pd.DataFrame(rows), ["A", "B"], LEVELS)
    assert combined["y_hat"].tolist() == [2.0]
    assert list(combined.columns) == ["cutoff", *models.forecast_columns(LEVELS)]


def test_no_member_present_gives_an_empty_forecast_frame():
    rows = [_member("Other", "a", "2024-01-01", 1.0)]
    empty = models.ensemble_forecast(pd.DataFrame(rows), ["A", "B"], [80, 95])
    assert empty.empty
    assert list(empty.columns) == [
        "unique_id", "ds", "model", "y_hat", "y_hat_lo_80", "y_hat_hi_80", "y_hat_lo_95", "y_hat_hi_95"
    ]  # fmt: skip


def test_an_unknown_combination_method_is_named():
    with pytest.raises(ValueError, match="ensemble method must be 'median' or 'mean', got 'max'"):
        models.ensemble_forecast(pd.DataFrame(), ["A"], LEVELS, method="max")
