"""kedro-mlflow's hook as the project registers it: no stale run ids, no catalog-wide builds."""

from pathlib import Path

from kedro.io import DataCatalog, MemoryDataset
from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging
from kedro_mlflow.io.metrics import MlflowMetricDataset

from nyc_lakehouse.hooks import LakehouseMlflowHook, MlflowSessionHooks, mlflow_hook
from nyc_lakehouse.settings import DISABLE_HOOKS_FOR_PLUGINS, HOOKS

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_project_registers_the_reset_hook_and_its_own_mlflow_hook():
    assert any(isinstance(hook, MlflowSessionHooks) for hook in HOOKS)
    assert mlflow_hook in HOOKS
    assert "kedro_mlflow" in DISABLE_HOOKS_FOR_PLUGINS  # the plugin's own instance stays out


def test_new_context_forgets_a_stale_run_id(monkeypatch):
    monkeypatch.setattr(mlflow_hook, "run_id", "run-of-a-previous-session")
    MlflowSessionHooks().after_context_created(context=None)
    assert mlflow_hook.run_id is None


class _Counting(MemoryDataset):
    built = 0

    def __init__(self, **kwargs):
        type(self).built += 1
        super().__init__(**kwargs)


def test_only_mlflow_datasets_are_built_and_named(monkeypatch):
    """The hook names an MLflow metric dataset as kedro-mlflow does, and builds no other."""
    conf = {
        "model_metric": {"type": "kedro_mlflow.io.metrics.MlflowMetricDataset"},
        **{f"table_{i}": {"type": f"{__name__}._Counting"} for i in range(3)},
    }
    catalog = DataCatalog.from_config(conf)
    _Counting.built = 0
    hook = LakehouseMlflowHook()
    hook.after_catalog_created(catalog, conf, {}, {}, "v", {})
    named = catalog["model_metric"]
    assert isinstance(named, MlflowMetricDataset) and named.key == "model_metric"
    assert _Counting.built == 0
    # the logging switch kedro-mlflow runs around a run with tracking off: the MLflow one only
    view = hook._view(catalog)
    assert [name for name, _ in view.items()] == ["model_metric"]
    switch_catalog_logging(view, False)
    assert catalog["model_metric"]._logging_activated is False
    assert _Counting.built == 0
    assert "table_1" in view and view["table_1"] is catalog["table_1"]  # the rest: the catalog


def test_a_kedro_run_builds_only_its_pipelines_datasets(tmp_path, monkeypatch):
    """A whole `kedro run` of one pipeline never walks the catalog (hundreds of datasets)."""
    import kedro.io.data_catalog as data_catalog
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    calls = []
    original = data_catalog.DataCatalog.items
    monkeypatch.setattr(
        data_catalog.DataCatalog, "items", lambda self: calls.append(1) or original(self)
    )
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(tmp_path / "data"))
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT) as session:
        session.run(pipeline_names=["ingestion"], node_names=["nyc911.land_batches"])
    assert calls == []
