"""Benchmark: bronze pipeline throughput (rows/s) on the sample at two sizes, and a no-op rerun.

Run with ``make bench-components``. Lands N months of the 311 sample (one batch per month, as
ingestion does), runs the bronze pipeline with SequentialRunner on the real catalog, then runs it
again (nothing new: the cost of checking what is already in bronze).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.sources.sample import generate_nyc311

pytestmark = pytest.mark.benchmark
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def bronze_catalog() -> Any:
    """The real catalog (catalog.yml + catalog_bronze.yml + parameters_bronze.yml)."""
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from nyc_lakehouse.settings import CONFIG_LOADER_ARGS

    args = dict(CONFIG_LOADER_ARGS)
    args["config_patterns"] = {
        **args["config_patterns"],
        "catalog": ["catalog.yml", "catalog_bronze.yml"],
        "parameters": ["parameters_bronze.yml"],
    }
    loader = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), **args)
    catalog = DataCatalog.from_config(loader["catalog"])
    for source, params in loader["parameters"]["bronze"].items():
        catalog[f"params:bronze.{source}"] = params
    return catalog


def _land_months(zone: LandingZone, months: int, scale: float) -> int:
    rows = 0
    for i in range(months):
        first = date(2019 + i // 12, i % 12 + 1, 1)
        last = date(first.year + first.month // 12, first.month % 12 + 1, 1) - timedelta(days=1)
        info = zone.write_batch(
            "nyc311", f"sample-{first:%Y-%m}", generate_nyc311(first, last, scale=scale)
        )
        rows += info.rows
    return rows


@pytest.mark.parametrize(("months", "scale"), [(6, 1.0), (6, 5.0), (6, 20.0)])
def test_bronze_throughput(spark, data_root: Path, months, scale):
    from kedro.runner import SequentialRunner

    from nyc_lakehouse.pipelines.bronze.pipeline import create_pipeline

    zone = LandingZone(str(data_root / "landing"))
    landed = _land_months(zone, months, scale)
    started = time.perf_counter()
    SequentialRunner().run(create_pipeline(), bronze_catalog())
    seconds = time.perf_counter() - started
    table = spark.read.format("delta").load(str(data_root / "bronze" / "nyc311_service_requests"))
    assert table.count() == landed
    started = time.perf_counter()
    SequentialRunner().run(create_pipeline(), bronze_catalog())
    rerun = time.perf_counter() - started
    assert table.count() == landed
    print(
        f"\n[bench] bronze nyc311 {months} batches, {landed:,} rows: {seconds:.2f} s = "
        f"{landed / seconds:,.0f} rows/s; no-op rerun {rerun:.2f} s"
    )
