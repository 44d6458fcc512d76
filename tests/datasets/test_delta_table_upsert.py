"""Upsert: latest-wins MERGE on keys, through delta-rs (local default) and SQL MERGE (Databricks
path, run here on Sail), with the same expectations for both."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from kedro.io.core import DatasetError

from nyc_lakehouse.delta import writes

SCHEMA = "id long, m string, v string, seq long"


@pytest.fixture(params=["delta_rs", "sql"])
def merge_engine(request) -> str:
    return request.param


@pytest.fixture
def upsert_dataset(make_dataset, merge_engine):
    def factory(table: str = "silver.events", **save_args):
        args = {"mode": "upsert", "keys": ["id"], "merge_engine": merge_engine, **save_args}
        return make_dataset(table=table, save_args=args)

    return factory


def values(rows_by_key, ds) -> dict:
    return {k: (r["v"], r["seq"]) for k, r in rows_by_key(ds.load()).items()}


def test_first_save_creates_then_updates_and_inserts(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "v1", 1), (2, "a", "v1", 1)], SCHEMA))
    assert ds.last_save_metrics["created"] is True
    ds.save(spark.createDataFrame([(2, "a", "v2", 2), (3, "b", "v1", 1)], SCHEMA))
    assert ds.last_save_metrics["created"] is False
    assert values(rows_by_key, ds) == {1: ("v1", 1), 2: ("v2", 2), 3: ("v1", 1)}


def test_older_record_arriving_later_never_overwrites_newer(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "new", 5)], SCHEMA))
    ds.save(spark.createDataFrame([(1, "a", "old", 3), (2, "a", "other", 1)], SCHEMA))
    assert values(rows_by_key, ds) == {1: ("new", 5), 2: ("other", 1)}


def test_equal_sequence_replaces_the_stored_row(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "first", 5)], SCHEMA))
    ds.save(spark.createDataFrame([(1, "a", "correction", 5)], SCHEMA))
    assert values(rows_by_key, ds) == {1: ("correction", 5)}


def test_null_sequence_never_replaces_a_sequenced_row(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "seq", 5), (2, "a", "noseq", None)], SCHEMA))
    ds.save(spark.createDataFrame([(1, "a", "late", None), (2, "a", "now", 1)], SCHEMA))
    assert values(rows_by_key, ds) == {1: ("seq", 5), 2: ("now", 1)}


def test_duplicates_in_one_batch_resolve_to_the_latest(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(9, "a", "seed", 0)], SCHEMA))
    batch = [(1, "a", "v2", 2), (1, "a", "v3", 3), (1, "a", "v1", 1), (1, "a", "v3", 3)]
    ds.save(spark.createDataFrame(batch, SCHEMA))
    assert values(rows_by_key, ds)[1] == ("v3", 3)
    # Also on the first save (table creation).
    fresh = upsert_dataset(table="silver.fresh", sequence_column="seq")
    fresh.save(spark.createDataFrame(batch, SCHEMA))
    assert values(rows_by_key, fresh) == {1: ("v3", 3)}


def test_sequence_ties_in_a_batch_pick_the_same_row_every_time(spark, make_dataset, rows_by_key):
    batch = [(1, "a", "x", 7), (1, "a", "y", 7), (1, "a", "z", 7)]
    picks = set()
    for attempt in range(2):
        ds = make_dataset(
            table=f"silver.tie{attempt}",
            save_args={"mode": "upsert", "keys": ["id"], "sequence_column": "seq"},
        )
        ds.save(spark.createDataFrame(list(reversed(batch)) if attempt else batch, SCHEMA))
        picks.add(values(rows_by_key, ds)[1])
    assert len(picks) == 1


def test_rerun_of_the_same_batch_is_idempotent(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq", partition_by=["m"])
    batch = [(1, "a", "v1", 1), (2, "b", "v1", 1), (2, "b", "v0", 0)]
    ds.save(spark.createDataFrame(batch, SCHEMA))
    first = values(rows_by_key, ds)
    ds.save(spark.createDataFrame(batch, SCHEMA))
    ds.save(spark.createDataFrame(batch, SCHEMA))
    assert values(rows_by_key, ds) == first == {1: ("v1", 1), 2: ("v1", 1)}


def test_without_sequence_the_batch_wins(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset()
    ds.save(spark.createDataFrame([(1, "a", "old", 5)], SCHEMA))
    # Exact duplicates collapse silently.
    ds.save(spark.createDataFrame([(1, "a", "new", 1), (1, "a", "new", 1)], SCHEMA))
    assert values(rows_by_key, ds) == {1: ("new", 1)}


def test_without_sequence_conflicting_duplicates_are_an_error(spark, upsert_dataset):
    ds = upsert_dataset()
    ds.save(spark.createDataFrame([(1, "a", "old", 5)], SCHEMA))
    with pytest.raises(DatasetError, match="no sequence_column"):
        ds.save(spark.createDataFrame([(1, "a", "x", 1), (1, "a", "y", 1)], SCHEMA))


def test_null_keys_are_an_error_and_nothing_is_written(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "v1", 1)], SCHEMA))
    with pytest.raises(DatasetError, match="null key"):
        ds.save(spark.createDataFrame([(None, "a", "x", 1), (2, "a", "y", 1)], SCHEMA))
    assert values(rows_by_key, ds) == {1: ("v1", 1)}


def test_missing_key_column_is_an_error(spark, upsert_dataset):
    ds = upsert_dataset(keys=["nope"])
    with pytest.raises(DatasetError, match=r"\['nope'\] are not in the data"):
        ds.save(spark.createDataFrame([(1, "a", "v1", 1)], SCHEMA))


def test_upsert_needs_keys(make_dataset):
    with pytest.raises(DatasetError, match="needs save_args.keys"):
        make_dataset(save_args={"mode": "upsert"})


def test_new_column_is_added_not_dropped(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "v1", 1), (2, "a", "v1", 1)], SCHEMA))
    ds.save(
        spark.createDataFrame(
            [(2, "a", "v2", 2, "hello"), (3, "a", "v1", 1, "new")], SCHEMA + ", note string"
        )
    )
    rows = rows_by_key(ds.load())
    assert {k: r["note"] for k, r in rows.items()} == {1: None, 2: "hello", 3: "new"}


def test_empty_batch_changes_nothing(spark, upsert_dataset):
    ds = upsert_dataset(sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "v1", 1)], SCHEMA))
    version = ds.version()
    ds.save(spark.createDataFrame([], SCHEMA))
    assert ds.version() == version


def test_composite_keys(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(keys=["id", "m"], sequence_column="seq")
    ds.save(spark.createDataFrame([(1, "a", "v1", 1), (1, "b", "v1", 1)], SCHEMA))
    ds.save(spark.createDataFrame([(1, "b", "v2", 2)], SCHEMA))
    rows = {(r["id"], r["m"]): r["v"] for r in ds.load().collect()}
    assert rows == {(1, "a"): "v1", (1, "b"): "v2"}


def _file_set(path: str) -> dict[str, set[str]]:
    """Data files of the table's current version, per partition value of ``m``."""
    actions = pa.table(DeltaTable(path).get_add_actions(flatten=True)).to_pylist()
    files: dict[str, set[str]] = {}
    for action in actions:
        files.setdefault(action["partition.m"], set()).add(action["path"])
    return files


def test_partitioned_upsert_rewrites_only_the_touched_partitions(
    spark, upsert_dataset, rows_by_key
):
    ds = upsert_dataset(sequence_column="seq", partition_by=["m"])
    months = [f"2024-{n:02d}" for n in range(1, 7)]
    seed = spark.range(600).selectExpr(
        "id",
        f"element_at(array({', '.join(repr(m) for m in months)}), cast(id % 6 + 1 as int)) m",
        "'v1' v",
        "cast(1 as long) seq",
    )
    ds.save(seed)
    before = _file_set(ds.address.path)
    assert sorted(before) == months
    # Update ids 1 and 7 (month 2024-02) and insert one row into 2024-05.
    ds.save(
        spark.createDataFrame(
            [(1, "2024-02", "v2", 2), (7, "2024-02", "v2", 2), (1000, "2024-05", "v1", 1)], SCHEMA
        )
    )
    assert "2024-02" in ds.last_save_metrics["partition_filter"]
    assert "2024-01" not in ds.last_save_metrics["partition_filter"]
    after = _file_set(ds.address.path)
    untouched = [m for m in months if m not in ("2024-02", "2024-05")]
    for month in untouched:
        assert after[month] == before[month], f"{month} was rewritten"
    assert after["2024-02"] != before["2024-02"]
    rows = rows_by_key(ds.load())
    assert len(rows) == 601
    assert rows[1]["v"] == rows[7]["v"] == "v2" and rows[13]["v"] == "v1"


def test_timestamps_round_trip_exactly(spark, upsert_dataset):
    """Session zone is America/New_York; DST edges must survive Spark -> Parquet -> delta-rs."""
    assert spark.conf.get("spark.sql.session.timeZone") == "America/New_York"
    ds = upsert_dataset(sequence_column="updated_at")
    seed = spark.sql(
        "select cast(id as long) id, timestamp'2024-01-01 00:00:00' + make_interval(0,0,0,0,0,0,0) "
        "+ (id * interval 1 day) as updated_at, timestamp_ntz'2024-03-10 02:30:00' local_ts "
        "from range(3)"
    )
    ds.save(seed)
    batch = spark.sql(
        "select * from values "
        "(0L, timestamp'2024-03-10 03:00:00.123456', timestamp_ntz'2024-03-10 02:30:00'), "
        "(1L, timestamp'2024-11-03 01:30:00', timestamp_ntz'2024-11-03 01:30:00'), "
        "(7L, timestamp'2024-11-03 06:30:00.000001', timestamp_ntz'1999-12-31 23:59:59.999999') "
        "as t(id, updated_at, local_ts)"
    )
    expected = {
        r["id"]: (r["us"], r["ntz"])
        for r in batch.selectExpr(
            "id", "unix_micros(updated_at) us", "cast(local_ts as string) ntz"
        ).collect()
    }
    ds.save(batch)
    loaded = ds.load()
    assert dict(loaded.dtypes) == {
        "id": "bigint",
        "updated_at": "timestamp",
        "local_ts": "timestamp_ntz",
    }
    got = {
        r["id"]: (r["us"], r["ntz"])
        for r in loaded.selectExpr(
            "id", "unix_micros(updated_at) us", "cast(local_ts as string) ntz"
        ).collect()
    }
    assert {k: got[k] for k in expected} == expected
    assert set(got) == {0, 1, 2, 7}


def test_not_null_columns_written_by_sail_stay_readable_after_a_merge(spark, make_dataset):
    """Sail creates literal columns NOT NULL; delta-rs merge output must still load in Sail."""
    ds = make_dataset(
        save_args={"mode": "upsert", "keys": ["id"], "partition_by": ["m"]},
    )
    ds.save(spark.range(6).selectExpr("id", "if(id % 2 = 0, 'a', 'b') m", "'x' v", "'lit' w"))
    ds.save(spark.range(1, 2).selectExpr("id", "'b' m", "'y' v", "'lit' w"))
    assert ds.last_save_metrics["engine"] == "delta_rs"
    assert {r["id"]: r["v"] for r in ds.load().collect()}[1] == "y"
    assert ds.load().count() == 6


def test_nested_not_null_fields_fall_back_to_sql_merge(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "upsert", "keys": ["id"]})
    ds.save(
        spark.range(3).selectExpr("id", "named_struct('a', 'x', 'b', id) s", "array('r1') tags")
    )
    ds.save(
        spark.range(1, 2).selectExpr("id", "named_struct('a', 'y', 'b', id) s", "array('r2') tags")
    )
    assert ds.last_save_metrics["engine"] == "sql"
    rows = {r["id"]: (r["s"]["a"], list(r["tags"])) for r in ds.load().collect()}
    assert rows == {0: ("x", ["r1"]), 1: ("y", ["r2"]), 2: ("x", ["r1"])}


def test_map_columns_do_not_break_deduplication(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "upsert", "keys": ["id"], "sequence_column": "seq"})
    ds.save(
        spark.sql(
            "select 1L id, 1L seq, map('k', 'v1') attrs union all select 1L, 2L, map('k', 'v2')"
        )
    )
    assert [r["attrs"]["k"] for r in ds.load().collect()] == ["v2"]


def test_auto_engine_uses_sql_merge_off_the_local_engine(spark, make_dataset, monkeypatch):
    """On Databricks / remote Spark the engine owns the table: SQL MERGE, even for a path."""
    from nyc_lakehouse import spark as engine

    ds = make_dataset(save_args={"mode": "upsert", "keys": ["id"]})
    ds.save(spark.createDataFrame([(1, "a", "v1", 1)], SCHEMA))
    ds.save(spark.createDataFrame([(1, "a", "v2", 2)], SCHEMA))
    assert ds.last_save_metrics["engine"] == "delta_rs"
    monkeypatch.setattr(engine, "current_mode", lambda: "remote")
    ds.save(spark.createDataFrame([(1, "a", "v3", 3)], SCHEMA))
    assert ds.last_save_metrics["engine"] == "sql"
    assert [r["v"] for r in ds.load().collect()] == ["v3"]


def test_date_partitions_and_mixed_case_names(spark, upsert_dataset):
    """Literal partition predicates and quoted identifiers in both SQL dialects."""
    ds = upsert_dataset(keys=["RequestId"], sequence_column="Seq", partition_by=["day"])
    seed = spark.sql(
        "select cast(id as long) RequestId, date_add(date'2024-03-09', cast(id % 3 as int)) day, "
        "'v1' Value, 1L Seq from range(9)"
    )
    ds.save(seed)
    before = _files_by(ds.address.path, "day")
    ds.save(spark.sql("select 4L RequestId, date'2024-03-10' day, 'v2' Value, 2L Seq"))
    after = _files_by(ds.address.path, "day")
    assert (
        after["2024-03-09"] == before["2024-03-09"] and after["2024-03-11"] == before["2024-03-11"]
    )
    assert after["2024-03-10"] != before["2024-03-10"]
    assert "2024-03-10" in ds.last_save_metrics["partition_filter"]
    rows = {r["RequestId"]: r["Value"] for r in ds.load().collect()}
    assert rows[4] == "v2" and len(rows) == 9


def _files_by(path: str, column: str) -> dict[str, set[str]]:
    files: dict[str, set[str]] = {}
    for action in pa.table(DeltaTable(path).get_add_actions(flatten=True)).to_pylist():
        files.setdefault(str(action[f"partition.{column}"]), set()).add(action["path"])
    return files


def test_partition_values_with_quotes(spark, upsert_dataset, rows_by_key):
    ds = upsert_dataset(sequence_column="seq", partition_by=["m"])
    ds.save(spark.createDataFrame([(1, "it's", "v1", 1), (2, "plain", "v1", 1)], SCHEMA))
    ds.save(spark.createDataFrame([(1, "it's", "v2", 2), (3, "it's", "v1", 1)], SCHEMA))
    assert values(rows_by_key, ds) == {1: ("v2", 2), 2: ("v1", 1), 3: ("v1", 1)}


@pytest.mark.parametrize("new_column", [False, True])
def test_merge_into_a_table_sail_wrote_from_a_delta_read_copies_rows_intact(
    spark, make_dataset, rows_by_key, lake, new_column
):
    """Sail copies ``SPARK::metadata::json`` into a table it writes from a Delta read; delta-rs's
    own schema evolution then filled the rows a merge only copies with the source's strings."""
    from pyspark.sql import functions as F

    scratch = make_dataset(table="silver.scratch")
    scratch.save(spark.createDataFrame([(1, "a", "kept", 5), (2, "a", "old", 1)], SCHEMA))
    ds = make_dataset(save_args=_latest_wins(merge_engine="delta_rs"))
    # created straight from the Delta read, not staged
    writes.overwrite(ds.table, scratch.load(), ds.config.write)
    metadata = [f.metadata for f in DeltaTable(str(lake / "silver" / "events")).schema().fields]
    assert any("SPARK::metadata::json" in m for m in metadata)  # the condition under test

    batch = spark.createDataFrame([(1, "b", "stale", 3), (2, "b", "new", 2)], SCHEMA)
    if new_column:
        batch = batch.withColumn("note", F.lit("n"))
    ds.save(batch)
    rows = rows_by_key(ds.load())
    assert (rows[1]["m"], rows[1]["v"], rows[1]["seq"]) == ("a", "kept", 5)  # copied, intact
    assert (rows[2]["m"], rows[2]["v"], rows[2]["seq"]) == ("b", "new", 2)
    if new_column:
        assert ds.last_save_metrics["added_columns"] == ["note"]
        assert rows[1]["note"] is None and rows[2]["note"] == "n"


def test_unstaged_source_from_a_persisted_table(spark, make_dataset, rows_by_key):
    """``stage_source: false``: the batch is a scan of another table; first load (with a
    duplicated key) and a later merge (an update, a stale version, an insert) as when staged."""
    scratch = make_dataset(table="silver.scratch")
    ds = make_dataset(save_args=_latest_wins(partition_by=["m"], stage_source=False))
    scratch.save(
        spark.createDataFrame([(1, "a", "v1", 1), (1, "a", "v2", 2), (2, "b", "v1", 1)], SCHEMA)
    )
    ds.save(scratch.load())
    assert ds.last_save_metrics["created"] is True
    assert ds.last_save_metrics["num_source_rows"] == 2
    scratch.save(
        spark.createDataFrame([(1, "a", "stale", 1), (2, "b", "v2", 2), (3, "c", "v1", 1)], SCHEMA)
    )
    ds.save(scratch.load())
    assert ds.last_save_metrics["engine"] == "delta_rs"
    assert values(rows_by_key, ds) == {1: ("v2", 2), 2: ("v2", 2), 3: ("v1", 1)}
    scratch.save(spark.createDataFrame([], SCHEMA))
    ds.save(scratch.load())  # an empty increment changes nothing
    assert values(rows_by_key, ds) == {1: ("v2", 2), 2: ("v2", 2), 3: ("v1", 1)}


def test_partitioned_first_load_reads_back_exactly_and_merges(spark, make_dataset):
    """A partitioned first load: same rows, same types, exact timestamps (a literal tagged
    with the session zone included), then a delta-rs merge into it."""
    from pyspark.sql import functions as F

    ds = make_dataset(save_args=_latest_wins(partition_by=["m"]))
    first = spark.sql(
        "select * from values "
        "(1L, '2024-01', 1L, timestamp'2024-03-10 03:00:00.123456', timestamp_ntz'2024-03-10 02:30:00', date'2024-01-31'), "
        "(2L, '2024-02', 1L, timestamp'2024-11-03 01:30:00', timestamp_ntz'1999-12-31 23:59:59.999999', date'2024-02-29') "
        "as t(id, m, seq, at, local_ts, day)"
    ).withColumn("stamped", F.lit(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)).cast("timestamp"))
    expected = _exact(first)
    ds.save(first)
    assert ds.last_save_metrics["created"] is True
    loaded = ds.load()
    assert dict(loaded.dtypes) == dict(first.dtypes)
    assert _exact(loaded) == expected
    assert sorted(_file_set(ds.address.path)) == ["2024-01", "2024-02"]
    ds.save(
        first.filter("id = 2")
        .withColumn("seq", F.lit(2).cast("long"))
        .withColumn("at", F.lit(datetime(2025, 1, 1, tzinfo=UTC)).cast("timestamp"))
    )
    assert ds.last_save_metrics["engine"] == "delta_rs"
    after = _exact(ds.load())
    assert after[1] == expected[1] and after[2][0] == 2


def _latest_wins(**extra) -> dict:
    """Upsert save_args keyed on ``id`` with ``seq`` as the version order."""
    return {"mode": "upsert", "keys": ["id"], "sequence_column": "seq", **extra}


def _exact(df) -> dict:
    """id -> (seq, instants in microseconds, zone-less and date values as text)."""
    rows = df.selectExpr(
        "id",
        "seq",
        "unix_micros(at) at",
        "cast(local_ts as string) local_ts",
        "cast(day as string) day",
        "unix_micros(stamped) stamped",
    ).collect()
    return {r["id"]: (r["seq"], r["at"], r["local_ts"], r["day"], r["stamped"]) for r in rows}


@pytest.mark.parametrize("losers_collected", [True, False], ids=["anti-join", "outer-join"])
def test_source_with_row_identity_is_ranked_on_narrow_columns(
    spark, make_dataset, rows_by_key, monkeypatch, losers_collected
):
    """A persisted source that carries ``with_row_identity`` (silver 311's prepared increment):
    latest wins, exact duplicates collapse to one row, content ties pick the same row whatever
    the row order, and the identity columns never reach the table (first load and merge).
    Both ways of dropping the losing rows: collected (anti join), or too many (outer join)."""
    from nyc_lakehouse.delta import ROW_IDENTITY_COLUMNS, dedup, with_row_identity

    if not losers_collected:
        monkeypatch.setattr(dedup, "COLLECTED_LOSERS_MAX", 0)

    batch = [
        (1, "a", "v1", 1),
        (1, "a", "v2", 2),
        (2, "b", "same", 1),
        (2, "b", "same", 1),
        (3, "c", "x", 7),
        (3, "c", "y", 7),
        (3, "c", "z", 7),
        (4, "d", "only", 1),
    ]
    picks = set()
    for attempt, rows in enumerate([batch, list(reversed(batch))]):
        scratch = make_dataset(table=f"silver.prepared{attempt}")
        scratch.save(with_row_identity(spark.createDataFrame(rows, SCHEMA)))
        ds = make_dataset(
            table=f"silver.identified{attempt}",
            save_args=_latest_wins(partition_by=["m"], stage_source=False),
        )
        ds.save(scratch.load())
        assert ds.last_save_metrics["num_source_rows"] == 4
        assert not set(ROW_IDENTITY_COLUMNS) & set(ds.load().columns)
        got = values(rows_by_key, ds)
        assert {k: got[k] for k in (1, 2, 4)} == {1: ("v2", 2), 2: ("same", 1), 4: ("only", 1)}
        picks.add(got[3])
        # a merge from an identified source: an update, a stale version, exact duplicate inserts
        scratch.save(
            with_row_identity(
                spark.createDataFrame(
                    [(1, "a", "v3", 3), (4, "d", "stale", 0), (5, "e", "n", 1), (5, "e", "n", 1)],
                    SCHEMA,
                )
            )
        )
        ds.save(scratch.load())
        assert ds.last_save_metrics["engine"] == "delta_rs"
        assert not set(ROW_IDENTITY_COLUMNS) & set(ds.load().columns)
        got = values(rows_by_key, ds)
        assert {k: got[k] for k in (1, 2, 4, 5)} == {
            1: ("v3", 3),
            2: ("same", 1),
            4: ("only", 1),
            5: ("n", 1),
        }
    assert len(picks) == 1


def test_unstaged_source_without_identity_is_staged_with_one(spark, make_dataset, rows_by_key):
    """``stage_source: false`` on a source without row identity still deduplicates: the dataset
    stages it (adding the identity) rather than guess which rows are copies."""
    ds = make_dataset(save_args=_latest_wins(stage_source=False))
    rows = [(1, "a", "x", 7), (1, "a", "x", 7), (2, "a", "v1", 1), (2, "a", "v2", 2)]
    ds.save(spark.createDataFrame(rows, SCHEMA))
    assert ds.last_save_metrics["num_source_rows"] == 2
    assert values(rows_by_key, ds) == {1: ("x", 7), 2: ("v2", 2)}
    assert "_row_id" not in ds.load().columns


def test_create_via_parquet_reads_back_exactly_then_merges(spark, make_dataset, lake):
    """``create_via_parquet``: a first load written as Parquet by Sail and committed by
    delta-rs gives the same rows, types and exact instants as Sail's Delta writer, one folder per
    partition, and takes merges as usual."""
    from pyspark.sql import functions as F

    first = spark.sql(
        "select * from values "
        "(1L, '2024-01', 1L, timestamp'2024-03-10 03:00:00.123456', timestamp_ntz'2024-03-10 02:30:00', date'2024-01-31'), "
        "(2L, '2024-02', 1L, timestamp'2024-11-03 01:30:00', timestamp_ntz'1999-12-31 23:59:59.999999', date'2024-02-29'), "
        "(2L, '2024-02', 0L, timestamp'2020-01-01 00:00:00', timestamp_ntz'2020-01-01 00:00:00', date'2020-01-01') "
        "as t(id, m, seq, at, local_ts, day)"
    ).withColumn("stamped", F.lit(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)).cast("timestamp"))
    expected = _exact(first.filter("seq = 1"))
    via_parquet = make_dataset(save_args=_latest_wins(partition_by=["m"], create_via_parquet=True))
    via_parquet.save(first)
    assert via_parquet.last_save_metrics["engine"] == "parquet+delta_rs"
    assert via_parquet.last_save_metrics["num_source_rows"] == 2
    loaded = via_parquet.load()
    assert dict(loaded.dtypes) == dict(first.dtypes)
    assert _exact(loaded) == expected
    assert sorted(_file_set(via_parquet.address.path)) == ["2024-01", "2024-02"]
    assert not [p for p in (lake / "silver").iterdir() if p.name.startswith(".")]  # no leftovers
    # the same batch through Sail's Delta writer: same table
    through_sail = make_dataset(table="silver.sail", save_args=_latest_wins(partition_by=["m"]))
    through_sail.save(first)
    assert "engine" not in through_sail.last_save_metrics
    assert _exact(through_sail.load()) == expected
    via_parquet.save(first.filter("id = 2").withColumn("seq", F.lit(5).cast("long")))
    assert via_parquet.last_save_metrics["engine"] == "delta_rs"
    assert _exact(via_parquet.load())[2][0] == 5


@pytest.mark.parametrize("partition_value", ["it's", "a/b", "é", None])
def test_create_via_parquet_falls_back_for_values_it_cannot_name(
    spark, make_dataset, rows_by_key, partition_value
):
    """Null or non-plain partition values (the Parquet writer does not escape ``/`` or
    non-ASCII text in folder names) go through Sail's Delta writer, and round-trip."""
    ds = make_dataset(save_args=_latest_wins(partition_by=["m"], create_via_parquet=True))
    ds.save(spark.createDataFrame([(1, partition_value, "v", 1), (2, "plain", "v", 1)], SCHEMA))
    assert "engine" not in ds.last_save_metrics
    assert {k: r["m"] for k, r in rows_by_key(ds.load()).items()} == {
        1: partition_value,
        2: "plain",
    }


def test_file_split_splits_the_latest_partitions_and_merges_rewrite_only_touched_files(
    spark, make_dataset, rows_by_key
):
    """``file_split``: the latest partition is written as one file per split value (not a
    column of the table), the others as one file, and a merge into the latest partition
    rewrites only the file that holds the updated key."""
    split = {"expression": "id % 3", "latest_partitions": 1}
    ds = make_dataset(
        save_args=_latest_wins(partition_by=["m"], create_via_parquet=True, file_split=split)
    )
    rows = [(i, "2024-01" if i < 6 else "2024-02", f"v{i}", 1) for i in range(12)]
    ds.save(spark.createDataFrame(rows, SCHEMA))
    assert ds.last_save_metrics["engine"] == "parquet+delta_rs"
    files = sorted(
        os.path.relpath(uri.removeprefix("file://"), ds.address.path)
        for uri in DeltaTable(ds.address.path).file_uris()
    )
    assert [f.split("-", 2)[0] + "-" + f.split("-", 2)[1] for f in files] == [
        "m=2024-01/all",
        "m=2024-02/0",
        "m=2024-02/1",
        "m=2024-02/2",
    ]
    assert "__nyc_file_split" not in ds.load().columns
    assert {k: r["v"] for k, r in rows_by_key(ds.load()).items()} == {i: f"v{i}" for i in range(12)}
    # update id 7 (2024-02, split 1: ids 7 and 10), insert id 20: one small file rewritten
    ds.save(spark.createDataFrame([(7, "2024-02", "new", 2), (20, "2024-02", "v20", 1)], SCHEMA))
    metrics = ds.last_save_metrics
    assert (metrics["num_target_files_removed"], metrics["num_target_rows_copied"]) == (1, 1)
    after = {k: r["v"] for k, r in rows_by_key(ds.load()).items()}
    assert after == {**{i: f"v{i}" for i in range(12)}, 7: "new", 20: "v20"}


@pytest.mark.parametrize(
    "split",
    [
        "id % 3",
        {"latest_partitions": 2},
        {"expression": "id % 3", "latest_partitions": 0},
        {"expression": "id % 3", "latest_partitions": "two"},
        {"expression": "id % 3", "files": 4},
    ],
)
def test_a_malformed_file_split_is_refused_up_front(make_dataset, split):
    with pytest.raises(DatasetError, match="file_split takes 'expression'"):
        make_dataset(save_args=_latest_wins(partition_by=["m"], file_split=split))


def test_create_via_parquet_bounds_row_groups(spark, make_dataset, monkeypatch):
    """A first load through ``create_via_parquet`` writes row groups of at most
    FIRST_LOAD_ROW_GROUP_ROWS rows (the writer holds every partition's open group in memory)."""
    import glob

    import pyarrow.parquet as pq

    from nyc_lakehouse.delta import parquet_load

    monkeypatch.setattr(parquet_load, "FIRST_LOAD_ROW_GROUP_ROWS", 4)
    ds = make_dataset(save_args=_latest_wins(partition_by=["m"], create_via_parquet=True))
    ds.save(spark.createDataFrame([(i, "a", "x", 1) for i in range(10)], SCHEMA))
    assert ds.last_save_metrics["engine"] == "parquet+delta_rs"
    files = glob.glob(f"{ds.address.path}/m=a/*.parquet")
    groups = [pq.ParquetFile(f).metadata.row_group(g).num_rows for f in files
              for g in range(pq.ParquetFile(f).metadata.num_row_groups)]  # fmt: skip
    assert sum(groups) == 10 and max(groups) <= 4
    assert ds.load().count() == 10


def test_create_via_parquet_caps_dictionaries_of_unique_values(spark, make_dataset, monkeypatch):
    """A first load through ``create_via_parquet`` caps each column chunk's dictionary at
    FIRST_LOAD_DICTIONARY_PAGE_BYTES: a column of unique values falls back to plain encoding
    instead of storing a dictionary of every value, while a code column keeps its dictionary."""
    import glob
    import uuid

    import pyarrow.parquet as pq

    from nyc_lakehouse.delta import parquet_load

    def dictionary_bytes(column) -> int:
        return column.data_page_offset - column.dictionary_page_offset

    monkeypatch.setattr(parquet_load, "FIRST_LOAD_DICTIONARY_PAGE_BYTES", 1024)
    ds = make_dataset(save_args=_latest_wins(partition_by=["m"], create_via_parquet=True))
    rows = [(i, "a", uuid.uuid4().hex * 2, i % 3) for i in range(2_000)]  # 64 unique bytes each
    ds.save(spark.createDataFrame(rows, SCHEMA))
    assert ds.last_save_metrics["engine"] == "parquet+delta_rs"
    [file] = glob.glob(f"{ds.address.path}/m=a/*.parquet")
    group = pq.ParquetFile(file).metadata.row_group(0)
    names = [group.column(c).path_in_schema for c in range(group.num_columns)]
    unique, codes = group.column(names.index("v")), group.column(names.index("seq"))
    # With the writer's default (1 MB) the whole 128 KB of values became the dictionary.
    assert unique.has_dictionary_page and dictionary_bytes(unique) <= 4 * 1024
    assert "PLAIN" in unique.encodings
    assert codes.has_dictionary_page and dictionary_bytes(codes) < 1024
    assert ds.load().count() == 2_000
