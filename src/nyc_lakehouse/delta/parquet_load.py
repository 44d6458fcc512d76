"""A first load through Sail's Parquet writer, committed by delta-rs (Sail, local paths only).

Sail's Delta writer sorts the rows by the partition columns and writes them from one stream; its
Parquet writer splits them by partition value and writes in parallel, which is faster for a
first load spread over many partitions. The files are written next to the table,
registered by ``convert_to_deltalake`` (version 0, operation ``CONVERT``) and the folder is
renamed into place, so a failure leaves no table behind. Speed, not a defect: the engine's own
writer is the fallback wherever this does not apply.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.dedup import distinct_values

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from nyc_lakehouse.delta.spec import FileSplit
    from nyc_lakehouse.delta.table import Table

# Partition column types a Parquet-created table supports (Spark simple type -> Delta type),
# and the partition values it accepts (plain text: the Parquet writer does not escape ``/`` or
# non-ASCII text in folder names).
HIVE_PARTITION_TYPES = {
    "string": "string",
    "int": "integer",
    "bigint": "long",
    "smallint": "short",
    "tinyint": "byte",
    "date": "date",
    "boolean": "boolean",
}
PLAIN_PARTITION_VALUE = re.compile(r"[A-Za-z0-9_.:-]+")
FILE_SPLIT_COLUMN = "__nyc_file_split"

# Rows per Parquet row group of a first load. The writer keeps every partition's open row group
# in memory, and with the default (1M rows) a month's whole file waits there. Small groups bound
# that memory (and the write gets no slower); readers such as gold are no slower either.
FIRST_LOAD_ROW_GROUP_ROWS = 32_768

# Bytes a column chunk's dictionary may grow to before the writer falls back to plain encoding.
# With 32k-row groups the default (1 MB) never fell back: a column of nearly unique values (keys,
# dates, addresses, coordinates) was dictionary-encoded in full, one hash insert per value, and
# stored as a dictionary of every value plus an index per row. At 64 KB those columns fall back
# early while codes (a few hundred values) keep their dictionary: the write is faster, the
# files smaller and the peak memory lower than with the default.
FIRST_LOAD_DICTIONARY_PAGE_BYTES = 65_536


def plain_partition_values(values: Sequence[tuple], allow_null: bool = False) -> bool:
    """Whether every partition value can name a folder as it is."""
    return all(
        (allow_null and v is None) or (v is not None and PLAIN_PARTITION_VALUE.fullmatch(str(v)))
        for row in values
        for v in row
    )


def first_load_parquet_writer(data: DataFrame) -> Any:
    """Sail's Parquet writer for a first load's files: snappy, 32k-row groups, a 64 KB dictionary
    limit, no embedded Arrow schema (delta-rs commits the files with the table's own schema)."""
    return (
        data.write.mode("overwrite")
        .option("compression", "snappy")
        .option("skip_arrow_metadata", "true")
        .option("max_row_group_size", str(FIRST_LOAD_ROW_GROUP_ROWS))
        .option("dictionary_page_size_limit", str(FIRST_LOAD_DICTIONARY_PAGE_BYTES))
    )


def create_via_parquet(
    table: Table,
    batch: DataFrame,
    partition_values_from: DataFrame,
    partition_by: Sequence[str],
    file_split: FileSplit | None = None,
) -> bool:
    """Create the partitioned table at ``table`` from ``batch``; False where this cannot apply.

    The caller then writes through the engine: not Sail or not a local path, partition values
    that are null or not plain, partition types other than text, integers, dates and booleans,
    or a folder that already holds something.
    """
    from deltalake import Field, Schema, convert_to_deltalake

    path = table.address.path
    if not (partition_by and table.engine.is_sail and table.address.is_local_path):
        return False
    types = dict(batch.dtypes)
    if any(types.get(c) not in HIVE_PARTITION_TYPES for c in partition_by):
        return False
    values = distinct_values(partition_values_from, partition_by)
    if not values or not plain_partition_values(values):
        return False
    target = os.path.abspath(str(path))
    if os.path.exists(target) and os.listdir(target):
        return False  # leftovers of something else: let the engine decide
    os.makedirs(os.path.dirname(target), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}-", dir=os.path.dirname(target))
    folders = list(partition_by)
    if file_split:
        batch = batch.withColumn(
            FILE_SPLIT_COLUMN, file_split_column(file_split, partition_by, values)
        )
        folders.append(FILE_SPLIT_COLUMN)
    try:
        first_load_parquet_writer(batch).partitionBy(*folders).parquet(staging)
        if file_split:
            flatten_file_split(staging)
        partitions = Schema([Field(c, HIVE_PARTITION_TYPES[types[c]]) for c in partition_by])
        convert_to_deltalake(
            staging,
            partition_by=partitions,
            partition_strategy="hive",
            storage_options=dict(table.storage_options) or None,
        )
        if os.path.exists(target):
            os.rmdir(target)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def file_split_column(
    split: FileSplit, partition_by: Sequence[str], values: Sequence[tuple]
) -> Column:
    """Which file of its partition a row of a first load goes to (``save_args.file_split``).

    ``expression`` (SQL) names the file within each of the ``latest_partitions`` highest
    partition values; every other partition keeps one file. delta-rs rewrites every file that
    holds a row a merge matches, and a daily increment updates recent rows: with the latest
    month split by week, the first merge after a load rewrites a week's file instead of the
    month's (silver 311). Only the latest partitions are split: splitting every one would make
    Sail's Parquet writer hold several times as many open files, slowing the first load and
    multiplying its peak memory.
    """
    from pyspark.sql import functions as F

    latest = sorted(values)[-int(split.latest_partitions) :]
    in_latest = F.lit(False)
    for row in latest:
        matches = F.lit(True)
        for column, value in zip(partition_by, row, strict=True):
            matches = matches & (F.col(column) == F.lit(value))
        in_latest = in_latest | matches
    # Text the Parquet writer can name a folder with; the rows outside the latest partitions and
    # a null split value share the folder "all".
    named = F.regexp_replace(F.expr(split.expression).cast("string"), "[^A-Za-z0-9_.]", "_")
    return F.when(in_latest, F.coalesce(named, F.lit("all"))).otherwise(F.lit("all"))


def flatten_file_split(staging: str) -> None:
    """Move each ``<partition folders>/__nyc_file_split=<v>/<file>`` up to ``<v>-<file>``.

    The split value only decides which rows share a file: it is not a column of the table.
    """
    prefix = f"{FILE_SPLIT_COLUMN}="
    for folder, subfolders, _files in list(os.walk(staging)):
        for sub in subfolders:
            if not sub.startswith(prefix):
                continue
            split_folder = os.path.join(folder, sub)
            for name in os.listdir(split_folder):
                target = os.path.join(folder, f"{sub[len(prefix) :]}-{name}")
                os.rename(os.path.join(split_folder, name), target)
            os.rmdir(split_folder)
