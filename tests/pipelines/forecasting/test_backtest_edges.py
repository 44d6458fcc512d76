"""run_backtest's settings a user reads in every forecast: clipping at zero, the ensemble's
method and members, and the machine-learning model's windows at the minimum training length.

One-series panels ending on 2024-06-30; the seasonal naive baseline repeats the last week, so
its forecasts of a series that repeats every week are known exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt

LAST = pd.Timestamp("2024-06-30")
BASELINE = {"SeasonalNaive": {"enabled": True}}
MEMBERS = ["SeasonalNaive", "AutoETS", "AutoTheta"]


def _panel(y: Any) -> pd.DataFrame:
    values = np.asarray(y, dtype=float)
    ds = pd.date_range(end=LAST, periods=values.size, freq="D")
    return pd.DataFrame({"unique_id": "s", "ds": ds, "y": values})


def _noisy_week(days: int) -> pd.DataFrame:
    day = np.arange(days)
    return _panel(50 + 10 * (day % 7) + np.random.default_rng(1).normal(0, 3, days))


def _params(models: dict, min_train_days: int = 14, n_windows: int = 1, **extra) -> dict:
    backtest = {"n_windows": n_windows, "min_train_days": min_train_days}
    return {"horizon": 7, "levels": [80], "backtest": backtest, "models": models, **extra}


def test_forecasts_and_bounds_are_clipped_at_zero_unless_switched_off():
    panel = _panel([(day % 7) - 3 for day in range(21)])  # -3 .. 3 every week
    clipped = bt.run_backtest(panel, _params(BASELINE))
    assert (clipped["y"] < 0).sum() == 3
    assert clipped["y_hat"].tolist() == clipped["y"].clip(lower=0).tolist()
    assert (clipped[["y_hat_lo_80", "y_hat_hi_80"]] >= 0).all().all()
    pd.testing.assert_frame_equal(
        bt.run_backtest(panel, _params(BASELINE, clip_at_zero=True)), clipped
    )
    kept = bt.run_backtest(panel, _params(BASELINE, clip_at_zero=False))
    assert kept["y_hat"].tolist() == kept["y"].tolist()
    assert kept["y_hat_lo_80"].min() < 0


def test_the_ensemble_combines_its_members_by_the_configured_method():
    models = {name: {"enabled": True} for name in MEMBERS}
    models["Ensemble"] = {"enabled": True, "members": MEMBERS, "method": "mean"}
    result = bt.run_backtest(_noisy_week(63), _params(models, min_train_days=56))
    wide = result.pivot(index="ds", columns="model", values="y_hat")
    assert len(wide) == 7
    assert np.allclose(wide["Ensemble"], wide[MEMBERS].mean(axis=1))
    # three members that disagree: their median is another forecast
    assert not np.allclose(wide["Ensemble"], wide[MEMBERS].median(axis=1))


def test_an_ensemble_without_members_or_method_adds_no_rows():
    models = {**BASELINE, "Ensemble": {"enabled": True}}
    result = bt.run_backtest(_panel([day % 7 for day in range(21)]), _params(models))
    assert set(result["model"]) == {"SeasonalNaive"} and len(result) == 7


GRADIENT_BOOSTING = {"enabled": True, "max_iter": 10, "min_samples_leaf": 5}


def test_the_gradient_boosting_windows_train_on_exactly_min_train_days():
    # 70 days up to the second cutoff, 63 up to the first: the first window has no series
    models = {**BASELINE, "HistGradientBoosting": GRADIENT_BOOSTING}
    params = _params(models, min_train_days=70, n_windows=2)
    result = bt.run_backtest(_noisy_week(77), params)
    second = LAST - pd.Timedelta(days=7)
    for model in ("SeasonalNaive", "HistGradientBoosting"):
        rows = result[result["model"] == model]
        assert set(rows["cutoff"]) == {second} and len(rows) == 7, model
        assert rows[["y_hat", "y_hat_lo_80", "y_hat_hi_80"]].notna().all().all(), model


def test_too_short_a_panel_for_gradient_boosting_says_how_long_it_must_be():
    models = {**BASELINE, "HistGradientBoosting": GRADIENT_BOOSTING}
    with pytest.raises(ValueError, match="every series needs >= 71 days before the first cutoff"):
        bt.run_backtest(_noisy_week(77), _params(models, min_train_days=71))
