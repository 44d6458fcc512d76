"""The upsert writer where neither delta-rs nor the Delta API fits: Spark SQL ``MERGE INTO``.

Used on ``remote`` (any Spark Connect server: the Delta API needs the server's Delta Connect
plugin, SQL does not) and on Sail for tables delta-rs cannot merge (nested NOT NULL fields, see
:func:`nyc_lakehouse.delta.engines.sail.relax_not_null`). ``MERGE WITH SCHEMA EVOLUTION`` adds
new columns on Sail and Databricks (Sail ignores the session's auto-merge setting); delta-spark
ignores the syntax and needs the setting (:mod:`nyc_lakehouse.delta.engines.delta_spark`).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.dedup import distinct_values
from nyc_lakehouse.delta.engines import delta_spark
from nyc_lakehouse.delta.sql import merge_sql, partition_predicate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import UpsertSpec, WriteSpec
    from nyc_lakehouse.delta.table import Table


def merge(
    table: Table, batch: DataFrame, rows: int, spec: UpsertSpec, write_spec: WriteSpec
) -> dict[str, Any]:
    """Merge a deduplicated, non-empty batch into the existing table with ``MERGE INTO``."""
    partition_by = write_spec.partition_by
    values = distinct_values(batch, partition_by) if partition_by else []
    partition_filter = partition_predicate(partition_by, values, "target") if values else None
    view = f"nyc_upsert_{uuid.uuid4().hex}"
    statement = merge_sql(
        table.address.sql_identifier(),
        view,
        spec.keys,
        spec.sequence_column,
        partition_filter,
        schema_evolution=write_spec.merge_schema,
    )
    spark = table.engine.spark()
    evolution = (
        delta_spark.merge_schema_evolution(spark)
        if write_spec.merge_schema and delta_spark.applies(table.engine)
        else contextlib.nullcontext()
    )
    batch.createOrReplaceTempView(view)
    try:
        with evolution:
            spark.sql(statement).collect()
    finally:
        spark.catalog.dropTempView(view)
    return {
        "mode": "upsert",
        "engine": "sql",
        "created": False,
        "num_source_rows": rows,
        "partition_filter": partition_filter,
    }
