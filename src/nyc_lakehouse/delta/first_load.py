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
falls back to the ordinary first load when any fails, with a warning. Writing the layout is
here; adopting it is :mod:`nyc_lakehouse.delta.adopt`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta import writes
from nyc_lakehouse.delta.dedup import distinct_values
from nyc_lakehouse.delta.engines import sail
from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.identity import (
    FINAL,
    KIND_COLUMN,
    PENDING,
    ROW_HASH_COLUMN,
    row_hash_expression,
    with_identity,
    with_row_id,
)
from nyc_lakehouse.delta.parquet_load import (
    FILE_SPLIT_COLUMN,
    HIVE_PARTITION_TYPES,
    file_split_column,
    first_load_parquet_writer,
    flatten_file_split,
    plain_partition_values,
)
from nyc_lakehouse.delta.spec import FIRST_LOAD_MARKER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import FirstLoadLayout, RowIdentitySpec, WriteSpec
    from nyc_lakehouse.delta.table import Table

_REPEATED = "__nyc_key_repeats"


def overwrite_increment(
    table: Table,
    data: DataFrame,
    layout: FirstLoadLayout,
    identity: RowIdentitySpec,
    write_spec: WriteSpec,
) -> dict[str, Any]:
    """Overwrite ``table`` with ``data``, laid out for the first load of ``layout``'s target
    while the target does not exist (Sail, local paths); an ordinary overwrite otherwise."""
    from deltalake import DeltaTable

    path = table.address.path
    local = table.engine.is_sail and table.address.is_local_path and path is not None
    target = layout.target_path
    if local and target and "://" not in target and not DeltaTable.is_deltatable(target):
        written = write_first_load_increment(
            data,
            str(path),
            layout,
            add_row_id=identity.add_row_id,
            row_hash_exclude=identity.row_hash_exclude,
        )
        if written is not None:
            return written
    if local and laid_out_for(str(path)) is not None:
        # The last run laid it out for a first load (partitioned by _kind): an overwrite must
        # not inherit that layout, and the table is transient.
        shutil.rmtree(str(path))
    return writes.write(table, with_identity(data, identity), "overwrite", write_spec)


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
    if not description.startswith(FIRST_LOAD_MARKER):
        return None
    return description[len(FIRST_LOAD_MARKER) :]


def write_first_load_increment(
    data: DataFrame,
    path: str,
    layout: FirstLoadLayout,
    add_row_id: bool = False,
    row_hash_exclude: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """Write ``data`` to the Delta table at ``path`` (replacing it), tagged and laid out for
    the target's first load; None when the layout cannot be used (the caller writes as usual).

    With ``add_row_id`` the row id (:func:`~nyc_lakehouse.delta.identity.with_row_id`)
    is added after the tagging, so that the passes before it stay narrow. With
    ``row_hash_exclude`` (not None) the content hash is computed for the pending rows only: the
    final rows are never ranked, and hashing every column of every row would be work for
    nothing on most of them. Two narrow passes come first: the partition values (the latest ones get
    the file split, and a value the Parquet writer cannot name a folder with rules the layout out) and the keys
    that repeat, stored as a small Delta table so that the tagging join collects it. Then one
    Parquet write partitioned by ``_kind`` and the target's partition columns, registered by
    delta-rs (``CONVERT``) and moved into place; on failure the old table stays.
    """
    from deltalake import Field, Schema, convert_to_deltalake
    from pyspark.sql import functions as F

    started = time.perf_counter()
    missing = [c for c in (*layout.keys, *layout.partition_by) if c not in data.columns]
    if missing:
        raise DeltaTableError(
            f"{path}: first_load_of columns {missing} are not in the data (columns: {data.columns})"
        )
    if KIND_COLUMN in data.columns:
        raise DeltaTableError(f"{path}: the column {KIND_COLUMN} is reserved for the first load")
    types = dict(data.dtypes)
    if any(types[c] not in HIVE_PARTITION_TYPES for c in layout.partition_by):
        return None
    values = distinct_values(data, layout.partition_by)
    if not values or not plain_partition_values(values, allow_null=True):
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
            # The filter is only a size hint (see dedup.latest_per_key_staged): collected, the
            # repeated keys become the hash table and the wide rows stream past it. On the
            # left: without statistics the engine builds from the left input, and building
            # from the wide rows would hold them in memory and slow the write.
            marks = data.sparkSession.read.format("delta").load(scratch).where(F.col(_REPEATED))
            tagged = marks.join(data, keys, "right")
            final = final & F.col(_REPEATED).isNull()
        hashed = []
        if row_hash_exclude is not None:
            content = row_hash_expression(data, row_hash_exclude)
            hashed = [F.when(~final, content).alias(ROW_HASH_COLUMN)]
        kept = [c for c in data.columns if not (hashed and c == ROW_HASH_COLUMN)]
        tagged = tagged.select(
            *kept,
            *hashed,
            F.when(final, F.lit(FINAL)).otherwise(F.lit(PENDING)).alias(KIND_COLUMN),
        )
        if add_row_id:
            tagged = with_row_id(tagged)
        tagged = sail.named_null_partitions(tagged, layout.partition_by)
        folders = [KIND_COLUMN, *layout.partition_by]
        if layout.file_split:
            known = [row for row in values if None not in row]
            if known:
                tagged = tagged.withColumn(
                    FILE_SPLIT_COLUMN,
                    file_split_column(layout.file_split, layout.partition_by, known),
                )
                folders.append(FILE_SPLIT_COLUMN)
        first_load_parquet_writer(tagged).partitionBy(*folders).parquet(staging)
        flatten_file_split(staging)
        partitions = Schema(
            [
                Field(KIND_COLUMN, "string"),
                *[Field(c, HIVE_PARTITION_TYPES[types[c]]) for c in layout.partition_by],
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
