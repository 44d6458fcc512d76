"""Writes through the engine's Delta writer: overwrite, append, replace_where, overwrite_partitions
(and ``delete``, through SQL).

The same DataFrame writer on every engine (``format("delta")``: Sail's own Delta writer, delta-
spark's on JVM Spark and Databricks). Where an engine gets a mode wrong, its module says how
(:mod:`nyc_lakehouse.delta.engines.sail`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.dedup import distinct_values
from nyc_lakehouse.delta.engines import sail

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.spec import WriteSpec
    from nyc_lakehouse.delta.table import Table

logger = logging.getLogger(__name__)


def write(
    table: Table,
    data: DataFrame,
    mode: str,
    spec: WriteSpec,
    replace_where: str | None = None,
    dynamic_partitions: bool = False,
) -> dict[str, Any]:
    """Write ``data`` with Spark's ``mode`` (``overwrite`` or ``append``); the metrics dict."""
    exists = table.exists()
    writer = data.write.format("delta").mode(mode)
    for key, value in spec.options.items():
        writer = writer.option(key, str(value))
    if spec.partition_by and (mode == "overwrite" or not exists):
        writer = writer.partitionBy(*spec.partition_by)
    if mode == "append" and spec.merge_schema:
        writer = writer.option("mergeSchema", "true")
    if mode == "overwrite" and exists:
        if replace_where is not None or dynamic_partitions:
            if replace_where is not None:
                writer = writer.option("replaceWhere", replace_where)
            else:
                writer = writer.option("partitionOverwriteMode", "dynamic")
            if spec.merge_schema:
                writer = writer.option("mergeSchema", "true")
        elif spec.overwrite_schema:
            # A full overwrite rebuilds the table from code: its schema follows the data.
            writer = writer.option("overwriteSchema", "true")
    if table.address.is_catalog:
        writer.saveAsTable(table.address.catalog_name)
    else:
        writer.save(table.address.path)
    return {"mode": mode, "created": not exists, "replace_where": replace_where}


def overwrite(table: Table, data: DataFrame, spec: WriteSpec) -> dict[str, Any]:
    return write(table, data, "overwrite", spec)


def append(table: Table, data: DataFrame, spec: WriteSpec) -> dict[str, Any]:
    if sail.applies(table.engine):
        data = sail.nullable_schema(data)
    return write(table, data, "append", spec)


def replace_where(table: Table, data: DataFrame, predicate: str, spec: WriteSpec) -> dict:
    """Replace the rows matching ``predicate`` with ``data`` (every row must match it)."""
    if sail.applies(table.engine):
        sail.check_replace_where(table.name, data, predicate)
        if table.engine.is_sail and table.exists():
            return sail.replace_rows(table, data, predicate, spec.merge_schema)
    return write(table, data, "overwrite", spec, replace_where=predicate)


def delete(table: Table, predicate: str) -> dict[str, Any]:
    """Delete the rows matching ``predicate`` (SQL ``DELETE``: one commit, every engine)."""
    table.engine.spark().sql(f"DELETE FROM {table.address.sql_identifier()} WHERE {predicate}")
    return {"mode": "delete", "predicate": predicate}


def overwrite_partitions(table: Table, data: DataFrame, spec: WriteSpec) -> dict[str, Any]:
    """Replace the partitions ``data`` has rows in; the others stay as they are."""
    if not table.exists():
        return write(table, data, "overwrite", spec)
    values = distinct_values(data, spec.partition_by)
    if not values:
        logger.info("%s: empty batch, no partition replaced", table.name)
        return {"mode": "overwrite_partitions", "partitions": 0}
    if table.engine.is_sail:
        predicate = sail.partitions_predicate(spec.partition_by, values, dialect="datafusion")
        metrics = sail.replace_rows(table, data, predicate, spec.merge_schema)
    elif sail.applies(table.engine):
        predicate = sail.partitions_predicate(spec.partition_by, values)
        metrics = write(table, data, "overwrite", spec, replace_where=predicate)
    else:
        metrics = write(table, data, "overwrite", spec, dynamic_partitions=True)
    metrics.update(mode="overwrite_partitions", partitions=len(values))
    return metrics
