"""Fixtures of the silver tests (helpers live in silver_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from silver_fixtures import AS_OF, bronze_frame, load_config

from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS


@pytest.fixture
def bronze_311(spark) -> Callable[..., Any]:
    def build(records: Iterable[dict[str, Any]], **kwargs: Any):
        return bronze_frame(spark, records, NYC311_FIELDS, **kwargs)

    return build


@pytest.fixture
def bronze_911(spark) -> Callable[..., Any]:
    def build(records: Iterable[dict[str, Any]], **kwargs: Any):
        return bronze_frame(spark, records, NYC911_FIELDS, **kwargs)

    return build


@pytest.fixture(scope="session")
def silver_params() -> dict[str, Any]:
    return load_config("parameters")["silver"]


@pytest.fixture
def run_context() -> dict[str, Any]:
    return {
        "run_id": "silver-test-run",
        "started_at": datetime(2024, 6, 1, 12, 30, tzinfo=UTC),
        "as_of": AS_OF,
    }
