"""The rows the alert rules record: every number of a message at its own precision, the unit
and the threshold, also when the metrics a rule needs are missing (a skipped row still says
which limit it could not check and why)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from nyc_lakehouse.pipelines.monitoring import alerts, nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
TABLE = "silver.requests"
RULE = {"name": "daily_volume", "check": "volume_anomaly", "tables": [TABLE]}
DAY = "2024-03-09"


def _verdict(rule: dict, **values: float) -> pd.Series:
    run = nodes.new_monitoring_run(NOW)
    dimension = {"volume_latest": DAY, "volume_trailing_mean": DAY, "volume_zscore": DAY}
    rows = [
        nodes.metric_row(
            run, TABLE, metric, value, *((dimension[metric],) if metric in dimension else ())
        )
        for metric, value in values.items()
    ]
    frame = alerts.evaluate_alerts(run, [rule], nodes.metrics_frame(rows))
    assert len(frame) == 1
    return frame.iloc[0]


def test_a_breach_message_shows_each_number_at_its_precision():
    row = _verdict(
        RULE | {"max_abs_zscore": 3.254},
        volume_latest=130.4,
        volume_trailing_mean=100.26,
        volume_zscore=-4.567,
        volume_history_days=14,
    )
    assert (row["status"], row["unit"], row["threshold"]) == ("warn", "|z|", 3.254)
    assert row["observed"] == 4.567
    assert row["message"] == (
        f"volume_anomaly: {TABLE} had 130 records on {DAY} against a 14-day mean of 100.3 "
        "(z = -4.57, limit |z| 3.25, 1.31 over)"
    )


def test_a_normal_day_has_no_over_part_and_missing_counts_read_as_zero():
    row = _verdict(RULE, volume_zscore=0.5, volume_history_days=20)
    assert (row["status"], row["unit"], row["observed"]) == ("ok", "|z|", 0.5)
    assert row["message"] == (
        f"volume_anomaly: {TABLE} had 0 records on {DAY} against a 20-day mean of 0 "
        "(z = 0.5, limit |z| 3)"
    )


def test_skipped_rows_keep_the_threshold_and_unit():
    no_volume = _verdict(RULE, volume_history_days=20)
    assert (no_volume["status"], no_volume["unit"], no_volume["threshold"]) == (
        "skipped",
        "|z|",
        3.0,
    )
    assert no_volume["message"] == f"volume_anomaly: {TABLE} has no daily volume measured"
    no_history = _verdict(RULE, volume_zscore=9.0)
    assert (no_history["status"], no_history["unit"], no_history["threshold"]) == (
        "skipped",
        "|z|",
        3.0,
    )
    assert no_history["message"] == (f"volume_anomaly: {TABLE} has 0 days of history, needs 14")


FRESH = {"name": "fresh", "check": "freshness", "tables": [TABLE], "max_age_hours": 48}


def _only(rule: dict, *rows: dict) -> pd.Series:
    run = nodes.new_monitoring_run(NOW)
    frame = alerts.evaluate_alerts(run, [rule], nodes.metrics_frame(list(rows)))
    assert len(frame) == 1
    return frame.iloc[0]


def test_freshness_rows_that_cannot_be_judged_say_why_with_their_limit():
    run = nodes.new_monitoring_run(NOW)
    other = nodes.metric_row(run, TABLE, "row_count", 5)
    no_column = _only(FRESH, other)
    assert (no_column["status"], no_column["unit"], no_column["threshold"]) == (
        "skipped",
        "hours",
        48.0,
    )
    assert no_column["message"] == (
        f"freshness: {TABLE}: no freshness_column configured for this table"
    )
    in_days = {k: v for k, v in FRESH.items() if k != "max_age_hours"} | {"max_age_days": 2}
    no_commit = _only(in_days | {"age_of": "commit"}, other)
    assert (no_commit["unit"], no_commit["threshold"]) == ("days", 2.0)
    assert no_commit["message"] == (
        f"freshness: {TABLE}: no Delta commit time (not a path delta-rs reads)"
    )
    empty = _only(FRESH, nodes.metric_row(run, TABLE, "freshness_hours", None, "_ingested_at"))
    assert (empty["status"], empty["unit"], empty["threshold"]) == ("skipped", "hours", 48.0)
    assert empty["message"] == f"freshness: {TABLE} has no records"
    commit = nodes.metric_row(run, TABLE, "commit_age_hours", 30.0, None, "latest 2024-03-09")
    judged = _only(FRESH | {"age_of": "commit"}, commit)
    assert judged["message"] == (
        f"freshness: {TABLE} last commit (2024-03-09) is 30 hours old, limit 48 hours"
    )


def test_schema_drift_rows_are_counted_in_columns():
    rule = {"name": "drift", "check": "schema_drift", "tables": [TABLE]}
    run = nodes.new_monitoring_run(NOW)
    first = _only(rule, nodes.metric_row(run, TABLE, "row_count", 5))
    assert (first["status"], first["unit"], first["threshold"]) == ("skipped", "columns", 0.0)
    assert first["message"] == f"schema_drift: {TABLE}: first schema seen, nothing to compare"
    same = _only(rule, nodes.metric_row(run, TABLE, "schema_drift", 0))
    assert (same["status"], same["unit"]) == ("ok", "columns")


def test_a_rule_keeps_its_description_and_needs_a_name_and_a_check():
    rule = {"name": "drift", "check": "schema_drift", "tables": [TABLE]}
    (described,) = alerts.alert_rules_from_config([rule | {"description": "why it matters"}])
    assert described.description == "why it matters"
    (plain,) = alerts.alert_rules_from_config([rule])
    assert plain.description == ""
    nameless = {k: v for k, v in rule.items() if k != "name"}
    with pytest.raises(ValueError, match=r"Alert '': use letters, digits and underscores"):
        alerts.alert_rules_from_config([nameless])
    checkless = {k: v for k, v in rule.items() if k != "check"}
    with pytest.raises(ValueError, match=r"Alert 'drift': check '' is not one of"):
        alerts.alert_rules_from_config([checkless])
