"""window_metrics at a zero or unknown MASE scale and for a model without an interval; sMAPE
of a day where actual and forecast are both 0.

Two series of a constant 5.0, scored on two days after the cutoff 2024-01-08: ``flat`` has
8 training days (one seasonal pair, |5 - 5| = 0: a zero scale), ``short`` 5 (fewer than a
season: no seasonal scale; with season length 1 its scale is 0). Model ``M`` forecasts 5.0
exactly with the interval [4, 6]; model ``N`` forecasts 6.0 then 5.0 (MAE 0.5) without one.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import metrics

CUTOFF = pd.Timestamp("2024-01-08")
SCORED = pd.date_range("2024-01-09", periods=2, freq="D")
TRAINING_DAYS = {"flat": 8, "short": 5}


def _panel() -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "unique_id": uid,
                "ds": pd.date_range(end=SCORED[-1], periods=days + len(SCORED), freq="D"),
                "y": 5.0,
            }
        )
        for uid, days in TRAINING_DAYS.items()
    ]
    return pd.concat(frames, ignore_index=True)


def _backtest() -> pd.DataFrame:
    forecasts = {"M": ([5.0, 5.0], 4.0, 6.0), "N": ([6.0, 5.0], np.nan, np.nan)}
    rows = [
        {
            "cutoff": CUTOFF,
            "unique_id": uid,
            "ds": day,
            "model": model,
            "y_hat": y_hat,
            "y_hat_lo_80": lo,
            "y_hat_hi_80": hi,
            "y": 5.0,
        }
        for uid in TRAINING_DAYS
        for model, (values, lo, hi) in forecasts.items()
        for day, y_hat in zip(SCORED, values, strict=True)
    ]
    return pd.DataFrame(rows)


def _scores(season_length: int = 7) -> dict[tuple[str, str], dict]:
    result = bt.window_metrics(_backtest(), _panel(), [80], season_length)
    assert (result["cutoff"] == CUTOFF).all()
    return {(r["model"], r["unique_id"]): r for r in result.to_dict("records")}


def test_a_zero_scale_scores_a_perfect_forecast_0_and_any_other_nan_not_infinity():
    scores = _scores()
    # every (model, series) keeps its row, also those whose MASE or coverage is unknown
    assert sorted(scores) == [("M", "flat"), ("M", "short"), ("N", "flat"), ("N", "short")]
    # flat: the scale of its 8 days up to and including the cutoff is 0
    assert scores[("M", "flat")]["mase"] == 0.0
    assert math.isnan(scores[("N", "flat")]["mase"])  # 0.5 / 0
    assert scores[("N", "flat")]["rmse"] == pytest.approx(math.sqrt(0.5))
    # short: 5 days have no lag-7 pair, so not even a perfect forecast gets a MASE
    assert math.isnan(scores[("M", "short")]["mase"])
    assert math.isnan(scores[("N", "short")]["mase"])


def test_a_zero_scale_follows_the_season_length_passed_in():
    # with season length 1, short's 5 constant days give a lag-1 scale of 0
    scores = _scores(season_length=1)
    assert scores[("M", "short")]["mase"] == 0.0
    assert scores[("M", "flat")]["mase"] == 0.0
    assert math.isnan(scores[("N", "short")]["mase"])


def test_a_model_without_an_interval_has_no_coverage_rather_than_zero():
    scores = _scores()
    assert scores[("M", "flat")]["coverage_80"] == 1.0
    assert scores[("M", "short")]["coverage_80"] == 1.0
    assert math.isnan(scores[("N", "flat")]["coverage_80"])
    assert math.isnan(scores[("N", "short")]["coverage_80"])


def test_smape_counts_a_day_where_both_are_zero_as_0_without_reading_unset_memory():
    # the 0/0 days count 0, computed without a division by zero (numpy would warn) and without
    # reading an entry the division skipped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.smape([0.0, 0.0, 4.0], [0.0, 0.0, 2.0]) == pytest.approx(100 * (2 / 3) / 3)
