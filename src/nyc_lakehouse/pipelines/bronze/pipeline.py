"""Wiring of the ``bronze`` pipeline (nodes live in nodes.py).

Per source (``nyc311``, ``nyc911``): plan (which committed landing files are not in bronze yet)
-> append them to the bronze Delta table (the files themselves on the local engine, see
delta/linked_files.py; read with Spark elsewhere); then one node writes the batch
log for both, after both appends. Each source waits for its ingestion run summary
(``ingestion.<source>_done``), so ``kedro run`` lands before it ingests.
"""

from collections.abc import Iterable

from kedro.pipeline import Node, Pipeline

from nyc_lakehouse.pipelines.bronze import nodes

# source -> bronze table (the landing dataset name is params:bronze.<source>.dataset)
TABLES = {
    "nyc311": "bronze.nyc311_service_requests",
    "nyc911": "bronze.nyc911_e2e_weekly",
}
BATCH_LOG = "monitoring.bronze_batch_log"


def _source_nodes(source: str, table: str) -> list[Node]:
    current_table = f"bronze_state.{source}_table"  # the same Delta table, read-only, None if new
    return [
        Node(
            nodes.plan_bronze_load,
            inputs=[
                "landing.zone",
                f"ingestion.{source}_done",
                current_table,
                "bronze_state.batch_log",
                f"params:bronze.{source}",
            ],
            outputs=f"bronze_plan_{source}",
            name=f"plan_bronze_{source}",
        ),
        Node(
            nodes.read_landing_files,
            inputs=[f"bronze_plan_{source}", current_table],
            outputs=table,
            name=f"append_bronze_{source}",
        ),
    ]


def create_pipeline(sources: Iterable[str] = tuple(TABLES), **kwargs: object) -> Pipeline:
    """Both sources, or only ``sources`` (``bronze_nyc311`` / ``bronze_nyc911``, the
    per-source Databricks tasks). A run that dies after one source's append and before the
    log is logged by the next run (files found in bronze are logged ``ingested``)."""
    tables = {source: table for source, table in TABLES.items() if source in set(sources)}
    source_nodes = [
        Pipeline(_source_nodes(source, table), tags=[source]) for source, table in tables.items()
    ]
    log_inputs = [
        name for source, table in tables.items() for name in (f"bronze_plan_{source}", table)
    ]
    return Pipeline(
        [
            *source_nodes,
            Node(
                nodes.build_batch_log,
                inputs=log_inputs,
                outputs=BATCH_LOG,
                name="log_bronze_batches",
            ),
        ]
    )
