"""Benchmark: sample generator throughput (rows/s) at scale 1, 5 and 20, streaming by month.

Run with ``make bench-components`` (``pytest -m benchmark -s``). Prints rows/s and peak RSS; the
assertions check the volume scales with ``scale`` and memory stays bounded by one month, not
timings.
"""

from __future__ import annotations

import resource
import time
from datetime import date

import pytest

from nyc_lakehouse.sources.sample import generate_nyc311, generate_nyc911

pytestmark = pytest.mark.benchmark

WINDOW = (date(2019, 1, 1), date(2019, 6, 30))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("scale", [1, 5, 20])
def test_nyc311_generator_throughput(scale):
    next(generate_nyc311(date(2019, 1, 1), date(2019, 1, 31), scale=0.1))  # warm caches
    started = time.perf_counter()
    rows = months = 0
    largest_month = 0
    for table in generate_nyc311(*WINDOW, scale=scale):
        rows += table.num_rows
        months += 1
        largest_month = max(largest_month, table.nbytes)
    seconds = time.perf_counter() - started
    print(
        f"\n[bench] sample nyc311 scale={scale}: {rows:,} rows in {seconds:.2f} s "
        f"= {rows / seconds:,.0f} rows/s; {months} months, largest month "
        f"{largest_month / 1e6:.0f} MB Arrow; peak RSS {_peak_rss_mb():,.0f} MB"
    )
    assert months == 6
    assert 6_000 * scale * 6 * 0.8 < rows < 6_000 * scale * 6 * 1.4
    # streaming: the process never holds much more than one month at a time
    assert _peak_rss_mb() < 600 + 12 * largest_month / 1e6


def test_nyc911_generator_throughput():
    started = time.perf_counter()
    rows = sum(t.num_rows for t in generate_nyc911(date(2016, 1, 1), date(2022, 12, 31)))
    seconds = time.perf_counter() - started
    print(
        f"\n[bench] sample nyc911 7 years: {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s"
    )
    assert 365 * 7 / 7 * 18 < rows < 365 * 7 / 7 * 22
