"""A new Kedro session never inherits the previous session's MLflow run id."""

from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

from nyc_lakehouse.hooks import MlflowSessionHooks
from nyc_lakehouse.settings import HOOKS


def test_project_registers_the_reset_hook():
    assert any(isinstance(hook, MlflowSessionHooks) for hook in HOOKS)


def test_new_context_forgets_a_stale_run_id(monkeypatch):
    monkeypatch.setattr(mlflow_hook, "run_id", "run-of-a-previous-session")
    MlflowSessionHooks().after_context_created(context=None)
    assert mlflow_hook.run_id is None
