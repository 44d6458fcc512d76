"""The upsert's in-batch dedup, ``latest_per_key``, called directly (real Sail).

Which row of a key survives must never depend on the batch's row order: the sequence first,
then the tiebreak columns, then the content hash (the stored one when rows carry it). The
storage columns never reach the result.
"""

from __future__ import annotations

from nyc_lakehouse.delta.dedup import latest_per_key
from nyc_lakehouse.delta.identity import ROW_HASH_COLUMN, ROW_ID_COLUMN, row_hash_expression

SCHEMA = "k int, seq int, rank int, payload string"


def _pick(spark, rows, tiebreaks=(), schema=SCHEMA):
    """The kept payload per key, for the rows in the given order and in reverse."""
    picks = []
    for ordered in (rows, list(reversed(rows))):
        data = spark.createDataFrame(ordered, schema).repartition(1)
        kept = latest_per_key(data, ["k"], "seq", tiebreaks)
        picks.append({r["k"]: r["payload"] for r in kept.collect()})
    assert picks[0] == picks[1], "the kept row depends on the row order"
    return picks[0]


def test_the_highest_sequence_wins_then_the_highest_tiebreak(spark):
    rows = [
        (1, 1, 9, "old"),
        (1, 2, 1, "new, low rank"),
        (1, 2, 5, "new, high rank"),
        (2, None, 9, "no sequence"),
        (2, 1, 0, "sequenced"),
    ]
    assert _pick(spark, rows, tiebreaks=["rank"]) == {1: "new, high rank", 2: "sequenced"}


def test_full_ties_go_to_the_highest_content_hash_whatever_the_order(spark):
    rows = [(1, 5, 0, name) for name in ("a", "b", "c", "d", "e", "f")]
    data = spark.createDataFrame(rows, SCHEMA)
    hashes = {
        r["payload"]: r["h"]
        for r in data.select("payload", row_hash_expression(data).alias("h")).collect()
    }
    expected = max(hashes, key=hashes.get)
    assert _pick(spark, rows) == {1: expected}


def test_a_stored_row_hash_ranks_ties_and_storage_columns_are_dropped(spark):
    schema = f"{SCHEMA}, {ROW_HASH_COLUMN} bigint, {ROW_ID_COLUMN} bigint"
    # the stored hashes favour "b", whatever the computed content hash would say
    rows = [(1, 5, 0, "a", 10, 1), (1, 5, 0, "b", 30, 2), (1, 5, 0, "c", 20, 3)]
    assert _pick(spark, rows, schema=schema) == {1: "b"}
    rows = [(1, 5, 0, "a", 30, 1), (1, 5, 0, "b", 10, 2), (1, 5, 0, "c", 20, 3)]
    assert _pick(spark, rows, schema=schema) == {1: "a"}
    kept = latest_per_key(spark.createDataFrame(rows, schema), ["k"], "seq")
    assert kept.columns == ["k", "seq", "rank", "payload"]


def test_without_a_sequence_exact_duplicates_collapse_and_storage_columns_go(spark):
    schema = f"{SCHEMA}, {ROW_ID_COLUMN} bigint"
    rows = [(1, 1, 1, "x", 1), (1, 1, 1, "x", 2), (2, 1, 1, "y", 3)]
    kept = latest_per_key(spark.createDataFrame(rows, schema), ["k"], None)
    assert kept.columns == ["k", "seq", "rank", "payload"]
    assert sorted(tuple(r) for r in kept.collect()) == [(1, 1, 1, "x"), (2, 1, 1, "y")]
