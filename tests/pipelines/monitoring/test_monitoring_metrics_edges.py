"""Monitoring metrics at their edges: the as-of instant of every accepted form, the quarantine
share over several silver tables and runs, file statistics where the Delta log has no commit
time or the root has a trailing slash or a catalog, and the shares of a value never seen
(real Sail, real Delta)."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from test_monitoring_alerts import NOW, SILVER, _run, _write_silver_run
from test_monitoring_edges import _metric, _table

from nyc_lakehouse.pipelines.monitoring import nodes


# as_of_instant -------------------------------------------------------------------------------
@pytest.fixture
def new_york_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone set to New York, so a naive time read as local shows."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york_clock")
def test_a_time_without_a_zone_is_utc_not_the_machines_zone():
    noon = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    assert nodes.as_of_instant(datetime(2024, 3, 10, 12, 0)) == noon
    assert nodes.as_of_instant("2024-03-10T12:00:00") == noon
    assert nodes.as_of_instant("2024-03-10T08:00:00-04:00") == noon


def test_a_date_is_its_midnight_utc_and_an_empty_setting_the_clock():
    midnight = nodes.as_of_instant(date(2024, 2, 29))
    assert midnight == datetime(2024, 2, 29, tzinfo=UTC) and midnight.utcoffset() == timedelta(0)
    before = datetime.now(UTC)
    assert before <= nodes.as_of_instant("") <= datetime.now(UTC)


# commit_age_row ------------------------------------------------------------------------------
def test_a_commit_age_row_names_its_commit_or_says_it_is_unknown():
    run = _run()
    assert nodes.commit_age_row(run, SILVER, None) == nodes.metric_row(
        run, SILVER, "commit_age_hours", None, detail="commit time unknown"
    )
    committed = NOW - timedelta(hours=30)
    assert nodes.commit_age_row(run, SILVER, committed) == nodes.metric_row(
        run, SILVER, "commit_age_hours", 30.0, detail="latest 2024-03-09T06:00:00+00:00"
    )


# delta_file_stats ----------------------------------------------------------------------------
def test_a_log_without_commit_info_has_files_but_no_commit_time(spark, data_root):
    _table(spark, data_root, "silver.plain", [(1,), (2,)], "k int")
    folder = data_root / "silver" / "plain"
    # commitInfo is optional in the Delta protocol: some writers leave it out
    for log in (folder / "_delta_log").glob("*.json"):
        lines = log.read_text().splitlines(keepends=True)
        log.write_text("".join(line for line in lines if '"commitInfo"' not in line))
    files, size, committed = nodes.delta_file_stats("silver.plain", str(data_root))
    assert files >= 1 and size > 0 and committed is None


def test_only_slashes_are_stripped_from_the_root(spark, tmp_path):
    _table(spark, tmp_path / "lakeX", "silver.t", [(1,)], "k int")
    shutil.copytree(tmp_path / "lakeX", tmp_path / "lake ")
    expected = nodes.delta_file_stats("silver.t", str(tmp_path / "lakeX"))
    assert expected is not None and expected[0] >= 1
    for root in (f"{tmp_path}/lakeX/", f"{tmp_path}/lake "):
        assert nodes.delta_file_stats("silver.t", root)[:2] == expected[:2], root


def test_a_catalog_table_is_profiled_with_null_file_statistics(spark, tmp_path):
    # Sail's own catalog stands in for Unity Catalog: the table is found by name, not path
    _table(spark, tmp_path, "edge_uc.events", [(1, None), (2, "b")], "k int, v string")
    spark.sql("CREATE DATABASE IF NOT EXISTS edge_uc")
    try:
        spark.sql(f"CREATE TABLE edge_uc.events USING delta LOCATION '{tmp_path}/edge_uc/events'")
        spec = {"table": "edge_uc.events", "null_share_columns": ["v"]}
        metrics = nodes.measure_tables(_run(), [spec], "uc://sail")
    finally:
        spark.sql("DROP TABLE IF EXISTS edge_uc.events")
        spark.sql("DROP DATABASE IF EXISTS edge_uc")
    got = {r["metric"]: r for r in metrics.to_dict("records") if r["metric"] != "schema_column"}
    assert (got["row_count"]["value"], got["null_share"]["value"]) == (2.0, 0.5)
    for metric in ("file_count", "total_bytes", "commit_age_hours"):
        assert math.isnan(got[metric]["value"]), metric
    assert got["commit_age_hours"]["detail"] == "commit time unknown"


# profile_table -------------------------------------------------------------------------------
def test_a_flag_never_true_and_a_column_never_null_have_zero_shares(spark):
    df = spark.createDataFrame([(1, False), (2, False), (3, None)], "k int, closed boolean")
    spec = {"flag_columns": ["closed"], "null_share_columns": ["k", "closed"]}
    rows = nodes.metrics_frame(nodes.profile_table(_run(), "silver.t", df, spec))
    assert _metric(rows, "flag_share", "silver.t") == [("closed", 0.0, "")]
    assert _metric(rows, "null_share", "silver.t") == [("k", 0.0, ""), ("closed", 1 / 3, "")]


# schema_drift_rows ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "drifts"),
    [
        ({"a": "int", "b": "int", "c": "int"}, True),  # added only
        ({"a": "int"}, True),  # removed only
        ({"a": "bigint", "b": "int"}, True),  # type changed only
        ({"a": "int", "b": "int"}, False),
    ],
)
def test_each_kind_of_schema_drift_alone_logs_a_warning(caplog, current, drifts):
    caplog.set_level(logging.WARNING, logger=nodes.__name__)
    rows = nodes.schema_drift_rows(_run(), SILVER, current, {"a": "int", "b": "int"})
    assert rows[-1]["value"] == float(drifts)
    assert ("Schema drift in " + SILVER in caplog.text) is drifts


# quarantine_metrics --------------------------------------------------------------------------
def _check(table: str, results_table: str = "monitoring.dq_results") -> dict[str, str]:
    return {
        "table": table,
        "quarantine_table": "silver.nyc311_quarantine",
        "results_table": results_table,
    }


def test_quarantine_shares_of_several_tables_each_from_its_own_latest_run(spark, data_root):
    _write_silver_run(spark, data_root, "s1", NOW - timedelta(hours=3), 100, 3)
    # a later run of silver that checked no rows of the table does not replace s1
    _write_silver_run(spark, data_root, "s_empty", NOW - timedelta(hours=1), 0, 0)
    # another table's later run, which checked exactly one row
    _write_silver_run(spark, data_root, "o1", NOW - timedelta(hours=2), 1, 1, "silver.other")
    _write_silver_run(spark, data_root, "b0", NOW - timedelta(hours=2), 0, 0, "silver.b")
    checks = [
        _check("silver.a", "monitoring.dq_absent"),
        _check("silver.b"),
        _check("silver.other"),
        _check(SILVER),
    ]
    run = _run()
    metrics = nodes.quarantine_metrics(run, checks, str(data_root))
    assert set(metrics["run_id"]) == {run["run_id"]} and set(metrics["layer"]) == {"silver"}
    rows = [
        (r["table_name"], r["metric"], r["dimension"], r["value"], r["detail"])
        for r in metrics.to_dict("records")
    ]
    nan = pytest.approx(math.nan, nan_ok=True)
    assert rows == [
        ("silver.a", "quarantine_share", "", nan, "no silver run (monitoring.dq_absent not found)"),
        ("silver.b", "quarantine_share", "", nan, "no silver run"),
        ("silver.other", "quarantine_share", "o1", 1.0, "1 of 1 rows"),
        ("silver.other", "quarantine_rows_checked", "o1", 1.0, ""),
        (SILVER, "quarantine_share", "s1", 0.03, "3 of 100 rows"),
        (SILVER, "quarantine_rows_checked", "s1", 100.0, ""),
    ]


# combine_metrics -----------------------------------------------------------------------------
def test_a_run_that_measured_nothing_appends_no_rows_with_the_tables_schema(spark):
    combined = nodes.combine_metrics(nodes.metrics_frame([]))
    assert combined.schema == spark.createDataFrame([], nodes.METRICS_SPARK_SCHEMA).schema
    assert combined.count() == 0
