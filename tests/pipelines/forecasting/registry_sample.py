"""A small forecasting run with a real MLflow store: what the registry tests and the notebook use.

The ``forecasting`` pipeline runs as wired (Kedro's runner, every dataset in memory but the
panel it is given), registers its champion in a temporary SQLite store, and returns every output.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient

from nyc_lakehouse.pipelines.forecasting.pipeline import create_pipeline

PANEL = "ml.daily_volume_panel@pandas"


class KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release: the test reads every output afterwards."""

    def _release(self) -> None:
        pass


def small_params() -> dict[str, Any]:
    """The forecasting tests' fast parameters, with one model of each kind (conftest.py)."""
    spec = importlib.util.spec_from_file_location(
        "forecasting_test_conftest", Path(__file__).with_name("conftest.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fast_params(("SeasonalNaive", "AutoETS", "HistGradientBoosting"))


def mlflow_store(folder: Path) -> tuple[str, str]:
    """A SQLite tracking URI and an experiment whose artifacts stay in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    name = "forecasting_tests"
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=str(folder / "mlartifacts"))
    return uri, name


def _param(params: dict[str, Any], dotted: str) -> Any:
    value: Any = {"forecasting": params}
    for key in dotted.split("."):
        value = value[key]
    return value


def run_forecasting(
    panel: pd.DataFrame, params: dict[str, Any], store: Path, model_name: str
) -> dict[str, Any]:
    """Run the whole ``forecasting`` pipeline on ``panel``, registering ``model_name``."""
    uri, experiment = mlflow_store(store)
    params = copy.deepcopy(params)
    params["mlflow"] = {
        **params.get("mlflow", {}),
        "enabled": True,
        "register": True,
        "registered_model_name": model_name,
        "alias": "champion",
        "experiment_name": experiment,
    }
    pipeline = create_pipeline()
    datasets = {PANEL: MemoryDataset(panel)}
    for name in pipeline.inputs() - {PANEL}:
        assert name.startswith("params:"), f"the forecasting pipeline needs {name}"
        datasets[name] = MemoryDataset(_param(params, name.removeprefix("params:")))
    outputs = {name: KeptDataset(copy_mode="assign") for name in pipeline.all_outputs()}
    catalog = DataCatalog(datasets={**datasets, **outputs})
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        SequentialRunner().run(pipeline, catalog)
    finally:
        mlflow.set_tracking_uri(previous)
    result = {name: catalog.load(name) for name in outputs if name in catalog}
    result["tracking_uri"] = uri
    result["params"] = params
    return result
