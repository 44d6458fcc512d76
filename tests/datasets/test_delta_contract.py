"""The Delta dataset's contract, the same on every engine: ``sail``, ``jvm`` and ``remote``.

Every save mode, upsert order and ties, schema evolution, partitions, time travel, maintenance
and bad input, with the same data and the same expected tables on each engine (``engine``
fixture, tests/engines.py). Each engine writes with its own writer family (delta-rs on Sail,
delta-spark's merge builder on JVM Spark, Delta Connect or SQL on a remote server), so these
tests are what makes them interchangeable. Small on purpose: a JVM Delta commit costs about a
second on two cores.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from kedro.io.core import DatasetError

from nyc_lakehouse.datasets import DeltaTableDataset

SCHEMA = "id long, m string, v string, seq long"


@pytest.fixture
def table(lake: Path, engine):
    """A dataset factory on ``<lake>/silver/<name>`` (the engine under test is current)."""

    def factory(name: str = "events", load_args: dict | None = None, **save_args):
        return DeltaTableDataset(
            table=f"silver.{name}", root=str(lake), load_args=load_args, save_args=save_args
        )

    return factory


def frame(engine, rows, schema: str = SCHEMA):
    return engine.spark.createDataFrame(rows, schema)


def values(ds: DeltaTableDataset) -> dict:
    rows = [r.asDict() for r in ds.load().collect()]
    by_id = {r["id"]: (r["v"], r["seq"]) for r in rows}
    assert len(by_id) == len(rows), f"duplicate ids in {rows}"
    return by_id


def files_by_month(ds: DeltaTableDataset) -> dict[str, set[str]]:
    files: dict[str, set[str]] = {}
    actions = pa.table(DeltaTable(ds.address.path).get_add_actions(flatten=True)).to_pylist()
    for action in actions:
        files.setdefault(action["partition.m"], set()).add(action["path"])
    return files


# ------------------------------------------------------------------ overwrite, append, reads
def test_overwrite_creates_replaces_and_follows_the_schema(engine, table):
    ds = table()
    assert not ds.exists()
    with pytest.raises(DatasetError, match=r"'silver\.events' does not exist"):
        ds.load()
    ds.save(frame(engine, [(1, "a", "x", 1), (2, "a", "y", 1)]))
    assert ds.exists() and values(ds) == {1: ("x", 1), 2: ("y", 1)}
    ds.save(frame(engine, [(3, 2.5)], "id long, w double"))
    assert ds.load().columns == ["id", "w"]
    assert [r["id"] for r in ds.load().collect()] == [3]
    preview = ds.preview(nrows=5)
    assert preview["columns"] == ["id", "w"] and preview["data"] == [[3, 2.5]]


def test_append_adds_rows_and_new_columns(engine, table):
    ds = table(mode="append", partition_by=["m"])
    ds.save(frame(engine, [(1, "a", "x", 1)]))
    ds.save(
        frame(engine, [(2, "b", "y", 1, "new")], SCHEMA + ", note string").select(
            "note",
            "id",
            "m",
            "v",
            "seq",  # column order does not matter, names do
        )
    )
    rows = {r["id"]: r["note"] for r in ds.load().collect()}
    assert rows == {1: None, 2: "new"}
    assert DeltaTable(ds.address.path).metadata().partition_columns == ["m"]


def test_time_travel_history_and_versions(engine, table):
    ds = table(mode="append")
    ds.save(frame(engine, [(1, "a", "x", 1)]))
    time.sleep(1.1)  # commit timestamps have millisecond precision: keep versions apart
    between = ds.history()[0]["timestamp"] + 500  # ms since the epoch, after version 0
    time.sleep(1.1)
    ds.save(frame(engine, [(2, "a", "y", 1)]))
    history = ds.history()
    assert [h["version"] for h in history] == [1, 0] and ds.version() == 1
    assert len(ds.history(limit=1)) == 1
    assert set(values(table(load_args={"version": 0}))) == {1}
    as_of = dt.datetime.fromtimestamp(between / 1000, dt.UTC)
    for value in (as_of.isoformat(), as_of):
        loaded = table(load_args={"timestamp": value}).load()
        assert [r["id"] for r in loaded.collect()] == [1], value
    with pytest.raises(DatasetError, match=r"has no version 5 \(versions 0..1\)"):
        DeltaTableDataset(path=ds.address.path, load_args={"version": 5}).load()


# ------------------------------------------------------------------ replace_where, partitions
def _three_months(engine, ds) -> None:
    ds.save(frame(engine, [(1, "2024-01", "a", 1), (2, "2024-02", "b", 1), (3, "2024-03", "c", 1)]))


def test_replace_where_replaces_only_matching_rows_and_refuses_others(engine, table):
    _three_months(engine, table(partition_by=["m"]))
    ds = table(mode="replace_where", predicate="m = '2024-02'")
    ds.save(frame(engine, [(20, "2024-02", "B", 1), (21, "2024-02", "B", 1)]))
    assert sorted(values(ds)) == [1, 3, 20, 21]
    version = ds.version()
    with pytest.raises(DatasetError, match="(?i)replace.?where|do not match|conform"):
        ds.save(frame(engine, [(22, "2024-02", "B", 1), (99, "2024-03", "oops", 1)]))
    assert ds.version() == version and sorted(values(ds)) == [1, 3, 20, 21]


def test_overwrite_partitions_replaces_only_the_batch_partitions(engine, table):
    ds = table(mode="overwrite_partitions", partition_by=["m"])
    _three_months(engine, ds)
    ds.save(frame(engine, [(20, "2024-02", "B", 1), (40, "2024-04", "d", 1)]))
    assert ds.last_save_metrics["partitions"] == 2
    assert sorted(values(ds)) == [1, 3, 20, 40]
    version = ds.version()
    ds.save(frame(engine, []))  # an empty batch replaces nothing
    assert ds.version() == version and sorted(values(ds)) == [1, 3, 20, 40]


def test_replacing_rows_keeps_timestamps_exact(engine, table):
    stamped = "id long, m string, at timestamp"
    at = dt.datetime(2024, 1, 1, 23, 10, 0, 123456)  # New York evening: the next day in UTC
    later = dt.datetime(2024, 3, 10, 3, 30)  # the first hour of daylight saving time
    table("stamped", partition_by=["m"]).save(
        frame(engine, [(1, "2024-01", at), (2, "2024-02", at), (3, "2024-03", at)], stamped)
    )
    replace = table("stamped", mode="replace_where", predicate="m = '2024-02'")
    replace.save(frame(engine, [(20, "2024-02", later)], stamped))
    partitions = table("stamped", mode="overwrite_partitions", partition_by=["m"])
    partitions.save(frame(engine, [(30, "2024-03", later)], stamped))
    loaded = {r["id"]: r["at"] for r in replace.load().collect()}
    assert loaded == {1: at, 20: later, 30: later}
    replace.save(frame(engine, [], stamped))  # an empty replacement deletes the matching rows
    assert sorted(r["id"] for r in replace.load().collect()) == [1, 30]


# ------------------------------------------------------------------ upsert
def test_upsert_latest_wins_in_order_and_across_batches(engine, table):
    ds = table(mode="upsert", keys=["id"], sequence_column="seq")
    ds.save(frame(engine, [(1, "a", "v1", 1), (2, "a", "v1", 5), (3, "a", "none", None)]))
    assert ds.last_save_metrics["created"] is True
    ds.save(
        frame(
            engine,
            [
                (1, "a", "v3", 3),  # newer: wins
                (1, "a", "v2", 2),  # older in the same batch: loses
                (2, "a", "old", 4),  # older than the stored row: ignored
                (3, "a", "seq", 1),  # a stored row without sequence is replaced
                (4, "a", "new", 1),  # inserted
                (4, "a", "new", 1),  # an exact duplicate collapses
            ],
        )
    )
    assert ds.last_save_metrics["created"] is False
    assert values(ds) == {1: ("v3", 3), 2: ("v1", 5), 3: ("seq", 1), 4: ("new", 1)}
    ds.save(frame(engine, [(2, "a", "correction", 5), (1, "a", "late", None)]))
    # an equal sequence replaces (a re-sent correction); no sequence never replaces one
    assert values(ds) == {1: ("v3", 3), 2: ("correction", 5), 3: ("seq", 1), 4: ("new", 1)}


def test_upsert_ties_pick_the_same_row_on_every_engine(engine, table):
    """Same sequence: the tiebreak column decides, then the row's content hash (Spark's
    xxhash64), never the row order, so a rerun or another engine keeps the same row."""
    ties = [(1, "a", "x", 7, 1), (1, "a", "y", 7, 2), (2, "a", "p", 7, 1), (2, "a", "q", 7, 1)]
    schema = SCHEMA + ", tiebreak int"
    picks = set()
    for attempt, rows in enumerate([ties, list(reversed(ties))]):
        ds = table(
            f"ties{attempt}",
            mode="upsert",
            keys=["id"],
            sequence_column="seq",
            tiebreak_columns=["tiebreak"],
        )
        ds.save(frame(engine, rows, schema))
        picks.add(tuple(sorted(values(ds).items())))
    assert picks == {((1, ("y", 7)), (2, ("p", 7)))}


def test_upsert_from_stored_rows_ranks_ties_by_their_stored_hash(engine, table):
    """Rows persisted with ``add_row_hash`` (leaving out a run-varying column) and ``add_row_id``
    keep the same row of a tie whatever the run and the row order, as plain rows do; the
    storage columns never reach the table."""
    ties = [(1, "a", "x", 7), (1, "a", "y", 7), (2, "a", "p", 7), (2, "a", "p", 7)]
    plain = table("plain", mode="upsert", keys=["id"], sequence_column="seq")
    plain.save(frame(engine, ties))
    for run, rows in enumerate([ties, list(reversed(ties))]):
        stored = table(f"stored{run}", add_row_id=True, add_row_hash={"exclude": ["run"]})
        stored.save(frame(engine, [(*r, run) for r in rows], SCHEMA + ", run int"))
        target = table(f"target{run}", mode="upsert", keys=["id"], sequence_column="seq")
        target.save(stored.load().drop("run"))
        assert set(target.load().columns) == {"id", "m", "v", "seq"}
        assert values(target) == values(plain)


def test_upsert_adds_new_columns(engine, table):
    ds = table(mode="upsert", keys=["id"], sequence_column="seq")
    ds.save(frame(engine, [(1, "a", "v1", 1), (2, "a", "v1", 1)]))
    ds.save(
        frame(engine, [(2, "a", "v2", 2, "hi"), (3, "a", "v1", 1, "new")], SCHEMA + ", note string")
    )
    notes = {r["id"]: (r["v"], r["note"]) for r in ds.load().collect()}
    assert notes == {1: ("v1", None), 2: ("v2", "hi"), 3: ("v1", "new")}


def test_partitioned_upsert_rewrites_only_the_touched_partitions(engine, table):
    ds = table(mode="upsert", keys=["id"], sequence_column="seq", partition_by=["m"])
    months = ["2024-01", "2024-02", "2024-03"]
    ds.save(frame(engine, [(i, months[i % 3], "v1", 1) for i in range(30)]))
    before = files_by_month(ds)
    assert sorted(before) == months
    ds.save(frame(engine, [(1, "2024-02", "v2", 2), (100, "2024-02", "new", 1)]))
    assert "2024-02" in ds.last_save_metrics["partition_filter"]
    after = files_by_month(ds)
    assert after["2024-01"] == before["2024-01"] and after["2024-03"] == before["2024-03"]
    assert after["2024-02"] != before["2024-02"]
    rows = values(ds)
    assert len(rows) == 31 and rows[1] == ("v2", 2) and rows[4] == ("v1", 1)


def test_upsert_bad_input_is_refused_and_nothing_is_written(engine, table):
    ds = table(mode="upsert", keys=["id"], sequence_column="seq")
    ds.save(frame(engine, [(1, "a", "v1", 1)]))
    version = ds.version()
    with pytest.raises(DatasetError, match="null key"):
        ds.save(frame(engine, [(None, "a", "x", 1), (2, "a", "y", 1)]))
    with pytest.raises(DatasetError, match=r"\['nope'\] are not in the data"):
        table(mode="upsert", keys=["nope"]).save(frame(engine, [(1, "a", "x", 1)]))
    without_sequence = table(mode="upsert", keys=["id"])
    with pytest.raises(DatasetError, match="no sequence_column"):
        without_sequence.save(frame(engine, [(1, "a", "x", 1), (1, "a", "y", 1)]))
    assert ds.version() == version and values(ds) == {1: ("v1", 1)}


# ------------------------------------------------------------------ maintenance
def test_optimize_compacts_and_vacuum_keeps_the_table_readable(engine, table):
    ds = table(mode="append")
    for i in range(3):
        ds.save(frame(engine, [(i, "a", "x", 1)]))
    files = len(DeltaTable(ds.address.path).file_uris())
    assert files >= 3
    ds.optimize()
    assert len(DeltaTable(ds.address.path).file_uris()) < files
    assert "OPTIMIZE" in ds.history(limit=1)[0]["operation"]
    ds.vacuum()  # default retention: nothing young enough is removed
    assert sorted(values(ds)) == [0, 1, 2]
    assert set(values(table(load_args={"version": 0}))) == {0}
