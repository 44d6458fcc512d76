"""Deduplicating an upsert batch: one row per key, the latest by the sequence column.

Ranking is deterministic: ties on the sequence are broken by the ``tiebreak_columns`` (highest
first), then by a hash of the row's content, so a rerun or a replay keeps the same row whatever
the row order. Engine-independent Spark DataFrame code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.identity import (
    ROW_HASH_COLUMN,
    ROW_ID_COLUMN,
    STORAGE_COLUMNS,
    row_hash_expression,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_LOSES = "__nyc_loses"


def distinct_values(data: DataFrame, columns: Sequence[str]) -> list[tuple]:
    """The distinct value combinations of ``columns`` in ``data`` (partition values)."""
    rows = data.select(*columns).distinct().collect()
    return [tuple(row[c] for c in columns) for row in rows]


def check_batch(name: str, batch: DataFrame, keys: Sequence[str], sequence: str | None) -> int:
    """Reject rows a MERGE cannot place; return the batch's row count.

    A null key never matches, so every rerun would insert the row again; without a sequence
    column two different rows of one key leave no way to tell which is the latest.
    """
    from pyspark.sql import functions as F

    any_null_key = F.greatest(*[F.col(k).isNull().cast("int") for k in keys], F.lit(0))
    stats = batch.agg(
        F.count(F.lit(1)).alias("rows"), F.sum(any_null_key).alias("null_keys")
    ).first()
    rows, null_keys = int(stats["rows"]), int(stats["null_keys"] or 0)
    if null_keys:
        raise DeltaTableError(
            f"{name}: {null_keys} row(s) with a null key {list(keys)} cannot be "
            "upserted (null never matches, so every rerun would insert them again). "
            "Quarantine or fix them upstream."
        )
    if sequence is None:
        conflicts = batch.groupBy(*keys).count().filter("count > 1").limit(5).collect()
        if conflicts:
            raise DeltaTableError(
                f"{name}: the batch has different rows for the same key "
                f"{list(keys)} and no sequence_column says which is the latest. "
                f"Examples: {[row.asDict() for row in conflicts]}"
            )
    return rows


# Losing rows up to which the stored loser ids are collected into one hash table (the planner's
# limits, 128k rows / 1 MB, applied to the estimate of an always-true filter: about 20% of the
# logged rows), with a margin.
COLLECTED_LOSERS_MAX = 400_000


def latest_per_key_staged(
    staged: DataFrame,
    keys: Sequence[str],
    sequence: str,
    tiebreaks: Sequence[str] = (),
    scratch: str | None = None,
) -> tuple[DataFrame, int]:
    """:func:`latest_per_key` for a stored batch with :func:`with_row_identity` columns.

    Also returns how many rows it drops. Duplicated keys are rare (re-sent versions, the
    incremental overlap), so they are found and ranked on the narrow columns (keys, sequence,
    tiebreaks, row hash and id), and a single join on the row id drops the losing rows. A
    window over the whole batch would sort every wide row; ranking the repeated keys' wide
    rows and joining them back would read the batch twice.

    With a ``scratch`` folder the losing row ids are written there as a Delta table first: Sail
    ignores broadcast hints, but its planner collects a join side the Delta log says is small
    instead of shuffling the wide batch against it.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    narrow = staged.select(*keys, sequence, *tiebreaks, ROW_HASH_COLUMN, ROW_ID_COLUMN)
    duplicated = narrow.groupBy(*keys).count().filter("count > 1")
    stats = duplicated.agg(
        F.count(F.lit(1)).alias("keys"), F.sum(F.col("count") - 1).alias("repeats")
    ).first()
    if not stats["keys"]:
        return staged, 0
    order = Window.partitionBy(*[F.col(k) for k in keys]).orderBy(
        F.col(sequence).desc_nulls_last(),
        *[F.col(c).desc_nulls_last() for c in tiebreaks],
        F.col(ROW_HASH_COLUMN).desc(),
        F.col(ROW_ID_COLUMN),
    )
    rank = "__nyc_upsert_rank"
    # The small side goes on the left: without table statistics (Sail runs with them off) the
    # engine builds its hash table from the left input.
    losers = (
        duplicated.select(*keys)
        .join(narrow, list(keys), "inner")
        .withColumn(rank, F.row_number().over(order))
        .where(F.col(rank) > 1)
        .select(ROW_ID_COLUMN, F.lit(True).alias(_LOSES))
    )
    repeats = int(stats["repeats"])
    if scratch is not None:
        losers.write.format("delta").mode("overwrite").save(scratch)
        # The (always true) filter is only a size hint: the planner estimates a filtered scan
        # at a fraction of the logged row count, so up to a few hundred thousand losing rows
        # are still collected rather than shuffled against. Above that it shuffles (slower).
        losers = staged.sparkSession.read.format("delta").load(scratch).where(F.col(_LOSES))
        if repeats <= COLLECTED_LOSERS_MAX:
            # Collected, the losing ids become the hash table whichever side they are on, and
            # an anti join passes the kept rows straight through; the outer join below copies
            # every wide row before its null filter.
            kept = staged.join(losers.select(ROW_ID_COLUMN), ROW_ID_COLUMN, "left_anti")
            return kept.select(*staged.columns), repeats
    # Too many to collect (or not stored): shuffled, the side on the left builds the hash table,
    # and without statistics for the batch (Parquet scans have none here) that must be the
    # losers' side, whatever the join type allows.
    kept = losers.join(staged, ROW_ID_COLUMN, "right").where(F.col(_LOSES).isNull())
    return kept.select(*staged.columns), repeats


def latest_per_key(
    data: DataFrame, keys: Sequence[str], sequence: str | None, tiebreaks: Sequence[str] = ()
) -> DataFrame:
    """One row per key: the highest sequence value (nulls last); exact duplicates collapse.

    Ties on the sequence are broken by the ``tiebreaks`` columns (highest first), then by the
    row's content hash, so the pick is deterministic and reruns give the same table: the stored
    :data:`ROW_HASH_COLUMN` when the rows carry one (it leaves out what varies from run to run),
    else the same hash computed here. :func:`latest_per_key_staged` ranks the same way, so
    every engine keeps the same row. The storage columns are dropped from the result.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    storage = [c for c in STORAGE_COLUMNS if c in data.columns]
    if sequence is None:
        return data.drop(*storage).dropDuplicates()
    content = (
        F.col(ROW_HASH_COLUMN)
        if ROW_HASH_COLUMN in data.columns
        else row_hash_expression(data)  # map columns aside: Spark cannot hash them
    )
    rank_col = "__nyc_upsert_rank"
    order = Window.partitionBy(*[F.col(k) for k in keys]).orderBy(
        F.col(sequence).desc_nulls_last(),
        *[F.col(c).desc_nulls_last() for c in tiebreaks],
        content.desc(),
    )
    # row_number keeps one row per key, so exact duplicates need no dropDuplicates pass.
    return (
        data.withColumn(rank_col, F.row_number().over(order))
        .filter(F.col(rank_col) == 1)
        .drop(rank_col, *storage)
    )
