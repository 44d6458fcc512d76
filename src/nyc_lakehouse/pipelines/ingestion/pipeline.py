"""Wiring of the ``ingestion`` pipeline (nodes live in nodes.py).

One modular pipeline, instantiated per dataset with Kedro namespaces ``nyc311`` and ``nyc911``:
its parameters are ``params:<namespace>.ingestion`` (parameters_ingestion.yml), so any of them can
be overridden per dataset, e.g. ``--params nyc311.ingestion.source=socrata``.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from nyc_lakehouse.lakehouse_sources import SOURCES, is_enabled
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches

logger = logging.getLogger(__name__)

DATASETS = SOURCES
# What bronze waits for: the run summary of each dataset's ingestion (see catalog_bronze.yml).
DONE_OUTPUTS = {name: f"ingestion.{name}_done" for name in DATASETS}


def land_enabled_source(
    zone: Any, params: Mapping[str, Any], app_token: Any, sources: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Land the dataset's batches, unless the ``sources`` parameter turns its source off."""
    dataset = str(params.get("dataset", ""))
    if not is_enabled(dataset, sources):
        logger.warning(
            "Ingestion: source %s is turned off (parameter sources.%s: false): nothing landed",
            dataset,
            dataset,
        )
        return {"dataset": dataset, "source": "off", "batches_landed": [], "rows_landed": 0}
    return land_batches(zone, params, app_token)


def create_pipeline(sources: Iterable[str] = DATASETS, **kwargs: object) -> Pipeline:
    """Both datasets' ingestion, or only ``sources`` (the per-source Databricks tasks)."""
    template = Pipeline(
        [
            Node(
                land_enabled_source,
                inputs=["landing.zone", "params:ingestion", "socrata.app_token", "params:sources"],
                outputs="ingestion_done",
                name="land_batches",
            )
        ]
    )
    return sum(
        (
            Pipeline(
                template,
                namespace=name,
                inputs={"landing.zone", "socrata.app_token"},
                parameters={"params:sources"},
                outputs={"ingestion_done": DONE_OUTPUTS[name]},
                tags=[name],
            )
            for name in sources
        ),
        start=Pipeline([]),
    )
