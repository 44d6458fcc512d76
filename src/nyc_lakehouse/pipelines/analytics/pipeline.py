"""Wiring of the ``analytics`` pipeline (nodes live in nodes.py; grains in gold/tables.py)."""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.analytics import nodes
from nyc_lakehouse.pipelines.gold import nodes as gold_nodes
from nyc_lakehouse.pipelines.gold.pipeline import data_test_nodes


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            node(
                nodes.build_seasonal_trends,
                ["gold.agg_daily_type_borough", "params:analytics"],
                "gold.seasonal_trends",
                name="build_seasonal_trends",
            ),
            node(
                nodes.build_covid_impact_analysis,
                ["gold.agg_daily_type_borough", "gold.dim_date", "params:analytics"],
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
                ["gold.agg_daily_type_borough", "params:analytics"],
                "gold.borough_hotspots",
                name="build_borough_hotspots",
            ),
            # Gold's data-test machinery and results table (a second catalog entry for it:
            # Kedro allows one producing node per dataset name).
            *data_test_nodes(
                "analytics",
                gold_nodes.run_analytics_data_tests,
                "monitoring.analytics_test_results",
            ),
        ]
    )
