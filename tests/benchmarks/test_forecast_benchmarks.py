"""Forecasting benchmarks (``make bench-components``): quality against SeasonalNaive(7), speed.

Quality target: at a 14-day horizon the champion's MASE is at least 25% below SeasonalNaive(7)'s
on the sample's series. Speed target: the backtest of 50 series x 3 years in under 2 minutes on
2 cores with the default parameters. Both print their numbers; the assertions only check that the
champion beats the baseline and the backtest scored every series (targets are reported, not
asserted: they depend on the machine and on the data).
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import nodes
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

pytestmark = pytest.mark.benchmark
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def default_params() -> dict:
    text = (PROJECT_ROOT / "conf/base/parameters_forecasting.yml").read_text()
    params = yaml.safe_load(text)["forecasting"]
    params["n_jobs"] = int(os.environ.get("FORECAST_BENCH_N_JOBS", "-1"))
    return params


def sample_panel(top_n: int = 10) -> pd.DataFrame:
    """The ml.daily_volume_panel series (citywide, boroughs, top-N types) of the bundled sample."""
    from nyc_lakehouse.sources.sample import generate_nyc311

    frames = []
    for table in generate_nyc311():
        frame = table.select(
            ["unique_key", "created_date", "borough", "complaint_type"]
        ).to_pandas()
        frames.append(frame)
    requests = pd.concat(frames, ignore_index=True).drop_duplicates("unique_key")
    requests["ds"] = pd.to_datetime(requests["created_date"]).dt.normalize()
    requests["borough"] = requests["borough"].str.upper()
    top = requests["complaint_type"].value_counts().head(top_n).index
    parts = [requests.groupby("ds").size().rename("y").reset_index().assign(unique_id="citywide")]
    boroughs = ["MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"]
    for column, prefix, keep in (
        ("borough", "borough:", boroughs),
        ("complaint_type", "complaint_type:", top),
    ):
        counts = requests[requests[column].isin(keep)].groupby([column, "ds"]).size()
        counts = counts.rename("y").reset_index()
        parts.append(counts.assign(unique_id=prefix + counts[column])[["ds", "y", "unique_id"]])
    panel = pd.concat(parts, ignore_index=True)
    days = pd.date_range(panel["ds"].min(), panel["ds"].max(), freq="D")
    full = pd.MultiIndex.from_product(
        [panel["unique_id"].unique(), days], names=["unique_id", "ds"]
    )
    panel = panel.set_index(["unique_id", "ds"])["y"].reindex(full, fill_value=0).reset_index()
    return panel.assign(y=panel["y"].astype(float))


def _run(panel: pd.DataFrame, params: dict) -> tuple[pd.DataFrame, float, float]:
    prepared = nodes.prepare_panel(panel, params)
    wall, cpu = time.perf_counter(), time.process_time()
    backtest = nodes.backtest_models(prepared, params)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per_window = nodes.score_backtest(backtest, prepared, params)
    champions = nodes.choose_champions(per_window, params)
    board = nodes.build_leaderboard(per_window, champions, params)
    return board, wall, cpu


def _report(title: str, board: pd.DataFrame) -> float:
    overall = board[board["unique_id"] == bt.ALL_SERIES].set_index("model")
    columns = ["mase", "smape", "coverage_80", "coverage_95", "mase_vs_baseline", "n_windows"]
    print(f"\n{title}\n{overall[columns].sort_values('mase').round(3).to_string()}")
    ratio = float(overall.loc[bt.CHAMPION_ROW, "mase_vs_baseline"])
    print(
        f"Champion MASE is {100 * (1 - ratio):.1f}% below SeasonalNaive(7) "
        f"(target >= 25%; champion chosen on earlier windows only)"
    )
    return ratio


def test_forecast_quality_on_the_sample_series():
    params = default_params()
    assert params["horizon"] == 14
    panel = sample_panel()
    board, wall, cpu = _run(panel, params)
    ratio = _report(
        f"Sample panel: {panel['unique_id'].nunique()} series, backtest {wall:.1f} s", board
    )
    assert ratio < 1.0


def test_forecast_quality_on_a_synthetic_311_like_panel():
    params = default_params()
    board, wall, cpu = _run(synthetic_panel(n_series=20, days=3 * 365, seed=11), params)
    assert _report(f"Synthetic panel: 20 series, backtest {wall:.1f} s", board) < 1.0


def test_backtest_speed_and_scaling():
    params = default_params()
    previous = None
    for n_series in (10, 50):
        panel = synthetic_panel(n_series=n_series, days=3 * 365, seed=7)
        board, wall, cpu = _run(panel, copy.deepcopy(params))
        rows = len(panel) * params["backtest"]["n_windows"]
        print(
            f"\nBacktest {n_series} series x 3 years, {params['backtest']['n_windows']} windows, "
            f"n_jobs={params['n_jobs']}: {wall:.1f} s wall ({cpu:.1f} s CPU in this process), "
            f"{n_series / wall:.2f} series/s, {rows / wall:,.0f} training rows/s"
            + (f", x{wall / previous:.1f} time for x5 series" if previous else "")
        )
        previous = wall
        assert board.loc[board["unique_id"] != bt.ALL_SERIES, "unique_id"].nunique() == n_series
