"""Table addressing (paths, object stores, Unity Catalog) and the SQL the dataset builds.

Unity Catalog cannot run on a laptop: these tests pin the names and the MERGE text used there.
The same MERGE text runs for real on Sail in test_delta_table_upsert.py (merge_engine=sql).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from kedro.io.core import DatasetError

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.delta import DeltaTableError
from nyc_lakehouse.delta.address import resolve_address
from nyc_lakehouse.delta.sql import merge_sql, partition_predicate, sql_literal


def test_folder_root_gives_schema_and_name_folders(tmp_path):
    address = resolve_address("silver.nyc311", str(tmp_path), None)
    assert address.path == str(tmp_path / "silver" / "nyc311")
    assert address.name == "silver.nyc311" and not address.is_catalog
    assert address.sql_identifier() == f"delta.`{tmp_path}/silver/nyc311`"


def test_object_store_root_is_kept_as_uri():
    address = resolve_address("gold.fact_311", "s3://bucket/lakehouse/", None)
    assert address.path == "s3://bucket/lakehouse/gold/fact_311"
    assert not address.is_local_path


def test_unity_catalog_root_gives_three_part_name():
    ds = DeltaTableDataset(table="silver.nyc311_service_requests", root="uc://nyc")
    assert ds.address.catalog_name == "nyc.silver.nyc311_service_requests"
    assert ds.address.path is None and ds.address.is_catalog
    assert ds.address.sql_identifier() == "`nyc`.`silver`.`nyc311_service_requests`"
    assert ds._describe()["filepath"] == "nyc.silver.nyc311_service_requests"


def test_explicit_path_wins(tmp_path):
    ds = DeltaTableDataset(table="silver.x", root="uc://nyc", path=str(tmp_path / "t"))
    assert ds.address.path == str(tmp_path / "t") and not ds.address.is_catalog


@pytest.mark.parametrize(
    ("table", "root", "path", "message"),
    [
        (None, "data", None, "needs table="),
        ("nyc311", "data", None, "expected '<schema>.<name>'"),
        ("a.b.c", "data", None, "expected '<schema>.<name>'"),
        ("silver.x", "uc://", None, "expected 'uc://<catalog>'"),
        ("silver.x", "uc://a.b", None, "expected 'uc://<catalog>'"),
        (None, None, "uc://nyc/silver/x", "Unity Catalog tables are addressed"),
    ],
)
def test_bad_addresses_are_clear_errors(table, root, path, message):
    with pytest.raises(DeltaTableError, match=message):
        resolve_address(table, root, path)
    with pytest.raises(DatasetError, match=message):  # the dataset says it at construction
        DeltaTableDataset(table=table, root=root, path=path)


def test_literals_per_dialect():
    assert sql_literal("it's") == "'it\\'s'"
    assert sql_literal("it's", "datafusion") == "'it''s'"
    assert sql_literal(dt.date(2024, 5, 1)) == "DATE '2024-05-01'"
    assert sql_literal(True) == "TRUE" and sql_literal(7) == "7"
    assert sql_literal(Decimal("1.50")) == "1.50" and sql_literal(None) == "NULL"
    with pytest.raises(DeltaTableError, match="Timestamp partition columns"):
        sql_literal(dt.datetime(2024, 1, 1))
    with pytest.raises(DeltaTableError, match="partition value"):
        sql_literal(float("nan"))


def test_partition_predicate_single_and_multi_column():
    assert partition_predicate(["m"], [("2024-02",), ("2024-01",), ("2024-02",)], "target") == (
        "target.`m` IN ('2024-01', '2024-02')"
    )
    assert partition_predicate(["m"], [("a",), (None,)]) == "(`m` IN ('a') OR `m` IS NULL)"
    assert partition_predicate(["y", "b"], [(2024, "X"), (2023, None)]) == (
        "((`y` = 2023 AND `b` IS NULL) OR (`y` = 2024 AND `b` = 'X'))"
    )
    with pytest.raises(DeltaTableError, match="No partition values"):
        partition_predicate(["m"], [])


def test_unity_catalog_merge_statement():
    statement = merge_sql(
        "`nyc`.`silver`.`nyc311_service_requests`",
        "nyc_upsert_1",
        ["unique_key"],
        "source_updated_at",
        partition_predicate(["created_month"], [("2024-05",), ("2024-04",)], "target"),
    )
    assert statement == (
        "MERGE WITH SCHEMA EVOLUTION INTO `nyc`.`silver`.`nyc311_service_requests` AS target\n"
        "USING `nyc_upsert_1` AS source\n"
        "ON target.`unique_key` = source.`unique_key` "
        "AND target.`created_month` IN ('2024-04', '2024-05')\n"
        "WHEN MATCHED AND (target.`source_updated_at` IS NULL OR "
        "source.`source_updated_at` >= target.`source_updated_at`) THEN UPDATE SET *\n"
        "WHEN NOT MATCHED THEN INSERT *"
    )


def test_merge_statement_without_sequence_or_evolution():
    statement = merge_sql("delta.`/t`", "v", ["a", "b"], schema_evolution=False)
    assert statement.startswith("MERGE INTO delta.`/t` AS target")
    assert "ON target.`a` = source.`a` AND target.`b` = source.`b`\n" in statement
    assert "WHEN MATCHED THEN UPDATE SET *" in statement
