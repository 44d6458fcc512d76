"""Each source stands alone: a 911-only and a 311-only lakehouse run every pipeline.

One ``kedro run`` (every pipeline: ingestion ... reporting) per lakehouse, on a project copy
with the other source turned off (``--params sources.<other>=false``), on a small window of the
bundled sample. What the source supports is built and consistent; the other source's tables are
empty, its dashboard charts are a note, and the logs say what is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from project_copy import copy_project

pytestmark = pytest.mark.slow

WINDOW = (
    "nyc311.ingestion.start=2021-01-01,nyc311.ingestion.end=2021-04-30,"
    "nyc311.ingestion.sample_scale=0.05,"
    "nyc911.ingestion.start=2021-01-01,nyc911.ingestion.end=2021-04-30,"
    "ml_features.top_n_complaint_types=1,forecasting.horizon=7,"
    "forecasting.backtest.n_windows=2,forecasting.backtest.step=7,"
    "forecasting.models.AutoARIMA.enabled=false,forecasting.models.MSTL.enabled=false,"
    "forecasting.models.AutoTheta.enabled=false"
)
OTHER = {"nyc311": "nyc911", "nyc911": "nyc311"}
NOTE = {
    "nyc311": "No 311 service requests data in this lakehouse",
    "nyc911": "No 911 end-to-end weekly times data in this lakehouse",
}


def _table(root: Path, name: str):
    path = root / name
    assert (path / "_delta_log").is_dir(), f"{name} was not written"
    return DeltaTable(str(path)).to_pandas()


@pytest.fixture(scope="module", params=["nyc911", "nyc311"])
def lakehouse(request, tmp_path_factory) -> tuple[str, Path, str]:
    """(the source kept, its data root, the run's log) after one `kedro run` of everything."""
    source = request.param
    project = copy_project(tmp_path_factory.mktemp(f"only_{source}"))
    root = project / "data"
    env = {
        **os.environ,
        "NYC_LAKEHOUSE_DATA_ROOT": str(root),
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "NYC_LAKEHOUSE_MLFLOW_ARTIFACTS": str(project / "mlartifacts"),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "COLUMNS": "200",  # one log record per line
    }
    params = f"{WINDOW},sources.{OTHER[source]}=false"
    run = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "kedro", "run", "--params", params],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-6000:]
    return source, root, log


def test_the_kept_source_is_built_through_every_layer(lakehouse):
    source, root, log = lakehouse
    other = OTHER[source]
    assert f"source {other} is turned off (parameter sources.{other}: false)" in log
    assert not (root / "landing" / other).exists(), "the source turned off landed data"
    gold = {"nyc311": "gold/fact_311", "nyc911": "gold/fact_911_weekly"}
    tables = {
        "nyc311": ("bronze/nyc311_service_requests", "silver/nyc311_service_requests"),
        "nyc911": ("bronze/nyc911_e2e_weekly", "silver/nyc911_e2e_weekly"),
    }
    for table in (*tables[source], gold[source]):
        assert len(_table(root, table)) > 0, table
    for table in (*tables[other][1:], gold[other]):
        assert len(_table(root, table)) == 0, table  # built, empty: readers find a table
    dim_date = set(_table(root, "gold/dim_date")["date"])
    if source == "nyc911":
        fact = _table(root, "gold/fact_911_weekly")
        assert set(fact["week_start_date"]) <= dim_date
        kpi = _table(root, "gold/kpi_911_overview").set_index("agency_scope")
        silver = _table(root, "silver/nyc911_e2e_weekly")
        assert kpi.loc["ALL", "total_incidents"] == fact["incident_count"].sum()
        assert fact["incident_count"].sum() == silver["incident_count"].sum() > 0
    else:
        fact = _table(root, "gold/fact_311")
        assert set(fact["created_date_only"]) <= dim_date
        assert len(_table(root, "gold/kpi_911_overview")) == 0
    tests = _table(root, "monitoring/gold_test_results")
    assert tests[(tests["severity"] == "error") & (tests["status"] != "pass")].empty
    assert len(_table(root, "monitoring/pipeline_metrics")) > 0


def test_forecasting_forecasts_only_with_311(lakehouse):
    source, root, log = lakehouse
    forecasts = _table(root, "ml/volume_forecasts")
    metrics = _table(root, "ml/forecast_backtest_metrics")
    assert "y_hat" in forecasts.columns and "mase" in metrics.columns
    if source == "nyc311":
        assert len(forecasts) > 0 and len(metrics) > 0
    else:
        assert len(forecasts) == len(metrics) == 0
        assert "forecasting forecasts nothing and writes empty tables" in log
    assert (root / "reporting" / "forecast_chart.json").stat().st_size > 0


def test_dashboard_says_which_source_is_absent(lakehouse):
    source, root, _ = lakehouse
    dashboard = (root / "reporting" / "dashboard.html").read_text()
    assert NOTE[OTHER[source]] in dashboard
    assert NOTE[source] not in dashboard
