"""Every Sail defect the project works around, in one place, applied on Sail only.

Each workaround names the engine version it was seen on and the test that reproduces the defect
(``tests/datasets/test_sail_defects.py``: each test first shows the defect on the installed
Sail, so a Sail upgrade that fixes one fails that test and says which workaround can go).

Seen on pysail 0.7.2 (Spark Connect client pyspark 4.0.1) with deltalake 1.6.6 (delta-rs merges
the local engine's tables, so two defects are Sail and delta-rs together).

=====================================  ==========================================================
defect                                 workaround (here)
=====================================  ==========================================================
Parquet statistics reused after casts  :data:`REQUIRED_ENV` (statistics off at server start)
dynamic partition overwrite            :func:`partitions_predicate` (``replaceWhere`` literals)
``replaceWhere`` not checked           :func:`check_replace_where`
``replaceWhere`` fails on tables with   :func:`replace_rows` (delta-rs writes the replacement)
timestamp columns
null partition folders misfiled        :func:`named_null_partitions`
NOT NULL columns after a delta-rs      :func:`relax_not_null`
merge unreadable
field metadata breaks delta-rs merges  :func:`merge_source`, :func:`add_new_columns`
NOT NULL columns drop new columns in   :func:`nullable_schema`
``mergeSchema`` appends
Delta timestamps' calendar fields      :func:`in_session_time_zone`
in UTC
=====================================  ==========================================================
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.address import quote_identifier
from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.sql import partition_predicate

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from nyc_lakehouse.delta.engines import Engine
    from nyc_lakehouse.delta.table import Table

SAIL_VERSION_SEEN = "pysail 0.7.2"

REQUIRED_ENV = {"SAIL_EXECUTION__COLLECT_STATISTICS": "false"}
"""Set before the Sail server starts (``nyc_lakehouse.spark``).

With Parquet statistics on, Sail reuses a string column's min/max after a cast to a number and
returns wrong results without an error: ``min(cast(x as double))`` = 1000005 > max = 999999.
Turning statistics off costs nothing measurable, so it is forced, not a default.
Seen on pysail 0.7.2; test: ``test_statistics_survive_a_cast_unless_turned_off``.
"""

HIVE_NULL_FOLDER = "__HIVE_DEFAULT_PARTITION__"


def applies(engine: Engine) -> bool:
    """Whether Sail's workarounds apply: on ``sail``, and on a ``remote`` server without Delta
    Connect, which may be Sail (it reports the Spark version its client speaks, so it cannot be
    told apart). Each one below is correct on any engine; elsewhere the engine's own way is
    used."""
    return engine.is_sail or (engine.mode == "remote" and not engine.has_delta_api)


def partitions_predicate(
    partition_by: Sequence[str], values: Sequence[tuple], dialect: str = "spark"
) -> str:
    """``overwrite_partitions`` as ``replaceWhere``: the batch's partition values as literals.

    Sail silently overwrites the whole table with ``partitionOverwriteMode=dynamic``. Seen on
    pysail 0.7.2; test: ``test_dynamic_partition_overwrite_replaces_the_whole_table``.
    """
    return partition_predicate(partition_by, values, dialect=dialect)


def check_replace_where(name: str, data: DataFrame, predicate: str) -> None:
    """Refuse rows outside a ``replaceWhere`` predicate before writing anything.

    Sail writes them without complaint (Spark's Delta writer refuses them), so they would land
    outside the replaced range. Seen on pysail 0.7.2; test:
    ``test_replace_where_writes_rows_outside_the_predicate``.
    """
    sample = data.filter(f"NOT coalesce(({predicate}), false)").limit(5).collect()
    if sample:
        raise DeltaTableError(
            f"{name}: rows do not match replace_where predicate "
            f"{predicate!r} (they would be written outside the replaced range). "
            f"Examples: {[row.asDict() for row in sample]}"
        )


def replace_rows(table: Table, data: DataFrame, predicate: str, merge_schema: bool) -> dict:
    """``replaceWhere`` written by delta-rs: the rows matching ``predicate`` (DataFusion SQL)
    give way to ``data`` in one commit.

    Sail's own ``replaceWhere`` (and so ``overwrite_partitions``) fails on any table with a
    timestamp column: the rewrite unions the stored ``Timestamp(UTC)`` rows with the batch's
    ``Timestamp(Etc/UTC)`` and stops with ``UnionExec/InterleaveExec requires all inputs to
    have the same data type``. The batch is staged as Parquet once (Sail runs its plan a single
    time) and streamed to delta-rs with :func:`merge_source`'s schema. Seen on pysail 0.7.2;
    test: ``test_replace_where_fails_on_tables_with_timestamp_columns``.
    """
    import pyarrow.dataset as pads
    from deltalake import write_deltalake

    folder = tempfile.mkdtemp(prefix="nyc-delta-replace-")
    try:
        data.write.mode("overwrite").parquet(folder)
        target = table.delta_rs()
        if any(name.endswith(".parquet") for name in _files(folder)):
            reader = merge_source(pads.dataset(folder, format="parquet"))
        else:  # an empty batch leaves no file: replace the rows with none
            reader = _empty_reader(target)
        added = add_new_columns(target, reader.schema) if merge_schema else []
        write_deltalake(target, reader, mode="overwrite", predicate=predicate)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"mode": "overwrite", "engine": "delta_rs", "replace_where": predicate, "added": added}


def _files(folder: str) -> list[str]:
    import os

    return os.listdir(folder)


def _empty_reader(target: Any) -> Any:
    import pyarrow as pa

    schema = pa.schema(target.schema().to_arrow())
    return pa.RecordBatchReader.from_batches(schema, iter(()))


def named_null_partitions(data: DataFrame, partition_by: Sequence[str]) -> DataFrame:
    """Partition columns as text with an explicit Hive null folder, for Sail's Parquet writer.

    Sail's partitioned writer names a null value's folder after the bytes under the null slot,
    which a CASE fills with its other branch's value: a row with no month was filed (and loaded
    into the table) under another row's month. The columns leave the files either way; the
    folder names become the partition values delta-rs commits. Seen on pysail 0.7.2; test:
    ``test_partitioned_parquet_writer_misfiles_null_partition_values``.
    """
    from pyspark.sql import functions as F

    for column in partition_by:
        data = data.withColumn(
            column, F.coalesce(F.col(column).cast("string"), F.lit(HIVE_NULL_FOLDER))
        )
    return data


def nullable_schema(data: DataFrame) -> DataFrame:
    """The same rows under a schema declared from DDL (all columns nullable).

    Sail writes columns it knows are never null (``F.lit`` columns) as NOT NULL, and once a Delta
    table has one, later ``mergeSchema`` appends silently drop new columns: a new source column
    would be lost. Declaring the schema through an empty DataFrame makes every column nullable,
    as Spark's Delta writer does. Seen on pysail 0.7.2; test:
    ``test_not_null_columns_make_merge_schema_appends_drop_new_columns``.
    """
    ddl = ", ".join(f"{quote_identifier(name)} {kind}" for name, kind in data.dtypes)
    return data.sparkSession.createDataFrame([], ddl).unionByName(data)


def in_session_time_zone(column: Column) -> Column:
    """The same instant, with calendar fields (hour, date, month...) in the session time zone.

    Sail evaluates ``hour``/``to_date``/``date_format``/``dayofweek`` of a timestamp read back
    from a **Delta** table in UTC, ignoring the session time zone (freshly parsed values and
    Parquet reads use it): 23:10 New York time came back as hour 3 of the next day. A cast to
    ``timestamp_ltz`` (the same type in Spark, so the same instant) makes Sail tag the value
    with the session zone. ``Table.read`` applies it to every timestamp column it loads where
    :func:`applies`, so nodes use plain Spark functions. Seen on pysail 0.7.2; test:
    ``test_calendar_fields_of_delta_timestamps_ignore_the_session_zone``.
    """
    return column.cast("timestamp_ltz")


def with_session_time_zone(data: DataFrame) -> DataFrame:
    """:func:`in_session_time_zone` on every zoned timestamp column of a Delta read."""
    from pyspark.sql import functions as F

    zoned = {name for name, kind in data.dtypes if kind == "timestamp"}
    if not zoned:
        return data
    return data.select(
        *[in_session_time_zone(F.col(c)).alias(c) if c in zoned else F.col(c) for c in data.columns]
    )


# --------------------------------------------------------------------- Sail tables + delta-rs
def relax_not_null(table: Any) -> bool:
    """Make the target's top-level columns nullable before a delta-rs merge; False if it can't.

    Sail writes DataFrame columns it knows are never null as NOT NULL (Spark's Delta writer
    makes every column nullable). delta-rs 1.6 merge writes strings as ``Utf8View``, and Sail
    then fails to read a NOT NULL string column from those files ("Cannot cast column from
    'Utf8View' (physical) to 'Utf8' (logical)"); with a nullable column it reads fine. Dropping
    NOT NULL (one commit per column, once per table) matches what Spark would have created.
    Nested NOT NULL fields cannot be relaxed this way: the caller uses SQL MERGE. Seen on pysail
    0.7.2 + deltalake 1.6.6; test: ``test_not_null_string_column_unreadable_after_delta_rs_merge``.
    """
    fields = table.schema().fields
    if any(_has_non_nullable_children(field.type) for field in fields):
        return False
    for field in fields:
        if not field.nullable:
            table.alter.drop_column_not_null(field.name)
    return True


def _has_non_nullable_children(data_type: Any) -> bool:
    kind = getattr(data_type, "type", None)
    if kind == "struct":
        return any(
            not child.nullable or _has_non_nullable_children(child.type)
            for child in data_type.fields
        )
    if kind == "array":
        return not data_type.contains_null or _has_non_nullable_children(data_type.element_type)
    if kind == "map":
        return (
            not data_type.value_contains_null
            or _has_non_nullable_children(data_type.key_type)
            or _has_non_nullable_children(data_type.value_type)
        )
    return False


def merge_source(staged: Any, drop: Sequence[str] = ()) -> Any:
    """Stream a Parquet batch Sail staged to delta-rs as Arrow batches, with the schema it needs.

    * Zoned timestamps become UTC: Sail tags Parquet instants with the session zone
      (America/New_York); the instant is the same, but Delta stores ``timestamp[us, UTC]``.
      Zone-less timestamps are Spark ``TIMESTAMP_NTZ`` and stay as they are.
    * Field metadata is dropped: Sail tags every Parquet field with ``SPARK::metadata::json``,
      and delta-rs 1.6 merge with schema evolution then treats the columns as changed and
      writes the copied (unmatched) target rows as all nulls: silent data loss.

    Seen on pysail 0.7.2 + deltalake 1.6.6; test:
    ``test_delta_rs_merge_with_sail_field_metadata_corrupts_copied_rows``.
    """
    import pyarrow as pa

    fields = []
    for field in staged.schema:
        if field.name in drop:
            continue
        field = field.remove_metadata()
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            field = field.with_type(pa.timestamp(field.type.unit, tz="UTC"))
        fields.append(field)
    schema = pa.schema(fields)
    batches = (
        batch.select(schema.names).cast(schema)
        for batch in staged.to_batches(columns=schema.names, batch_size=65_536)
    )
    return pa.RecordBatchReader.from_batches(schema, batches)


def add_new_columns(table: Any, source_schema: Any) -> list[str]:
    """Add the merge source's new columns to the target first; return their names.

    delta-rs 1.6 ``merge(merge_schema=True)`` compares field metadata too: when the target's
    fields carry Sail's ``SPARK::metadata::json`` (Sail copies it into a table it writes from a
    Delta read) and the source's do not, it rewrites the schema and fills the string columns of
    the target rows it only *copies* with the source's values: silent corruption. Adding the new
    columns explicitly and merging without evolution keeps both behaviours right. Seen on pysail
    0.7.2 + deltalake 1.6.6; test:
    ``test_delta_rs_merge_with_sail_field_metadata_corrupts_copied_rows``.
    """
    import pyarrow as pa
    from deltalake import Schema

    existing = {field.name for field in table.schema().fields}
    new_fields = [field for field in source_schema if field.name not in existing]
    if new_fields:
        # nullable: the rows already in the table have no value for them
        nullable = pa.schema([field.with_nullable(True) for field in new_fields])
        table.alter.add_columns(list(Schema.from_arrow(nullable).fields))
    return [field.name for field in new_fields]
