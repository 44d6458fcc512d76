"""``monitoring.pipeline_metrics``: grain, columns and the meaning of each metric (docs/tables.md).

The columns are ``nodes.METRICS_SPARK_SCHEMA`` and the metrics ``nodes.METRIC_DESCRIPTIONS``;
``tests/test_reference_docs.py`` checks the columns and their types against the schema.
"""

from __future__ import annotations

from nyc_lakehouse.pipelines.monitoring.nodes import METRIC_DESCRIPTIONS, METRICS_TABLE
from nyc_lakehouse.table_docs import TableDoc, column

PIPELINE_METRICS = TableDoc(
    name=METRICS_TABLE,
    pipeline="monitoring",
    grain="One row per monitoring run x table x metric x dimension.",
    write="append, one batch per monitoring run",
    columns=(
        column("run_id", "string", "One id per monitoring run: every row of a run shares it."),
        column(
            "layer",
            "string",
            "The measured table's schema: `bronze`, `silver`, `gold` or `monitoring`.",
        ),
        column("table_name", "string", "`<schema>.<table>`."),
        column("metric", "string", "What was measured (below)."),
        column(
            "dimension",
            "string",
            "What the value is broken down by (an ingestion date, a column, a test name); "
            "empty for none.",
        ),
        column(
            "value",
            "double",
            "The measurement; null when it cannot be measured (first run's drift, empty table).",
        ),
        column(
            "detail",
            "string",
            "Context: a column type, the added columns, an ISO date, the threshold used.",
        ),
        column("measured_at", "timestamp", "When the monitoring run started (UTC)."),
    ),
    values={"metric": METRIC_DESCRIPTIONS},
    notes=(
        "Which tables are measured, their freshness limits and the volume-anomaly window are "
        "parameters in `conf/base/parameters_monitoring.yml`. A missing table, a missing column "
        "or an empty table is recorded as a metric with a warning; it never fails the run.",
    ),
)

TABLES: dict[str, TableDoc] = {PIPELINE_METRICS.name: PIPELINE_METRICS}
