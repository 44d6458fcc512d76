"""Silver 311's first load from the increment's own files (delta/first_load.py, delta/adopt.py).

The first load links the increment's ``_kind=final`` files into the new table instead of
writing the rows again. These tests run the real pipeline both ways (the ordinary first load is
the code path the dataset falls back to) and require the same tables, row for row, through a
first load full of awkward rows and a daily merge after it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable
from silver_fixtures import bronze_frame, good_911_row, good_request, read_table, write_bronze

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.delta import first_load, writes
from nyc_lakehouse.pipelines.silver.nodes import NYC311_SILVER_COLUMNS
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

NYC311 = "nyc311_service_requests"
NYC911 = "nyc911_e2e_weekly"
RUN_VARYING = ("_silver_updated_at", "run_id", "quarantined_at")


def _first_batch() -> list[dict]:
    rows = [
        # unique requests over three months and every week of the latest two
        *[
            good_request(
                100 * month + day,
                created_date=f"2024-{month:02d}-{day:02d}T10:00:00.000",
                closed_date=f"2024-{month:02d}-{day:02d}T12:00:00.000",
                descriptor=f"d{day}",
            )
            for month in (3, 4, 5)
            for day in (2, 9, 17, 25)
        ],
        # two versions: the newer one wins
        good_request(2, status="Open", _socrata_updated_at="2024-05-27T04:00:00.000Z"),
        good_request(2, status="Closed", _socrata_updated_at="2024-05-27T05:00:00.000Z"),
        # same sequence, different content: the content hash decides, the same way both paths
        good_request(3, descriptor="first"),
        good_request(3, descriptor="second"),
        # exact duplicates: one row
        good_request(4),
        good_request(4),
        # a quarantined version and a clean one of the same key: the clean one is kept
        good_request(5, created_date=""),
        good_request(5, descriptor="clean"),
        # quarantined: a key that does not parse, a missing created date
        good_request("ABC-1"),
        good_request(7, created_date=""),
    ]
    return rows


def _second_batch() -> list[dict]:
    later = "2024-05-28T09:00:00.000Z"
    return [
        good_request(502, status="Open", descriptor="updated", _socrata_updated_at=later),
        good_request(2, status="Open", _socrata_updated_at="2024-05-27T03:00:00.000Z"),  # older
        good_request(3, descriptor="third", _socrata_updated_at=later),
        good_request(8, created_date="2024-05-28T08:00:00.000", _socrata_updated_at=later),
    ]


def _write_batch(spark, data_root: Path, rows: list[dict], batch: str, at: datetime) -> None:
    write_bronze(spark, data_root, NYC311, bronze_frame(spark, rows, NYC311_FIELDS, batch, at))
    write_bronze(
        spark, data_root, NYC911, bronze_frame(spark, [good_911_row()], NYC911_FIELDS, batch, at)
    )


def _comparable(rows: list[dict]) -> list[dict]:
    trimmed = [{k: v for k, v in row.items() if k not in RUN_VARYING} for row in rows]
    return sorted(trimmed, key=repr)


def _run_both_ways(spark, tmp_path, monkeypatch, batches) -> dict[str, list[dict]]:
    """Run silver over ``batches`` with the first load adopted and with the ordinary one."""
    from silver_fixtures import run_silver

    tables = {}
    for way in ("adopted", "ordinary"):
        root = tmp_path / way / "data"
        for schema in ("bronze", "silver", "monitoring"):
            (root / schema).mkdir(parents=True)
        monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(root))
        with monkeypatch.context() as patched:
            if way == "ordinary":
                patched.setattr(
                    first_load, "write_first_load_increment", lambda *args, **kwargs: None
                )
            for number, (rows, at) in enumerate(batches, start=1):
                _write_batch(spark, root, rows, f"b{number}", at)
                run_silver()
                for table in ("silver.nyc311_service_requests", "silver.nyc311_quarantine"):
                    tables[(way, number, table)] = _comparable(read_table(spark, root, table))
        tables[(way, "root")] = root
    return tables


def test_first_load_adopts_the_increment_files_and_matches_the_ordinary_load(
    spark, tmp_path, monkeypatch
):
    t1 = datetime(2024, 5, 27, 6, 0, tzinfo=UTC)
    t2 = datetime(2024, 5, 28, 10, 0, tzinfo=UTC)
    tables = _run_both_ways(
        spark, tmp_path, monkeypatch, [(_first_batch(), t1), (_second_batch(), t2)]
    )
    for number in (1, 2):
        for table in ("silver.nyc311_service_requests", "silver.nyc311_quarantine"):
            adopted = tables[("adopted", number, table)]
            assert adopted, (number, table)
            assert adopted == tables[("ordinary", number, table)], (number, table)

    first = {
        row["unique_key"]: row for row in tables[("adopted", 1, "silver.nyc311_service_requests")]
    }
    assert len(first) == len(tables[("adopted", 1, "silver.nyc311_service_requests")])
    assert set(first) == {2, 3, 4, 5, *[100 * m + d for m in (3, 4, 5) for d in (2, 9, 17, 25)]}
    assert first[2]["status"] == "CLOSED" and first[5]["descriptor"] == "clean"
    second = {
        row["unique_key"]: row for row in tables[("adopted", 2, "silver.nyc311_service_requests")]
    }
    assert second[502]["descriptor"] == "updated" and second[2]["status"] == "CLOSED"
    assert second[3]["descriptor"] == "third" and 8 in second

    # It was adopted: silver's first commit took the increment's final files as they are.
    root = tables[("adopted", "root")]
    silver = DeltaTable(str(root / "silver" / NYC311))
    first_commit = silver.history()[-1]
    assert first_commit["operation"] == "CREATE TABLE", first_commit
    increment = DeltaTable(str(root / "silver" / "nyc311_increment"))
    assert increment.metadata().partition_columns == []  # the daily run wrote it plainly
    # Readers see silver's contract columns only, though the files hold the increment's too.
    assert silver.schema().to_arrow().names == list(NYC311_SILVER_COLUMNS)
    assert spark.read.format("delta").load(str(root / "silver" / NYC311)).columns == list(
        NYC311_SILVER_COLUMNS
    )
    ordinary = DeltaTable(str(tables[("ordinary", "root")] / "silver" / NYC311))
    assert ordinary.history()[-1]["operation"] != "CREATE TABLE"


def test_first_load_links_rather_than_copies(spark, data_root):
    from silver_fixtures import run_silver

    _write_batch(spark, data_root, _first_batch(), "b1", datetime(2024, 5, 27, 6, tzinfo=UTC))
    run_silver()
    silver = data_root / "silver" / NYC311
    increment = data_root / "silver" / "nyc311_increment"
    assert first_load.laid_out_for(str(increment)) == str(silver.resolve())
    counts = first_load.rows_by_kind(str(increment))
    # 12 unique requests are final; both versions of 2, 3, 4 and 5 and the quarantined rows wait
    assert counts == {first_load.FINAL: 12, first_load.PENDING: 10}
    data_files = [Path(dirpath) / name for dirpath, _, names in os.walk(silver) for name in names]
    linked = [f for f in data_files if f.suffix == ".parquet" and os.stat(f).st_nlink > 1]
    assert sum(1 for f in data_files if f.suffix == ".parquet") > len(linked) > 0
    rows = spark.read.format("delta").load(str(silver)).count()
    assert rows == 12 + 4  # the pending keys' winners were appended


# ---------------------------------------------------------------------------- dataset guards


def _increment_and_target(tmp_path: Path):
    root = str(tmp_path / "lake")
    increment = DeltaTableDataset(
        table="silver.increment",
        root=root,
        save_args={
            "mode": "overwrite",
            "add_row_id": True,
            "add_row_hash": True,
            "first_load_of": {
                "table": "silver.target",
                "keys": ["key"],
                "partition_by": ["month"],
                "pending_when": "blocked",
            },
        },
    )
    target = DeltaTableDataset(
        table="silver.target",
        root=root,
        save_args={
            "mode": "upsert",
            "keys": ["key"],
            "sequence_column": "version",
            "partition_by": ["month"],
            "adopt_first_load_from": "silver.increment",
        },
    )
    return increment, target


def _rows(spark):
    rows = [
        (1, 1, "2024-01", "a", False),
        (2, 1, "2024-01", "b", False),
        (3, 1, "2024-02", "c", False),
        (3, 2, "2024-02", "c2", False),  # repeated key: pending, version 2 wins
        (4, 1, "2024-02", "d", True),  # blocked: pending, filtered out below like a quarantine
        (5, 1, None, "e", False),  # no partition value: pending
    ]
    return spark.createDataFrame(
        rows, "key long, version long, month string, value string, blocked boolean"
    )


def _upsert_source(increment):
    from pyspark.sql import functions as F

    stored = increment.load()
    return stored.where(~F.col("blocked")).drop("blocked")


def _target_rows(target) -> list[tuple]:
    return sorted((r["key"], r["version"], r["month"], r["value"]) for r in target.load().collect())


EXPECTED = [
    (1, 1, "2024-01", "a"),
    (2, 1, "2024-01", "b"),
    (3, 2, "2024-02", "c2"),
    (5, 1, None, "e"),
]


def test_the_upsert_adopts_final_files_and_ranks_pending_rows(spark, tmp_path):
    increment, target = _increment_and_target(tmp_path)
    increment.save(_rows(spark))
    assert increment.last_save_metrics["engine"] == "first_load_layout"
    assert first_load.rows_by_kind(increment.address.path) == {"final": 2, "pending": 4}
    stored = {r["key"]: r for r in increment.load().collect() if r["_kind"] == "final"}
    assert sorted(stored) == [1, 2] and all(r["_row_hash"] is None for r in stored.values())
    pending = [r for r in increment.load().collect() if r["_kind"] == "pending"]
    assert all(r["_row_hash"] is not None for r in pending)
    assert len({r["_row_id"] for r in increment.load().collect()}) == 6
    target.save(_upsert_source(increment))
    assert target.last_save_metrics["engine"] == "adopted_files+sail"
    assert target.last_save_metrics["adopted_rows"] == 2
    assert _target_rows(target) == EXPECTED
    # the internal columns stay in the files, out of the table
    assert sorted(target.load().columns) == ["key", "month", "value", "version"]


def test_a_null_partition_value_stays_null_through_the_layout(spark, tmp_path):
    """A pending row whose partition value is null keeps it null, also where the engine leaves
    another value's bytes under the null (a CASE does): Sail's partitioned writer named the
    folder after those bytes, and the row reached the table under another row's month."""
    from pyspark.sql import functions as F

    increment, target = _increment_and_target(tmp_path)
    rows = [
        (1, 1, "2024-01", "a", False, True),
        (2, 1, "2024-02", "b", False, False),  # month null, "2024-02" under it
        (3, 1, "2024-03", "c", False, True),
    ]
    frame = spark.createDataFrame(
        rows, "key long, version long, raw string, value string, blocked boolean, keep boolean"
    ).select(
        "key", "version", F.when(F.col("keep"), F.col("raw")).alias("month"), "value", "blocked"
    )
    increment.save(frame)
    assert increment.last_save_metrics["engine"] == "first_load_layout"
    stored = sorted((r["key"], r["month"], r["_kind"]) for r in increment.load().collect())
    assert stored == [(1, "2024-01", "final"), (2, None, "pending"), (3, "2024-03", "final")]
    target.save(_upsert_source(increment))
    assert target.last_save_metrics["engine"] == "adopted_files+sail"
    assert sorted((r["key"], r["month"]) for r in target.load().collect()) == [
        (1, "2024-01"),
        (2, None),
        (3, "2024-03"),
    ]


def test_an_upsert_missing_final_rows_is_written_not_adopted(spark, tmp_path):
    from pyspark.sql import functions as F

    increment, target = _increment_and_target(tmp_path)
    increment.save(_rows(spark))
    target.save(_upsert_source(increment).where(F.col("key") != 1))
    assert target.last_save_metrics.get("engine") != "adopted_files+sail"
    assert _target_rows(target) == [row for row in EXPECTED if row[0] != 1]


def test_an_upsert_with_a_recomputed_column_type_is_written_not_adopted(spark, tmp_path):
    from pyspark.sql import functions as F

    increment, target = _increment_and_target(tmp_path)
    increment.save(_rows(spark))
    target.save(_upsert_source(increment).withColumn("version", F.col("version").cast("double")))
    assert target.last_save_metrics.get("engine") != "adopted_files+sail"
    assert dict(target.load().dtypes)["version"] == "double"
    assert [(k, int(v), m, x) for k, v, m, x in _target_rows(target)] == EXPECTED


def test_an_increment_laid_out_for_another_table_is_not_adopted(spark, tmp_path):
    increment, target = _increment_and_target(tmp_path)
    increment.save(_rows(spark))
    other = DeltaTableDataset(
        table="silver.other",
        root=str(tmp_path / "lake"),
        save_args={**target._save_args},
    )
    other.save(_upsert_source(increment))
    assert other.last_save_metrics.get("engine") != "adopted_files+sail"
    assert _target_rows(other) == EXPECTED


def test_a_null_key_among_pending_rows_fails_before_any_table_exists(spark, tmp_path):
    increment, target = _increment_and_target(tmp_path)
    frame = _rows(spark).unionByName(
        spark.createDataFrame(
            [(None, 1, "2024-01", "z", False)],
            "key long, version long, month string, value string, blocked boolean",
        )
    )
    increment.save(frame)
    with pytest.raises(Exception, match="null key"):
        target.save(_upsert_source(increment))
    assert not DeltaTable.is_deltatable(target.address.path)
    assert not os.path.exists(target.address.path)


def test_a_failed_pending_append_removes_the_new_table(spark, tmp_path, monkeypatch):
    increment, target = _increment_and_target(tmp_path)
    increment.save(_rows(spark))

    def broken_append(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writes, "write", broken_append)
    with pytest.raises(Exception, match="disk full"):
        target.save(_upsert_source(increment))
    assert not os.path.exists(target.address.path)


def test_once_the_target_exists_the_increment_is_written_plainly(spark, tmp_path):
    increment, target = _increment_and_target(tmp_path)
    increment.save(_rows(spark))
    target.save(_upsert_source(increment))
    increment.save(_rows(spark))
    assert increment.last_save_metrics.get("engine") != "first_load_layout"
    assert first_load.laid_out_for(increment.address.path) is None
    assert DeltaTable(increment.address.path).metadata().partition_columns == []
    ids = [r["_row_id"] for r in increment.load().select("_row_id").collect()]
    assert len(ids) == len(set(ids)) == 6


@pytest.mark.parametrize(
    "config",
    [
        {"table": "silver.target", "keys": ["key"]},
        {"table": "silver.target", "partition_by": ["month"]},
        {"keys": ["key"], "partition_by": ["month"]},
        {"table": "silver.target", "keys": ["key"], "partition_by": ["month"], "oops": 1},
        "silver.target",
    ],
)
def test_a_malformed_first_load_of_is_refused(config, tmp_path):
    from kedro.io.core import DatasetError

    with pytest.raises(DatasetError, match="first_load_of"):
        DeltaTableDataset(
            table="silver.increment",
            root=str(tmp_path),
            save_args={"mode": "overwrite", "first_load_of": config},
        )


def test_first_load_of_needs_overwrite_and_adoption_needs_upsert(tmp_path):
    from kedro.io.core import DatasetError

    layout = {"table": "silver.t", "keys": ["k"], "partition_by": ["m"]}
    with pytest.raises(DatasetError, match="needs mode 'overwrite'"):
        DeltaTableDataset(
            table="silver.i",
            root=str(tmp_path),
            save_args={"mode": "append", "first_load_of": layout},
        )
    with pytest.raises(DatasetError, match="needs mode 'upsert'"):
        DeltaTableDataset(
            table="silver.t",
            root=str(tmp_path),
            save_args={"mode": "overwrite", "adopt_first_load_from": "silver.i"},
        )
