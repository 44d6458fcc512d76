"""Run locks on a local root: lock files, what a pipeline locks, scratch tables per run.

Real locks (``flock`` on real files, a real process killed with SIGKILL) and the project's real
configuration; the lease table (the lock of ``uc://`` roots) is tested on Sail in
tests/test_run_lease.py, and two real ``kedro run`` processes in
tests/pipelines/silver/test_silver_concurrent_runs.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from nyc_lakehouse import settings
from nyc_lakehouse.run_lock import RunGuard, RunHolder, RunLockError, RunLockSettings, scratch
from nyc_lakehouse.run_lock.file_lock import FileLocks, holders, lock_file_name
from nyc_lakehouse.run_lock.guard import written_tables

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _holder(run_id: str = "run-a", pipeline: str = "silver") -> RunHolder:
    return RunHolder.this_process(run_id, pipeline)


# ---------------------------------------------------------------------------- lock files


def test_a_held_table_refuses_a_second_run_and_names_the_holder(tmp_path):
    first, second = FileLocks(str(tmp_path)), FileLocks(str(tmp_path))
    a = _holder("run-a")
    assert first.try_acquire(["silver.t", "monitoring.log"], a) == {}

    blockers = second.try_acquire(["silver.t", "silver.other"], _holder("run-b"))

    assert blockers == {"silver.t": a}
    # all or nothing: the free key it asked for is not left locked by the refused run
    assert holders(str(tmp_path)) == {"monitoring.log": a, "silver.t": a}
    first.release()
    assert holders(str(tmp_path)) == {}
    assert second.try_acquire(["silver.t", "silver.other"], _holder("run-b")) == {}
    second.release()


def test_runs_on_tables_they_do_not_share_both_proceed(tmp_path):
    silver, ingestion = FileLocks(str(tmp_path)), FileLocks(str(tmp_path))
    assert silver.try_acquire(["silver.t", "monitoring.dq_results"], _holder("s")) == {}
    assert ingestion.try_acquire(["ingestion.nyc311_done"], _holder("i", "ingestion")) == {}
    assert sorted(holders(str(tmp_path))) == [
        "ingestion.nyc311_done",
        "monitoring.dq_results",
        "silver.t",
    ]
    silver.release()
    ingestion.release()


_HOLD = """
import sys, time
from nyc_lakehouse.run_lock import RunHolder
from nyc_lakehouse.run_lock.file_lock import FileLocks
locks = FileLocks(sys.argv[1])
assert locks.try_acquire(["silver.t"], RunHolder.this_process("killed-run", "silver")) == {}
print("locked", flush=True)
time.sleep(600)
"""


def test_a_run_killed_with_sigkill_leaves_no_stale_lock(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        refused = FileLocks(str(tmp_path)).try_acquire(["silver.t"], _holder("next"))
        assert refused["silver.t"] is not None and refused["silver.t"].pid == process.pid
        assert refused["silver.t"].run_id == "killed-run"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # The killed run's name is still in the file, but the OS released its lock.
    assert "killed-run" in (tmp_path / lock_file_name("silver.t")).read_text()
    locks = FileLocks(str(tmp_path))
    assert locks.try_acquire(["silver.t"], _holder("next")) == {}
    locks.release()


# ---------------------------------------------------------------------------- waiting, message


class _Pipeline:
    """The part of a Kedro pipeline the guard reads."""

    def __init__(self, *outputs: str) -> None:
        self._outputs = set(outputs)

    def all_outputs(self) -> set[str]:
        return self._outputs


def _catalog(tmp_path: Path, *tables: str) -> DataCatalog:
    return DataCatalog.from_config(
        {
            name: {
                "type": "nyc_lakehouse.datasets.DeltaTableDataset",
                "table": name,
                "root": str(tmp_path),
            }
            for name in tables
        }
    )


def _guard(tmp_path: Path, wait_seconds: float = 0) -> RunGuard:
    return RunGuard(RunLockSettings(root=str(tmp_path), wait_seconds=wait_seconds))


def test_fail_fast_names_run_pid_host_pipeline_and_start(tmp_path):
    catalog = _catalog(tmp_path, "silver.t", "monitoring.log")
    pipeline = _Pipeline("silver.t", "monitoring.log", "in_memory")
    holder = _guard(tmp_path)
    holder.start("2026-01-02T03.04.05.678Z", "silver", pipeline, catalog)
    try:
        started = time.monotonic()
        with pytest.raises(RunLockError) as refused:
            _guard(tmp_path).start("second-run", "silver", pipeline, catalog)
        assert time.monotonic() - started < 2  # fails fast: it does not wait
    finally:
        holder.finish(succeeded=True)
    message = str(refused.value)
    me = holder.holder
    assert me is not None
    for part in (
        "pipeline 'silver' cannot start",
        "monitoring.log, silver.t",
        "run 2026-01-02T03.04.05.678Z",
        f"pid {os.getpid()}",
        f"on host {me.host}",
        f"started {me.started_at}",
        "lock_wait_seconds",
    ):
        assert part in message, (part, message)
    assert set(refused.value.blockers) == {"monitoring.log", "silver.t"}


def test_a_run_told_to_wait_gets_the_tables_when_the_holder_ends(tmp_path):
    catalog = _catalog(tmp_path, "silver.t")
    pipeline = _Pipeline("silver.t")
    holder = _guard(tmp_path)
    holder.start("first", "silver", pipeline, catalog)
    threading.Timer(0.6, holder.finish, kwargs={"succeeded": True}).start()
    waiter = _guard(tmp_path, wait_seconds=20)
    started = time.monotonic()
    waiter.start("second", "silver", pipeline, catalog)
    waited = time.monotonic() - started
    assert 0.5 < waited < 10
    assert holders(str(tmp_path / "_locks"))["silver.t"].run_id == "second"
    waiter.finish(succeeded=True)


def test_a_wait_that_runs_out_says_how_long_it_waited(tmp_path):
    catalog = _catalog(tmp_path, "silver.t")
    holder = _guard(tmp_path)
    holder.start("first", "silver", _Pipeline("silver.t"), catalog)
    try:
        started = time.monotonic()
        with pytest.raises(RunLockError, match=r"(?s)waited 1 s.*held by run first"):
            _guard(tmp_path, wait_seconds=1).start(
                "second", "silver", _Pipeline("silver.t"), catalog
            )
        assert 0.9 < time.monotonic() - started < 5
    finally:
        holder.finish(succeeded=True)


def test_a_disabled_lock_locks_nothing(tmp_path):
    catalog = _catalog(tmp_path, "silver.t")
    guard = RunGuard(RunLockSettings(root=str(tmp_path), enabled=False))
    guard.start("first", "silver", _Pipeline("silver.t"), catalog)
    assert guard.locks is None and not (tmp_path / "_locks").exists()
    guard.finish(succeeded=True)


# ---------------------------------------------------------------------------- settings


def _loader(**runtime_params) -> OmegaConfigLoader:
    return OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        runtime_params=runtime_params,
        **settings.CONFIG_LOADER_ARGS,
    )


def test_project_settings_fail_fast_and_take_the_wait_from_the_command_line(monkeypatch):
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", "/lake")
    monkeypatch.delenv("NYC_LAKEHOUSE_LOCK_BACKEND", raising=False)
    default = RunLockSettings.from_config(_loader()["run_lock"])
    assert default.enabled and default.wait_seconds == 0 and default.root == "/lake"
    assert not default.uses_lease  # a local root: lock files
    waiting = RunLockSettings.from_config(_loader(lock_wait_seconds=600)["run_lock"])
    assert waiting.wait_seconds == 600
    assert default.lease_ttl_seconds > (default.lease_renew_seconds or 0) > 0


@pytest.mark.parametrize(
    ("root", "backend", "lease"),
    [
        ("data", "auto", False),
        ("file:///lake", "auto", False),
        ("uc://nyc", "auto", True),
        ("s3://bucket/lake", "auto", True),
        ("data", "lease", True),
        ("uc://nyc", "file", False),
    ],
)
def test_lease_where_no_local_file_lock_reaches(root, backend, lease):
    assert RunLockSettings(root=root, backend=backend).uses_lease is lease


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"backend": "zookeeper"}, "backend"),
        ({"wait_seconds": -1}, "wait_seconds"),
        ({"wait_seconds": "soon"}, "numbers"),
        ({"wiat_seconds": 5}, "unknown settings"),
        ({"lease": {"ttl": 5}}, "lease.ttl"),
    ],
)
def test_wrong_settings_are_refused_with_the_key(config, message):
    with pytest.raises(ValueError, match=message):
        RunLockSettings.from_config(config)


# ---------------------------------------------------------------------------- what a run locks


def _project_catalog(pipelines: list[str], token: str | None) -> tuple[DataCatalog, dict]:
    import importlib

    scratch.set_token(token)
    try:
        config = _loader()["catalog"]
    finally:
        scratch.set_token(None)
    wanted = {
        name: importlib.import_module(f"nyc_lakehouse.pipelines.{name}").create_pipeline()
        for name in pipelines
    }
    used = set().union(*(p.datasets() for p in wanted.values()))
    catalog = DataCatalog.from_config(
        {n: e for n, e in config.items() if n in used or "{" in n},
        credentials=_loader()["credentials"],
    )
    return catalog, wanted


def test_silver_locks_its_tables_and_scratch_families_and_shares_none_with_other_layers(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(tmp_path))
    catalog, pipelines = _project_catalog(["silver", "bronze", "ingestion", "gold"], "tok")
    keys = {name: set(written_tables(p, catalog)) for name, p in pipelines.items()}
    assert keys["silver"] == {
        "silver.nyc311_service_requests",
        "silver.nyc311_quarantine",
        "silver.nyc311_increment",  # the family of every run's own scratch table
        "silver.nyc911_e2e_weekly",
        "silver.nyc911_quarantine",
        "silver.nyc911_increment_base",
        "monitoring.dq_results",
        "monitoring.silver_batch_log",
    }
    for other in ("bronze", "ingestion", "gold"):
        assert keys["silver"].isdisjoint(keys[other]), other
    assert "bronze.nyc311_service_requests" in keys["bronze"]
    assert keys["ingestion"]  # landing runs exclude each other too


def test_scratch_tables_are_per_run_and_the_first_load_adopts_this_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(tmp_path))
    token = "20260102t030405_42_abc123"  # pragma: allowlist secret
    catalog, _ = _project_catalog(["silver"], token)
    increment = catalog.get("silver.nyc311_increment")
    assert increment.address.name == f"silver.nyc311_increment__run_{token}"
    base = catalog.get("silver.nyc911_increment_base").address
    assert base.name == f"silver.nyc911_increment_base__run_{token}"
    upsert = catalog.get("silver.nyc311_service_requests").config.upsert
    assert upsert.adopt_first_load_from == increment.address
    # outside a run (no id): the plain names, as tests and notebooks build the catalog
    plain, _ = _project_catalog(["silver"], None)
    assert plain.get("silver.nyc311_increment").address.name == "silver.nyc311_increment"
    assert scratch.base_name(increment.address.name) == "silver.nyc311_increment"
    assert scratch.base_name("silver.nyc311_increment") is None


def test_a_run_drops_the_scratch_tables_earlier_runs_left_and_its_own_on_success(tmp_path):
    silver = tmp_path / "silver"
    for name in (
        "nyc311_increment",  # before scratch tables were per run
        "nyc311_increment__run_crashed",
        "nyc311_increment_other",  # not of the family
        "nyc911_increment_base__run_crashed",  # a family this run does not write
        "nyc311_service_requests",
    ):
        (silver / name / "_delta_log").mkdir(parents=True)
    guard = _guard(tmp_path)
    mine = f"silver.nyc311_increment{scratch.SEPARATOR}{guard.token}"
    catalog = _catalog(tmp_path, mine, "silver.nyc311_service_requests")
    (silver / mine.split(".")[1] / "_delta_log").mkdir(parents=True)

    guard.start("run", "silver", _Pipeline(mine, "silver.nyc311_service_requests"), catalog)
    assert sorted(p.name for p in silver.iterdir()) == sorted(
        [
            mine.split(".")[1],
            "nyc311_increment_other",
            "nyc911_increment_base__run_crashed",
            "nyc311_service_requests",
        ]
    )
    guard.finish(succeeded=True)
    assert not (silver / mine.split(".")[1]).exists()
    assert (silver / "nyc311_service_requests").exists()


def test_a_failed_run_keeps_its_scratch_tables_for_inspection(tmp_path):
    guard = _guard(tmp_path)
    mine = f"silver.nyc311_increment{scratch.SEPARATOR}{guard.token}"
    folder = tmp_path / "silver" / mine.split(".")[1] / "_delta_log"
    folder.mkdir(parents=True)
    guard.start("run", "silver", _Pipeline(mine), _catalog(tmp_path, mine))
    guard.finish(succeeded=False)
    assert folder.exists()
    assert holders(str(tmp_path / "_locks")) == {}  # released all the same
