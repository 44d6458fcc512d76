"""Gold nodes: the 311 star schema, its aggregates, the 911 KPIs and the gold data tests.

Every function is a small, pure DataFrame -> DataFrame transformation (Spark DataFrame API, works
under Spark Connect / Sail and on Databricks). Each output has exactly the columns documented in
``tables.TABLES``; the grain of each table is stated there.

Surrogate keys are ``xxhash64`` of the natural key columns (nulls replaced by a fixed marker so
that ``(null, 'a')`` and ``('a', null)`` differ), never ``row_number()``: keys stay stable when the
dimensions are rebuilt, so facts written earlier still point at the right rows.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import holidays as holiday_calendars
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from nyc_lakehouse.pipelines.gold import data_tests, incremental
from nyc_lakehouse.pipelines.gold.incremental import MonthsRewrite, PiecewiseOverwrite
from nyc_lakehouse.pipelines.gold.tables import all_data_tests, columns_of
from nyc_lakehouse.run_lock import scratch
from nyc_lakehouse.spark import get_spark

logger = logging.getLogger(__name__)

NULL_KEY_MARKER = "\u2205"  # hashed in place of a null natural-key part
UNSPECIFIED_AGENCY = "UNSPECIFIED"
UNSPECIFIED_COMPLAINT_TYPE = "Unspecified"
UNSPECIFIED_BOROUGH = "UNSPECIFIED"

SILVER_311_COLUMNS = (
    "unique_key",
    "created_date",
    "closed_date",
    "agency",
    "agency_name",
    "complaint_type",
    "complaint_category",
    "descriptor",
    "location_type",
    "incident_zip",
    "borough",
    "community_board",
    "status",
    "open_data_channel_type",
    "latitude",
    "longitude",
    "created_date_only",
    "created_month",
    "response_time_hours",
    "is_closed",
    "is_closed_date_inferred",
    "has_valid_location",
    "has_valid_zip",
    "has_resolution",
    "has_invalid_closed_date",
    "has_future_closed_date",
)

# Quality details silver writes beyond its contract (docs/development.md, "Layer contracts"):
# carried into fact_311 when present, typed nulls otherwise, so the fact's schema never depends
# on the silver version.
OPTIONAL_SILVER_311_COLUMNS = {
    "dq_warnings": "array<string>",
    "parse_errors": "array<string>",
    "borough_recovered_from": "string",
}

SILVER_911_COLUMNS = (
    "week_start_date",
    "agency",
    "incident_type",
    "incident_count",
    "call_to_first_pickup_seconds",
    "call_to_agency_dispatch_seconds",
    "call_to_agency_arrival_seconds",
    "median_dispatch_seconds",
    "median_travel_seconds",
    "average_dispatch_seconds",
    "average_travel_seconds",
)


def require_columns(df: DataFrame, required: tuple[str, ...] | list[str], source: str) -> None:
    """Fail early, naming every missing column, when an input does not follow its contract."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"{source} is missing column(s) {', '.join(missing)} required by gold "
            f"(see docs/development.md, Layer contracts); it has: {', '.join(df.columns)}"
        )


def surrogate_key(*columns: Column | str) -> Column:
    """Stable surrogate key: xxhash64 of the natural key parts, cast to string, nulls marked."""
    parts = [
        F.coalesce((F.col(c) if isinstance(c, str) else c).cast("string"), F.lit(NULL_KEY_MARKER))
        for c in columns
    ]
    return F.xxhash64(*parts)


def _agency() -> Column:
    return F.coalesce(F.upper(F.trim(F.col("agency"))), F.lit(UNSPECIFIED_AGENCY))


def _complaint_type() -> Column:
    return F.coalesce(F.col("complaint_type"), F.lit(UNSPECIFIED_COMPLAINT_TYPE))


def _borough() -> Column:
    return F.coalesce(F.col("borough"), F.lit(UNSPECIFIED_BOROUGH))


# The day of a closed date the silver flags accept (null otherwise).
_valid_closed_day = incremental.valid_closed_day


def safe_divide(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as double, null when the denominator is 0 or null.

    (Sail's ``try_divide`` only accepts integers.)
    """
    return F.when(denominator != 0, numerator.cast("double") / denominator.cast("double"))


def _date_key(day: Column) -> Column:
    return F.when(day.isNotNull(), surrogate_key(day.cast("string")))


# --------------------------------------------------------------------------------------------
# Dimensions
# --------------------------------------------------------------------------------------------


def covid_period_of(day: date, covid_periods: Mapping[str, Any]) -> str:
    """``pre`` before ``peak_start``, ``peak`` from ``peak_start`` to ``peak_end`` inclusive, else ``post``."""
    start = date.fromisoformat(str(covid_periods["peak_start"]))
    end = date.fromisoformat(str(covid_periods["peak_end"]))
    if start > end:
        raise ValueError(f"covid_periods: peak_start {start} is after peak_end {end}")
    if day < start:
        return "pre"
    return "peak" if day <= end else "post"


def calendar_rows(
    first_day: date, last_day: date, covid_periods: Mapping[str, Any], subdivision: str = "NY"
) -> list[tuple[Any, ...]]:
    """One tuple per day (without the key), holidays from the ``holidays`` package."""
    years = range(first_day.year, last_day.year + 1)
    local = holiday_calendars.country_holidays("US", subdiv=subdivision, years=years)
    federal = holiday_calendars.country_holidays("US", years=years)
    rows = []
    day = first_day
    while day <= last_day:
        iso_year, iso_week, iso_weekday = day.isocalendar()
        name = local.get(day) or federal.get(day)
        rows.append(
            (
                day,
                day.year,
                (day.month - 1) // 3 + 1,
                day.month,
                day.strftime("%B"),
                day.strftime("%Y-%m"),
                day.day,
                iso_weekday,
                day.strftime("%A"),
                iso_week,
                day - timedelta(days=iso_weekday - 1),
                iso_weekday >= 6,
                day in local or day in federal,
                day in federal,
                name,
                covid_period_of(day, covid_periods),
            )
        )
        day += timedelta(days=1)
    return rows


_CALENDAR_SCHEMA = T.StructType(
    [
        T.StructField("date", T.DateType()),
        T.StructField("year", T.IntegerType()),
        T.StructField("quarter", T.IntegerType()),
        T.StructField("month", T.IntegerType()),
        T.StructField("month_name", T.StringType()),
        T.StructField("year_month", T.StringType()),
        T.StructField("day_of_month", T.IntegerType()),
        T.StructField("day_of_week", T.IntegerType()),
        T.StructField("day_name", T.StringType()),
        T.StructField("iso_week", T.IntegerType()),
        T.StructField("week_start_date", T.DateType()),
        T.StructField("is_weekend", T.BooleanType()),
        T.StructField("is_holiday", T.BooleanType()),
        T.StructField("is_federal_holiday", T.BooleanType()),
        T.StructField("holiday_name", T.StringType()),
        T.StructField("covid_period", T.StringType()),
    ]
)


def build_dim_date(
    silver_311: DataFrame, calendar: Mapping[str, Any], silver_911: DataFrame | None = None
) -> DataFrame:
    """Calendar of whole years covering every day either source has data for.

    311: the first created day to the last created/closed day; 911: every day of the weeks it
    reports; ``calendar.start``/``calendar.end`` (optional ISO dates) widen the range. Each
    source stands alone: a lakehouse with only 911 (or only 311) gets its calendar from the
    other. ``calendar`` is parameters ``gold.calendar`` (also ``covid_periods`` and
    ``holiday_subdivision``).
    """
    require_columns(silver_311, SILVER_311_COLUMNS, "silver.nyc311_service_requests")
    return _dim_date(incremental.silver_days(silver_311), calendar, silver_911)


def dim_date_of_plan(
    plan: Mapping[str, Any], calendar: Mapping[str, Any], silver_911: DataFrame | None = None
) -> DataFrame:
    """:func:`build_dim_date` with silver 311's days from the plan's fingerprint
    (:func:`incremental.plan_311_build`): a daily run does not scan silver for them."""
    return _dim_date(tuple(plan["calendar_days"]), calendar, silver_911)


def _dim_date(
    days_311: tuple[date | None, date | None],
    calendar: Mapping[str, Any],
    silver_911: DataFrame | None,
) -> DataFrame:
    bounds = _calendar_bounds(days_311, silver_911, calendar)
    if bounds is None:
        logger.warning(
            "gold.dim_date: no 311 or 911 rows in silver and no gold.calendar.start/end: the "
            "calendar is empty"
        )
        rows = []
    else:
        rows = calendar_rows(
            date(bounds[0].year, 1, 1),
            date(bounds[1].year, 12, 31),
            calendar["covid_periods"],
            str(calendar.get("holiday_subdivision", "NY")),
        )
    frame = get_spark().createDataFrame(rows, _CALENDAR_SCHEMA)
    return frame.withColumn("date_key", _date_key(F.col("date"))).select(*columns_of("dim_date"))


def _calendar_bounds(
    days_311: tuple[date | None, date | None],
    silver_911: DataFrame | None,
    calendar: Mapping[str, Any],
) -> tuple[date, date] | None:
    """First and last day the calendar must cover, or None when nothing asks for a day."""
    days: list[date] = [
        date.fromisoformat(str(calendar[key]))
        for key in ("start", "end")
        if calendar.get(key) is not None
    ]
    days += [d for d in days_311 if d is not None]
    if silver_911 is not None:
        require_columns(silver_911, ("week_start_date",), "silver.nyc911_e2e_weekly")
        row = silver_911.select(
            F.min("week_start_date").alias("first"), F.max("week_start_date").alias("last")
        ).collect()[0]
        if row["first"] is not None:
            days += [row["first"], row["last"] + timedelta(days=6)]
    return (min(days), max(days)) if days else None


def build_dim_agency(silver_311: DataFrame) -> DataFrame:
    """One row per agency code; the name is the code's most frequent ``agency_name``.

    Ties go to the alphabetically last name, so reruns on the same data give the same row.
    """
    return dim_agency_of_members(month_members(silver_311))


def dim_agency_of_members(members: DataFrame) -> DataFrame:
    """``dim_agency`` from ``gold.silver_311_month_members`` (:func:`build_dim_agency`)."""
    counted = (
        members.where(F.col("member") == "agency")
        # the same expression as the members': no-op on their values, and the key keeps
        # its non-null type (a union's columns are nullable; Sail rejects mixing the two)
        .select(_agency().alias("agency"), "agency_name", "rows")
        .groupBy("agency", "agency_name")
        .agg(F.sum("rows").alias("n"))
    )
    return (
        counted.groupBy("agency")
        .agg(
            F.max_by(
                "agency_name", F.struct(F.col("agency_name").isNotNull(), "n", "agency_name")
            ).alias("agency_name")
        )
        .withColumn("agency_key", surrogate_key("agency"))
        .select(*columns_of("dim_agency"))
    )


# --------------------------------------------------------------------------------------------
# Dimension members by month: what the agency, complaint type and location dimensions are
# aggregated from, so that a daily run recounts only the months silver changed.
# --------------------------------------------------------------------------------------------

MEMBERS_TABLE = "silver_311_month_members"
_MEMBER_KEYS = {
    "agency": ("agency", "agency_name"),
    "complaint_type": ("complaint_type", "complaint_category"),
    "location": ("borough", "incident_zip", "community_board"),
}
# Coordinates are summed as whole units of 1e-7 degree (about 1 cm): an integer sum is exact,
# so the centroid does not depend on the order in which months (or rows) are added up, and a
# daily build equals a full one. (A decimal cast of a double rounds differently on Sail and on
# JVM Spark; a double product truncated to an integer does not.)
COORDINATE_UNITS_PER_DEGREE = 10_000_000


def month_members(silver_311: DataFrame) -> DataFrame:
    """``gold.silver_311_month_members`` of ``silver_311``: per creation month, one row per
    agency x name, complaint type x category and location seen, with its request count (and,
    for a location, the sums and counts of its valid coordinates)."""
    require_columns(
        silver_311,
        (
            "created_month",
            "agency",
            "agency_name",
            "complaint_type",
            "complaint_category",
            "borough",
            "incident_zip",
            "community_board",
            "latitude",
            "longitude",
            "has_valid_location",
        ),
        "silver.nyc311_service_requests",
    )
    valid = F.coalesce(F.col("has_valid_location"), F.lit(False))
    base = silver_311.select(
        "created_month",
        _agency().alias("agency"),
        "agency_name",
        _complaint_type().alias("complaint_type"),
        "complaint_category",
        _borough().alias("borough"),
        "incident_zip",
        "community_board",
        F.when(valid, F.col("latitude")).alias("latitude"),
        F.when(valid, F.col("longitude")).alias("longitude"),
    )
    units = F.lit(COORDINATE_UNITS_PER_DEGREE)
    located = [
        F.sum((F.col(axis) * units).cast("bigint")).alias(f"{axis}_sum") for axis in _AXES
    ] + [F.count(axis).alias(f"{axis}_count") for axis in _AXES]
    parts = []
    for member, keys in _MEMBER_KEYS.items():
        aggregates = [F.count(F.lit(1)).alias("rows")]
        if member == "location":
            aggregates += located
        part = base.groupBy("created_month", *keys).agg(*aggregates)
        parts.append(part.withColumn("member", F.lit(member)))
    columns = columns_of(MEMBERS_TABLE)
    types = dict(_MEMBER_TYPES)
    return _union(
        [
            part.select(
                *(
                    F.col(c)
                    if c in part.columns
                    else F.lit(None).cast(types.get(c, "string")).alias(c)
                    for c in columns
                )
            )
            for part in parts
        ]
    )


_AXES = ("latitude", "longitude")
_MEMBER_TYPES = {
    **{f"{axis}_sum": "bigint" for axis in _AXES},
    **{f"{axis}_count": "bigint" for axis in _AXES},
}


def _union(frames: list[DataFrame]) -> DataFrame:
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union


def build_silver_311_month_members(
    silver_311: DataFrame, plan: Mapping[str, Any] | None = None
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """``gold.silver_311_month_members`` for the months ``plan`` rebuilds (all on a full build)."""
    return incremental.by_pieces(plan, silver_311, month_members)


def sla_target_hours(sla: Mapping[str, Any]) -> Column:
    """The SLA target of the row's ``complaint_type`` (matched case-insensitively), else the default."""
    default = float(sla["default_target_hours"])
    targets = {str(k).lower(): float(v) for k, v in (sla.get("targets_hours") or {}).items()}
    if default <= 0 or any(v <= 0 for v in targets.values()):
        raise ValueError("gold.sla: SLA targets must be positive hours")
    lowered = F.lower(F.col("complaint_type"))
    target = F.lit(default)
    for name, hours in sorted(targets.items()):
        target = F.when(lowered == F.lit(name), F.lit(hours)).otherwise(target)
    return target


def build_dim_complaint_type(silver_311: DataFrame, sla: Mapping[str, Any]) -> DataFrame:
    """One row per canonical complaint type with its category and SLA target."""
    return dim_complaint_type_of_members(month_members(silver_311), sla)


def dim_complaint_type_of_members(members: DataFrame, sla: Mapping[str, Any]) -> DataFrame:
    """``dim_complaint_type`` from ``gold.silver_311_month_members``: the category is the
    type's most frequent one (ties to the alphabetically last)."""
    counted = (
        members.where(F.col("member") == "complaint_type")
        .select(_complaint_type().alias("complaint_type"), "complaint_category", "rows")
        .groupBy("complaint_type", "complaint_category")
        .agg(F.sum("rows").alias("n"))
    )
    return (
        counted.groupBy("complaint_type")
        .agg(
            F.max_by(
                "complaint_category",
                F.struct(F.col("complaint_category").isNotNull(), "n", "complaint_category"),
            ).alias("complaint_category")
        )
        .withColumn("complaint_type_key", surrogate_key("complaint_type"))
        .withColumn("sla_target_hours", sla_target_hours(sla))
        .select(*columns_of("dim_complaint_type"))
    )


def build_dim_location(silver_311: DataFrame) -> DataFrame:
    """One row per borough x ZIP x community board; centroid from the valid coordinates."""
    return dim_location_of_members(month_members(silver_311))


def dim_location_of_members(members: DataFrame) -> DataFrame:
    """``dim_location`` from ``gold.silver_311_month_members``: the centroid is the mean of the
    location's valid coordinates over every month."""
    keys = _MEMBER_KEYS["location"]
    per_degree = F.lit(float(COORDINATE_UNITS_PER_DEGREE))
    sums = [
        (F.sum(f"{axis}_sum").cast("double") / per_degree).alias(f"{axis}_sum") for axis in _AXES
    ]
    counts = [F.sum(f"{axis}_count").alias(f"{axis}_count") for axis in _AXES]
    located = (
        members.where(F.col("member") == "location")
        .withColumn("borough", _borough())
        .groupBy(*keys)
        .agg(*sums, *counts)
    )
    return (
        located.select(
            *keys,
            *(
                safe_divide(F.col(f"{axis}_sum"), F.col(f"{axis}_count")).alias(f"centroid_{axis}")
                for axis in _AXES
            ),
        )
        .withColumn("location_key", surrogate_key(*keys))
        .select(*columns_of("dim_location"))
    )


# --------------------------------------------------------------------------------------------
# Fact
# --------------------------------------------------------------------------------------------


# Reference pipelines' resolution buckets (upper bounds in hours, inclusive).
DEFAULT_RESOLUTION_BUCKETS_HOURS = {"same_day": 24, "within_7_days": 168, "within_30_days": 720}


def resolution_bucket(hours: Column, bounds: Mapping[str, float] | None = None) -> Column:
    """Seed SLA buckets: same day (<= 24 h), <= 7 days, <= 30 days, else over_30_days.

    ``bounds`` (``gold.sla.resolution_buckets_hours``) moves the limits; the names stay.
    """
    limits = {**DEFAULT_RESOLUTION_BUCKETS_HOURS, **(bounds or {})}
    unknown = set(limits) - set(DEFAULT_RESOLUTION_BUCKETS_HOURS)
    ordered = [limits[name] for name in DEFAULT_RESOLUTION_BUCKETS_HOURS]
    if unknown or ordered != sorted(ordered) or ordered[0] <= 0:
        raise ValueError(
            "gold.sla.resolution_buckets_hours: expected increasing positive hours for "
            f"{list(DEFAULT_RESOLUTION_BUCKETS_HOURS)}, got {dict(limits)}"
        )
    bucket = F.when(hours.isNull(), F.lit(None).cast("string"))
    for name, limit in limits.items():
        bucket = bucket.when(hours <= F.lit(float(limit)), name)
    return bucket.otherwise("over_30_days")


def build_fact_311(
    silver_311: DataFrame,
    sla: Mapping[str, Any],
    outlier_hours: float,
    plan: Mapping[str, Any] | None = None,
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """One row per service request with keys to every dimension, SLA and quality flags.

    Built from silver's rows of the months ``plan`` (:func:`incremental.plan_311_build`) says
    changed, or of every month on a full build (silver already holds one row per request),
    written a few months at a time (:func:`incremental.in_pieces`).
    """
    require_columns(silver_311, SILVER_311_COLUMNS, "silver.nyc311_service_requests")
    return incremental.by_pieces(plan, silver_311, lambda rows: _fact_311(rows, sla, outlier_hours))


def _fact_311(silver_311: DataFrame, sla: Mapping[str, Any], outlier_hours: float) -> DataFrame:
    hours = F.col("response_time_hours")
    closed_day = _valid_closed_day()
    for name, type_name in OPTIONAL_SILVER_311_COLUMNS.items():
        if name not in silver_311.columns:
            silver_311 = silver_311.withColumn(name, F.lit(None).cast(type_name))
    return (
        silver_311.withColumn("agency", _agency())
        .withColumn("complaint_type", _complaint_type())
        .withColumn("borough", _borough())
        .withColumn("created_date_key", _date_key(F.col("created_date_only")))
        .withColumn("closed_date_key", _date_key(closed_day))
        .withColumn("agency_key", surrogate_key("agency"))
        .withColumn("complaint_type_key", surrogate_key("complaint_type"))
        .withColumn("location_key", surrogate_key("borough", "incident_zip", "community_board"))
        .withColumn(
            "resolution_bucket", resolution_bucket(hours, sla.get("resolution_buckets_hours"))
        )
        .withColumn("sla_target_hours", sla_target_hours(sla))
        .withColumn("is_sla_breached", F.when(hours.isNotNull(), hours > F.col("sla_target_hours")))
        .withColumn("is_closed", F.coalesce(F.col("is_closed"), F.lit(False)))
        # Coordinates outside NYC (0/0, swapped, far away) would put dots in the ocean on a map.
        .withColumn("latitude", F.when(F.col("has_valid_location"), F.col("latitude")))
        .withColumn("longitude", F.when(F.col("has_valid_location"), F.col("longitude")))
        .withColumn(
            "is_response_time_outlier",
            F.coalesce(hours > F.lit(float(outlier_hours)), F.lit(False)),
        )
        .select(*columns_of("fact_311"))
    )


# --------------------------------------------------------------------------------------------
# 311 aggregates
# --------------------------------------------------------------------------------------------


def _metric_aggregations() -> list[Column]:
    hours = F.col("response_time_hours")
    kept = F.when(~F.col("is_response_time_outlier"), hours)
    return [
        F.count(F.lit(1)).alias("request_count"),
        F.count(F.when(F.col("is_closed"), 1)).alias("closed_count"),
        F.count(F.when(~F.col("is_closed"), 1)).alias("open_count"),
        F.avg(kept).alias("avg_response_hours"),
        F.percentile(kept, 0.5).alias("median_response_hours"),
        F.percentile(kept, 0.9).alias("p90_response_hours"),
        F.count(F.when(F.col("is_sla_breached"), 1)).alias("sla_breach_count"),
        F.count(hours).alias("_sla_eligible"),
    ]


def _with_metric_shares(df: DataFrame) -> DataFrame:
    return (
        df.withColumn(
            "closed_pct",
            F.round(safe_divide(F.col("closed_count") * 100.0, F.col("request_count")), 2),
        )
        .withColumn(
            "sla_breach_pct",
            F.round(safe_divide(F.col("sla_breach_count") * 100.0, F.col("_sla_eligible")), 2),
        )
        .withColumn("avg_response_hours", F.round("avg_response_hours", 2))
        .withColumn("median_response_hours", F.round("median_response_hours", 2))
        .withColumn("p90_response_hours", F.round("p90_response_hours", 2))
    )


def build_agg_daily_summary(
    fact_311: DataFrame, dim_date: DataFrame, plan: Mapping[str, Any] | None = None
) -> DataFrame | MonthsRewrite:
    """Daily metrics for every day between the first and last created day (zero-filled).

    On an incremental build, the days of the plan's ``daily_months`` only; the first and last
    day are silver's (the plan's), the same as the fact's after a full build.
    """
    fact_311 = incremental.in_months(plan, fact_311, "daily_months")
    daily = fact_311.groupBy(F.col("created_date_only").alias("date")).agg(*_metric_aggregations())
    if incremental.is_incremental(plan):
        assert plan is not None
        span = get_spark().createDataFrame(
            [(plan["first_day"], plan["last_day"])], "first date, last date"
        )
        months = [m for m in plan["daily_months"] if m is not None]
        dim_date = dim_date.filter(F.col("year_month").isin(months) if months else F.lit(False))
    else:
        span = fact_311.select(
            F.min("created_date_only").alias("first"), F.max("created_date_only").alias("last")
        )
    days = dim_date.join(span, (F.col("date") >= F.col("first")) & (F.col("date") <= F.col("last")))
    zero = ["request_count", "closed_count", "open_count", "sla_breach_count", "_sla_eligible"]
    out = days.join(daily, "date", "left")
    for name in zero:
        out = out.withColumn(name, F.coalesce(F.col(name), F.lit(0)).cast("long"))
    frame = _with_metric_shares(out).select(*columns_of("agg_daily_summary"))
    return incremental.output(plan, frame, "daily_months", column="date", by_day=True)


def build_agg_monthly_summary(
    fact_311: DataFrame, plan: Mapping[str, Any] | None = None
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """Monthly metrics for every month with at least one request (the plan's months only on
    an incremental build)."""
    return incremental.by_pieces(plan, fact_311, _monthly_summary)


def _monthly_summary(fact_311: DataFrame) -> DataFrame:
    out = fact_311.groupBy("created_month").agg(
        *_metric_aggregations(),
        F.countDistinct("created_date_only").alias("active_days"),
        F.countDistinct("complaint_type_key").alias("complaint_types"),
    )
    return (
        _with_metric_shares(out)
        .withColumn("month_start", _month_start())
        .withColumn(
            "avg_daily_requests",
            F.round(safe_divide(F.col("request_count"), F.col("active_days")), 2),
        )
        .select(*columns_of("agg_monthly_summary"))
    )


def _month_start() -> Column:
    return F.to_date(F.concat(F.col("created_month"), F.lit("-01")))


def _metrics_by(
    fact_311: DataFrame,
    key: str,
    dimension: DataFrame,
    table: str,
    plan: Mapping[str, Any] | None,
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """Metrics per creation month x ``key``: months, not all time, so a month can be recomputed
    on its own (``plan``, :mod:`.incremental`) and dashboards follow each member over time."""

    def metrics(rows: DataFrame) -> DataFrame:
        out = rows.groupBy("created_month", key).agg(
            *_metric_aggregations(),
            F.min("created_date_only").alias("first_created_date"),
            F.max("created_date_only").alias("last_created_date"),
        )
        return (
            _with_metric_shares(out)
            .withColumn("month_start", _month_start())
            .join(dimension, key, "left")
            .select(*columns_of(table))
        )

    return incremental.by_pieces(plan, fact_311, metrics)


def build_agg_agency_metrics(
    fact_311: DataFrame, dim_agency: DataFrame, plan: Mapping[str, Any] | None = None
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """Volume, resolution time percentiles and SLA breaches per month and agency."""
    return _metrics_by(fact_311, "agency_key", dim_agency, "agg_agency_metrics", plan)


def build_agg_complaint_type_metrics(
    fact_311: DataFrame, dim_complaint_type: DataFrame, plan: Mapping[str, Any] | None = None
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """Volume, resolution time percentiles and SLA breaches per month and complaint type."""
    return _metrics_by(
        fact_311, "complaint_type_key", dim_complaint_type, "agg_complaint_type_metrics", plan
    )


def build_agg_location_metrics(
    fact_311: DataFrame, dim_location: DataFrame, plan: Mapping[str, Any] | None = None
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """Volume, resolution time percentiles and SLA breaches per month and location."""
    return _metrics_by(fact_311, "location_key", dim_location, "agg_location_metrics", plan)


def build_agg_daily_type_borough(
    fact_311: DataFrame,
    dim_complaint_type: DataFrame,
    dim_location: DataFrame,
    plan: Mapping[str, Any] | None = None,
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """Requests per creation day x complaint type x borough: what the analytics pipeline reads
    instead of the fact, so its cost follows days and types, not requests."""

    def counts(rows: DataFrame) -> DataFrame:
        # The dimensions on the left: Sail's hash join builds from its left input (engines.md).
        types = dim_complaint_type.select("complaint_type_key", "complaint_type")
        boroughs = dim_location.select("location_key", "borough")
        return (
            boroughs.join(types.join(rows, "complaint_type_key"), "location_key")
            .groupBy(
                "created_month",
                F.col("created_date_only").alias("date"),
                "complaint_type_key",
                "complaint_type",
                "borough",
            )
            .agg(F.count(F.lit(1)).alias("request_count"))
            .select(*columns_of("agg_daily_type_borough"))
        )

    return incremental.by_pieces(plan, fact_311, counts)


def plan_gold_311(
    silver_311: DataFrame,
    state: Mapping[str, Any] | None,
    sla: Mapping[str, Any],
    outlier_hours: float,
    calendar: Mapping[str, Any],
    full_refresh: bool = False,
) -> dict[str, Any]:
    """Which creation months this run rebuilds (:func:`incremental.plan_311_build`)."""
    return incremental.plan_311_build(
        silver_311, state, sla, outlier_hours, calendar, bool(full_refresh)
    )


def build_silver_311_fingerprint(plan: Mapping[str, Any]) -> DataFrame:
    """``gold.silver_311_fingerprint``: the silver state this build is made from."""
    return incremental.fingerprint_frame(plan)


# --------------------------------------------------------------------------------------------
# 911
# --------------------------------------------------------------------------------------------


def _pickup_target(nyc911: Mapping[str, Any]) -> Column:
    default = float(nyc911["pickup_target_seconds"])
    target = F.lit(default)
    for agency, seconds in sorted((nyc911.get("pickup_target_seconds_by_agency") or {}).items()):
        target = F.when(F.col("agency") == F.lit(str(agency)), F.lit(float(seconds))).otherwise(
            target
        )
    return target


def build_fact_911_weekly(silver_911: DataFrame, nyc911: Mapping[str, Any]) -> DataFrame:
    """One row per week x agency x incident type, with the pickup SLA evaluated."""
    require_columns(silver_911, SILVER_911_COLUMNS, "silver.nyc911_e2e_weekly")
    low, high = (float(v) for v in nyc911["plausible_pickup_seconds"])
    pickup = F.col("call_to_first_pickup_seconds")
    plausible = F.coalesce(pickup.between(low, high), F.lit(False))
    return (
        silver_911.withColumn(
            "fact_911_key", surrogate_key("week_start_date", "agency", "incident_type")
        )
        .withColumn("week_date_key", _date_key(F.col("week_start_date")))
        .withColumn("month", F.date_format("week_start_date", "yyyy-MM"))
        .withColumn("incident_count", F.col("incident_count").cast("long"))
        .withColumn("pickup_target_seconds", _pickup_target(nyc911))
        .withColumn("is_pickup_plausible", plausible)
        .withColumn("is_sla_breached", F.when(plausible, pickup > F.col("pickup_target_seconds")))
        .select(*columns_of("fact_911_weekly"))
    )


def _weighted_avg(value: str, condition: Column | None = None) -> Column:
    """Incident-weighted mean of ``value`` over rows where it is known (and ``condition`` holds)."""
    usable = F.col(value).isNotNull() & F.col("incident_count").isNotNull()
    if condition is not None:
        usable = usable & condition
    numerator = F.sum(F.when(usable, F.col(value) * F.col("incident_count")))
    denominator = F.sum(F.when(usable, F.col("incident_count")))
    return F.round(safe_divide(numerator, denominator), 2)


def _breach_rate() -> Column:
    breached = F.sum(F.when(F.col("is_sla_breached"), F.col("incident_count")))
    eligible = F.sum(F.when(F.col("is_pickup_plausible"), F.col("incident_count")))
    return F.round(safe_divide(F.coalesce(breached, F.lit(0)) * 100.0, eligible), 2)


def _not_negative(column: str) -> Column:
    # Real exports contain negative averages (source defects): they must not pull averages down.
    return F.col(column) >= 0


def build_agg_911_monthly_agency(fact_911_weekly: DataFrame) -> DataFrame:
    """Monthly incidents (a SUM of incident_count) and incident-weighted response times per agency."""
    return (
        fact_911_weekly.groupBy("month", "agency")
        .agg(
            F.countDistinct("week_start_date").alias("weeks"),
            F.coalesce(F.sum("incident_count"), F.lit(0)).cast("long").alias("incidents"),
            _weighted_avg("call_to_first_pickup_seconds", F.col("is_pickup_plausible")).alias(
                "avg_call_to_first_pickup_seconds"
            ),
            _weighted_avg(
                "call_to_agency_dispatch_seconds", _not_negative("call_to_agency_dispatch_seconds")
            ).alias("avg_call_to_agency_dispatch_seconds"),
            _weighted_avg(
                "average_dispatch_seconds", _not_negative("average_dispatch_seconds")
            ).alias("avg_dispatch_seconds"),
            _weighted_avg("average_travel_seconds", _not_negative("average_travel_seconds")).alias(
                "avg_travel_seconds"
            ),
            F.max("pickup_target_seconds").alias("pickup_target_seconds"),
            F.coalesce(F.sum(F.when(F.col("is_sla_breached"), F.col("incident_count"))), F.lit(0))
            .cast("long")
            .alias("sla_breach_incidents"),
            _breach_rate().alias("sla_breach_rate_pct"),
        )
        .withColumn("month_start", F.to_date(F.concat(F.col("month"), F.lit("-01"))))
        .select(*columns_of("agg_911_monthly_agency"))
    )


def build_kpi_911_overview(fact_911_weekly: DataFrame, nyc911: Mapping[str, Any]) -> DataFrame:
    """Headline 911 KPIs for all agencies together and for each agency."""
    scoped = fact_911_weekly.withColumn("agency_scope", F.col("agency")).unionByName(
        fact_911_weekly.withColumn("agency_scope", F.lit("ALL"))
    )
    totals = scoped.groupBy("agency_scope").agg(
        F.min("week_start_date").alias("data_start_week"),
        F.max("week_start_date").alias("data_end_week"),
        F.coalesce(F.sum("incident_count"), F.lit(0)).cast("long").alias("total_incidents"),
        F.max(F.when(F.col("is_pickup_plausible"), F.col("week_start_date"))).alias("latest_week"),
        _breach_rate().alias("sla_breach_pct"),
        F.max("pickup_target_seconds").alias("_agency_target"),
    )
    latest = (
        scoped.join(totals.select("agency_scope", "latest_week"), "agency_scope")
        .where(F.col("week_start_date") == F.col("latest_week"))
        .groupBy("agency_scope")
        .agg(
            _weighted_avg("call_to_first_pickup_seconds", F.col("is_pickup_plausible")).alias(
                "latest_avg_pickup_seconds"
            )
        )
    )
    return (
        totals.join(latest, "agency_scope", "left")
        .withColumn(
            "pickup_target_seconds",
            F.when(
                F.col("agency_scope") == "ALL", F.lit(float(nyc911["pickup_target_seconds"]))
            ).otherwise(F.col("_agency_target")),
        )
        .orderBy(F.col("agency_scope") != "ALL", "agency_scope")
        .select(*columns_of("kpi_911_overview"))
    )


# --------------------------------------------------------------------------------------------
# Data tests
# --------------------------------------------------------------------------------------------


def run_gold_data_tests(
    config: Mapping[str, Any], plan: Mapping[str, Any] | None = None, **tables: DataFrame
) -> tuple[DataFrame, list[dict[str, Any]]]:
    """Evaluate every gold data test; return the rows for ``monitoring.gold_test_results`` and a summary.

    On a daily build (``plan``), the tables grown month by month are tested on the months it
    rebuilt (:func:`incremental.tested_rows`): the other months were tested when they were
    built and have not changed since. Never raises on a failing test: the results must be
    written first. ``enforce_data_tests`` (the next node) fails the run.
    """
    return _run_data_tests("gold", config, incremental.tested_rows(plan, tables))


def run_analytics_data_tests(
    config: Mapping[str, Any], **tables: DataFrame
) -> tuple[DataFrame, list[dict[str, Any]]]:
    """The analytics tables' data tests, like :func:`run_gold_data_tests` (same config)."""
    return _run_data_tests("analytics", config, tables)


def _run_data_tests(
    pipeline: str, config: Mapping[str, Any], tables: Mapping[str, DataFrame]
) -> tuple[DataFrame, list[dict[str, Any]]]:
    tests = data_tests.apply_overrides(all_data_tests(pipeline), config)
    spark = get_spark()
    results = data_tests.evaluate_data_tests(
        spark, tests, tables, placeholders=config.get("placeholders") or {}
    )
    return data_tests.results_frame(spark, results), results


def enforce_data_tests(results: list[dict[str, Any]]) -> None:
    """Fail the run, naming each error-level test and its failing count, if any failed."""
    data_tests.raise_on_blocking_failures(results)


def publish_gold(results: list[dict[str, Any]], tables: list[str]) -> dict[str, Any]:
    """The publication request for ``monitoring.gold_publications``, once the data tests pass.

    Re-checks the results itself, so nothing is published even if Kedro ran this node before
    ``enforce_gold_data_tests``. The dataset records every table at the version the data tests
    read, in one commit.
    """
    data_tests.raise_on_blocking_failures(results)
    return {"tables": list(tables), "run_id": scratch.current_token()}
