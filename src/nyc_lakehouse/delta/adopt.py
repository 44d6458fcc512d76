"""A first load that adopts an increment's files (``save_args.adopt_first_load_from``).

The increment was laid out for this table by :mod:`nyc_lakehouse.delta.first_load`: its
``_kind=final`` files become the table's files (hard links, one delta-rs commit, no copy), and
the pending rows are checked, ranked and appended like any batch. Sail and local paths only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from nyc_lakehouse.delta import writes
from nyc_lakehouse.delta.dedup import check_batch, latest_per_key_staged
from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.first_load import laid_out_for
from nyc_lakehouse.delta.identity import FINAL, KIND_COLUMN, PENDING, ROW_IDENTITY_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import UpsertSpec, WriteSpec
    from nyc_lakehouse.delta.table import Table

logger = logging.getLogger(__name__)


def adopt_first_load(
    table: Table, data: DataFrame, spec: UpsertSpec, write_spec: WriteSpec
) -> dict[str, Any] | None:
    """A first load from an increment laid out for it; None: write an ordinary first load.

    Before anything is written it checks that the increment was laid out for this table, that
    the upsert's columns have the types the files store, and that ``data`` holds exactly as
    many final rows as the files: a node that filtered rows out or recomputed a column's type
    between the two falls back. A failure after the table was created removes it, so the next
    run starts over.
    """
    from pyspark.sql import functions as F

    source, sequence, keys = spec.adopt_first_load_from, spec.sequence_column, spec.keys
    path = table.address.path
    if (
        not (
            source is not None
            and sequence
            and path
            and table.address.is_local_path
            and table.engine.is_sail
            and all(c in data.columns for c in ROW_IDENTITY_COLUMNS)
        )
        or table.exists()
    ):
        return None
    increment = source.path
    if increment is None or "://" in increment:
        return None
    files = adoptable_files(increment, path, write_spec.partition_by)
    if files is None:
        logger.info("%s: %s was not laid out for this table", table.name, source.name)
        return None
    kind = F.col(KIND_COLUMN)
    columns = [c for c in data.columns if c not in (KIND_COLUMN, *ROW_IDENTITY_COLUMNS)]
    stored = table.engine.spark().read.format("delta").load(increment).schema
    given = data.schema
    differ = [
        c for c in columns if c not in stored.names or stored[c].dataType != given[c].dataType
    ]
    if differ:
        logger.warning(
            "%s: columns %s differ from %s's stored ones; writing the first load instead "
            "of adopting its files",
            table.name,
            differ,
            source.name,
        )
        return None
    expected = sum(int(f["num_records"] or 0) for f in files)
    handed = data.where(kind == FINAL).count()
    if handed != expected:
        logger.warning(
            "%s: %d final rows handed over, %s's files hold %d; writing the first load "
            "instead of adopting its files",
            table.name,
            handed,
            source.name,
            expected,
        )
        return None
    pending = data.where(kind == PENDING).drop(KIND_COLUMN)
    received = check_batch(table.name, pending, keys, sequence)
    scratch = tempfile.mkdtemp(prefix="nyc-delta-upsert-losers-")
    try:
        metrics = link_final_files(increment, path, files, columns, write_spec.partition_by)
        repeats = 0
        if received:
            winners, repeats = latest_per_key_staged(
                pending, keys, sequence, spec.tiebreak_columns, scratch=scratch
            )
            writes.write(table, winners.drop(*ROW_IDENTITY_COLUMNS), "append", write_spec)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "mode": "upsert",
        "created": True,
        "engine": "adopted_files+sail",
        **metrics,
        "pending_rows": received,
        "num_source_rows": expected + received - repeats,
    }


def adoptable_files(
    increment_path: str, target_path: str, partition_by: Sequence[str]
) -> list[dict[str, Any]] | None:
    """The add actions of the increment's final files, or None if it was not laid out for
    ``target_path`` with these partition columns."""
    import pyarrow as pa
    from deltalake import DeltaTable

    if laid_out_for(increment_path) != os.path.abspath(target_path):
        return None
    table = DeltaTable(increment_path)
    if list(table.metadata().partition_columns) != [KIND_COLUMN, *partition_by]:
        return None
    actions = pa.table(table.get_add_actions(flatten=False)).to_pylist()
    return [a for a in actions if a["partition"][KIND_COLUMN] == FINAL]


def link_final_files(
    increment_path: str,
    target_path: str,
    files: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    partition_by: Sequence[str],
) -> dict[str, Any]:
    """Create the Delta table at ``target_path`` from the increment's final ``files``.

    The files are hard-linked (copied across file systems) under the target's partition
    folders and committed in one delta-rs commit with the target's ``columns`` (types as the
    increment stores them). The row counts, null counts and the text and integer bounds of the
    declared columns go with them, so readers keep skipping files as before. On failure the
    folder is removed again, so nothing half-made is left behind.
    """
    from deltalake import DeltaTable, Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    fields = {f.name: f for f in DeltaTable(increment_path).schema().fields}
    schema = Schema([fields[c] for c in columns])
    target = os.path.abspath(target_path)
    if os.path.exists(target) and os.listdir(target):
        raise DeltaTableError(f"{target_path}: the folder is not empty; not creating a table in it")
    os.makedirs(target, exist_ok=True)
    actions, copied, rows = [], 0, 0
    try:
        for file in files:
            values = {c: file["partition"][c] for c in partition_by}
            folder = "/".join(f"{c}={v}" for c, v in values.items())
            relative = f"{folder}/{uuid.uuid4().hex[:8]}-{os.path.basename(unquote(file['path']))}"
            source = os.path.join(increment_path, unquote(file["path"]))
            destination = os.path.join(target, relative)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            try:
                os.link(source, destination)
            except OSError:
                shutil.copyfile(source, destination)
                copied += 1
            stat = os.stat(destination)
            rows += int(file["num_records"] or 0)
            actions.append(
                AddAction(
                    relative,
                    stat.st_size,
                    {c: (None if v is None else str(v)) for c, v in values.items()},
                    int(stat.st_mtime * 1000),
                    True,
                    json.dumps(_file_stats(file, columns, partition_by)),
                )
            )
        create_table_with_add_actions(
            target, schema, actions, mode="error", partition_by=list(partition_by)
        )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(target)
        raise
    return {"adopted_files": len(actions), "adopted_rows": rows, "copied_files": copied}


def _file_stats(
    file: Mapping[str, Any], columns: Sequence[str], partition_by: Sequence[str]
) -> dict[str, Any]:
    """Delta file statistics for the target's columns, from the increment's.

    Bounds are kept for text and integers only: their JSON form is the value itself, while
    timestamps and floats would need the writer's exact formatting. A column without
    statistics is never skipped on, so leaving one out is safe.
    """
    stats: dict[str, Any] = {"numRecords": int(file["num_records"] or 0)}
    data_columns = [c for c in columns if c not in partition_by]
    nulls = file.get("null_count") or {}
    stats["nullCount"] = {c: int(nulls[c]) for c in data_columns if nulls.get(c) is not None}
    for source, name in (("min", "minValues"), ("max", "maxValues")):
        bounds = file.get(source) or {}
        stats[name] = {
            c: bounds[c]
            for c in data_columns
            if type(bounds.get(c)) in (str, int)  # bool is an int subclass: left out
        }
    return stats
