"""Every Sail (and Sail + delta-rs) defect the Delta library works around, reproduced.

Each test first shows the defect on the installed engine, then the workaround in
``nyc_lakehouse.delta.engines.sail`` giving the right answer. When an upgrade fixes a defect, the
first half of its test fails: the workaround can then go (docs/engines.md lists them all).
Seen on pysail 0.7.2 with deltalake 1.6.6.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable, Field, Schema, convert_to_deltalake, write_deltalake
from kedro.io.core import DatasetError

from nyc_lakehouse.delta.engines import sail

# New York wall-clock times: late evening (UTC is already the next day), both DST edges, and
# microseconds that a text round trip could lose.
WALL_TIMES = (
    "2024-01-01 23:10:00.123456",
    "2024-07-04 23:59:59.999999",
    "2024-03-10 03:30:00",
    "2024-11-02 22:15:00",
)


def _sail_min_max(collect_statistics: str | None) -> str:
    """min/max of a text column cast to double, on a fresh Sail server (statistics as given)."""
    script = textwrap.dedent(
        """
        import os, sys, tempfile
        import pyarrow as pa, pyarrow.parquet as pq
        if sys.argv[1] != "default":
            os.environ["SAIL_EXECUTION__COLLECT_STATISTICS"] = sys.argv[1]
        os.environ["RUST_LOG"] = "error"
        from pysail.spark import SparkConnectServer
        from pyspark.sql import SparkSession

        folder = tempfile.mkdtemp()
        values = ["999999", "1000005", "250000", "1000001"]  # text order is not numeric order
        pq.write_table(pa.table({"x": pa.array(values)}), folder + "/c.parquet")
        server = SparkConnectServer("127.0.0.1", 0)
        server.start(background=True)
        host, port = server.listening_address
        spark = SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
        row = spark.read.parquet(folder).selectExpr(
            "min(cast(x as double)) AS low", "max(cast(x as double)) AS high"
        ).first()
        print(f"RESULT {row['low']} {row['high']}")
        spark.stop()
        server.stop()
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "SAIL_EXECUTION__COLLECT_STATISTICS"}
    done = subprocess.run(
        [sys.executable, "-c", script, collect_statistics or "default"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    return next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))


def test_statistics_survive_a_cast_unless_turned_off():
    assert _sail_min_max("true") == "RESULT 1000001.0 999999.0"  # text min/max: wrong, silently
    assert _sail_min_max("default") == "RESULT 1000001.0 999999.0"  # Sail's default is on
    [(key, value)] = sail.REQUIRED_ENV.items()
    assert key == "SAIL_EXECUTION__COLLECT_STATISTICS"
    assert _sail_min_max(value) == "RESULT 250000.0 1000005.0"


def _three_months(spark, path: str) -> None:
    spark.createDataFrame(
        [(1, "2024-01"), (2, "2024-02"), (3, "2024-03")], "id long, m string"
    ).write.format("delta").partitionBy("m").save(path)


def test_dynamic_partition_overwrite_replaces_the_whole_table(spark, tmp_path, make_dataset):
    raw = str(tmp_path / "raw")
    _three_months(spark, raw)
    batch = spark.createDataFrame([(20, "2024-02")], "id long, m string")
    batch.write.format("delta").mode("overwrite").option("partitionOverwriteMode", "dynamic").save(
        raw
    )
    assert sorted(r["id"] for r in spark.read.format("delta").load(raw).collect()) == [20]

    ds = make_dataset(save_args={"mode": "overwrite_partitions", "partition_by": ["m"]})
    _three_months(spark, ds.address.path)
    ds.save(batch)
    assert sorted(r["id"] for r in ds.load().collect()) == [1, 3, 20]


def test_replace_where_writes_rows_outside_the_predicate(spark, tmp_path, make_dataset):
    raw = str(tmp_path / "raw")
    _three_months(spark, raw)
    outside = spark.createDataFrame([(20, "2024-02"), (99, "2024-03")], "id long, m string")
    outside.write.format("delta").mode("overwrite").option("replaceWhere", "m = '2024-02'").save(
        raw
    )
    assert 99 in {r["id"] for r in spark.read.format("delta").load(raw).collect()}

    ds = make_dataset(save_args={"mode": "replace_where", "predicate": "m = '2024-02'"})
    _three_months(spark, ds.address.path)
    with pytest.raises(DatasetError, match="do not match replace_where"):
        ds.save(outside)
    assert sorted(r["id"] for r in ds.load().collect()) == [1, 2, 3]


def test_replace_where_fails_on_tables_with_timestamp_columns(spark, tmp_path, make_dataset):
    from pyspark.errors import AnalysisException

    stamped = "id long, m string, at timestamp"
    at = dt.datetime(2024, 1, 1, 23, 10, 0, 123456)  # New York evening: the next day in UTC
    rows = [(1, "2024-01", at), (2, "2024-02", at)]
    batch = spark.createDataFrame([(20, "2024-02", dt.datetime(2024, 2, 29, 0, 30))], stamped)
    raw = str(tmp_path / "raw")
    spark.createDataFrame(rows, stamped).write.format("delta").save(raw)
    with pytest.raises(AnalysisException, match="same data type"):
        batch.write.format("delta").mode("overwrite").option("replaceWhere", "m = '2024-02'").save(
            raw
        )

    make_dataset().save(spark.createDataFrame(rows, stamped))
    make_dataset(save_args={"mode": "replace_where", "predicate": "m = '2024-02'"}).save(batch)
    loaded = {r["id"]: r["at"] for r in make_dataset().load().collect()}
    assert loaded == {1: at, 20: dt.datetime(2024, 2, 29, 0, 30)}


def test_partitioned_parquet_writer_misfiles_null_partition_values(spark, tmp_path):
    from pyspark.sql import functions as F

    rows = spark.createDataFrame(
        [(1, "2024-01", True), (2, "2024-02", False)], "id long, m string, keep boolean"
    ).select("id", F.when(F.col("keep"), F.col("m")).alias("p"))  # id 2: p is null
    rows.write.partitionBy("p").parquet(str(tmp_path / "raw"))
    raw = spark.read.parquet(str(tmp_path / "raw")).orderBy("id").collect()
    assert raw[1]["p"] == "2024-02"  # the null row was filed under the other branch's value

    named = sail.named_null_partitions(rows, ["p"])
    named.write.partitionBy("p").parquet(str(tmp_path / "named"))
    assert sorted(os.listdir(tmp_path / "named")) == ["p=2024-01", f"p={sail.HIVE_NULL_FOLDER}"]
    # delta-rs commits the folders (as the first-load layout does) and reads the null back
    convert_to_deltalake(
        str(tmp_path / "named"),
        partition_by=Schema([Field("p", "string")]),
        partition_strategy="hive",
    )
    fixed = DeltaTable(str(tmp_path / "named")).to_pandas().sort_values("id")
    assert fixed["p"].tolist() == ["2024-01", None]


def test_not_null_columns_make_merge_schema_appends_drop_new_columns(spark, tmp_path):
    from pyspark.sql import functions as F

    first = spark.range(2).select("id", F.lit("x").alias("v"))  # v is NOT NULL for Sail
    later = spark.range(2, 3).select("id", F.lit("y").alias("v"), F.lit("new").alias("extra"))
    for name, prepare in (("raw", lambda df: df), ("nullable", sail.nullable_schema)):
        path = str(tmp_path / name)
        prepare(first).write.format("delta").save(path)
        prepare(later).write.format("delta").mode("append").option("mergeSchema", "true").save(path)
        columns = spark.read.format("delta").load(path).columns
        assert columns == (["id", "v"] if name == "raw" else ["id", "v", "extra"]), name


def _not_null_table(spark, path: str) -> None:
    from pyspark.sql import functions as F

    spark.range(3).select("id", F.lit("x").alias("v")).write.format("delta").save(path)


def test_not_null_string_column_unreadable_after_delta_rs_merge(spark, tmp_path):
    source = pa.table({"id": pa.array([1], pa.int64()), "v": pa.array(["y"])})
    for relax in (False, True):
        path = str(tmp_path / f"relax_{relax}")
        _not_null_table(spark, path)
        if relax:
            assert sail.relax_not_null(DeltaTable(path)) is True
        merger = DeltaTable(path).merge(source, "t.id = s.id", source_alias="s", target_alias="t")
        merger.when_matched_update_all().when_not_matched_insert_all().execute()
        read = spark.read.format("delta").load(path).orderBy("id")
        if relax:
            assert [r["v"] for r in read.collect()] == ["x", "y", "x"]
        else:
            with pytest.raises(Exception, match="Utf8View"):
                read.collect()


def _sail_staged(spark, folder: Path) -> pads.Dataset:
    """A merge source as the delta-rs writer stages it: Parquet written by Sail."""
    from pyspark.sql import functions as F

    batch = spark.createDataFrame([(2, "new", "n")], "id long, v string, note string")
    batch.withColumn("ts", F.to_timestamp(F.lit("2024-07-04 23:10:00"))).write.parquet(str(folder))
    return pads.dataset(str(folder), format="parquet")


def _merge_with_evolution(path: str, source) -> list[dict]:
    merger = DeltaTable(path).merge(
        source, "t.id = s.id", source_alias="s", target_alias="t", merge_schema=True
    )
    merger.when_matched_update_all().when_not_matched_insert_all().execute()
    return DeltaTable(path).to_pandas().sort_values("id").to_dict("records")


def test_delta_rs_merge_with_sail_field_metadata_corrupts_copied_rows(spark, tmp_path):
    """A staged source carries Sail's field metadata (and session-zone timestamps): delta-rs's
    schema evolution then wrote the target row it only copies (id 1) as nulls."""
    staged = _sail_staged(spark, tmp_path / "staged")
    assert all(f.metadata for f in staged.schema if f.name != "ts")
    assert staged.schema.field("ts").type.tz == "America/New_York"
    target = {
        "id": pa.array([1, 2], pa.int64()),
        "v": ["kept", "old"],
        "ts": pa.array([1, 2], pa.timestamp("us", tz="UTC")),
    }
    raw, fixed = str(tmp_path / "raw"), str(tmp_path / "fixed")
    write_deltalake(raw, pa.table(target))
    write_deltalake(fixed, pa.table(target))
    reader = pa.RecordBatchReader.from_batches(staged.schema, staged.to_batches())
    assert _merge_with_evolution(raw, reader)[1]["v"] is None  # id 1 lost its values

    source = sail.merge_source(staged)
    assert not any(f.metadata for f in source.schema)
    assert source.schema.field("ts").type.tz == "UTC"
    rows = _merge_with_evolution(fixed, source)
    assert [(r["id"], r["v"], r["note"]) for r in rows] == [(1, "kept", None), (2, "new", "n")]


def test_delta_rs_schema_evolution_on_a_sail_written_target_corrupts_copied_rows(spark, tmp_path):
    """The other way round: the target carries Sail's metadata (written from a Delta read), the
    source does not. Adding the new columns first and merging without evolution keeps id 1."""
    seed = spark.createDataFrame([(1, "kept"), (2, "old")], "id long, v string")
    seed.write.format("delta").save(str(tmp_path / "seed"))
    for name in ("raw", "fixed"):
        spark.read.format("delta").load(str(tmp_path / "seed")).write.format("delta").save(
            str(tmp_path / name)
        )
    source = pa.table({"id": pa.array([2], pa.int64()), "v": ["new"], "note": ["n"]})
    assert _merge_with_evolution(str(tmp_path / "raw"), source)[1]["v"] is None

    fixed = DeltaTable(str(tmp_path / "fixed"))
    assert sail.add_new_columns(fixed, source.schema) == ["note"]
    merger = DeltaTable(str(tmp_path / "fixed")).merge(
        source, "t.id = s.id", source_alias="s", target_alias="t", merge_schema=False
    )
    merger.when_matched_update_all().when_not_matched_insert_all().execute()
    rows = DeltaTable(str(tmp_path / "fixed")).to_pandas().sort_values("id")
    assert rows[["id", "v", "note"]].values.tolist() == [[1, "kept", None], [2, "new", "n"]]


@pytest.fixture
def timestamps(spark, tmp_path: Path) -> dict[str, object]:
    from pyspark.sql import functions as F

    fresh = spark.createDataFrame([(i, t) for i, t in enumerate(WALL_TIMES)], "id int, text string")
    fresh = fresh.select("id", F.to_timestamp("text").alias("ts"))
    fresh.write.parquet(str(tmp_path / "parquet"))
    fresh.write.format("delta").save(str(tmp_path / "delta"))
    from nyc_lakehouse.datasets import DeltaTableDataset

    return {
        "fresh": fresh,
        "parquet": spark.read.parquet(str(tmp_path / "parquet")),
        "dataset": DeltaTableDataset(path=str(tmp_path / "delta")).load(),
        "raw_delta": spark.read.format("delta").load(str(tmp_path / "delta")),
    }


def test_calendar_fields_of_delta_timestamps_ignore_the_session_zone(timestamps) -> None:
    from pyspark.sql import functions as F

    assert spark_zone(timestamps) == "America/New_York"
    raw_hour = timestamps["raw_delta"].filter("id = 0").select(F.hour("ts")).first()[0]
    assert raw_hour == 4  # 23:10 New York is 04:10 UTC: Sail used UTC
    fixed = timestamps["raw_delta"].select(sail.in_session_time_zone(F.col("ts")).alias("ts"))
    assert fixed.orderBy(F.col("ts")).select(F.hour("ts")).first()[0] == 23


def spark_zone(timestamps: dict[str, object]) -> str:
    return timestamps["fresh"].sparkSession.conf.get("spark.sql.session.timeZone")


@pytest.mark.parametrize("origin", ["fresh", "parquet", "dataset"])
def test_calendar_fields_are_session_time_for_every_origin(timestamps, origin: str) -> None:
    """What nodes see: plain Spark functions give New York calendar fields, the instant
    unchanged, whether the timestamp was just parsed, read from Parquet or loaded by the
    Delta dataset (which applies :func:`sail.in_session_time_zone` on Sail)."""
    from pyspark.sql import functions as F

    rows = (
        timestamps[origin]
        .select(
            "id",
            F.hour("ts").alias("hour"),
            F.to_date("ts").alias("date"),
            F.date_format("ts", "yyyy-MM").alias("month"),
            F.dayofweek("ts").alias("weekday"),
            F.unix_micros("ts").alias("micros"),
        )
        .orderBy("id")
        .collect()
    )
    expected = [dt.datetime.fromisoformat(text) for text in WALL_TIMES]
    assert [r["hour"] for r in rows] == [t.hour for t in expected]
    assert [r["date"] for r in rows] == [t.date() for t in expected]
    assert [r["month"] for r in rows] == [t.strftime("%Y-%m") for t in expected]
    # Spark's dayofweek: Sunday = 1 ... Saturday = 7
    assert [r["weekday"] for r in rows] == [t.isoweekday() % 7 + 1 for t in expected]
    fresh = timestamps["fresh"].orderBy("id").select(F.unix_micros("ts")).collect()
    assert [r["micros"] for r in rows] == [r[0] for r in fresh]  # the same instants


def test_try_divide_refuses_doubles_so_gold_divides_with_a_guard(spark):
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from nyc_lakehouse.pipelines.gold.nodes import safe_divide

    with pytest.raises(AnalysisException, match="try_divide"):
        spark.range(1).select(F.try_divide(F.lit(1.0), F.lit(2.0))).collect()
    rows = spark.createDataFrame([(1.0, 4.0), (3, 0.0), (5.0, None)], "n double, d double")
    quotients = [
        r["q"] for r in rows.select(safe_divide(F.col("n"), F.col("d")).alias("q")).collect()
    ]
    assert quotients == [0.25, None, None]
