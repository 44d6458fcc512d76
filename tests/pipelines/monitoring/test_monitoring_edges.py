"""Monitoring at its edges: volume checks with little or exact history, and the gold data-test
results table when it is empty, incomplete or configured differently (real Sail, real Delta)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nyc_lakehouse.pipelines.monitoring import nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
DAY0 = date(2024, 1, 1)
NOTHING = {"mean": None, "std": None, "z": None, "anomaly": False}


def _days(values: list[float]) -> dict[date, float]:
    return {DAY0 + timedelta(days=i): v for i, v in enumerate(values)}


# volume_anomaly ------------------------------------------------------------------------------
def test_no_records_and_too_short_a_window_give_no_statistics():
    assert nodes.volume_anomaly({}) == {"latest_day": None, "latest": None, **NOTHING}
    assert nodes.volume_anomaly(_days([5.0])) == {"latest_day": DAY0, "latest": 5.0, **NOTHING}
    # one day before the latest is a window of one: still no standard deviation
    one = nodes.volume_anomaly(_days([5.0, 50.0]))
    assert one == {"latest_day": DAY0 + timedelta(days=1), "latest": 50.0, **NOTHING}


def test_a_window_of_two_days_has_a_sample_standard_deviation():
    # window 10, 20, 30: mean 20, sample variance (100 + 0 + 100) / 2 = 100, std 10
    got = nodes.volume_anomaly(_days([10.0, 20.0, 30.0, 50.0]))
    assert (got["mean"], got["std"], got["z"]) == (20.0, 10.0, 3.0)
    two = nodes.volume_anomaly(_days([10.0, 30.0, 20.0]))
    assert (two["mean"], two["std"]) == (20.0, pytest.approx(math.sqrt(200)))
    assert two["anomaly"] is False  # too little history to flag


def test_a_flat_history_floors_the_deviation_at_one_record():
    got = nodes.volume_anomaly(_days([100.0] * 20 + [103.0]))
    assert (got["mean"], got["std"], got["z"]) == (100.0, 1.0, 3.0)
    assert got["anomaly"] is False  # |z| must exceed the threshold, not reach it


def test_the_default_window_is_28_days_before_the_latest():
    values = [100.0] * 31
    values[1] = 1000.0  # 29 days before the latest (day 30): just outside the window
    got = nodes.volume_anomaly(_days(values))
    assert (got["mean"], got["std"]) == (100.0, 1.0)


def test_exactly_min_history_days_can_flag_and_the_default_threshold_is_3():
    window = [90.0, 110.0] * 7  # 14 days: mean 100, sample std sqrt(1400 / 13)
    std = math.sqrt(1400 / 13)
    got = nodes.volume_anomaly(_days([*window, 100 + 3.5 * std]))
    assert got["std"] == pytest.approx(std) and got["z"] == pytest.approx(3.5)
    assert got["anomaly"] is True
    assert nodes.volume_anomaly(_days([*window, 100 + 2.5 * std]))["anomaly"] is False
    # 13 days of history never flag, whatever the spike
    assert nodes.volume_anomaly(_days([*window[1:], 10_000.0]))["anomaly"] is False


# gold_integrity_metrics ----------------------------------------------------------------------
PARAMS = {
    "table": "monitoring.gold_test_results",
    "run_column": "run_id",
    "time_column": "evaluated_at",
    "table_column": "table_name",
    "test_column": "test_name",
    "failed_column": "failed_count",
    "status_column": "status",
}
SCHEMA = (
    "run_id string, evaluated_at timestamp, table_name string, test_name string, "
    "status string, failed_count bigint"
)


def _write(spark, data_root: Path, rows: list[tuple], schema: str = SCHEMA) -> None:
    writer = spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite")
    writer.option("overwriteSchema", "true").save(
        str(data_root / "monitoring" / "gold_test_results")
    )


def _rows(frame) -> list[tuple]:
    return sorted(
        (r["table_name"], r["metric"], r["dimension"], r["value"], r["detail"])
        for r in frame.to_dict("records")
    )


def test_results_table_missing_columns_empty_or_absent(spark, data_root):
    run = nodes.new_monitoring_run(NOW)
    absent = nodes.gold_integrity_metrics(run, PARAMS, str(data_root))
    assert _rows(absent) == [
        (PARAMS["table"], "table_missing", "", 1.0, f"not found under {data_root}")
    ]
    assert set(absent["run_id"]) == {run["run_id"]}

    _write(spark, data_root, [], SCHEMA)
    empty = nodes.gold_integrity_metrics(run, PARAMS, str(data_root))
    assert _rows(empty) == [(PARAMS["table"], "integrity_tests_run", "", 0.0, "")]
    assert set(empty["run_id"]) == {run["run_id"]}

    _write(spark, data_root, [("r1", "fact_311")], "run_id string, table_name string")
    incomplete = nodes.gold_integrity_metrics(run, PARAMS, str(data_root))
    assert _rows(incomplete) == [
        (PARAMS["table"], "missing_column", "evaluated_at", 1.0, ""),
        (PARAMS["table"], "missing_column", "failed_count", 1.0, ""),
        (PARAMS["table"], "missing_column", "test_name", 1.0, ""),
    ]
    assert set(incomplete["run_id"]) == {run["run_id"]}


def test_one_failing_row_bare_and_qualified_names_and_the_run_in_detail(spark, data_root):
    at = datetime(2024, 3, 2, tzinfo=UTC)
    _write(
        spark,
        data_root,
        [
            ("r9", at, "fact_311", "one_orphan", "pass", 1),  # a single failing row counts
            ("r9", at, "analytics.weekly", "fresh", None, 0),
            ("r9", at, "analytics.weekly", "no_status", None, 2),
        ],
    )
    metrics = nodes.gold_integrity_metrics(nodes.new_monitoring_run(NOW), PARAMS, str(data_root))
    assert _rows(metrics) == [
        ("analytics.weekly", "integrity_failures", "no_status", 2.0, ""),
        ("analytics.weekly", "integrity_tests_failed", "", 1.0, ""),
        ("analytics.weekly", "integrity_tests_run", "", 2.0, "r9"),
        ("gold.fact_311", "integrity_failures", "one_orphan", 1.0, "pass"),
        ("gold.fact_311", "integrity_tests_failed", "", 1.0, ""),
        ("gold.fact_311", "integrity_tests_run", "", 1.0, "r9"),
    ]


def test_passing_statuses_come_from_the_parameters(spark, data_root):
    at = datetime(2024, 3, 2, tzinfo=UTC)
    _write(
        spark,
        data_root,
        [("r1", at, "fact_311", "a", "ok", 0), ("r1", at, "fact_311", "b", "pass", 0)],
    )
    params = {**PARAMS, "passing_statuses": ["ok"]}
    metrics = nodes.gold_integrity_metrics(nodes.new_monitoring_run(NOW), params, str(data_root))
    assert ("gold.fact_311", "integrity_failures", "b", 0.0, "pass") in _rows(metrics)
    assert ("gold.fact_311", "integrity_tests_failed", "", 1.0, "") in _rows(metrics)


def test_a_configured_status_column_the_table_lacks_is_ignored(spark, data_root):
    at = datetime(2024, 3, 2, tzinfo=UTC)
    _write(
        spark,
        data_root,
        [("r1", at, "fact_311", "a", 0), ("r1", at, "fact_311", "b", 4)],
        "run_id string, evaluated_at timestamp, table_name string, test_name string, "
        "failed_count bigint",
    )
    metrics = nodes.gold_integrity_metrics(nodes.new_monitoring_run(NOW), PARAMS, str(data_root))
    assert _rows(metrics) == [
        ("gold.fact_311", "integrity_failures", "b", 4.0, ""),
        ("gold.fact_311", "integrity_tests_failed", "", 1.0, ""),
        ("gold.fact_311", "integrity_tests_run", "", 2.0, "r1"),
    ]


# volume_anomaly_metrics, freshness and date ranges on real tables -----------------------------
def _table(spark, data_root: Path, table: str, rows: list[tuple], schema: str) -> None:
    schema_name, name = table.split(".")
    writer = spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite")
    writer.option("overwriteSchema", "true").save(str(data_root / schema_name / name))


def test_volume_checks_go_on_past_a_missing_table_or_column(spark, data_root):
    days = [(i, DAY0 + timedelta(days=i)) for i in range(31) for _ in range(3 if i == 1 else 1)]
    _table(spark, data_root, "silver.daily", days, "unique_key int, day date")
    checks = [
        {"table": "silver.absent", "date_column": "day"},
        {"table": "silver.daily", "date_column": "no_such_day"},
        {"table": "silver.daily", "date_column": "day"},
    ]
    run = nodes.new_monitoring_run(NOW)
    metrics = nodes.volume_anomaly_metrics(run, checks, str(data_root))
    assert set(metrics["run_id"]) == {run["run_id"]}
    rows = [
        (r["table_name"], r["metric"], r["dimension"], r["value"], r["detail"])
        for r in metrics.to_dict("records")
    ]
    assert rows[:2] == [
        ("silver.absent", "table_missing", "", 1.0, f"not found under {data_root}"),
        ("silver.daily", "missing_column", "no_such_day", 1.0, ""),
    ]
    # day 1 (3 records) is 29 days before the latest: outside the default 28-day window
    latest = "2024-01-31"
    assert rows[2:] == [
        ("silver.daily", "volume_latest", latest, 1.0, ""),
        ("silver.daily", "volume_trailing_mean", latest, 1.0, ""),
        ("silver.daily", "volume_trailing_std", latest, 1.0, ""),
        ("silver.daily", "volume_zscore", latest, 0.0, ""),
        ("silver.daily", "volume_anomaly", latest, 0.0, "|z| > 3.0 over 28 days"),
        ("silver.daily", "volume_history_days", latest, 28.0, ""),
    ]


def test_volume_trailing_days_come_from_the_check(spark, data_root):
    days = [(i, DAY0 + timedelta(days=i)) for i in range(31) for _ in range(3 if i == 1 else 1)]
    _table(spark, data_root, "silver.daily", days, "unique_key int, day date")
    check = {"table": "silver.daily", "date_column": "day", "trailing_days": 29}
    metrics = nodes.volume_anomaly_metrics(nodes.new_monitoring_run(NOW), [check], str(data_root))
    mean = metrics[metrics["metric"] == "volume_trailing_mean"].iloc[0]["value"]
    assert mean == pytest.approx(31 / 29)  # 28 days of 1 and day 1's 3


def test_freshness_details_and_the_stale_boundary(spark, data_root):
    latest = datetime(2024, 3, 9, 17, 0, tzinfo=UTC)  # 19 hours before NOW
    rows = [(1, latest - timedelta(days=1)), (2, latest)]
    _table(spark, data_root, "silver.events", rows, "unique_key int, created_date timestamp")

    def measure(max_age: float):
        spec = {
            "table": "silver.events",
            "freshness_column": "created_date",
            "max_age_hours": max_age,
        }
        metrics = nodes.measure_tables(nodes.new_monitoring_run(NOW), [spec], str(data_root))
        return {
            r["metric"]: (r["value"], r["dimension"], r["detail"])
            for r in metrics.to_dict("records")
            if r["metric"] in ("freshness_hours", "is_stale")
        }

    assert measure(19) == {
        "freshness_hours": (19.0, "created_date", "latest 2024-03-09T17:00:00+00:00"),
        "is_stale": (0.0, "created_date", "max 19 h"),  # exactly the allowed age: fresh
    }
    assert measure(18.5)["is_stale"] == (1.0, "created_date", "max 18.5 h")


def test_date_ranges_of_a_date_column_and_of_an_empty_table(spark, data_root):
    rows = [(1, date(2024, 1, 5)), (2, date(2024, 2, 1))]
    _table(spark, data_root, "silver.days", rows, "unique_key int, day date")
    _table(spark, data_root, "silver.none", [], "unique_key int, day date")
    specs = [
        {"table": "silver.days", "date_column": "day"},
        {"table": "silver.none", "date_column": "day", "freshness_column": "day"},
    ]
    metrics = nodes.measure_tables(nodes.new_monitoring_run(NOW), specs, str(data_root))
    got = {
        (r["table_name"], r["metric"]): (r["value"], r["dimension"], r["detail"])
        for r in metrics.to_dict("records")
        if r["metric"] in ("date_min", "date_max", "freshness_hours")
    }
    # a date's epoch is its midnight in the session time zone (New York)
    epoch = datetime(2024, 1, 5, tzinfo=ZoneInfo("America/New_York")).timestamp()
    assert got[("silver.days", "date_min")] == (epoch, "day", "2024-01-05")
    assert got[("silver.days", "date_max")][2] == "2024-02-01"
    value, dimension, detail = got[("silver.none", "date_min")]
    assert math.isnan(value) and (dimension, detail) == ("day", "")
    value, dimension, detail = got[("silver.none", "freshness_hours")]
    assert math.isnan(value) and (dimension, detail) == ("day", "no records")


# measure_tables and profile_table details ----------------------------------------------------
def _metric(frame, metric: str, table: str) -> list[tuple]:
    rows = frame[(frame["metric"] == metric) & (frame["table_name"] == table)]
    return [(r["dimension"], r["value"], r["detail"]) for r in rows.to_dict("records")]


def test_measuring_goes_on_past_a_missing_table_and_counts_files_exactly(spark, data_root):
    from deltalake import DeltaTable

    rows = [("a", "x", "2024-03-01"), ("a", "x", "2024-03-01"), ("b", "y", None)]
    schema = "k1 string, k2 string, ingest string"
    _table(spark, data_root, "bronze.events", rows[:2], schema)
    spark.createDataFrame(rows[2:], schema).write.format("delta").mode("append").save(
        str(data_root / "bronze" / "events")
    )
    actions = DeltaTable(str(data_root / "bronze" / "events")).get_add_actions(flatten=True)
    files = actions.num_rows
    size = sum(actions.column("size_bytes").to_pylist())
    assert files >= 2  # the append added a file
    specs = [
        "bronze.absent",
        {"table": "bronze.events", "unique_key": ["k1", "k2"], "ingest_date_column": "ingest"},
    ]
    metrics = nodes.measure_tables(nodes.new_monitoring_run(NOW), specs, str(data_root))
    assert _metric(metrics, "table_missing", "bronze.absent") == [
        ("", 1.0, f"not found under {data_root}")
    ]
    assert _metric(metrics, "file_count", "bronze.events") == [("", float(files), "")]
    assert _metric(metrics, "total_bytes", "bronze.events") == [("", float(size), "")]
    assert _metric(metrics, "duplicate_keys", "bronze.events") == [("k1,k2", 1.0, "")]
    # a null ingestion date is its own (empty) label
    assert sorted(_metric(metrics, "rows_by_ingest_date", "bronze.events")) == [
        ("", 1.0, ""),
        ("2024-03-01", 2.0, ""),
    ]


def test_duplicate_keys_need_a_key_and_work_when_the_key_is_every_column(spark, data_root):
    _table(spark, data_root, "silver.keys", [("a",), ("a",), ("b",)], "k string")
    specs = [{"table": "silver.keys", "unique_key": ["k"]}]
    metrics = nodes.measure_tables(nodes.new_monitoring_run(NOW), specs, str(data_root))
    assert _metric(metrics, "duplicate_keys", "silver.keys") == [("k", 1.0, "")]
    without = nodes.measure_tables(nodes.new_monitoring_run(NOW), ["silver.keys"], str(data_root))
    assert _metric(without, "duplicate_keys", "silver.keys") == []


def test_schema_drift_details():
    run = nodes.new_monitoring_run(NOW)
    first = nodes.metrics_frame(nodes.schema_drift_rows(run, "silver.t", {"a": "int"}, None))
    assert _metric(first, "schema_drift", "silver.t")[0][2] == "first observation"
    both = nodes.metrics_frame(
        nodes.schema_drift_rows(run, "silver.t", {"a": "int", "c": "int", "b": "int"}, {"a": "int"})
    )
    assert _metric(both, "schema_columns_added", "silver.t") == [("", 2.0, "b, c")]


def test_a_unity_catalog_root_has_no_file_statistics(caplog):
    assert nodes.delta_file_stats("silver.t", "uc://main") is None
    assert "delta-rs" not in caplog.text  # not attempted, so no failure to report


def test_combined_metrics_keep_their_schema_values_and_empty_labels(spark):
    run = nodes.new_monitoring_run(NOW)
    first = nodes.metrics_frame([nodes.metric_row(run, "silver.t", "row_count", 5)])
    second = nodes.metrics_frame([nodes.metric_row(run, "gold.t", "freshness_hours", None)])
    second.loc[0, "detail"] = None
    combined = nodes.combine_metrics(first, second)
    assert combined.schema.simpleString() == (
        "struct<run_id:string,layer:string,table_name:string,metric:string,dimension:string,"
        "value:double,detail:string,measured_at:timestamp>"
    )
    rows = [r.asDict() for r in combined.orderBy("layer").collect()]
    assert [(r["layer"], r["value"], r["detail"]) for r in rows] == [
        ("gold", None, ""),
        ("silver", 5.0, ""),
    ]
    # collected timestamps are naive, in this process's local zone
    assert rows[0]["measured_at"] == NOW.astimezone().replace(tzinfo=None)


def test_a_run_is_stamped_in_utc_whatever_the_machine_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        stamped = datetime.fromisoformat(nodes.new_monitoring_run()["measured_at"])
        given = nodes.new_monitoring_run(NOW.astimezone(ZoneInfo("Asia/Tokyo")))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert stamped.utcoffset() == timedelta(0)
    assert given["measured_at"] == "2024-03-10T12:00:00+00:00"


def test_schema_positions_and_type_change_details():
    run = nodes.new_monitoring_run(NOW)
    fields = [("a", "int"), ("b", "string"), ("c", "date")]
    rows = nodes.metrics_frame(nodes.schema_rows(run, "silver.t", fields))
    assert [(r["dimension"], r["value"], r["detail"]) for r in rows.to_dict("records")] == [
        ("a", 0.0, "int"),
        ("b", 1.0, "string"),
        ("c", 2.0, "date"),
    ]
    changed = nodes.metrics_frame(
        nodes.schema_drift_rows(
            run, "silver.t", {"a": "bigint", "b": "date"}, {"a": "int", "b": "string"}
        )
    )
    assert _metric(changed, "schema_columns_type_changed", "silver.t") == [
        ("", 2.0, "a: int -> bigint, b: string -> date")
    ]


def test_volume_window_starts_at_the_first_record_and_check_settings_apply(spark, data_root):
    # 20 days, 3 records on the first day, 1 on the others, 9 on the last
    rows = [(i, DAY0 + timedelta(days=i)) for i in range(20) for _ in range(3 if i == 0 else 1)]
    rows += [(99, DAY0 + timedelta(days=19))] * 8
    _table(spark, data_root, "silver.daily", rows, "unique_key int, day date")
    _table(spark, data_root, "silver.empty", [], "unique_key int, day date")
    checks = [
        {"table": "silver.empty", "date_column": "day"},
        {"table": "silver.daily", "date_column": "day", "z_threshold": 2.5, "min_history_days": 19},
    ]
    metrics = nodes.volume_anomaly_metrics(nodes.new_monitoring_run(NOW), checks, str(data_root))
    assert _metric(metrics, "volume_latest", "silver.empty") == [
        ("", pytest.approx(math.nan, nan_ok=True), "no records")
    ]
    got = {
        r["metric"]: (r["value"], r["detail"])
        for r in metrics.to_dict("records")
        if r["table_name"] == "silver.daily"
    }
    mean = (3 + 18) / 19  # the first day is in the window
    assert got["volume_latest"] == (9.0, "")
    assert got["volume_trailing_mean"][0] == pytest.approx(mean)
    # sample deviation ((3 - mean)^2 + 18 (1 - mean)^2) / 18 is below one record: floored
    assert got["volume_trailing_std"][0] == 1.0
    # z = (9 - 1.105) / 1 (std floored at 1 record): above 2.5 with 19 days of history
    assert got["volume_anomaly"] == (1.0, "|z| > 2.5 over 28 days")
    strict = [{**checks[1], "z_threshold": 10.0}, {**checks[1], "min_history_days": 20}]
    for check in strict:
        quiet = nodes.volume_anomaly_metrics(nodes.new_monitoring_run(NOW), [check], str(data_root))
        assert _metric(quiet, "volume_anomaly", "silver.daily")[0][1] == 0.0


def test_a_table_whose_files_were_all_removed_has_zero_files_and_bytes(spark, data_root):
    from deltalake import DeltaTable

    _table(spark, data_root, "silver.gone", [(1,), (2,)], "k int")
    before_delete = datetime.now(UTC).replace(microsecond=0)
    DeltaTable(str(data_root / "silver" / "gone")).delete()
    files, size, committed = nodes.delta_file_stats("silver.gone", str(data_root))
    assert (files, size) == (0, 0)
    assert before_delete <= committed <= datetime.now(UTC)  # the delete is the latest commit


def test_volume_check_defaults_flag_at_z_above_3_with_14_days(spark, data_root):
    # 14 days alternating 90 and 110 records (sample std 10.38), then 136: z = 3.47
    counts = [90, 110] * 7 + [136]
    rows = [(i, DAY0 + timedelta(days=i)) for i, n in enumerate(counts) for _ in range(n)]
    _table(spark, data_root, "silver.daily", rows, "unique_key int, day date")
    check = {"table": "silver.daily", "date_column": "day"}
    metrics = nodes.volume_anomaly_metrics(nodes.new_monitoring_run(NOW), [check], str(data_root))
    assert _metric(metrics, "volume_zscore", "silver.daily")[0][1] == pytest.approx(
        36 / math.sqrt(1400 / 13)
    )
    assert _metric(metrics, "volume_anomaly", "silver.daily")[0][1:] == (
        1.0,
        "|z| > 3.0 over 28 days",
    )
