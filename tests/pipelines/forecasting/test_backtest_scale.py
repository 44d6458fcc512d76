"""The backtest's MASE on a panel where the naive(1) and seasonal-naive(7) scales differ.

The known-panel test elsewhere has a perfect forecast (MASE 0 whatever the scale), so it cannot
tell which scale divides the error; this one can, and every number is worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import metrics

# Training window (days up to the cutoff): 2024-01-01 .. 2024-01-08.
TRAIN = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 9.0]
# Scored days after the cutoff: 2024-01-09, 2024-01-10.
ACTUAL = [5.0, 5.0]
FORECAST = [7.0, 3.0]

# Seasonal naive (lag 7) in-sample errors of TRAIN: one pair, |9 - 5| = 4   -> scale 4.
# Naive (lag 1) errors: six |5 - 5| = 0 and one |9 - 5| = 4, mean 4 / 7     -> scale 4/7.
# Forecast MAE: (|5 - 7| + |5 - 3|) / 2 = 2.
# MASE with the seasonal scale: 2 / 4 = 0.5 (naive(1) would give 2 / (4/7) = 3.5).
# Were the scored days leaked into the scale, lag-7 errors over all ten days would be
# |9-5|, |5-5|, |5-5| -> 4/3 and the MASE 1.5.
SEASONAL_SCALE = 4.0
NAIVE_SCALE = 4.0 / 7.0
EXPECTED_MASE = 0.5


def _panel() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=len(TRAIN) + len(ACTUAL), freq="D")
    return pd.DataFrame({"unique_id": "s", "ds": days, "y": TRAIN + ACTUAL})


def _backtest(panel: pd.DataFrame) -> pd.DataFrame:
    scored = panel.iloc[len(TRAIN) :]
    return pd.DataFrame(
        {
            "cutoff": pd.Timestamp("2024-01-08"),
            "unique_id": "s",
            "ds": scored["ds"].to_numpy(),
            "model": "M",
            "y_hat": FORECAST,
            "y_hat_lo_80": [6.0, 2.0],
            "y_hat_hi_80": [8.0, 6.0],
            "y": scored["y"].to_numpy(),
        }
    )


def test_the_hand_worked_scales_differ():
    assert metrics.seasonal_naive_scale(TRAIN, 7) == pytest.approx(SEASONAL_SCALE)
    assert metrics.seasonal_naive_scale(TRAIN, 1) == pytest.approx(NAIVE_SCALE)
    assert metrics.seasonal_naive_scale(TRAIN) == pytest.approx(SEASONAL_SCALE)  # default: 7


def test_window_mase_is_scaled_by_the_seasonal_naive_of_the_training_window():
    panel = _panel()
    (row,) = bt.window_metrics(_backtest(panel), panel, [80]).to_dict("records")
    assert row["mase"] == pytest.approx(EXPECTED_MASE)
    assert row["rmse"] == pytest.approx(2.0)  # sqrt((4 + 4) / 2)
    # sMAPE: 2|5-7|/(5+7) = 1/3 and 2|5-3|/(5+3) = 1/2, mean 5/12, in percent
    assert row["smape"] == pytest.approx(100 * 5 / 12)
    # 5 lies below [6, 8] on the first day and inside [2, 6] on the second: half covered.
    assert row["coverage_80"] == pytest.approx(0.5)
    assert (row["cutoff"], row["model"], row["unique_id"]) == (pd.Timestamp("2024-01-08"), "M", "s")


def test_a_season_length_passed_in_is_the_one_used():
    panel = _panel()
    per_window = bt.window_metrics(_backtest(panel), panel, [80], season_length=1)
    assert per_window["mase"].iloc[0] == pytest.approx(2.0 / NAIVE_SCALE)
    assert np.isclose(per_window["mase"].iloc[0], 3.5)
