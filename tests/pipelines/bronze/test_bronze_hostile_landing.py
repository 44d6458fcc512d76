"""Bronze against a hostile landing zone: odd column names, manifests pointing elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nyc_lakehouse.landing import MANIFEST, PART_FILE_NAME, LandingManifestError, LandingZone

ODD_COLUMNS = ("odd`name", "x` string, y")


def _odd_header_table() -> pa.Table:
    columns = {
        "unique_key": ["1", "2"],
        "created_date": ["2020-01-01T10:00:00.000"] * 2,
        ODD_COLUMNS[0]: ["a", "b"],
        ODD_COLUMNS[1]: ["c", "d"],
    }
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


@pytest.mark.parametrize("where", ["local", "remote"])
def test_a_header_with_a_backtick_lands_in_bronze(
    spark, data_root, land, run_bronze, monkeypatch, where
):
    # remote: the Spark append of Databricks or a Spark Connect cluster, which declares the
    # schema from DDL text; local: the landing files committed as they are
    from nyc_lakehouse import spark as engine

    if where == "remote":
        monkeypatch.setattr(engine, "current_mode", lambda: "remote")
    land("nyc311", 2020, 1, tables=[_odd_header_table()])
    run_bronze()
    bronze = spark.read.format("delta").load(str(data_root / "bronze/nyc311_service_requests"))
    rows = sorted(bronze.select("unique_key", *ODD_COLUMNS).collect())
    assert [tuple(r) for r in rows] == [("1", "a", "c"), ("2", "b", "d")]


# --- manifests are validated before anything is read ------------------------------------------
def _small() -> pa.Table:
    return pa.table({"unique_key": pa.array(["1", "2"]), "created_date": pa.array(["x", "y"])})


def _tamper(batch, **changes) -> Path:
    """Rewrite a committed batch's manifest with ``changes``; return the manifest's path."""
    path = Path(batch.path) / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    return path


@pytest.fixture
def outside(tmp_path) -> Path:
    """A Parquet file outside the lakehouse, which no manifest may bring into bronze."""
    path = tmp_path / "outside.parquet"
    pq.write_table(pa.table({"unique_key": pa.array(["secret"])}), path)
    return path


def _refusal(zone) -> str:
    with pytest.raises(LandingManifestError, match="Refused the landing manifest") as caught:
        zone.batches("nyc311")
    return str(caught.value)


def test_a_manifest_naming_a_file_outside_its_batch_folder_is_refused_by_bronze(
    data_root, zone, run_bronze, outside
):
    batch = zone.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    depth = len(Path(batch.path).relative_to(outside.parent).parts)
    _tamper(batch, files=["../" * depth + "outside.parquet"])
    with pytest.raises(Exception, match=r"files\[0\] is not a plain part file name"):
        run_bronze()
    assert outside.stat().st_nlink == 1  # never hard-linked into the table
    assert not (data_root / "bronze" / "nyc311_service_requests" / "_delta_log").exists()


@pytest.mark.parametrize(
    "files",
    [
        ["../../outside.parquet"],
        ["/etc/passwd"],
        ["ingest_date=2024-01-01/part-a-00000.parquet"],
        ["part-a-00000.parquet/.."],
        ["..\\part-a-00000.parquet"],
        ["part-a-00000.parquet", "part-a-00000.parquet"],
        ["_manifest.json"],
        [7],
    ],
)
def test_files_must_be_plain_part_file_names(zone, files):
    batch = zone.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    _tamper(batch, files=files)
    message = _refusal(zone)
    assert "nyc311/ingest_date=2024-01-01/batch_id=b1/_manifest.json" in message
    assert "passwd" not in message and "outside" not in message


def test_the_refusal_says_nothing_of_whether_the_other_path_exists(zone, outside, tmp_path):
    batch = zone.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    messages = []
    for target in (outside, tmp_path / "missing.parquet"):
        _tamper(batch, files=[str(target)])
        messages.append(_refusal(zone))
    assert messages[0] == messages[1]


def test_a_part_file_that_is_a_symlink_out_of_the_batch_is_refused(zone, outside):
    batch = zone.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    link = Path(batch.path) / "part-evil-00000.parquet"
    link.symlink_to(outside)
    _tamper(batch, files=[link.name], checksums={})
    assert "files[0] resolves outside its batch folder" in _refusal(zone)


def test_a_batch_folder_that_is_a_symlink_is_refused(zone, tmp_path):
    elsewhere = LandingZone(str(tmp_path / "elsewhere"))
    batch = elsewhere.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    folder = Path(zone.dataset_path("nyc311")) / "ingest_date=2024-01-01"
    folder.mkdir(parents=True)
    (folder / "batch_id=b1").symlink_to(batch.path, target_is_directory=True)
    # fsspec's listing does not descend into a linked folder: the batch is invisible; were it
    # listed, the resolved manifest path would refuse it
    assert zone.batches("nyc311") == []
    with pytest.raises(LandingManifestError, match="the manifest resolves outside"):
        zone._check_inside(zone.dataset_path("nyc311"), str(folder / "batch_id=b1"), [MANIFEST])


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"batch_id": "b2"}, "'batch_id' differs from the batch folder's"),
        ({"ingest_date": "2024-01-02"}, "'ingest_date' differs from the folder's"),
        ({"dataset": "nyc911"}, "'dataset' is not the dataset"),
        ({"rows": "2"}, "'rows' is missing or not a int"),
        ({"rows": -1}, "'rows' is negative"),
        ({"files": "part-a-00000.parquet"}, "'files' is missing or not a list"),
        ({"format_version": 99}, "'format_version' is not one this reader knows"),
        ({"checksums": {"part-x-00000.parquet": "sha256:" + "0" * 64}}, "'checksums' holds"),
        ({"checksums": []}, "'checksums' is not an object"),
    ],
)
def test_a_manifest_that_does_not_match_its_folder_or_the_schema_is_refused(zone, changes, rule):
    batch = zone.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    _tamper(batch, **changes)
    assert rule in _refusal(zone)


def test_a_manifest_that_is_not_json_or_not_an_object_is_refused(zone):
    batch = zone.write_batch("nyc311", "b1", [_small()], ingest_date="2024-01-01")
    path = Path(batch.path) / MANIFEST
    path.write_text("{not json")
    assert "not valid JSON" in _refusal(zone)
    path.write_text("[]")
    assert "not a JSON object" in _refusal(zone)


def test_manifests_the_writer_commits_pass_and_list_their_files(zone):
    batch = zone.write_batch("nyc311", "b1", [_small(), _small()], ingest_date="2024-01-01")
    (found,) = zone.batches("nyc311")
    assert found.files == batch.files and len(found.files) == 2
    assert all(PART_FILE_NAME.fullmatch(Path(f).name) for f in found.files)


def test_the_writer_never_commits_a_manifest_readers_would_refuse(zone):
    writer = zone.open_batch("nyc311", "b1", "2024-01-01")
    writer.write(_small())
    with pytest.raises(LandingManifestError, match="'batch_id' differs"):
        writer.commit({"batch_id": "other"})
    assert zone.batches("nyc311") == []
