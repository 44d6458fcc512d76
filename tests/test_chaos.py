"""Chaos: real ``kedro run`` processes killed (SIGKILL) at random points of bronze, silver and gold.

One small sample is landed once. A clean run of bronze, silver and gold on a copy gives the
reference. Then, for each layer (each on its own copy, side by side with the reference run), a seeded random point of that layer (after its k-th Delta
commit) is chosen, a run of the three layers on a fresh copy is killed there, and a rerun must
leave the lakehouse equal to the reference: every bronze key in silver or quarantine, no key
twice, the same row counts, and gold's published totals agreeing across tables.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEED = 29
LAYERS = "bronze,silver,gold"
SMALL = (
    "nyc311.ingestion.start=2021-01-01,nyc311.ingestion.end=2021-03-31,"
    "nyc311.ingestion.sample_scale=0.05,"
    "nyc911.ingestion.start=2021-01-01,nyc911.ingestion.end=2021-03-31"
)
# Tables each layer commits to, by name prefix; the lower bound of its commits in one run.
LAYER_TABLES = {
    "bronze": (("bronze.", "monitoring.bronze_"), 2),
    "silver": (("silver.", "monitoring.dq_", "monitoring.silver_"), 4),
    "gold": (("gold.", "monitoring.gold_"), 14),
}

KILLING_RUN = """
import os, signal, sys
from nyc_lakehouse.datasets import delta_table

saved = delta_table.DeltaTableDataset.save
prefixes = tuple(os.environ["CHAOS_PREFIXES"].split(","))
kill_after = int(os.environ["CHAOS_KILL_AFTER"])
commits = 0

def save_then_maybe_die(self, data):
    global commits
    saved(self, data)
    if self.address.name.startswith(prefixes):
        commits += 1
        if commits == kill_after:
            print(f"CHAOS: killed after {self.address.name} (commit {commits})", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

delta_table.DeltaTableDataset.save = save_then_maybe_die
from kedro.framework.cli import main
sys.argv = ["kedro", *sys.argv[1:]]
main()
"""

pytestmark = pytest.mark.slow


def start_kedro(
    root: Path, log: Path, *args: str, chaos: dict[str, str] | None = None
) -> subprocess.Popen:
    env = {
        **os.environ,
        "NYC_LAKEHOUSE_DATA_ROOT": str(root),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        **(chaos or {}),
    }
    command = [sys.executable, "-c", KILLING_RUN] if chaos else [sys.executable, "-m", "kedro"]
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [*command, *args], cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def start_layers(root: Path, log: Path, chaos: dict[str, str] | None = None) -> subprocess.Popen:
    return start_kedro(root, log, "run", "--pipelines", LAYERS, "--params", SMALL, chaos=chaos)


def finish(process: subprocess.Popen) -> int:
    try:
        return process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()


def table(root: Path, name: str, version: int | None = None) -> Any:
    return DeltaTable(str(root / name), version=version).to_pyarrow_table()


def published_totals(root: Path) -> dict[str, int]:
    publications = table(root, "monitoring/gold_publications").to_pandas()
    latest = publications.sort_values(["published_at", "publication_id"]).iloc[-1]
    rows = publications[publications["publication_id"] == latest["publication_id"]]
    versions = dict(zip(rows["table_name"], rows["table_version"], strict=True))

    def read(name: str) -> Any:
        return table(root, name.replace(".", "/"), int(versions[name]))

    return {
        "fact_311_rows": read("gold.fact_311").num_rows,
        "daily_requests": pc.sum(read("gold.agg_daily_summary")["request_count"]).as_py(),
        "monthly_requests": pc.sum(read("gold.agg_monthly_summary")["request_count"]).as_py(),
        "fact_911_incidents": pc.sum(read("gold.fact_911_weekly")["incident_count"]).as_py(),
        "monthly_911_incidents": pc.sum(read("gold.agg_911_monthly_agency")["incidents"]).as_py(),
    }


def facts(root: Path) -> dict[str, Any]:
    bronze = table(root, "bronze/nyc311_service_requests")
    silver = table(root, "silver/nyc311_service_requests")
    quarantine_path = root / "silver/nyc311_quarantine"
    quarantine = (
        table(root, "silver/nyc311_quarantine")
        if (quarantine_path / "_delta_log").exists()
        else None
    )
    silver_keys = [str(k) for k in silver["unique_key"].to_pylist()]
    quarantined = (
        {str(k) for k in quarantine["source_unique_key"].to_pylist()} if quarantine else set()
    )
    bronze_keys = {str(k) for k in bronze["unique_key"].to_pylist()}
    return {
        "bronze_311_rows": bronze.num_rows,
        "bronze_911_rows": table(root, "bronze/nyc911_e2e_weekly").num_rows,
        "silver_311_rows": silver.num_rows,
        "silver_311_duplicated_keys": len(silver_keys) - len(set(silver_keys)),
        "bronze_keys_lost": len(bronze_keys - set(silver_keys) - quarantined),
        "quarantine_311_rows": quarantine.num_rows if quarantine else 0,
        "silver_911_rows": table(root, "silver/nyc911_e2e_weekly").num_rows,
        "gold": published_totals(root),
    }


def test_kill_at_random_points_of_every_layer_then_rerun(tmp_path):
    landed = tmp_path / "landed"
    for schema in ("landing", "bronze", "silver", "gold", "ml", "monitoring", "reporting"):
        (landed / schema).mkdir(parents=True)
    ingestion = start_kedro(
        landed, tmp_path / "ingestion.log", "run", "--pipeline", "ingestion", "--params", SMALL
    )
    assert finish(ingestion) == 0, (tmp_path / "ingestion.log").read_text()[-3000:]

    # Every lakehouse is its own copy (its own locks), so the runs go side by side.
    rng = random.Random(SEED)
    cases: dict[str, tuple[int, Path, subprocess.Popen]] = {}
    reference_root = tmp_path / "reference"
    shutil.copytree(landed, reference_root)
    reference_run = start_layers(reference_root, tmp_path / "reference.log")
    for layer, (prefixes, commits) in LAYER_TABLES.items():
        kill_after = rng.randint(1, commits)
        root = tmp_path / f"killed_{layer}"
        shutil.copytree(landed, root)
        chaos = {"CHAOS_PREFIXES": ",".join(prefixes), "CHAOS_KILL_AFTER": str(kill_after)}
        cases[layer] = (
            kill_after,
            root,
            start_layers(root, tmp_path / f"killed_{layer}.log", chaos),
        )

    assert finish(reference_run) == 0, (tmp_path / "reference.log").read_text()[-3000:]
    reference = facts(reference_root)
    assert reference["silver_311_rows"] > 0
    assert reference["silver_311_duplicated_keys"] == 0
    assert reference["bronze_keys_lost"] == 0
    gold = reference["gold"]
    assert gold["fact_311_rows"] == gold["daily_requests"] == gold["monthly_requests"] > 0
    assert gold["fact_911_incidents"] == gold["monthly_911_incidents"] > 0

    reruns = {}
    for layer, (kill_after, root, killed) in cases.items():
        log = tmp_path / f"killed_{layer}.log"
        assert finish(killed) == -signal.SIGKILL, (layer, kill_after, log.read_text()[-3000:])
        reruns[layer] = start_layers(root, tmp_path / f"rerun_{layer}.log")
    for layer, rerun in reruns.items():
        log = tmp_path / f"rerun_{layer}.log"
        assert finish(rerun) == 0, (layer, log.read_text()[-3000:])
        kill_after, root, _ = cases[layer]
        assert facts(root) == reference, (layer, kill_after)
