"""Kedro hooks: the engine's life cycle, run locks, and MLflow run hygiene between sessions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

from nyc_lakehouse import run_lock, spark
from nyc_lakehouse.run_lock import scratch


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


class RunLockHooks:
    """One writer per table: lock the tables a run writes before its first node, release them
    after its last (:mod:`nyc_lakehouse.run_lock`, ``conf/<env>/run_lock.yml``).

    It runs first before a pipeline (a refused run starts nothing: no engine, no MLflow run) and
    last after it. Its context gives the session its own scratch tables
    (``${scratch_table:...}`` in the catalog).
    """

    def __init__(self) -> None:
        self._guard: run_lock.RunGuard | None = None

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        try:
            config = context.config_loader["run_lock"]
        except KeyError:
            config = {}
        self._guard = run_lock.RunGuard(run_lock.RunLockSettings.from_config(config))
        scratch.set_token(self._guard.token)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self._guard is None:
            return
        try:
            self._guard.start(
                str(run_params.get("run_id") or self._guard.token),
                run_lock.pipeline_label(run_params),
                pipeline,
                catalog,
            )
        except BaseException:
            self._end(succeeded=False)
            raise

    @hook_impl
    def before_node_run(self) -> None:
        if self._guard is not None:
            self._guard.check()

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        self._end(succeeded=True)

    @hook_impl(trylast=True)
    def on_pipeline_error(self) -> None:
        self._end(succeeded=False)

    def _end(self, succeeded: bool) -> None:
        guard, self._guard = self._guard, None
        try:
            if guard is not None:
                guard.finish(succeeded)
        finally:
            # A catalog built later in this process (a test, a notebook) gets plain names.
            scratch.set_token(None)


class MlflowSessionHooks:
    """Start every Kedro session without a previous session's MLflow run.

    kedro-mlflow's hook is a process-wide singleton that remembers the last run id. A second
    session in the same process (a notebook, a test, an orchestrator) whose pipeline has tracking
    disabled would then reopen that old run before every node, and fail with "Run with id=...
    not found" when the tracking store differs.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        mlflow_hook.run_id = None


class _MlflowDatasetsView:
    """A catalog whose ``items()`` lists only the datasets of MLflow types; all else is the catalog.

    kedro-mlflow walks ``catalog.items()`` to find its own datasets (to name its metric datasets,
    and to switch their logging off and on around a run), and ``items()`` builds every dataset
    of the catalog, importing every dataset type's module: a start-up cost on every
    ``kedro run`` for datasets the run may never use.
    """

    def __init__(self, catalog: Any, names: Iterable[str]) -> None:
        self._catalog = catalog
        self._names = list(names)

    def items(self) -> list[tuple[str, Any]]:
        return [(name, self._catalog[name]) for name in self._names if name in self._catalog]

    def __getitem__(self, name: str) -> Any:
        return self._catalog[name]

    def __setitem__(self, name: str, dataset: Any) -> None:
        self._catalog[name] = dataset

    def __contains__(self, name: object) -> bool:
        return name in self._catalog

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)


class LakehouseMlflowHook(MlflowHook):
    """kedro-mlflow's hook, registered by the project instead of by its plugin entry point.

    It differs in one way: it hands kedro-mlflow a view of the catalog whose ``items()`` holds
    only the datasets configured with an MLflow type (:class:`_MlflowDatasetsView`), so that a
    run builds only the datasets its pipeline uses.
    """

    def __init__(self) -> None:
        super().__init__()
        self._mlflow_datasets: list[str] = []

    def _view(self, catalog: Any) -> _MlflowDatasetsView:
        return _MlflowDatasetsView(catalog, self._mlflow_datasets)

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913 - the hook specification's arguments
        self,
        catalog: Any,
        conf_catalog: Mapping[str, Any],
        conf_creds: Mapping[str, Any],
        parameters: Mapping[str, Any],
        save_version: str,
        load_versions: Mapping[str, str],
    ) -> None:
        self._mlflow_datasets = [
            name
            for name, config in (conf_catalog or {}).items()
            # kedro-mlflow's own test: the class name (the type's last part) starts with Mlflow
            if isinstance(config, Mapping)
            and str(config.get("type", "")).rsplit(".", 1)[-1].startswith("Mlflow")
        ]
        super().after_catalog_created(
            catalog=self._view(catalog),
            conf_catalog=conf_catalog,
            conf_creds=conf_creds,
            parameters=parameters,
            save_version=save_version,
            load_versions=load_versions,
        )

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        super().before_pipeline_run(
            run_params=run_params, pipeline=pipeline, catalog=self._view(catalog)
        )

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        super().after_pipeline_run(
            run_params=run_params, pipeline=pipeline, catalog=self._view(catalog)
        )

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any
    ) -> None:
        super().on_pipeline_error(
            error=error, run_params=run_params, pipeline=pipeline, catalog=self._view(catalog)
        )


mlflow_hook = LakehouseMlflowHook()
