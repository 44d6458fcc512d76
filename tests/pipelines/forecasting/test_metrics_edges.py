"""Metric boundaries, the cutoffs' validation, champion choice and the leaderboard's columns,
each worked out by hand on a few numbers."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import metrics


# metrics -------------------------------------------------------------------------------------
def test_coverage_counts_values_on_either_bound_as_inside():
    assert metrics.coverage([1.0, 3.0, 5.0], [1.0, 0.0, 0.0], [2.0, 3.0, 4.0]) == pytest.approx(
        2 / 3
    )


def test_coverage_needs_both_bounds():
    assert math.isnan(metrics.coverage([1.0], [np.nan], [2.0]))
    assert math.isnan(metrics.coverage([1.0], [0.0], [np.nan]))


def test_metrics_take_plain_lists_with_missing_values_and_decimals():
    # None in a plain list is a missing value (NaN), as in a float column
    assert math.isnan(metrics.coverage([1, 2], [None, None], [None, None]))
    assert math.isnan(metrics.rmse([1, None], [1, 2]))
    assert math.isnan(metrics.rmse([1, 2], [1, None]))
    # Spark decimal columns arrive in pandas as Decimal objects
    actual, forecast = [Decimal("10"), Decimal("20")], [Decimal("12"), Decimal("18")]
    assert metrics.rmse(actual, forecast) == pytest.approx(2.0)
    assert metrics.smape(actual, forecast) == pytest.approx(100 * (4 / 22 + 4 / 38) / 2)
    assert metrics.smape([10.0, 20.0], forecast) == pytest.approx(100 * (4 / 22 + 4 / 38) / 2)
    assert metrics.coverage(actual, [Decimal("9"), Decimal("21")], [11.0, 22.0]) == 0.5
    assert metrics.coverage([10.0, 20.0], [9.0, 21.0], [Decimal("11"), Decimal("22")]) == 0.5


def test_smape_small_denominators_count():
    # actual 0, forecast 1: |a| + |f| = 1, ratio 2 * 1 / 1 = 2 -> 200%; the 0/0 day counts 0
    assert metrics.smape([0.0, 0.0], [1.0, 0.0]) == pytest.approx(100.0)
    assert metrics.smape([0.5], [0.25]) == pytest.approx(100 * 2 * 0.25 / 0.75)


# backtest_cutoffs ----------------------------------------------------------------------------
def test_cutoffs_accept_ones_and_reject_zeros_of_each_setting():
    last = pd.Timestamp("2024-03-31")
    assert bt.backtest_cutoffs(last, horizon=1, n_windows=1, step=1) == [pd.Timestamp("2024-03-30")]
    for bad in ({"horizon": 0}, {"n_windows": 0}, {"step": 0}):
        settings = {"horizon": 1, "n_windows": 1, "step": 1, **bad}
        with pytest.raises(ValueError, match="^horizon, n_windows and step must all be >= 1$"):
            bt.backtest_cutoffs(last, **settings)


# window_metrics ------------------------------------------------------------------------------
def test_window_metrics_rows_are_sorted_by_cutoff_model_and_series():
    days = pd.date_range("2024-01-01", periods=20, freq="D")
    panel = pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": days, "y": np.arange(20.0)}) for uid in "ab"]
    )
    rows = []
    for cutoff in ("2024-01-15", "2024-01-12"):
        for model in ("Z", "A"):
            for uid in "ba":
                rows.append(
                    {
                        "cutoff": pd.Timestamp(cutoff),
                        "unique_id": uid,
                        "ds": pd.Timestamp(cutoff) + pd.Timedelta(days=1),
                        "model": model,
                        "y_hat": 1.0,
                        "y_hat_lo_80": 0.0,
                        "y_hat_hi_80": 2.0,
                        "y": 1.0,
                    }
                )
    got = bt.window_metrics(pd.DataFrame(rows), panel, [80])
    assert list(zip(got["cutoff"].dt.day, got["model"], got["unique_id"], strict=True)) == [
        (12, "A", "a"), (12, "A", "b"), (12, "Z", "a"), (12, "Z", "b"),
        (15, "A", "a"), (15, "A", "b"), (15, "Z", "a"), (15, "Z", "b"),
    ]  # fmt: skip


# select_champions ----------------------------------------------------------------------------
def _windows(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    cutoffs = pd.to_datetime(["2024-01-07", "2024-01-14", "2024-01-21"])
    rows = [
        {"cutoff": cutoffs[i], "model": model, "unique_id": uid, "mase": mase}
        for (uid, model), series in values.items()
        for i, mase in enumerate(series)
    ]
    return pd.DataFrame(rows).assign(smape=1.0, rmse=1.0, coverage_80=0.8)


def test_champions_among_candidates_ties_to_the_simpler_and_all_nan_keeps_the_baseline():
    per_window = _windows(
        {
            ("s", "SeasonalNaive"): [1.0, 1.0, 1.0],
            ("s", "A"): [1.0, 1.0, 1.0],  # ties with the baseline: the baseline (listed first)
            ("s", "B"): [0.5, 0.5, 0.5],
            ("t", "SeasonalNaive"): [np.nan, np.nan, np.nan],
            ("t", "A"): [np.nan, np.nan, np.nan],
        }
    )
    assert bt.select_champions(per_window).to_dict() == {"s": "B", "t": "SeasonalNaive"}
    among = bt.select_champions(per_window, candidates=["SeasonalNaive", "A"])
    assert among.to_dict() == {"s": "SeasonalNaive", "t": "SeasonalNaive"}
    assert bt.select_champions(per_window, candidates=["A"]).to_dict() == {
        "s": "A",
        "t": "SeasonalNaive",
    }


def test_one_champion_for_all_series_where_it_forecasts():
    per_window = _windows(
        {
            ("s", "SeasonalNaive"): [1.0, 1.0, 1.0],
            ("s", "A"): [0.5, 0.5, 0.5],
            ("s", "B"): [0.6, 0.6, 0.6],
            ("t", "SeasonalNaive"): [1.0, 1.0, 1.0],
            ("t", "A"): [0.9, 0.9, 0.9],
            ("t", "B"): [0.7, 0.7, 0.7],  # t alone would pick B; A is best over both series
            ("u", "SeasonalNaive"): [1.0, 1.0, 1.0],
            ("u", "B"): [0.8, 0.8, 0.8],  # A does not forecast u: u keeps its own choice
        }
    )
    assert bt.select_champions(per_window).to_dict() == {"s": "A", "t": "B", "u": "B"}
    pooled = bt.select_champions(per_window, scope="all")
    assert pooled.to_dict() == {"s": "A", "t": "A", "u": "B"}
    among = bt.select_champions(per_window, candidates=["SeasonalNaive", "B"], scope="all")
    assert among.to_dict() == {"s": "B", "t": "B", "u": "B"}
    with pytest.raises(ValueError, match="champion.scope"):
        bt.select_champions(per_window, scope="global")
    # the honest score uses the same rule: chosen on window 1, scored on window 2, ...
    nested = bt.nested_champion_metrics(per_window, scope="all")
    assert set(nested.loc[nested["unique_id"] == "t", "selected_model"]) == {"A"}
    nested = bt.nested_champion_metrics(per_window, candidates=["SeasonalNaive"])
    assert set(nested["selected_model"]) == {"SeasonalNaive"}


# leaderboard ---------------------------------------------------------------------------------
def test_leaderboard_columns_ratios_ranks_and_champion_flags():
    per_window = _windows(
        {
            ("s", "SeasonalNaive"): [2.0, 2.0, 2.0],
            ("s", "A"): [1.0, 1.0, 1.0],
            ("s", "B"): [1.0, 1.0, 1.0],
            ("s", "C"): [1.0, 1.0, 1.0],
            ("s", "D"): [np.nan, np.nan, np.nan],
            ("u", "A"): [3.0, 3.0, 3.0],  # no baseline for this series
        }
    )
    champions = pd.Series({"s": "A", "u": "A"}, name="model")
    board = bt.leaderboard(per_window, champions, horizon=7, levels=[80])
    assert list(board.columns) == [
        "unique_id", "model", "rank", "is_champion", "mase", "smape", "rmse", "coverage_80",
        "mase_vs_baseline", "baseline_mase", "n_windows", "n_series", "horizon",
    ]  # fmt: skip
    assert list(board.index) == list(range(len(board)))
    s = board[board["unique_id"] == "s"].set_index("model")
    # three-way tie at MASE 1 shares rank 1 (min method); the baseline is 4th, no MASE is last
    assert s["rank"].to_dict() == {
        "A": 1, "B": 1, "C": 1, "Champion": 1, "SeasonalNaive": 5, "D": 6
    }  # fmt: skip
    assert s.loc["A", "mase_vs_baseline"] == 0.5 and s.loc["A", "baseline_mase"] == 2.0
    assert s.loc["SeasonalNaive", "mase_vs_baseline"] == 1.0
    assert s["is_champion"].to_dict() == {
        "A": True, "B": False, "C": False, "Champion": False, "SeasonalNaive": False, "D": False
    }  # fmt: skip
    assert (board["horizon"] == 7).all() and (s["n_series"] == 1).all()
    u = board[board["unique_id"] == "u"].set_index("model")
    assert math.isnan(u.loc["A", "baseline_mase"]) and math.isnan(u.loc["A", "mase_vs_baseline"])
    assert bool(u.loc["A", "is_champion"]) is True
    overall = board[board["unique_id"] == bt.ALL_SERIES].set_index("model")
    assert overall.loc["A", "n_series"] == 2 and overall.loc["SeasonalNaive", "n_series"] == 1
    assert overall.loc["A", "mase"] == pytest.approx(2.0)  # mean over series of 1 and 3
    assert overall.loc["A", "baseline_mase"] == 2.0  # the mean of the known baselines


def test_a_zero_baseline_gives_no_ratio_rather_than_infinity():
    per_window = _windows({("s", "SeasonalNaive"): [0.0] * 3, ("s", "A"): [1.0] * 3})
    board = bt.leaderboard(per_window, pd.Series({"s": "SeasonalNaive"}), 7, [80])
    ratios = board[board["unique_id"] == "s"].set_index("model")["mase_vs_baseline"]
    assert math.isnan(ratios["A"]) and math.isnan(ratios["SeasonalNaive"])


def test_mase_without_a_usable_scale_is_nan():
    assert math.isnan(metrics.mase([1.0], [2.0], float("nan")))
    assert math.isnan(metrics.mase([1.0], [2.0], float("inf")))
    assert metrics.mase([Decimal("10"), Decimal("20")], [12.0, 18.0], 4.0) == 0.5
    assert metrics.mase([10.0, 20.0], [Decimal("12"), Decimal("18")], 4.0) == 0.5


def test_seasonal_naive_scale_of_one_season_or_with_gaps():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice": the length is checked first
        assert math.isnan(metrics.seasonal_naive_scale([1.0] * 7, 7))
    # a missing value (None) makes the scale unknown rather than failing
    assert math.isnan(metrics.seasonal_naive_scale([1, 2, 3, 4, 5, 6, 7, 8, None], 7))


def test_nested_choice_with_one_window_is_empty_with_the_selected_model_column():
    per_window = _windows({("s", "SeasonalNaive"): [1.0, 1.0, 1.0], ("s", "A"): [0.5] * 3})
    one = per_window[per_window["cutoff"] == per_window["cutoff"].min()]
    nested = bt.nested_champion_metrics(one)
    assert nested.empty and list(nested.columns) == [*one.columns, "selected_model"]
    several = bt.nested_champion_metrics(per_window)
    assert list(several.index) == [0, 1]
    assert several["selected_model"].tolist() == ["A", "A"]


def test_leaderboard_ranks_are_integers():
    per_window = _windows({("s", "SeasonalNaive"): [2.0] * 3, ("s", "A"): [1.0] * 3})
    board = bt.leaderboard(per_window, pd.Series({"s": "A"}), 7, [80])
    assert board["rank"].dtype == "int64"


def test_conformal_quantile_is_the_ceil_n_plus_1_times_level_th_smallest():
    from nyc_lakehouse.pipelines.forecasting.models import _conformal_quantile

    scores = np.array([7.0, 1.0, np.nan, 3.0, 10.0, 2.0, 9.0, 4.0, 6.0, 8.0, 5.0])
    # ten finite scores: rank ceil(11 * 0.8) = 9 -> the 9th smallest, 9
    assert _conformal_quantile(scores, 0.8) == 9.0
    assert _conformal_quantile(scores, 0.5) == 6.0  # ceil(5.5) = 6
    assert _conformal_quantile(scores, 0.99) == 10.0  # capped at the largest
    assert _conformal_quantile(np.array([4.0]), 0.8) == 4.0
    assert math.isnan(_conformal_quantile(np.array([np.nan]), 0.8))
    assert math.isnan(_conformal_quantile(np.array([]), 0.8))


def test_tidy_intervals_clips_at_zero_not_above():
    from nyc_lakehouse.pipelines.forecasting.models import tidy_intervals

    raw = pd.DataFrame(
        {"y_hat": [0.5, -2.0], "y_hat_lo_80": [-1.0, -3.0], "y_hat_hi_80": [2.0, -1.0]}
    )
    clipped = tidy_intervals(raw, [80], clip_at_zero=True)
    assert clipped["y_hat"].tolist() == [0.5, 0.0]
    assert clipped["y_hat_lo_80"].tolist() == [0.0, 0.0]
    assert clipped["y_hat_hi_80"].tolist() == [2.0, 0.0]
    kept = tidy_intervals(raw, [80], clip_at_zero=False)
    assert kept["y_hat"].tolist() == [0.5, -2.0] and kept["y_hat_lo_80"].tolist() == [-1.0, -3.0]
