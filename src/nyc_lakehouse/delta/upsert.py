"""Upsert: one row per key, the latest by the sequence column wins, on any engine.

The batch is checked (no null keys; without a sequence, no two different rows of one key) and
deduplicated the same way everywhere (:mod:`nyc_lakehouse.delta.dedup`); then one writer per
engine family merges it (:mod:`nyc_lakehouse.delta.engines`): delta-rs on Sail
(:mod:`~nyc_lakehouse.delta.merge_delta_rs`), the Delta API on JVM Spark and Databricks
(:mod:`~nyc_lakehouse.delta.merge_delta_spark`), SQL elsewhere
(:mod:`~nyc_lakehouse.delta.merge_sql`). A table that does not exist yet, or a replay, is one
atomic overwrite.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta import merge_delta_rs, merge_delta_spark, merge_sql, writes
from nyc_lakehouse.delta.adopt import adopt_first_load
from nyc_lakehouse.delta.dedup import check_batch, latest_per_key
from nyc_lakehouse.delta.engines import DELTA_RS, DELTA_SPARK, sail
from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.identity import KIND_COLUMN
from nyc_lakehouse.delta.parquet_load import create_via_parquet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import UpsertSpec, WriteSpec
    from nyc_lakehouse.delta.table import Table

logger = logging.getLogger(__name__)


def writer_for(table: Table, spec: UpsertSpec) -> str:
    """The merge writer: the engine's family (``auto``) or the one ``spec.writer`` names."""
    if spec.writer == "auto":
        return table.engine.writer_for(table.address)
    if spec.writer == DELTA_RS and table.address.path is None:
        raise DeltaTableError(f"{table.name}: merge writer 'delta_rs' needs a path table")
    if spec.writer == DELTA_SPARK and not table.engine.has_delta_api:
        raise DeltaTableError(
            f"{table.name}: merge writer 'delta_spark' needs the Delta API, which engine mode "
            f"{table.engine.mode!r} does not have (jvm and databricks do)"
        )
    return spec.writer


def upsert(table: Table, data: DataFrame, spec: UpsertSpec, write_spec: WriteSpec) -> dict:
    """Merge ``data`` into ``table`` (created when missing); the metrics dict."""
    sequence = spec.sequence_column
    needed = [*spec.keys, *([sequence] if sequence else []), *write_spec.partition_by]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise DeltaTableError(
            f"{table.name}: upsert columns {missing} are not in the data (columns: {data.columns})"
        )
    missing_tiebreaks = [c for c in spec.tiebreak_columns if c not in data.columns]
    if missing_tiebreaks:
        raise DeltaTableError(
            f"{table.name}: tiebreak columns {missing_tiebreaks} are not in the data"
        )
    writer = writer_for(table, spec)
    if KIND_COLUMN in data.columns:
        if writer == DELTA_RS:
            adopted = adopt_first_load(table, data, spec, write_spec)
            if adopted is not None:
                return adopted
        data = data.drop(KIND_COLUMN)
    if writer == DELTA_RS:
        return _upsert_delta_rs(table, data, spec, write_spec)
    batch = latest_per_key(data, spec.keys, sequence, spec.tiebreak_columns)
    rows = check_batch(table.name, batch, spec.keys, sequence)
    if spec.replace or not table.exists():
        return create_or_replace(table, batch, rows, spec, write_spec)
    if rows == 0:
        return {"mode": "upsert", "created": False, "num_source_rows": 0}
    if writer == DELTA_SPARK:
        return merge_delta_spark.merge(table, batch, rows, spec, write_spec)
    return merge_sql.merge(table, batch, rows, spec, write_spec)


def _upsert_delta_rs(
    table: Table, data: DataFrame, spec: UpsertSpec, write_spec: WriteSpec
) -> dict[str, Any]:
    with merge_delta_rs.staged_batch(table, data, spec) as staged:
        if spec.replace or not table.exists():
            return create_or_replace(
                table, staged.batch, staged.rows, spec, write_spec, staged.received
            )
        if staged.rows == 0:
            return {"mode": "upsert", "created": False, "num_source_rows": 0}
        if not sail.relax_not_null(table.delta_rs()):
            logger.warning(
                "%s has NOT NULL nested fields, which Sail cannot read back after a "
                "delta-rs merge; merging with SQL MERGE instead",
                table.name,
            )
            return merge_sql.merge(table, staged.batch, staged.rows, spec, write_spec)
        return merge_delta_rs.merge(table, staged, spec, write_spec)


def create_or_replace(
    table: Table,
    batch: DataFrame,
    rows: int,
    spec: UpsertSpec,
    write_spec: WriteSpec,
    partition_values_from: DataFrame | None = None,
) -> dict[str, Any]:
    """An upsert with nothing to merge into (or a replay): one atomic overwrite."""
    created = not table.exists()
    metrics: dict[str, Any] = {"mode": "upsert", "created": created, "replaced": not created}
    if (
        created
        and rows
        and spec.create_via_parquet
        and partition_values_from is not None
        and create_via_parquet(
            table, batch, partition_values_from, write_spec.partition_by, spec.file_split
        )
    ):
        return {**metrics, "num_source_rows": rows, "engine": "parquet+delta_rs"}
    writes.write(table, batch, "overwrite", write_spec)
    return {**metrics, "num_source_rows": rows}
