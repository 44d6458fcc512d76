"""The benchmark's panels and report (what ``make bench`` prints), on small inputs."""

from __future__ import annotations

import pandas as pd

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import benchmark
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel


def test_the_city_shaped_panel_is_four_years_of_weather_moved_series():
    panel = benchmark.city_shaped_panel(n_series=2, seed=1)
    assert panel.groupby("unique_id")["ds"].agg(["min", "size"]).to_dict("list") == {
        "min": [pd.Timestamp("2016-01-01")] * 2,
        "size": [4 * 365] * 2,
    }
    calm = synthetic_panel(n_series=2, start="2016-01-01", days=4 * 365, seed=1)
    assert not panel["y"].equals(calm["y"])  # the same series, moved by weather and storms
    # the quiet week between Christmas and New Year's Day
    by_day = panel[panel["unique_id"] == "series_000"].set_index("ds")["y"]
    december = by_day["2017-12-04":"2017-12-22"].mean()
    assert by_day["2017-12-26":"2017-12-30"].mean() < december


def test_the_leaderboard_report_names_the_champion_ratio_and_coverage(make_params):
    params = make_params(("SeasonalNaive", "AutoETS"))
    panel = synthetic_panel(n_series=2, days=120, start="2023-01-01", seed=2)
    board, seconds = benchmark.run_leaderboard(panel, params)
    table = benchmark.overall(board)
    assert {bt.CHAMPION_ROW, "SeasonalNaive", "AutoETS"} <= set(table.index)
    assert table.loc["SeasonalNaive", "mase_vs_baseline"] == 1.0
    assert set(seconds) == {"features", "backtest"}
    text = benchmark.report("tiny", board, seconds)
    ratio = table.loc[bt.CHAMPION_ROW, "mase_vs_baseline"]
    assert f"MASE {ratio:.3f}x SeasonalNaive(7)" in text and "80% intervals cover" in text
