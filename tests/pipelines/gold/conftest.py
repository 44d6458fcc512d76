"""Small silver-shaped fixtures for the gold tests (the silver contract, docs/development.md)."""

from __future__ import annotations

from typing import Any

import pytest

from nyc_lakehouse.pipelines.gold.testing import (
    SILVER_311_RECORDS,
    SILVER_911_RECORDS,
    load_gold_parameters,
    silver_311_frame,
    silver_911_frame,
)


@pytest.fixture(scope="session")
def gold_params() -> dict[str, Any]:
    return load_gold_parameters()


@pytest.fixture(scope="session")
def silver_311(spark):
    return silver_311_frame(spark, SILVER_311_RECORDS)


@pytest.fixture(scope="session")
def silver_911(spark):
    return silver_911_frame(spark, SILVER_911_RECORDS)
