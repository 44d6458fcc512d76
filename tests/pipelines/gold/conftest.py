"""Small silver-shaped fixtures for the gold and analytics tests (see docs/CONTRACTS.md)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from nyc_lakehouse.pipelines.gold.testing import silver_311_frame, silver_911_frame

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def load_gold_parameters() -> dict[str, Any]:
    """The real defaults from conf/base/parameters_gold.yml."""
    with (PROJECT_ROOT / "conf/base/parameters_gold.yml").open() as handle:
        return yaml.safe_load(handle)["gold"]


# Hand-written requests covering the cases gold must handle: closed/open, an SLA breach, a null
# agency / complaint type / ZIP, an invalid closed date, a response-time outlier, a holiday
# (2019-07-04), the three COVID periods and two boroughs.
SILVER_311_RECORDS: list[dict[str, Any]] = [
    {
        "unique_key": 1,
        "created_date": datetime(2019, 7, 3, 9),
        "closed_date": datetime(2019, 7, 3, 15),
        "complaint_type": "Noise - Residential",
        "incident_zip": "11201",
        "community_board": "02 BROOKLYN",
        "latitude": 40.69,
        "longitude": -73.99,
    },
    {
        "unique_key": 2,
        "created_date": datetime(2019, 7, 4, 10),
        "closed_date": datetime(2019, 7, 6, 10),
        "complaint_type": "Noise - Residential",
        "incident_zip": "11201",
        "community_board": "02 BROOKLYN",
        "latitude": 40.70,
        "longitude": -73.98,
    },
    {
        "unique_key": 3,
        "created_date": datetime(2019, 7, 11, 8),
        "closed_date": None,
        "agency": "HPD",
        "complaint_type": "Heat/Hot Water",
        "borough": "MANHATTAN",
        "incident_zip": "10025",
        "community_board": "07 MANHATTAN",
        "latitude": 40.80,
        "longitude": -73.96,
    },
    {
        "unique_key": 4,
        "created_date": datetime(2020, 4, 1, 12),
        "closed_date": datetime(2020, 4, 20, 12),
        "agency": "HPD",
        "complaint_type": "Heat/Hot Water",
        "borough": "MANHATTAN",
        "incident_zip": "10025",
        "community_board": "07 MANHATTAN",
        "latitude": 40.80,
        "longitude": -73.97,
    },
    {
        "unique_key": 5,
        "created_date": datetime(2020, 4, 2, 12),
        "closed_date": datetime(2019, 1, 1),
        "agency": None,
        "complaint_type": None,
        "borough": None,
        "incident_zip": None,
    },
    {
        "unique_key": 6,
        "created_date": datetime(2021, 12, 24, 23),
        "closed_date": datetime(2024, 1, 1, 23),
        "agency": "DOT",
        "complaint_type": "Street Condition",
        "borough": "QUEENS",
        "incident_zip": "11375",
    },
    {
        "unique_key": 7,
        "created_date": datetime(2021, 12, 27, 7),
        "closed_date": datetime(2021, 12, 27, 8),
        "agency": "DOT",
        "complaint_type": "Street Condition",
        "borough": "QUEENS",
        "incident_zip": "11375",
    },
]

SILVER_911_RECORDS: list[dict[str, Any]] = [
    {
        "week_start_date": date(2019, 6, 17),
        "agency": "EMS",
        "incident_type": "Life Threatening",
        "incident_count": 100,
        "call_to_first_pickup_seconds": 4.0,
        "average_travel_seconds": 400.0,
        "average_dispatch_seconds": 90.0,
        "call_to_agency_dispatch_seconds": 100.0,
    },
    {
        "week_start_date": date(2019, 6, 17),
        "agency": "EMS",
        "incident_type": "Non Life Threatening",
        "incident_count": 300,
        "call_to_first_pickup_seconds": 8.0,
        "average_travel_seconds": 600.0,
        "average_dispatch_seconds": -6.0,
        "call_to_agency_dispatch_seconds": 200.0,
    },
    {
        "week_start_date": date(2019, 6, 24),
        "agency": "EMS",
        "incident_type": "Life Threatening",
        "incident_count": 50,
        "call_to_first_pickup_seconds": 6.0,
    },
    {
        "week_start_date": date(2019, 6, 24),
        "agency": "NYPD",
        "incident_type": "Critical",
        "incident_count": 1000,
        "call_to_first_pickup_seconds": 3.0,
    },
    {
        "week_start_date": date(2019, 7, 1),
        "agency": "NYPD",
        "incident_type": "Critical",
        "incident_count": 10,
        "call_to_first_pickup_seconds": 500.0,
    },
]


@pytest.fixture
def gold_params() -> dict[str, Any]:
    return load_gold_parameters()


@pytest.fixture
def silver_311(spark):
    return silver_311_frame(spark, SILVER_311_RECORDS)


@pytest.fixture
def silver_911(spark):
    return silver_911_frame(spark, SILVER_911_RECORDS)
