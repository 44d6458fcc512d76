"""The dashboard's data-health panel: the latest monitoring run's alert verdicts.

It reads ``monitoring.alert_results`` by name (like the forecast slot), so the reporting pipeline
does not depend on monitoring: without results yet the panel says how to get them. Rows are
ordered by severity (``fail``, ``warn``, ``ok``); ``skipped`` rows (a table not built yet) are
folded away under a count.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from nyc_lakehouse.pipelines.monitoring.alerts import format_amount

logger = logging.getLogger(__name__)

SEVERITY = ("fail", "warn", "ok", "skipped")
_COLORS = {"fail": "#b42318", "warn": "#b54708", "ok": "#067647", "skipped": "#57606a"}
_STYLE = (
    "<style>\n"
    ".health { border-collapse: collapse; width: 100%; font-size: 13px; }\n"
    ".health th, .health td { text-align: left; padding: 4px 8px; "
    "border-bottom: 1px solid #e4e7eb; vertical-align: top; }\n"
    ".health td.num { text-align: right; white-space: nowrap; }\n"
    ".badge { display: inline-block; min-width: 52px; text-align: center; border-radius: 10px; "
    "padding: 1px 8px; color: #fff; font-weight: 600; font-size: 12px; }\n"
    + "".join(f".badge.{status} {{ background: {color}; }}\n" for status, color in _COLORS.items())
    + "</style>"
)


def load_latest_alerts(params: Mapping[str, Any]) -> pd.DataFrame | None:
    """The rows of the latest monitoring run in the alert table; ``None`` when there is none."""
    from pyspark.sql import functions as F

    from nyc_lakehouse.datasets import DeltaTableDataset

    dataset = DeltaTableDataset(table=params["table"], root=params["lakehouse_root"])
    if not dataset.exists():
        logger.info("Dashboard: %s not found; data-health panel shows a note", params["table"])
        return None
    results = dataset.load()
    latest = results.orderBy(F.col("evaluated_at").desc()).select("run_id").limit(1).collect()
    if not latest:
        return None
    # Epoch seconds from the engine: toPandas would give the session time zone's wall clock.
    frame = (
        results.where(F.col("run_id") == latest[0][0])
        .withColumn("evaluated_at", F.unix_timestamp("evaluated_at"))
        .toPandas()
    )
    frame["evaluated_at"] = pd.to_datetime(frame["evaluated_at"], unit="s", utc=True)
    return frame


def _number(value: Any, unit: str) -> str:
    if value is None or pd.isna(value):
        return ""
    if unit == "share":
        return f"{float(value):.2%}"
    if unit in ("hours", "days", "columns"):
        return format_amount(float(value), unit)
    return f"{float(value):.2f}"  # |z|


def _badge(status: str) -> str:
    return f'<span class="badge {html.escape(status)}">{html.escape(status)}</span>'


def _rows(frame: pd.DataFrame) -> str:
    cells = []
    for row in frame.itertuples(index=False):
        cells.append(
            "<tr>"
            f"<td>{_badge(row.status)}</td>"
            f"<td><code>{html.escape(str(row.table_name))}</code></td>"
            f"<td>{html.escape(str(row.rule_name))} <small>({html.escape(str(row.check))}, "
            f"{html.escape(str(row.action))})</small></td>"
            f'<td class="num">{html.escape(_number(row.observed, row.unit))}</td>'
            f'<td class="num">{html.escape(_number(row.threshold, row.unit))}</td>'
            f"<td>{html.escape(str(row.message))}</td>"
            "</tr>"
        )
    return "".join(cells)


def _table(frame: pd.DataFrame) -> str:
    head = "".join(
        f"<th>{h}</th>" for h in ("status", "table", "rule", "observed", "limit", "message")
    )
    return (
        f'<table class="health"><thead><tr>{head}</tr></thead><tbody>{_rows(frame)}</tbody></table>'
    )


def data_health_panel(results: pd.DataFrame | None) -> str:
    """The panel's HTML: a summary line, then one row per table x rule, worst first."""
    style = _STYLE
    if results is None or results.empty:
        return (
            f'{style}<p class="note">No monitoring results yet: run '
            "<code>kedro run --pipeline monitoring</code> to fill this panel.</p>"
        )
    results = results.assign(
        _order=results["status"].map({s: i for i, s in enumerate(SEVERITY)}).fillna(len(SEVERITY))
    ).sort_values(["_order", "table_name", "rule_name"])
    counts = results["status"].value_counts()
    stamp = pd.Timestamp(results["evaluated_at"].max()).strftime("%Y-%m-%d %H:%M UTC")
    summary = ", ".join(f"{_badge(s)} {int(counts[s])}" for s in SEVERITY if s in counts)
    shown = results[results["status"] != "skipped"]
    skipped = results[results["status"] == "skipped"]
    parts = [
        style,
        f'<p class="note">Monitoring run <code>{html.escape(str(results["run_id"].iloc[0]))}'
        f"</code> at {stamp}: {summary}. "
        + (
            "Its error-level breaches (<code>fail</code>) failed that run. "
            if "fail" in counts
            else ""
        )
        + "Rules: <code>monitoring.alerts</code> in the parameters.</p>",
    ]
    if not shown.empty:
        parts.append(_table(shown))
    if not skipped.empty:
        parts.append(
            f"<details><summary>{len(skipped)} checks skipped (not measurable yet)</summary>"
            f"{_table(skipped)}</details>"
        )
    return "".join(parts)


def data_health_node_html(params: Mapping[str, Any] | None) -> str | None:
    """The panel for the dashboard, or ``None`` when ``reporting.data_health`` disables it."""
    if not params or not params.get("enabled", True) or not params.get("table"):
        return None
    return data_health_panel(load_latest_alerts(params))
