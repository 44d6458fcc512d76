"""The MLflow run's metrics and files when the lakehouse has no 311 panel (a 911-only run).

The record node's outputs go to kedro-mlflow datasets (conf/base/catalog_ml.yml); without a
panel they must still be values those datasets can save: no metrics, empty tables, a chart.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from nyc_lakehouse.pipelines.forecasting.no_panel import NO_PANEL, skip_without_panel
from nyc_lakehouse.pipelines.forecasting.pipeline import create_pipeline


def test_without_a_panel_the_run_records_no_metrics_and_empty_files():
    pipeline = skip_without_panel(create_pipeline())
    record = next(n for n in pipeline.nodes if n.name == "record_mlflow_run")
    outputs = record.run({name: NO_PANEL for name in record.inputs})
    assert outputs["forecasting.run_metrics"] == {}
    board = outputs["forecasting.run_leaderboard_csv"]
    forecasts = outputs["forecasting.run_forecasts_csv"]
    assert isinstance(board, pd.DataFrame) and board.empty and "mase" in board.columns
    assert isinstance(forecasts, pd.DataFrame) and forecasts.empty and "y_hat" in forecasts
    for chart in ("forecasting.run_chart_html", "forecasting.run_chart_json"):
        assert isinstance(outputs[chart], go.Figure)
        assert "no 311 data" in outputs[chart].layout.annotations[0].text
