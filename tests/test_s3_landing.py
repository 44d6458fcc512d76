"""The landing zone on S3 for real: s3fs against an S3-compatible server (moto) on 127.0.0.1.

Credentials and endpoint come from the environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``...),
exactly as a job on an instance profile or with exported keys would get them; one test passes the
endpoint through ``storage_options`` instead. Nothing is mocked inside the process: boto3, s3fs and
pyarrow talk HTTP to a real server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from nyc_lakehouse.landing import LandingZone

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUCKET = "nyc-lakehouse-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh bucket; AWS credentials and endpoint only in the environment."""
    import boto3
    import s3fs

    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-access-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])
    client.delete_bucket(Bucket=BUCKET)
    s3fs.S3FileSystem.clear_instance_cache()


def keys(client: Any, prefix: str) -> list[str]:
    response = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


def rows(start: int, stop: int) -> pa.Table:
    return pa.table(
        {"unique_key": [str(i) for i in range(start, stop)], "agency": ["NYPD"] * (stop - start)}
    )


def test_batch_lands_as_parquet_on_s3_and_is_listed_and_read_back(s3):
    zone = LandingZone(f"s3://{BUCKET}/landing")
    writer = zone.open_batch("nyc311", "batch-1", "2024-01-02")
    writer.write(rows(0, 1000))
    writer.write(rows(1000, 1500))
    writer.write(rows(0, 0))  # an empty page writes nothing
    assert zone.batches("nyc311") == []  # nothing visible before the commit
    info = writer.commit({"source": "sample"})

    prefix = "landing/nyc311/ingest_date=2024-01-02/batch_id=batch-1/"
    stored = keys(s3, prefix)
    assert stored == sorted(
        [prefix + "_manifest.json"] + [prefix + f.rsplit("/", 1)[1] for f in info.files]
    )
    assert len(info.files) == 2 and all(
        f.startswith(f"s3://{BUCKET}/{prefix}part-") for f in info.files
    )

    [listed] = zone.batches("nyc311")
    assert (listed.batch_id, listed.rows, listed.files) == ("batch-1", 1500, info.files)
    assert listed.manifest["source"] == "sample"
    assert zone.has_batch("nyc311", "batch-1") and not zone.has_batch("nyc311", "batch-2")
    table = zone.read_batch(listed)
    assert sorted(table.column("unique_key").to_pylist(), key=int) == [str(i) for i in range(1500)]


def test_a_new_batch_is_seen_by_a_zone_that_listed_before(s3):
    """No stale listing: s3fs caches directory listings, committed batches must still appear."""
    zone = LandingZone(f"s3://{BUCKET}/landing")
    zone.write_batch("nyc911", "w1", [rows(0, 10)], ingest_date="2024-01-01")
    assert [b.batch_id for b in zone.batches("nyc911")] == ["w1"]
    other_process = LandingZone(f"s3://{BUCKET}/landing", {"skip_instance_cache": True})
    other_process.write_batch("nyc911", "w2", [rows(10, 30)], ingest_date="2024-01-08")
    other_process.write_batch("nyc911", "w3", [rows(30, 35)], ingest_date="2024-01-01")
    other_process.write_state("nyc911", "watermark", {"watermark": "w3"})
    zone_again = LandingZone(f"s3://{BUCKET}/landing")  # same cached s3fs instance as `zone`
    assert [(b.batch_id, b.rows) for b in zone_again.batches("nyc911")] == [
        ("w1", 10),
        ("w2", 20),
        ("w3", 5),
    ]
    assert zone.has_batch("nyc911", "w3")
    assert zone.read_state("nyc911", "watermark") == {"watermark": "w3"}


def test_a_crashed_attempt_leaves_nothing_visible_and_the_rerun_replaces_it(s3):
    crashed = LandingZone(f"s3://{BUCKET}/landing", {"skip_instance_cache": True})
    writer = crashed.open_batch("nyc311", "sample-2019-01", "2024-02-01")
    writer.write(rows(0, 100))  # ... and the process dies before commit
    zone = LandingZone(f"s3://{BUCKET}/landing", {"skip_instance_cache": True})
    assert zone.batches("nyc311") == [] and not zone.has_batch("nyc311", "sample-2019-01")

    info = zone.write_batch("nyc311", "sample-2019-01", [rows(0, 60)], ingest_date="2024-02-01")
    prefix = "landing/nyc311/ingest_date=2024-02-01/batch_id=sample-2019-01/"
    parts = [k for k in keys(s3, prefix) if "/part-" in k]
    assert parts == [prefix + info.files[0].rsplit("/", 1)[1]], "the orphan of the crash is gone"
    [batch] = zone.batches("nyc311")
    assert batch.rows == 60 and zone.read_batch(batch).num_rows == 60


def test_state_documents_round_trip_on_s3(s3):
    zone = LandingZone(f"s3://{BUCKET}/landing")
    assert zone.read_state("nyc311", "watermark") is None
    zone.write_state("nyc311", "watermark", {"watermark": "2024-05-01T00:00:00"})
    zone.write_state("nyc311", "watermark", {"watermark": "2024-05-02T00:00:00"})
    assert zone.read_state("nyc311", "watermark") == {"watermark": "2024-05-02T00:00:00"}
    assert keys(s3, "landing/nyc311/_state/") == ["landing/nyc311/_state/watermark.json"]


def test_endpoint_and_keys_can_come_from_storage_options(s3, s3_endpoint, monkeypatch):
    """The catalog way (`landing.zone` with credentials/storage_options), without AWS_ENDPOINT_URL."""
    import s3fs

    from nyc_lakehouse.datasets import LandingZoneDataset

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    s3fs.S3FileSystem.clear_instance_cache()
    dataset = LandingZoneDataset(
        root=f"s3://{BUCKET}/landing",
        storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}},
    )
    zone = dataset.load()
    zone.write_batch("nyc311", "opts", [rows(0, 5)], ingest_date="2024-03-01")
    assert [b.rows for b in dataset.load().batches("nyc311")] == [5]
    assert keys(s3, "landing/nyc311/ingest_date=2024-03-01/batch_id=opts/")


def test_ingestion_pipeline_lands_the_sample_on_s3(s3, monkeypatch):
    """The real ingestion pipeline, configured like production with NYC_LAKEHOUSE_LANDING_ROOT."""
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import configure_project, pipelines
    from kedro.io import DataCatalog
    from kedro.runner import SequentialRunner

    from nyc_lakehouse import settings

    monkeypatch.setenv("NYC_LAKEHOUSE_LANDING_ROOT", f"s3://{BUCKET}/landing")
    monkeypatch.setenv("NYC_LAKEHOUSE_CATALOG", "nyc_s3_check")
    monkeypatch.delenv("NYC_OPEN_DATA_APP_TOKEN", raising=False)
    configure_project("nyc_lakehouse")
    args = dict(settings.CONFIG_LOADER_ARGS)
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env="databricks",
        base_env=args.pop("base_env"),
        default_run_env=args.pop("default_run_env"),
        **args,
    )
    assert loader["globals"]["landing_root"] == f"s3://{BUCKET}/landing"
    catalog = DataCatalog.from_config(loader["catalog"], credentials=loader["credentials"])
    parameters = loader["parameters"]
    for dataset in ("nyc311", "nyc911"):
        settings_ = dict(parameters[dataset]["ingestion"])
        settings_.update(source="sample", mode="backfill", start="2020-01-01", end="2020-02-29")
        if dataset == "nyc311":
            settings_["sample_scale"] = 0.02
        catalog[f"params:{dataset}.ingestion"] = settings_
    catalog["params:sources"] = parameters["sources"]

    SequentialRunner().run(pipelines["ingestion"], catalog)

    zone = LandingZone(f"s3://{BUCKET}/landing")
    for dataset in ("nyc311", "nyc911"):
        batches = zone.batches(dataset)
        assert [b.batch_id for b in batches] == ["sample-2020-01", "sample-2020-02"], dataset
        assert all(b.rows > 0 and b.files for b in batches)
        assert all(
            f.startswith(f"s3://{BUCKET}/landing/{dataset}/") for b in batches for f in b.files
        )
        assert sum(zone.read_batch(b).num_rows for b in batches) == sum(b.rows for b in batches)
