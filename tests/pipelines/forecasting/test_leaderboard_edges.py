"""The leaderboard's Champion rows follow the configured candidates and scope.

The Champion row scores the model chosen on the earlier windows (windows 2 and 3 here); each
model's MASE is the same in every window, so the Champion's MASE is that of the model picked.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_metrics_edges import _windows

from nyc_lakehouse.pipelines.forecasting import backtest as bt


def _per_window(mase: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Three windows in which each (series, model) scores the same MASE."""
    return _windows({key: [value] * 3 for key, value in mase.items()})


def _champion_mase(per_window: pd.DataFrame, **choice) -> dict[str, float]:
    champions = bt.select_champions(per_window, **choice)
    board = bt.leaderboard(per_window, champions, 7, [80], **choice)
    rows = board[board["model"] == bt.CHAMPION_ROW].set_index("unique_id")
    assert (rows["n_windows"] == 2).all()
    return rows["mase"].to_dict()


def test_champion_rows_choose_among_the_candidates_only():
    per_window = _per_window(
        {("s", "SeasonalNaive"): 1.0, ("s", "A"): 0.8, ("s", "B"): 0.5}  # B is not a candidate
    )
    assert _champion_mase(per_window)["s"] == pytest.approx(0.5)
    among = _champion_mase(per_window, candidates=["SeasonalNaive", "A"])
    assert among["s"] == pytest.approx(0.8)


def test_champion_rows_choose_one_model_for_all_series_with_scope_all():
    # per series: s picks A (0.5), t picks B (0.7); over both series A (0.625) beats B (0.65)
    per_window = _per_window(
        {
            ("s", "SeasonalNaive"): 1.0,
            ("s", "A"): 0.5,
            ("s", "B"): 0.6,
            ("t", "SeasonalNaive"): 1.0,
            ("t", "A"): 0.75,
            ("t", "B"): 0.7,
        }
    )
    by_series = _champion_mase(per_window)
    assert by_series["s"] == pytest.approx(0.5) and by_series["t"] == pytest.approx(0.7)
    pooled = _champion_mase(per_window, scope="all")
    assert pooled["s"] == pytest.approx(0.5) and pooled["t"] == pytest.approx(0.75)
    assert pooled[bt.ALL_SERIES] == pytest.approx(0.625)
