"""Monitoring metrics on small real Delta tables (real Sail, real delta-rs)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from nyc_lakehouse.pipelines.monitoring import nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def _run(now: datetime = NOW) -> dict:
    return nodes.new_monitoring_run(now)


def _value(frame, metric: str, table: str | None = None, dimension: str | None = None):
    rows = frame[frame["metric"] == metric]
    if table is not None:
        rows = rows[rows["table_name"] == table]
    if dimension is not None:
        rows = rows[rows["dimension"] == dimension]
    assert len(rows) == 1, f"expected one {metric} row, got {len(rows)}"
    return rows.iloc[0]["value"]


def _write(
    spark, data_root: Path, table: str, rows: list[tuple], schema: str, mode: str = "overwrite"
):
    schema_name, name = table.split(".")
    writer = spark.createDataFrame(rows, schema).write.format("delta").mode(mode)
    writer.option("mergeSchema", "true").save(str(data_root / schema_name / name))


SILVER_311_SCHEMA = (
    "unique_key bigint, created_date timestamp, closed_date timestamp, agency string, "
    "is_closed boolean, has_valid_location boolean"
)


def _silver_311_rows() -> list[tuple]:
    t = datetime(2024, 3, 9, 17, 0, tzinfo=UTC)  # 12:00 in New York (EST)
    return [
        (1, t - timedelta(days=3), t, "NYPD", True, True),
        (2, t - timedelta(days=2), None, "DSNY", False, True),
        (2, t - timedelta(days=2), None, "DSNY", False, False),  # duplicate key
        (3, t - timedelta(days=1), t, None, True, False),
        (4, t, None, "NYPD", False, True),
    ]


def test_volume_anomaly_fires_on_a_spike_not_on_a_flat_series():
    start = date(2024, 1, 1)
    flat = {start + timedelta(days=i): 100.0 for i in range(40)}
    noisy = {start + timedelta(days=i): 100.0 + (i % 5) * 3 for i in range(40)}
    spiked = dict(noisy)
    spiked[start + timedelta(days=39)] = 400.0
    dropped = dict(noisy)
    dropped[start + timedelta(days=39)] = 5.0

    assert nodes.volume_anomaly(flat)["anomaly"] is False
    assert nodes.volume_anomaly(noisy)["anomaly"] is False
    spike = nodes.volume_anomaly(spiked, trailing_days=28, z_threshold=3.0)
    assert spike["anomaly"] is True and spike["z"] > 3.0
    assert spike["latest"] == 400.0
    # the window is the 28 days before the latest day, not including it
    window = [100.0 + (i % 5) * 3 for i in range(11, 39)]
    assert spike["mean"] == pytest.approx(sum(window) / 28)
    assert nodes.volume_anomaly(dropped)["anomaly"] is True


def test_volume_anomaly_needs_history_and_counts_missing_days_as_zero():
    start = date(2024, 1, 1)
    short = {start + timedelta(days=i): 10.0 for i in range(5)}
    short[start + timedelta(days=5)] = 1000.0
    assert nodes.volume_anomaly(short, min_history_days=14)["anomaly"] is False
    # 28 days with records only every other day: the empty days are zeros, the mean halves
    sparse = {start + timedelta(days=i): 20.0 for i in range(0, 29, 2)}
    assert nodes.volume_anomaly(sparse)["mean"] == pytest.approx(10.0)
    assert nodes.volume_anomaly({})["anomaly"] is False


def test_schema_drift_compares_with_the_previous_schema():
    run = _run()
    first = nodes.metrics_frame(nodes.schema_drift_rows(run, "silver.t", {"a": "int"}, None))
    assert (
        first.iloc[0]["metric"] == "schema_drift"
        and first.iloc[0]["value"] != first.iloc[0]["value"]
    )
    same = nodes.metrics_frame(nodes.schema_drift_rows(run, "silver.t", {"a": "int"}, {"a": "int"}))
    assert _value(same, "schema_drift") == 0
    drift = nodes.metrics_frame(
        nodes.schema_drift_rows(
            run, "silver.t", {"a": "bigint", "c": "string"}, {"a": "int", "b": "string"}
        )
    )
    assert _value(drift, "schema_drift") == 1
    assert _value(drift, "schema_columns_added") == 1
    assert _value(drift, "schema_columns_removed") == 1
    assert _value(drift, "schema_columns_type_changed") == 1
    detail = drift.set_index("metric")["detail"]
    assert detail["schema_columns_added"] == "c"
    assert detail["schema_columns_type_changed"] == "a: int -> bigint"


def test_silver_profile_values_on_a_known_table(spark, data_root):
    _write(spark, data_root, "silver.requests", _silver_311_rows(), SILVER_311_SCHEMA)
    spec = {
        "table": "silver.requests",
        "unique_key": ["unique_key"],
        "date_column": "created_date",
        "freshness_column": "created_date",
        "max_age_hours": 12,
        "flag_columns": ["is_closed", "has_valid_location", "not_a_column"],
        "null_share_columns": ["closed_date", "agency"],
    }
    metrics = nodes.measure_tables(_run(), [spec], str(data_root))
    table = "silver.requests"
    assert set(metrics["layer"]) == {"silver"}
    assert _value(metrics, "row_count", table) == 5
    assert _value(metrics, "duplicate_keys", table) == 1
    assert _value(metrics, "flag_share", table, "is_closed") == pytest.approx(2 / 5)
    assert _value(metrics, "flag_share", table, "has_valid_location") == pytest.approx(3 / 5)
    assert _value(metrics, "missing_column", table, "not_a_column") == 1
    assert _value(metrics, "null_share", table, "closed_date") == pytest.approx(3 / 5)
    assert _value(metrics, "null_share", table, "agency") == pytest.approx(1 / 5)
    # latest record 2024-03-09 12:00 New York (EST, UTC-5) = 17:00 UTC; run at 2024-03-10 12:00 UTC
    assert _value(metrics, "freshness_hours", table, "created_date") == pytest.approx(19.0)
    assert _value(metrics, "is_stale", table, "created_date") == 1
    first = metrics[metrics["metric"] == "date_min"].iloc[0]
    assert first["detail"] == "2024-03-06T17:00:00+00:00"
    assert first["value"] == datetime(2024, 3, 6, 17, tzinfo=UTC).timestamp()
    assert _value(metrics, "file_count", table) >= 1
    assert _value(metrics, "total_bytes", table) > 0
    columns = metrics[metrics["metric"] == "schema_column"]
    assert list(columns["dimension"]) == [
        "unique_key", "created_date", "closed_date", "agency", "is_closed", "has_valid_location"
    ]  # fmt: skip
    assert _value(metrics, "schema_drift", table) != _value(
        metrics, "schema_drift", table
    )  # first: null


def test_bronze_rows_by_ingest_date_and_missing_tables(spark, data_root):
    rows = [("a", "2024-03-01"), ("b", "2024-03-01"), ("c", "2024-03-02")]
    _write(spark, data_root, "bronze.events", rows, "unique_key string, _ingest_date string")
    specs = [{"table": "bronze.events", "ingest_date_column": "_ingest_date"}, "bronze.not_there"]
    metrics = nodes.measure_tables(_run(), specs, str(data_root))
    assert _value(metrics, "rows_by_ingest_date", "bronze.events", "2024-03-01") == 2
    assert _value(metrics, "rows_by_ingest_date", "bronze.events", "2024-03-02") == 1
    assert _value(metrics, "row_count", "bronze.events") == 3
    assert _value(metrics, "table_missing", "bronze.not_there") == 1
    assert metrics[metrics["table_name"] == "bronze.not_there"]["metric"].tolist() == [
        "table_missing"
    ]


def test_an_empty_table_gives_null_shares_not_errors(spark, data_root):
    _write(spark, data_root, "silver.requests", [], SILVER_311_SCHEMA)
    spec = {
        "table": "silver.requests",
        "unique_key": ["unique_key"],
        "date_column": "created_date",
        "freshness_column": "created_date",
        "max_age_hours": 12,
        "flag_columns": ["is_closed"],
        "null_share_columns": ["agency"],
    }
    metrics = nodes.measure_tables(_run(), [spec], str(data_root))
    assert _value(metrics, "row_count") == 0
    assert _value(metrics, "duplicate_keys") == 0
    for metric in ("flag_share", "null_share", "date_max", "freshness_hours"):
        assert pd.isna(_value(metrics, metric)), metric
    assert metrics[metrics["metric"] == "freshness_hours"].iloc[0]["detail"] == "no records"
    assert metrics[metrics["metric"] == "is_stale"].empty
    checks = [{"table": "silver.requests", "date_column": "created_date"}]
    volume = nodes.volume_anomaly_metrics(_run(), checks, str(data_root))
    assert volume["detail"].tolist() == ["no records"]


def test_schema_drift_detected_across_runs_when_a_column_is_added(spark, data_root):
    table = "silver.requests"
    _write(spark, data_root, table, _silver_311_rows(), SILVER_311_SCHEMA)
    metrics_path = str(data_root / "monitoring" / "pipeline_metrics")
    first = nodes.measure_tables(_run(), [table], str(data_root))
    nodes.combine_metrics(first).write.format("delta").mode("append").save(metrics_path)
    unchanged = nodes.measure_tables(_run(NOW + timedelta(hours=1)), [table], str(data_root))
    assert _value(unchanged, "schema_drift", table) == 0
    nodes.combine_metrics(unchanged).write.format("delta").mode("append").save(metrics_path)

    wider = [(*row, "x") for row in _silver_311_rows()]
    _write(spark, data_root, table, wider, SILVER_311_SCHEMA + ", borough string")
    drifted = nodes.measure_tables(_run(NOW + timedelta(hours=2)), [table], str(data_root))
    assert _value(drifted, "schema_drift", table) == 1
    assert _value(drifted, "schema_columns_added", table) == 1
    assert drifted[drifted["metric"] == "schema_columns_added"].iloc[0]["detail"] == "borough"


def test_gold_integrity_reads_the_latest_test_run(spark, data_root):
    schema = (
        "run_id string, evaluated_at timestamp, table_name string, test_name string, "
        "status string, failed_count bigint"
    )
    old, new = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)
    rows = [
        ("r1", old, "fact_311", "not_null_unique_key", "fail", 7),
        ("r2", new, "fact_311", "not_null_unique_key", "pass", 0),
        ("r2", new, "fact_311", "fk_agency", "fail", 3),
        ("r2", new, "dim_agency", "unique_agency_key", "pass", 0),
        ("r2", new, "dim_date", "broken_query", "error", None),
    ]
    _write(spark, data_root, "monitoring.gold_test_results", rows, schema)
    params = {
        "table": "monitoring.gold_test_results",
        "run_column": "run_id",
        "time_column": "evaluated_at",
        "table_column": "table_name",
        "test_column": "test_name",
        "failed_column": "failed_count",
        "status_column": "status",
    }
    metrics = nodes.gold_integrity_metrics(_run(), params, str(data_root))
    assert _value(metrics, "integrity_tests_run", "gold.fact_311") == 2
    assert _value(metrics, "integrity_tests_failed", "gold.fact_311") == 1
    assert _value(metrics, "integrity_failures", "gold.fact_311", "fk_agency") == 3
    assert _value(metrics, "integrity_tests_failed", "gold.dim_agency") == 0
    assert _value(metrics, "integrity_tests_failed", "gold.dim_date") == 1  # could not run
    assert set(metrics["layer"]) == {"gold"}

    (data_root / "monitoring" / "gold_test_results").rename(data_root / "moved")
    missing = nodes.gold_integrity_metrics(_run(), params, str(data_root))
    assert _value(missing, "table_missing", "monitoring.gold_test_results") == 1


def test_volume_anomaly_metrics_on_a_table(spark, data_root):
    start = datetime(2024, 1, 1, 15, 0, tzinfo=UTC)
    rows = [(i * 1000 + j, start + timedelta(days=i)) for i in range(30) for j in range(10)]
    rows += [(99_000 + j, start + timedelta(days=30)) for j in range(60)]  # a 6x spike
    _write(spark, data_root, "silver.requests", rows, "unique_key bigint, created_date timestamp")
    check = {"table": "silver.requests", "date_column": "created_date", "z_threshold": 3.0}
    metrics = nodes.volume_anomaly_metrics(_run(), [check], str(data_root))
    assert _value(metrics, "volume_latest") == 60
    assert _value(metrics, "volume_trailing_mean") == pytest.approx(10.0)
    assert _value(metrics, "volume_anomaly") == 1
    assert metrics[metrics["metric"] == "volume_anomaly"].iloc[0]["dimension"] == "2024-01-31"


def test_volume_days_are_new_york_days_even_for_timestamps_read_from_delta(spark, data_root):
    # 23:30 in New York on Jan 30 is 04:30 UTC on Jan 31: it belongs to Jan 30
    rows = [(i, datetime(2024, 1, 1, 15, tzinfo=UTC) + timedelta(days=i)) for i in range(30)]
    rows.append((100, datetime(2024, 1, 31, 4, 30, tzinfo=UTC)))
    _write(spark, data_root, "silver.requests", rows, "unique_key bigint, created_date timestamp")
    check = {"table": "silver.requests", "date_column": "created_date"}
    metrics = nodes.volume_anomaly_metrics(_run(), [check], str(data_root))
    latest = metrics[metrics["metric"] == "volume_latest"].iloc[0]
    assert latest["dimension"] == "2024-01-30"
    assert latest["value"] == 2


def test_gold_test_results_columns_match_what_the_gold_pipeline_writes(project_root):
    import yaml

    from nyc_lakehouse.pipelines.gold.data_tests import RESULTS_SCHEMA

    params = yaml.safe_load((project_root / "conf/base/parameters_monitoring.yml").read_text())
    config = params["monitoring"]["gold_test_results"]
    configured = {v for k, v in config.items() if k.endswith("_column")}
    assert configured <= set(RESULTS_SCHEMA.fieldNames())


def test_kedro_run_appends_one_batch_per_run_and_survives_missing_tables(
    spark, data_root, project_root, tmp_path, monkeypatch
):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")

    # Ingested just now: the 48-hour ingestion freshness alert (action fail) passes.
    rows = [("a", "2024-03-01", datetime.now(UTC) - timedelta(hours=1))]
    _write(
        spark,
        data_root,
        "bronze.nyc311_service_requests",
        rows,
        "unique_key string, _ingest_date string, _ingested_at timestamp",
    )
    bootstrap_project(project_root)
    for _ in range(2):
        with KedroSession.create(project_path=project_root) as session:
            session.run(pipeline_name="monitoring")

    metrics = spark.read.format("delta").load(str(data_root / "monitoring" / "pipeline_metrics"))
    assert metrics.select("run_id").distinct().count() == 2
    frame = metrics.toPandas()
    latest = frame[frame["measured_at"] == frame["measured_at"].max()]
    bronze = latest[latest["table_name"] == "bronze.nyc311_service_requests"]
    assert _value(bronze, "row_count") == 1
    assert _value(bronze, "rows_by_ingest_date", dimension="2024-03-01") == 1
    assert _value(bronze, "schema_drift") == 0  # compared with the first run
    missing = latest[latest["metric"] == "table_missing"]["table_name"]
    assert {
        "silver.nyc311_service_requests",
        "gold.fact_311",
        "monitoring.gold_test_results",
    } <= set(missing)
    assert set(latest["layer"]) >= {"bronze", "silver", "gold", "monitoring"}
    alerts = spark.read.format("delta").load(str(data_root / "monitoring" / "alert_results"))
    verdicts = alerts.toPandas()
    assert verdicts["run_id"].nunique() == 2
    # Missing tables are skipped, never breaches; the one measured freshness passes.
    assert set(verdicts["status"]) == {"ok", "skipped"}
    fresh = verdicts[verdicts["rule_name"] == "nyc311_ingested_daily"]
    assert list(fresh["status"]) == ["ok", "ok"]
