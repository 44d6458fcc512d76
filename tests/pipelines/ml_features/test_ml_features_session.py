"""ml_features then forecasting through Kedro (base conf): gold -> panel -> features -> models.

Delta written by Sail, read as pandas; the feature table is the one the model trained on.
"""

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
def gold_requests(spark, data_root: Path) -> int:
    """Gold's daily counts (``agg_daily_type_borough``, what the panel reads): 120 days of
    requests in two boroughs and three complaint types."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    rows = []
    for day in days:
        for borough, complaint in (("BROOKLYN", "Noise"), ("QUEENS", "Heat"), ("QUEENS", "Rodent")):
            n = int(rng.poisson(8 if day.dayofweek < 5 else 4))
            rows += [(day.date(), borough, complaint)] * n
    frame = pd.DataFrame(rows, columns=["date", "borough", "complaint_type"])
    counts = frame.groupby(["date", "borough", "complaint_type"]).size()
    table = counts.rename("request_count").astype("int64").reset_index()
    table.insert(0, "created_month", table["date"].map(lambda day: day.strftime("%Y-%m")))
    path = data_root / "gold" / "agg_daily_type_borough"
    spark.createDataFrame(table).write.format("delta").mode("overwrite").save(str(path))
    return len(frame)


def test_ml_features_feeds_forecasting(gold_requests, data_root: Path, tmp_path, monkeypatch):
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
    # one row per series, target day and step 1..7 from every origin with 28 days of history,
    # plus the 7 forecast rows of each series
    per_series = sum(119 - 28 - k + 1 for k in range(1, 8)) + 7
    assert len(features) == 8 * per_series
    assert features.groupby("unique_id").size().eq(per_series).all()
    assert {"same_dow_1", "last_year", "is_day_after_thanksgiving", "shift_covid"} <= set(features)
    future = features[features["y"].isna()]
    assert (pd.to_datetime(future["forecast_origin"]) == pd.Timestamp(panel["ds"].max())).all()
    # the feature table's data tests ran and were appended to the gold test results
    results = DeltaTable(str(data_root / "monitoring" / "gold_test_results")).to_pandas()
    mine = results[results["table_name"] == "volume_forecasting_features"]
    assert len(mine) >= 10 and set(mine["status"]) == {"pass"}

    forecasts = DeltaTable(str(data_root / "ml" / "volume_forecasts")).to_pandas()
    assert len(forecasts) == 8 * 7
    board = DeltaTable(str(data_root / "ml" / "forecast_backtest_metrics")).to_pandas()
    assert "HistGradientBoosting" in set(board["model"])  # trained on the gold feature rows
    assert pd.to_datetime(forecasts["ds"]).min() == pd.Timestamp(panel["ds"].max()) + pd.Timedelta(
        days=1
    )
    board = DeltaTable(str(data_root / "ml" / "forecast_backtest_metrics")).to_pandas()
    assert not board.duplicated(["model", "unique_id"]).any()
    assert (data_root / "reporting" / "forecast_chart.json").exists()
