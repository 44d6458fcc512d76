"""Benchmark: ingestion throughput - bulk export import and API paging - at growing sizes.

Run with `make bench-components`
(or `pytest -m benchmark -s tests/benchmarks/test_ingestion_throughput.py`).
Prints rows/s, MB/s and the process's peak memory after each size: with streaming, the peak
stays flat while the file grows. Assertions check the landed rows, not the time.
"""

from __future__ import annotations

import csv
import resource
import time
from pathlib import Path

import pytest

from fixtures.export_writer import NYC311_DISPLAY_NAMES, export_rows, write_311_export
from fixtures.socrata_server import SocrataTestServer, make_311_records
from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches

EXPORT_SIZES = (20_000, 100_000, 400_000)
API_SIZES = (5_000, 20_000)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _params(dataset: str = "nyc311") -> dict:
    import yaml

    config = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_ingestion.yml").read_text())
    return dict(config[dataset]["ingestion"])


def _write_export(path: Path, rows: int, style: str) -> Path:
    """A portal-style export of ``rows`` rows (1,000 template records with fresh keys)."""
    template = make_311_records(1_000)
    if style == "api":
        write_311_export(template, path, "api")
        rendered = path.read_text()
        header, body = rendered.split("\n", 1)
        with path.open("w") as handle:
            handle.write(header + "\n")
            for _ in range(rows // 1_000):
                handle.write(body)
        return path
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NYC311_DISPLAY_NAMES)
        rendered = list(export_rows(template, "display"))
        for block in range(rows // 1_000):
            for row in rendered:
                writer.writerow([f"{block}{row[0]}", *row[1:]])
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.benchmark
@pytest.mark.parametrize("style", ["api", "display"])
def test_export_import_throughput(tmp_path, style):
    print(f"\nexport import ({style}-style header), chunk_rows=50,000 (the default)")
    for rows in EXPORT_SIZES:
        path = _write_export(tmp_path / f"export_{rows}.csv", rows, style)
        zone = LandingZone(str(tmp_path / f"landing_{rows}"))
        params = {**_params(), "source": "export", "export_path": str(path)}
        started = time.perf_counter()
        summary = land_batches(zone, params, None)
        seconds = time.perf_counter() - started
        size_mb = path.stat().st_size / 1e6
        assert summary["rows_landed"] == rows == sum(b.rows for b in zone.batches("nyc311"))
        print(
            f"  {rows:>9,} rows {size_mb:8.1f} MB  {seconds:7.2f} s  "
            f"{rows / seconds:>10,.0f} rows/s  {size_mb / seconds:6.1f} MB/s  "
            f"peak RSS {_peak_mb():7.0f} MB"
        )
        path.unlink()


@pytest.mark.benchmark
@pytest.mark.parametrize("page_size", [1_000, 5_000])
def test_api_paging_throughput(tmp_path, page_size):
    print(f"\nAPI paging through the local test server, page_size={page_size:,}")
    for rows in API_SIZES:
        server = SocrataTestServer().start()
        try:
            server.fixture.datasets["erm2-nwe9"] = make_311_records(rows)
            zone = LandingZone(str(tmp_path / f"api_{page_size}_{rows}"))
            params = {
                **_params(),
                "source": "socrata",
                "base_url": server.base_url,
                "allow_loopback_http": True,
                "page_size": page_size,
                "initial_watermark": "2000-01-01T00:00:00",
            }
            started = time.perf_counter()
            summary = land_batches(zone, params, None)
            seconds = time.perf_counter() - started
        finally:
            server.stop()
        assert summary["rows_landed"] == rows
        print(f"  {rows:>9,} rows  {seconds:7.2f} s  {rows / seconds:>10,.0f} rows/s")
