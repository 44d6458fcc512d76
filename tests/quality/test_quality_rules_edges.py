"""The rule registry's edges: no quarantine rule, a custom failure column, empty input, the exact
log summary (real Sail). Written against the mutants the broader tests let survive."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from nyc_lakehouse.quality import (
    DataQualityError,
    QualityReport,
    Rule,
    RuleResult,
    apply_rules,
    enforce_rules,
    format_summary,
    is_quarantined,
    rules_from_config,
    summarize_rules,
)

WARN_ONLY = [{"name": "amount_positive", "condition": "amount > 0", "action": "warn"}]
QUARANTINE = [{"name": "id_present", "condition": "id IS NOT NULL", "action": "quarantine"}]


def test_without_a_quarantine_rule_no_row_is_quarantined(spark):
    frame = spark.createDataFrame([(1, -1.0), (2, 3.0)], "id int, amount double")
    rules = rules_from_config(WARN_ONLY)
    checked = apply_rules(frame, rules)
    flags = [r["q"] for r in checked.select(is_quarantined(rules).alias("q")).collect()]
    assert flags == [False, False]  # False, not null: a filter on NOT quarantined keeps them
    assert checked.where(~is_quarantined(rules)).count() == 2
    report = summarize_rules(checked, rules, "demo.warn_only")
    assert report.table_name == "demo.warn_only"
    assert (report.total_count, report.quarantined_count) == (2, 0)
    assert [(r.rule_name, r.failed_count) for r in report.results] == [("amount_positive", 1)]


def test_an_empty_input_counts_zero_failures_and_zero_quarantined(spark):
    frame = spark.createDataFrame([], "id int, amount double")
    rules = rules_from_config(QUARANTINE + WARN_ONLY)
    report = summarize_rules(apply_rules(frame, rules), rules, "demo.empty")
    assert (report.total_count, report.quarantined_count) == (0, 0)
    assert [r.failed_count for r in report.results] == [0, 0]


def test_failures_can_be_kept_in_another_column(spark):
    frame = spark.createDataFrame([(None, 1.0), (2, 1.0), (3, 1.0)], "id int, amount double")
    rules = rules_from_config(QUARANTINE)
    # the failed-rule names under another name; the default column holds something else
    checked = (
        apply_rules(frame, rules)
        .withColumnRenamed("failed_rules", "broken")
        .withColumn("failed_rules", F.array().cast("array<string>"))
    )
    report = summarize_rules(checked, rules, "demo.custom", column="broken")
    assert report.quarantined_count == 1
    assert report.results[0].failed_count == 1
    assert checked.where(is_quarantined(rules, "broken")).count() == 1


def test_format_summary_is_one_aligned_line_per_rule():
    report = QualityReport(
        table_name="silver.t",
        total_count=200,
        quarantined_count=3,
        results=(
            RuleResult("silver.t", "id_present", "quarantine", 3, 200),
            RuleResult("silver.t", "zip_valid", "warn", 50, 200),
        ),
    )
    assert format_summary(report).split("\n") == [
        "Data quality of silver.t: 200 rows checked, 3 quarantined (1.50%)",
        "  id_present  quarantine  failed         3  (1.50%)",
        "  zip_valid   warn        failed        50  (25.00%)",
    ]


def test_format_summary_without_rules_is_the_headline_alone():
    report = QualityReport(table_name="bronze.t", total_count=0, quarantined_count=0, results=())
    assert (
        format_summary(report) == "Data quality of bronze.t: 0 rows checked, 0 quarantined (0.00%)"
    )


def _report(*results: RuleResult, quarantined: int = 0) -> QualityReport:
    total = results[0].total_count if results else 0
    return QualityReport("demo.t", total, quarantined, tuple(results))


def test_fail_rules_are_listed_with_counts_and_descriptions_where_given():
    rules = rules_from_config(
        [
            {"name": "a", "condition": "x", "action": "fail", "description": "no test rows"},
            {"name": "b", "condition": "y", "action": "fail"},
        ]
    )
    report = _report(
        RuleResult("demo.t", "a", "fail", 1, 3), RuleResult("demo.t", "b", "fail", 2, 3)
    )
    with pytest.raises(DataQualityError) as raised:
        enforce_rules(report, rules)
    assert str(raised.value) == (
        "demo.t: data-quality check failed: rule 'a' failed for 1 of 3 rows (no test rows); "
        "rule 'b' failed for 2 of 3 rows"
    )


def test_quarantine_share_names_only_the_quarantine_rules_that_failed():
    rules = rules_from_config(
        [
            {"name": "a", "condition": "x", "action": "quarantine"},
            {"name": "b", "condition": "x", "action": "quarantine"},
            {"name": "clean", "condition": "x", "action": "quarantine"},
            {"name": "noisy", "condition": "x", "action": "warn"},
        ]
    )
    report = _report(
        RuleResult("demo.t", "a", "quarantine", 2, 10),
        RuleResult("demo.t", "b", "quarantine", 1, 10),
        RuleResult("demo.t", "clean", "quarantine", 0, 10),
        RuleResult("demo.t", "noisy", "warn", 7, 10),
        quarantined=3,
    )
    with pytest.raises(DataQualityError) as raised:
        enforce_rules(report, rules, max_quarantine_share=0.25)
    assert str(raised.value).endswith("(max_quarantine_share). Failing rules: 'a': 2, 'b': 1")


def test_quarantine_share_is_judged_from_exactly_the_minimum_row_count():
    rules = rules_from_config([{"name": "a", "condition": "x", "action": "quarantine"}])
    five = _report(RuleResult("demo.t", "a", "quarantine", 5, 5), quarantined=5)
    with pytest.raises(DataQualityError):
        enforce_rules(five, rules, max_quarantine_share=0.5, min_rows_for_share_check=5)
    enforce_rules(five, rules, max_quarantine_share=0.5, min_rows_for_share_check=6)
    # a single row is judged when no minimum is set (an empty table never is)
    one = _report(RuleResult("demo.t", "a", "quarantine", 1, 1), quarantined=1)
    with pytest.raises(DataQualityError):
        enforce_rules(one, rules, max_quarantine_share=0.5)
    enforce_rules(_report(), rules, max_quarantine_share=0.0)


def test_config_defaults_and_messages():
    (rule,) = rules_from_config([{"name": "a", "condition": "x > 0"}])
    assert (rule.action, rule.description) == ("warn", "")
    with pytest.raises(ValueError, match="Rule 'a': unknown keys \\['level'\\]"):
        rules_from_config([{"name": "a", "condition": "x", "level": 1}])
    with pytest.raises(ValueError, match="use letters, digits and underscores"):
        rules_from_config([{"condition": "x > 0"}])  # no name
    with pytest.raises(ValueError, match="empty condition"):
        rules_from_config([{"name": "a"}])  # no condition
    for name in ("_", "__", ""):
        with pytest.raises(ValueError, match="use letters, digits and underscores"):
            Rule(name, "x > 0")
    with pytest.raises(ValueError, match="is not one of warn, quarantine, fail$"):
        Rule("a", "x > 0", action="drop")


def test_an_invalid_condition_is_reported_with_the_engine_first_line(spark):
    frame = spark.createDataFrame([(1,)], "id int")
    try:
        frame.select(F.expr("(no_such_column > 1)")).schema  # noqa: B018
    except Exception as exc:  # noqa: BLE001 - the engine's own wording, whatever its class
        first_line = str(exc).strip().splitlines()[0]
    else:
        pytest.fail("the engine accepted an unknown column")
    with pytest.raises(ValueError) as raised:
        apply_rules(frame, [Rule("ok", "id > 0"), Rule("broken", "no_such_column > 1")])
    assert str(raised.value) == (
        f"Rule 'broken' has an invalid condition 'no_such_column > 1': {first_line}"
    )
