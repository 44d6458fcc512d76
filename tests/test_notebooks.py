"""Every notebook in notebooks/ runs top to bottom against a small lakehouse (real kernel)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# End-to-end: a real kernel / a real kedro-viz export (tens of seconds each).
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
FORECASTING = PROJECT_ROOT / "notebooks" / "02_forecasting.ipynb"


def _test_module(relative: str):
    path = PROJECT_ROOT / "tests" / relative
    spec = importlib.util.spec_from_file_location(f"nyc_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _execute(notebook: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",  # the project venv's ipykernel (the interpreter running pytest)
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    client.execute()
    return nb


def _outputs(nb: nbformat.NotebookNode, kind: str) -> list:
    return [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
        if kind in o.get("data", {})
    ]


def test_there_is_a_notebook():
    assert any(p.name == "01_explore_gold.ipynb" for p in NOTEBOOKS)
    assert FORECASTING in NOTEBOOKS


@pytest.mark.parametrize(
    "notebook", [p for p in NOTEBOOKS if p != FORECASTING], ids=lambda p: p.name
)
def test_notebook_runs_against_a_small_lakehouse(notebook, data_root):
    tables = _test_module("pipelines/reporting/gold_sample.py").write_gold_sample(data_root)
    nb = _execute(notebook)  # raises CellExecutionError with the failing cell's traceback

    source = "\n".join(cell.source for cell in nb.cells)
    assert "%load_ext kedro.ipython" in source and 'catalog.load("gold.' in source
    assert len(_outputs(nb, "image/png")) >= 3, "the notebook should draw its charts"
    kpi = "\n".join(o["data"]["text/html"] for o in _outputs(nb, "text/html"))
    total = (
        tables["kpi_911_overview"]
        .to_pandas()
        .set_index("agency_scope")
        .loc["ALL", "total_incidents"]
    )
    assert f"<td>{total}</td>" in kpi, "the 911 KPI table should show the sample's total incidents"


def test_forecasting_notebook_reads_the_champion_from_the_registry(
    data_root, tmp_path, monkeypatch
):
    """A small forecasting run registers a champion; the notebook reads it back and draws it."""
    runs = _test_module("pipelines/forecasting/registry_sample.py")
    from nyc_lakehouse.pipelines.forecasting.io import PandasDeltaTableDataset
    from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

    panel = synthetic_panel(n_series=3, days=180, start="2023-01-01", seed=3)
    panel.loc[panel["unique_id"] == "series_000", "unique_id"] = "citywide"
    store = tmp_path / "mlflow"
    run = runs.run_forecasting(panel, runs.small_params(), store, "notebook_forecaster")
    for table, frame in (
        ("ml.daily_volume_panel", panel),
        ("ml.forecast_backtest_metrics", run["ml.forecast_backtest_metrics"]),
        ("ml.volume_forecasts", run["ml.volume_forecasts"]),
    ):
        PandasDeltaTableDataset(table=table, root=str(data_root)).save(frame)
    run["forecasting.forecast_chart"].write_json(data_root / "reporting" / "forecast_chart.json")
    info = run["forecasting.champion_model_info"]
    (data_root / "ml" / "champion_model.json").write_text(json.dumps(info))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", run["tracking_uri"])
    monkeypatch.setenv("NYC_LAKEHOUSE_MLFLOW_ARTIFACTS", str(store / "mlartifacts"))

    nb = _execute(FORECASTING)

    source = "\n".join(cell.source for cell in nb.cells)
    assert "mlflow.pyfunc.load_model" in source and "champion_uri(" in source
    assert len(_outputs(nb, "image/png")) >= 2, "backtest and forecast charts"
    assert _outputs(nb, "application/vnd.plotly.v1+json"), "the pipeline's backtest chart"
    text = "\n".join(
        "".join(o.get("text", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.outputs
    )
    assert f"models:/notebook_forecaster@champion: version {info['version']}" in text
    assert "largest difference to ml.volume_forecasts: 0.000000" in text
    html = "\n".join(o["data"]["text/html"] for o in _outputs(nb, "text/html"))
    assert "SeasonalNaive" in html and "Champion" in html and "mase_vs_baseline" in html
