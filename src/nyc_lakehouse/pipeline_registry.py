"""Project pipelines: one per sub-package of ``nyc_lakehouse.pipelines``."""

from __future__ import annotations

from typing import Any

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline, node

from nyc_lakehouse.lakehouse_sources import SOURCES
from nyc_lakehouse.pipelines.bronze.pipeline import create_pipeline as create_bronze_pipeline
from nyc_lakehouse.pipelines.forecasting.no_panel import skip_without_panel
from nyc_lakehouse.pipelines.forecasting.pipeline import MLFLOW_RUN_RECORDS, SCORING_TAG
from nyc_lakehouse.pipelines.ingestion.pipeline import create_pipeline as create_ingestion_pipeline
from nyc_lakehouse.pipelines.monitoring.nodes import new_monitoring_run
from nyc_lakehouse.pipelines.reporting.pipeline import create_pipeline as create_reporting_pipeline
from nyc_lakehouse.pipelines.silver.pipeline import create_pipeline as create_silver_pipeline

PER_SOURCE_LAYERS = {
    "ingestion": create_ingestion_pipeline,
    "bronze": create_bronze_pipeline,
    "silver": create_silver_pipeline,
}
MONITORING_START_NODE = "start_monitoring_run"
FORECASTS = "ml.volume_forecasts"


def start_monitoring_after(as_of: Any, *upstream_outputs: Any) -> dict[str, Any]:
    """Start a monitoring run (at ``monitoring.as_of``) once every other pipeline has finished.

    The other inputs are only there to order the run: monitoring observes the lakehouse through
    the tables themselves, so in ``kedro run`` it must come last, not first.
    """
    return new_monitoring_run(as_of)


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline found under ``nyc_lakehouse.pipelines``.

    ``kedro run`` runs them all (``__default__``); the data dependencies between the layers
    order the nodes, so ingestion runs before bronze, bronze before silver, and so on.
    Monitoring reads tables by name rather than through node inputs, so in ``__default__`` its
    first node waits for the final outputs of every other pipeline; the dashboard waits for the
    forecasts.
    """
    pipelines = find_pipelines(raise_errors=True)
    if "forecasting" in pipelines:
        # A lakehouse without 311 data forecasts nothing instead of failing (no_panel.py).
        pipelines["forecasting"] = skip_without_panel(pipelines["forecasting"])
    in_full_run = dict(pipelines)
    # One source's ingestion, bronze or silver alone (`kedro run --pipeline silver_nyc911`), not
    # part of the full run (the layers hold both): the Databricks jobs run each source as tasks
    # of its own, so one source failing leaves the other's layers running.
    for layer, create in PER_SOURCE_LAYERS.items():
        if layer in pipelines:
            for source in SOURCES:
                pipelines[f"{layer}_{source}"] = create(sources=[source])
    forecasting = pipelines.get("forecasting", Pipeline([]))
    if forecasting.nodes:
        # Separate jobs: training registers the champion, scoring writes the forecasts from the
        # registry (and can run again without retraining, e.g. after the alias is moved).
        scoring = forecasting.only_nodes_with_tags(SCORING_TAG)
        pipelines["forecast_training"] = forecasting - scoring
        pipelines["forecast_scoring"] = scoring
    if "reporting" in pipelines and FORECASTS in forecasting.all_outputs():
        # The dashboard draws the forecast: in a full run it waits for forecasting. Alone,
        # `kedro run --pipeline reporting` draws whatever forecast the table already holds.
        in_full_run["reporting"] = create_reporting_pipeline(forecasts_input=FORECASTS)
    monitoring = pipelines.get("monitoring", Pipeline([]))
    upstream = sum(
        (p for name, p in in_full_run.items() if name != "monitoring"), start=Pipeline([])
    )
    measured = [n for n in monitoring.nodes if n.name != MONITORING_START_NODE]
    if len(measured) == len(monitoring.nodes):  # no start node to reorder: keep it as it is
        pipelines["__default__"] = upstream + monitoring
        return pipelines
    # The MLflow run's records are write-only (they log on save; an HTML page or a run's
    # metrics outside their run cannot be loaded), so monitoring does not wait on them.
    waited_for = sorted(upstream.outputs() - set(MLFLOW_RUN_RECORDS))
    start = node(
        start_monitoring_after,
        inputs=["params:monitoring.as_of", *waited_for],
        outputs="monitoring_run",
        name=MONITORING_START_NODE,
        tags=["monitoring"],
    )
    pipelines["__default__"] = upstream + Pipeline([start, *measured])
    return pipelines
