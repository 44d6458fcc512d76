"""Wiring of the ``gold`` pipeline (nodes live in nodes.py, table docs in tables.py)."""

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.tables import TABLES

SILVER_311 = "silver.nyc311_service_requests"
SILVER_911 = "silver.nyc911_e2e_weekly"


def create_pipeline(**kwargs: object) -> Pipeline:
    star_schema = [
        node(
            nodes.dim_date_of_plan,
            # Both sources: a lakehouse with only one still gets its calendar. 311's days come
            # from the plan's silver fingerprint.
            ["gold_311_plan", "params:gold.calendar", SILVER_911],
            "gold.dim_date",
            name="build_dim_date",
        ),
        # Each month's dimension members (rebuilt for the plan's months only), then the
        # dimensions summed from them: a daily run does not read all of silver for them.
        node(
            nodes.build_silver_311_month_members,
            [SILVER_311, "gold_311_plan"],
            "gold.silver_311_month_members",
            name="build_silver_311_month_members",
        ),
        node(
            nodes.dim_agency_of_members,
            "gold.silver_311_month_members",
            "gold.dim_agency",
            name="build_dim_agency",
        ),
        node(
            nodes.dim_complaint_type_of_members,
            ["gold.silver_311_month_members", "params:gold.sla"],
            "gold.dim_complaint_type",
            name="build_dim_complaint_type",
        ),
        node(
            nodes.dim_location_of_members,
            "gold.silver_311_month_members",
            "gold.dim_location",
            name="build_dim_location",
        ),
        # Which creation months silver changed since the published gold was built
        # (pipelines/gold/incremental.py): the fact and the 311 aggregates rebuild those only.
        node(
            nodes.plan_gold_311,
            # The state first: it reads silver's version before silver's scan is set up, so a
            # silver commit landing meanwhile is rescanned by the next run, never missed.
            {
                "state": "gold_build_state",
                "silver_311": SILVER_311,
                "sla": "params:gold.sla",
                "outlier_hours": "params:gold.response_time_outlier_hours",
                "calendar": "params:gold.calendar",
                "full_refresh": "params:gold.full_refresh",
            },
            "gold_311_plan",
            name="plan_gold_311",
        ),
        node(
            nodes.build_fact_311,
            [
                SILVER_311,
                "params:gold.sla",
                "params:gold.response_time_outlier_hours",
                "gold_311_plan",
            ],
            "gold.fact_311",
            name="build_fact_311",
        ),
        node(
            nodes.build_silver_311_fingerprint,
            "gold_311_plan",
            "gold.silver_311_fingerprint",
            name="build_silver_311_fingerprint",
        ),
    ]
    aggregates = [
        node(
            nodes.build_agg_daily_summary,
            ["gold.fact_311", "gold.dim_date", "gold_311_plan"],
            "gold.agg_daily_summary",
            name="build_agg_daily_summary",
        ),
        node(
            nodes.build_agg_monthly_summary,
            ["gold.fact_311", "gold_311_plan"],
            "gold.agg_monthly_summary",
            name="build_agg_monthly_summary",
        ),
        node(
            nodes.build_agg_agency_metrics,
            ["gold.fact_311", "gold.dim_agency", "gold_311_plan"],
            "gold.agg_agency_metrics",
            name="build_agg_agency_metrics",
        ),
        node(
            nodes.build_agg_complaint_type_metrics,
            ["gold.fact_311", "gold.dim_complaint_type", "gold_311_plan"],
            "gold.agg_complaint_type_metrics",
            name="build_agg_complaint_type_metrics",
        ),
        node(
            nodes.build_agg_location_metrics,
            ["gold.fact_311", "gold.dim_location", "gold_311_plan"],
            "gold.agg_location_metrics",
            name="build_agg_location_metrics",
        ),
        node(
            nodes.build_agg_daily_type_borough,
            ["gold.fact_311", "gold.dim_complaint_type", "gold.dim_location", "gold_311_plan"],
            "gold.agg_daily_type_borough",
            name="build_agg_daily_type_borough",
        ),
    ]
    nyc911 = [
        node(
            nodes.build_fact_911_weekly,
            [SILVER_911, "params:gold.nyc911"],
            "gold.fact_911_weekly",
            name="build_fact_911_weekly",
        ),
        node(
            nodes.build_agg_911_monthly_agency,
            "gold.fact_911_weekly",
            "gold.agg_911_monthly_agency",
            name="build_agg_911_monthly_agency",
        ),
        node(
            nodes.build_kpi_911_overview,
            ["gold.fact_911_weekly", "params:gold.nyc911"],
            "gold.kpi_911_overview",
            name="build_kpi_911_overview",
        ),
    ]
    # The plan: on a daily run the month-grown tables are tested on the months it rebuilt.
    quality = data_test_nodes(
        "gold",
        nodes.run_gold_data_tests,
        "monitoring.gold_test_results",
        {"plan": "gold_311_plan"},
    )
    gold_tables = sorted(f"gold.{name}" for name, spec in TABLES.items() if spec.pipeline == "gold")
    # Last: readers switch to the new build only once its data tests have passed, all tables
    # at once (nyc_lakehouse.datasets.published_gold).
    publish = node(
        update_wrapper(partial(nodes.publish_gold, tables=gold_tables), nodes.publish_gold),
        "gold_data_test_summary",
        "monitoring.gold_publications",
        name="publish_gold",
    )
    return Pipeline([*star_schema, *aggregates, *nyc911, *quality, publish])


def data_test_nodes(
    pipeline: str,
    run_tests: Callable[..., Any],
    results_dataset: str,
    extra_inputs: dict[str, str] | None = None,
) -> list[Node]:
    """Run the data tests of ``pipeline``'s tables, then enforce them.

    The results are saved by the first node before the second can fail the run, so a failing
    run still leaves its results in ``results_dataset``.
    """
    tables = {name: f"gold.{name}" for name, spec in TABLES.items() if spec.pipeline == pipeline}
    summary = f"{pipeline}_data_test_summary"
    return [
        node(
            run_tests,
            {"config": "params:gold.data_tests", **(extra_inputs or {}), **tables},
            [results_dataset, summary],
            name=f"run_{pipeline}_data_tests",
        ),
        node(nodes.enforce_data_tests, summary, None, name=f"enforce_{pipeline}_data_tests"),
    ]
