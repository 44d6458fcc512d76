"""The upsert writer for Sail: the batch staged as local Parquet, merged by delta-rs.

Sail's own ``MERGE INTO`` holds the whole target in memory (a large table exhausts the machine)
and does not prune partitions through the join; delta-rs merges a 10k-row increment into the
touched partitions only (literal partition predicates). Sail has no cache, so the batch is
staged once: its plan runs a single time and delta-rs streams it from disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.dedup import check_batch, distinct_values, latest_per_key_staged
from nyc_lakehouse.delta.engines import sail
from nyc_lakehouse.delta.identity import ROW_IDENTITY_COLUMNS, with_row_identity
from nyc_lakehouse.delta.sql import merge_condition, partition_predicate, sequence_condition

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import UpsertSpec, WriteSpec
    from nyc_lakehouse.delta.table import Table


@dataclass
class StagedBatch:
    """The batch to merge: checked, one row per key, staged where delta-rs reads it."""

    batch: DataFrame
    rows: int
    """Rows after deduplication."""
    received: DataFrame
    """The batch as received (staged): where partition values of a first load come from."""
    source_dir: str | None
    """Local Parquet copy of ``batch``, or None (not staged yet)."""
    scratch: list[str] = field(default_factory=list)


@contextmanager
def staged_batch(table: Table, data: DataFrame, spec: UpsertSpec) -> Iterator[StagedBatch]:
    """Check, stage and deduplicate ``data``; the staging folders go when the block ends.

    A source that is already a scan of a persisted table (``stage_source: false``) is used as
    it is: deduplication re-reads only its key columns, and a first load or a replay goes
    straight to one write, without a copy of the whole table; a merge still stages the batch
    it hands to delta-rs.
    """
    keys, sequence = spec.keys, spec.sequence_column
    spark = table.engine.spark()
    if sequence is None:
        # no version order: identical rows collapse, different ones are refused by the check
        data = data.drop(*ROW_IDENTITY_COLUMNS).dropDuplicates()
    scratch: list[str] = []
    source_dir: str | None = None
    try:
        ranks = sequence is not None
        identified = all(c in data.columns for c in ROW_IDENTITY_COLUMNS)
        if not ranks or not spec.stage_source:
            # without ranking the identity columns would keep exact duplicates apart
            data = data if ranks else data.drop(*ROW_IDENTITY_COLUMNS)
        staged = data
        if spec.stage_source or (ranks and not identified):
            if ranks and not identified:
                data = with_row_identity(data)
            source_dir = tempfile.mkdtemp(prefix="nyc-delta-upsert-")
            scratch.append(source_dir)
            data.write.mode("overwrite").parquet(source_dir)
            # An empty batch leaves no Parquet file behind (no schema to read back).
            if any(name.endswith(".parquet") for name in os.listdir(source_dir)):
                staged = spark.read.parquet(source_dir)
        received = check_batch(table.name, staged, keys, sequence)
        batch, repeats = staged, 0
        if received and ranks:
            scratch.append(tempfile.mkdtemp(prefix="nyc-delta-upsert-losers-"))
            batch, repeats = latest_per_key_staged(
                staged, keys, sequence, spec.tiebreak_columns, scratch=scratch[-1]
            )
        if repeats:
            source_dir = None  # the staged copy still holds the losing rows
        yield StagedBatch(
            batch=batch.drop(*ROW_IDENTITY_COLUMNS),
            rows=received - repeats,
            received=staged,
            source_dir=source_dir,
            scratch=scratch,
        )
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)


def merge(table: Table, staged: StagedBatch, spec: UpsertSpec, write_spec: WriteSpec) -> dict:
    """Merge a non-empty staged batch into the existing table with delta-rs."""
    import pyarrow.dataset as pads

    batch = staged.batch
    if staged.source_dir is None:
        # delta-rs reads the merge source from disk: stage the (deduplicated) batch
        staged.source_dir = tempfile.mkdtemp(prefix="nyc-delta-upsert-")
        staged.scratch.append(staged.source_dir)
        batch.write.mode("overwrite").parquet(staged.source_dir)
        batch = table.engine.spark().read.parquet(staged.source_dir)
    partition_by = write_spec.partition_by
    values = distinct_values(batch, partition_by) if partition_by else []
    partition_filter = (
        partition_predicate(partition_by, values, "target", dialect="datafusion")
        if values
        else None
    )
    reader = sail.merge_source(
        pads.dataset(staged.source_dir, format="parquet"), drop=ROW_IDENTITY_COLUMNS
    )
    added = sail.add_new_columns(table.delta_rs(), reader.schema) if write_spec.merge_schema else []
    merger = table.delta_rs().merge(
        reader,
        predicate=merge_condition(spec.keys, partition_filter),
        source_alias="source",
        target_alias="target",
        # Never delta-rs's own schema evolution: see sail.add_new_columns.
        merge_schema=False,
    )
    merger = merger.when_matched_update_all(predicate=sequence_condition(spec.sequence_column))
    metrics: dict[str, Any] = merger.when_not_matched_insert_all().execute()
    metrics.update(
        mode="upsert",
        engine="delta_rs",
        created=False,
        partition_filter=partition_filter,
        added_columns=added,
    )
    return metrics
