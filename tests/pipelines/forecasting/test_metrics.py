"""Metrics on series with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import metrics
from nyc_lakehouse.pipelines.forecasting.models import StatsForecaster


def test_seasonal_naive_on_pure_weekly_pattern_has_mase_zero():
    pattern = np.array([100, 120, 130, 125, 110, 60, 50], dtype=float)
    days = pd.date_range("2024-01-01", periods=7 * 20, freq="D")
    panel = pd.DataFrame({"unique_id": "weekly", "ds": days, "y": np.tile(pattern, 20)})
    train, test = panel.iloc[:-14], panel.iloc[-14:]
    forecast = StatsForecaster("SeasonalNaive", {}).forecast(train, 14, [80, 95])
    np.testing.assert_allclose(forecast["y_hat"], test["y"])
    scale = metrics.seasonal_naive_scale(train["y"], 7)
    assert scale == 0
    assert metrics.mase(test["y"], forecast["y_hat"], scale) == 0


def test_mase_smape_rmse_coverage_known_values():
    history = [10, 10, 10, 10, 10, 10, 10, 12, 14, 10, 10, 10, 10, 10]
    # in-sample seasonal naive errors: |12-10|, |14-10|, then zeros -> mean 6/7
    assert metrics.seasonal_naive_scale(history, 7) == pytest.approx(6 / 7)
    actual, forecast = [10, 20, 30], [12, 18, 30]
    assert metrics.mase(actual, forecast, 6 / 7) == pytest.approx((4 / 3) / (6 / 7))
    assert metrics.smape(actual, forecast) == pytest.approx(100 / 3 * (2 * 2 / 22 + 2 * 2 / 38 + 0))
    assert metrics.rmse(actual, forecast) == pytest.approx(math.sqrt(8 / 3))
    assert metrics.coverage(actual, [9, 19, 31], [11, 21, 32]) == pytest.approx(2 / 3)


def test_metric_edge_cases():
    assert metrics.smape([0, 0], [0, 0]) == 0
    assert math.isnan(metrics.mase([1, 2], [1, 3], 0.0))
    assert math.isnan(metrics.seasonal_naive_scale([1, 2, 3], 7))
    assert math.isnan(metrics.coverage([1, 2], [np.nan, np.nan], [np.nan, np.nan]))


def test_backtest_cutoffs_end_on_the_last_day():
    cutoffs = bt.backtest_cutoffs(pd.Timestamp("2024-03-31"), horizon=14, n_windows=3, step=7)
    assert cutoffs == [pd.Timestamp(d) for d in ("2024-03-03", "2024-03-10", "2024-03-17")]
    with pytest.raises(ValueError):
        bt.backtest_cutoffs(pd.Timestamp("2024-03-31"), horizon=0, n_windows=3, step=7)


def test_window_metrics_and_leaderboard_on_a_known_panel():
    pattern = np.array([100, 120, 130, 125, 110, 60, 50], dtype=float)
    days = pd.date_range("2024-01-01", periods=7 * 16, freq="D")
    panel = pd.DataFrame({"unique_id": "weekly", "ds": days, "y": np.tile(pattern, 16)})
    params = {
        "horizon": 7,
        "levels": [80, 95],
        "backtest": {"n_windows": 3, "step": 7},
        "models": {"SeasonalNaive": {"enabled": True}},
    }
    backtest = bt.run_backtest(panel, params)
    assert len(backtest) == 3 * 7
    per_window = bt.window_metrics(backtest, panel, [80, 95])
    assert (per_window["mase"] == 0).all()
    assert (per_window["rmse"] == 0).all()
    champions = bt.select_champions(per_window)
    board = bt.leaderboard(per_window, champions, 7, [80, 95])
    overall = board[board["unique_id"] == bt.ALL_SERIES].set_index("model")
    assert set(overall.index) == {"SeasonalNaive", bt.CHAMPION_ROW}
    assert overall.loc[bt.CHAMPION_ROW, "n_windows"] == 2  # chosen on earlier windows only
    assert overall.loc["SeasonalNaive", "mase"] == 0
    assert board.loc[board["unique_id"] == "weekly", "is_champion"].sum() == 1


def test_champion_is_chosen_on_mean_mase_and_nested_choice_uses_earlier_windows_only():
    rows = []
    cutoffs = pd.to_datetime(["2024-01-07", "2024-01-14", "2024-01-21"])
    # A wins the first window, B the last two: overall champion B; nested: window 2 picks A.
    for cutoff, a, b in zip(cutoffs, [0.5, 1.0, 1.0], [0.9, 0.5, 0.6], strict=True):
        rows += [
            {"cutoff": cutoff, "model": "SeasonalNaive", "unique_id": "s", "mase": 1.2},
            {"cutoff": cutoff, "model": "A", "unique_id": "s", "mase": a},
            {"cutoff": cutoff, "model": "B", "unique_id": "s", "mase": b},
        ]
    per_window = pd.DataFrame(rows).assign(smape=1.0, rmse=1.0, coverage_80=0.8, coverage_95=0.95)
    assert bt.select_champions(per_window)["s"] == "B"
    nested = bt.nested_champion_metrics(per_window)
    assert nested.sort_values("cutoff")["selected_model"].tolist() == ["A", "B"]
    assert nested["mase"].mean() == pytest.approx((1.0 + 0.6) / 2)
