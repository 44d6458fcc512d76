"""`make bench` at its smallest, so the benchmark script never rots (its numbers are not judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_the_benchmark_runs_every_stage_and_writes_its_tables(tmp_path):
    results_dir, work_dir = tmp_path / "results", tmp_path / "work"
    completed = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "bench" / "lakehouse_bench.py"),
            "--sizes",
            "15000",
            "--series",
            "2",
            "--results-dir",
            str(results_dir),
            "--work-dir",
            str(work_dir),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads((results_dir / "latest.json").read_text())
    (size,) = results["sizes"]
    stages = size["stages"]
    assert set(stages) == {
        "landing",
        "io_floor",
        "bronze",
        "silver",
        "gold",
        "sail_core",
        "duckdb_core",
        "sail_wide",
        "duckdb_wide",
        "silver_increment",
    }
    landed = stages["landing"]["rows"]
    assert 10_000 < landed < 20_000  # the generator's scale follows the requested size
    # every stage saw the same data: the floor and bronze read all of the landing zone
    assert stages["io_floor"]["rows"] == stages["bronze"]["rows"] == landed
    assert 0 < stages["gold"]["rows"] <= landed  # silver rows: deduplicated, quarantine out
    # the two engines ran the same SQL on the same rows, so they keep the same requests
    assert stages["sail_core"]["rows"] == stages["duckdb_core"]["rows"] > 0
    # ... and over every column, the same values: non-null counts per column, true flags
    sail_wide, duckdb_wide = (
        stages["sail_wide"]["fingerprint"],
        stages["duckdb_wide"]["fingerprint"],
    )
    assert sail_wide == duckdb_wide
    assert sail_wide["rows"] == stages["sail_core"]["rows"]
    assert len(sail_wide["values"]) == 46  # 40 fields, updated_at, five flags
    assert 0 < sail_wide["flags"]["has_valid_location"] < sail_wide["rows"]
    increment = stages["silver_increment"]
    assert (increment["rows"], increment["updates"]) == (10_000, 1_000)
    new_rows = increment["target_rows_after"] - increment["target_rows"]
    assert 0 < new_rows <= increment["rows"] - increment["updates"]
    assert 0 < increment["upsert_seconds"] < increment["seconds"]  # one save of the run
    assert all(stage["seconds"] > 0 and stage["peak_rss_mb"] > 100 for stage in stages.values())
    assert size["derived"]["landing_to_silver_rows_per_s"] > 0
    assert (
        size["derived"]["landing_zone_to_silver_rows_per_s"]
        > size["derived"]["landing_to_silver_rows_per_s"]
    )
    (forecast,) = results["forecasting"]
    assert forecast["series"] == 2 and forecast["seconds"] > 0
    table = (results_dir / "latest.md").read_text()
    assert "| 15,000 | silver |" in table and "landing -> silver rows/s" in table
    assert "| 15,000 | duckdb_wide |" in table and "silver pipeline / DuckDB wide" in table
    assert "| upsert s | silver run s |" in table
    assert table in completed.stdout
    assert not work_dir.joinpath("rows_15000").exists()  # the work lakehouse is cleaned up
