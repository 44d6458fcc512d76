"""The gold pipeline end to end: real catalog from conf/, real Delta tables, SequentialRunner."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable
from kedro.runner import SequentialRunner
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.gold.data_tests import GoldDataTestError
from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline
from nyc_lakehouse.pipelines.gold.tables import TABLES, all_data_tests, columns_of
from nyc_lakehouse.pipelines.gold.testing import project_catalog, write_silver

GOLD_TABLES = [name for name, spec in TABLES.items() if spec.pipeline == "gold"]


def test_gold_pipeline_writes_every_table_and_test_results(
    spark, data_root, silver_311, silver_911
):
    write_silver(data_root, silver_311, silver_911)
    catalog = project_catalog()
    SequentialRunner().run(create_pipeline(), catalog)
    for name in GOLD_TABLES:
        table = spark.read.format("delta").load(str(data_root / "gold" / name))
        assert table.columns == columns_of(name), name
        assert table.count() > 0, name
    fact = spark.read.format("delta").load(str(data_root / "gold" / "fact_311"))
    assert fact.count() == silver_311.count()
    assert DeltaTable(str(data_root / "gold" / "fact_311")).metadata().partition_columns == [
        "created_month"
    ]
    results = spark.read.format("delta").load(str(data_root / "monitoring" / "gold_test_results"))
    assert results.count() == len(all_data_tests("gold"))
    assert results.where("severity = 'error' AND status <> 'pass'").count() == 0

    # a rerun overwrites gold (idempotent) and appends a second set of test results
    SequentialRunner().run(create_pipeline(), project_catalog())
    assert (
        spark.read.format("delta").load(str(data_root / "gold" / "fact_311")).count()
        == fact.count()
    )
    results = spark.read.format("delta").load(str(data_root / "monitoring" / "gold_test_results"))
    assert results.select("run_id").distinct().count() == 2
    assert results.count() == 2 * len(all_data_tests("gold"))


def test_failing_data_test_fails_the_run_after_writing_results(
    spark, data_root, silver_311, silver_911
):
    # a duplicated request and a negative response time: silver bugs gold must not publish silently
    broken = silver_311.unionByName(silver_311.where("unique_key = 1")).withColumn(
        "response_time_hours",
        F.when(F.col("unique_key") == 2, F.lit(-3.0)).otherwise(F.col("response_time_hours")),
    )
    write_silver(data_root, broken, silver_911)
    with pytest.raises(GoldDataTestError) as raised:
        SequentialRunner().run(create_pipeline(), project_catalog())
    message = str(raised.value)
    assert "fact_311__unique_key__unique on fact_311: 1 failing row(s)" in message
    assert "fact_311__response_time_hours__not_negative on fact_311: 1 failing row(s)" in message
    results = spark.read.format("delta").load(str(data_root / "monitoring" / "gold_test_results"))
    failed = {r["test_name"]: r["failed_count"] for r in results.where("status = 'fail'").collect()}
    assert failed["fact_311__unique_key__unique"] == 1
    assert failed["fact_311__response_time_hours__not_negative"] == 1
