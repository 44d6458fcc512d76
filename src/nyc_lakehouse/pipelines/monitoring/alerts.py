"""Alert rules kept as data: thresholds over a monitoring run's metrics, with an action.

An alert rule is declared like a data-quality rule (:mod:`nyc_lakehouse.quality.rules`): a
``name``, what it checks, a threshold, an ``action`` and a ``description`` (why it exists). It
applies to the tables its ``tables`` patterns match (``fnmatch``: ``gold.*``) among the tables
the run measured, and reads the run's own metrics (``monitoring.pipeline_metrics``), so a rule
never queries a table a second time.

Checks and their settings:

* ``freshness``: ``max_age_hours`` or ``max_age_days``; ``age_of: newest_row`` (the table's configured
  ``freshness_column``, metric ``freshness_hours``) or ``age_of: commit`` (the latest Delta
  commit, metric ``commit_age_hours``). Breached when the age is above the limit.
* ``volume_anomaly``: ``max_abs_zscore`` (default 3) and ``min_history_days`` (default 14) over
  the daily volume the run measured (``monitoring.volume_anomaly``). Breached when |z| is above.
* ``schema_drift``: ``changes`` (any of ``added``, ``removed``, ``type_changed``; default all)
  and ``max_columns`` (default 0). Breached when more columns changed that way since the last run.
* ``quarantine_share``: ``max_share`` and ``min_rows`` (default 0) over silver's latest run that
  checked rows (``monitoring.quarantine``). Breached when the share is above.

Actions: ``warn`` logs and records the breach; ``fail`` records it and then fails the monitoring
run (:func:`raise_on_failed_alerts`), so a scheduler (the Databricks job) notifies. A value
exactly at its limit passes. A check that cannot be measured (table missing, first schema seen,
too little history) is recorded as ``skipped`` with the reason, never as a breach.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nyc_lakehouse.pipelines.monitoring.nodes import metrics_frame

logger = logging.getLogger(__name__)

ALERTS_TABLE = "monitoring.alert_results"
ALERT_ACTIONS = ("warn", "fail")
ALERT_ACTION_EFFECTS = {
    "warn": "The breach is logged as a warning and recorded; the run goes on.",
    "fail": (
        "The breach is recorded, then the monitoring run fails with a message naming the table, "
        "the rule and by how much (a scheduled job's failure notification fires)."
    ),
}
STATUSES = {
    "ok": "measured and within the limit (a value exactly at the limit passes)",
    "warn": "over the limit; the rule's action is `warn`",
    "fail": "over the limit; the rule's action is `fail`: the monitoring run failed",
    "skipped": "not measurable this run (table missing, no records, first schema, short history)",
}
SCHEMA_CHANGES = {
    "added": "schema_columns_added",
    "removed": "schema_columns_removed",
    "type_changed": "schema_columns_type_changed",
}
CHECK_DESCRIPTIONS = {
    "freshness": (
        "age of the newest record (`age_of: newest_row`, the table's `freshness_column`) or of the "
        "latest Delta commit (`age_of: commit`) against `max_age_hours` or `max_age_days`"
    ),
    "volume_anomaly": (
        "|z-score| of the latest day's records against the trailing window, above "
        "`max_abs_zscore` (default 3) with at least `min_history_days` (default 14) of history"
    ),
    "schema_drift": (
        "columns `added`, `removed` or `type_changed` (the rule's `changes`) since the previous "
        "run, above `max_columns` (default 0)"
    ),
    "quarantine_share": (
        "share of silver's latest checking run that was quarantined, above `max_share`, when "
        "that run checked at least `min_rows` rows"
    ),
}
# Settings each check accepts, with their defaults (None: required, unless noted).
CHECK_SETTINGS: dict[str, dict[str, Any]] = {
    "freshness": {"max_age_hours": None, "max_age_days": None, "age_of": "newest_row"},
    "volume_anomaly": {"max_abs_zscore": 3.0, "min_history_days": 14},
    "schema_drift": {"changes": list(SCHEMA_CHANGES), "max_columns": 0},
    "quarantine_share": {"max_share": None, "min_rows": 0},
}
_RULE_KEYS = {"name", "check", "tables", "action", "description"}

ALERT_COLUMNS = (
    "run_id",
    "rule_name",
    "check",
    "table_name",
    "action",
    "status",
    "observed",
    "threshold",
    "unit",
    "message",
    "evaluated_at",
)
ALERTS_SPARK_SCHEMA = (
    "run_id string, rule_name string, check string, table_name string, action string, "
    "status string, observed double, threshold double, unit string, message string, "
    "evaluated_at timestamp"
)


class MonitoringAlertError(RuntimeError):
    """An alert rule whose action is ``fail`` was breached."""


@dataclass(frozen=True)
class AlertRule:
    """One alert: ``check`` over the tables matching ``tables``, with ``settings``."""

    name: str
    check: str
    tables: tuple[str, ...]
    action: str = "warn"
    description: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"Alert {self.name!r}: use letters, digits and underscores")
        if self.check not in CHECK_SETTINGS:
            raise ValueError(
                f"Alert {self.name!r}: check {self.check!r} is not one of "
                f"{', '.join(CHECK_SETTINGS)}"
            )
        if self.action not in ALERT_ACTIONS:
            raise ValueError(
                f"Alert {self.name!r}: action {self.action!r} is not one of "
                f"{', '.join(ALERT_ACTIONS)}"
            )
        if not self.tables:
            raise ValueError(f"Alert {self.name!r}: no tables")
        unknown = set(self.settings) - set(CHECK_SETTINGS[self.check])
        if unknown:
            raise ValueError(f"Alert {self.name!r}: unknown settings {sorted(unknown)}")
        self._validate_settings()

    def _validate_settings(self) -> None:
        s = self.settings
        if self.check == "freshness":
            limits = [k for k in ("max_age_hours", "max_age_days") if s.get(k) is not None]
            if len(limits) != 1:
                raise ValueError(f"Alert {self.name!r}: set one of max_age_hours, max_age_days")
            if self.setting("age_of") not in ("newest_row", "commit"):
                raise ValueError(f"Alert {self.name!r}: age_of must be newest_row or commit")
        if self.check == "quarantine_share" and s.get("max_share") is None:
            raise ValueError(f"Alert {self.name!r}: max_share is required")
        if self.check == "schema_drift":
            bad = set(self.setting("changes")) - set(SCHEMA_CHANGES)
            if bad or not self.setting("changes"):
                raise ValueError(
                    f"Alert {self.name!r}: changes must be some of {', '.join(SCHEMA_CHANGES)}"
                )

    def setting(self, key: str) -> Any:
        value = self.settings.get(key)
        return CHECK_SETTINGS[self.check][key] if value is None else value

    def applies_to(self, table: str) -> bool:
        return any(fnmatch.fnmatchcase(table, pattern) for pattern in self.tables)


def alert_rules_from_config(
    entries: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None,
) -> list[AlertRule]:
    """Build alert rules from a list of mappings or a mapping ``{name: spec}``; names unique."""
    if not entries:
        return []
    if isinstance(entries, Mapping):
        entries = [{"name": name, **dict(spec)} for name, spec in entries.items()]
    rules: list[AlertRule] = []
    for entry in entries:
        tables = entry.get("tables") or []
        rule = AlertRule(
            name=str(entry.get("name", "")),
            check=str(entry.get("check", "")),
            tables=(tables,) if isinstance(tables, str) else tuple(map(str, tables)),
            action=str(entry.get("action", "warn")),
            description=str(entry.get("description", "")),
            settings={k: v for k, v in entry.items() if k not in _RULE_KEYS},
        )
        if rule.name in {r.name for r in rules}:
            raise ValueError(f"Alert {rule.name!r} is declared twice")
        rules.append(rule)
    return rules


def _number(value: float, decimals: int = 1) -> str:
    """19.0 -> '19', 9.25 -> '9.2': short numbers for messages."""
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(value: float, unit: str) -> str:
    """'19 days', '1 day', '2.5 hours': a number with its unit, singular for exactly one."""
    text = _number(value)
    return f"{text} {unit[:-1] if text == '1' and unit.endswith('s') else unit}"


class _Metrics:
    """The run's metrics of one table, looked up by metric (one row per metric here)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def row(self, metric: str) -> pd.Series | None:
        rows = self.frame[self.frame["metric"] == metric]
        return None if rows.empty else rows.iloc[0]

    def value(self, metric: str) -> float | None:
        row = self.row(metric)
        if row is None or pd.isna(row["value"]):
            return None
        return float(row["value"])


@dataclass(frozen=True)
class _Outcome:
    observed: float | None
    threshold: float | None
    unit: str
    breached: bool
    message: str

    @classmethod
    def skipped(cls, threshold: float | None, unit: str, message: str) -> _Outcome:
        return cls(None, threshold, unit, False, message)


def _freshness(rule: AlertRule, table: str, m: _Metrics) -> _Outcome:
    in_days = rule.settings.get("max_age_days") is not None
    unit = "days" if in_days else "hours"
    limit = float(rule.setting("max_age_days" if in_days else "max_age_hours"))
    metric = "commit_age_hours" if rule.setting("age_of") == "commit" else "freshness_hours"
    row = m.row(metric)
    if row is None:
        reason = (
            "no Delta commit time (not a path delta-rs reads)"
            if metric == "commit_age_hours"
            else "no freshness_column configured for this table"
        )
        return _Outcome.skipped(limit, unit, f"freshness: {table}: {reason}")
    if pd.isna(row["value"]):
        return _Outcome.skipped(limit, unit, f"freshness: {table} has no records")
    hours = float(row["value"])
    age = hours / 24.0 if in_days else hours
    what = "last commit" if metric == "commit_age_hours" else f"newest {row['dimension']}"
    latest = str(row["detail"]).removeprefix("latest ")
    shown = format_amount(age, unit) + (
        f" ({format_amount(hours / 24.0, 'days')})" if not in_days and hours >= 48 else ""
    )
    message = (
        f"freshness: {table} {what} ({latest}) is {shown} old, limit {format_amount(limit, unit)}"
    )
    breached = age > limit
    if breached:
        message += f" ({format_amount(age - limit, unit)} over)"
    return _Outcome(age, limit, unit, breached, message)


def _volume(rule: AlertRule, table: str, m: _Metrics) -> _Outcome:
    limit = float(rule.setting("max_abs_zscore"))
    needed = int(rule.setting("min_history_days"))
    row = m.row("volume_zscore")
    if row is None:
        return _Outcome.skipped(
            limit, "|z|", f"volume_anomaly: {table} has no daily volume measured"
        )
    history = m.value("volume_history_days") or 0.0
    if pd.isna(row["value"]) or history < needed:
        return _Outcome.skipped(
            limit,
            "|z|",
            f"volume_anomaly: {table} has {_number(history, 0)} days of history, needs {needed}",
        )
    z = float(row["value"])
    latest, mean = m.value("volume_latest"), m.value("volume_trailing_mean")
    message = (
        f"volume_anomaly: {table} had {_number(latest or 0.0, 0)} records on {row['dimension']} "
        f"against a {_number(history, 0)}-day mean of {_number(mean or 0.0)} "
        f"(z = {_number(z, 2)}, limit |z| {_number(limit, 2)}"
    )
    breached = abs(z) > limit
    message += f", {_number(abs(z) - limit, 2)} over)" if breached else ")"
    return _Outcome(abs(z), limit, "|z|", breached, message)


def _schema_drift(rule: AlertRule, table: str, m: _Metrics) -> _Outcome:
    limit = float(rule.setting("max_columns"))
    if m.row("schema_drift") is None or m.value("schema_drift") is None:
        return _Outcome.skipped(
            limit, "columns", f"schema_drift: {table}: first schema seen, nothing to compare"
        )
    changed, parts = 0.0, []
    for change in rule.setting("changes"):
        row = m.row(SCHEMA_CHANGES[change])
        count = 0.0 if row is None or pd.isna(row["value"]) else float(row["value"])
        changed += count
        if count:
            parts.append(f"{change.replace('_', ' ')} {_number(count, 0)} ({row['detail']})")
    watched = " or ".join(c.replace("_", " ") for c in rule.setting("changes"))
    message = (
        f"schema_drift: {table} " + ("; ".join(parts) if parts else f"no column {watched}")
    ) + f" since the last run, limit {format_amount(limit, 'columns')}"
    breached = changed > limit
    if breached:
        message += f" ({_number(changed - limit, 0)} over)"
    return _Outcome(changed, limit, "columns", breached, message)


def _quarantine_share(rule: AlertRule, table: str, m: _Metrics) -> _Outcome:
    limit = float(rule.setting("max_share"))
    min_rows = int(rule.setting("min_rows"))
    row = m.row("quarantine_share")
    if row is None or pd.isna(row["value"]):
        return _Outcome.skipped(
            limit, "share", f"quarantine_share: {table}: no silver run has checked rows yet"
        )
    checked = m.value("quarantine_rows_checked") or 0.0
    if checked < min_rows:
        return _Outcome.skipped(
            limit,
            "share",
            f"quarantine_share: {table}: the latest silver run checked {_number(checked, 0)} "
            f"rows, fewer than min_rows {min_rows}",
        )
    share = float(row["value"])
    message = (
        f"quarantine_share: {table} quarantined {row['detail']} ({share:.2%}) in silver run "
        f"{row['dimension']}, limit {limit:.2%}"
    )
    breached = share > limit
    if breached:
        message += f" ({(share - limit) * 100:.2f} points over)"
    return _Outcome(share, limit, "share", breached, message)


_CHECKS = {
    "freshness": _freshness,
    "volume_anomaly": _volume,
    "schema_drift": _schema_drift,
    "quarantine_share": _quarantine_share,
}


def _evaluate(rule: AlertRule, table: str, metrics: pd.DataFrame | None) -> _Outcome:
    if metrics is None:
        return _Outcome.skipped(
            None, "", f"{rule.check}: {table} is not measured: add it to monitoring's tables"
        )
    m = _Metrics(metrics)
    if m.value("table_missing"):
        return _Outcome.skipped(None, "", f"{rule.check}: {table} does not exist")
    return _CHECKS[rule.check](rule, table, m)


def evaluate_alerts(
    run: Mapping[str, Any],
    config: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
    *metric_frames: pd.DataFrame,
) -> pd.DataFrame:
    """One row per rule x table: the observed value, the limit, the status and a message."""
    rules = alert_rules_from_config(config)
    metrics = pd.concat(
        [metrics_frame([]), *(f for f in metric_frames if not f.empty)], ignore_index=True
    )
    by_table = {table: frame for table, frame in metrics.groupby("table_name", sort=True)}
    rows: list[dict[str, Any]] = []
    for rule in rules:
        tables = [t for t in by_table if rule.applies_to(t)]
        # A literal name that the run did not measure is a configuration gap: say so.
        tables += [p for p in rule.tables if not any(c in p for c in "*?[") and p not in by_table]
        for table in tables:
            outcome = _evaluate(rule, table, by_table.get(table))
            if outcome.observed is None:
                status = "skipped"
            else:
                status = rule.action if outcome.breached else "ok"
            if status in ALERT_ACTIONS:
                logger.warning("Alert %s (%s): %s", rule.name, status, outcome.message)
            rows.append(
                {
                    "run_id": run["run_id"],
                    "rule_name": rule.name,
                    "check": rule.check,
                    "table_name": table,
                    "action": rule.action,
                    "status": status,
                    "observed": outcome.observed,
                    "threshold": outcome.threshold,
                    "unit": outcome.unit,
                    "message": outcome.message,
                    "evaluated_at": run["measured_at"],
                }
            )
    frame = pd.DataFrame(rows, columns=list(ALERT_COLUMNS))
    counts = frame["status"].value_counts().to_dict()
    logger.info("Monitoring alerts: %s", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return frame


def alerts_to_spark(frame: pd.DataFrame) -> Any:
    """The alert rows as a Spark DataFrame for ``monitoring.alert_results``."""
    from nyc_lakehouse.spark import get_spark

    frame = frame.copy()
    frame["evaluated_at"] = pd.to_datetime(frame["evaluated_at"], utc=True)
    for column in ("observed", "threshold"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return get_spark().createDataFrame(frame, schema=ALERTS_SPARK_SCHEMA)


def record_alerts(
    run: Mapping[str, Any],
    config: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
    *metric_frames: pd.DataFrame,
) -> Any:
    """Kedro node: :func:`evaluate_alerts`, ready to append to ``monitoring.alert_results``."""
    return alerts_to_spark(evaluate_alerts(run, config, *metric_frames))


def raise_on_failed_alerts(run: Mapping[str, Any], alert_results: Any, *saved: Any) -> None:
    """Fail the run when this run's recorded alerts include a ``fail``.

    Reads the rows back from the saved table, so it runs only once the results (and, through
    ``saved``, the metrics) are written: the record of a failing run survives it.
    """
    from pyspark.sql import functions as F

    failed = (
        alert_results.where((F.col("run_id") == run["run_id"]) & (F.col("status") == "fail"))
        .select("message")
        .orderBy("rule_name", "table_name")
        .collect()
    )
    if failed:
        lines = "\n".join(f"  - {row['message']}" for row in failed)
        raise MonitoringAlertError(
            f"Monitoring run {run['run_id']}: {len(failed)} error-level alert(s) "
            f"(results in {ALERTS_TABLE}):\n{lines}"
        )
