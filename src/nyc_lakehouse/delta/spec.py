"""What a write is asked to do: plain, validated values the writers take (no Kedro, no Spark).

The Kedro dataset builds these from a catalog entry's ``save_args``
(:mod:`nyc_lakehouse.datasets.delta_config`); code that writes a table without Kedro builds
them directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from nyc_lakehouse.delta.address import TableAddress

MERGE_WRITERS = ("auto", "delta_rs", "delta_spark", "sql")


@dataclass(frozen=True)
class WriteSpec:
    """How rows are written, whatever the mode."""

    partition_by: tuple[str, ...] = ()
    merge_schema: bool = True
    """New columns are added on append, upsert and replace (never dropped)."""
    overwrite_schema: bool = True
    """A full overwrite replaces the schema too (the table is rebuilt from code)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Extra Spark writer options."""


@dataclass(frozen=True)
class FileSplit:
    """A first load's latest partitions written as several files (see
    :func:`nyc_lakehouse.delta.parquet_load.file_split_column`)."""

    expression: str
    latest_partitions: int = 1


@dataclass(frozen=True)
class UpsertSpec:
    """Merge by ``keys``; the highest ``sequence_column`` wins (ties: ``tiebreak_columns``,
    then the row's content hash)."""

    keys: tuple[str, ...]
    sequence_column: str | None = None
    tiebreak_columns: tuple[str, ...] = ()
    writer: str = "auto"
    """``auto`` (the engine's family, see :mod:`nyc_lakehouse.delta.engines`) or a family."""
    stage_source: bool = True
    """Copy the batch to local Parquet first, so its plan runs once (Sail has no cache)."""
    create_via_parquet: bool = False
    file_split: FileSplit | None = None
    adopt_first_load_from: TableAddress | None = None
    replace: bool = False
    """Replace the table with the batch's latest rows (a replay) instead of merging."""


@dataclass(frozen=True)
class RowIdentitySpec:
    """Storage columns a write adds (:mod:`nyc_lakehouse.delta.identity`)."""

    add_row_id: bool = False
    row_hash_exclude: tuple[str, ...] | None = None
    """None: no content hash; else the columns the hash leaves out."""


@dataclass(frozen=True)
class FirstLoadLayout:
    """How an increment is laid out when it is the first load of ``target_path``
    (:mod:`nyc_lakehouse.delta.first_load`)."""

    target_path: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    pending_when: str | None = None
    file_split: FileSplit | None = None

    @property
    def marker(self) -> str:
        """The increment table's description: which table its final files were laid out for."""
        return f"{FIRST_LOAD_MARKER}{os.path.abspath(self.target_path)}"


FIRST_LOAD_MARKER = "nyc-lakehouse first load of "
