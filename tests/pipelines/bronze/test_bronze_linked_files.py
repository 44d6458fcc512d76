"""Bronze appends that commit the landing files themselves (``save_args.link_files``).

The linked table must hold exactly what the Spark append writes: same rows, same columns, same
values, audit columns included. Real Sail, real Delta (delta-rs), real landing files.
"""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from kedro.io.core import DatasetError

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.delta import linked_files
from nyc_lakehouse.pipelines.bronze import nodes

PARAMS = {"dataset": "nyc311", "verify": "full"}


def _strings(**columns: list[str | None]) -> pa.Table:
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


def _bronze(lake: Path, name: str, link: bool) -> DeltaTableDataset:
    save_args = {"mode": "append", "partition_by": ["_ingest_date"], "link_files": link}
    return DeltaTableDataset(table=f"bronze.{name}", root=str(lake), save_args=save_args)


def _rows(frame) -> list[tuple]:
    columns = sorted(frame.columns)
    return sorted(tuple(str(row[c]) for c in columns) for row in frame.collect())


def _append(zone, dataset: DeltaTableDataset):
    current = dataset.load() if DeltaTable.is_deltatable(dataset.address.path) else None
    plan = nodes.plan_bronze_load(zone, {}, current, None, PARAMS)
    appended = nodes.read_landing_files(plan, current)
    dataset.save(appended)
    return appended


def test_linked_append_holds_what_the_spark_append_writes(spark, zone, data_root):
    one = zone.write_batch(
        "nyc311",
        "b1",
        [_strings(unique_key=["1", "2"], created_date=["2020-01-01T10:00:00.000", None])],
        ingest_date="2024-01-01",
    )
    two = zone.write_batch(
        "nyc311",
        "b2",
        [_strings(unique_key=["3"], created_date=["x"], brand_new_field=["new"])],
        ingest_date="2024-01-02",
    )
    plan = nodes.plan_bronze_load(zone, {}, None, None, PARAMS)
    appended = nodes.read_landing_files(plan, None)
    linked, copied = _bronze(data_root, "linked", True), _bronze(data_root, "copied", False)
    linked.save(appended)
    copied.save(appended)

    assert linked.last_save_metrics["engine"] == "linked_files"
    assert linked.last_save_metrics["num_rows"] == 3 and linked.last_save_metrics["files"] == 2
    assert "engine" not in copied.last_save_metrics
    assert (
        linked.load().columns
        == copied.load().columns
        == [
            "unique_key",
            "created_date",
            "brand_new_field",
            *nodes.AUDIT_COLUMNS,
        ]
    )
    assert dict(linked.load().dtypes) == dict(copied.load().dtypes)
    assert _rows(linked.load()) == _rows(copied.load())
    # per-file audit values, as the batch log reads them
    assert nodes.ingested_files(linked.load()) == {
        nodes.file_key("b1", one.files[0]): 2,
        nodes.file_key("b2", two.files[0]): 1,
    }
    table = DeltaTable(linked.address.path)
    assert table.metadata().partition_columns == list(nodes.AUDIT_COLUMNS)
    # no copy: every data file is the landing file itself (same inode)
    landed = {os.stat(f).st_ino for f in (*one.files, *two.files)}
    committed = {os.stat(uri.removeprefix("file://")).st_ino for uri in table.file_uris()}
    assert committed == landed


def test_a_later_append_adds_new_columns_and_survives_landing_cleanup(spark, zone, data_root):
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    first = zone.write_batch("nyc311", "b1", [_strings(unique_key=["1"])], ingest_date="2024-01-01")
    _append(zone, dataset)
    zone.write_batch(
        "nyc311", "b2", [_strings(unique_key=["2"], extra=["e"])], ingest_date="2024-01-02"
    )
    _append(zone, dataset)

    frame = dataset.load()
    assert frame.columns == ["unique_key", *nodes.AUDIT_COLUMNS, "extra"]
    assert {r["unique_key"]: r["extra"] for r in frame.collect()} == {"1": None, "2": "e"}
    # the landing zone's retention may delete a file: bronze keeps its own link to the bytes
    os.remove(first.files[0])
    assert dataset.load().count() == 2
    # an append with nothing new is a no-op
    _append(zone, dataset)
    assert dataset.load().count() == 2


def test_a_column_type_that_differs_from_the_table_is_refused_before_linking(
    spark, zone, data_root
):
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    zone.write_batch("nyc311", "b1", [_strings(unique_key=["1"])], ingest_date="2024-01-01")
    _append(zone, dataset)
    version = DeltaTable(dataset.address.path).version()
    files_before = sorted(p.name for p in Path(dataset.address.path).rglob("*.parquet"))
    typed = pa.table({"unique_key": pa.array([2], pa.int64())})
    bad = zone.write_batch("nyc311", "b2", [typed], ingest_date="2024-01-02")

    with pytest.raises(DatasetError, match="unique_key is int64, the bronze table has string") as e:
        _append(zone, dataset)
    assert bad.files[0] in str(e.value)
    assert DeltaTable(dataset.address.path).version() == version
    assert sorted(p.name for p in Path(dataset.address.path).rglob("*.parquet")) == files_before


def test_a_landing_column_named_like_an_audit_column_is_refused(spark, zone, data_root):
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    bad = zone.write_batch(
        "nyc311",
        "b1",
        [_strings(unique_key=["1"], _batch_id=["spoofed"])],
        ingest_date="2024-01-01",
    )
    append = linked_files.LandingFilesAppend(
        frame=spark.createDataFrame([], "unique_key string"),
        files=(linked_files.LandingFileToLink(bad.files[0], "b1", "2024-01-01"),),
        ingested_at=datetime.now(UTC),
    )
    with pytest.raises(DatasetError) as raised:
        dataset.save(append)
    assert bad.files[0] in str(raised.value) and "_batch_id" in str(raised.value)
    assert not DeltaTable.is_deltatable(dataset.address.path)


def test_a_failed_commit_leaves_no_linked_file_behind(spark, zone, data_root, monkeypatch):
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    zone.write_batch("nyc311", "b1", [_strings(unique_key=["1"])], ingest_date="2024-01-01")
    _append(zone, dataset)
    zone.write_batch("nyc311", "b2", [_strings(unique_key=["2"])], ingest_date="2024-01-02")

    def refuse(*args, **kwargs):
        raise OSError(errno.EIO, "disk went away mid-commit")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", refuse)
    with pytest.raises(DatasetError, match="disk went away"):
        _append(zone, dataset)
    monkeypatch.undo()
    table = DeltaTable(dataset.address.path)
    on_disk = {str(p) for p in Path(dataset.address.path).rglob("*.parquet")}
    assert on_disk == {uri.removeprefix("file://") for uri in table.file_uris()}
    assert dataset.load().count() == 1
    _append(zone, dataset)  # the retry appends the batch once
    assert sorted(r["unique_key"] for r in dataset.load().collect()) == ["1", "2"]


def test_another_file_system_gets_a_copy(spark, zone, data_root, monkeypatch):
    batch = zone.write_batch(
        "nyc311", "b1", [_strings(unique_key=["1", "2"])], ingest_date="2024-01-01"
    )

    def cross_device(source, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(linked_files.os, "link", cross_device)
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    _append(zone, dataset)
    assert dataset.last_save_metrics["copied_files"] == 1
    (uri,) = DeltaTable(dataset.address.path).file_uris()
    committed = uri.removeprefix("file://")
    assert os.stat(committed).st_ino != os.stat(batch.files[0]).st_ino
    assert Path(committed).read_bytes() == Path(batch.files[0]).read_bytes()
    assert dataset.load().count() == 2


def test_a_table_written_by_spark_keeps_getting_spark_appends(spark, zone, data_root):
    zone.write_batch("nyc311", "b1", [_strings(unique_key=["1"])], ingest_date="2024-01-01")
    _append(zone, _bronze(data_root, "nyc311_service_requests", False))
    zone.write_batch("nyc311", "b2", [_strings(unique_key=["2"])], ingest_date="2024-01-02")
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    _append(zone, dataset)
    assert "engine" not in dataset.last_save_metrics
    table = DeltaTable(dataset.address.path)
    assert table.metadata().partition_columns == ["_ingest_date"]
    assert sorted(r["unique_key"] for r in dataset.load().collect()) == ["1", "2"]


def test_partition_values_keep_paths_and_times_exactly(spark, zone, data_root):
    batch = zone.write_batch(
        "nyc311", "b é-1", [_strings(unique_key=["1"])], ingest_date="2024-01-01"
    )
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    appended = _append(zone, dataset)
    (row,) = dataset.load().collect()
    assert row["_batch_id"] == "b é-1" and row["_source_file"] == batch.files[0]
    epoch = dataset.load().selectExpr("CAST(_ingested_at AS DOUBLE) AS e").first()["e"]
    assert epoch == pytest.approx(appended.ingested_at.timestamp(), abs=1e-6)
    assert pq.read_table(batch.files[0]).num_rows == 1


def test_a_file_name_that_is_not_plain_is_committed_under_a_plain_one(spark, data_root, tmp_path):
    odd = tmp_path / "export 2024 é#1.parquet"
    pq.write_table(_strings(unique_key=["1", "2"]), odd)
    append = linked_files.LandingFilesAppend(
        frame=spark.createDataFrame([], "unique_key string"),
        files=(linked_files.LandingFileToLink(str(odd), "b1", "2024-01-01"),),
        ingested_at=datetime.now(UTC),
    )
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    dataset.save(append)
    (uri,) = DeltaTable(dataset.address.path).file_uris()
    assert " " not in uri and "#" not in uri and uri.endswith(".parquet")
    rows = dataset.load().collect()
    assert sorted(r["unique_key"] for r in rows) == ["1", "2"]
    assert {r["_source_file"] for r in rows} == {str(odd)}


def test_off_the_local_engine_bronze_appends_through_spark(spark, zone, data_root, monkeypatch):
    # Databricks or a remote Spark Connect cluster: the files may not be on this machine, and
    # the table is written by that engine (partitioned by _ingest_date, as before)
    from nyc_lakehouse import spark as engine

    zone.write_batch("nyc311", "b1", [_strings(unique_key=["1", "2"])], ingest_date="2024-01-01")
    monkeypatch.setattr(engine, "current_mode", lambda: "remote")
    dataset = _bronze(data_root, "nyc311_service_requests", True)
    _append(zone, dataset)
    assert "engine" not in dataset.last_save_metrics
    assert DeltaTable(dataset.address.path).metadata().partition_columns == ["_ingest_date"]
    assert sorted(r["unique_key"] for r in dataset.load().collect()) == ["1", "2"]
