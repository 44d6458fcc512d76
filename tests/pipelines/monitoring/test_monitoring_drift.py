"""Schema drift: a type-only change is drift, and each run compares with the latest one before it.

The broader drift test changes, adds and removes columns at once (any one of the three would
flag it) and has two earlier runs with the same schema (the first and the latest agree). These
tests separate the cases: one change at a time, and three runs whose first and latest differ.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from nyc_lakehouse.pipelines.monitoring import nodes

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
TABLE = "silver.requests"


def _run(hours: int = 0) -> dict:
    return nodes.new_monitoring_run(NOW + timedelta(hours=hours))


def _metrics(rows) -> dict[str, tuple[float, str]]:
    frame = nodes.metrics_frame(rows)
    assert frame["metric"].is_unique
    return {r["metric"]: (r["value"], r["detail"]) for r in frame.to_dict("records")}


def test_a_type_only_change_is_drift():
    got = _metrics(
        nodes.schema_drift_rows(
            _run(), TABLE, {"a": "bigint", "b": "string"}, {"a": "int", "b": "string"}
        )
    )
    assert got["schema_drift"][0] == 1
    assert got["schema_columns_type_changed"] == (1, "a: int -> bigint")
    assert got["schema_columns_added"] == (0, "")
    assert got["schema_columns_removed"] == (0, "")


def test_an_added_column_alone_is_drift():
    got = _metrics(nodes.schema_drift_rows(_run(), TABLE, {"a": "int", "b": "date"}, {"a": "int"}))
    assert got["schema_drift"][0] == 1
    assert got["schema_columns_added"] == (1, "b")
    assert got["schema_columns_removed"] == (0, "")
    assert got["schema_columns_type_changed"] == (0, "")


def test_a_removed_column_alone_is_drift():
    got = _metrics(
        nodes.schema_drift_rows(_run(), TABLE, {"b": "int"}, {"a": "int", "b": "int", "c": "int"})
    )
    assert got["schema_drift"][0] == 1
    assert got["schema_columns_removed"] == (2, "a, c")
    assert got["schema_columns_added"] == (0, "")
    assert got["schema_columns_type_changed"] == (0, "")


def test_a_reordered_schema_is_not_drift():
    got = _metrics(
        nodes.schema_drift_rows(_run(), TABLE, {"b": "int", "a": "int"}, {"a": "int", "b": "int"})
    )
    assert got["schema_drift"][0] == 0
    for change in ("added", "removed", "type_changed"):
        assert got[f"schema_columns_{change}"] == (0, ""), change


def _save(spark, data_root: Path, rows: list[tuple], schema: str) -> None:
    spark.createDataFrame(rows, schema).write.format("delta").mode("overwrite").option(
        "overwriteSchema", "true"
    ).save(str(data_root / "silver" / "requests"))


def _measure_and_append(data_root: Path, hours: int):
    metrics = nodes.measure_tables(_run(hours), [TABLE], str(data_root))
    path = str(data_root / "monitoring" / "pipeline_metrics")
    nodes.combine_metrics(metrics).write.format("delta").mode("append").save(path)
    return metrics


def _drift(metrics) -> dict[str, float]:
    rows = metrics[(metrics["table_name"] == TABLE) & metrics["metric"].str.startswith("schema_")]
    return {
        r["metric"]: r["value"] for r in rows.to_dict("records") if r["metric"] != "schema_column"
    }


def test_drift_is_measured_against_the_latest_run_not_the_first(spark, data_root):
    # run 1: key is an int
    _save(spark, data_root, [(1, "a")], "key int, name string")
    first = _measure_and_append(data_root, 0)
    assert _drift(first)["schema_drift"] != _drift(first)["schema_drift"]  # null: first run
    # run 2: key widened to bigint -> drift against run 1
    _save(spark, data_root, [(1, "a")], "key bigint, name string")
    second = _measure_and_append(data_root, 1)
    assert _drift(second)["schema_drift"] == 1
    assert _drift(second)["schema_columns_type_changed"] == 1
    # run 3: nothing changed since run 2 -> no drift (against run 1 it would be drift)
    third = _measure_and_append(data_root, 2)
    assert _drift(third) == {
        "schema_drift": 0,
        "schema_columns_added": 0,
        "schema_columns_removed": 0,
        "schema_columns_type_changed": 0,
    }
    # and the recorded previous schema is run 3's: bigint
    assert nodes.previous_schemas(str(data_root))[TABLE] == {"key": "bigint", "name": "string"}


def test_a_table_missing_from_the_latest_run_is_compared_with_its_last_sighting(spark, data_root):
    """``previous_schemas`` takes each table's latest run that saw it, not the latest run overall."""
    _save(spark, data_root, [(1, "a")], "key int, name string")
    _measure_and_append(data_root, 0)
    # a later run measures another table only
    other = nodes.measure_tables(_run(1), ["silver.not_there"], str(data_root))
    path = str(data_root / "monitoring" / "pipeline_metrics")
    nodes.combine_metrics(other).write.format("delta").mode("append").save(path)
    third = nodes.measure_tables(_run(2), [TABLE], str(data_root))
    assert _drift(third)["schema_drift"] == 0
