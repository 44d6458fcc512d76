"""Every notebook in notebooks/ runs top to bottom against a small lakehouse (real kernel)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# End-to-end: a real kernel / a real kedro-viz export (tens of seconds each).
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def _gold_sample_module():
    path = PROJECT_ROOT / "tests" / "pipelines" / "reporting" / "gold_sample.py"
    spec = importlib.util.spec_from_file_location("nyc_gold_sample", path)
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


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_against_a_small_lakehouse(notebook, data_root):
    tables = _gold_sample_module().write_gold_sample(data_root)
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
