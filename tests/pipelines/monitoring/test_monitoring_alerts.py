"""Alert rules over monitoring metrics: each check at its limit and one unit over, the rule
registry's validation, the quarantine share from real silver tables, and a real Kedro run that a
freshness breach fails after its results are saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from nyc_lakehouse.pipelines.monitoring import alerts, nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
TABLE = "bronze.nyc311_service_requests"


def _run() -> dict:
    return nodes.new_monitoring_run(NOW)


def _verdict(rule: dict, *rows: dict) -> pd.Series:
    """The one verdict of ``rule`` on the metric ``rows``."""
    frame = alerts.evaluate_alerts(_run(), [rule], nodes.metrics_frame(list(rows)))
    assert len(frame) == 1, frame
    return frame.iloc[0]


def _freshness_rows(hours: float, table: str = TABLE, column: str = "_ingested_at") -> dict:
    latest = (NOW - timedelta(hours=hours)).isoformat()
    return nodes.metric_row(_run(), table, "freshness_hours", hours, column, f"latest {latest}")


FRESH_HOURS = {
    "name": "ingested_daily",
    "check": "freshness",
    "tables": [TABLE],
    "max_age_hours": 48,
    "action": "fail",
}


def test_freshness_in_hours_passes_at_the_limit_and_fails_one_hour_over():
    at_limit = _verdict(FRESH_HOURS, _freshness_rows(48))
    assert (at_limit["status"], at_limit["observed"], at_limit["threshold"]) == ("ok", 48, 48)
    over = _verdict(FRESH_HOURS, _freshness_rows(49))
    assert over["status"] == "fail" and over["unit"] == "hours"
    assert over["message"] == (
        f"freshness: {TABLE} newest _ingested_at (2024-03-08T11:00:00+00:00) is 49 hours "
        "(2 days) old, limit 48 hours (1 hour over)"
    )


def test_freshness_in_days_passes_at_the_limit_and_fails_one_day_over():
    rule = {**FRESH_HOURS, "tables": ["gold.*"], "max_age_days": 10, "action": "warn"}
    rule.pop("max_age_hours")
    at_limit = _verdict(rule, _freshness_rows(240, "gold.fact_911_weekly", "week_start_date"))
    assert (at_limit["status"], at_limit["observed"], at_limit["unit"]) == ("ok", 10, "days")
    over = _verdict(rule, _freshness_rows(19 * 24, "gold.fact_911_weekly"))
    assert over["status"] == "warn" and over["observed"] == 19
    assert over["message"].startswith("freshness: gold.fact_911_weekly newest _ingested_at")
    assert over["message"].endswith("is 19 days old, limit 10 days (9 days over)")


def test_freshness_of_the_latest_commit_and_what_cannot_be_measured():
    rule = {**FRESH_HOURS, "age_of": "commit"}
    committed = NOW - timedelta(hours=49)
    over = _verdict(rule, nodes.commit_age_row(_run(), TABLE, committed))
    assert over["status"] == "fail" and over["observed"] == pytest.approx(49)
    assert "last commit" in over["message"] and "(1 hour over)" in over["message"]
    unknown = _verdict(rule, nodes.commit_age_row(_run(), TABLE, None))
    assert unknown["status"] == "skipped" and pd.isna(unknown["observed"])
    empty = _verdict(FRESH_HOURS, nodes.metric_row(_run(), TABLE, "freshness_hours", None, "c"))
    assert (empty["status"], empty["message"]) == ("skipped", f"freshness: {TABLE} has no records")
    missing = _verdict(FRESH_HOURS, nodes.missing_table_row(_run(), TABLE, "/lake"))
    assert missing["status"] == "skipped" and "does not exist" in missing["message"]
    # A literal table the run did not measure at all is reported, not silently ignored.
    unmeasured = _verdict(FRESH_HOURS, nodes.metric_row(_run(), "bronze.other", "row_count", 1))
    assert unmeasured["table_name"] == TABLE and "is not measured" in unmeasured["message"]


def test_a_real_table_commit_age_follows_the_runs_instant(spark, data_root):
    spark.createDataFrame([(1,)], "id int").write.format("delta").save(
        str(data_root / "gold" / "fact_311")
    )
    later = nodes.new_monitoring_run(datetime.now(UTC) + timedelta(days=10))
    metrics = nodes.measure_tables(later, ["gold.fact_311"], str(data_root))
    age = metrics[metrics["metric"] == "commit_age_hours"]["value"].iloc[0]
    assert age == pytest.approx(240, abs=0.1)
    rule = {
        "name": "rebuilt",
        "check": "freshness",
        "tables": ["gold.*"],
        "age_of": "commit",
        "max_age_days": 8,
    }
    (verdict,) = alerts.evaluate_alerts(later, [rule], metrics).itertuples()
    assert verdict.status == "warn" and verdict.observed == pytest.approx(10, abs=0.01)


def _volume_rows(z: float, history_days: int) -> list[dict]:
    run, day = _run(), "2024-03-09"
    return [
        nodes.metric_row(run, "silver.requests", "volume_latest", 130, day),
        nodes.metric_row(run, "silver.requests", "volume_trailing_mean", 100, day),
        nodes.metric_row(run, "silver.requests", "volume_zscore", z, day),
        nodes.metric_row(run, "silver.requests", "volume_history_days", history_days),
    ]


VOLUME = {"name": "daily_volume", "check": "volume_anomaly", "tables": ["silver.requests"]}


def test_volume_passes_at_the_zscore_limit_and_breaches_one_over_either_way():
    assert _verdict(VOLUME, *_volume_rows(3.0, 14))["status"] == "ok"  # defaults: 3.0, 14 days
    spike = _verdict(VOLUME, *_volume_rows(4.0, 14))
    assert (spike["status"], spike["observed"], spike["threshold"]) == ("warn", 4.0, 3.0)
    assert spike["message"] == (
        "volume_anomaly: silver.requests had 130 records on 2024-03-09 against a 14-day mean "
        "of 100 (z = 4, limit |z| 3, 1 over)"
    )
    drop = _verdict(VOLUME | {"action": "fail"}, *_volume_rows(-4.0, 28))
    assert (drop["status"], drop["observed"]) == ("fail", 4.0)
    wider = _verdict(VOLUME | {"max_abs_zscore": 4.0}, *_volume_rows(4.0, 28))
    assert wider["status"] == "ok"


def test_volume_needs_min_history_days():
    short = _verdict(VOLUME, *_volume_rows(10.0, 13))
    assert short["status"] == "skipped"
    assert short["message"].endswith("has 13 days of history, needs 14")
    assert _verdict(VOLUME | {"min_history_days": 13}, *_volume_rows(10.0, 13))["status"] == "warn"


def test_volume_rows_record_the_history_the_window_holds(spark, data_root):
    days = [datetime(2024, 3, 1) + timedelta(days=i) for i in range(10)]
    spark.createDataFrame([(d.date(),) for d in days], "day date").write.format("delta").save(
        str(data_root / "silver" / "requests")
    )
    check = {"table": "silver.requests", "date_column": "day", "trailing_days": 5}
    metrics = nodes.volume_anomaly_metrics(_run(), [check], str(data_root))
    history = metrics[metrics["metric"] == "volume_history_days"]["value"]
    assert list(history) == [5]
    short = nodes.volume_anomaly_metrics(_run(), [check | {"trailing_days": 28}], str(data_root))
    assert list(short[short["metric"] == "volume_history_days"]["value"]) == [9]


BREAKING = {
    "name": "breaking",
    "check": "schema_drift",
    "tables": ["silver.*"],
    "changes": ["removed", "type_changed"],
    "action": "fail",
}


def _drift(current: dict, previous: dict | None) -> list[dict]:
    return nodes.schema_drift_rows(_run(), "silver.t", current, previous)


def test_schema_drift_passes_at_the_column_limit_and_fails_one_over():
    same = _verdict(BREAKING, *_drift({"a": "int"}, {"a": "int"}))
    assert (same["status"], same["observed"]) == ("ok", 0)
    removed = _verdict(BREAKING, *_drift({"a": "int"}, {"a": "int", "b": "string"}))
    assert removed["status"] == "fail"
    assert removed["message"] == (
        "schema_drift: silver.t removed 1 (b) since the last run, limit 0 columns (1 over)"
    )
    one_allowed = BREAKING | {"max_columns": 1}
    assert _verdict(one_allowed, *_drift({"a": "int"}, {"a": "int", "b": "string"}))["status"] == (
        "ok"
    )
    two = _verdict(one_allowed, *_drift({"a": "bigint"}, {"a": "int", "b": "string"}))
    assert (two["status"], two["observed"]) == ("fail", 2)
    assert "type changed 1 (a: int -> bigint)" in two["message"]


def test_schema_drift_counts_only_the_changes_the_rule_watches():
    added = _drift({"a": "int", "c": "string"}, {"a": "int"})
    assert _verdict(BREAKING, *added)["status"] == "ok"
    new_columns = BREAKING | {"changes": ["added"], "action": "warn"}
    assert _verdict(new_columns, *added)["status"] == "warn"
    first = _verdict(BREAKING, *_drift({"a": "int"}, None))
    assert first["status"] == "skipped" and "first schema" in first["message"]


QUARANTINE = {
    "name": "quarantine",
    "check": "quarantine_share",
    "tables": ["silver.nyc311_service_requests"],
    "max_share": 0.05,
    "min_rows": 100,
    "action": "fail",
}
SILVER = "silver.nyc311_service_requests"


def _write_silver_run(
    spark, data_root: Path, run_id: str, at: datetime, checked: int, bad: int, table: str = SILVER
):
    share = bad / checked if checked else 0.0
    results = [(run_id, table, "rule", "quarantine", bad, checked, share, at)]
    spark.createDataFrame(
        results,
        "run_id string, table_name string, rule_name string, action string, "
        "failed_count bigint, total_count bigint, failed_share double, evaluated_at timestamp",
    ).write.format("delta").mode("append").save(str(data_root / "monitoring" / "dq_results"))
    if bad:
        spark.createDataFrame(
            [(i, run_id, at) for i in range(bad)],
            "unique_key int, run_id string, quarantined_at timestamp",
        ).write.format("delta").mode("append").save(str(data_root / "silver" / "nyc311_quarantine"))


def _quarantine_metrics(data_root: Path) -> pd.DataFrame:
    check = {
        "table": SILVER,
        "quarantine_table": "silver.nyc311_quarantine",
        "results_table": "monitoring.dq_results",
    }
    return nodes.quarantine_metrics(_run(), [check], str(data_root))


def test_quarantine_share_of_the_latest_silver_run_at_the_limit_and_one_row_over(spark, data_root):
    # no silver run yet (dq_results is missing): skipped, and the silver table is named as
    # configured, not as missing from monitoring's tables
    no_run = _verdict(QUARANTINE, *_quarantine_metrics(data_root).to_dict("records"))
    assert (no_run["status"], no_run["message"]) == (
        "skipped",
        f"quarantine_share: {SILVER}: no silver run has checked rows yet",
    )
    _write_silver_run(spark, data_root, "old", NOW - timedelta(days=2), 100, 50)
    _write_silver_run(spark, data_root, "at_limit", NOW - timedelta(days=1), 100, 5)
    at_limit = _verdict(QUARANTINE, *_quarantine_metrics(data_root).to_dict("records"))
    assert (at_limit["status"], at_limit["observed"]) == ("ok", 0.05)  # not the old run's 50%
    _write_silver_run(spark, data_root, "over", NOW - timedelta(hours=1), 100, 6)
    over = _verdict(QUARANTINE, *_quarantine_metrics(data_root).to_dict("records"))
    assert (over["status"], over["observed"]) == ("fail", 0.06)
    assert over["message"] == (
        f"quarantine_share: {SILVER} quarantined 6 of 100 rows (6.00%) in silver run over, "
        "limit 5.00% (1.00 points over)"
    )
    # min_rows: 100 rows checked is enough at 100, not at 101
    short = _verdict(
        QUARANTINE | {"min_rows": 101}, *_quarantine_metrics(data_root).to_dict("records")
    )
    assert short["status"] == "skipped" and "fewer than min_rows 101" in short["message"]


def test_a_silver_run_that_quarantined_nothing_has_a_zero_share(spark, data_root):
    _write_silver_run(spark, data_root, "clean", NOW, 200, 0)
    verdict = _verdict(QUARANTINE, *_quarantine_metrics(data_root).to_dict("records"))
    assert (verdict["status"], verdict["observed"]) == ("ok", 0.0)


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (
            {"check": "freshness", "tables": ["t"], "max_age_hours": 1, "action": "quarantine"},
            "action 'quarantine' is not one of warn, fail",
        ),
        ({"check": "freshness", "tables": ["t"]}, "set one of max_age_hours, max_age_days"),
        (
            {"check": "freshness", "tables": ["t"], "max_age_hours": 1, "max_age_days": 1},
            "set one of max_age_hours, max_age_days",
        ),
        (
            {"check": "freshness", "tables": ["t"], "max_age_hours": 1, "age_of": "file"},
            "age_of must be newest_row or commit",
        ),
        ({"check": "rows", "tables": ["t"]}, "check 'rows' is not one of"),
        ({"check": "quarantine_share", "tables": ["t"]}, "max_share is required"),
        ({"check": "schema_drift", "tables": ["t"], "changes": ["renamed"]}, "changes must be"),
        ({"check": "schema_drift", "tables": ["t"], "max_colums": 1}, "unknown settings"),
        ({"check": "schema_drift", "tables": []}, "no tables"),
    ],
)
def test_invalid_rules_are_refused_with_the_rule_named(entry, error):
    with pytest.raises(ValueError, match="'r'") as raised:
        alerts.alert_rules_from_config([{"name": "r", **entry}])
    assert error in str(raised.value)


def test_rule_names_are_unique_and_a_mapping_is_accepted():
    rule = {"check": "schema_drift", "tables": "silver.*"}
    with pytest.raises(ValueError, match="declared twice"):
        alerts.alert_rules_from_config([{"name": "a", **rule}, {"name": "a", **rule}])
    (parsed,) = alerts.alert_rules_from_config({"a": rule})
    assert parsed.tables == ("silver.*",) and parsed.applies_to("silver.x")
    assert not parsed.applies_to("monitoring.silver_batch_log")


@pytest.mark.parametrize(
    ("env", "freshness"), [("local", "warn"), ("live", "fail"), ("databricks", "fail")]
)
def test_the_configured_rules_parse(project_root, env, freshness):
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(str(project_root / "conf"), env=env, **CONFIG_LOADER_ARGS)
    params = loader["parameters"]["monitoring"]
    rules = alerts.alert_rules_from_config(params["alerts"])
    assert {r.check for r in rules} == set(alerts.CHECK_SETTINGS)
    assert {r.action for r in rules} == {"warn", "fail"}
    # Every literal table a rule names is one the run measures.
    measured = {
        e if isinstance(e, str) else e["table"]
        for key in ("bronze_tables", "silver_tables", "gold_tables")
        for e in params[key]
    }
    literal = {t for r in rules for t in r.tables if "*" not in t}
    assert literal <= measured
    # The bundled sample is static: its freshness alerts warn; the daily runs fail on them.
    ages = {
        r.name: r.action
        for r in rules
        if r.check == "freshness" and r.setting("age_of") == "newest_row"
    }
    assert set(ages) == {
        "nyc311_ingested_daily",
        "nyc911_ingested_weekly",
        "nyc311_data_current",
        "nyc911_data_current",
    }
    assert set(ages.values()) == {freshness}


def test_quarantine_checks_read_the_columns_silver_writes():
    from nyc_lakehouse.pipelines.silver.tables import TABLES

    def names(table: str) -> set[str]:
        return {n for c in TABLES[table].columns for n in c.names}

    assert {"run_id", "table_name", "total_count", "evaluated_at"} <= names("monitoring.dq_results")
    for table in ("silver.nyc311_quarantine", "silver.nyc911_quarantine"):
        assert "run_id" in names(table)


def test_a_freshness_breach_fails_the_live_run_after_saving_its_results(
    spark, data_root, project_root, tmp_path, monkeypatch
):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    ingested = NOW - timedelta(days=19)
    spark.createDataFrame(
        [("a", "2024-02-20", ingested)],
        "unique_key string, _ingest_date string, _ingested_at timestamp",
    ).write.format("delta").save(str(data_root / "bronze" / "nyc311_service_requests"))
    bootstrap_project(project_root)
    runtime = {"monitoring": {"as_of": NOW.isoformat()}}
    # On the static sample's env (conf/base) the same breach warns and the run succeeds.
    with KedroSession.create(project_path=project_root, runtime_params=runtime) as session:
        session.run(pipeline_name="monitoring")
    warned = spark.read.format("delta").load(str(data_root / "monitoring" / "alert_results"))
    assert [
        r[0] for r in warned.where("status in ('warn', 'fail')").select("rule_name").collect()
    ] == ["nyc311_ingested_daily"]
    first_run = warned.select("run_id").first()[0]
    # The live daily run (conf/live; data root from NYC_LAKEHOUSE_DATA_ROOT) fails on it.
    with (
        KedroSession.create(
            project_path=project_root, env="live", runtime_params=runtime
        ) as session,
        pytest.raises(alerts.MonitoringAlertError) as raised,
    ):
        session.run(pipeline_name="monitoring")

    message = str(raised.value)
    assert "1 error-level alert(s)" in message
    assert (
        f"freshness: {TABLE} newest _ingested_at ({ingested.isoformat()}) is 456 hours "
        "(19 days) old, limit 48 hours (408 hours over)"
    ) in message
    saved = spark.read.format("delta").load(str(data_root / "monitoring" / "alert_results"))
    saved = saved.where(f"run_id != '{first_run}'")
    failed = saved.where("status = 'fail'").toPandas()
    assert list(failed["rule_name"]) == ["nyc311_ingested_daily"]
    assert failed["message"].iloc[0] in message
    stamped = saved.selectExpr("unix_timestamp(evaluated_at)").distinct().collect()
    assert [row[0] for row in stamped] == [NOW.timestamp()]  # the pinned as_of, not the clock
    metrics = spark.read.format("delta").load(str(data_root / "monitoring" / "pipeline_metrics"))
    runs = {r[0] for r in metrics.select("run_id").distinct().collect()}
    assert runs == {first_run, failed["run_id"].iloc[0]}  # the failed run's metrics were saved


def test_alert_results_are_documented_with_the_schema_they_are_written_with(spark):
    from nyc_lakehouse.pipelines.monitoring.tables import ALERT_RESULTS

    run = _run()
    frame = alerts.evaluate_alerts(run, [FRESH_HOURS], nodes.metrics_frame([_freshness_rows(1)]))
    written = {f.name: f.dataType.simpleString() for f in alerts.alerts_to_spark(frame).schema}
    documented = {n: c.type for c in ALERT_RESULTS.columns for n in c.names}
    assert written == documented
    assert list(written) == list(alerts.ALERT_COLUMNS)
