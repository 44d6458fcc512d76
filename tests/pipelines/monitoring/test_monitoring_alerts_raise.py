"""The alert nodes on a real Sail session: the rows recorded for ``monitoring.alert_results`` and
the failure of the run they belong to (the Kedro-session test runs them end to end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nyc_lakehouse.pipelines.monitoring import alerts, nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
TABLE = "bronze.nyc311_service_requests"


def _rule(name: str, action: str = "fail") -> dict:
    return {
        "name": name,
        "check": "freshness",
        "tables": [TABLE],
        "max_age_hours": 48,
        "action": action,
    }


def _recorded(run: dict, hours: float, *rules: dict):
    latest = (NOW - timedelta(hours=hours)).isoformat()
    row = nodes.metric_row(run, TABLE, "freshness_hours", hours, "_ingested_at", f"latest {latest}")
    return alerts.record_alerts(run, list(rules), nodes.metrics_frame([row]))


def test_only_the_runs_own_failures_fail_it_in_rule_order(spark):
    stale = nodes.new_monitoring_run(NOW)
    fresh = nodes.new_monitoring_run(NOW + timedelta(hours=1))
    table = _recorded(stale, 72, _rule("b_ingested"), _rule("a_ingested"), _rule("c", "warn"))
    table = table.unionByName(_recorded(fresh, 1, _rule("b_ingested")))
    assert [f"{name} {kind}" for name, kind in table.dtypes] == (
        alerts.ALERTS_SPARK_SCHEMA.split(", ")
    )
    rows = {(r["run_id"], r["rule_name"]): r for r in table.collect()}
    assert all(r["evaluated_at"] is not None for r in rows.values())
    assert rows[(stale["run_id"], "b_ingested")]["status"] == "fail"
    assert rows[(stale["run_id"], "c")]["status"] == "warn"
    assert rows[(fresh["run_id"], "b_ingested")]["status"] == "ok"
    assert rows[(stale["run_id"], "a_ingested")]["observed"] == pytest.approx(72.0)

    alerts.raise_on_failed_alerts(fresh, table)  # another run's failures are not this run's
    with pytest.raises(alerts.MonitoringAlertError) as raised:
        alerts.raise_on_failed_alerts(stale, table)
    text = str(raised.value)
    messages = {r["rule_name"]: r["message"] for r in table.collect() if r["status"] == "fail"}
    assert text == (
        f"Monitoring run {stale['run_id']}: 2 error-level alert(s) "
        f"(results in {alerts.ALERTS_TABLE}):\n"
        f"  - {messages['a_ingested']}\n  - {messages['b_ingested']}"
    )
