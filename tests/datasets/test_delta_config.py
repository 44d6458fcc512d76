"""A Delta catalog entry is checked when the catalog builds it, not halfway through a run.

Every refused entry names the catalog entry (Kedro adds it), the table and the offending key.
No engine is needed: nothing here reads or writes a table.
"""

from __future__ import annotations

import pytest
from kedro.io import DataCatalog
from kedro.io.core import DatasetError

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.delta.spec import FileSplit


def _entry(save_args=None, load_args=None) -> dict:
    entry = {"type": "nyc_lakehouse.datasets.DeltaTableDataset", "table": "silver.events"}
    if save_args is not None:
        entry["save_args"] = save_args
    if load_args is not None:
        entry["load_args"] = load_args
    return entry


@pytest.mark.parametrize(
    ("save_args", "load_args", "key", "message"),
    [
        ({"mode": "append", "partitionBy": ["m"]}, None, "partitionBy", "unknown save_args"),
        ({"mode": "merge"}, None, "mode", "expected one of overwrite"),
        ({"mode": "append", "keys": ["id"]}, None, "keys", "needs mode 'upsert', not 'append'"),
        ({"mode": "overwrite", "predicate": "x = 1"}, None, "predicate", "needs mode"),
        ({"mode": "upsert", "keys": ["id"], "stage_source": "no"}, None, "stage_source", "true"),
        ({"mode": "upsert", "keys": "id", "tiebreak_columns": ["t"]}, None, "tiebreak_columns",
         "sequence_column"),
        ({"mode": "upsert", "keys": ["id"], "sequence_column": "id"}, None, "sequence_column",
         "is one of the keys"),
        ({"mode": "upsert", "keys": ["id"], "create_via_parquet": True}, None,
         "create_via_parquet", "needs save_args.partition_by"),
        ({"mode": "upsert", "keys": ["id"], "partition_by": ["m"],
          "file_split": {"expression": "id % 2"}}, None, "file_split", "create_via_parquet"),
        ({"mode": "upsert", "keys": ["id"], "merge_engine": "spark"}, None, "merge_engine",
         "auto, delta_rs, delta_spark, sql"),
        ({"mode": "upsert", "keys": [1]}, None, "keys", "column name"),
        ({"add_row_hash": {"include": ["a"]}}, None, "add_row_hash", "exclude"),
        (None, {"versionAsOf": 3}, "versionAsOf", "unknown load_args"),
        (None, {"version": 1, "timestamp": "2024-01-01"}, "version", "not both"),
        (None, {"version": "latest"}, "version", "table version"),
        (None, {"timestamp": 5}, "timestamp", "ISO 8601"),
    ],
)  # fmt: skip
def test_a_bad_entry_fails_when_the_catalog_builds_it(save_args, load_args, key, message):
    catalog = DataCatalog.from_config({"silver.bad_entry": _entry(save_args, load_args)})
    with pytest.raises(DatasetError) as error:
        catalog.get("silver.bad_entry")
    text = str(error.value)
    assert "silver.bad_entry" in text  # the entry
    assert "silver.events" in text and key in text and message in text, text


def test_a_good_entry_becomes_the_library_specs():
    ds = DeltaTableDataset(
        table="silver.events",
        root="data",
        save_args={
            "mode": "upsert",
            "keys": "id",
            "sequence_column": "seq",
            "tiebreak_columns": ["t"],
            "partition_by": "m",
            "create_via_parquet": True,
            "file_split": {"expression": "id % 2", "latest_partitions": 2},
            "adopt_first_load_from": "silver.increment",
            "add_row_hash": {"exclude": ["run_at"]},
        },
        load_args={"version": 3, "options": {"mergeSchema": "true"}},
    )
    config = ds.config
    assert config.mode == "upsert" and config.write.partition_by == ("m",)
    assert config.upsert is not None
    assert (config.upsert.keys, config.upsert.sequence_column) == (("id",), "seq")
    assert config.upsert.file_split == FileSplit("id % 2", 2)
    assert config.upsert.adopt_first_load_from is not None
    assert config.upsert.adopt_first_load_from.name == "silver.increment"
    assert config.identity.row_hash_exclude == ("run_at",) and not config.identity.add_row_id
    assert (config.version, config.read_options) == (3, {"mergeSchema": "true"})
