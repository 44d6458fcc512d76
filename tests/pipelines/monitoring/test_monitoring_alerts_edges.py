"""Alert rows at their edges: the quarantine and schema-drift messages word for word, with the
threshold and unit a dashboard reads, the days shown next to an age of exactly two days, rows
for tables that cannot be judged, the rule-name and setting errors in full, the warning a
``warn`` breach logs, a run without rules, and the order a failing run lists its breaches in."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from test_monitoring_alerts import NOW, _run
from test_monitoring_alerts import _verdict as _only

from nyc_lakehouse.pipelines.monitoring import alerts, nodes

SILVER = "silver.nyc311_service_requests"
QUARANTINE = {
    "name": "quarantine",
    "check": "quarantine_share",
    "tables": [SILVER],
    "max_share": 0.05,
}


def _judged(row: pd.Series) -> tuple:
    return row["status"], row["observed"], row["threshold"], row["unit"]


def _quarantine(share: float | None, checked: int | None = None, detail: str = "") -> list[dict]:
    """The quarantine metrics of one silver run ``s1``, as ``nodes.quarantine_metrics`` records
    them (``share`` None: no silver run checked rows; ``checked`` None: no count recorded)."""
    run = _run()
    if share is None:
        return [nodes.metric_row(run, SILVER, "quarantine_share", None, detail="no silver run")]
    rows = [nodes.metric_row(run, SILVER, "quarantine_share", share, "s1", detail)]
    if checked is not None:
        rows.append(nodes.metric_row(run, SILVER, "quarantine_rows_checked", checked, "s1"))
    return rows


def test_no_silver_run_that_checked_rows_is_skipped_with_the_limit():
    # min_rows is left at its default 0, so only the missing share can skip the row.
    row = _only(QUARANTINE, *_quarantine(None))
    assert row["status"] == "skipped" and pd.isna(row["observed"])
    assert (row["threshold"], row["unit"]) == (0.05, "share")
    assert row["message"] == f"quarantine_share: {SILVER}: no silver run has checked rows yet"


def test_a_run_below_min_rows_is_skipped_naming_both_counts():
    short = _only(QUARANTINE | {"min_rows": 101}, *_quarantine(0.5, 100))
    assert short["status"] == "skipped" and pd.isna(short["observed"])
    assert (short["threshold"], short["unit"]) == (0.05, "share")
    assert short["message"] == (
        f"quarantine_share: {SILVER}: the latest silver run checked 100 rows, "
        "fewer than min_rows 101"
    )
    enough = _only(QUARANTINE | {"min_rows": 100}, *_quarantine(0.5, 100))
    assert enough["status"] == "warn"
    # No count recorded reads as 0 rows checked, which a min_rows of 1 does not accept.
    uncounted = _only(QUARANTINE | {"min_rows": 1}, *_quarantine(0.5))
    assert uncounted["status"] == "skipped"
    assert uncounted["message"].endswith("checked 0 rows, fewer than min_rows 1")


def test_a_judged_quarantine_share_records_its_limit_as_a_share():
    at_limit = _only(QUARANTINE, *_quarantine(0.05, 200, "10 of 200 rows"))
    assert _judged(at_limit) == ("ok", 0.05, 0.05, "share")
    assert at_limit["message"] == (
        f"quarantine_share: {SILVER} quarantined 10 of 200 rows (5.00%) in silver run s1, "
        "limit 5.00%"
    )


def _drift(current: dict, previous: dict) -> list[dict]:
    return nodes.schema_drift_rows(_run(), "silver.t", current, previous)


BREAKING = {
    "name": "breaking",
    "check": "schema_drift",
    "tables": ["silver.*"],
    "changes": ["removed", "type_changed"],
}


def test_schema_drift_without_a_watched_change_says_which_changes_it_watched():
    added_only = _only(BREAKING, *_drift({"a": "int", "b": "int"}, {"a": "int"}))
    assert _judged(added_only) == ("ok", 0, 0, "columns")
    assert added_only["message"] == (
        "schema_drift: silver.t no column removed or type changed since the last run, "
        "limit 0 columns"
    )


def test_schema_drift_lists_every_watched_change_and_the_excess_over_the_limit():
    both = _drift({"a": "bigint"}, {"a": "int", "b": "string"})
    row = _only(BREAKING | {"max_columns": 1}, *both)
    assert _judged(row) == ("warn", 2, 1, "columns")
    assert row["message"] == (
        "schema_drift: silver.t removed 1 (b); type changed 1 (a: int -> bigint) "
        "since the last run, limit 1 column (1 over)"
    )


FRESH = {"name": "fresh", "check": "freshness", "tables": [SILVER], "max_age_hours": 48}


def _age(hours: float) -> dict:
    return nodes.metric_row(_run(), SILVER, "freshness_hours", hours, "_ingested_at", "latest x")


@pytest.mark.parametrize(
    ("hours", "shown"),
    [(47, "47 hours"), (48, "48 hours (2 days)"), (60, "60 hours (2.5 days)")],
)
def test_an_age_in_hours_shows_days_from_two_days_on(hours, shown):
    row = _only(FRESH | {"max_age_hours": 72}, _age(hours))
    assert row["message"] == (
        f"freshness: {SILVER} newest _ingested_at (x) is {shown} old, limit 72 hours"
    )


def test_rows_for_tables_that_cannot_be_judged_say_why_with_an_empty_unit():
    # The unit column is never null: these rows measured nothing, so they name no unit.
    run = _run()
    unmeasured = _only(FRESH, nodes.metric_row(run, "silver.other", "row_count", 1))
    missing = _only(FRESH, nodes.missing_table_row(run, SILVER, "/lake"))
    assert unmeasured["message"] == (
        f"freshness: {SILVER} is not measured: add it to monitoring's tables"
    )
    assert missing["message"] == f"freshness: {SILVER} does not exist"
    for row in (unmeasured, missing):
        assert (row["status"], row["unit"]) == ("skipped", "")
        assert pd.isna(row["observed"])


def test_table_names_are_case_sensitive_and_a_miscased_literal_is_reported():
    measured = nodes.metric_row(_run(), "silver.tax_lots", "freshness_hours", 1.0, "c", "x")
    row = _only(FRESH | {"tables": ["SILVER.TAX_LOTS"]}, measured)
    assert row["table_name"] == "SILVER.TAX_LOTS"
    assert row["message"] == (
        "freshness: SILVER.TAX_LOTS is not measured: add it to monitoring's tables"
    )


def test_only_breaches_log_a_warning(caplog):
    rules = [
        FRESH | {"name": "stale", "max_age_hours": 1},
        FRESH,
        FRESH | {"name": "other", "tables": ["silver.unmeasured"]},
    ]
    with caplog.at_level(logging.INFO, logger=alerts.__name__):
        frame = alerts.evaluate_alerts(_run(), rules, nodes.metrics_frame([_age(2)]))
    assert list(frame["status"]) == ["warn", "ok", "skipped"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"Alert stale (warn): {frame['message'].iloc[0]}"]


@pytest.mark.parametrize("name", ["bad-name", "two words", "__"])
def test_a_rule_name_needs_letters_or_digits_and_nothing_else(name):
    with pytest.raises(ValueError, match="use letters, digits and underscores"):
        alerts.AlertRule(name, "schema_drift", ("silver.*",))


def test_setting_errors_list_every_accepted_value():
    with pytest.raises(ValueError) as check:
        alerts.AlertRule("r", "rows", ("t",))
    assert str(check.value) == (
        "Alert 'r': check 'rows' is not one of "
        "freshness, volume_anomaly, schema_drift, quarantine_share"
    )
    with pytest.raises(ValueError) as changes:
        alerts.AlertRule("r", "schema_drift", ("t",), settings={"changes": []})
    assert str(changes.value) == "Alert 'r': changes must be some of added, removed, type_changed"


def test_a_run_without_rules_records_no_rows_with_the_tables_schema(spark):
    frame = alerts.evaluate_alerts(_run(), None, nodes.metrics_frame([_age(1)]))
    assert frame.empty and list(frame.columns) == list(alerts.ALERT_COLUMNS)
    recorded = alerts.alerts_to_spark(frame)
    assert [f"{name} {kind}" for name, kind in recorded.dtypes] == (
        alerts.ALERTS_SPARK_SCHEMA.split(", ")
    )
    assert recorded.count() == 0


def test_a_failed_run_lists_its_breaches_by_rule_then_table(spark):
    run = _run()
    # Stored out of order: rule b before rule a, and rule a's tables z before y.
    stored = [("b", "silver.a"), ("a", "silver.z"), ("a", "silver.y")]
    rows = [
        (run["run_id"], rule, "freshness", t, "fail", "fail", 2.0, 1.0, "hours", f"{rule} {t}", NOW)
        for rule, t in stored
    ]
    table = spark.createDataFrame(rows, alerts.ALERTS_SPARK_SCHEMA)
    with pytest.raises(alerts.MonitoringAlertError) as raised:
        alerts.raise_on_failed_alerts(run, table)
    listed = str(raised.value).splitlines()[1:]
    assert listed == ["  - a silver.y", "  - a silver.z", "  - b silver.a"]
