"""Wiring of the ``silver`` pipeline (nodes live in nodes.py)."""

from collections.abc import Iterable

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.lakehouse_sources import SOURCES
from nyc_lakehouse.pipelines.silver import nodes


def create_pipeline(sources: Iterable[str] = SOURCES, **kwargs: object) -> Pipeline:
    """311: prepared increment (typed, checked, enriched) -> quality verdict -> final;
    911: base -> quality -> final; DQ results, then the ledger of consumed bronze files.

    Each source's branch stands alone: neither waits for the other's nodes, so one source's
    failing check leaves the other's tables written (the failed run's ledger is not written,
    and the next run takes its files up again). ``sources`` builds the pipeline of one source
    only (``silver_nyc311`` / ``silver_nyc911``, the per-source Databricks tasks)."""
    run_context = Pipeline(
        [
            node(
                nodes.start_silver_run,
                inputs="params:silver.as_of",
                outputs="silver_run",
                name="start_silver_run",
            ),
            node(
                nodes.find_interrupted_runs,
                inputs=[
                    "silver_processed_batches",
                    "silver_state.nyc311_quarantine",
                    "silver_state.nyc911_quarantine",
                    "silver_state.dq_results",
                ],
                outputs="silver_interrupted_runs",
                name="find_interrupted_silver_runs",
            ),
        ]
    )
    nyc311 = Pipeline(
        [
            node(
                nodes.select_new_311_files,
                inputs=[
                    "bronze.nyc311_service_requests",
                    "silver_processed_batches",
                    "params:silver.full_refresh",
                    "bronze_state.batch_log",
                    "silver_state.nyc311_service_requests",
                    "silver_state.nyc311_quarantine",
                ],
                outputs=["nyc311_bronze_increment", "nyc311_consumed_files"],
                name="select_new_311_files",
            ),
            node(
                nodes.prepare_311_increment,
                inputs=["nyc311_bronze_increment", "params:silver.nyc311", "silver_run"],
                outputs="silver.nyc311_increment",
                name="prepare_311_increment",
            ),
            node(
                nodes.check_311_increment,
                inputs=["silver.nyc311_increment", "params:silver.nyc311", "silver_run"],
                outputs=["nyc311_silver_checked", "nyc311_quarantined_rows", "nyc311_dq_records"],
                name="check_311_quality",
            ),
            node(
                nodes.release_quarantine,
                inputs=["nyc311_quarantined_rows", "silver_run", "silver_interrupted_runs"],
                outputs="silver.nyc311_quarantine",
                name="release_311_quarantine",
            ),
            node(
                nodes.finalize_311,
                inputs=["nyc311_silver_checked", "silver_run"],
                outputs="silver.nyc311_service_requests",
                name="finalize_311",
            ),
        ]
    )
    nyc911 = Pipeline(
        [
            node(
                nodes.select_new_911_files,
                inputs=[
                    "bronze.nyc911_e2e_weekly",
                    "silver_processed_batches",
                    "params:silver.full_refresh",
                    "bronze_state.batch_log",
                    "silver_state.nyc911_e2e_weekly",
                    "silver_state.nyc911_quarantine",
                ],
                outputs=["nyc911_bronze_increment", "nyc911_consumed_files"],
                name="select_new_911_files",
            ),
            node(
                nodes.clean_911_base,
                inputs=["nyc911_bronze_increment", "params:silver.nyc911"],
                outputs="silver.nyc911_increment_base",
                name="clean_911_base",
            ),
            node(
                nodes.check_911_quality,
                inputs=["silver.nyc911_increment_base", "params:silver.nyc911", "silver_run"],
                outputs=["nyc911_silver_checked", "nyc911_quarantined_rows", "nyc911_dq_records"],
                name="check_911_quality",
            ),
            node(
                nodes.release_quarantine,
                inputs=["nyc911_quarantined_rows", "silver_run", "silver_interrupted_runs"],
                outputs="silver.nyc911_quarantine",
                name="release_911_quarantine",
            ),
            node(
                nodes.finalize_911,
                inputs=["nyc911_silver_checked", "silver_run"],
                outputs="silver.nyc911_e2e_weekly",
                name="finalize_911",
            ),
        ]
    )
    branches = {"nyc311": nyc311, "nyc911": nyc911}
    chosen = [source for source in SOURCES if source in set(sources)]
    tables = {
        "nyc311": ["silver.nyc311_service_requests", "silver.nyc311_quarantine"],
        "nyc911": ["silver.nyc911_e2e_weekly", "silver.nyc911_quarantine"],
    }
    monitoring = Pipeline(
        [
            node(
                nodes.publish_dq_results,
                inputs=[
                    "silver_run",
                    "silver_interrupted_runs",
                    *[f"{source}_dq_records" for source in chosen],
                ],
                outputs="monitoring.dq_results",
                name="publish_silver_dq_results",
            ),
            node(
                nodes.record_consumed_files,
                inputs=[
                    "silver_run",
                    "params:silver.full_refresh",
                    *[f"{source}_consumed_files" for source in chosen],
                    *[table for source in chosen for table in tables[source]],
                    "monitoring.dq_results",
                ],
                outputs="monitoring.silver_batch_log",
                name="record_silver_ledger",
            ),
        ]
    )
    return Pipeline(
        [
            run_context,
            *(Pipeline(branches[source], tags=[source]) for source in chosen),
            monitoring,
        ],
        tags="silver",
    )
