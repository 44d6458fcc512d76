"""A table's first load written once: the increment's files become the table's files.

Silver 311's first load wrote every row twice: once as the persisted increment (which the rule
counts, the quarantine and the upsert all read) and once more as the silver table, after
ranking the repeated keys. Most rows of a first load need no ranking: their key occurs once in
the increment and they pass every quarantine rule. So, when the target table does not exist
yet, the increment is written with its rows tagged in :data:`KIND_COLUMN`:

* ``final``: the key occurs once, no key or partition value is null, and the row is not
  excluded by ``pending_when`` (silver 311: quarantined). Written under the target's partition
  layout (``_kind=final/created_month=<m>/``), these files are exactly the target's rows.
* ``pending``: everything else; the upsert ranks and appends them as before.

The target's first load (``adopt_first_load_from``) then hard-links the final files into the
new table and commits them with delta-rs (one commit, no copy), and appends the pending rows'
winners. Data files may hold columns the target does not declare (the increment's internal
columns): Delta readers read the declared columns by name, and a delta-rs merge rewrites a
file without them. A column later added to the table under one of those names would show the
stored values in the adopted files; they are internal names (``_typed_*``, ``_row_*``,
``_run_as_of``, ``_quarantined``, ``source_unique_key``).

Local engine and local paths only; everywhere else both datasets write as before. The
adoption checks its preconditions (the increment was laid out for this table, the upsert's
columns have the stored types, and it hands over as many final rows as the files hold) and
falls back to the ordinary first load when any fails, with a warning.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from kedro.io.core import DatasetError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

KIND_COLUMN = "_kind"
FINAL, PENDING = "final", "pending"
_REPEATED = "__nyc_key_repeats"
_MARKER_PREFIX = "nyc-lakehouse first load of "
HIVE_NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"
_FIRST_LOAD_KEYS = {"table", "keys", "partition_by", "pending_when", "file_split"}


@dataclass(frozen=True)
class FirstLoadLayout:
    """How an increment is laid out when it is the first load of ``target_path``."""

    target_path: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    pending_when: str | None = None
    file_split: Mapping[str, Any] | None = None

    @property
    def marker(self) -> str:
        """The increment table's description: which table its final files were laid out for."""
        return f"{_MARKER_PREFIX}{os.path.abspath(self.target_path)}"


def layout_from_config(name: str, config: Any, target_path: str | None) -> FirstLoadLayout:
    """``save_args.first_load_of`` as a :class:`FirstLoadLayout` (``DatasetError`` if malformed)."""
    if not isinstance(config, Mapping) or not set(config) <= _FIRST_LOAD_KEYS:
        raise DatasetError(
            f"{name}: save_args.first_load_of takes {sorted(_FIRST_LOAD_KEYS)}, got {config!r}"
        )
    keys = _as_tuple(config.get("keys"))
    partition_by = _as_tuple(config.get("partition_by"))
    if not config.get("table") or not keys or not partition_by:
        raise DatasetError(
            f"{name}: save_args.first_load_of needs 'table', 'keys' and 'partition_by' "
            f"(the target's upsert keys and partition columns), got {config!r}"
        )
    pending_when = config.get("pending_when")
    if pending_when is not None and not isinstance(pending_when, str):
        raise DatasetError(f"{name}: first_load_of.pending_when must be SQL text")
    return FirstLoadLayout(
        target_path=target_path or "",
        keys=keys,
        partition_by=partition_by,
        pending_when=pending_when,
        file_split=config.get("file_split"),
    )


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _delta_rows(path: str) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True))
    return int(pc.sum(actions["num_records"]).as_py() or 0)


def laid_out_for(path: str) -> str | None:
    """The target path an existing increment table at ``path`` was laid out for, or None."""
    from deltalake import DeltaTable

    if "://" in path or not DeltaTable.is_deltatable(path):
        return None
    description = DeltaTable(path).metadata().description or ""
    return description[len(_MARKER_PREFIX) :] if description.startswith(_MARKER_PREFIX) else None


def write_first_load_increment(
    data: DataFrame,
    path: str,
    layout: FirstLoadLayout,
    add_row_id: bool = False,
    row_hash_exclude: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """Write ``data`` to the Delta table at ``path`` (replacing it), tagged and laid out for
    the target's first load; None when the layout cannot be used (the caller writes as usual).

    With ``add_row_id`` the row id (:func:`~nyc_lakehouse.datasets.delta_table.with_row_id`)
    is added after the tagging, so that the passes before it stay narrow. With
    ``row_hash_exclude`` (not None) the content hash is computed for the pending rows only: the
    final rows are never ranked, and hashing every column of every row would be work for
    nothing on most of them. Two narrow passes
    come first: the partition values (the latest ones get the file split, and
    a value the Parquet writer cannot name a folder with rules the layout out) and the keys
    that repeat, stored as a small Delta table so that the tagging join collects it. Then one
    Parquet write partitioned by ``_kind`` and the target's partition columns, registered by
    delta-rs (``CONVERT``) and moved into place; on failure the old table stays.
    """
    from deltalake import Field, Schema, convert_to_deltalake
    from pyspark.sql import functions as F

    from nyc_lakehouse.datasets import delta_table as dt

    started = time.perf_counter()
    missing = [c for c in (*layout.keys, *layout.partition_by) if c not in data.columns]
    if missing:
        raise DatasetError(
            f"{path}: first_load_of columns {missing} are not in the data (columns: {data.columns})"
        )
    if KIND_COLUMN in data.columns:
        raise DatasetError(f"{path}: the column {KIND_COLUMN} is reserved for the first load")
    types = dict(data.dtypes)
    if any(types[c] not in dt._HIVE_PARTITION_TYPES for c in layout.partition_by):
        return None
    values = dt._distinct_values(data, layout.partition_by)
    plain = all(
        v is None or dt._PLAIN_PARTITION_VALUE.fullmatch(str(v)) for row in values for v in row
    )
    if not values or not plain:
        return None
    seconds_values = time.perf_counter() - started
    target = os.path.abspath(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="nyc-first-load-keys-")
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}-", dir=os.path.dirname(target))
    try:
        keys = list(layout.keys)
        repeated = (
            data.groupBy(*keys)
            .count()
            .where(F.col("count") > 1)
            .select(*keys, F.lit(True).alias(_REPEATED))
        )
        repeated.write.format("delta").mode("overwrite").save(scratch)
        repeated_keys = _delta_rows(scratch)
        seconds_keys = time.perf_counter() - started - seconds_values
        final = F.lit(True)
        for column in (*keys, *layout.partition_by):
            final = final & F.col(column).isNotNull()
        if layout.pending_when:
            # null counts as pending: only a row known to be clean skips the upsert's checks
            final = final & F.coalesce(~F.expr(layout.pending_when), F.lit(False))
        tagged = data
        if repeated_keys:
            # The filter is only a size hint (see _latest_per_key_staged): collected, the
            # repeated keys become the hash table and the wide rows stream past it. On the
            # left: without statistics the engine builds from the left input, and building
            # from the wide rows would hold them in memory and slow the write.
            marks = data.sparkSession.read.format("delta").load(scratch).where(F.col(_REPEATED))
            tagged = marks.join(data, keys, "right")
            final = final & F.col(_REPEATED).isNull()
        hashed = []
        if row_hash_exclude is not None:
            content = dt.row_hash_expression(data, row_hash_exclude)
            hashed = [F.when(~final, content).alias(dt.ROW_HASH_COLUMN)]
        kept = [c for c in data.columns if not (hashed and c == dt.ROW_HASH_COLUMN)]
        tagged = tagged.select(
            *kept,
            *hashed,
            F.when(final, F.lit(FINAL)).otherwise(F.lit(PENDING)).alias(KIND_COLUMN),
        )
        if add_row_id:
            tagged = dt.with_row_id(tagged)
        for column in layout.partition_by:
            # Sail 0.7.2's partitioned writer names a null value's folder after the bytes under
            # the null slot, which a CASE fills with its other branch's value: a pending row
            # with no month was filed, and loaded into the table, under another row's month.
            # An explicit Hive null folder instead (the column leaves the files either way).
            tagged = tagged.withColumn(
                column, F.coalesce(F.col(column).cast("string"), F.lit(HIVE_NULL_FOLDER))
            )
        folders = [KIND_COLUMN, *layout.partition_by]
        if layout.file_split:
            known = [row for row in values if None not in row]
            if known:
                tagged = tagged.withColumn(
                    dt._FILE_SPLIT_COLUMN,
                    dt._file_split_column(layout.file_split, layout.partition_by, known),
                )
                folders.append(dt._FILE_SPLIT_COLUMN)
        dt.first_load_parquet_writer(tagged).partitionBy(*folders).parquet(staging)
        dt._flatten_file_split(staging)
        partitions = Schema(
            [
                Field(KIND_COLUMN, "string"),
                *[Field(c, dt._HIVE_PARTITION_TYPES[types[c]]) for c in layout.partition_by],
            ]
        )
        convert_to_deltalake(
            staging, partition_by=partitions, partition_strategy="hive", description=layout.marker
        )
        if os.path.exists(target):
            shutil.rmtree(target)  # the increment is transient: each run replaces it
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    counts = rows_by_kind(target)
    return {
        "mode": "overwrite",
        "engine": "first_load_layout",
        "created": True,
        "final_rows": counts.get(FINAL, 0),
        "pending_rows": counts.get(PENDING, 0),
        "repeated_keys": repeated_keys,
        "seconds_partition_values": round(seconds_values, 3),
        "seconds_repeated_keys": round(seconds_keys, 3),
    }


def rows_by_kind(path: str) -> dict[str, int]:
    """Rows per ``_kind`` of an increment laid out for a first load (from the Delta log)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True))
    counts: dict[str, int] = {}
    for kind, rows in zip(
        actions[f"partition.{KIND_COLUMN}"].to_pylist(),
        actions["num_records"].to_pylist(),
        strict=True,
    ):
        counts[kind] = counts.get(kind, 0) + int(rows or 0)
    return counts


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
        raise DatasetError(f"{target_path}: the folder is not empty; not creating a table in it")
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
