"""Silver-shaped inputs for gold tests and benchmarks (the silver contract, docs/development.md).

``silver_311_frame`` / ``silver_911_frame`` turn a few hand-written records into full silver
frames (every contract column, defaults for the rest); ``synthetic_silver_311`` /
``synthetic_silver_911`` generate larger, seeded, realistic-looking data for benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

SILVER_311_SCHEMA = T.StructType(
    [
        T.StructField("unique_key", T.LongType()),
        T.StructField("created_date", T.TimestampType()),
        T.StructField("closed_date", T.TimestampType()),
        T.StructField("due_date", T.TimestampType()),
        T.StructField("resolution_action_updated_date", T.TimestampType()),
        T.StructField("agency", T.StringType()),
        T.StructField("agency_name", T.StringType()),
        T.StructField("complaint_type", T.StringType()),
        T.StructField("complaint_type_raw", T.StringType()),
        T.StructField("complaint_category", T.StringType()),
        T.StructField("descriptor", T.StringType()),
        T.StructField("location_type", T.StringType()),
        T.StructField("incident_zip", T.StringType()),
        T.StructField("incident_address", T.StringType()),
        T.StructField("street_name", T.StringType()),
        T.StructField("city", T.StringType()),
        T.StructField("borough", T.StringType()),
        T.StructField("community_board", T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField("resolution_description", T.StringType()),
        T.StructField("open_data_channel_type", T.StringType()),
        T.StructField("latitude", T.DoubleType()),
        T.StructField("longitude", T.DoubleType()),
        T.StructField("x_coordinate_state_plane", T.DoubleType()),
        T.StructField("y_coordinate_state_plane", T.DoubleType()),
        T.StructField("bbl", T.StringType()),
        T.StructField("created_date_only", T.DateType()),
        T.StructField("created_year", T.IntegerType()),
        T.StructField("created_month_num", T.IntegerType()),
        T.StructField("created_day_of_week", T.IntegerType()),
        T.StructField("created_hour", T.IntegerType()),
        T.StructField("created_month", T.StringType()),
        T.StructField("response_time_hours", T.DoubleType()),
        T.StructField("is_closed", T.BooleanType()),
        T.StructField("is_closed_date_inferred", T.BooleanType()),
        T.StructField("has_valid_location", T.BooleanType()),
        T.StructField("has_valid_zip", T.BooleanType()),
        T.StructField("has_resolution", T.BooleanType()),
        T.StructField("has_invalid_closed_date", T.BooleanType()),
        T.StructField("has_future_closed_date", T.BooleanType()),
        T.StructField("source_updated_at", T.TimestampType()),
        T.StructField("_batch_id", T.StringType()),
        T.StructField("_source_file", T.StringType()),
        T.StructField("_silver_updated_at", T.TimestampType()),
    ]
)

SILVER_911_DURATIONS = (
    "call_to_first_pickup_seconds",
    "call_to_agency_dispatch_seconds",
    "call_to_agency_arrival_seconds",
    "median_dispatch_seconds",
    "median_travel_seconds",
    "average_pickup_seconds",
    "average_dispatch_seconds",
    "average_travel_seconds",
)

SILVER_911_SCHEMA = T.StructType(
    [
        T.StructField("week_start_date", T.DateType()),
        T.StructField("agency", T.StringType()),
        T.StructField("incident_type", T.StringType()),
        T.StructField("incident_count", T.LongType()),
        *[T.StructField(name, T.DoubleType()) for name in SILVER_911_DURATIONS],
        T.StructField("_batch_id", T.StringType()),
        T.StructField("_ingested_at", T.TimestampType()),
    ]
)

AGENCIES = {
    "NYPD": (
        "New York City Police Department",
        ["Noise - Residential", "Illegal Parking", "Blocked Driveway"],
    ),
    "HPD": ("Department of Housing Preservation and Development", ["Heat/Hot Water", "Plumbing"]),
    "DSNY": ("Department of Sanitation", ["Dirty Condition", "Missed Collection"]),
    "DOT": ("Department of Transportation", ["Street Condition", "Street Light Condition"]),
    "DEP": ("Department of Environmental Protection", ["Water System", "Noise"]),
}
CATEGORIES = {
    "Noise - Residential": "Noise",
    "Noise": "Noise",
    "Illegal Parking": "Transportation",
    "Blocked Driveway": "Transportation",
    "Heat/Hot Water": "Housing",
    "Plumbing": "Housing",
    "Dirty Condition": "Sanitation",
    "Missed Collection": "Sanitation",
    "Street Condition": "Streets",
    "Street Light Condition": "Streets",
    "Water System": "Water",
}
BOROUGH_ZIPS = {
    "MANHATTAN": (["10001", "10002", "10025"], 40.78, -73.97),
    "BROOKLYN": (["11201", "11215", "11226"], 40.65, -73.95),
    "QUEENS": (["11354", "11375"], 40.73, -73.82),
    "BRONX": (["10451", "10458"], 40.84, -73.89),
    "STATEN ISLAND": (["10301", "10314"], 40.58, -74.15),
}


def _derived_311(record: dict[str, Any]) -> dict[str, Any]:
    created: datetime = record["created_date"]
    closed: datetime | None = record.get("closed_date")
    out = {
        "created_date_only": created.date(),
        "created_year": created.year,
        "created_month_num": created.month,
        "created_day_of_week": created.isoweekday(),
        "created_hour": created.hour,
        "created_month": created.strftime("%Y-%m"),
        "is_closed": closed is not None,
        "is_closed_date_inferred": False,
        "has_invalid_closed_date": bool(closed and (closed < created or closed.year < 2010)),
        "has_future_closed_date": False,
        "has_valid_location": record.get("latitude") is not None,
        "has_valid_zip": record.get("incident_zip") is not None,
        "has_resolution": closed is not None,
        "status": "CLOSED" if closed is not None else "OPEN",
        "agency_name": AGENCIES.get(record.get("agency") or "", ("Unknown agency",))[0],
        "complaint_category": CATEGORIES.get(record.get("complaint_type") or "", "Other"),
        "complaint_type_raw": (record.get("complaint_type") or "").upper() or None,
        "_batch_id": "fixture",
        "_source_file": "fixture.parquet",
        "source_updated_at": closed or created,
        "_silver_updated_at": datetime(2026, 1, 1),
    }
    valid_closed = closed is not None and not out["has_invalid_closed_date"]
    out["response_time_hours"] = (
        (closed - created).total_seconds() / 3600.0 if valid_closed and closed else None
    )
    return out


NEW_YORK = ZoneInfo("America/New_York")


def _as_new_york(value: Any) -> Any:
    """Naive datetimes mean New York local time (as silver's floating timestamps do).

    pyspark converts naive datetimes in tuples with the *process* time zone, so make them aware.
    """
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=NEW_YORK)
    return value


def silver_311_frame(spark: SparkSession, records: Iterable[Mapping[str, Any]]) -> DataFrame:
    """A silver 311 frame from partial records: derived columns computed, the rest defaulted.

    Each record needs ``unique_key`` and ``created_date`` (datetime); any contract column given
    explicitly wins over the derived value (use that to build broken fixtures).
    """
    rows = []
    for given in records:
        record = dict(given)
        full = {"agency": "NYPD", "complaint_type": "Noise - Residential", "borough": "BROOKLYN"}
        full.update(record)
        derived = _derived_311(full)
        derived.update(full)
        rows.append(tuple(_as_new_york(derived.get(f.name)) for f in SILVER_311_SCHEMA.fields))
    return spark.createDataFrame(rows, SILVER_311_SCHEMA)


def silver_911_frame(spark: SparkSession, records: Iterable[Mapping[str, Any]]) -> DataFrame:
    """A silver 911 frame from partial records (missing durations are null)."""
    rows = []
    for given in records:
        record = {"_batch_id": "fixture", "_ingested_at": datetime(2026, 1, 1), **given}
        rows.append(tuple(_as_new_york(record.get(f.name)) for f in SILVER_911_SCHEMA.fields))
    return spark.createDataFrame(rows, SILVER_911_SCHEMA)


def synthetic_silver_311(
    spark: SparkSession, rows: int, seed: int = 7, start: date = date(2019, 1, 1), days: int = 1200
) -> DataFrame:
    """``rows`` seeded synthetic requests spread over ``days`` days from ``start``."""
    rng = np.random.default_rng(seed)
    agencies = list(AGENCIES)
    agency = rng.choice(agencies, rows)
    complaint = np.array([rng.choice(AGENCIES[a][1]) for a in agency])
    boroughs = list(BOROUGH_ZIPS)
    borough = rng.choice(boroughs, rows)
    zips = np.array([rng.choice(BOROUGH_ZIPS[b][0]) for b in borough])
    # instants in UTC shown in New York time: no DST-gap (non-existent) local times
    created = (
        pd.Series(
            pd.Timestamp(start) + pd.to_timedelta(rng.integers(0, days * 86400, rows), unit="s")
        )
        .dt.tz_localize("UTC")
        .dt.tz_convert("America/New_York")
    )
    hours = rng.gamma(1.2, 40.0, rows)
    closed_mask = rng.random(rows) < 0.85
    closed = created + pd.to_timedelta(np.where(closed_mask, hours, 0) * 3600, unit="s").values
    lat = np.array([BOROUGH_ZIPS[b][1] for b in borough]) + rng.normal(0, 0.01, rows)
    lon = np.array([BOROUGH_ZIPS[b][2] for b in borough]) + rng.normal(0, 0.01, rows)
    frame = pd.DataFrame(
        {
            "unique_key": np.arange(1, rows + 1, dtype="int64") + 50_000_000,
            "created_date": created,
            "closed_date": closed.where(closed_mask),
            "agency": agency,
            "agency_name": [AGENCIES[a][0] for a in agency],
            "complaint_type": complaint,
            "complaint_type_raw": [c.upper() for c in complaint],
            "complaint_category": [CATEGORIES[c] for c in complaint],
            "descriptor": "Synthetic",
            "location_type": "Street/Sidewalk",
            "incident_zip": zips,
            "borough": borough,
            "community_board": [f"0{rng.integers(1, 9)} {b}" for b in borough],
            "status": np.where(closed_mask, "CLOSED", "OPEN"),
            "open_data_channel_type": rng.choice(["PHONE", "ONLINE", "MOBILE"], rows),
            "latitude": lat,
            "longitude": lon,
            "response_time_hours": np.where(closed_mask, hours, np.nan),
            "is_closed": closed_mask,
            "is_closed_date_inferred": False,
            "has_valid_location": True,
            "has_valid_zip": True,
            "has_resolution": closed_mask,
            "has_invalid_closed_date": False,
            "has_future_closed_date": False,
        }
    )
    frame["response_time_hours"] = frame["response_time_hours"].astype("float64")
    frame["created_date_only"] = frame["created_date"].dt.date
    frame["created_year"] = frame["created_date"].dt.year.astype("int32")
    frame["created_month_num"] = frame["created_date"].dt.month.astype("int32")
    frame["created_day_of_week"] = (frame["created_date"].dt.dayofweek + 1).astype("int32")
    frame["created_hour"] = frame["created_date"].dt.hour.astype("int32")
    frame["created_month"] = frame["created_date"].dt.strftime("%Y-%m")
    for name in SILVER_311_SCHEMA.fieldNames():
        if name not in frame:
            frame[name] = None
    frame = frame[SILVER_311_SCHEMA.fieldNames()]
    # pandas goes through Arrow: naive timestamps are read in the session time zone (New York)
    return spark.createDataFrame(frame, SILVER_311_SCHEMA)


def synthetic_silver_911(spark: SparkSession, weeks: int = 60, seed: int = 11) -> DataFrame:
    """Seeded weekly 911 rows: every week x agency x three incident types."""
    rng = np.random.default_rng(seed)
    first_monday = date(2019, 1, 7)
    rows = []
    for week in range(weeks):
        monday = first_monday + timedelta(weeks=week)
        for agency in ("NYPD", "NYPD (Non-CIP)", "FDNY", "EMS"):
            for incident_type in ("Critical", "Serious", "Non-Critical"):
                pickup = float(rng.gamma(4.0, 1.2))
                rows.append(
                    {
                        "week_start_date": monday,
                        "agency": agency,
                        "incident_type": incident_type,
                        "incident_count": int(rng.integers(50, 5000)),
                        "call_to_first_pickup_seconds": pickup,
                        "call_to_agency_dispatch_seconds": pickup + float(rng.gamma(5, 20)),
                        "call_to_agency_arrival_seconds": pickup + float(rng.gamma(8, 60)),
                        "median_dispatch_seconds": float(rng.gamma(5, 15)),
                        "median_travel_seconds": float(rng.gamma(6, 50)),
                        "average_pickup_seconds": pickup,
                        "average_dispatch_seconds": float(rng.gamma(5, 18)),
                        "average_travel_seconds": float(rng.gamma(6, 55)),
                    }
                )
    return silver_911_frame(spark, rows)


PROJECT_ROOT = Path(__file__).resolve().parents[4]


def load_gold_parameters(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The defaults from conf/base/parameters_gold.yml."""
    with (project_root / "conf/base/parameters_gold.yml").open() as handle:
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


def _flatten_params(name: str, value: Any, out: dict[str, Any]) -> None:
    out[f"params:{name}"] = value
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten_params(f"{name}.{key}", item, out)


def project_catalog(
    pipelines: tuple[str, ...] = ("gold", "analytics"), project_root: Path = PROJECT_ROOT
) -> Any:
    """A real DataCatalog from the project's conf/ (base catalog + the given pipelines' files).

    Only these pipelines' files are read, so other pipelines' work in progress cannot break the
    gold tests. Paths follow ``NYC_LAKEHOUSE_DATA_ROOT`` (the ``data_root`` fixture).
    """
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from nyc_lakehouse.settings import CONFIG_LOADER_ARGS

    args = dict(CONFIG_LOADER_ARGS)
    args["config_patterns"] = {
        **args["config_patterns"],
        "catalog": ["catalog.yml", *[f"catalog_{p}.yml" for p in pipelines]],
        "parameters": [f"parameters_{p}.yml" for p in pipelines],
    }
    loader = OmegaConfigLoader(conf_source=str(project_root / "conf"), **args)
    catalog = DataCatalog.from_config(loader["catalog"])
    params: dict[str, Any] = {}
    for name, value in loader["parameters"].items():
        _flatten_params(name, value, params)
    for name, value in params.items():
        catalog[name] = value
    return catalog


def write_silver(data_root: Path, silver_311: DataFrame, silver_911: DataFrame) -> None:
    """Write the silver fixtures where the catalog's silver entries read them."""
    from nyc_lakehouse.datasets import DeltaTableDataset

    for name, frame in [("nyc311_service_requests", silver_311), ("nyc911_e2e_weekly", silver_911)]:
        DeltaTableDataset(table=f"silver.{name}", root=str(data_root)).save(frame)
