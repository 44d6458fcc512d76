"""Bronze appends without a copy: whole landing files committed to the Delta table as they are.

Bronze holds the landing rows as received plus four audit columns, each constant per file
(``_ingest_date``, ``_batch_id``, ``_source_file``, ``_ingested_at``). Delta stores partition
values in its log, not in the data files, so a table partitioned by those four columns can take
each landing Parquet file as one data file: hard-linked into the table folder (copied when the
landing zone is on another file system), registered by delta-rs with its partition values and
row count. A batch is then committed by a metadata write, whatever its size, instead of being
decoded and re-encoded through Sail's Delta writer. Every reader sees the same table: Sail,
delta-rs, kedro-viz previews, notebooks.

This is only possible on the local engine with local paths; elsewhere (Databricks, a remote
Spark Connect cluster, object stores) the dataset appends the Spark DataFrame through the engine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.errors import DeltaTableError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.table import Table

logger = logging.getLogger(__name__)

# The audit columns, in the table's column order; a linked table is partitioned by all four.
LINKED_PARTITION_COLUMNS = ("_ingested_at", "_source_file", "_batch_id", "_ingest_date")


@dataclass(frozen=True)
class LandingFileToLink:
    """One committed landing file and the audit values its rows get in bronze."""

    path: str
    batch_id: str
    ingest_date: str


@dataclass(frozen=True)
class LandingFilesAppend:
    """What a bronze run appends: whole landing files, and the same rows as a Spark DataFrame.

    ``frame`` is what any engine can write (landing columns in the table's order, then the
    audit columns); ``files`` and ``ingested_at`` let a dataset on the local engine commit the
    files themselves (:func:`append_linked_files`).
    """

    frame: DataFrame
    files: tuple[LandingFileToLink, ...]
    ingested_at: datetime


def _delta_type_text(arrow_type: Any) -> str:
    """A comparable name for an Arrow type as Delta stores it (one name for every string type)."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if hasattr(pa.types, "is_string_view") and pa.types.is_string_view(arrow_type):
        return "string"
    return str(arrow_type)


def _timestamp_partition_value(value: datetime) -> str:
    """A timestamp partition value as the Delta protocol writes it (UTC, microseconds)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def linkable_table(path: str, storage_options: Mapping[str, str] | None = None) -> bool:
    """Whether the Delta table at ``path`` can take linked files: absent, or partitioned by
    :data:`LINKED_PARTITION_COLUMNS` (a table written by Spark is partitioned by date only)."""
    from deltalake import DeltaTable

    if "://" in path:
        return False
    if not DeltaTable.is_deltatable(path, dict(storage_options or {}) or None):
        return True
    partitions = DeltaTable(path).metadata().partition_columns
    return sorted(partitions) == sorted(LINKED_PARTITION_COLUMNS)


def append_files(table: Table, append: LandingFilesAppend) -> dict[str, Any] | None:
    """Commit ``append.files`` to ``table``; None: append ``append.frame`` through the engine.

    Sail and local paths only, and a table that is new or was created this way.
    """
    path = table.address.path
    if not (
        table.engine.is_sail
        and table.address.is_local_path
        and path is not None
        and append.files
        and all("://" not in f.path for f in append.files)
    ):
        return None
    if not linkable_table(path, table.storage_options):
        logger.info(
            "%s was written by Spark (partitioned by %s): appending through Spark",
            table.name,
            table.delta_rs().metadata().partition_columns,
        )
        return None
    return append_linked_files(os.path.abspath(path), append)


def append_linked_files(path: str, append: LandingFilesAppend) -> dict[str, Any]:
    """Commit ``append.files`` to the Delta table at ``path`` (created if absent), one commit.

    Columns a file has and the table lacks are added to the table first (as nullable, at the
    end); columns a file lacks read as null. A file whose column type differs from the table's
    is refused with a clear error, before anything is linked. On a failed commit the links
    are removed again, so the table folder holds no file the log does not reference.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import DeltaTable, Field, Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    started = time.perf_counter()
    exists = DeltaTable.is_deltatable(path)
    table = DeltaTable(path) if exists else None
    known: dict[str, Any] = {}
    if table is not None:
        known = {f.name: f.type for f in pa.schema(table.schema().to_arrow())}
    names = list(known)
    footers: list[tuple[LandingFileToLink, Any]] = []
    for file in append.files:
        metadata = pq.ParquetFile(file.path).metadata
        footers.append((file, metadata))
        for field in metadata.schema.to_arrow_schema():
            if field.name in LINKED_PARTITION_COLUMNS:
                raise DeltaTableError(
                    f"Landing file {file.path} has a column named {field.name}, which bronze "
                    "reserves for its audit columns"
                )
            if field.name not in known:
                known[field.name] = field.type
                names.append(field.name)
            elif _delta_type_text(known[field.name]) != _delta_type_text(field.type):
                raise DeltaTableError(
                    f"Landing file {file.path}: column {field.name} is {field.type}, the bronze "
                    f"table has {known[field.name]}; land it again with the table's type, or "
                    "append it through Spark (a table written by Spark is not linked)"
                )
    audit = {
        "_ingested_at": pa.timestamp("us", tz="UTC"),
        "_source_file": pa.string(),
        "_batch_id": pa.string(),
        "_ingest_date": pa.string(),
    }
    schema = None
    if table is None:
        landing = [n for n in names if n not in audit]
        schema = pa.schema([pa.field(n, known[n]) for n in landing] + list(_fields(audit)))
    else:
        new = [n for n in names if n not in {f.name for f in table.schema().fields}]
        if new:
            table.alter.add_columns(
                [Field.from_arrow(pa.field(n, known[n], nullable=True)) for n in new]
            )
            table = DeltaTable(path)
    ingested_at = _timestamp_partition_value(append.ingested_at)
    os.makedirs(path, exist_ok=True)
    linked, copied, rows, actions = [], 0, 0, []
    try:
        for file, metadata in footers:
            relative = _data_file_name(file)
            target = os.path.join(path, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            try:
                os.link(file.path, target)
            except OSError:  # another file system, or links not allowed: copy the bytes
                shutil.copyfile(file.path, target)
                copied += 1
            linked.append(target)
            stat = os.stat(target)
            rows += metadata.num_rows
            actions.append(
                AddAction(
                    relative,
                    stat.st_size,
                    {
                        "_ingested_at": ingested_at,
                        "_source_file": file.path,
                        "_batch_id": file.batch_id,
                        "_ingest_date": file.ingest_date,
                    },
                    int(stat.st_mtime * 1000),
                    True,
                    json.dumps({"numRecords": metadata.num_rows}),
                )
            )
        partitions = list(LINKED_PARTITION_COLUMNS)
        if table is None:
            create_table_with_add_actions(
                path, Schema.from_arrow(schema), actions, mode="error", partition_by=partitions
            )
        else:
            table.create_write_transaction(
                actions, mode="append", schema=table.schema(), partition_by=partitions
            )
    except BaseException:
        for target in linked:
            with contextlib.suppress(FileNotFoundError):
                os.remove(target)
        raise
    return {
        "mode": "append",
        "engine": "linked_files",
        "created": not exists,
        "files": len(actions),
        "copied_files": copied,
        "num_rows": rows,
        "seconds_commit": round(time.perf_counter() - started, 3),
    }


def _data_file_name(file: LandingFileToLink) -> str:
    """Where a linked file goes in the table folder: ``_ingest_date=<date>/<uuid>-<name>``.

    Only plain names are reused (a Delta path is a URI: anything else would need escaping);
    the partition values in the log, not this path, are what readers use.
    """
    base = os.path.basename(file.path)
    name = (
        f"{uuid.uuid4().hex}-{base}"
        if _PLAIN_NAME.fullmatch(base)
        else f"{uuid.uuid4().hex}.parquet"
    )
    if _PLAIN_NAME.fullmatch(file.ingest_date):
        return f"_ingest_date={file.ingest_date}/{name}"
    return name


_PLAIN_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _fields(types: Mapping[str, Any]) -> Sequence[Any]:
    """Arrow fields (nullable) from ``{name: type}``."""
    import pyarrow as pa

    return [pa.field(name, kind) for name, kind in types.items()]
