"""The lease table (``monitoring.run_leases``), the run lock of ``uc://`` roots, on Sail with a
path root: the same SQL (``MERGE``, ``DELETE``) Databricks runs on the Unity Catalog table.

Expiry and takeover are driven by a clock the test moves; the race is real (two threads, two
``MERGE`` statements, one Delta commit wins).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from kedro.io import DataCatalog

from nyc_lakehouse.delta import resolve_address
from nyc_lakehouse.run_lock import RunGuard, RunHolder, RunLockError, RunLockSettings
from nyc_lakehouse.run_lock.lease import LEASE_TABLE, LeaseTable, is_commit_conflict


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _table(spark, root: Path, clock: Clock, ttl: float = 60.0) -> LeaseTable:
    address = resolve_address(LEASE_TABLE, str(root), None)
    return LeaseTable(address, lambda: spark, ttl_seconds=ttl, clock=clock, heartbeat=False)


def _holder(run_id: str) -> RunHolder:
    return RunHolder.this_process(run_id, "silver")


def test_a_held_key_is_refused_with_its_holder_and_free_keys_are_not(spark, tmp_path):
    clock = Clock()
    a, b = _table(spark, tmp_path, clock), _table(spark, tmp_path, clock)
    run_a = _holder("run-a")
    assert a.try_acquire(["silver.t", "monitoring.log"], run_a) == {}
    assert (tmp_path / "monitoring" / "run_leases" / "_delta_log").is_dir()

    assert b.try_acquire(["silver.t", "silver.u"], _holder("run-b")) == {"silver.t": run_a}
    # all or nothing: the refused run keeps no row
    assert sorted((lease.key, lease.holder.run_id) for lease in b.leases()) == [
        ("monitoring.log", "run-a"),
        ("silver.t", "run-a"),
    ]
    assert b.try_acquire(["gold.x"], _holder("run-b")) == {}  # shares nothing with run-a

    a.release()
    assert [lease.key for lease in b.leases()] == ["gold.x"]
    assert b.try_acquire(["silver.t"], _holder("run-b")) == {}


def test_an_expired_lease_is_taken_over_and_its_old_holder_learns_it(spark, tmp_path, caplog):
    clock = Clock()
    a, b = _table(spark, tmp_path, clock, ttl=60), _table(spark, tmp_path, clock, ttl=60)
    run_a, run_b = _holder("run-a"), _holder("run-b")
    assert a.try_acquire(["silver.t"], run_a) == {}

    clock.now += 59  # still alive: refused
    assert b.try_acquire(["silver.t"], run_b) == {"silver.t": run_a}

    clock.now += 2  # run-a stopped renewing 61 s ago: its lease has expired
    with caplog.at_level("WARNING"):
        assert b.try_acquire(["silver.t"], run_b) == {}
    assert "taking over silver.t from run run-a" in caplog.text
    (lease,) = b.leases()
    assert lease.holder == run_b and lease.expires_at == clock.now + 60

    # run-a wakes up: it cannot renew, says who took over, and its release leaves run-b's row
    assert a.renew() is False
    assert "lease expired" in (a.lost() or "")
    a.release()
    assert [(x.key, x.holder.run_id) for x in b.leases()] == [("silver.t", "run-b")]


def test_a_renewed_lease_outlives_its_first_expiry(spark, tmp_path):
    clock = Clock()
    a, b = _table(spark, tmp_path, clock, ttl=60), _table(spark, tmp_path, clock, ttl=60)
    run_a = _holder("run-a")
    assert a.try_acquire(["silver.t"], run_a) == {}
    clock.now += 50
    assert a.renew() is True and a.lost() is None
    clock.now += 50  # 100 s after taking it, 50 s after renewing it
    assert b.try_acquire(["silver.t"], _holder("run-b")) == {"silver.t": run_a}


def test_a_lease_taken_over_while_its_run_stalled_is_reported_lost(spark, tmp_path):
    clock = Clock()
    a, b = _table(spark, tmp_path, clock, ttl=60), _table(spark, tmp_path, clock, ttl=60)
    assert a.try_acquire(["silver.t"], _holder("run-a")) == {}
    clock.now += 61
    assert b.try_acquire(["silver.t"], _holder("run-b")) == {}
    clock.now -= 2  # run-a's clock says its lease is still valid, but run-b has the key
    assert a.renew() is False
    assert "run run-b" in (a.lost() or "") and "took over silver.t" in (a.lost() or "")


def test_two_runs_racing_for_one_key_exactly_one_wins(spark, tmp_path):
    clock = Clock()
    for round_ in range(3):
        tables = [_table(spark, tmp_path, clock) for _ in range(2)]
        holders = [_holder(f"run-{round_}-{i}") for i in range(2)]
        barrier = threading.Barrier(2)
        results: list[dict | BaseException] = [{}, {}]

        def race(i: int, tables=tables, holders=holders, barrier=barrier, results=results):
            barrier.wait()
            try:
                results[i] = tables[i].try_acquire(["silver.t"], holders[i])
            except BaseException as exc:  # noqa: BLE001 - reported below
                results[i] = exc

        threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(isinstance(r, BaseException) for r in results), results
        winners = [i for i in range(2) if results[i] == {}]
        assert len(winners) == 1, results
        loser = 1 - winners[0]
        assert results[loser] == {"silver.t": holders[winners[0]]}
        tables[winners[0]].release()


def test_a_live_run_renews_its_lease_in_the_background(spark, tmp_path):
    address = resolve_address(LEASE_TABLE, str(tmp_path), None)
    a = LeaseTable(address, lambda: spark, ttl_seconds=2.0, renew_seconds=0.5)
    run_a = _holder("run-a")
    assert a.try_acquire(["silver.t"], run_a) == {}
    try:
        time.sleep(3.0)  # longer than the lease lasts without renewal
        b = LeaseTable(address, lambda: spark, ttl_seconds=2.0, heartbeat=False)
        assert b.try_acquire(["silver.t"], _holder("run-b")) == {"silver.t": run_a}
        assert a.lost() is None
    finally:
        a.release()


def test_the_guard_uses_the_lease_when_told_and_names_the_holder(spark, tmp_path):
    catalog = DataCatalog.from_config(
        {
            "silver.t": {
                "type": "nyc_lakehouse.datasets.DeltaTableDataset",
                "table": "silver.t",
                "root": str(tmp_path),
            }
        }
    )

    class Pipeline:
        def all_outputs(self) -> set[str]:
            return {"silver.t"}

    def guard() -> RunGuard:
        settings = RunLockSettings(root=str(tmp_path), backend="lease", lease_ttl_seconds=60)
        return RunGuard(settings, spark=lambda: spark)

    first = guard()
    first.start("first-run", "silver", Pipeline(), catalog)
    try:
        assert isinstance(first.locks, LeaseTable)
        with pytest.raises(RunLockError, match=r"held by run first-run \(pipeline 'silver'"):
            guard().start("second-run", "silver", Pipeline(), catalog)
    finally:
        first.finish(succeeded=True)
    assert not (tmp_path / "_locks").exists()  # no lock files on a lease root
    second = guard()
    second.start("second-run", "silver", Pipeline(), catalog)
    second.finish(succeeded=True)


@pytest.mark.parametrize(
    ("message", "conflict"),
    [
        ("Failed to commit transaction: 0", True),  # Sail / delta-rs
        ("ConcurrentAppendException: Files were added to the root of the table", True),
        ("[DELTA_CONCURRENT_APPEND] ConcurrentAppendException", True),
        ("[TABLE_OR_VIEW_NOT_FOUND] The table or view cannot be found", False),
        ("PERMISSION_DENIED: User does not have MODIFY on Table", False),
    ],
)
def test_only_commit_races_are_retried(message, conflict):
    assert is_commit_conflict(RuntimeError(message)) is conflict
