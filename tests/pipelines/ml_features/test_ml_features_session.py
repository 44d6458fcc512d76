"""ml_features then forecasting through Kedro (base conf): Delta written by Sail, read as pandas."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def silver_requests(spark, data_root: Path) -> int:
    """A silver-shaped table: 120 days of requests in two boroughs and three complaint types."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    rows = []
    for day in days:
        for borough, complaint in (("BROOKLYN", "Noise"), ("QUEENS", "Heat"), ("QUEENS", "Rodent")):
            n = int(rng.poisson(8 if day.dayofweek < 5 else 4))
            rows += [(day.date(), borough, complaint)] * n
    frame = pd.DataFrame(rows, columns=["created_date_only", "borough", "complaint_type"])
    frame.insert(0, "unique_key", np.arange(len(frame), dtype="int64"))
    path = data_root / "silver" / "nyc311_service_requests"
    spark.createDataFrame(frame).write.format("delta").mode("overwrite").save(str(path))
    return len(frame)


def test_ml_features_feeds_forecasting(silver_requests, data_root: Path, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("NYC_LAKEHOUSE_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    bootstrap_project(PROJECT_ROOT)
    fast = {
        "ml_features": {"top_n_complaint_types": 2},
        "forecasting": {
            "horizon": 7,
            "backtest": {"n_windows": 2, "step": 7},
            # the forecasts table is scored by the registered champion: MLflow stays on
            "mlflow": {"registered_model_name": "ml_features_test_forecaster"},
            "models": {
                name: {"enabled": False}
                for name in (
                    "AutoETS",
                    "AutoTheta",
                    "AutoARIMA",
                    "MSTL",
                    "HistGradientBoosting",
                    "Ensemble",
                )
            },
        },
    }
    try:
        with KedroSession.create(PROJECT_ROOT, runtime_params=fast) as session:
            session.run(pipeline_names=["ml_features", "forecasting"])
    finally:
        while (
            mlflow.active_run()
        ):  # see test_pipeline_csv_panel.py: a finished run left on the stack
            mlflow.end_run()
        mlflow.set_tracking_uri(None)

    panel = DeltaTable(str(data_root / "ml" / "daily_volume_panel")).to_pandas()
    assert set(panel["unique_id"]) == {
        "citywide",
        "borough:MANHATTAN",
        "borough:BRONX",
        "borough:BROOKLYN",
        "borough:QUEENS",
        "borough:STATEN ISLAND",
        "complaint_type:Noise",
        "complaint_type:Heat",
    }
    assert panel.groupby("unique_id").size().eq(119).all()  # the last (partial) day dropped
    assert panel.loc[panel["unique_id"] == "borough:BRONX", "y"].eq(0).all()
    features = DeltaTable(str(data_root / "gold" / "volume_forecasting_features")).to_pandas()
    assert len(features) == len(panel)
    # every feature the issue names, with the shipped defaults (lags 1/7/14/28/364, 7/28 windows)
    shipped = {f"lag_{n}" for n in (1, 7, 14, 28, 364)} | {
        f"rolling_{stat}_{n}" for stat in ("mean", "std") for n in (7, 28)
    }
    calendar = {"day_of_week", "month", "quarter", "is_holiday", "days_to_next_holiday"}
    assert shipped | calendar | {"days_since_previous_holiday", "trend"} <= set(features)

    forecasts = DeltaTable(str(data_root / "ml" / "volume_forecasts")).to_pandas()
    assert len(forecasts) == 8 * 7
    assert pd.to_datetime(forecasts["ds"]).min() == pd.Timestamp(panel["ds"].max()) + pd.Timedelta(
        days=1
    )
    board = DeltaTable(str(data_root / "ml" / "forecast_backtest_metrics")).to_pandas()
    assert not board.duplicated(["model", "unique_id"]).any()
    assert (data_root / "reporting" / "forecast_chart.json").exists()
