"""One run's lock, from the tables its pipeline writes to their release (Kedro hooks call it).

A run locks every table its pipeline writes, found in the pipeline's outputs and the catalog:
a Delta dataset by its table name, a per-run scratch table by its family's name (the lock on
``silver.nyc311_increment`` guards every ``silver.nyc311_increment__run_<id>``), any other
persisted dataset by its catalog name. Runs that write no table in common run side by side;
a run that needs a table another run holds stops before its first node (or waits up to
``wait_seconds``) with a message naming that run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nyc_lakehouse.delta import TableAddress, resolve_address
from nyc_lakehouse.run_lock import scratch
from nyc_lakehouse.run_lock.file_lock import LOCKS_FOLDER, FileLocks
from nyc_lakehouse.run_lock.holder import RunHolder, RunLockError, held_message
from nyc_lakehouse.run_lock.lease import LEASE_TABLE, LeaseTable

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "file", "lease")
_MEMORY_TYPES = ("MemoryDataset", "SharedMemoryDataset")


class Locks(Protocol):
    poll_seconds: float

    @property
    def where(self) -> str: ...

    def try_acquire(
        self, keys: Iterable[str], holder: RunHolder
    ) -> dict[str, RunHolder | None]: ...

    def lost(self) -> str | None: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class RunLockSettings:
    """``conf/<env>/run_lock.yml``, checked."""

    enabled: bool = True
    wait_seconds: float = 0.0
    backend: str = "auto"
    root: str = "data"
    lease_table: str = LEASE_TABLE
    lease_ttl_seconds: float = 600.0
    lease_renew_seconds: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> RunLockSettings:
        config = dict(config or {})
        lease = dict(config.pop("lease", None) or {})
        known = {"enabled", "wait_seconds", "backend", "root"}
        unknown = sorted(set(config) - known) + sorted(
            f"lease.{k}" for k in set(lease) - {"table", "ttl_seconds", "renew_seconds"}
        )
        if unknown:
            raise ValueError(f"run_lock: unknown settings {unknown}")
        backend = str(config.get("backend", "auto") or "auto")
        if backend not in BACKENDS:
            raise ValueError(f"run_lock.backend={backend!r}; expected one of {BACKENDS}")
        try:
            wait = float(config.get("wait_seconds") or 0)
            ttl = float(lease.get("ttl_seconds", 600))
            renew = lease.get("renew_seconds")
            renew = None if renew is None else float(renew)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"run_lock: seconds must be numbers ({exc})") from exc
        if wait < 0:
            raise ValueError(f"run_lock.wait_seconds must be 0 or more, got {wait:g}")
        return cls(
            enabled=bool(config.get("enabled", True)),
            wait_seconds=wait,
            backend=backend,
            root=str(config.get("root") or "data"),
            lease_table=str(lease.get("table") or LEASE_TABLE),
            lease_ttl_seconds=ttl,
            lease_renew_seconds=renew,
        )

    @property
    def uses_lease(self) -> bool:
        if self.backend != "auto":
            return self.backend == "lease"
        root = self.root.removeprefix("file://")
        return "://" in root  # uc:// and object stores: no shared local file system

    def locks(self, spark: Callable[[], SparkSession]) -> Locks:
        if self.uses_lease:
            address = resolve_address(self.lease_table, self.root, None)
            return LeaseTable(address, spark, self.lease_ttl_seconds, self.lease_renew_seconds)
        root = Path(self.root.removeprefix("file://")).expanduser().resolve()
        return FileLocks(str(root / LOCKS_FOLDER))


def written_tables(pipeline: Any, catalog: Any) -> dict[str, list[str]]:
    """The lock keys of the tables a pipeline writes, each with the datasets that write it."""
    keys: dict[str, list[str]] = {}
    for name in sorted(pipeline.all_outputs()):
        key = _key(name, catalog)
        if key is not None:
            keys.setdefault(key, []).append(name)
    return keys


def _key(name: str, catalog: Any) -> str | None:
    if name.startswith("params:") or name == "parameters":
        return None
    try:
        dataset = catalog.get(name)
    except Exception:  # noqa: BLE001 - a name the catalog cannot build is not a table
        return None
    if dataset is None or type(dataset).__name__ in _MEMORY_TYPES:
        return None
    address = getattr(dataset, "address", None)
    if isinstance(address, TableAddress):
        return scratch.base_name(address.name) or address.name
    return name.split("@", 1)[0]  # transcoded entries share one dataset


def scratch_datasets(pipeline: Any, catalog: Any) -> list[TableAddress]:
    """The per-run scratch tables a pipeline writes (this run's names)."""
    found = []
    for name in sorted(pipeline.all_outputs()):
        try:
            address = getattr(catalog.get(name), "address", None)
        except Exception:  # noqa: BLE001 - see _key
            continue
        if isinstance(address, TableAddress) and scratch.base_name(address.name):
            found.append(address)
    return found


class RunGuard:
    """The lock of one Kedro run: taken before its first node, released after its last."""

    def __init__(
        self,
        settings: RunLockSettings,
        spark: Callable[[], SparkSession] | None = None,
        spark_running: Callable[[], bool] | None = None,
        stop_spark: Callable[[], None] | None = None,
    ) -> None:
        from nyc_lakehouse import spark as engine

        self.settings = settings
        self._spark = spark or engine.get_spark
        self._spark_running = spark_running or engine.is_running
        self._stop_spark = stop_spark or engine.stop_spark
        self.token = scratch.new_token()
        self.locks: Locks | None = None
        self.holder: RunHolder | None = None
        self._scratch: list[TableAddress] = []
        self._started_spark = False

    def start(self, run_id: str, pipeline_name: str, pipeline: Any, catalog: Any) -> None:
        """Lock the tables the run writes (or raise :class:`RunLockError`), then drop the
        scratch tables earlier runs left."""
        self._scratch = scratch_datasets(pipeline, catalog)
        if not self.settings.enabled:
            return
        keys = written_tables(pipeline, catalog)
        if not keys:
            return
        was_running = self._spark_running()
        self.holder = RunHolder.this_process(run_id, pipeline_name)
        locks = self.settings.locks(self._spark)
        self._acquire(locks, sorted(keys), pipeline_name)
        self.locks = locks
        self._started_spark = not was_running and self._spark_running()
        logger.info(
            "Run lock: %s holds %d table(s) (%s)", self.holder.run_id, len(keys), locks.where
        )
        bases = sorted({scratch.base_name(address.name) or "" for address in self._scratch})
        if bases:
            scratch.drop_leftovers(bases, self.settings.root, self.token, self._spark)

    def _acquire(self, locks: Locks, keys: list[str], pipeline_name: str) -> None:
        assert self.holder is not None
        started = time.monotonic()
        deadline = started + self.settings.wait_seconds
        announced = False
        while True:
            blockers = locks.try_acquire(keys, self.holder)
            if not blockers:
                return
            now = time.monotonic()
            if now >= deadline:
                waited = round(now - started) if self.settings.wait_seconds else 0
                raise RunLockError(
                    held_message(pipeline_name, blockers, waited, locks.where), blockers
                )
            if not announced:
                holders = {h.describe() if h else "an unnamed run" for h in blockers.values()}
                logger.warning(
                    "Run lock: waiting up to %g s for %s (holding %s)",
                    self.settings.wait_seconds,
                    "; ".join(sorted(holders)),
                    ", ".join(sorted(blockers)),
                )
                announced = True
            time.sleep(min(locks.poll_seconds, max(deadline - now, 0.01)))

    def check(self) -> None:
        """Raise when the run lost its lock (a lease taken over after it expired)."""
        if self.locks is None:
            return
        reason = self.locks.lost()
        if reason:
            raise RunLockError(
                f"Run lock: run {self.holder.run_id if self.holder else '?'} no longer holds "
                f"its tables: {reason}. It stops here so that two runs never write them at once."
            )

    def finish(self, succeeded: bool) -> None:
        """Drop this run's scratch tables (a failed run keeps them for inspection), release."""
        try:
            if succeeded:
                for address in self._scratch:
                    scratch.drop(address, self._spark)
        finally:
            locks, self.locks = self.locks, None
            if locks is not None:
                locks.release()
            if self._started_spark:
                self._stop_spark()
                self._started_spark = False


def pipeline_label(run_params: Mapping[str, Any]) -> str:
    names = run_params.get("pipeline_names") or run_params.get("pipeline_name")
    if isinstance(names, str):
        return names
    return ",".join(names) if names else "__default__"
