"""The upsert's in-batch dedup, ``latest_per_key``, called directly (real Sail).

Which row of a key survives must never depend on the batch's row order: the sequence first,
then the tiebreak columns, then the content hash (the stored one when rows carry it). The
storage columns never reach the result.
"""

from __future__ import annotations

import pytest

from nyc_lakehouse.delta.dedup import check_batch, latest_per_key, latest_per_key_staged
from nyc_lakehouse.delta.errors import DeltaTableError
from nyc_lakehouse.delta.identity import (
    ROW_HASH_COLUMN,
    ROW_ID_COLUMN,
    row_hash_expression,
    with_row_identity,
)

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


# check_batch ---------------------------------------------------------------------------------
def test_null_keys_are_refused_with_the_whole_reason(spark):
    rows = [(None, 1, 1, "a"), (None, 2, 1, "b"), (3, 1, 1, "c")]
    with pytest.raises(DeltaTableError) as raised:
        check_batch("silver.t", spark.createDataFrame(rows, SCHEMA), ["k"], "seq")
    assert str(raised.value) == (
        "silver.t: 2 row(s) with a null key ['k'] cannot be upserted (null never matches, so "
        "every rerun would insert them again). Quarantine or fix them upstream."
    )
    assert check_batch("silver.t", spark.createDataFrame(rows[2:], SCHEMA), ["k"], "seq") == 1


def test_unsequenced_conflicts_show_at_most_five_examples(spark):
    rows = [(k, 1, 1, payload) for k in range(7) for payload in ("x", "y")]
    with pytest.raises(DeltaTableError, match="no sequence_column says which is the latest") as e:
        check_batch("silver.t", spark.createDataFrame(rows, SCHEMA), ["k", "seq"], None)
    assert str(e.value).count("'count': 2") == 5


# latest_per_key_staged -----------------------------------------------------------------------
def test_staged_ranking_uses_tiebreaks_and_a_reused_scratch_folder(spark, tmp_path):
    rows = [
        (1, 2, 1, "low rank"),
        (1, 2, 5, "high rank"),
        (1, 1, 9, "old"),
        (2, 1, 0, "only"),
    ]
    scratch = str(tmp_path / "losers")
    for attempt in range(2):  # the second run overwrites the first run's losers
        staged = with_row_identity(spark.createDataFrame(rows, SCHEMA))
        kept, dropped = latest_per_key_staged(staged, ["k"], "seq", ["rank"], scratch=scratch)
        assert dropped == 2, attempt
        assert sorted((r["k"], r["payload"]) for r in kept.collect()) == [
            (1, "high rank"),
            (2, "only"),
        ]


def test_the_tiebreak_decides_before_the_content_hash(spark):
    # per key, two rows tied on the sequence: the higher rank must win even where its content
    # hash is the lower one (checked below, so the hash alone could not pass this test)
    rows = [(k, 1, rank, f"p{k}-{rank}") for k in range(8) for rank in (1, 5)]
    data = spark.createDataFrame(rows, SCHEMA)
    hashes = {
        r["payload"]: r["h"]
        for r in data.select("payload", row_hash_expression(data).alias("h")).collect()
    }
    assert any(hashes[f"p{k}-5"] < hashes[f"p{k}-1"] for k in range(8))
    assert _pick(spark, rows, tiebreaks=["rank"]) == {k: f"p{k}-5" for k in range(8)}
