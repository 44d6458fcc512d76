"""The dashboard's forecast slot: handed over by the pipeline when the run contains forecasting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
import yaml
from gold_sample import gold_tables

from nyc_lakehouse.pipelines.forecasting.pipeline import create_pipeline as forecasting_pipeline
from nyc_lakehouse.pipelines.reporting import nodes
from nyc_lakehouse.pipelines.reporting.pipeline import create_pipeline

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_reporting.yml").read_text())[
    "reporting"
]
FORECASTS = "ml.volume_forecasts"


def _daily_chart() -> go.Figure:
    daily = gold_tables()["agg_daily_summary"].to_pandas()
    return nodes.nyc311_daily_volume_chart(daily, PARAMS["columns"]["agg_daily_summary"], 7)


def _charts() -> list[go.Figure]:
    """The seven chart inputs of the dashboard node (only the daily volume one is read here)."""
    daily = _daily_chart()
    return [go.Figure(), go.Figure(), go.Figure(), daily, go.Figure(), go.Figure(), go.Figure()]


def _params(lakehouse_root: Path) -> dict:
    return {**PARAMS, "forecast": {**PARAMS["forecast"], "lakehouse_root": str(lakehouse_root)}}


def test_standalone_reporting_does_not_need_the_forecast_table():
    assert FORECASTS not in create_pipeline().inputs()


def test_with_forecasting_the_dashboard_is_built_after_the_forecast():
    combined = forecasting_pipeline() + create_pipeline(forecasts_input=FORECASTS)
    order = [n.name for n in combined.nodes]  # topologically sorted
    writer = next(n.name for n in combined.nodes if FORECASTS in n.outputs)
    assert order.index("build_dashboard") > order.index(writer)
    # without the input, nothing orders the two: the slot would depend on the node order
    alone = forecasting_pipeline() + create_pipeline()
    dashboard = next(n for n in alone.nodes if n.name == "build_dashboard")
    assert FORECASTS not in dashboard.inputs


@pytest.mark.parametrize("handed_over", [True, False])
def test_dashboard_node_draws_handed_over_forecasts_or_a_note(tmp_path, handed_over):
    forecasts = pd.DataFrame(
        {
            "unique_id": ["citywide"] * 3,
            "ds": pd.date_range("2024-01-01", periods=3),
            "model": ["MSTL"] * 3,
            "y_hat": [10.0, 11.0, 12.0],
            "y_hat_lo_80": [8.0, 9.0, 10.0],
            "y_hat_hi_80": [12.0, 13.0, 14.0],
            "forecast_origin": [pd.Timestamp("2023-12-31")] * 3,
        }
    )
    # the lakehouse root is empty: the by-name lookup finds no forecast table
    page = nodes.build_dashboard_node(
        *_charts(), _params(tmp_path), forecasts if handed_over else None
    )
    drew_forecast = "311 daily volume forecast: citywide" in page
    shows_note = "No forecast yet" in page
    assert (drew_forecast, shows_note) == (handed_over, not handed_over)


def test_volume_charts_start_at_zero_and_keep_axis_labels_apart():
    daily = _daily_chart()
    assert daily.layout.yaxis.rangemode == "tozero"
    # the first date label sat on the lowest y label in the Chromium screenshot
    assert daily.layout.xaxis.ticklabelstandoff > 0
