"""Bronze nodes on their own: file inspection, planning, reading with audit columns, the log."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nyc_lakehouse.datasets import OptionalDeltaTableDataset
from nyc_lakehouse.pipelines.bronze import nodes
from nyc_lakehouse.pipelines.bronze.datasets import RunSummaryDataset

PARAMS = {"dataset": "nyc311", "verify": "full"}


def _small_table(keys: list[str], **extra: list[str]) -> pa.Table:
    columns = {
        "unique_key": keys,
        "created_date": ["2020-01-01T10:00:00.000"] * len(keys),
        **extra,
    }
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


# ---------------------------------------------------------------------------- inspect
def test_inspect_classifies_good_empty_corrupt_and_missing_files(zone, land, tmp_path):
    batch = land("nyc311", 2020, 1, scale=0.05)
    good = batch.files[0]
    status, rows, error = nodes.inspect_landing_file(zone, good)
    assert (status, rows, error) == ("new", batch.rows, None)

    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    assert nodes.inspect_landing_file(zone, str(empty))[:2] == ("empty", 0)

    no_rows = tmp_path / "no_rows.parquet"
    pq.write_table(_small_table([]), no_rows)
    assert nodes.inspect_landing_file(zone, str(no_rows)) == ("empty", 0, "no rows")

    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet at all")
    status, rows, error = nodes.inspect_landing_file(zone, str(corrupt))
    assert (status, rows) == ("unreadable", 0) and error

    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(open(good, "rb").read()[:-100])
    assert nodes.inspect_landing_file(zone, str(truncated))[0] == "unreadable"

    missing = nodes.inspect_landing_file(zone, str(tmp_path / "gone.parquet"))
    assert missing[0] == "unreadable" and "does not exist" in missing[2]

    with pytest.raises(ValueError, match="verify"):
        nodes.inspect_landing_file(zone, good, verify="sometimes")


def test_full_verification_catches_a_corrupt_page_the_footer_check_misses(zone, tmp_path):
    table = _small_table([str(10_000_000 + i) for i in range(5000)])
    path = tmp_path / "page.parquet"
    pq.write_table(table, path, compression="none", row_group_size=1000)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = b"\xff" * 64  # damage a data page, keep the footer intact
    path.write_bytes(bytes(data))
    assert nodes.inspect_landing_file(zone, str(path), verify="footer")[0] == "new"
    assert nodes.inspect_landing_file(zone, str(path), verify="full")[0] == "unreadable"


def _damage_a_page(path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = b"\xff" * 64  # a data page, the footer intact
    path.write_bytes(bytes(data))


def test_landing_records_each_file_checksum_in_the_manifest(zone, land):
    from nyc_lakehouse.landing import file_checksum

    batch = land("nyc311", 2020, 1, scale=0.05)
    recorded = batch.manifest["checksums"]
    assert sorted(recorded) == sorted(f.rsplit("/", 1)[-1] for f in batch.files)
    for url in batch.files:
        assert recorded[url.rsplit("/", 1)[-1]] == file_checksum(zone.fs, url)
        assert recorded[url.rsplit("/", 1)[-1]].startswith("sha256:")
    # the committed manifest on disk says the same (bronze reads it from there)
    (listed,) = [b for b in zone.batches("nyc311") if b.batch_id == batch.batch_id]
    assert listed.manifest["checksums"] == recorded


def test_checksum_verification_rejects_files_that_changed_since_landing(zone, tmp_path):
    from nyc_lakehouse.landing import file_checksum

    table = _small_table([str(10_000_000 + i) for i in range(5000)])
    path = tmp_path / "page.parquet"
    pq.write_table(table, path, compression="zstd", row_group_size=1000)
    landed = file_checksum(zone.fs, str(path))
    assert nodes.inspect_landing_file(zone, str(path), "checksum", landed) == ("new", 5000, None)

    # damaged after landing: caught by the checksum, even where the pages still decode
    _damage_a_page(path)
    status, rows, error = nodes.inspect_landing_file(zone, str(path), "checksum", landed)
    assert (status, rows) == ("unreadable", 0)
    assert "checksum mismatch" in error and "verify=full" in error
    # these very bytes recorded: trusted as written, only the footer is read (the fast path)
    damaged = file_checksum(zone.fs, str(path))
    assert nodes.inspect_landing_file(zone, str(path), "checksum", damaged)[0] == "new"

    # no checksum recorded (landed before checksums): every page is decoded, as with "full"
    uncompressed = tmp_path / "uncompressed.parquet"
    pq.write_table(table, uncompressed, compression="none", row_group_size=1000)
    _damage_a_page(uncompressed)
    assert nodes.inspect_landing_file(zone, str(uncompressed), "checksum", None)[0] == "unreadable"
    assert nodes.inspect_landing_file(zone, str(uncompressed), "full", landed)[0] == "unreadable"

    # repaired in place by hand: still not the landed bytes; verify=full accepts it
    pq.write_table(table, path)
    assert nodes.inspect_landing_file(zone, str(path), "checksum", landed)[0] == "unreadable"
    assert nodes.inspect_landing_file(zone, str(path), "full", landed) == ("new", 5000, None)


def test_plan_verifies_against_the_manifest_checksums(spark, zone, land):
    good = land("nyc311", 2020, 1, scale=0.05)
    damaged = land("nyc311", 2020, 2, scale=0.05)
    from pathlib import Path

    _damage_a_page(Path(damaged.files[0]))
    plan = nodes.plan_bronze_load(zone, {}, None, None, {"dataset": "nyc311"})
    status = {f["batch_id"]: f["status"] for f in plan["files"]}
    assert status == {good.batch_id: "new", damaged.batch_id: "unreadable"}


# ---------------------------------------------------------------------------- plan
def test_plan_lists_new_files_and_skips_ingested_ones(spark, zone, land):
    first = land("nyc311", 2020, 1, scale=0.05)
    second = land("nyc311", 2020, 2, scale=0.05)
    plan = nodes.plan_bronze_load(zone, {}, None, None, PARAMS)
    assert [(f["batch_id"], f["status"]) for f in plan["files"]] == [
        (first.batch_id, "new"),
        (second.batch_id, "new"),
    ]
    assert [f["rows"] for f in plan["files"]] == [first.rows, second.rows]

    # bronze already holds the first file (and the log knows it): only the second is planned
    bronze = spark.createDataFrame(
        [(first.batch_id, first.files[0])] * 3, "_batch_id string, _source_file string"
    )
    log = spark.createDataFrame(
        [("nyc311", first.batch_id, first.files[0], 3, "ingested")],
        "dataset string, batch_id string, source_file string, rows bigint, status string",
    )
    plan = nodes.plan_bronze_load(zone, {"source": "sample"}, bronze, log, PARAMS)
    assert [(f["batch_id"], f["status"]) for f in plan["files"]] == [(second.batch_id, "new")]


def test_plan_recovers_files_in_bronze_that_the_log_misses(spark, zone, land):
    batch = land("nyc311", 2020, 1, scale=0.05)
    # the same file seen under another mount point: identity is batch id + file name
    moved = "/elsewhere/landing/" + batch.files[0].rsplit("/", 1)[-1]
    bronze = spark.createDataFrame(
        [(batch.batch_id, moved)] * 7, "_batch_id string, _source_file string"
    )
    plan = nodes.plan_bronze_load(zone, {}, bronze, None, PARAMS)
    assert len(plan["files"]) == 1
    recovered = plan["files"][0]
    assert (recovered["status"], recovered["rows"]) == ("ingested", 7)
    assert recovered["error"] == nodes.RECOVERED_NOTE


def test_plan_reports_bad_files_by_name(zone, land, caplog):
    batch = land("nyc311", 2020, 1, scale=0.05)
    with open(batch.files[0], "wb") as handle:
        handle.write(b"garbage")
    with caplog.at_level("WARNING"):
        plan = nodes.plan_bronze_load(zone, {}, None, None, PARAMS)
    assert plan["files"][0]["status"] == "unreadable"
    assert batch.files[0] in caplog.text and "retried on the next run" in caplog.text


# ---------------------------------------------------------------------------- read
def test_read_adds_audit_columns_and_unions_files_with_different_columns(spark, zone):
    one = zone.write_batch("nyc311", "b1", [_small_table(["1", "2"])], ingest_date="2024-01-01")
    two = zone.write_batch(
        "nyc311",
        "b2",
        [_small_table(["3"], brand_new_field=["x"])],
        ingest_date="2024-01-02",
    )
    plan = nodes.plan_bronze_load(zone, {}, None, None, PARAMS)
    appended = nodes.read_landing_files(plan, None)
    # the files as they are, with their audit values, for a dataset that commits them whole
    assert [(f.path, f.batch_id, f.ingest_date) for f in appended.files] == [
        (one.files[0], "b1", "2024-01-01"),
        (two.files[0], "b2", "2024-01-02"),
    ]
    assert appended.ingested_at == datetime.fromisoformat(plan["planned_at"])
    data = appended.frame
    assert data.columns == [
        "unique_key",
        "created_date",
        "brand_new_field",
        *nodes.AUDIT_COLUMNS,
    ]
    rows = {r["unique_key"]: r for r in data.collect()}
    assert rows["1"]["_source_file"] == one.files[0] and rows["1"]["_batch_id"] == "b1"
    assert rows["3"]["_source_file"] == two.files[0] and rows["3"]["_ingest_date"] == "2024-01-02"
    assert rows["1"]["brand_new_field"] is None and rows["3"]["brand_new_field"] == "x"
    assert len({r["_ingested_at"] for r in rows.values()}) == 1
    types = dict(data.dtypes)
    assert types["_ingested_at"] == "timestamp" and types["unique_key"] == "string"


def test_read_keeps_the_existing_table_order_and_puts_new_columns_last():
    existing = ["a", "b", *nodes.AUDIT_COLUMNS, "c"]
    assert nodes._column_order(["b", "new", "a", "c", *nodes.AUDIT_COLUMNS], existing) == [
        *existing,
        "new",
    ]
    assert nodes._column_order(["x", "_batch_id", "y"], []) == ["x", "y", *nodes.AUDIT_COLUMNS]


def test_read_with_nothing_new_returns_an_empty_frame_with_the_landing_schema(spark):
    plan = {"dataset": "nyc911", "planned_at": "2024-01-01T00:00:00+00:00", "files": []}
    data = nodes.read_landing_files(plan, None)
    assert data.count() == 0
    assert "week_start_date" in data.columns and data.columns[-4:] == list(nodes.AUDIT_COLUMNS)


# ---------------------------------------------------------------------------- log
def test_batch_log_confirms_rows_from_bronze_and_keeps_bad_files(spark):
    plan = {
        "dataset": "nyc311",
        "planned_at": "2024-01-01T00:00:00+00:00",
        "files": [
            {"dataset": "nyc311", "batch_id": "b1", "ingest_date": "2024-01-01",
             "source_file": "/l/b1/part-1.parquet", "status": "new", "rows": 2, "error": None},
            {"dataset": "nyc311", "batch_id": "b1", "ingest_date": "2024-01-01",
             "source_file": "/l/b1/part-2.parquet", "status": "empty", "rows": 0, "error": "0 bytes"},
            {"dataset": "nyc311", "batch_id": "b0", "ingest_date": "2023-12-31",
             "source_file": "/l/b0/part-0.parquet", "status": "ingested", "rows": 5,
             "error": nodes.RECOVERED_NOTE},
        ],
    }  # fmt: skip
    bronze = spark.createDataFrame(
        [("b1", "/l/b1/part-1.parquet", "2024-01-01")] * 2,
        "_batch_id string, _source_file string, _ingest_date string",
    )
    empty_plan = {"dataset": "nyc911", "planned_at": plan["planned_at"], "files": []}
    log = nodes.build_batch_log(plan, bronze, empty_plan, bronze.limit(0))
    assert log.columns == list(nodes.LOG_COLUMNS)
    rows = {r["source_file"]: r for r in log.collect()}
    assert (rows["/l/b1/part-1.parquet"]["status"], rows["/l/b1/part-1.parquet"]["rows"]) == (
        "ingested",
        2,
    )
    assert rows["/l/b1/part-2.parquet"]["status"] == "empty"
    assert rows["/l/b0/part-0.parquet"]["error"] == nodes.RECOVERED_NOTE
    with pytest.raises(ValueError, match="pairs"):
        nodes.build_batch_log(plan)


def test_a_planned_file_missing_from_bronze_is_logged_unreadable(spark):
    plan = {
        "dataset": "nyc311",
        "planned_at": "2024-01-01T00:00:00+00:00",
        "files": [
            {"dataset": "nyc311", "batch_id": "b1", "ingest_date": "2024-01-01",
             "source_file": "/l/b1/part-1.parquet", "status": "new", "rows": 2, "error": None},
        ],
    }  # fmt: skip
    bronze = spark.createDataFrame([], "_batch_id string, _source_file string, _ingest_date string")
    row = nodes.build_batch_log(plan, bronze).collect()[0]
    assert row["status"] == "unreadable" and "no rows reached bronze" in row["error"]


# ---------------------------------------------------------------------------- datasets
def test_run_summary_dataset_is_empty_until_saved(tmp_path):
    dataset = RunSummaryDataset(str(tmp_path / "runs" / "nyc311.json"))
    assert dataset.load() == {} and not dataset.exists()
    dataset.save({"batches_landed": ["sample-2020-01"], "rows_landed": 3})
    assert dataset.load()["rows_landed"] == 3 and dataset.exists()
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["nyc311.json"]


def test_optional_delta_table_loads_none_until_the_table_exists(spark, tmp_path):
    dataset = OptionalDeltaTableDataset(table="bronze.t", root=str(tmp_path))
    assert dataset.load() is None
    spark.createDataFrame([("1",)], "a string").write.format("delta").save(
        str(tmp_path / "bronze" / "t")
    )
    assert dataset.load().count() == 1
    with pytest.raises(Exception, match="read-only"):
        dataset.save(spark.createDataFrame([("2",)], "a string"))


def test_progress_is_logged_on_long_checks(caplog):
    progress = nodes._Progress("checked %d of 3 landing file(s)", every_seconds=0)
    with caplog.at_level("INFO"):
        for _ in range(3):
            progress.step()
    assert "checked 3 of 3 landing file(s)" in caplog.text
