"""Gold then analytics on a real catalog and Delta tables, from synthetic silver (2019-2022)."""

from __future__ import annotations

from datetime import date

import pytest
from kedro.runner import SequentialRunner
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.analytics.pipeline import create_pipeline as analytics_pipeline
from nyc_lakehouse.pipelines.gold import nodes as gold_nodes
from nyc_lakehouse.pipelines.gold.data_tests import GoldDataTestError
from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline as gold_pipeline
from nyc_lakehouse.pipelines.gold.tables import TABLES, all_data_tests, columns_of
from nyc_lakehouse.pipelines.gold.testing import (
    load_gold_parameters,
    project_catalog,
    synthetic_silver_311,
    synthetic_silver_911,
    write_silver,
)


def test_gold_and_analytics_pipelines_on_synthetic_silver(spark, data_root):
    silver_311 = synthetic_silver_311(spark, rows=3000, start=date(2019, 1, 1), days=1200)
    write_silver(data_root, silver_311, synthetic_silver_911(spark, weeks=20))
    SequentialRunner().run(gold_pipeline() + analytics_pipeline(), project_catalog())

    for name, spec in TABLES.items():
        if spec.pipeline != "analytics":
            continue
        table = spark.read.format("delta").load(str(data_root / "gold" / name))
        assert table.columns == columns_of(name)
        assert table.count() > 0, name

    covid = spark.read.format("delta").load(str(data_root / "gold" / "covid_impact_analysis"))
    overall = {
        r["covid_period"]: r
        for r in covid.where("complaint_type = 'ALL' AND borough = 'ALL'").collect()
    }
    assert set(overall) == {"pre", "peak", "post"}
    assert sum(r["request_count"] for r in overall.values()) == 3000
    # uniform synthetic volume: every period is close to the 2019 baseline
    for row in overall.values():
        assert abs(row["pct_change_vs_baseline"]) < 25

    seasonal = spark.read.format("delta").load(str(data_root / "gold" / "seasonal_trends"))
    assert seasonal.where("complaint_type = 'All complaint types'").count() == 12
    holidays = spark.read.format("delta").load(str(data_root / "gold" / "holiday_pattern_analysis"))
    assert holidays.where("comparable_days = 6").count() > 20

    # the analytics data tests ran in the pipeline and were appended next to gold's
    results = spark.read.format("delta").load(str(data_root / "monitoring" / "gold_test_results"))
    analytics_tables = [name for name, spec in TABLES.items() if spec.pipeline == "analytics"]
    analytics_results = results.where(F.col("table_name").isin(analytics_tables))
    assert analytics_results.count() == len(all_data_tests("analytics"))
    assert analytics_results.where("status <> 'pass'").count() == 0
    # gold's and analytics' own; the forecasting features' tests run in their pipeline
    assert results.count() == len(all_data_tests("gold")) + len(all_data_tests("analytics"))


def test_analytics_data_tests_fail_by_name_and_count_on_broken_tables(spark, data_root):
    silver_311 = synthetic_silver_311(spark, rows=800, start=date(2019, 1, 1), days=900)
    write_silver(data_root, silver_311, synthetic_silver_911(spark, weeks=5))
    SequentialRunner().run(gold_pipeline() + analytics_pipeline(), project_catalog())
    tables = {
        name: spark.read.format("delta").load(str(data_root / "gold" / name))
        for name, spec in TABLES.items()
        if spec.pipeline == "analytics"
    }
    config = load_gold_parameters()["data_tests"]
    _, results = gold_nodes.run_analytics_data_tests(config, **tables)
    assert {r["status"] for r in results} == {"pass"}

    broken = dict(tables)
    # two duplicated rows, and no peak month left for any type
    broken["seasonal_trends"] = (
        tables["seasonal_trends"]
        .unionByName(tables["seasonal_trends"].limit(2))
        .withColumn("is_peak_month", F.lit(False))
    )
    broken["covid_impact_analysis"] = tables["covid_impact_analysis"].withColumn(
        "covid_period",
        F.when(F.col("covid_period") == "peak", "lockdown").otherwise(F.col("covid_period")),
    )
    _, results = gold_nodes.run_analytics_data_tests(config, **broken)
    failed = {r["test_name"]: r["failed_count"] for r in results if r["status"] == "fail"}
    assert failed["seasonal_trends__complaint_type_month__unique"] == 2
    types = tables["seasonal_trends"].select("complaint_type").distinct().count()
    assert failed["seasonal_trends__every_type_has_a_peak_month"] == types
    peak_rows = tables["covid_impact_analysis"].where("covid_period = 'peak'").count()
    assert failed["covid_impact_analysis__covid_period__accepted_values"] == peak_rows
    with pytest.raises(GoldDataTestError, match="seasonal_trends__complaint_type_month__unique"):
        gold_nodes.enforce_data_tests(results)
