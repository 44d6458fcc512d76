"""Loading: missing tables, time travel, history, kedro-viz preview and the Kedro catalog."""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest
from kedro.io import DataCatalog
from kedro.io.core import DatasetError

from nyc_lakehouse.datasets import DeltaTableDataset

NEW_YORK = ZoneInfo("America/New_York")


def test_missing_table_does_not_exist_and_load_names_it(make_dataset, lake):
    ds = make_dataset(table="gold.nowhere")
    assert ds.exists() is False
    with pytest.raises(DatasetError, match=r"'gold\.nowhere' does not exist") as err:
        ds.load()
    assert str(lake / "gold" / "nowhere") in str(err.value)
    with pytest.raises(DatasetError, match="does not exist"):
        ds.preview()
    with pytest.raises(DatasetError, match="does not exist"):
        ds.history()


def test_a_folder_without_delta_log_is_not_a_table(make_dataset, lake):
    (lake / "silver" / "events").mkdir(parents=True)
    (lake / "silver" / "events" / "stray.parquet").write_bytes(b"not a table")
    assert make_dataset().exists() is False


def test_time_travel_by_version_and_timestamp(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "append"})
    ds.save(spark.createDataFrame([(1, "a")], "id long, v string"))
    time.sleep(1.1)  # commit timestamps have millisecond precision; keep versions apart
    between = ds.history()[0]["timestamp"] + 500  # ms since epoch, after version 0
    time.sleep(1.1)
    ds.save(spark.createDataFrame([(2, "b")], "id long, v string"))
    assert ds.version() == 1
    v0 = make_dataset(load_args={"version": 0}).load()
    assert [r["id"] for r in v0.collect()] == [1]
    assert make_dataset(load_args={"version": 1}).load().count() == 2
    as_of = dt.datetime.fromtimestamp(between / 1000, dt.UTC)
    for value in (as_of.isoformat(), as_of.astimezone(NEW_YORK).isoformat(), as_of):
        by_time = make_dataset(load_args={"timestamp": value}).load()
        assert [r["id"] for r in by_time.collect()] == [1], value


def test_unknown_version_is_a_clear_error(spark, make_dataset):
    make_dataset().save(spark.createDataFrame([(1, "a")], "id long, v string"))
    with pytest.raises(DatasetError, match=r"has no version 5 \(versions 0..0\)"):
        make_dataset(load_args={"version": 5}).load()


def test_version_and_timestamp_together_are_rejected(make_dataset):
    with pytest.raises(DatasetError, match="version or timestamp"):
        make_dataset(load_args={"version": 1, "timestamp": "2024-01-01"})


def test_history_lists_commits_newest_first(spark, make_dataset):
    ds = make_dataset(save_args={"mode": "upsert", "keys": ["id"]})
    ds.save(spark.createDataFrame([(1, "a")], "id long, v string"))
    ds.save(spark.createDataFrame([(1, "b")], "id long, v string"))
    history = ds.history()
    assert [h["version"] for h in history][:2] == [history[0]["version"], history[0]["version"] - 1]
    assert history[0]["operation"] == "MERGE"
    assert len(ds.history(limit=1)) == 1


def test_preview_reads_first_rows_json_safe(spark, make_dataset):
    ds = make_dataset()
    ds.save(
        spark.sql(
            "select id, cast(id as string) v, timestamp'2024-07-04 12:00:00' ts, "
            "date'2024-07-04' d, cast(null as double) x from range(30)"
        )
    )
    preview = ds.preview(nrows=5)
    assert preview["columns"] == ["id", "v", "ts", "d", "x"]
    assert len(preview["data"]) == 5
    json.dumps(preview)  # kedro-viz serves it as JSON
    row = dict(zip(preview["columns"], preview["data"][0], strict=True))
    assert row["ts"] == "2024-07-04T16:00:00.000000Z"  # 12:00 New York = 16:00 UTC
    assert row["d"] == "2024-07-04"
    assert row["x"] is None
    assert len(ds.preview()["data"]) == 10


def test_kedro_viz_previews_the_table_with_catalog_preview_args(spark, make_dataset):
    from kedro_viz.models.flowchart.node_metadata import DataNodeMetadata
    from kedro_viz.models.flowchart.nodes import GraphNode

    ds = make_dataset(metadata={"kedro-viz": {"layer": "silver", "preview_args": {"nrows": 3}}})
    ds.save(spark.range(20).selectExpr("id", "cast(id * 2 as string) doubled"))
    node = GraphNode.create_data_node(
        dataset_id="silver_events",
        dataset_name="silver.events",
        layer="silver",
        tags=set(),
        dataset=ds,
        modular_pipelines=set(),
    )
    metadata = DataNodeMetadata(data_node=node)
    assert metadata.preview_type == "TablePreview"
    assert metadata.preview["columns"] == ["id", "doubled"]
    assert len(metadata.preview["data"]) == 3
    assert metadata.filepath == ds.address.path


def test_catalog_factory_resolves_table_and_root(spark, lake):
    catalog = DataCatalog.from_config(
        {
            "silver.{name}": {
                "type": "nyc_lakehouse.datasets.DeltaTableDataset",
                "table": "silver.{name}",
                "root": str(lake),
                "save_args": {"mode": "append"},
            }
        }
    )
    catalog.save("silver.trips", spark.createDataFrame([(1, "a")], "id long, v string"))
    catalog.save("silver.trips", spark.createDataFrame([(2, "b")], "id long, v string"))
    assert (lake / "silver" / "trips" / "_delta_log").is_dir()
    assert catalog.load("silver.trips").count() == 2
    assert catalog.exists("silver.trips") and not catalog.exists("silver.other")


def test_relative_root_resolves_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = DeltaTableDataset(table="bronze.x", root="data")
    assert ds.address.path == str(tmp_path / "data" / "bronze" / "x")
