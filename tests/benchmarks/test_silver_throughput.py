"""Silver throughput: the whole silver pipeline (SequentialRunner, real catalog) at two sizes.

Run with ``make bench-components`` (``pytest -m benchmark -s``). Prints rows/s; no timed assertions.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipelines" / "silver"))

from silver_fixtures import run_silver  # noqa: E402

pytestmark = pytest.mark.benchmark

# (months of the bundled sample, scale): about 16k and 64k 311 rows.
SIZES = [(2, 1.0), (2, 4.0)]


def _write_bronze(spark, data_root: Path, months: int, scale: float) -> int:
    import pyarrow as pa

    from nyc_lakehouse.sources.sample import generate_nyc311, generate_nyc911

    start, end = date(2022, 13 - months, 1), date(2022, 12, 31)
    ingested = datetime(2023, 1, 5, tzinfo=UTC)
    total = 0
    for name, tables in (
        ("nyc311_service_requests", generate_nyc311(start=start, end=end, scale=scale)),
        ("nyc911_e2e_weekly", generate_nyc911(start=start, end=end)),
    ):
        for index, table in enumerate(tables):
            n = table.num_rows
            if name.startswith("nyc311"):
                total += n
            for column, values in (
                ("_ingested_at", pa.array([ingested] * n, pa.timestamp("us", tz="UTC"))),
                ("_source_file", pa.array([f"landing/{name}/{index}.parquet"] * n)),
                ("_batch_id", pa.array([f"{name}-{index}"] * n)),
                ("_ingest_date", pa.array(["2023-01-05"] * n)),
            ):
                table = table.append_column(column, values)
            spark.createDataFrame(table.to_pandas()).write.format("delta").mode("append").save(
                str(data_root / "bronze" / name)
            )
    return total


@pytest.mark.parametrize(("months", "scale"), SIZES)
def test_silver_rows_per_second(spark, data_root, months, scale):
    rows = _write_bronze(spark, data_root, months, scale)
    started = time.perf_counter()
    run_silver()
    first = time.perf_counter() - started
    started = time.perf_counter()
    run_silver()  # nothing new: the incremental no-op
    rerun = time.perf_counter() - started
    silver_rows = (
        spark.read.format("delta")
        .load(str(data_root / "silver" / "nyc311_service_requests"))
        .count()
    )
    assert 0 < silver_rows <= rows
    print(
        f"\nsilver: {rows} bronze 311 rows -> {silver_rows} silver rows in {first:.2f} s "
        f"= {rows / first:,.0f} rows/s; no-op rerun {rerun:.2f} s"
    )
