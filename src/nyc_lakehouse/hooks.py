"""Kedro hooks: the engine's life cycle, and MLflow run hygiene between Kedro sessions."""

from __future__ import annotations

from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from nyc_lakehouse import spark


class SparkHooks:
    """Configure the project's Spark session from ``conf/<env>/spark.yml``.

    The session starts lazily, on the first dataset load or node that needs it, and is stopped
    after the run only if the run started it (a notebook's or a test's session survives a run).
    """

    def __init__(self) -> None:
        self._was_running = False

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        try:
            config = context.config_loader["spark"]
        except KeyError:
            config = {}
        spark.configure(spark.settings_from_config(config))

    @hook_impl
    def before_pipeline_run(self, *args: Any, **kwargs: Any) -> None:
        self._was_running = spark.is_running()

    @hook_impl
    def after_pipeline_run(self, *args: Any, **kwargs: Any) -> None:
        if not self._was_running:
            spark.stop_spark()

    @hook_impl
    def on_pipeline_error(self, *args: Any, **kwargs: Any) -> None:
        if not self._was_running:
            spark.stop_spark()


class MlflowSessionHooks:
    """Start every Kedro session without a previous session's MLflow run.

    kedro-mlflow's hook is a process-wide singleton that remembers the last run id. A second
    session in the same process (a notebook, a test, an orchestrator) whose pipeline has tracking
    disabled would then reopen that old run before every node, and fail with "Run with id=...
    not found" when the tracking store differs.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        try:
            from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook
        except ImportError:  # kedro-mlflow not installed: nothing to reset
            return
        mlflow_hook.run_id = None
