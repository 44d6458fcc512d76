"""Wiring of the ``analytics`` pipeline (nodes live in nodes.py; grains in gold/tables.py)."""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.analytics import nodes
from nyc_lakehouse.pipelines.gold import nodes as gold_nodes
from nyc_lakehouse.pipelines.gold.tables import TABLES

ANALYTICS_TABLES = sorted(name for name, spec in TABLES.items() if spec.pipeline == "analytics")


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            node(
                nodes.build_seasonal_trends,
                ["gold.fact_311", "gold.dim_complaint_type", "params:analytics"],
                "gold.seasonal_trends",
                name="build_seasonal_trends",
            ),
            node(
                nodes.build_covid_impact_analysis,
                [
                    "gold.fact_311",
                    "gold.dim_date",
                    "gold.dim_complaint_type",
                    "gold.dim_location",
                    "params:analytics",
                ],
                "gold.covid_impact_analysis",
                name="build_covid_impact_analysis",
            ),
            node(
                nodes.build_holiday_pattern_analysis,
                ["gold.agg_daily_summary", "gold.dim_date", "params:analytics"],
                "gold.holiday_pattern_analysis",
                name="build_holiday_pattern_analysis",
            ),
            node(
                nodes.build_borough_hotspots,
                ["gold.fact_311", "gold.dim_location", "params:analytics"],
                "gold.borough_hotspots",
                name="build_borough_hotspots",
            ),
            # The same data-test machinery and results table as gold: the results are written
            # first, then an error-level failure fails the run.
            node(
                gold_nodes.run_analytics_data_tests,
                {
                    "config": "params:gold.data_tests",
                    **{name: f"gold.{name}" for name in ANALYTICS_TABLES},
                },
                ["monitoring.analytics_test_results", "analytics_data_test_summary"],
                name="run_analytics_data_tests",
            ),
            node(
                gold_nodes.enforce_data_tests,
                "analytics_data_test_summary",
                None,
                name="enforce_analytics_data_tests",
            ),
        ]
    )
