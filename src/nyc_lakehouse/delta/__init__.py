"""The project's Delta I/O library: no Kedro in it (the Kedro datasets are thin layers over it).

Modules, each importing only the ones listed before it:

* :mod:`~.errors`, :mod:`~.address` (where a table lives), :mod:`~.sql` (predicates, MERGE
  text), :mod:`~.spec` (what a write is asked to do), :mod:`~.identity` (storage columns);
* :mod:`~.dedup` (one row per key, deterministic ties);
* :mod:`~.engines` (engine modes and their writer families) and :mod:`~.engines.sail` (every
  Sail defect worked around, applied on Sail only);
* :mod:`~.table` (exists, read, time travel, history, preview, OPTIMIZE, VACUUM);
* :mod:`~.writes` (overwrite, append, replace_where, overwrite_partitions);
* :mod:`~.parquet_load`, :mod:`~.first_load`, :mod:`~.adopt`, :mod:`~.linked_files` (Sail's
  fast paths: first loads through the Parquet writer, files adopted or linked, not copied);
* :mod:`~.merge_delta_rs`, :mod:`~.merge_delta_spark`, :mod:`~.merge_sql` (one upsert writer
  per engine family) and :mod:`~.upsert`, which picks one.

See docs/delta.md.
"""

from nyc_lakehouse.delta.address import TableAddress, resolve_address
from nyc_lakehouse.delta.engines import MODES, Engine
from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.identity import (
    KIND_COLUMN,
    ROW_HASH_COLUMN,
    ROW_ID_COLUMN,
    ROW_IDENTITY_COLUMNS,
    STORAGE_COLUMNS,
    select_columns,
    with_row_hash,
    with_row_id,
    with_row_identity,
)
from nyc_lakehouse.delta.spec import (
    FileSplit,
    FirstLoadLayout,
    RowIdentitySpec,
    UpsertSpec,
    WriteSpec,
)
from nyc_lakehouse.delta.table import Table

__all__ = [
    "KIND_COLUMN",
    "MODES",
    "ROW_HASH_COLUMN",
    "ROW_IDENTITY_COLUMNS",
    "ROW_ID_COLUMN",
    "STORAGE_COLUMNS",
    "DeltaTableError",
    "Engine",
    "FileSplit",
    "FirstLoadLayout",
    "RowIdentitySpec",
    "Table",
    "TableAddress",
    "UpsertSpec",
    "WriteSpec",
    "resolve_address",
    "select_columns",
    "with_row_hash",
    "with_row_id",
    "with_row_identity",
]
