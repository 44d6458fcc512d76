"""Two real ``kedro run`` processes on one small lakehouse: one writer per table.

Each test starts real ``kedro run`` subprocesses against a temporary data root. To make the
overlap certain rather than a matter of timing, the run that holds the silver lock is frozen
(SIGSTOP) while the other one starts, and thawed (SIGCONT) afterwards: a slow run, exactly.
The silver tables are then compared with one run of the same pipeline on a copy of the same
bronze (Kedro's SequentialRunner in this process).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from silver_fixtures import (
    PROJECT_ROOT,
    bronze_frame,
    good_911_row,
    good_request,
    read_table,
    run_silver,
    write_bronze,
)

from nyc_lakehouse.run_lock import RunHolder
from nyc_lakehouse.run_lock.file_lock import holders, lock_file_name
from nyc_lakehouse.run_lock.scratch import SEPARATOR
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

pytestmark = pytest.mark.slow

NYC311, NYC911 = "nyc311_service_requests", "nyc911_e2e_weekly"
SILVER_LOCK = lock_file_name("silver.nyc311_service_requests")
TIMEOUT = 240
# Ten days of the bundled sample at 1% (the ingestion run that shares no table with silver)
SMALL_SAMPLE = ",".join(
    f"{dataset}.ingestion.{key}={value}"
    for dataset in ("nyc311", "nyc911")
    for key, value in (("start", "2022-12-01"), ("end", "2022-12-10"), ("sample_scale", 0.01))
)


def _bronze(spark, data_root: Path) -> None:
    """Three 311 batches (one bad row each: quarantined) and two 911 batches."""
    for number in (1, 2, 3):
        at = datetime(2024, 5, 25 + number, 6, tzinfo=UTC)
        requests = [good_request(100 * number + i) for i in range(4)]
        requests.append(good_request(f"BAD-{number}"))  # the key does not parse: quarantined
        frame = bronze_frame(spark, requests, NYC311_FIELDS, f"b{number}", at)
        write_bronze(spark, data_root, NYC311, frame)
    for number, agency in ((1, "EMS"), (2, "NYPD (Non-CIP)")):
        at = datetime(2024, 5, 25 + number, 6, tzinfo=UTC)
        frame = bronze_frame(spark, [good_911_row(agency=agency)], NYC911_FIELDS, f"b{number}", at)
        write_bronze(spark, data_root, NYC911, frame)


def _outcome(spark, data_root: Path) -> dict[str, object]:
    """What a silver run leaves, without the columns that differ from run to run."""
    dq = read_table(spark, data_root, "monitoring.dq_results")
    return {
        "batch_log": Counter(
            (r["dataset"], r["batch_id"])
            for r in read_table(spark, data_root, "monitoring.silver_batch_log")
        ),
        "dq": Counter(
            (r["table_name"], r["rule_name"], r["failed_count"], r["total_count"]) for r in dq
        ),
        "dq_runs": len({r["run_id"] for r in dq}),
        "quarantine_311": Counter(
            r["source_unique_key"] for r in read_table(spark, data_root, "silver.nyc311_quarantine")
        ),
        "silver_311": Counter(
            r["unique_key"] for r in read_table(spark, data_root, f"silver.{NYC311}")
        ),
        "silver_911": Counter(
            r["agency"] for r in read_table(spark, data_root, f"silver.{NYC911}")
        ),
    }


@pytest.fixture
def lakehouse(spark, data_root, tmp_path, monkeypatch) -> tuple[Path, dict[str, object]]:
    """A data root holding bronze only, and the outcome of one silver run on a copy of it."""
    _bronze(spark, data_root)
    reference = tmp_path / "reference"
    shutil.copytree(data_root, reference)
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(reference))
    run_silver()
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(data_root))
    expected = _outcome(spark, reference)
    assert expected["batch_log"] == Counter(
        {("nyc311", "b1"): 1, ("nyc311", "b2"): 1, ("nyc311", "b3"): 1}
        | {("nyc911", "b1"): 1, ("nyc911", "b2"): 1}
    )
    assert expected["quarantine_311"] == Counter({"BAD-1": 1, "BAD-2": 1, "BAD-3": 1})
    return data_root, expected


class Runs:
    """``kedro run`` subprocesses of one test; none is left stopped or running after it."""

    def __init__(self, data_root: Path, logs: Path) -> None:
        self.data_root, self.logs = data_root, logs
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "NYC_LAKEHOUSE_DATA_ROOT": str(self.data_root),
            "KEDRO_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "COLUMNS": "400",  # one log record per line: messages are matched whole
        }
        log = (self.logs / f"{name}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "kedro", "run", *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.log_path = self.logs / f"{name}.log"  # type: ignore[attr-defined]
        self.started.append(process)
        return process

    @staticmethod
    def output(process: subprocess.Popen) -> str:
        return " ".join(Path(process.log_path).read_text().split())  # type: ignore[attr-defined]

    def finish(self, process: subprocess.Popen) -> tuple[int, str]:
        code = process.wait(timeout=TIMEOUT)
        return code, self.output(process)

    def holder(self, among: list[subprocess.Popen]) -> tuple[subprocess.Popen, RunHolder]:
        """The process among ``among`` that holds the silver lock, as soon as it holds it."""
        lock = self.data_root / "_locks" / SILVER_LOCK
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            holder = RunHolder.from_json(lock.read_text()) if lock.exists() else None
            for process in among:
                if holder is not None and holder.pid == process.pid:
                    return process, holder
            if all(p.poll() is not None for p in among):
                outputs = "\n\n".join(self.output(p)[-3000:] for p in among)
                raise AssertionError(f"no run took the silver lock:\n{outputs}")
            time.sleep(0.02)
        raise AssertionError("no run took the silver lock in time")

    def cleanup(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(timeout=30)


@pytest.fixture
def runs(data_root, tmp_path) -> Iterator[Runs]:
    logs = tmp_path / "logs"
    logs.mkdir()
    runs = Runs(data_root, logs)
    yield runs
    runs.cleanup()


def _scratch_tables(data_root: Path) -> list[str]:
    return sorted(p.name for p in (data_root / "silver").iterdir() if SEPARATOR in p.name)


def test_two_silver_runs_at_once_one_proceeds_the_other_names_it(spark, lakehouse, runs):
    """...and an ingestion run started meanwhile proceeds: it writes no table silver writes."""
    data_root, expected = lakehouse
    first = runs.start("first", "--pipeline", "silver")
    second = runs.start("second", "--pipeline", "silver")

    holding, holder = runs.holder([first, second])
    holding.send_signal(signal.SIGSTOP)  # a slow run: the other one must meet its lock
    refused = second if holding is first else first
    ingestion = runs.start("ingestion", "--pipeline", "ingestion", "--params", SMALL_SAMPLE)
    code, output = runs.finish(refused)

    assert code != 0, output[-3000:]
    assert "RunLockError: Run lock: pipeline 'silver' cannot start" in output
    assert f"held by {holder.describe()}" in output  # run id, pipeline, pid, host, start time
    assert "silver.nyc311_service_requests" in output
    assert "Running node" not in output  # refused before its first node
    code, output = runs.finish(ingestion)
    assert code == 0, output[-3000:]
    assert "RunLockError" not in output
    assert any((data_root / "landing").rglob("*.parquet"))
    assert holding.poll() is None  # silver held its tables all along
    holding.send_signal(signal.SIGCONT)
    code, output = runs.finish(holding)
    assert code == 0, output[-3000:]

    assert _outcome(spark, data_root) == expected  # batches logged and DQ counted once
    assert _scratch_tables(data_root) == []  # the run dropped its own scratch tables
    assert holders(str(data_root / "_locks")) == {}


def test_a_run_killed_holding_the_lock_does_not_block_the_next(spark, lakehouse, runs):
    data_root, expected = lakehouse
    killed = runs.start("killed", "--pipeline", "silver")
    runs.holder([killed])
    deadline = time.monotonic() + TIMEOUT
    while not any(
        (data_root / "silver" / name / "_delta_log" / f"{0:020d}.json").exists()
        for name in _scratch_tables(data_root)
    ):  # killed in the middle: its scratch table is written, silver is not
        assert time.monotonic() < deadline and killed.poll() is None, runs.output(killed)
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    left = _scratch_tables(data_root)
    assert left

    started = time.monotonic()
    code, output = runs.finish(runs.start("next", "--pipeline", "silver"))

    assert code == 0, output[-3000:]
    assert "RunLockError" not in output
    assert time.monotonic() - started < TIMEOUT
    assert "dropped scratch tables earlier runs left" in output
    assert all(name in output for name in left)
    assert _scratch_tables(data_root) == []
    assert _outcome(spark, data_root) == expected
