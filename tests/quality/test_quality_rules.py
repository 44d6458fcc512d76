"""The reusable rule registry: configuration, evaluation, counts and enforcement (real Sail)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nyc_lakehouse.quality import (
    DataQualityError,
    Rule,
    apply_rules,
    enforce_rules,
    format_summary,
    is_quarantined,
    results_to_records,
    rules_from_config,
    summarize_rules,
)

RULES = [
    {"name": "id_present", "condition": "id IS NOT NULL", "action": "quarantine"},
    {"name": "amount_positive", "condition": "amount > 0", "action": "warn", "description": "d"},
    {"name": "no_test_rows", "condition": "kind <> 'test'", "action": "fail", "description": "x"},
]


@pytest.fixture
def frame(spark):
    rows = [
        (1, 10.0, "real"),
        (2, -1.0, "real"),
        (None, 5.0, "real"),
        (4, None, "real"),  # null amount: the condition is null, so the rule fails
    ]
    return spark.createDataFrame(rows, "id int, amount double, kind string")


def test_rules_from_config_accepts_list_and_mapping():
    as_list = rules_from_config(RULES)
    as_mapping = rules_from_config(
        {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in RULES}
    )
    assert as_list == as_mapping
    assert [r.action for r in as_list] == ["quarantine", "warn", "fail"]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "a", "condition": "x", "action": "drop"}], "not one of"),
        ([{"name": "a", "condition": "x"}, {"name": "a", "condition": "y"}], "declared twice"),
        ([{"name": "a", "condition": " "}], "empty condition"),
        ([{"name": "a b", "condition": "x"}], "letters, digits"),
        ([{"name": "a", "condition": "x", "severity": "high"}], "unknown keys"),
    ],
)
def test_rules_from_config_rejects_bad_entries(entries, message):
    with pytest.raises(ValueError, match=message):
        rules_from_config(entries)


def test_invalid_condition_is_reported_with_the_rule_name(frame):
    rules = [Rule("ok", "id > 0"), Rule("broken", "no_such_column > 1")]
    with pytest.raises(ValueError, match="Rule 'broken' has an invalid condition"):
        apply_rules(frame, rules)


def test_apply_and_summarize_count_every_rule_in_one_pass(frame):
    rules = rules_from_config(RULES)
    checked = apply_rules(frame, rules)
    failed = {row["id"]: row["failed_rules"] for row in checked.collect()}
    assert failed == {1: [], 2: ["amount_positive"], None: ["id_present"], 4: ["amount_positive"]}
    assert sorted((r["id"] for r in checked.filter(is_quarantined(rules)).collect()), key=str) == [
        None
    ]

    report = summarize_rules(checked, rules, "demo.table")
    counts = {r.rule_name: (r.failed_count, r.total_count) for r in report.results}
    assert counts == {"id_present": (1, 4), "amount_positive": (2, 4), "no_test_rows": (0, 4)}
    assert report.quarantined_count == 1 and report.quarantined_share == 0.25
    enforce_rules(report, rules)  # no fail rule failed, no threshold: passes

    evaluated = datetime(2024, 1, 1, tzinfo=UTC)
    records = results_to_records(report, "run-1", evaluated)
    assert records[1] == {
        "run_id": "run-1",
        "table_name": "demo.table",
        "rule_name": "amount_positive",
        "action": "warn",
        "failed_count": 2,
        "total_count": 4,
        "failed_share": 0.5,
        "evaluated_at": evaluated,
    }
    summary = format_summary(report)
    assert "4 rows checked, 1 quarantined" in summary and "amount_positive" in summary


def test_fail_rule_raises_with_rule_name_and_count(spark):
    df = spark.createDataFrame(
        [(1, 1.0, "test"), (2, 1.0, "real")], "id int, amount double, kind string"
    )
    rules = rules_from_config(RULES)
    report = summarize_rules(apply_rules(df, rules), rules, "demo.table")
    with pytest.raises(DataQualityError, match=r"'no_test_rows' failed for 1 of 2 rows \(x\)"):
        enforce_rules(report, rules)


def test_quarantine_share_threshold(frame):
    rules = rules_from_config(RULES)
    report = summarize_rules(apply_rules(frame, rules), rules, "demo.table")
    with pytest.raises(DataQualityError, match=r"1 of 4 rows \(25.0%\).*'id_present': 1"):
        enforce_rules(report, rules, max_quarantine_share=0.2)
    enforce_rules(report, rules, max_quarantine_share=0.25)  # at the limit: allowed
    # Below the minimum size the share is not judged (one bad row in a tiny increment).
    enforce_rules(report, rules, max_quarantine_share=0.2, min_rows_for_share_check=5)


def test_no_rules_and_empty_frames(spark):
    empty = spark.createDataFrame([], "id int")
    checked = apply_rules(empty, [])
    assert "failed_rules" in checked.columns
    report = summarize_rules(checked, [], "demo.empty")
    assert report.total_count == 0 and report.quarantined_share == 0.0
    enforce_rules(report, [], max_quarantine_share=0.0)
