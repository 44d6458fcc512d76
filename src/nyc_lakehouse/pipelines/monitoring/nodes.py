"""Nodes of the ``monitoring`` pipeline: measure every layer and append long-format metrics.

``monitoring.pipeline_metrics`` grain: one row per monitoring run x table x metric x dimension.
Columns: ``run_id`` (one id per monitoring run), ``layer`` (bronze|silver|gold|monitoring),
``table_name`` (``<schema>.<name>``), ``metric`` (see ``METRIC_DESCRIPTIONS``), ``dimension``
(what the value is broken down by: an ingestion date, a column, a test; ``""`` for none),
``value`` (double, null when not measurable), ``detail`` (human-readable context: a type, a
list of columns, an ISO date) and ``measured_at`` (UTC timestamp of the run).

Monitoring observes the lakehouse, it never transforms it: tables are opened by name through
:class:`~nyc_lakehouse.datasets.DeltaTableDataset` inside the nodes, so a table that does not
exist yet is recorded as ``table_missing`` with a warning instead of failing the run.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from nyc_lakehouse.datasets import DeltaTableDataset

logger = logging.getLogger(__name__)

METRICS_TABLE = "monitoring.pipeline_metrics"
METRIC_COLUMNS = (
    "run_id",
    "layer",
    "table_name",
    "metric",
    "dimension",
    "value",
    "detail",
    "measured_at",
)
METRICS_SPARK_SCHEMA = (
    "run_id string, layer string, table_name string, metric string, dimension string, "
    "value double, detail string, measured_at timestamp"
)

METRIC_DESCRIPTIONS: dict[str, str] = {
    "table_missing": "1 when the table does not exist (detail: where it was looked for)",
    "row_count": "rows in the table",
    "rows_by_ingest_date": "bronze rows per ingestion date (dimension: the date)",
    "file_count": "data files in the current Delta version (delta-rs add actions)",
    "total_bytes": "bytes of those data files",
    "commit_age_hours": "hours between the table's latest Delta commit and the run",
    "schema_column": "one row per column (dimension: column, value: position, detail: type)",
    "schema_drift": "1 when the schema differs from the previous run's, 0 when not, null first time",
    "schema_columns_added": "columns added since the previous run (detail: their names)",
    "schema_columns_removed": "columns removed since the previous run (detail: their names)",
    "schema_columns_type_changed": "columns whose type changed (detail: old -> new)",
    "flag_share": "share of rows where a boolean flag is true (dimension: the flag)",
    "null_share": "share of null values (dimension: the column)",
    "missing_column": "1 when a configured column is absent (dimension: the column)",
    "duplicate_keys": "rows minus distinct unique keys (dimension: the key columns)",
    "date_min": "earliest date (value: epoch seconds, detail: ISO)",
    "date_max": "latest date (value: epoch seconds, detail: ISO)",
    "freshness_hours": "hours between the latest record and the run (dimension: the column)",
    "is_stale": "1 when freshness_hours exceeds the table's max_age_hours",
    "integrity_tests_run": "gold data tests in the latest gold test run",
    "integrity_failures": "failing rows of a gold data test in the latest run (dimension: test)",
    "integrity_tests_failed": "gold data tests with failures in the latest run",
    "volume_latest": "records on the latest day (dimension: the date)",
    "volume_trailing_mean": "mean daily records over the trailing window before the latest day",
    "volume_trailing_std": "standard deviation of that window (floored at 1 record)",
    "volume_zscore": "(latest - mean) / std",
    "volume_anomaly": "1 when |z-score| exceeds the threshold and enough history exists",
    "volume_history_days": "days in the trailing window (since the first record if fewer)",
    "quarantine_share": (
        "rows silver's latest checking run quarantined / rows it checked (dimension: its run_id, "
        "detail: the counts)"
    ),
    "quarantine_rows_checked": "rows that silver run checked (dimension: its run_id)",
}


def new_monitoring_run(now: datetime | date | str | None = None) -> dict[str, Any]:
    """Identify this monitoring run: a fresh ``run_id`` and one ``measured_at`` for every row.

    ``now`` (``monitoring.as_of``: a datetime or an ISO string, UTC when it has no zone) is the
    instant ages are measured against; ``None`` is the real clock. Tests and replays pin it.
    """
    measured_at = as_of_instant(now)
    return {"run_id": uuid.uuid4().hex, "measured_at": measured_at.isoformat()}


def as_of_instant(now: datetime | date | str | None) -> datetime:
    """``now`` as an aware UTC datetime (a bare date is its midnight UTC)."""
    if now is None or now == "":
        return datetime.now(UTC)
    if isinstance(now, str):
        now = datetime.fromisoformat(now)
    elif not isinstance(now, datetime):
        now = datetime(now.year, now.month, now.day)
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)


def metric_row(
    run: Mapping[str, Any],
    table: str,
    metric: str,
    value: float | None,
    dimension: str = "",
    detail: str = "",
) -> dict[str, Any]:
    """One row of ``monitoring.pipeline_metrics``."""
    return {
        "run_id": run["run_id"],
        "layer": layer_of(table),
        "table_name": table,
        "metric": metric,
        "dimension": dimension,
        "value": None if value is None else float(value),
        "detail": detail,
        "measured_at": run["measured_at"],
    }


def layer_of(table: str) -> str:
    """``silver.nyc311_service_requests`` -> ``silver``."""
    return table.split(".", 1)[0]


def open_table(table: str, lakehouse_root: str) -> DeltaTableDataset | None:
    """The table's dataset when it exists; ``None`` (and a warning) when it does not."""
    dataset = DeltaTableDataset(table=table, root=lakehouse_root)
    if dataset.exists():
        return dataset
    logger.warning("Monitoring: table %s does not exist yet; recorded as missing", table)
    return None


def missing_table_row(run: Mapping[str, Any], table: str, lakehouse_root: str) -> dict[str, Any]:
    return metric_row(run, table, "table_missing", 1, detail=f"not found under {lakehouse_root}")


def delta_file_stats(table: str, lakehouse_root: str) -> tuple[int, int, datetime | None] | None:
    """(data files, bytes, latest commit time) of the current Delta version, from the log.

    Reading the log with delta-rs touches no data and needs no Spark. Returns ``None`` where
    delta-rs cannot reach the table (a Unity Catalog name): the metrics are then recorded as null.
    """
    if lakehouse_root.startswith("uc://"):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    schema, name = table.split(".", 1)
    try:
        delta = DeltaTable(f"{lakehouse_root.rstrip('/')}/{schema}/{name}")
        actions = pa.table(delta.get_add_actions(flatten=True))
        history = delta.history(1)
    except Exception:  # noqa: BLE001 - any storage the engine reaches but delta-rs cannot
        logger.warning("Monitoring: cannot read the Delta log of %s with delta-rs", table)
        return None
    total = pc.sum(actions["size_bytes"]).as_py() if actions.num_rows else 0
    stamp = history[0].get("timestamp") if history else None  # epoch milliseconds
    committed = None if stamp is None else datetime.fromtimestamp(stamp / 1000.0, UTC)
    return actions.num_rows, int(total or 0), committed


def schema_rows(
    run: Mapping[str, Any], table: str, fields: Iterable[tuple[str, str]]
) -> list[dict]:
    """``schema_column`` rows: position as value and the type as detail."""
    return [
        metric_row(run, table, "schema_column", position, dimension=column, detail=dtype)
        for position, (column, dtype) in enumerate(fields)
    ]


def schema_drift_rows(
    run: Mapping[str, Any],
    table: str,
    current: Mapping[str, str],
    previous: Mapping[str, str] | None,
) -> list[dict]:
    """Compare a table's ``{column: type}`` with the previous run's (``None``: first run)."""
    if previous is None:
        return [metric_row(run, table, "schema_drift", None, detail="first observation")]
    added = sorted(set(current) - set(previous))
    removed = sorted(set(previous) - set(current))
    changed = sorted(c for c in set(current) & set(previous) if current[c] != previous[c])
    rows = [
        metric_row(run, table, "schema_columns_added", len(added), detail=", ".join(added)),
        metric_row(run, table, "schema_columns_removed", len(removed), detail=", ".join(removed)),
        metric_row(
            run,
            table,
            "schema_columns_type_changed",
            len(changed),
            detail=", ".join(f"{c}: {previous[c]} -> {current[c]}" for c in changed),
        ),
        metric_row(run, table, "schema_drift", int(bool(added or removed or changed))),
    ]
    if added or removed or changed:
        logger.warning(
            "Schema drift in %s: added %s, removed %s, type changed %s",
            table,
            added,
            removed,
            changed,
        )
    return rows


def previous_schemas(
    lakehouse_root: str, metrics_table: str = METRICS_TABLE
) -> dict[str, dict[str, str]]:
    """Each table's ``{column: type}`` as recorded by the latest earlier run that saw it."""
    dataset = DeltaTableDataset(table=metrics_table, root=lakehouse_root)
    if not dataset.exists():
        return {}
    from pyspark.sql import functions as F

    history = dataset.load().where(F.col("metric") == "schema_column")
    latest = history.groupBy("table_name").agg(F.max("measured_at").alias("measured_at"))
    rows = (
        history.join(latest, ["table_name", "measured_at"])
        .select("table_name", "dimension", "detail")
        .collect()
    )
    schemas: dict[str, dict[str, str]] = {}
    for row in rows:
        schemas.setdefault(row["table_name"], {})[row["dimension"]] = row["detail"]
    return schemas


def _epoch_and_iso(raw: Any, epoch: Any) -> tuple[float | None, str]:
    """Value and label of a min/max: epoch seconds computed by the engine (absolute, whatever
    the session time zone) and an ISO label (a date stays a date, a timestamp is shown in UTC)."""
    if raw is None or epoch is None:
        return None, ""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return float(epoch), raw.isoformat()
    return float(epoch), datetime.fromtimestamp(float(epoch), UTC).isoformat()


def _epoch_seconds(column: str) -> Any:
    from pyspark.sql import functions as F

    return F.unix_timestamp(F.col(column).cast("timestamp"))


def profile_table(
    run: Mapping[str, Any], table: str, df: Any, spec: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Row count, rows by ingestion date, flag and null shares, duplicates, date range, freshness.

    ``spec`` keys (all optional): ``ingest_date_column``, ``flag_columns``, ``null_share_columns``,
    ``unique_key`` (list), ``date_column``, ``freshness_column``, ``max_age_hours``.
    Aggregates run in one Spark pass; only the small results are collected.
    """
    from pyspark.sql import functions as F

    columns = set(df.columns)
    rows: list[dict[str, Any]] = []
    wanted = {
        "flag_columns": list(spec.get("flag_columns") or []),
        "null_share_columns": list(spec.get("null_share_columns") or []),
        "unique_key": list(spec.get("unique_key") or []),
        "date_column": [spec["date_column"]] if spec.get("date_column") else [],
        "freshness_column": [spec["freshness_column"]] if spec.get("freshness_column") else [],
        "ingest_date_column": [spec["ingest_date_column"]]
        if spec.get("ingest_date_column")
        else [],
    }
    for column in sorted({c for cols in wanted.values() for c in cols} - columns):
        logger.warning("Monitoring: column %s.%s is missing", table, column)
        rows.append(metric_row(run, table, "missing_column", 1, dimension=column))

    aggregates = [F.count(F.lit(1)).alias("row_count")]
    flags = [c for c in wanted["flag_columns"] if c in columns]
    nulls = [c for c in wanted["null_share_columns"] if c in columns]
    for i, column in enumerate(flags):
        aggregates.append(F.sum(F.when(F.col(column), 1).otherwise(0)).alias(f"flag_{i}"))
    for i, column in enumerate(nulls):
        aggregates.append(F.sum(F.when(F.col(column).isNull(), 1).otherwise(0)).alias(f"null_{i}"))
    date_column = next(iter(c for c in wanted["date_column"] if c in columns), None)
    if date_column:
        aggregates += [
            F.min(date_column).alias("date_min"),
            F.max(date_column).alias("date_max"),
            F.min(_epoch_seconds(date_column)).alias("date_min_epoch"),
            F.max(_epoch_seconds(date_column)).alias("date_max_epoch"),
        ]
    freshness_column = next(iter(c for c in wanted["freshness_column"] if c in columns), None)
    if freshness_column:
        aggregates.append(F.max(freshness_column).alias("freshness_max"))
        aggregates.append(F.max(_epoch_seconds(freshness_column)).alias("freshness_max_epoch"))
    summary = df.agg(*aggregates).collect()[0]
    total = int(summary["row_count"])
    rows.append(metric_row(run, table, "row_count", total))

    def share(count: Any) -> float | None:
        return None if total == 0 else float(count or 0) / total

    for i, column in enumerate(flags):
        rows.append(metric_row(run, table, "flag_share", share(summary[f"flag_{i}"]), column))
    for i, column in enumerate(nulls):
        rows.append(metric_row(run, table, "null_share", share(summary[f"null_{i}"]), column))
    if date_column:
        for metric in ("date_min", "date_max"):
            epoch, iso = _epoch_and_iso(summary[metric], summary[f"{metric}_epoch"])
            rows.append(metric_row(run, table, metric, epoch, date_column, iso))
    if freshness_column:
        latest = _epoch_and_iso(summary["freshness_max"], summary["freshness_max_epoch"])
        rows += _freshness_rows(run, table, freshness_column, latest, spec)

    key = wanted["unique_key"]
    if key and set(key) <= columns:
        distinct = df.select(*key).distinct().count()
        rows.append(metric_row(run, table, "duplicate_keys", total - distinct, ",".join(key)))

    ingest = next(iter(c for c in wanted["ingest_date_column"] if c in columns), None)
    if ingest:
        for day in df.groupBy(ingest).count().orderBy(ingest).collect():
            label = "" if day[ingest] is None else str(day[ingest])
            rows.append(metric_row(run, table, "rows_by_ingest_date", day["count"], label))
    return rows


def _freshness_rows(
    run: Mapping[str, Any],
    table: str,
    column: str,
    latest: tuple[float | None, str],
    spec: Mapping[str, Any],
) -> list[dict[str, Any]]:
    epoch, iso = latest
    if epoch is None:
        return [metric_row(run, table, "freshness_hours", None, column, "no records")]
    measured = datetime.fromisoformat(run["measured_at"])
    hours = (measured.timestamp() - epoch) / 3600.0
    rows = [metric_row(run, table, "freshness_hours", hours, column, f"latest {iso}")]
    if spec.get("max_age_hours") is not None:
        stale = hours > float(spec["max_age_hours"])
        rows.append(
            metric_row(run, table, "is_stale", int(stale), column, f"max {spec['max_age_hours']} h")
        )
    return rows


def _table_spec(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    return {"table": entry} if isinstance(entry, str) else dict(entry)


def measure_tables(
    run: Mapping[str, Any], tables: Sequence[str | Mapping[str, Any]], lakehouse_root: str
) -> pd.DataFrame:
    """Profile, file statistics and schema drift of each configured table of one layer."""
    previous = previous_schemas(lakehouse_root)
    rows: list[dict[str, Any]] = []
    for spec in map(_table_spec, tables):
        table = spec["table"]
        dataset = open_table(table, lakehouse_root)
        if dataset is None:
            rows.append(missing_table_row(run, table, lakehouse_root))
            continue
        df = dataset.load()
        fields = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
        rows += schema_rows(run, table, fields)
        rows += schema_drift_rows(run, table, dict(fields), previous.get(table))
        stats = delta_file_stats(table, lakehouse_root)
        rows.append(metric_row(run, table, "file_count", None if stats is None else stats[0]))
        rows.append(metric_row(run, table, "total_bytes", None if stats is None else stats[1]))
        rows.append(commit_age_row(run, table, None if stats is None else stats[2]))
        rows += profile_table(run, table, df, spec)
        logger.info("Monitoring: measured %s", table)
    return metrics_frame(rows)


def commit_age_row(
    run: Mapping[str, Any], table: str, committed: datetime | None
) -> dict[str, Any]:
    """Hours from the table's latest Delta commit to the run (null when unknown)."""
    if committed is None:
        return metric_row(run, table, "commit_age_hours", None, detail="commit time unknown")
    hours = (datetime.fromisoformat(run["measured_at"]) - committed).total_seconds() / 3600.0
    return metric_row(
        run, table, "commit_age_hours", hours, detail=f"latest {committed.isoformat()}"
    )


def gold_integrity_metrics(
    run: Mapping[str, Any], test_results: Mapping[str, Any], lakehouse_root: str
) -> pd.DataFrame:
    """Failures of the latest gold data-test run, from ``monitoring.gold_test_results``.

    Column names of that table come from parameters (``run_column``, ``time_column``,
    ``table_column``, ``test_column``, ``failed_column``, optional ``status_column``) so the two
    pipelines stay decoupled. Bare table names (``fact_311``) are read as ``gold.<name>``.
    """
    from pyspark.sql import functions as F

    source = test_results["table"]
    dataset = open_table(source, lakehouse_root)
    if dataset is None:
        return metrics_frame([missing_table_row(run, source, lakehouse_root)])
    df = dataset.load()
    needed = [
        test_results[k]
        for k in ("run_column", "time_column", "table_column", "test_column", "failed_column")
    ]
    absent = [c for c in needed if c not in df.columns]
    if absent:
        logger.warning("Monitoring: %s lacks columns %s", source, absent)
        return metrics_frame(
            [metric_row(run, source, "missing_column", 1, dimension=c) for c in absent]
        )
    run_col, time_col, table_col, test_col, failed_col = needed
    status_col = test_results.get("status_column")
    status = F.col(status_col) if status_col and status_col in df.columns else F.lit(None)
    latest_run = df.orderBy(F.col(time_col).desc()).select(run_col).limit(1).collect()
    if not latest_run:
        return metrics_frame([metric_row(run, source, "integrity_tests_run", 0)])
    results = (
        df.where(F.col(run_col) == latest_run[0][0])
        .select(
            table_col,
            test_col,
            F.col(failed_col).cast("double").alias("failed"),
            status.cast("string").alias("status"),
        )
        .collect()
    )
    passing = set(test_results.get("passing_statuses") or ["pass"])
    rows: list[dict[str, Any]] = []
    by_table: dict[str, list[Any]] = {}
    for result in results:
        table = str(result[table_col])
        by_table.setdefault(table if "." in table else f"gold.{table}", []).append(result)
    for table, tests in sorted(by_table.items()):
        # A test that could not run (status error, no count) is a failure too.
        failing = [
            t
            for t in tests
            if (t["failed"] or 0) > 0 or (t["status"] is not None and t["status"] not in passing)
        ]
        rows.append(
            metric_row(run, table, "integrity_tests_run", len(tests), detail=str(latest_run[0][0]))
        )
        rows.append(metric_row(run, table, "integrity_tests_failed", len(failing)))
        rows += [
            metric_row(
                run, table, "integrity_failures", t["failed"], t[test_col], t["status"] or ""
            )
            for t in failing
        ]
    return metrics_frame(rows)


def volume_anomaly(
    daily_counts: Mapping[date, float],
    trailing_days: int = 28,
    z_threshold: float = 3.0,
    min_history_days: int = 14,
) -> dict[str, Any]:
    """Latest day's volume against the trailing window's mean and standard deviation.

    Days without records inside the window count as zero. The standard deviation is floored at
    one record so a perfectly flat history does not divide by zero. Too little history
    (fewer than ``min_history_days`` days since the first record) never flags.
    """
    if not daily_counts:
        return {
            "latest_day": None,
            "latest": None,
            "mean": None,
            "std": None,
            "z": None,
            "anomaly": False,
        }
    latest_day = max(daily_counts)
    first_day = min(daily_counts)
    window_start = max(first_day, latest_day - timedelta(days=trailing_days))
    window = [
        float(daily_counts.get(window_start + timedelta(days=i), 0.0))
        for i in range((latest_day - window_start).days)
    ]
    latest = float(daily_counts[latest_day])
    if len(window) < 2:
        return {
            "latest_day": latest_day,
            "latest": latest,
            "mean": None,
            "std": None,
            "z": None,
            "anomaly": False,
        }
    mean = sum(window) / len(window)
    std = max(1.0, math.sqrt(sum((x - mean) ** 2 for x in window) / (len(window) - 1)))
    z = (latest - mean) / std
    enough = len(window) >= min_history_days
    return {
        "latest_day": latest_day,
        "latest": latest,
        "mean": mean,
        "std": std,
        "z": z,
        "anomaly": bool(enough and abs(z) > z_threshold),
    }


def _calendar_day(df: Any, column: str) -> Any:
    """The session-time-zone day of a date or timestamp column."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType

    if isinstance(df.schema[column].dataType, DateType):
        return F.col(column)
    return F.to_date(F.col(column))


def volume_anomaly_metrics(
    run: Mapping[str, Any], checks: Sequence[Mapping[str, Any]], lakehouse_root: str
) -> pd.DataFrame:
    """Daily volume of each configured table, checked by :func:`volume_anomaly`."""
    from pyspark.sql import functions as F

    rows: list[dict[str, Any]] = []
    for check in checks:
        table, column = check["table"], check["date_column"]
        trailing = int(check.get("trailing_days", 28))
        dataset = open_table(table, lakehouse_root)
        if dataset is None:
            rows.append(missing_table_row(run, table, lakehouse_root))
            continue
        df = dataset.load()
        if column not in df.columns:
            rows.append(metric_row(run, table, "missing_column", 1, dimension=column))
            continue
        days = df.select(_calendar_day(df, column).alias("day")).where(F.col("day").isNotNull())
        latest = days.agg(F.max("day")).collect()[0][0]
        if latest is None:
            rows.append(metric_row(run, table, "volume_latest", None, detail="no records"))
            continue
        window_start = latest - timedelta(days=trailing)
        counts = days.where(F.col("day") >= F.lit(window_start)).groupBy("day").count().collect()
        first = days.agg(F.min("day")).collect()[0][0]
        series = {r["day"]: float(r["count"]) for r in counts}
        # The window must not pretend the table existed before its first record.
        series = {d: v for d, v in series.items() if d >= first}
        result = volume_anomaly(
            series,
            trailing_days=trailing,
            z_threshold=float(check.get("z_threshold", 3.0)),
            min_history_days=int(check.get("min_history_days", 14)),
        )
        label = result["latest_day"].isoformat()
        threshold = f"|z| > {check.get('z_threshold', 3.0)} over {trailing} days"
        rows += [
            metric_row(run, table, "volume_latest", result["latest"], label),
            metric_row(run, table, "volume_trailing_mean", result["mean"], label),
            metric_row(run, table, "volume_trailing_std", result["std"], label),
            metric_row(run, table, "volume_zscore", result["z"], label),
            metric_row(run, table, "volume_anomaly", int(result["anomaly"]), label, threshold),
            metric_row(
                run, table, "volume_history_days", (latest - max(first, window_start)).days, label
            ),
        ]
        if result["anomaly"]:
            logger.warning(
                "Volume anomaly in %s on %s: %.0f records, z=%.2f",
                table,
                label,
                result["latest"],
                result["z"],
            )
    return metrics_frame(rows)


def quarantine_metrics(
    run: Mapping[str, Any], checks: Sequence[Mapping[str, Any]], lakehouse_root: str
) -> pd.DataFrame:
    """Share of the rows silver's latest checking run quarantined, per silver table.

    Each check names the silver ``table``, its ``quarantine_table`` and the ``results_table``
    (``monitoring.dq_results``). The latest silver run of the table that checked rows gives the
    denominator (its ``total_count``); the quarantine rows carrying that run's ``run_id`` give
    the numerator. A quarantine table that does not exist means nothing was ever quarantined.
    """
    from pyspark.sql import functions as F

    rows: list[dict[str, Any]] = []
    for check in checks:
        table, results_table = check["table"], check["results_table"]
        results = open_table(results_table, lakehouse_root)
        if results is None:
            # No silver run has recorded its checks yet: the silver table is configured, so the
            # alert must say that no run checked it, not that it is missing from monitoring.
            detail = f"no silver run ({results_table} not found)"
            rows.append(metric_row(run, table, "quarantine_share", None, detail=detail))
            continue
        latest = (
            results.load()
            .where((F.col("table_name") == table) & (F.col("total_count") > 0))
            .groupBy("run_id")
            .agg(F.max("evaluated_at").alias("at"), F.max("total_count").alias("checked"))
            .orderBy(F.col("at").desc())
            .limit(1)
            .collect()
        )
        if not latest:
            rows.append(metric_row(run, table, "quarantine_share", None, detail="no silver run"))
            continue
        silver_run, checked = str(latest[0]["run_id"]), int(latest[0]["checked"])
        quarantine = DeltaTableDataset(table=check["quarantine_table"], root=lakehouse_root)
        quarantined = (
            quarantine.load().where(F.col("run_id") == silver_run).count()
            if quarantine.exists()
            else 0
        )
        detail = f"{quarantined} of {checked} rows"
        rows += [
            metric_row(run, table, "quarantine_share", quarantined / checked, silver_run, detail),
            metric_row(run, table, "quarantine_rows_checked", checked, silver_run),
        ]
    return metrics_frame(rows)


def metrics_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows in the column order of ``monitoring.pipeline_metrics`` (empty frame allowed)."""
    frame = pd.DataFrame(list(rows), columns=list(METRIC_COLUMNS))
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
    return frame


def combine_metrics(*frames: pd.DataFrame) -> Any:
    """All metrics of the run as one Spark DataFrame, ready to append."""
    from nyc_lakehouse.spark import get_spark

    combined = pd.concat([metrics_frame([]), *frames], ignore_index=True)
    combined["measured_at"] = pd.to_datetime(combined["measured_at"], utc=True)
    combined["value"] = combined["value"].astype("float64")
    for column in ("run_id", "layer", "table_name", "metric", "dimension", "detail"):
        combined[column] = combined[column].fillna("").astype(str)
    logger.info("Monitoring: %d metrics recorded", len(combined))
    return get_spark().createDataFrame(combined, schema=METRICS_SPARK_SCHEMA)
