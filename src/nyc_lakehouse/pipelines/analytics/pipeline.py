"""Wiring of the ``analytics`` pipeline (nodes live in nodes.py; grains in gold/tables.py)."""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.analytics import nodes


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
        ]
    )
