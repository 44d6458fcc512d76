"""Monitoring throughput: a full silver profile's rows/s by size (`make bench-components`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from nyc_lakehouse.pipelines.monitoring import nodes

SPEC = {
    "table": "silver.nyc311_service_requests",
    "unique_key": ["unique_key"],
    "date_column": "created_date",
    "freshness_column": "created_date",
    "max_age_hours": 48,
    "flag_columns": ["is_closed", "has_valid_location"],
    "null_share_columns": ["closed_date", "agency", "borough"],
}


def _write_silver(spark, path: str, rows: int) -> None:
    from pyspark.sql import functions as F

    base = F.to_timestamp(F.lit("2019-01-01 00:00:00"))
    (
        spark.range(rows)
        .select(
            F.col("id").alias("unique_key"),
            (base + F.make_interval(mins=(F.col("id") % 2_000_000).cast("int"))).alias(
                "created_date"
            ),
            F.when(F.col("id") % 10 == 0, F.lit(None))
            .otherwise(base + F.make_interval(days=F.lit(400)))
            .alias("closed_date"),
            F.when(F.col("id") % 50 == 0, F.lit(None)).otherwise(F.lit("NYPD")).alias("agency"),
            F.lit("BROOKLYN").alias("borough"),
            (F.col("id") % 10 != 0).alias("is_closed"),
            (F.col("id") % 7 != 0).alias("has_valid_location"),
            F.to_date(base + F.make_interval(mins=(F.col("id") % 2_000_000).cast("int"))).alias(
                "created_date_only"
            ),
        )
        .write.format("delta")
        .mode("overwrite")
        .save(path)
    )


@pytest.mark.benchmark
@pytest.mark.parametrize("rows", [1_000_000, 4_000_000])
def test_silver_profile_throughput(spark, data_root, rows):
    _write_silver(spark, str(data_root / "silver" / "nyc311_service_requests"), rows)
    run = nodes.new_monitoring_run(datetime(2023, 1, 1, tzinfo=UTC))
    started = time.perf_counter()
    metrics = nodes.measure_tables(run, [SPEC], str(data_root))
    checks = [{"table": SPEC["table"], "date_column": "created_date_only"}]
    volume = nodes.volume_anomaly_metrics(run, checks, str(data_root))
    elapsed = time.perf_counter() - started
    assert metrics.loc[metrics["metric"] == "row_count", "value"].iloc[0] == rows
    assert metrics.loc[metrics["metric"] == "duplicate_keys", "value"].iloc[0] == 0
    assert not volume.empty
    print(
        f"\nmonitoring profile + volume check: {rows:,} rows in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s)"
    )
