"""Gold then analytics on a real catalog and Delta tables, from synthetic silver (2019-2022)."""

from __future__ import annotations

from datetime import date

from kedro.runner import SequentialRunner

from nyc_lakehouse.pipelines.analytics.pipeline import create_pipeline as analytics_pipeline
from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline as gold_pipeline
from nyc_lakehouse.pipelines.gold.tables import TABLES, columns_of
from nyc_lakehouse.pipelines.gold.testing import (
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
