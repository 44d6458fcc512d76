"""Monitoring's tables: grain, columns and the meaning of each value (docs/tables.md).

``monitoring.pipeline_metrics``: columns ``nodes.METRICS_SPARK_SCHEMA``, metrics
``nodes.METRIC_DESCRIPTIONS``. ``monitoring.alert_results``: columns
``alerts.ALERTS_SPARK_SCHEMA``. ``tests/test_reference_docs.py`` checks the columns and their
types against the schemas.
"""

from __future__ import annotations

from nyc_lakehouse.pipelines.monitoring.alerts import (
    ALERT_ACTION_EFFECTS,
    ALERTS_TABLE,
    CHECK_DESCRIPTIONS,
    STATUSES,
)
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
        "Which tables are measured, their freshness columns and the volume-anomaly window are "
        "parameters in `conf/base/parameters_monitoring.yml`; the limits are the alert rules. A missing table, a missing column "
        "or an empty table is recorded as a metric with a warning; it never fails the run "
        "(the alert rules of `monitoring.alert_results` may).",
    ),
)

ALERT_RESULTS = TableDoc(
    name=ALERTS_TABLE,
    pipeline="monitoring",
    grain="One row per monitoring run x alert rule x table the rule applies to.",
    write=(
        "append, one batch per monitoring run, saved before an error-level breach fails the run"
    ),
    columns=(
        column("run_id", "string", "The monitoring run (as in `monitoring.pipeline_metrics`)."),
        column("rule_name", "string", "The alert rule (`monitoring.alerts` in the parameters)."),
        column("check", "string", "What the rule checks (below)."),
        column("table_name", "string", "`<schema>.<table>` the verdict is about."),
        column("action", "string", "The rule's action: `warn` or `fail` (below)."),
        column("status", "string", "The verdict (below)."),
        column(
            "observed",
            "double",
            "The measured value in `unit`; null when `skipped`.",
        ),
        column("threshold", "double", "The rule's limit in `unit`; a value equal to it passes."),
        column(
            "unit",
            "string",
            "`hours` or `days` (freshness), `|z|` (volume), `columns` (schema drift), `share`.",
        ),
        column(
            "message",
            "string",
            "What was seen, the limit and by how much it was exceeded: the text an error-level "
            "breach fails the run with.",
        ),
        column("evaluated_at", "timestamp", "The monitoring run's instant (`monitoring.as_of`)."),
    ),
    values={
        "check": CHECK_DESCRIPTIONS,
        "action": ALERT_ACTION_EFFECTS,
        "status": STATUSES,
    },
    notes=(
        "The rules are data in `conf/base/parameters_monitoring.yml` (`monitoring.alerts`); "
        "what each check means and how to tune it: docs/operations.md, Alerts.",
    ),
)

TABLES: dict[str, TableDoc] = {
    PIPELINE_METRICS.name: PIPELINE_METRICS,
    ALERT_RESULTS.name: ALERT_RESULTS,
}
