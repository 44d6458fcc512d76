"""Bronze against a hostile landing zone: odd column names, manifests pointing elsewhere."""

from __future__ import annotations

import pyarrow as pa
import pytest

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
