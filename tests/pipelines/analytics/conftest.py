"""Gold tables built from small silver-shaped fixtures, for the analytics tests."""

from __future__ import annotations

from typing import Any

import pytest

from nyc_lakehouse.pipelines.gold import nodes as gold
from nyc_lakehouse.pipelines.gold.testing import load_gold_parameters, silver_311_frame


def build_gold(silver_311: Any, gold_params: dict[str, Any]) -> dict[str, Any]:
    """The gold tables the analytics pipeline reads, built in memory from silver."""
    sla = gold_params["sla"]
    fact = gold.build_fact_311(silver_311, sla, gold_params["response_time_outlier_hours"])
    dim_date = gold.build_dim_date(silver_311, gold_params["calendar"])
    dims = {
        "dim_complaint_type": gold.build_dim_complaint_type(silver_311, sla),
        "dim_location": gold.build_dim_location(silver_311),
    }
    return {
        "fact_311": fact,
        "dim_date": dim_date,
        **dims,
        "agg_daily_summary": gold.build_agg_daily_summary(fact, dim_date),
        "agg_daily_type_borough": gold.build_agg_daily_type_borough(fact, *dims.values()),
    }


@pytest.fixture(scope="session")
def gold_params() -> dict[str, Any]:
    return load_gold_parameters()


@pytest.fixture
def gold_from(spark, gold_params):
    """Build gold tables from partial silver records (see gold.testing.silver_311_frame)."""

    def build(records: list[dict[str, Any]]) -> dict[str, Any]:
        return build_gold(silver_311_frame(spark, records), gold_params)

    return build
