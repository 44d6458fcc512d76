"""Benchmark: upsert a 10k-row increment into a partitioned Delta table of 1M / 2M / 5M rows.

Run with ``make bench-components``
(or ``uv run --frozen pytest -m benchmark -s tests/benchmarks/test_delta_upsert.py``).
Prints rows/s of the increment, the rows the merge rewrote, and peak RSS growth; the point is
the scaling: with literal partition predicates the cost follows the touched partition, not the
table. Both merge engines run: delta-rs (local default) and SQL MERGE (the Databricks path,
here on Sail).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nyc_lakehouse.datasets import DeltaTableDataset

pytestmark = pytest.mark.benchmark

MONTHS = 36
INCREMENT_ROWS = 10_000
SIZES = (1_000_000, 2_000_000, 5_000_000)
COLUMNS = [
    "id",
    f"date_format(add_months(date'2021-01-01', cast(id % {MONTHS} as int)), 'yyyy-MM') "
    "created_month",
    "concat('complaint descriptor number ', cast(id % 997 as string)) descriptor",
    "concat('address ', cast(id as string), ' BROADWAY') address",
    "cast(id % 1000 as double) / 7 score",
    "timestamp'2024-01-01 00:00:00' + make_interval(0, 0, 0, 0, 0, 0, id % 100000) updated_at",
]


def _rss(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


def _increment(spark, round_number: int):
    """Half updates of ids living in 2021-01, half new ids; newer updated_at each round."""
    return spark.range(INCREMENT_ROWS).selectExpr(
        f"case when id < {INCREMENT_ROWS // 2} then id * {MONTHS} "
        f"else id + {100_000_000 * (round_number + 1)} end as id",
        "'2021-01' created_month",
        "concat('updated descriptor ', cast(id as string)) descriptor",
        "'new address' address",
        "1.0d score",
        f"timestamp'2025-01-01 00:00:00' + make_interval(0, 0, 0, {round_number}) updated_at",
    )


@pytest.mark.parametrize("merge_engine", ["delta_rs", "sql"])
def test_upsert_scaling(spark, tmp_path, merge_engine):
    results = []
    for size in SIZES:
        path = str(tmp_path / f"target_{size}")
        started = time.perf_counter()
        DeltaTableDataset(path=path, save_args={"partition_by": ["created_month"]}).save(
            spark.range(size).selectExpr(*COLUMNS)
        )
        build_seconds = time.perf_counter() - started
        dataset = DeltaTableDataset(
            path=path,
            save_args={
                "mode": "upsert",
                "keys": ["id"],
                "sequence_column": "updated_at",
                "partition_by": ["created_month"],
                "merge_engine": merge_engine,
            },
        )
        timings = []
        growth = 0
        for round_number in range(3):
            if Path("/proc/self/clear_refs").exists():
                Path("/proc/self/clear_refs").write_text("5")
            baseline = _rss("VmRSS:")
            started = time.perf_counter()
            dataset.save(_increment(spark, round_number))
            timings.append(time.perf_counter() - started)
            growth = max(growth, _rss("VmHWM:") - baseline)
        median = sorted(timings)[1]
        rewritten = dataset.last_save_metrics.get("num_target_rows_copied")
        results.append((size, median, growth))
        print(
            f"\n[{merge_engine}] target {size:>9,} rows (built in {build_seconds:.1f} s): "
            f"upsert {INCREMENT_ROWS:,} rows median {median:.2f} s "
            f"= {INCREMENT_ROWS / median:,.0f} rows/s; rows copied {rewritten}; "
            f"peak RSS growth {growth / 1e6:.0f} MB"
        )
        assert dataset.load().count() == size + INCREMENT_ROWS // 2 * 3
    base_size, base_time, _ = results[0]
    for size, median, _ in results[1:]:
        print(
            f"[{merge_engine}] {size // base_size}x the target -> {median / base_time:.2f}x the "
            "upsert time"
        )
