"""Wiring of the ``ingestion`` pipeline (nodes live in nodes.py).

One modular pipeline, instantiated per dataset with Kedro namespaces ``nyc311`` and ``nyc911``:
its parameters are ``params:<namespace>.ingestion`` (parameters_ingestion.yml), so any of them can
be overridden per dataset, e.g. ``--params nyc311.ingestion.source=socrata``.
"""

from kedro.pipeline import Node, Pipeline

from nyc_lakehouse.pipelines.ingestion.nodes import land_batches

DATASETS = ("nyc311", "nyc911")
# What bronze waits for: the run summary of each dataset's ingestion (see catalog_bronze.yml).
DONE_OUTPUTS = {name: f"ingestion.{name}_done" for name in DATASETS}


def create_pipeline(**kwargs: object) -> Pipeline:
    template = Pipeline(
        [
            Node(
                land_batches,
                inputs=["landing.zone", "params:ingestion", "socrata.app_token"],
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
                outputs={"ingestion_done": DONE_OUTPUTS[name]},
            )
            for name in DATASETS
        ),
        start=Pipeline([]),
    )
