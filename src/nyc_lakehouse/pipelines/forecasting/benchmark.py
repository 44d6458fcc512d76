"""The forecasting benchmark: backtest leaderboards against SeasonalNaive(7) on known panels.

``make bench`` (bench/lakehouse_bench.py) and ``make bench-components``
(tests/benchmarks/test_forecast_benchmarks.py) print these: the bundled sample's series (as
``ml.daily_volume_panel`` would hold them) and a second, differently shaped synthetic panel
(:func:`~nyc_lakehouse.pipelines.forecasting.synthetic.synthetic_panel` with city-like weather
shocks and storms), each through the pipeline's own nodes with the shipped parameters.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import nodes
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

PROJECT_ROOT = Path(__file__).resolve().parents[4]
BOROUGHS = ("MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND")
COLUMNS = ("mase", "mase_vs_baseline", "smape", "coverage_80", "coverage_95", "n_windows")


def shipped_params(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """``conf/base/parameters_forecasting.yml``'s ``forecasting`` section."""
    text = (project_root / "conf" / "base" / "parameters_forecasting.yml").read_text()
    return yaml.safe_load(text)["forecasting"]


def sample_panel(top_n: int = 10) -> pd.DataFrame:
    """The bundled sample's ``ml.daily_volume_panel`` series: citywide, boroughs, top-N types."""
    from nyc_lakehouse.sources.sample import generate_nyc311

    columns = ["unique_key", "created_date", "borough", "complaint_type"]
    frames = [table.select(columns).to_pandas() for table in generate_nyc311()]
    requests = pd.concat(frames, ignore_index=True).drop_duplicates("unique_key")
    requests["ds"] = pd.to_datetime(requests["created_date"]).dt.normalize()
    requests["borough"] = requests["borough"].str.upper()
    top = requests["complaint_type"].value_counts().head(top_n).index
    parts = [requests.groupby("ds").size().rename("y").reset_index().assign(unique_id="citywide")]
    for column, prefix, keep in (
        ("borough", "borough:", list(BOROUGHS)),
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


def city_shaped_panel(n_series: int = 16, seed: int = 11) -> pd.DataFrame:
    """The second panel: four years (2016-2019) of city-like series, shaped unlike the sample:
    weather shocks that last days, storms, a stronger year-end dip."""
    return synthetic_panel(
        n_series=n_series, start="2016-01-01", days=4 * 365, seed=seed, weather=True
    )


def backtest_windows(
    panel: pd.DataFrame, params: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The pipeline's nodes on ``panel`` up to the per-window metrics, and each step's seconds."""
    params = copy.deepcopy(dict(params))
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    prepared = nodes.prepare_panel(panel, params)
    features = nodes.build_volume_forecasting_features(prepared, params)
    seconds["features"] = time.perf_counter() - started
    started = time.perf_counter()
    backtest = nodes.backtest_models(prepared, features, params)
    seconds["backtest"] = time.perf_counter() - started
    return nodes.score_backtest(backtest, prepared, params), seconds


def run_leaderboard(
    panel: pd.DataFrame, params: Mapping[str, Any]
) -> tuple[pd.DataFrame, dict[str, float]]:
    """The leaderboard the pipeline would write for ``panel``, and each step's seconds."""
    per_window, seconds = backtest_windows(panel, params)
    champions = nodes.choose_champions(per_window, params)
    return nodes.build_leaderboard(per_window, champions, params), seconds


def overall(board: pd.DataFrame) -> pd.DataFrame:
    """The all-series rows, best MASE first."""
    rows = board[board["unique_id"] == bt.ALL_SERIES].set_index("model")
    return rows[list(COLUMNS)].sort_values("mase")


def report(title: str, board: pd.DataFrame, seconds: Mapping[str, float]) -> str:
    """A printable leaderboard with the champion's ratio to SeasonalNaive(7)."""
    table = overall(board)
    ratio = float(table.loc[bt.CHAMPION_ROW, "mase_vs_baseline"])
    timing = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    return (
        f"{title} ({timing})\n{table.round(3).to_string()}\n"
        f"Champion (chosen on earlier windows only): MASE {ratio:.3f}x SeasonalNaive(7), "
        f"{100 * (1 - ratio):.1f}% below; 80% intervals cover "
        f"{100 * float(table.loc[bt.CHAMPION_ROW, 'coverage_80']):.0f}% of days"
    )
