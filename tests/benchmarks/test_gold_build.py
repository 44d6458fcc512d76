"""Benchmark: gold build (star schema, aggregates, 911 KPIs and data tests) rows/s at two sizes.

Run with `make bench-components` (or `pytest -m benchmark -s tests/benchmarks/test_gold_build.py`).
Prints seconds and silver rows per second; the assertion checks the output, not the time.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from kedro.runner import SequentialRunner

from nyc_lakehouse.pipelines.analytics.pipeline import create_pipeline as analytics_pipeline
from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline as gold_pipeline
from nyc_lakehouse.pipelines.gold.testing import (
    project_catalog,
    synthetic_silver_311,
    synthetic_silver_911,
    write_silver,
)

SIZES = (50_000, 200_000)


@pytest.fixture(scope="module")
def warmed_up(spark, tmp_path_factory):
    """One tiny run first, so the first measured size does not pay the engine's warm-up."""
    import os

    root = tmp_path_factory.mktemp("warmup") / "data"
    previous = os.environ.get("NYC_LAKEHOUSE_DATA_ROOT")
    os.environ["NYC_LAKEHOUSE_DATA_ROOT"] = str(root)
    try:
        write_silver(root, synthetic_silver_311(spark, rows=2_000), synthetic_silver_911(spark, 10))
        SequentialRunner().run(gold_pipeline() + analytics_pipeline(), project_catalog())
    finally:
        if previous is None:
            os.environ.pop("NYC_LAKEHOUSE_DATA_ROOT")
        else:
            os.environ["NYC_LAKEHOUSE_DATA_ROOT"] = previous


@pytest.mark.benchmark
@pytest.mark.parametrize("rows", SIZES)
def test_gold_build_throughput(spark, warmed_up, data_root, rows):
    silver = synthetic_silver_311(spark, rows=rows, start=date(2019, 1, 1), days=1500)
    write_silver(data_root, silver, synthetic_silver_911(spark, weeks=150))

    started = time.perf_counter()
    SequentialRunner().run(gold_pipeline(), project_catalog())
    gold_seconds = time.perf_counter() - started
    started = time.perf_counter()
    SequentialRunner().run(analytics_pipeline(), project_catalog())
    analytics_seconds = time.perf_counter() - started

    fact = spark.read.format("delta").load(str(data_root / "gold" / "fact_311"))
    assert fact.count() == rows
    print(
        f"\n[gold bench] rows={rows:,} gold={gold_seconds:.2f}s ({rows / gold_seconds:,.0f} rows/s) "
        f"analytics={analytics_seconds:.2f}s ({rows / analytics_seconds:,.0f} rows/s)"
    )
