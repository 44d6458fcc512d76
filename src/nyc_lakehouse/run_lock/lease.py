"""Run leases in a Delta table (``monitoring.run_leases``): the run lock where no local file lock
reaches (``uc://`` roots on Databricks, object store roots).

One row per locked key: the run that holds it and until when. A run takes its keys with one
``MERGE``: a key is taken when it has no row, when its row is the run's own, or when its row
has expired. Delta commits are conditional: of two ``MERGE`` statements racing on the table,
one commit fails (the engine's optimistic concurrency check: "Failed to commit transaction" on
Sail, ``ConcurrentAppendException`` on Databricks) and is retried against the new state. The run
then reads its keys back: a key whose row names another run is held, and the run gives back
what it took and is refused.

A run renews its rows every ``renew_seconds`` (a background thread). A run that died stops
renewing: its rows expire after ``ttl_seconds`` and the next run takes them over (with a
warning naming the dead run). A run that stalled past its expiry and was taken over learns it
at its next node and stops (:meth:`LeaseTable.lost`).

Everything goes through the engine's SQL (Sail locally, Databricks in production), so the same
statements are tested on Sail with a path root.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.run_lock.holder import RunHolder

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from nyc_lakehouse.delta.address import TableAddress

logger = logging.getLogger(__name__)

LEASE_TABLE = "monitoring.run_leases"
COLUMNS = (
    ("lock_key", "string"),
    ("run_id", "string"),
    ("pipeline", "string"),
    ("pid", "bigint"),
    ("host", "string"),
    ("started_at", "string"),
    ("renewed_at", "timestamp"),
    ("expires_at", "timestamp"),
)
# Messages of a commit that lost a race (Sail / delta-rs, Databricks and delta-spark), and of a
# table that a racing run created first: the statement is retried against the new state.
_CONFLICT = re.compile(
    r"Failed to commit transaction|Concurrent\w*Exception|DELTA_CONCURRENT|concurrent "
    r"(transaction|update|write)|MetadataChanged|ProtocolChanged|already exists|"
    r"TABLE_OR_VIEW_ALREADY_EXISTS|DELTA_TABLE_ALREADY_EXISTS",
    re.IGNORECASE,
)
_SAFE = re.compile(r"[^A-Za-z0-9 ._:@+/-]")


def is_commit_conflict(error: BaseException) -> bool:
    return bool(_CONFLICT.search(f"{type(error).__name__}: {error}"))


@dataclass(frozen=True)
class Lease:
    """One row of the lease table."""

    key: str
    holder: RunHolder
    expires_at: float
    """Seconds since the epoch."""

    def expired(self, now: float) -> bool:
        return self.expires_at <= now


def _literal(value: str) -> str:
    # Every text stored is a table name, a run id, a pipeline or a host name: characters outside
    # those are replaced rather than escaped, so no engine's quoting rules matter.
    return "'" + _SAFE.sub("_", value) + "'"


class LeaseTable:
    """The leases of one run on one lakehouse, through a Spark session."""

    poll_seconds = 2.0
    max_attempts = 20

    def __init__(  # noqa: PLR0913 - each is a setting of the lease
        self,
        address: TableAddress,
        spark: Callable[[], SparkSession],
        ttl_seconds: float = 600.0,
        renew_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        heartbeat: bool = True,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"lease ttl_seconds must be positive, got {ttl_seconds}")
        self.address = address
        self._spark = spark
        self.ttl_seconds = float(ttl_seconds)
        self.renew_seconds = float(renew_seconds or ttl_seconds / 3)
        if self.renew_seconds >= self.ttl_seconds:
            raise ValueError(
                f"lease renew_seconds ({self.renew_seconds:g}) must be shorter than "
                f"ttl_seconds ({self.ttl_seconds:g}), or a live run would lose its lease"
            )
        self._clock = clock
        self._heartbeat_enabled = heartbeat
        self._ensured = False
        self._holder: RunHolder | None = None
        self._keys: list[str] = []
        self._expires_at = 0.0
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def where(self) -> str:
        return f"lease table {self.address.location}"

    @property
    def held(self) -> list[str]:
        return list(self._keys)

    # ------------------------------------------------------------------ the run's side
    def try_acquire(self, keys: Iterable[str], holder: RunHolder) -> dict[str, RunHolder | None]:
        """Take every key, or none: the holders of the keys that are taken (empty: all held)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        self._ensure()
        now = self._clock()
        for lease in self.leases(wanted):
            if lease.holder.run_id != holder.run_id and lease.expired(now):
                logger.warning(
                    "Run lock: taking over %s from %s, whose lease expired %.0f s ago "
                    "(that run ended without releasing it)",
                    lease.key,
                    lease.holder.describe(),
                    now - lease.expires_at,
                )
        self._retrying(lambda: self._claim(wanted, holder, now))
        found = {lease.key: lease for lease in self.leases(wanted)}
        blockers = {
            key: (found[key].holder if key in found else None)
            for key in wanted
            if key not in found or found[key].holder.run_id != holder.run_id
        }
        if blockers:
            self._retrying(lambda: self._delete(holder.run_id, wanted))
            return blockers
        self._holder, self._keys, self._expires_at = holder, wanted, now + self.ttl_seconds
        self._lost = None
        atexit.register(self._release_at_exit)
        if self._heartbeat_enabled:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._heartbeat, name="run-lease-heartbeat", daemon=True
            )
            self._thread.start()
        return {}

    def renew(self) -> bool:
        """Extend this run's leases; False (and :meth:`lost` says why) once another run has them."""
        if self._holder is None or self._lost:
            return self._lost is None
        holder, now = self._holder, self._clock()
        if now >= self._expires_at:
            self._lost = f"its lease expired at {_text(self._expires_at)} before it was renewed"
        else:
            self._retrying(lambda: self._claim(self._keys, holder, now))
            found = {lease.key: lease for lease in self.leases(self._keys)}
            others = {
                key: found[key].holder
                for key in self._keys
                if key in found and found[key].holder.run_id != holder.run_id
            }
            if others:
                key, other = next(iter(others.items()))
                self._lost = f"{other.describe()} took over {key} after its lease expired"
            else:
                self._expires_at = now + self.ttl_seconds
        return self._lost is None

    def lost(self) -> str | None:
        """Why this run no longer holds its leases; ``None`` while it does."""
        return self._lost

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        holder, keys = self._holder, self._keys
        self._holder, self._keys = None, []
        with contextlib.suppress(Exception):
            atexit.unregister(self._release_at_exit)
        if holder is not None and keys:
            self._retrying(lambda: self._delete(holder.run_id, keys))

    def _release_at_exit(self) -> None:
        # A run interrupted outside Kedro's error hook (Ctrl-C) gives its leases back as the
        # interpreter exits, if the engine still answers; otherwise they expire.
        with contextlib.suppress(Exception):
            self.release()

    # ------------------------------------------------------------------ the table
    def leases(self, keys: Iterable[str] | None = None) -> list[Lease]:
        """The rows of the table (of ``keys`` only, when given)."""
        self._ensure()
        where = ""
        if keys is not None:
            wanted = sorted(set(keys))
            if not wanted:
                return []
            where = f" WHERE lock_key IN ({', '.join(_literal(k) for k in wanted)})"
        rows = self._sql(
            "SELECT lock_key, run_id, pipeline, pid, host, started_at, "
            f"unix_micros(expires_at) AS expires_us FROM {self._identifier}{where}"
        ).collect()
        return [
            Lease(
                key=row["lock_key"],
                holder=RunHolder(
                    run_id=row["run_id"],
                    pipeline=row["pipeline"],
                    pid=int(row["pid"]),
                    host=row["host"],
                    started_at=row["started_at"],
                ),
                expires_at=int(row["expires_us"]) / 1e6,
            )
            for row in rows
        ]

    @property
    def _identifier(self) -> str:
        return self.address.sql_identifier()

    def _sql(self, statement: str) -> Any:
        return self._spark().sql(statement)

    def _ensure(self) -> None:
        if self._ensured:
            return
        try:
            self._sql(f"SELECT 1 FROM {self._identifier} LIMIT 0").collect()
        except Exception:  # noqa: BLE001 - any failure to read it: create it (below)
            self._retrying(self._create)
        self._ensured = True

    def _create(self) -> None:
        try:
            self._sql(f"SELECT 1 FROM {self._identifier} LIMIT 0").collect()
            return  # a racing run created it
        except Exception:  # noqa: BLE001 - not there yet
            pass
        from pyspark.sql import types as T

        types = {"string": T.StringType(), "bigint": T.LongType(), "timestamp": T.TimestampType()}
        schema = T.StructType([T.StructField(name, types[kind]) for name, kind in COLUMNS])
        writer = self._spark().createDataFrame([], schema).write.format("delta").mode("append")
        if self.address.catalog_name is not None:
            writer.saveAsTable(self.address.catalog_name)
        else:
            writer.save(self.address.path)
        logger.info("Run lock: created the lease table %s", self.address.location)

    def _claim(self, keys: list[str], holder: RunHolder, now: float) -> None:
        now_us, expires_us = int(now * 1e6), int((now + self.ttl_seconds) * 1e6)
        rows = " UNION ALL ".join(
            f"SELECT {_literal(key)} AS lock_key, {_literal(holder.run_id)} AS run_id, "
            f"{_literal(holder.pipeline)} AS pipeline, CAST({int(holder.pid)} AS BIGINT) AS pid, "
            f"{_literal(holder.host)} AS host, {_literal(holder.started_at)} AS started_at, "
            f"timestamp_micros({now_us}) AS renewed_at, "
            f"timestamp_micros({expires_us}) AS expires_at"
            for key in keys
        )
        self._sql(
            f"MERGE INTO {self._identifier} AS t USING ({rows}) AS s "
            "ON t.lock_key = s.lock_key "
            "WHEN MATCHED AND (t.run_id = s.run_id OR t.expires_at <= s.renewed_at) "
            "THEN UPDATE SET * "
            "WHEN NOT MATCHED THEN INSERT *"
        ).collect()

    def _delete(self, run_id: str, keys: list[str]) -> None:
        self._sql(
            f"DELETE FROM {self._identifier} WHERE run_id = {_literal(run_id)} "
            f"AND lock_key IN ({', '.join(_literal(k) for k in keys)})"
        ).collect()

    def _retrying(self, action: Callable[[], Any]) -> Any:
        for attempt in range(1, self.max_attempts + 1):
            try:
                return action()
            except Exception as exc:
                if attempt == self.max_attempts or not is_commit_conflict(exc):
                    raise
                time.sleep(random.uniform(0.05, 0.25) * attempt)  # noqa: S311 - jitter only
        return None

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.renew_seconds):
            try:
                if not self.renew():
                    logger.error("Run lock: this run lost its lease: %s", self._lost)
                    return
            except Exception:
                logger.warning("Run lock: could not renew the lease; retrying", exc_info=True)


def _text(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
