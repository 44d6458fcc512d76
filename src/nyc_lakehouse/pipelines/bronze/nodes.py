"""Nodes of the ``bronze`` pipeline: committed landing batches -> append-only Delta tables.

Grain: ``bronze.nyc311_service_requests`` and ``bronze.nyc911_e2e_weekly`` hold one row per
landed source record, exactly as received (every column a string), plus the audit columns
``_ingested_at``, ``_source_file``, ``_batch_id`` and ``_ingest_date`` (the landing batch's
ingest date, the partition column).

Idempotency: the bronze table itself is the record of what is ingested. A landing file is done
when rows with its ``(_batch_id, file name)`` are in the table; the Delta append is atomic, so a
file is either wholly in bronze or not at all. ``monitoring.bronze_batch_log`` is written after
the append and is an audit trail, not the source of truth: if a run dies between the two
writes, the next run ingests nothing twice and logs the missing entries as recovered.

Bad files: an empty or unreadable landing file is logged (warning, by name), recorded in
``monitoring.bronze_batch_log`` with status ``empty`` / ``unreadable`` and skipped; it is not in
bronze, so every later run tries it again until it reads.
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import reduce
from typing import Any

import pyarrow.parquet as pq

# A real import (not TYPE_CHECKING): Kedro 1.7 resolves node type hints when it validates
# parameters, and warns for every node whose hints name an unimported type.
from pyspark.sql import DataFrame

from nyc_lakehouse import spark as engine
from nyc_lakehouse.delta.address import quote_identifier
from nyc_lakehouse.delta.linked_files import LandingFilesAppend, LandingFileToLink
from nyc_lakehouse.landing import LandingZone, file_checksum
from nyc_lakehouse.sources.schemas import FIELDS_BY_DATASET

logger = logging.getLogger(__name__)

AUDIT_COLUMNS = ("_ingested_at", "_source_file", "_batch_id", "_ingest_date")
SYSTEM_COLUMNS = ("_socrata_id", "_socrata_updated_at")
LOG_COLUMNS = ("dataset", "batch_id", "source_file", "rows", "status", "error", "logged_at")
LOG_SCHEMA = (
    "dataset string, batch_id string, source_file string, rows bigint, status string, "
    "error string, logged_at timestamp"
)
NEW, INGESTED, EMPTY, UNREADABLE = "new", "ingested", "empty", "unreadable"
RECOVERED_NOTE = "recovered: ingested by an earlier run whose batch-log write did not complete"


@dataclass(frozen=True)
class LandingFile:
    """One landing part file and what bronze knows about it."""

    dataset: str
    batch_id: str
    ingest_date: str
    source_file: str
    status: str  # new | ingested (recovered) | empty | unreadable
    rows: int = 0
    error: str | None = None


def file_key(batch_id: str, source_file: str) -> tuple[str, str]:
    """Identity of a landing file, independent of where the landing zone is mounted."""
    return batch_id, posixpath.basename(source_file)


# ------------------------------------------------------------------------------ plan
def plan_bronze_load(
    zone: LandingZone,
    ingestion_summary: Mapping[str, Any] | None,
    bronze_table: DataFrame | None,
    batch_log: DataFrame | None,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Decide which landing files this run appends to bronze.

    Args:
        zone: The landing zone (``landing.zone``).
        ingestion_summary: The ingestion run's summary (``ingestion.<dataset>_done``), only
            used for logging and to run after ingestion; ``{}`` when bronze runs alone.
        bronze_table: The bronze table as it is now (``None`` before the first run).
        batch_log: ``monitoring.bronze_batch_log`` as it is now (``None`` before the first run).
        params: ``bronze.<dataset>``: ``dataset`` (landing dataset name) and ``verify``
            (``checksum``, ``full`` or ``footer``: see :func:`inspect_landing_file`).

    Returns:
        A JSON-able plan: the files to read (``new``), the bad ones (``empty``/``unreadable``),
        and files already in bronze that the log misses (``ingested``, recovered).
    """
    dataset = str(params["dataset"])
    verify = str(params.get("verify", "checksum"))
    ingested = ingested_files(bronze_table)
    logged = logged_files(batch_log, dataset)
    batches = zone.batches(dataset)
    files: list[LandingFile] = []
    total = sum(len(b.files) for b in batches)
    progress = _Progress(f"Bronze {dataset}: checked %d of {total} landing file(s)")
    for batch in batches:
        for url in batch.files:
            progress.step()
            key = file_key(batch.batch_id, url)
            if key in ingested:
                if key not in logged:
                    files.append(
                        LandingFile(
                            dataset,
                            batch.batch_id,
                            batch.ingest_date,
                            url,
                            INGESTED,
                            ingested[key],
                            RECOVERED_NOTE,
                        )
                    )
                continue
            checksum = batch.manifest.get("checksums", {}).get(posixpath.basename(url))
            status, rows, error = inspect_landing_file(zone, url, verify, checksum)
            files.append(
                LandingFile(dataset, batch.batch_id, batch.ingest_date, url, status, rows, error)
            )
    for bad in (f for f in files if f.status in (EMPTY, UNREADABLE)):
        logger.warning(
            "Bronze %s: skipping %s landing file %s (batch %s): %s. It stays pending and is "
            "retried on the next run.",
            dataset,
            bad.status,
            bad.source_file,
            bad.batch_id,
            bad.error,
        )
    new = [f for f in files if f.status == NEW]
    logger.info(
        "Bronze %s: %d committed batch(es); %d new file(s) (%s rows) to ingest, %d already in "
        "bronze, %d skipped as bad%s",
        dataset,
        len(batches),
        len(new),
        f"{sum(f.rows for f in new):,}",
        len(ingested),
        sum(f.status in (EMPTY, UNREADABLE) for f in files),
        _summary_note(ingestion_summary),
    )
    return {
        "dataset": dataset,
        "planned_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "files": [asdict(f) for f in files],
    }


class _Progress:
    """Logs a progress line at most every ``every_seconds`` (verifying a long history takes time)."""

    def __init__(self, message: str, every_seconds: float = 30.0) -> None:
        self.message, self.every, self.done = message, every_seconds, 0
        self.last = time.monotonic()

    def step(self) -> None:
        self.done += 1
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            logger.info(self.message, self.done)


def _summary_note(summary: Mapping[str, Any] | None) -> str:
    if not summary:
        return " (no ingestion run summary: bronze ran on its own)"
    landed = summary.get("batches_landed_count", len(summary.get("batches_landed", [])))
    return f" (after ingestion from {summary.get('source', '?')}: {landed} batch(es) landed)"


def ingested_files(bronze_table: DataFrame | None) -> dict[tuple[str, str], int]:
    """Rows per landing file already in bronze, keyed by :func:`file_key`."""
    if bronze_table is None:
        return {}
    rows = bronze_table.groupBy("_batch_id", "_source_file").count().collect()
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        key = file_key(row["_batch_id"], row["_source_file"])
        counts[key] = counts.get(key, 0) + int(row["count"])
    return counts


def logged_files(batch_log: DataFrame | None, dataset: str) -> set[tuple[str, str]]:
    """Files the batch log already records as ingested for ``dataset``."""
    if batch_log is None:
        return set()
    rows = (
        batch_log.filter((batch_log["dataset"] == dataset) & (batch_log["status"] == INGESTED))
        .select("batch_id", "source_file")
        .distinct()
        .collect()
    )
    return {file_key(r["batch_id"], r["source_file"]) for r in rows}


VERIFY_MODES = ("checksum", "full", "footer")


def inspect_landing_file(
    zone: LandingZone, url: str, verify: str = "checksum", checksum: str | None = None
) -> tuple[str, int, str | None]:
    """Classify a landing file: (``new``, rows, None) or (``empty``/``unreadable``, 0, reason).

    ``verify="full"`` decodes every page with pyarrow (a corrupt page would otherwise fail the
    whole Spark append and block every other file); ``"footer"`` only reads the footer;
    ``"checksum"`` hashes the file and compares it with ``checksum`` (recorded in the batch
    manifest when ingestion wrote the file): the same bytes need only their footer read, other
    bytes make the file unreadable (it changed since it was landed: corruption decodes without
    error more often than not). A file without a recorded checksum is decoded as ``full`` does.
    """
    if verify not in VERIFY_MODES:
        raise ValueError(f"bronze verify must be one of {VERIFY_MODES}, got {verify!r}")
    try:
        size = zone.fs.size(url)
    except FileNotFoundError:
        return UNREADABLE, 0, "file listed in the batch manifest does not exist"
    except OSError as exc:
        return UNREADABLE, 0, f"{type(exc).__name__}: {exc}"
    if not size:
        return EMPTY, 0, "0 bytes"
    decode = verify == "full" or (verify == "checksum" and checksum is None)
    if verify == "checksum" and checksum is not None:
        try:
            actual = file_checksum(zone.fs, url)
        except OSError as exc:
            return UNREADABLE, 0, f"{type(exc).__name__}: {exc}"
        if actual != checksum:
            return (
                UNREADABLE,
                0,
                (
                    f"checksum mismatch: the file changed since it was landed (manifest {checksum}, "
                    f"file {actual}). Re-land the batch; after a deliberate repair in place, run "
                    "bronze once with verify=full"
                ),
            )
    try:
        with zone.fs.open(url, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            rows = parquet.metadata.num_rows
            if decode:
                decoded = sum(batch.num_rows for batch in parquet.iter_batches(batch_size=65_536))
                if decoded != rows:
                    return UNREADABLE, 0, f"footer says {rows} rows, pages decode to {decoded}"
    except Exception as exc:  # noqa: BLE001 - any decoding failure makes the file unreadable
        return UNREADABLE, 0, f"{type(exc).__name__}: {exc}"[:1000]
    if rows == 0:
        return EMPTY, 0, "no rows"
    return NEW, int(rows), None


# ------------------------------------------------------------------------------ load
def read_landing_files(
    plan: Mapping[str, Any], bronze_table: DataFrame | None
) -> LandingFilesAppend | DataFrame:
    """The plan's new files: landing columns as received + audit columns.

    Returned as a :class:`LandingFilesAppend`: the files with their audit values, which the
    bronze dataset commits as they are on the local engine (``save_args.link_files``), and the
    same rows as one DataFrame for any other engine. There, each file is read on its own and
    tagged with its path (Spark Connect has no ``input_file_name``). Columns keep the existing
    table's order; columns the table doesn't have yet come last (Delta adds them by schema
    evolution); columns a file lacks are null. Nothing new: an empty DataFrame.
    """
    from pyspark.sql import functions as F

    spark = engine.get_spark()
    ingested_at = datetime.fromisoformat(plan["planned_at"])
    new = [f for f in plan["files"] if f["status"] == NEW]
    if not new:
        logger.info("Bronze %s: nothing new to ingest", plan["dataset"])
        return _empty_frame(plan["dataset"], bronze_table)
    frames = [
        spark.read.parquet(f["source_file"]).select(
            "*",
            F.lit(ingested_at).alias("_ingested_at"),
            F.lit(f["source_file"]).alias("_source_file"),
            F.lit(f["batch_id"]).alias("_batch_id"),
            F.lit(f["ingest_date"]).alias("_ingest_date"),
        )
        for f in new
    ]
    data = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    order = _column_order(data.columns, bronze_table.columns if bronze_table is not None else [])
    logger.info(
        "Bronze %s: appending %d file(s), %s rows",
        plan["dataset"],
        len(new),
        f"{sum(int(f['rows']) for f in new):,}",
    )
    frame = data.select(*[_column_or_null(data, c) for c in order])
    files = tuple(LandingFileToLink(f["source_file"], f["batch_id"], f["ingest_date"]) for f in new)
    return LandingFilesAppend(frame=frame, files=files, ingested_at=ingested_at)


def _column_order(incoming: Iterable[str], existing: Iterable[str]) -> list[str]:
    """The table's columns in its own order, then new ones (landing columns before audit)."""
    incoming, existing = list(incoming), list(existing)
    if existing:
        return existing + [c for c in incoming if c not in existing]
    return [c for c in incoming if c not in AUDIT_COLUMNS] + list(AUDIT_COLUMNS)


def _column_or_null(data: DataFrame, name: str) -> Any:
    from pyspark.sql import functions as F

    if name in data.columns:
        return F.col(name)
    return F.lit(None).cast("string").alias(name)


def _empty_frame(dataset: str, bronze_table: DataFrame | None) -> DataFrame:
    spark = engine.get_spark()
    if bronze_table is not None:
        return spark.createDataFrame([], bronze_table.schema)
    landing = [*FIELDS_BY_DATASET.get(dataset, ()), *SYSTEM_COLUMNS]
    schema = ", ".join(
        [f"{quote_identifier(c)} string" for c in landing]
        + [
            "_ingested_at timestamp",
            "_source_file string",
            "_batch_id string",
            "_ingest_date string",
        ]
    )
    return spark.createDataFrame([], schema)


# ------------------------------------------------------------------------------ log
def build_batch_log(*inputs: Any) -> DataFrame:
    """``monitoring.bronze_batch_log`` rows for this run, one per landing file handled.

    Inputs are ``plan, bronze_table_after_append`` pairs (one per dataset). A ``new`` file is
    logged ``ingested`` with the row count found in bronze after the append (so the log states
    what bronze holds, not what was intended); bad files keep their status and reason; files
    recovered from a run that died before logging are logged ``ingested`` with a note.
    """
    if len(inputs) % 2:
        raise ValueError("build_batch_log takes (plan, bronze table) pairs")
    logged_at = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    for plan, bronze in zip(inputs[::2], inputs[1::2], strict=True):
        new = [f for f in plan["files"] if f["status"] == NEW]
        landed = _rows_in_bronze(bronze, new)
        for f in plan["files"]:
            status, count, error = f["status"], int(f["rows"]), f["error"]
            if status == NEW:
                count = landed.get(file_key(f["batch_id"], f["source_file"]), 0)
                status = INGESTED if count else UNREADABLE
                error = None if count else "no rows reached bronze after the append"
            rows.append(
                (f["dataset"], f["batch_id"], f["source_file"], count, status, error, logged_at)
            )
    return engine.get_spark().createDataFrame(rows, LOG_SCHEMA)


def _rows_in_bronze(
    bronze: DataFrame, files: list[Mapping[str, Any]]
) -> dict[tuple[str, str], int]:
    if not files:
        return {}
    from pyspark.sql import functions as F

    dates = sorted({f["ingest_date"] for f in files})
    batches = sorted({f["batch_id"] for f in files})
    # Literal partition values prune the scan to this run's partitions.
    recent = bronze.filter(F.col("_ingest_date").isin(dates) & F.col("_batch_id").isin(batches))
    return ingested_files(recent)
