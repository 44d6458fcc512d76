"""The dashboard's data-health panel, read from a real ``monitoring.alert_results`` Delta table."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go

from nyc_lakehouse.pipelines.monitoring import alerts
from nyc_lakehouse.pipelines.monitoring import nodes as monitoring
from nyc_lakehouse.pipelines.reporting import data_health, nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
RULES = [
    {
        "name": "ingested_daily",
        "check": "freshness",
        "tables": ["bronze.a", "bronze.b"],
        "max_age_hours": 48,
        "action": "fail",
    },
    {
        "name": "data_current",
        "check": "freshness",
        "tables": ["bronze.c"],
        "max_age_hours": 48,
        "action": "warn",
    },
]


def _save_run(spark, data_root: Path, now: datetime, hours: dict[str, float | None]) -> str:
    run = monitoring.new_monitoring_run(now)
    rows = [
        monitoring.metric_row(run, t, "freshness_hours", h, "_ingested_at", "latest x")
        if h is not None
        else monitoring.missing_table_row(run, t, str(data_root))
        for t, h in hours.items()
    ]
    frame = alerts.evaluate_alerts(run, RULES, monitoring.metrics_frame(rows))
    alerts.alerts_to_spark(frame).write.format("delta").mode("append").save(
        str(data_root / "monitoring" / "alert_results")
    )
    return run["run_id"]


def _params(data_root: Path) -> dict:
    return {"table": "monitoring.alert_results", "lakehouse_root": str(data_root)}


def test_the_panel_shows_the_latest_run_worst_first(spark, data_root):
    _save_run(spark, data_root, NOW - timedelta(days=1), {"bronze.a": 99, "bronze.b": 99})
    latest = _save_run(spark, data_root, NOW, {"bronze.a": 49, "bronze.b": 1, "bronze.c": None})

    results = data_health.load_latest_alerts(_params(data_root))
    assert set(results["run_id"]) == {latest}
    assert sorted(results["status"]) == ["fail", "ok", "skipped"]
    panel = data_health.data_health_panel(results)
    assert f"<code>{latest}</code> at 2024-03-10 12:00 UTC" in panel
    fail_at, ok_at = (
        panel.index('badge fail">fail</span></td>'),
        panel.index('badge ok">ok</span></td>'),
    )
    assert fail_at < ok_at  # the breach is on top
    assert "bronze.a newest _ingested_at (x) is 49 hours (2 days) old" in panel
    assert "(1 hour over)" in panel
    assert "<details><summary>1 checks skipped" in panel and "bronze.c does not exist" in panel
    assert ">49 hours</td>" in panel and ">48 hours</td>" in panel
    assert "breaches (<code>fail</code>) failed that run" in panel
    calm = data_health.data_health_panel(results[results["status"] == "ok"])
    assert "failed that run" not in calm and 'badge fail">' not in calm


def test_without_results_the_panel_says_how_to_get_them(data_root):
    assert data_health.load_latest_alerts(_params(data_root)) is None
    assert "kedro run --pipeline monitoring" in data_health.data_health_panel(None)
    assert data_health.data_health_node_html({"enabled": False, "table": "x"}) is None


def test_the_dashboard_opens_with_the_panel(spark, data_root):
    _save_run(spark, data_root, NOW, {"bronze.a": 49})
    signature = inspect.signature(nodes.build_dashboard_node)
    figures = {
        name: go.Figure() for name in signature.parameters if name not in ("params", "forecasts")
    }
    params = {
        "title": "t",
        "forecast": {"enabled": False},
        "data_health": {"enabled": True, **_params(data_root)},
    }
    page = nodes.build_dashboard_node(**figures, params=params)
    health = page.index('<section id="data-health"><h2>Data health</h2>')
    assert health < page.index("<section><h2>")  # before every chart section
    assert 'badge fail">fail</span>' in page[health:]
    without = nodes.build_dashboard_node(**figures, params={**params, "data_health": None})
    assert "data-health" not in without
