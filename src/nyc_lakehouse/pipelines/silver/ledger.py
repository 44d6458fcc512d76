"""Silver's ledger: which bronze rows silver has consumed, at the grain bronze ingests them.

Bronze appends landing files one by one, each in one atomic commit, and never changes a row
(``docs/operations.md``): a file is there whole or not at all, and ``(_batch_id, _source_file)``
names its rows. ``monitoring.silver_batch_log`` holds one row per bronze file per silver run
that consumed it, with its row count. A run processes the files of bronze that the ledger
does not list: a batch's new batch, and equally a file that bronze appended to an old batch
later (a landing file repaired after its batch was processed).

The ledger is written last, after silver, the quarantines and the data-quality results: it is
the run's commit point. A run that ends before it (a crash, a failed merge) leaves its files
unlisted, so the next run takes them again. The merges are keyed, so merging them again is
harmless; the quarantines and ``monitoring.dq_results`` are append-only, so the next run
deletes the rows of such an *interrupted run* (rows whose ``run_id`` the ledger does not know)
before it appends its own (:func:`interrupted_runs`, ``RunAppendDeltaTableDataset``): every
bronze row is checked, counted and quarantined once.

Lakehouses whose log predates files (one row per batch, no ``source_file``): see
:func:`legacy_consumed`, and ``docs/operations.md`` for the rules chosen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame

logger = logging.getLogger(__name__)

LEDGER_SCHEMA = (
    "dataset string, batch_id string, run_id string, full_refresh boolean, "
    "processed_at timestamp, source_file string, rows bigint, note string"
)
"""The batch-level log's five columns first, so an existing log gains the others as it is
appended to (schema evolution) and a new one has the same column order."""

# Joins a batch id and a file name into one key that a single IN list can test: NUL cannot
# occur in either.
_KEY_SEPARATOR = "\u0000"

FileKey = tuple[str, str]


@dataclass(frozen=True)
class BronzeFile:
    """One landing file as bronze holds it: its batch, its name, its partition and row count."""

    batch_id: str
    source_file: str
    ingest_date: str | None
    rows: int

    @property
    def key(self) -> FileKey:
        return self.batch_id, self.source_file


@dataclass(frozen=True)
class LegacyRun:
    """A run that recorded a batch in the batch-level log (before the ledger listed files)."""

    run_id: str
    processed_at: datetime
    full_refresh: bool


@dataclass(frozen=True)
class Ledger:
    """What the ledger says about one dataset."""

    consumed: frozenset[FileKey] = frozenset()
    legacy: Mapping[str, tuple[LegacyRun, ...]] = field(default_factory=dict)
    """Batches recorded only by the batch-level log -> the runs that recorded them, oldest first."""
    lists_files: bool = False
    """The ledger lists files of this dataset: any batch-level entry has been migrated."""

    @property
    def needs_migration(self) -> bool:
        return bool(self.legacy) and not self.lists_files


@dataclass(frozen=True)
class Selection:
    """The bronze files a run consumes, and those it records as consumed by earlier runs."""

    dataset: str
    files: tuple[BronzeFile, ...]
    migrated: tuple[tuple[BronzeFile, LegacyRun, str], ...] = ()
    """Files consumed under the batch-level log: (file, the run that consumed it, why we know)."""

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


# ------------------------------------------------------------------------------ reading
def read_ledger(ledger: DataFrame | None, dataset: str) -> Ledger:
    """The files of ``dataset`` the ledger lists, and its batch-level (older) entries."""
    from pyspark.sql import functions as F

    if ledger is None:
        return Ledger()
    has_files = "source_file" in ledger.columns
    source_file = F.col("source_file") if has_files else F.lit(None).cast("string")
    rows = (
        ledger.filter(F.col("dataset") == F.lit(dataset))
        .select(
            "batch_id",
            source_file.alias("source_file"),
            "run_id",
            "processed_at",
            F.coalesce(F.col("full_refresh"), F.lit(False)).alias("full_refresh"),
        )
        .distinct()
        .collect()
    )
    consumed = {(r["batch_id"], r["source_file"]) for r in rows if r["source_file"] is not None}
    legacy: dict[str, set[LegacyRun]] = {}
    for r in rows:
        if r["source_file"] is None and r["batch_id"] is not None:
            run = LegacyRun(str(r["run_id"]), r["processed_at"], bool(r["full_refresh"]))
            legacy.setdefault(r["batch_id"], set()).add(run)
    return Ledger(
        consumed=frozenset(consumed),
        legacy={
            batch: tuple(sorted(runs, key=lambda run: (run.processed_at, run.run_id)))
            for batch, runs in legacy.items()
        },
        lists_files=bool(consumed),
    )


def list_bronze_files(bronze: DataFrame) -> list[BronzeFile]:
    """Every file bronze holds (rows without a batch id are not a file and are ignored)."""
    from pyspark.sql import functions as F

    date = F.col("_ingest_date") if "_ingest_date" in bronze.columns else F.lit(None)
    rows = (
        bronze.select(
            "_batch_id",
            _source_file_column(bronze).alias("_source_file"),
            date.cast("string").alias("_ingest_date"),
        )
        .filter(F.col("_batch_id").isNotNull())
        .groupBy("_batch_id", "_source_file", "_ingest_date")
        .count()
        .collect()
    )
    # A file lies in one partition; a bronze without _ingest_date gives None, no pruning.
    files: dict[FileKey, BronzeFile] = {}
    for r in rows:
        key = (r["_batch_id"], r["_source_file"])
        earlier = files.get(key)
        rows_so_far = earlier.rows if earlier else 0
        date_value = r["_ingest_date"] if earlier is None else None
        files[key] = BronzeFile(key[0], key[1], date_value, rows_so_far + int(r["count"]))
    return sorted(files.values(), key=lambda f: f.key)


def _source_file_column(bronze: DataFrame) -> Column:
    from pyspark.sql import functions as F

    if "_source_file" not in bronze.columns:
        return F.lit("")
    return F.coalesce(F.col("_source_file").cast("string"), F.lit(""))


# ------------------------------------------------------------------------------ selecting
def select_files(
    dataset: str,
    files: Sequence[BronzeFile],
    ledger: Ledger,
    full_refresh: bool,
    legacy: Mapping[FileKey, tuple[LegacyRun, str]] | None = None,
) -> Selection:
    """The files of ``files`` this run consumes: those the ledger does not list (all of them on
    a full refresh). ``legacy``: files the batch-level log consumed (:func:`legacy_consumed`),
    recorded by this run as consumed then."""
    if full_refresh:
        return Selection(dataset, tuple(files))
    legacy = legacy or {}
    pending = tuple(f for f in files if f.key not in ledger.consumed and f.key not in legacy)
    migrated = tuple(
        (f, *legacy[f.key]) for f in files if f.key in legacy and f.key not in ledger.consumed
    )
    return Selection(dataset, pending, migrated)


def file_filter(selection: Selection) -> Column:
    """Exactly the rows of the selected files, with literal predicates that prune bronze.

    The rows are selected by file, not by batch, also when every file of a batch is new: a
    bronze run appending to the same batch while this one reads must not add unlisted rows.
    """
    from pyspark.sql import functions as F

    if not selection.files:
        return F.lit(False)
    keys = sorted({_KEY_SEPARATOR.join(f.key) for f in selection.files})
    batches = sorted({f.batch_id for f in selection.files})
    key = F.concat_ws(
        _KEY_SEPARATOR,
        F.coalesce(F.col("_batch_id").cast("string"), F.lit("")),
        F.coalesce(F.col("_source_file").cast("string"), F.lit("")),
    )
    condition = F.col("_batch_id").isin(batches) & key.isin(keys)
    dates = {f.ingest_date for f in selection.files}
    if None not in dates:
        # A literal predicate on the partition column lets the reader skip other partitions.
        condition = F.col("_ingest_date").isin(sorted(dates)) & condition
    return condition


def describe(selection: Selection, total: int, ledger: Ledger, full_refresh: bool) -> str:
    """The log line of a selection: what is processed, what is new in an old batch."""
    batches = {f.batch_id for f in selection.files}
    done = {batch for batch, _ in ledger.consumed} | set(ledger.legacy)
    late = [f for f in selection.files if f.batch_id in done]
    already = total - len(selection.files)
    text = (
        f"Silver {selection.dataset}: {len(selection.files)} bronze file(s) to process "
        f"({len(batches)} batch(es), {selection.rows:,} rows) of {total} "
        f"({'full refresh' if full_refresh else f'{already} already processed'})"
    )
    if late and not full_refresh:
        names = ", ".join(f"{f.source_file} (batch {f.batch_id})" for f in late[:5])
        more = f" and {len(late) - 5} more" if len(late) > 5 else ""
        text += f"; {len(late)} of them added to a batch processed earlier: {names}{more}"
    if selection.migrated:
        text += (
            f"; {len(selection.migrated)} file(s) consumed under the batch-level log recorded "
            "in the ledger"
        )
    return text


# ------------------------------------------------------------------------------ migration
def legacy_consumed(
    dataset: str,
    files: Sequence[BronzeFile],
    ledger: Ledger,
    bronze_log: DataFrame | None,
    written: Iterable[tuple[DataFrame | None, str]],
) -> dict[FileKey, tuple[LegacyRun, str]]:
    """The files of batches in the batch-level log that the run recording the batch consumed.

    That log says a run processed a batch, not which of its files: a file bronze appended to the
    batch later was not processed, and is still waiting. A file counts as consumed when:

    * bronze's batch log recorded it as ingested no later than a run that recorded its batch
      started (the run read bronze after that: it had the file); or
    * its rows are in silver or in the quarantine, written by a run of that log (stamped no
      later than its last run), in ``written``: (table, the column with the run's start time).

    Any other file of those batches is processed now, as a new file: a file repaired after its
    batch was processed, whose rows the old log lost, and a file every row of which a later
    version replaced in silver (merging it again changes nothing).
    """
    from pyspark.sql import functions as F

    candidates = {f.key for f in files if f.batch_id in ledger.legacy}
    if not candidates:
        return {}
    found: dict[FileKey, tuple[LegacyRun, str]] = {}

    def consumer(batch: str, at: datetime | None) -> LegacyRun | None:
        """The first run recording ``batch`` that started at or after ``at``."""
        if at is None:
            return None
        return next((run for run in ledger.legacy[batch] if run.processed_at >= at), None)

    if bronze_log is not None and {"source_file", "logged_at", "status"} <= set(bronze_log.columns):
        logged = (
            bronze_log.filter(
                (F.col("dataset") == F.lit(dataset)) & (F.col("status") == F.lit("ingested"))
            )
            .groupBy("batch_id", "source_file")
            .agg(F.min("logged_at").alias("first_logged"))
            .collect()
        )
        for r in logged:
            key = (r["batch_id"], r["source_file"])
            run = consumer(key[0], r["first_logged"]) if key in candidates else None
            if run is not None:
                found[key] = (run, "bronze had it when the run started")
    cutoff = max(run.processed_at for runs in ledger.legacy.values() for run in runs)
    for table, stamp in written:
        if table is None or stamp not in table.columns or "_batch_id" not in table.columns:
            continue
        rows = (
            table.select("_batch_id", _source_file_column(table).alias("_source_file"), stamp)
            .groupBy("_batch_id", "_source_file")
            .agg(F.min(stamp).alias("first_written"))
            .collect()
        )
        for r in rows:
            key = (r["_batch_id"], r["_source_file"])
            first = r["first_written"]
            if key in found or key not in candidates or first is None or first > cutoff:
                continue
            run = consumer(key[0], first)
            if run is not None:
                found[key] = (run, "its rows are in silver or the quarantine")
    waiting = sorted(candidates - set(found))
    if waiting:
        logger.warning(
            "Silver %s: %d file(s) of batches the batch-level log lists as processed have no "
            "trace of it (no row in silver or the quarantine, not in bronze when the batch was "
            "processed): processing them now. %s",
            dataset,
            len(waiting),
            ", ".join(f"{file} (batch {batch})" for batch, file in waiting[:5]),
        )
    return found


# ------------------------------------------------------------------------------ recording
def ledger_rows(
    selection: Selection, run: Mapping[str, Any], full_refresh: bool
) -> list[tuple[Any, ...]]:
    """The ledger rows of a selection, in :data:`LEDGER_SCHEMA` order."""
    rows = [
        (
            selection.dataset,
            f.batch_id,
            str(run["run_id"]),
            bool(full_refresh),
            run["started_at"],
            f.source_file,
            f.rows,
            None,
        )
        for f in selection.files
    ]
    rows += [
        (
            selection.dataset,
            f.batch_id,
            legacy.run_id,
            legacy.full_refresh,
            legacy.processed_at,
            f.source_file,
            f.rows,
            f"migrated from the batch-level log: {why}",
        )
        for f, legacy, why in selection.migrated
    ]
    return rows


# ------------------------------------------------------------------------------ interrupted runs
def interrupted_runs(
    ledger: DataFrame | None,
    appended: Iterable[DataFrame | None],
    dq_results: DataFrame | None,
) -> list[str]:
    """Runs that appended quarantine or data-quality rows but never wrote the ledger.

    Their files are not in the ledger, so this run checks them again: their rows must go
    before this run's are appended. A run that checked no row (``total_count`` 0: nothing
    new) wrote nothing to replace, and the batch-level log did not record such runs.
    """
    from pyspark.sql import functions as F

    def run_ids(table: DataFrame | None) -> set[str]:
        if table is None or "run_id" not in table.columns:
            return set()
        return {r["run_id"] for r in table.select("run_id").distinct().collect()} - {None}

    committed = run_ids(ledger)
    written: set[str] = set()
    for table in appended:
        written |= run_ids(table)
    if dq_results is not None and "total_count" in dq_results.columns:
        written |= run_ids(dq_results.filter(F.col("total_count") > 0))
    interrupted = sorted(written - committed)
    if interrupted:
        logger.warning(
            "Silver: run(s) %s ended before writing the ledger; this run checks their files "
            "again and replaces their quarantine and data-quality rows",
            ", ".join(interrupted),
        )
    return interrupted
