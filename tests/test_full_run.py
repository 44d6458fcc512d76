"""The default `kedro run` (what `make run` does) on a small window of the bundled sample.

Every layer in one Kedro session, as a user runs it: every table the issues name exists and is
not empty, the data tests pass, the forecast is tracked, the dashboard is written, and a second
run changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from deltalake import DeltaTable
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from nyc_lakehouse.pipelines.gold.tables import TABLES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

WINDOW = {"start": "2021-01-01", "end": "2022-12-31"}
SMALL_RUN = {
    "nyc311": {"ingestion": {**WINDOW, "sample_scale": 0.1}},
    "nyc911": {"ingestion": WINDOW},
    "ml_features": {"top_n_complaint_types": 2},
    "forecasting": {
        "horizon": 7,
        "backtest": {"n_windows": 2, "step": 7},
        "models": {name: {"enabled": False} for name in ("AutoARIMA", "MSTL", "AutoTheta")},
    },
}
TABLES_OF_A_FULL_RUN = [
    "bronze/nyc311_service_requests",
    "bronze/nyc911_e2e_weekly",
    "silver/nyc311_service_requests",
    "silver/nyc911_e2e_weekly",
    *[f"gold/{name}" for name in TABLES],
    "gold/volume_forecasting_features",
    "ml/daily_volume_panel",
    "ml/forecast_backtest_metrics",
    "ml/volume_forecasts",
    "monitoring/gold_test_results",
    "monitoring/dq_results",
    "monitoring/pipeline_metrics",
]


def _rows(data_root: Path, table: str) -> int:
    return DeltaTable(str(data_root / table)).to_pyarrow_table().num_rows


def _rows_if_any(data_root: Path, table: str) -> int:
    """Rows of a table that a run may legitimately not create (nothing quarantined)."""
    return _rows(data_root, table) if (data_root / table / "_delta_log").exists() else 0


def _run(spark) -> None:
    with KedroSession.create(PROJECT_ROOT, runtime_params=SMALL_RUN) as session:
        session.run()


def test_kedro_run_builds_every_layer_and_a_rerun_changes_nothing(
    spark, data_root, tmp_path, monkeypatch
):
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("NYC_LAKEHOUSE_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    bootstrap_project(PROJECT_ROOT)
    _run(spark)

    counts = {table: _rows(data_root, table) for table in TABLES_OF_A_FULL_RUN}
    assert all(counts.values()), {t: n for t, n in counts.items() if not n}
    quarantined = {
        table: _rows_if_any(data_root, table)
        for table in ("silver/nyc311_quarantine", "silver/nyc911_quarantine")
    }
    tests = DeltaTable(str(data_root / "monitoring/gold_test_results")).to_pandas()
    blocking = tests[(tests["severity"] == "error") & (tests["status"] != "pass")]
    assert blocking.empty, blocking[["test_name", "status", "failed_count"]]
    assert set(tests["table_name"]) == set(TABLES)  # gold and analytics tests both ran
    dashboard = data_root / "reporting" / "dashboard.html"
    assert dashboard.stat().st_size > 10_000
    client = mlflow.MlflowClient(tracking_uri=tracking)
    (experiment,) = [e for e in client.search_experiments() if e.name == "nyc_lakehouse"]
    assert len(client.search_runs([experiment.experiment_id])) == 1

    _run(spark)  # everything landed already: nothing new anywhere, nothing duplicated
    for table in (
        "bronze/nyc311_service_requests",
        "bronze/nyc911_e2e_weekly",
        "silver/nyc311_service_requests",
        "silver/nyc911_e2e_weekly",
        "gold/fact_311",
        "gold/fact_911_weekly",
    ):
        assert _rows(data_root, table) == counts[table], table
    for table, rows in quarantined.items():
        assert _rows_if_any(data_root, table) == rows, table
