"""Gold and analytics tables: grain, columns and data tests, kept next to the code that builds them.

``TABLES`` is the single source of truth for what each gold table means. The gold nodes select
exactly the documented columns (``columns_of``), the data tests are read from here, and
``make docs`` (``nyc_lakehouse.reference_docs``) renders it into ``docs/tables.md`` and the data
tests into ``docs/quality-rules.md`` (a test fails while the committed pages are stale).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nyc_lakehouse.pipelines.gold.data_tests import DataTest


@dataclass(frozen=True)
class TableSpec:
    """What one gold table is: its grain in one sentence, its columns and its data tests."""

    name: str
    pipeline: str
    grain: str
    columns: dict[str, str]
    write: str = "overwrite"
    tests: tuple[DataTest, ...] = field(default_factory=tuple)


def _key_tests(table: str, key: str) -> tuple[DataTest, ...]:
    return (
        DataTest(f"{table}__{key}__unique", table, "unique", column=key),
        DataTest(f"{table}__{key}__not_null", table, "not_null", column=key),
    )


def _fk_test(table: str, column: str, dimension: str, severity: str = "error") -> DataTest:
    return DataTest(
        f"{table}__{column}__references_{dimension}",
        table,
        "relationships",
        column=column,
        to_table=dimension,
        to_column=column,
        severity=severity,
    )


_REQUEST_METRICS = {
    "request_count": "Service requests created.",
    "closed_count": "Requests with a closed flag (status CLOSED or a valid closed date).",
    "open_count": "Requests not closed yet.",
    "closed_pct": "closed_count / request_count x 100.",
    "avg_response_hours": "Mean resolution time in hours (closed requests, outliers excluded).",
    "median_response_hours": "Median resolution time in hours (exact, linear interpolation; outliers excluded).",
    "p90_response_hours": "90th percentile resolution time in hours (exact, linear interpolation; outliers excluded).",
    "sla_breach_count": "Closed requests whose resolution time exceeds the complaint type's SLA target.",
    "sla_breach_pct": "sla_breach_count / closed requests with a resolution time x 100.",
}


def _month_grain_tests(table: str, key: str, dimension: str) -> tuple[DataTest, ...]:
    """A month x member aggregate: one row per (created_month, key), both set, key in the dim."""
    return (
        DataTest(
            f"{table}__created_month_{key}__unique",
            table,
            "sql",
            sql=(
                f"SELECT created_month, {key} FROM {table}"
                f" GROUP BY created_month, {key} HAVING count(*) > 1"
            ),
        ),
        DataTest(f"{table}__created_month__not_null", table, "not_null", column="created_month"),
        DataTest(f"{table}__{key}__not_null", table, "not_null", column=key),
        _fk_test(table, key, dimension),
        *_metric_tests(table),
    )


_MONTH_COLUMNS = {
    "created_month": "Creation month YYYY-MM.",
    "month_start": "First day of the month.",
}


def _metric_tests(table: str) -> tuple[DataTest, ...]:
    return (
        DataTest(
            f"{table}__pct_columns_between_0_and_100",
            table,
            "expression",
            expression="coalesce(closed_pct, 0) BETWEEN 0 AND 100 AND coalesce(sla_breach_pct, 0) BETWEEN 0 AND 100",
        ),
        DataTest(
            f"{table}__counts_add_up",
            table,
            "expression",
            expression="request_count = closed_count + open_count AND sla_breach_count <= closed_count",
        ),
    )


TABLES: dict[str, TableSpec] = {}


def _register(spec: TableSpec) -> None:
    TABLES[spec.name] = spec


_register(
    TableSpec(
        name="dim_date",
        pipeline="gold",
        grain="One row per calendar day, from 1 January of the first year with a request to 31 December of the last year with a created or valid closed date.",
        columns={
            "date_key": "Surrogate key: xxhash64 of the ISO date string.",
            "date": "The calendar day.",
            "year": "Calendar year.",
            "quarter": "Calendar quarter 1-4.",
            "month": "Month number 1-12.",
            "month_name": "Month name (January...).",
            "year_month": "Month as YYYY-MM (matches silver created_month).",
            "day_of_month": "Day of the month 1-31.",
            "day_of_week": "ISO day of the week: 1 = Monday ... 7 = Sunday (as silver).",
            "day_name": "Day name (Monday...).",
            "iso_week": "ISO 8601 week number.",
            "week_start_date": "Monday of the day's week (911 weeks start on Monday too).",
            "is_weekend": "Saturday or Sunday.",
            "is_holiday": "A US federal or New York State holiday (observed days included), from the `holidays` package.",
            "is_federal_holiday": "A US federal holiday (observed days included).",
            "holiday_name": "Holiday name(s), null on ordinary days.",
            "covid_period": "pre (before peak_start), peak (peak_start..peak_end inclusive) or post, from parameters `gold.calendar.covid_periods`.",
        },
        tests=(
            *_key_tests("dim_date", "date_key"),
            DataTest("dim_date__date__unique", "dim_date", "unique", column="date"),
            DataTest(
                "dim_date__covid_period__accepted_values",
                "dim_date",
                "accepted_values",
                column="covid_period",
                values=("pre", "peak", "post"),
            ),
            DataTest(
                "dim_date__day_of_week__between_1_and_7",
                "dim_date",
                "range",
                column="day_of_week",
                min_value=1,
                max_value=7,
            ),
        ),
    )
)

_register(
    TableSpec(
        name="dim_agency",
        pipeline="gold",
        grain="One row per agency code (acronym) seen in silver.",
        columns={
            "agency_key": "Surrogate key: xxhash64 of the agency code.",
            "agency": "Agency code, upper case (NYPD, HPD...); UNSPECIFIED when missing.",
            "agency_name": "Most frequent full agency name for the code.",
        },
        tests=(
            *_key_tests("dim_agency", "agency_key"),
            DataTest("dim_agency__agency__unique", "dim_agency", "unique", column="agency"),
        ),
    )
)

_register(
    TableSpec(
        name="dim_complaint_type",
        pipeline="gold",
        grain="One row per canonical complaint type seen in silver.",
        columns={
            "complaint_type_key": "Surrogate key: xxhash64 of the canonical complaint type.",
            "complaint_type": "Canonical complaint type (title case); Unspecified when missing.",
            "complaint_category": "Category of the complaint type (most frequent silver complaint_category).",
            "sla_target_hours": "Resolution-time SLA target in hours, from parameters `gold.sla` (per type, else the default).",
        },
        tests=(
            *_key_tests("dim_complaint_type", "complaint_type_key"),
            DataTest(
                "dim_complaint_type__sla_target_hours__positive",
                "dim_complaint_type",
                "range",
                column="sla_target_hours",
                min_value=0.000001,
            ),
        ),
    )
)

_register(
    TableSpec(
        name="dim_location",
        pipeline="gold",
        grain="One row per borough x ZIP code x community board combination seen in silver.",
        columns={
            "location_key": "Surrogate key: xxhash64 of borough, ZIP and community board (nulls as a fixed marker).",
            "borough": "MANHATTAN, BRONX, BROOKLYN, QUEENS, STATEN ISLAND or UNSPECIFIED.",
            "incident_zip": "5-digit ZIP code, null when unknown.",
            "community_board": "Community board as published (e.g. '01 BROOKLYN'), null when unknown.",
            "centroid_latitude": "Mean latitude of the requests with a valid location, null if none.",
            "centroid_longitude": "Mean longitude of the requests with a valid location, null if none.",
        },
        tests=(
            *_key_tests("dim_location", "location_key"),
            DataTest(
                "dim_location__borough__accepted_values",
                "dim_location",
                "accepted_values",
                column="borough",
                values=("MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND", "UNSPECIFIED"),
            ),
            DataTest(
                "dim_location__centroid_inside_nyc",
                "dim_location",
                "expression",
                expression=(
                    "centroid_latitude IS NULL OR (centroid_latitude BETWEEN {min_latitude} AND {max_latitude}"
                    " AND centroid_longitude BETWEEN {min_longitude} AND {max_longitude})"
                ),
            ),
        ),
    )
)

_register(
    TableSpec(
        name="fact_311",
        pipeline="gold",
        grain="One row per 311 service request (unique_key), latest version from silver.",
        write="overwrite, partitioned by created_month",
        columns={
            "unique_key": "Service request id (natural key).",
            "created_date_key": "-> dim_date.date_key of the creation day.",
            "closed_date_key": "-> dim_date.date_key of the closing day; null when open or the closed date is invalid.",
            "agency_key": "-> dim_agency.agency_key.",
            "complaint_type_key": "-> dim_complaint_type.complaint_type_key.",
            "location_key": "-> dim_location.location_key.",
            "created_date": "Creation timestamp (New York local time).",
            "closed_date": "Closing timestamp (inferred from the resolution date when silver says so).",
            "created_date_only": "Creation day.",
            "status": "Standardized status (OPEN, CLOSED...).",
            "descriptor": "Complaint descriptor.",
            "location_type": "Location type as published.",
            "open_data_channel_type": "Channel (PHONE, ONLINE, MOBILE...).",
            "latitude": "Latitude, null unless has_valid_location.",
            "longitude": "Longitude, null unless has_valid_location.",
            "response_time_hours": "(closed - created) in hours for valid closed requests, else null.",
            "resolution_bucket": "same_day (<= 24 h), within_7_days, within_30_days, over_30_days; null when not resolved.",
            "sla_target_hours": "The complaint type's SLA target in hours.",
            "is_sla_breached": "response_time_hours > sla_target_hours; null when there is no resolution time.",
            "is_closed": "Closed flag from silver.",
            "is_closed_date_inferred": "Silver inferred the closed date from the resolution date.",
            "is_response_time_outlier": "Resolution time above `gold.response_time_outlier_hours` (730 days).",
            "has_valid_location": "Quality flag from silver: coordinates inside New York City.",
            "has_valid_zip": "Quality flag from silver: a 5-digit New York City ZIP (100xx-104xx, 110xx-114xx, 116xx).",
            "has_resolution": "Quality flag from silver: a resolution description exists.",
            "has_invalid_closed_date": "Quality flag from silver: closed before created or before 2010.",
            "has_future_closed_date": "Quality flag from silver: closed more than 30 days in the future.",
            "dq_warnings": "Silver warn-level quality rules the row failed (e.g. valid_zip); null if silver does not provide them.",
            "parse_errors": "Source fields silver could not parse (set to null there); null if not provided.",
            "borough_recovered_from": "Where silver took the borough from: source, zip, city or unspecified; null if not provided.",
            "created_month": "Creation month YYYY-MM (partition column, last as Delta readers return it).",
        },
        tests=(
            *_key_tests("fact_311", "unique_key"),
            DataTest(
                "fact_311__created_date_key__not_null",
                "fact_311",
                "not_null",
                column="created_date_key",
            ),
            _fk_test("fact_311", "agency_key", "dim_agency"),
            _fk_test("fact_311", "complaint_type_key", "dim_complaint_type"),
            _fk_test("fact_311", "location_key", "dim_location"),
            DataTest(
                "fact_311__created_date_key__references_dim_date",
                "fact_311",
                "relationships",
                column="created_date_key",
                to_table="dim_date",
                to_column="date_key",
            ),
            DataTest(
                "fact_311__closed_date_key__references_dim_date",
                "fact_311",
                "relationships",
                column="closed_date_key",
                to_table="dim_date",
                to_column="date_key",
            ),
            DataTest(
                "fact_311__response_time_hours__not_negative",
                "fact_311",
                "range",
                column="response_time_hours",
                min_value=0,
            ),
            DataTest(
                "fact_311__created_date__inside_data_range",
                "fact_311",
                "expression",
                expression=(
                    "created_date >= TIMESTAMP '{min_valid_date} 00:00:00'"
                    " AND created_date <= current_timestamp() + INTERVAL {max_future_days} DAYS"
                ),
            ),
            DataTest(
                "fact_311__closed_not_before_created",
                "fact_311",
                "expression",
                expression="closed_date_key IS NULL OR closed_date >= created_date",
            ),
            DataTest(
                "fact_311__resolution_bucket__accepted_values",
                "fact_311",
                "accepted_values",
                column="resolution_bucket",
                values=("same_day", "within_7_days", "within_30_days", "over_30_days"),
            ),
            DataTest(
                "fact_311__response_time_outliers_rare",
                "fact_311",
                "expression",
                expression="NOT coalesce(is_response_time_outlier, false)",
                severity="warn",
            ),
        ),
    )
)

_register(
    TableSpec(
        name="agg_daily_summary",
        pipeline="gold",
        grain="One row per calendar day from the first to the last day with a created request (days without requests have zero counts).",
        columns={
            "date": "The calendar day.",
            "date_key": "-> dim_date.date_key.",
            "day_of_week": "1 = Monday ... 7 = Sunday.",
            "is_weekend": "Saturday or Sunday.",
            "is_holiday": "US federal or New York holiday.",
            "covid_period": "pre, peak or post.",
            **_REQUEST_METRICS,
        },
        tests=(
            *_key_tests("agg_daily_summary", "date"),
            _fk_test("agg_daily_summary", "date_key", "dim_date"),
            *_metric_tests("agg_daily_summary"),
        ),
    )
)

_register(
    TableSpec(
        name="agg_monthly_summary",
        pipeline="gold",
        grain="One row per month (YYYY-MM) with at least one created request.",
        columns={
            "created_month": "Month YYYY-MM.",
            "month_start": "First day of the month.",
            "active_days": "Days of the month with at least one request.",
            "avg_daily_requests": "request_count / active_days.",
            "complaint_types": "Distinct complaint types in the month.",
            **_REQUEST_METRICS,
        },
        tests=(
            *_key_tests("agg_monthly_summary", "created_month"),
            *_metric_tests("agg_monthly_summary"),
        ),
    )
)

_register(
    TableSpec(
        name="agg_agency_metrics",
        pipeline="gold",
        grain="One row per creation month x agency (sum the counts over months for totals; percentiles do not add up).",
        columns={
            **_MONTH_COLUMNS,
            "agency_key": "-> dim_agency.agency_key.",
            "agency": "Agency code.",
            "agency_name": "Agency name.",
            "first_created_date": "First creation day in the month.",
            "last_created_date": "Last creation day in the month.",
            **_REQUEST_METRICS,
        },
        tests=_month_grain_tests("agg_agency_metrics", "agency_key", "dim_agency"),
    )
)

_register(
    TableSpec(
        name="agg_complaint_type_metrics",
        pipeline="gold",
        grain="One row per creation month x complaint type (sum the counts over months for totals; percentiles do not add up).",
        columns={
            **_MONTH_COLUMNS,
            "complaint_type_key": "-> dim_complaint_type.complaint_type_key.",
            "complaint_type": "Canonical complaint type.",
            "complaint_category": "Category.",
            "sla_target_hours": "SLA target used for the breach columns.",
            "first_created_date": "First creation day in the month.",
            "last_created_date": "Last creation day in the month.",
            **_REQUEST_METRICS,
        },
        tests=_month_grain_tests(
            "agg_complaint_type_metrics", "complaint_type_key", "dim_complaint_type"
        ),
    )
)

_register(
    TableSpec(
        name="agg_location_metrics",
        pipeline="gold",
        grain="One row per creation month x location (borough x ZIP x community board); sum the counts over months for totals.",
        columns={
            **_MONTH_COLUMNS,
            "location_key": "-> dim_location.location_key.",
            "borough": "Borough.",
            "incident_zip": "ZIP code.",
            "community_board": "Community board.",
            "centroid_latitude": "Centroid latitude.",
            "centroid_longitude": "Centroid longitude.",
            **_REQUEST_METRICS,
        },
        tests=_month_grain_tests("agg_location_metrics", "location_key", "dim_location"),
    )
)

_register(
    TableSpec(
        name="agg_daily_type_borough",
        pipeline="gold",
        grain="One row per creation day x complaint type x borough with at least one request (the analytics pipeline's input).",
        columns={
            "created_month": "Creation month YYYY-MM.",
            "date": "Creation day.",
            "complaint_type_key": "-> dim_complaint_type.complaint_type_key.",
            "complaint_type": "Canonical complaint type.",
            "borough": "Borough of the request's location (UNSPECIFIED when unknown).",
            "request_count": "Requests created that day of that type in that borough.",
        },
        tests=(
            DataTest(
                "agg_daily_type_borough__date_type_borough__unique",
                "agg_daily_type_borough",
                "sql",
                sql=(
                    "SELECT date, complaint_type_key, borough FROM agg_daily_type_borough"
                    " GROUP BY date, complaint_type_key, borough HAVING count(*) > 1"
                ),
            ),
            _fk_test("agg_daily_type_borough", "complaint_type_key", "dim_complaint_type"),
            DataTest(
                "agg_daily_type_borough__request_count__positive",
                "agg_daily_type_borough",
                "range",
                column="request_count",
                min_value=1,
            ),
            DataTest(
                # on a daily run both sides are the months it rebuilt
                "agg_daily_type_borough__requests_match_fact",
                "agg_daily_type_borough",
                "sql",
                sql=(
                    "SELECT 1 FROM (SELECT sum(request_count) AS n FROM agg_daily_type_borough) a"
                    " CROSS JOIN (SELECT count(*) AS n FROM fact_311) f"
                    " WHERE coalesce(a.n, 0) <> f.n"
                ),
            ),
        ),
    )
)

_register(
    TableSpec(
        name="silver_311_fingerprint",
        pipeline="gold",
        grain="One row per silver 311 creation month the published gold was built from (gold's incremental state, published with the tables it describes).",
        write="overwrite, every gold run",
        columns={
            "created_month": "Creation month YYYY-MM of silver.nyc311_service_requests.",
            "rows": "Silver rows of the month.",
            "key_checksum": "XOR of xxhash64(unique_key) over the month's rows: changes when a request arrives, leaves or moves.",
            "last_silver_stamp": "Latest _silver_updated_at of the month (epoch seconds): changes when silver rewrites a row.",
            "first_created_date": "First creation day of the month.",
            "last_created_date": "Last creation day of the month.",
            "last_day": "Last creation or valid closed day of the month's requests: how far dim_date must reach.",
            "definition": "Hash of the gold 311 definition (parameters, columns, code version); a change rebuilds every month.",
            "build_mode": "full or incremental: how the run that wrote it built gold.",
            "months_rebuilt": "Months that run recomputed.",
            "silver_version": "Delta version of silver.nyc311_service_requests the fingerprint describes: the next run rescans only the months silver's later commits touched.",
        },
        tests=(*_key_tests("silver_311_fingerprint", "created_month"),),
    )
)

_register(
    TableSpec(
        name="silver_311_month_members",
        pipeline="gold",
        grain="One row per silver 311 creation month x dimension member seen in it: agency x agency name, complaint type x category, location (gold's incremental state: dim_agency, dim_complaint_type and dim_location are summed from it).",
        write="overwrite, partitioned by created_month; a daily run replaces the months silver changed",
        columns={
            "member": "agency, complaint_type or location: which dimension the row counts for.",
            "agency": "Agency code as in dim_agency (agency rows).",
            "agency_name": "One agency name given for the code (agency rows).",
            "complaint_type": "Complaint type as in dim_complaint_type (complaint_type rows).",
            "complaint_category": "One category given for the type (complaint_type rows).",
            "borough": "Borough as in dim_location (location rows).",
            "incident_zip": "ZIP code (location rows).",
            "community_board": "Community board (location rows).",
            "rows": "Silver requests of the month with these values.",
            "latitude_sum": "Sum of the valid latitudes in units of 1e-7 degree (location rows; integers, so sums are exact).",
            "longitude_sum": "Sum of the valid longitudes in units of 1e-7 degree (location rows).",
            "latitude_count": "Valid latitudes summed (location rows).",
            "longitude_count": "Valid longitudes summed (location rows).",
            "created_month": "Creation month YYYY-MM of silver.nyc311_service_requests (the partition).",
        },
        tests=(
            DataTest(
                "silver_311_month_members__rows_positive",
                "silver_311_month_members",
                "expression",
                expression="rows > 0",
            ),
        ),
    )
)

_911_DURATIONS = {
    "call_to_first_pickup_seconds": "Average seconds from the call to the first pickup (source 'Call to First Pickup').",
    "call_to_agency_dispatch_seconds": "Average seconds from the call to the agency's dispatch.",
    "call_to_agency_arrival_seconds": "Average seconds from the call to the agency's arrival.",
    "median_dispatch_seconds": "Median dispatch time in seconds.",
    "median_travel_seconds": "Median travel time in seconds.",
    "average_dispatch_seconds": "Average dispatch time in seconds (source minutes x 60).",
    "average_travel_seconds": "Average travel time in seconds (source minutes x 60).",
}

_register(
    TableSpec(
        name="fact_911_weekly",
        pipeline="gold",
        grain="One row per week x agency x incident type (an aggregate of incident_count incidents, not one incident).",
        columns={
            "fact_911_key": "Surrogate key: xxhash64 of week_start_date, agency, incident_type.",
            "week_start_date": "Monday the week starts on.",
            "week_date_key": "-> dim_date.date_key of week_start_date (may fall outside dim_date: 911 and 311 ranges differ).",
            "month": "Month of week_start_date, YYYY-MM.",
            "agency": "NYPD, NYPD (Non-CIP), FDNY or EMS.",
            "incident_type": "Final incident type.",
            "incident_count": "Incidents in the row (source '# of Incidents Calculated').",
            **_911_DURATIONS,
            "pickup_target_seconds": "Call-to-first-pickup SLA target for the agency (parameters `gold.nyc911`).",
            "is_pickup_plausible": "call_to_first_pickup_seconds inside the plausible range (0-120 s).",
            "is_sla_breached": "Plausible pickup above the target; null when the pickup is not plausible.",
        },
        tests=(
            *_key_tests("fact_911_weekly", "fact_911_key"),
            DataTest(
                "fact_911_weekly__natural_key__not_null",
                "fact_911_weekly",
                "expression",
                expression="week_start_date IS NOT NULL AND agency IS NOT NULL AND incident_type IS NOT NULL",
            ),
            DataTest(
                "fact_911_weekly__incident_count__not_negative",
                "fact_911_weekly",
                "range",
                column="incident_count",
                min_value=0,
            ),
            DataTest(
                "fact_911_weekly__agency__accepted_values",
                "fact_911_weekly",
                "accepted_values",
                column="agency",
                values=("NYPD", "NYPD (Non-CIP)", "FDNY", "EMS"),
            ),
            DataTest(
                "fact_911_weekly__pickup_plausible",
                "fact_911_weekly",
                "expression",
                expression="call_to_first_pickup_seconds IS NULL OR is_pickup_plausible",
                severity="warn",
            ),
        ),
    )
)

_register(
    TableSpec(
        name="agg_911_monthly_agency",
        pipeline="gold",
        grain="One row per month (of week_start_date) x agency.",
        columns={
            "month": "Month YYYY-MM.",
            "month_start": "First day of the month.",
            "agency": "Agency.",
            "weeks": "Distinct weeks in the month.",
            "incidents": "SUM of incident_count (never a row count).",
            "avg_call_to_first_pickup_seconds": "Incident-weighted average call-to-first-pickup, plausible rows only.",
            "avg_call_to_agency_dispatch_seconds": "Incident-weighted average call-to-dispatch.",
            "avg_dispatch_seconds": "Incident-weighted average dispatch time (source minutes x 60).",
            "avg_travel_seconds": "Incident-weighted average travel time (source minutes x 60).",
            "pickup_target_seconds": "SLA target used.",
            "sla_breach_incidents": "Incidents in rows whose plausible pickup exceeds the target.",
            "sla_breach_rate_pct": "sla_breach_incidents / incidents with a plausible pickup x 100.",
        },
        tests=(
            DataTest(
                "agg_911_monthly_agency__month_agency__unique",
                "agg_911_monthly_agency",
                "sql",
                sql="SELECT month, agency FROM agg_911_monthly_agency GROUP BY month, agency HAVING count(*) > 1",
            ),
            DataTest(
                "agg_911_monthly_agency__incidents__not_negative",
                "agg_911_monthly_agency",
                "range",
                column="incidents",
                min_value=0,
            ),
            DataTest(
                "agg_911_monthly_agency__breach_rate_between_0_and_100",
                "agg_911_monthly_agency",
                "range",
                column="sla_breach_rate_pct",
                min_value=0,
                max_value=100,
            ),
            DataTest(
                "agg_911_monthly_agency__incidents_match_fact",
                "agg_911_monthly_agency",
                "sql",
                sql=(
                    "SELECT 1 FROM (SELECT sum(incidents) AS n FROM agg_911_monthly_agency) a"
                    " CROSS JOIN (SELECT sum(incident_count) AS n FROM fact_911_weekly) f"
                    " WHERE coalesce(a.n, 0) <> coalesce(f.n, 0)"
                ),
            ),
        ),
    )
)

_register(
    TableSpec(
        name="kpi_911_overview",
        pipeline="gold",
        grain="One row per agency scope: ALL agencies together, then each agency.",
        columns={
            "agency_scope": "ALL or an agency.",
            "data_start_week": "First week in the data.",
            "data_end_week": "Latest week in the data.",
            "total_incidents": "SUM of incident_count since the data starts.",
            "latest_week": "Latest week with a plausible pickup time.",
            "latest_avg_pickup_seconds": "Incident-weighted average call-to-first-pickup in latest_week.",
            "pickup_target_seconds": "SLA target (the default target for ALL).",
            "sla_breach_pct": "Incidents in SLA-breaching rows / incidents with a plausible pickup x 100, whole history.",
        },
        tests=(
            *_key_tests("kpi_911_overview", "agency_scope"),
            DataTest(
                "kpi_911_overview__all_scope_present",
                "kpi_911_overview",
                "sql",
                # Only when there are rows: a lakehouse without 911 data has none at all.
                sql=(
                    "SELECT 1 FROM (SELECT sum(CASE WHEN agency_scope = 'ALL' THEN 1 ELSE 0"
                    " END) AS n, count(*) AS total FROM kpi_911_overview) t"
                    " WHERE n <> 1 AND total > 0"
                ),
            ),
        ),
    )
)

_register(
    TableSpec(
        name="seasonal_trends",
        pipeline="analytics",
        grain="One row per complaint type (plus 'All complaint types') x month of the year (1-12) observed in the data.",
        columns={
            "complaint_type": "Canonical complaint type, or 'All complaint types'.",
            "month_of_year": "1-12.",
            "month_name": "January...",
            "years_observed": "Distinct years contributing to the month.",
            "request_count": "Requests in that month of the year, all years together.",
            "avg_monthly_requests": "request_count / years_observed.",
            "seasonal_index": "avg_monthly_requests / the mean of avg_monthly_requests over the type's months (1.0 = average month).",
            "is_peak_month": "The month with the type's highest seasonal_index.",
        },
        tests=(
            DataTest(
                "seasonal_trends__complaint_type_month__unique",
                "seasonal_trends",
                "sql",
                sql=(
                    "SELECT complaint_type, month_of_year FROM seasonal_trends"
                    " GROUP BY complaint_type, month_of_year HAVING count(*) > 1"
                ),
            ),
            DataTest(
                "seasonal_trends__complaint_type__not_null",
                "seasonal_trends",
                "not_null",
                column="complaint_type",
            ),
            DataTest(
                "seasonal_trends__month_of_year__between_1_and_12",
                "seasonal_trends",
                "range",
                column="month_of_year",
                min_value=1,
                max_value=12,
            ),
            DataTest(
                "seasonal_trends__counts_and_index_not_negative",
                "seasonal_trends",
                "expression",
                expression="request_count >= 0 AND seasonal_index >= 0 AND years_observed >= 1",
            ),
            DataTest(
                # ties share the peak, so "at least one", not "exactly one"
                "seasonal_trends__every_type_has_a_peak_month",
                "seasonal_trends",
                "sql",
                sql=(
                    "SELECT complaint_type FROM seasonal_trends GROUP BY complaint_type"
                    " HAVING sum(CASE WHEN is_peak_month THEN 1 ELSE 0 END) = 0"
                ),
            ),
        ),
    )
)

_register(
    TableSpec(
        name="covid_impact_analysis",
        pipeline="analytics",
        grain="One row per complaint type x borough x COVID period (pre, peak, post), with 'ALL' rollups for complaint type and borough.",
        columns={
            "complaint_type": "Canonical complaint type or ALL.",
            "borough": "Borough or ALL.",
            "covid_period": "pre, peak or post (boundaries in parameters `gold.calendar.covid_periods`).",
            "period_start": "First day of the period covered by the data.",
            "period_end": "Last day of the period covered by the data.",
            "days_observed": "Days of the period inside the data range.",
            "request_count": "Requests created in the period.",
            "avg_daily_requests": "request_count / days_observed.",
            "baseline_avg_daily_requests": "Expected daily requests from the baseline year's same-month daily averages, weighted by the period's days per month (null without baseline data).",
            "pct_change_vs_baseline": "(avg_daily_requests - baseline_avg_daily_requests) / baseline x 100.",
            "pct_change_vs_pre": "(avg_daily_requests - pre-period avg_daily_requests) / pre x 100.",
        },
        tests=(
            DataTest(
                "covid_impact_analysis__type_borough_period__unique",
                "covid_impact_analysis",
                "sql",
                sql=(
                    "SELECT complaint_type, borough, covid_period FROM covid_impact_analysis"
                    " GROUP BY complaint_type, borough, covid_period HAVING count(*) > 1"
                ),
            ),
            DataTest(
                "covid_impact_analysis__covid_period__accepted_values",
                "covid_impact_analysis",
                "accepted_values",
                column="covid_period",
                values=("pre", "peak", "post"),
            ),
            DataTest(
                "covid_impact_analysis__period_inside_its_dates",
                "covid_impact_analysis",
                "expression",
                expression=(
                    "period_start <= period_end AND days_observed >= 1"
                    " AND request_count >= 0 AND avg_daily_requests >= 0"
                ),
            ),
            DataTest(
                "covid_impact_analysis__all_rollup_exists",
                "covid_impact_analysis",
                "sql",
                # Only when there are rows: a lakehouse without 311 data has none at all.
                sql=(
                    "SELECT 1 FROM (SELECT sum(CASE WHEN complaint_type = 'ALL' AND"
                    " borough = 'ALL' THEN 1 ELSE 0 END) AS n, count(*) AS total"
                    " FROM covid_impact_analysis) t WHERE n = 0 AND total > 0"
                ),
            ),
        ),
    )
)

_register(
    TableSpec(
        name="holiday_pattern_analysis",
        pipeline="analytics",
        grain="One row per holiday (US federal or New York) inside the data range.",
        columns={
            "holiday_date": "The holiday.",
            "holiday_name": "Holiday name(s).",
            "is_federal_holiday": "US federal holiday.",
            "day_of_week": "1 = Monday ... 7 = Sunday.",
            "request_count": "Requests created on the holiday.",
            "comparable_days": "Non-holiday days on the same weekday within +/- `analytics.holiday_window_weeks` weeks, inside the data range.",
            "comparable_avg_requests": "Mean requests over the comparable days.",
            "pct_difference": "(request_count - comparable_avg_requests) / comparable_avg_requests x 100.",
        },
        tests=(
            *_key_tests("holiday_pattern_analysis", "holiday_date"),
            DataTest(
                "holiday_pattern_analysis__day_of_week__between_1_and_7",
                "holiday_pattern_analysis",
                "range",
                column="day_of_week",
                min_value=1,
                max_value=7,
            ),
            DataTest(
                "holiday_pattern_analysis__counts_not_negative",
                "holiday_pattern_analysis",
                "expression",
                expression=(
                    "request_count >= 0 AND comparable_days >= 0"
                    " AND coalesce(comparable_avg_requests, 0) >= 0"
                ),
            ),
        ),
    )
)


_register(
    TableSpec(
        name="borough_hotspots",
        pipeline="analytics",
        grain="One row per borough x day whose request volume is above `analytics.hotspot.low` (1.2x) the borough's average daily volume.",
        columns={
            "borough": "Borough (UNSPECIFIED left out).",
            "date": "Creation day.",
            "request_count": "Requests created in the borough that day.",
            "borough_avg_daily_requests": "The borough's mean requests per day, first to last day with a request, zero days included.",
            "volume_ratio": "request_count / borough_avg_daily_requests.",
            "severity": "HIGH (> 2.0x), MEDIUM (> 1.5x) or LOW (> 1.2x): `analytics.hotspot`.",
            "is_hotspot": "volume_ratio above `analytics.hotspot.threshold` (1.5x, the reference pipelines' hotspot).",
        },
        tests=(
            DataTest(
                "borough_hotspots__borough_date__unique",
                "borough_hotspots",
                "sql",
                sql=(
                    "SELECT borough, date FROM borough_hotspots"
                    " GROUP BY borough, date HAVING count(*) > 1"
                ),
            ),
            DataTest(
                "borough_hotspots__severity__accepted_values",
                "borough_hotspots",
                "accepted_values",
                column="severity",
                values=("HIGH", "MEDIUM", "LOW"),
            ),
            DataTest(
                "borough_hotspots__ratio_above_average",
                "borough_hotspots",
                "expression",
                expression="volume_ratio > 1 AND request_count > borough_avg_daily_requests",
            ),
        ),
    )
)


# The machine-learning model's feature rows, built (pandas) by the forecasting pipeline with
# nyc_lakehouse.pipelines.ml_features.features.forecast_features; its tests run on DuckDB
# (forecasting/quality.py), so their SQL is DuckDB's; {horizon} is `forecasting.horizon`.
_FEATURES = "volume_forecasting_features"
_register(
    TableSpec(
        name=_FEATURES,
        pipeline="forecasting",
        grain=(
            "One row per series, target day and horizon step (1 .. forecasting.horizon): the "
            "rows the gradient-boosting model trains on (target observed) and forecasts from "
            "(origin = the series' last day, no y yet)."
        ),
        columns={
            "unique_id": "The series (as in `ml.daily_volume_panel`).",
            "forecast_origin": "The last day the row's history features may read (target day - horizon_step).",
            "ds": "The target day.",
            "horizon_step": "Days from the origin to the target day, 1 .. `forecasting.horizon`; also a feature.",
            "y": "The target day's requests; null on the forecast rows (after the last observed day).",
            "scale": "Mean of the 28 days up to the origin, at least 1: history features are divided by it and the model predicts y / scale.",
            "sn_scale": "Mean |y - y 7 days earlier| over the year up to the origin: the series' noise, which scales the conformal intervals.",
            "log_level": "log(1 + the 28-day mean at the origin).",
            "last": "The origin's value / scale.",
            "mean_7": "Mean of the 7 days up to the origin / scale.",
            "mean_91": "Mean of the 91 days up to the origin / scale; null with less history.",
            "std_28": "Population standard deviation of the 28 days up to the origin / scale.",
            "same_dow_1": "The target's weekday, as recent as the origin allows (7 x ceil(step / 7) days before the target) / scale.",
            "same_dow_2": "The same weekday a week earlier / scale.",
            "same_dow_mean_4": "Mean of four such weekdays / scale.",
            "last_year": "The target day 364 days earlier / the 28-day level at the origin a year earlier.",
            "last_year_week": "The week around that day, same scale; null without a year of history.",
            "lag_is_holiday": "same_dow_1's day was a holiday.",
            "lag_is_holiday_adjacent": "same_dow_1's day was next to a holiday.",
            "day_of_week": "Target day: 1 = Monday ... 7 = Sunday.",
            "day_of_year": "Target day: day of the year 1-366.",
            "month": "Target day: month 1-12.",
            "is_weekend": "Target day: Saturday or Sunday.",
            "is_holiday": "Target day: US federal or New York State holiday (`holidays` package; the observed day counts).",
            "is_holiday_adjacent": "Target day: the day before or after a holiday.",
            "holiday_code": "Target day: a stable code of the holiday's name, 0 on ordinary days.",
            "days_to_next_holiday": "Target day: days until the next holiday (capped at 30).",
            "days_since_previous_holiday": "Target day: days since the previous holiday (capped at 30).",
            "is_observed_holiday": "Target day: the weekday a weekend holiday is observed on.",
            "is_day_after_thanksgiving": "Target day: the Friday after Thanksgiving.",
            "is_year_end_break": "Target day: 24 December to 1 January.",
            "is_dst_change": "Target day: the clocks change (America/New_York by default).",
            "shift_<name>": "Target day: 1 from the start of each `forecasting.calendar.level_shifts` (COVID, 2020-03-16), else 0.",
        },
        tests=(
            DataTest(
                f"{_FEATURES}__key__unique",
                _FEATURES,
                "sql",
                sql=(
                    f"SELECT unique_id, ds, horizon_step FROM {_FEATURES} "
                    "GROUP BY unique_id, ds, horizon_step HAVING count(*) > 1"
                ),
            ),
            *(
                DataTest(f"{_FEATURES}__{c}__not_null", _FEATURES, "not_null", column=c)
                for c in ("unique_id", "forecast_origin", "ds", "horizon_step", "scale")
            ),
            DataTest(
                f"{_FEATURES}__horizon_step__between_1_and_horizon",
                _FEATURES,
                "expression",
                expression="horizon_step BETWEEN 1 AND {horizon}",
            ),
            DataTest(
                f"{_FEATURES}__origin_is_target_minus_step",
                _FEATURES,
                "expression",
                expression="datediff('day', forecast_origin, ds) = horizon_step",
            ),
            DataTest(
                f"{_FEATURES}__scale__at_least_1", _FEATURES, "range", column="scale", min_value=1
            ),
            DataTest(
                f"{_FEATURES}__sn_scale__positive",
                _FEATURES,
                "range",
                column="sn_scale",
                min_value=0.000001,
            ),
            DataTest(
                f"{_FEATURES}__forecast_rows_only_after_the_last_day",
                _FEATURES,
                "sql",
                sql=(
                    f"SELECT * FROM {_FEATURES} AS f WHERE f.y IS NULL AND f.ds <= "
                    f"(SELECT max(g.ds) FROM {_FEATURES} AS g "
                    "WHERE g.unique_id = f.unique_id AND g.y IS NOT NULL)"
                ),
            ),
            DataTest(
                f"{_FEATURES}__every_series_has_a_full_horizon_to_forecast",
                _FEATURES,
                "sql",
                sql=(
                    f"SELECT unique_id FROM {_FEATURES} GROUP BY unique_id "
                    "HAVING count(*) FILTER (WHERE y IS NULL) <> {horizon}"
                ),
            ),
            DataTest(
                f"{_FEATURES}__calendar_in_range",
                _FEATURES,
                "expression",
                expression="day_of_week BETWEEN 1 AND 7 AND month BETWEEN 1 AND 12 AND holiday_code >= 0",
            ),
            DataTest(
                f"{_FEATURES}__y__not_negative",
                _FEATURES,
                "range",
                column="y",
                min_value=0,
                severity="warn",
            ),
        ),
    )
)


def columns_of(table: str) -> list[str]:
    """The documented columns of ``table``, in order: nodes select exactly these."""
    return list(TABLES[table].columns)


def all_data_tests(pipeline: str | None = None) -> list[DataTest]:
    """Every data test declared next to a table (of ``pipeline`` if given), in table order."""
    return [
        test
        for spec in TABLES.values()
        if pipeline is None or spec.pipeline == pipeline
        for test in spec.tests
    ]
