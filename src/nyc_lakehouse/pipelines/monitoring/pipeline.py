"""Wiring of the ``monitoring`` pipeline (nodes live in nodes.py and alerts.py).

Monitoring observes the lakehouse after the other pipelines ran: it opens tables by name (so a
missing table is recorded, not fatal) and appends one batch of metrics to
``monitoring.pipeline_metrics`` per run. The alert rules (``monitoring.alerts``) then judge the
run's metrics into ``monitoring.alert_results``; once both are saved, an error-level breach
fails the run. Run it on its own: ``kedro run --pipeline monitoring``.
"""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.monitoring import alerts, nodes

METRIC_FRAMES = (
    "monitoring_bronze_metrics",
    "monitoring_silver_metrics",
    "monitoring_gold_metrics",
    "monitoring_log_metrics",
    "monitoring_gold_integrity_metrics",
    "monitoring_volume_metrics",
    "monitoring_quarantine_metrics",
)


def create_pipeline(**kwargs: object) -> Pipeline:
    root = "params:monitoring.lakehouse_root"
    return Pipeline(
        [
            node(
                nodes.new_monitoring_run,
                inputs="params:monitoring.as_of",
                outputs="monitoring_run",
                name="start_monitoring_run",
            ),
            node(
                nodes.measure_tables,
                inputs=["monitoring_run", "params:monitoring.bronze_tables", root],
                outputs="monitoring_bronze_metrics",
                name="measure_bronze_tables",
            ),
            node(
                nodes.measure_tables,
                inputs=["monitoring_run", "params:monitoring.silver_tables", root],
                outputs="monitoring_silver_metrics",
                name="measure_silver_tables",
            ),
            node(
                nodes.measure_tables,
                inputs=["monitoring_run", "params:monitoring.gold_tables", root],
                outputs="monitoring_gold_metrics",
                name="measure_gold_tables",
            ),
            node(
                nodes.measure_tables,
                inputs=["monitoring_run", "params:monitoring.monitoring_tables", root],
                outputs="monitoring_log_metrics",
                name="measure_monitoring_tables",
            ),
            node(
                nodes.gold_integrity_metrics,
                inputs=["monitoring_run", "params:monitoring.gold_test_results", root],
                outputs="monitoring_gold_integrity_metrics",
                name="measure_gold_integrity",
            ),
            node(
                nodes.volume_anomaly_metrics,
                inputs=["monitoring_run", "params:monitoring.volume_anomaly", root],
                outputs="monitoring_volume_metrics",
                name="detect_volume_anomalies",
            ),
            node(
                nodes.quarantine_metrics,
                inputs=["monitoring_run", "params:monitoring.quarantine", root],
                outputs="monitoring_quarantine_metrics",
                name="measure_quarantine_share",
            ),
            node(
                nodes.combine_metrics,
                inputs=list(METRIC_FRAMES),
                outputs="monitoring.pipeline_metrics",
                name="append_pipeline_metrics",
            ),
            node(
                alerts.record_alerts,
                inputs=["monitoring_run", "params:monitoring.alerts", *METRIC_FRAMES],
                outputs="monitoring.alert_results",
                name="evaluate_alert_rules",
            ),
            node(
                alerts.raise_on_failed_alerts,
                # Both tables are inputs so this runs after they are saved: the record survives.
                inputs=[
                    "monitoring_run",
                    "monitoring.alert_results",
                    "monitoring.pipeline_metrics",
                ],
                outputs=None,
                name="fail_on_error_alerts",
            ),
        ],
        tags=["monitoring"],
    )
