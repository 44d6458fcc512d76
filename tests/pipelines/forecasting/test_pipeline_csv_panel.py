"""The forecasting pipeline end to end from a CSV panel (conf env `csv_panel`), with real MLflow."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient

from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("NYC_LAKEHOUSE_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    yield uri
    # kedro-mlflow finishes its run in the store but can leave it on this thread's active-run
    # stack; clear it so the next KedroSession does not mistake it for an orchestrator's run.
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_forecasting_runs_from_a_csv_panel(
    data_root: Path, tmp_path: Path, mlflow_store, monkeypatch
):
    panel = synthetic_panel(n_series=2, days=160, start="2024-01-01", seed=5)
    panel["unique_id"] = panel["unique_id"].map({"series_000": "shop_a", "series_001": "shop_b"})
    csv = tmp_path / "my_panel.csv"
    panel.assign(ds=panel["ds"].dt.strftime("%Y-%m-%d")).to_csv(csv, index=False)
    monkeypatch.setenv("NYC_LAKEHOUSE_PANEL_CSV", str(csv))

    bootstrap_project(PROJECT_ROOT)
    extra = {
        "forecasting": {
            "horizon": 7,
            "backtest": {"n_windows": 2, "step": 7},
            "mlflow": {"registered_model_name": "csv_panel_test_model"},
            "models": {
                "AutoETS": {"enabled": True},
                "AutoTheta": {"enabled": False},
                "AutoARIMA": {"enabled": False},
                "MSTL": {"enabled": False},
                "HistGradientBoosting": {"enabled": True, "max_iter": 20},
                "Ensemble": {"enabled": False},
            },
        }
    }
    with KedroSession.create(PROJECT_ROOT, env="csv_panel", runtime_params=extra) as session:
        session.run(pipeline_names=["forecasting"])

    forecasts = pd.read_csv(data_root / "forecasts" / "volume_forecasts.csv", parse_dates=["ds"])
    assert len(forecasts) == 2 * 7
    assert set(forecasts["unique_id"]) == {"shop_a", "shop_b"}
    assert forecasts["ds"].min() == panel["ds"].max() + pd.Timedelta(days=1)
    assert (forecasts["y_hat_lo_95"] <= forecasts["y_hat"]).all()
    assert (forecasts["y_hat"] <= forecasts["y_hat_hi_95"]).all()
    board = pd.read_csv(data_root / "forecasts" / "forecast_backtest_metrics.csv")
    assert {"SeasonalNaive", "AutoETS", "Champion"} <= set(board["model"])
    assert "__all__" in set(board["unique_id"])
    assert (data_root / "forecasts" / "forecast_chart.json").exists()
    # the model's feature rows, built from the CSV with the same function as the gold table,
    # and their data tests (DuckDB: no Spark in this env)
    features = pd.read_parquet(data_root / "forecasts" / "volume_forecasting_features.parquet")
    assert set(features["unique_id"]) == {"shop_a", "shop_b"}
    assert features.loc[features["y"].isna(), "horizon_step"].tolist() == [*range(1, 8)] * 2
    tests = pd.read_csv(data_root / "forecasts" / "feature_test_results.csv")
    assert len(tests) >= 10 and set(tests["status"]) == {"pass"}
    assert "HistGradientBoosting" in set(board["model"])

    client = MlflowClient(tracking_uri=mlflow_store)
    experiment = client.get_experiment_by_name("nyc_lakehouse")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["forecasting.horizon"] == "7"
    # kedro-mlflow's catalog datasets logged the backtest metrics and files in the run that
    # holds the registered model
    overall = board[board["unique_id"] == "__all__"].set_index("model")
    for model in ("SeasonalNaive", "AutoETS", "HistGradientBoosting", "Champion"):
        assert run.data.metrics[f"backtest.{model}.mase"] == pytest.approx(
            overall.loc[model, "mase"]
        )
    assert run.data.metrics["backtest.champion.series_count"] == 2
    assert run.data.tags["horizon"] == "7"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "forecast_backtest_metrics.csv",
        "volume_forecasts.csv",
        "forecast_chart.html",
        "forecast_chart.json",
    } <= artifacts
    logged = pd.read_csv(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="forecast_backtest_metrics.csv"
        )
    )
    pd.testing.assert_frame_equal(logged, board)
    version = client.get_model_version_by_alias("csv_panel_test_model", "champion")
    assert version.run_id == run.info.run_id
    model = mlflow.pyfunc.load_model("models:/csv_panel_test_model@champion")
    predicted = model.predict(pd.DataFrame({"unique_id": ["shop_b"]}))
    pd.testing.assert_series_equal(
        predicted["y_hat"].reset_index(drop=True),
        forecasts.loc[forecasts["unique_id"] == "shop_b", "y_hat"].reset_index(drop=True),
        check_names=False,
    )
