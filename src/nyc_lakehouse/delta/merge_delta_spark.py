"""The upsert writer on JVM Spark and Databricks: delta-spark's ``DeltaTable.merge`` builder.

What Databricks runs, in its open-source form: matched rows are updated only where the incoming
sequence is at least the stored one (:func:`nyc_lakehouse.delta.sql.sequence_condition`),
unmatched rows are inserted, and ``withSchemaEvolution()`` adds new columns. The ``ON`` clause
carries the batch's partition values as literals, so only the touched partitions are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.dedup import distinct_values
from nyc_lakehouse.delta.sql import merge_condition, partition_predicate, sequence_condition

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import UpsertSpec, WriteSpec
    from nyc_lakehouse.delta.table import Table

# operationMetrics of a MERGE commit, under the names delta-rs reports them
_METRICS = {
    "numSourceRows": "num_source_rows",
    "numTargetRowsInserted": "num_target_rows_inserted",
    "numTargetRowsUpdated": "num_target_rows_updated",
    "numTargetRowsCopied": "num_target_rows_copied",
    "numTargetFilesRemoved": "num_target_files_removed",
    "numTargetFilesAdded": "num_target_files_added",
}


def merge(
    table: Table, batch: DataFrame, rows: int, spec: UpsertSpec, write_spec: WriteSpec
) -> dict[str, Any]:
    """Merge a deduplicated, non-empty batch into the existing table."""
    from delta.tables import DeltaTable

    spark = table.engine.spark()
    target = (
        DeltaTable.forName(spark, table.address.catalog_name)
        if table.address.is_catalog
        else DeltaTable.forPath(spark, table.address.path)
    )
    partition_by = write_spec.partition_by
    values = distinct_values(batch, partition_by) if partition_by else []
    partition_filter = partition_predicate(partition_by, values, "target") if values else None
    builder = target.alias("target").merge(
        batch.alias("source"), merge_condition(spec.keys, partition_filter)
    )
    matched = sequence_condition(spec.sequence_column)
    builder = (
        builder.whenMatchedUpdateAll(condition=matched)
        if matched
        else builder.whenMatchedUpdateAll()
    )
    builder = builder.whenNotMatchedInsertAll()
    if write_spec.merge_schema:
        builder = builder.withSchemaEvolution()
    builder.execute()
    metrics: dict[str, Any] = {
        "mode": "upsert",
        "engine": "delta_spark",
        "created": False,
        "num_source_rows": rows,
        "partition_filter": partition_filter,
    }
    last = target.history(1).select("operation", "operationMetrics").first()
    if last is not None and last["operation"] == "MERGE":
        for name, value in (last["operationMetrics"] or {}).items():
            if name in _METRICS:
                metrics[_METRICS[name]] = int(value)
    metrics["num_source_rows"] = rows
    return metrics
