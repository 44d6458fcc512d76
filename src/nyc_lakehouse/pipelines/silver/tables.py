"""The silver pipeline's tables: grain, keys, write mode and every column (docs/tables.md).

The columns follow what :mod:`.nodes` produces (``NYC311_SILVER_COLUMNS``, ``finalize_911``,
the quarantine split, ``DQ_RESULTS_SCHEMA``, ``BATCH_LOG_SCHEMA``, the ledger's);
``tests/test_reference_docs.py`` runs the real nodes and fails when a column, its type or its order differs from this registry.
``RULE_SETS`` says which table each rule registry in ``conf/base/parameters_silver.yml`` checks.
"""

from __future__ import annotations

from nyc_lakehouse.pipelines.silver.nodes import (
    NYC311_ENRICHED_IN_PLACE,
    NYC311_TABLE,
    NYC911_DURATION_FIELDS,
    NYC911_TABLE,
    TYPED_PREFIX,
    nyc311_base_columns,
)
from nyc_lakehouse.sources.schemas import NYC911_DISPLAY_COLUMNS
from nyc_lakehouse.table_docs import (
    ColumnDoc,
    TableDoc,
    column,
    column_dictionary,
    columns_from,
)

# Parameter section of each rule registry (``<section>.rules``) -> the table whose rows it checks
# and the table its quarantined rows go to.
RULE_SETS: dict[str, tuple[str, str]] = {
    "silver.nyc311": (NYC311_TABLE, "silver.nyc311_quarantine"),
    "silver.nyc911": (NYC911_TABLE, "silver.nyc911_quarantine"),
}

_AS_PUBLISHED = "As published (trimmed; placeholders such as `N/A` become null)."

_LINEAGE = column_dictionary(
    column(
        "source_updated_at",
        "timestamp",
        "The version stamp the merge keeps the latest of: Socrata's `:updated_at`; for bulk "
        "exports without it, the latest of the request's own dates, each capped at the row's "
        "`_ingested_at` (an export cannot hold a newer version than its ingestion).",
    ),
    column("_socrata_id", "string", "Socrata's row id of the version kept; null from exports."),
    column("_ingested_at", "timestamp", "When bronze ingested the version kept."),
    column("_batch_id", "string", "The landing batch of the version kept."),
    column("_source_file", "string", "The landing file of the version kept."),
    column("_silver_updated_at", "timestamp", "When silver last wrote this row (the run's start)."),
    column(
        "dq_warnings",
        "array<string>",
        "The `warn` rules this row failed (see quality-rules.md); empty when none.",
    ),
    column(
        "parse_errors",
        "array<string>",
        "Source fields whose non-empty value did not parse (they are null here).",
    ),
)

_311_DOCS = (
    column("unique_key", "bigint", "The service request's id (the merge key)."),
    column(
        "source_unique_key",
        "string",
        "The key's text as received, so a row whose key did not parse can be traced.",
    ),
    column("created_date", "timestamp", "When the request was created (source: New York time)."),
    column(
        "closed_date",
        "timestamp",
        "When it was closed; for a CLOSED request without one, its resolution date when that "
        "lies between creation and the run (`is_closed_date_inferred`).",
    ),
    column("due_date", "timestamp", "When the agency was due to act."),
    column(
        "resolution_action_updated_date",
        "timestamp",
        "When the resolution was last updated.",
    ),
    column("agency", "string", "Responsible agency's code, upper case (NYPD, HPD...)."),
    column("agency_name", "string", "Responsible agency's full name, as published."),
    column(
        "complaint_type",
        "string",
        "Canonical complaint type: `silver.nyc311.complaint_types.aliases` (by upper-case "
        "text), else title case (`HEAT/HOT WATER` -> `Heat/Hot Water`).",
    ),
    column("complaint_type_raw", "string", "The complaint type as published (trimmed)."),
    column(
        "complaint_category",
        "string",
        "The first category of `silver.nyc311.complaint_types.categories` whose regex matches "
        "the canonical type (Noise, Housing, Parking & Vehicles...), else Other.",
    ),
    column("descriptor", "string", "Complaint detail. " + _AS_PUBLISHED),
    column("location_type", "string", "Kind of place (Street/Sidewalk...). " + _AS_PUBLISHED),
    column(
        "incident_zip",
        "string",
        "5-digit ZIP (ZIP+4 cut to 5 digits); null when missing, all zeros or malformed.",
    ),
    column(
        "incident_address street_name",
        "string",
        "Normalized: upper case, no `.` or `,`, single spaces, a trailing street-type "
        "abbreviation expanded (`ST` -> `STREET`; a leading `ST` stays: Saint).",
    ),
    column(
        "cross_street_1 cross_street_2 intersection_street_1 intersection_street_2",
        "string",
        "Cross and intersection streets. " + _AS_PUBLISHED,
    ),
    column("address_type", "string", "ADDRESS, INTERSECTION, BLOCKFACE..., upper case."),
    column("city", "string", "City or neighbourhood name, upper case."),
    column("landmark facility_type", "string", _AS_PUBLISHED),
    column(
        "borough",
        "string",
        "MANHATTAN, BRONX, BROOKLYN, QUEENS, STATEN ISLAND or UNSPECIFIED: the source's when "
        "valid, else from the ZIP, else from the city name (`silver.nyc311.borough`).",
    ),
    column(
        "borough_recovered_from",
        "string",
        "Where `borough` came from: `source`, `zip`, `city` or `unspecified`.",
    ),
    column("community_board", "string", "Community board as published (`12 MANHATTAN`)."),
    column(
        "status",
        "string",
        "OPEN, IN PROGRESS, ASSIGNED, PENDING, STARTED, CLOSED, CANCELLED or UNSPECIFIED "
        "(spelling variants mapped by `silver.nyc311.status.aliases`).",
    ),
    column("resolution_description", "string", "What the agency did. " + _AS_PUBLISHED),
    column(
        "open_data_channel_type",
        "string",
        "How the request came in (PHONE, ONLINE, MOBILE...), upper case.",
    ),
    column(
        "park_facility_name park_borough vehicle_type taxi_company_borough "
        "taxi_pick_up_location bridge_highway_name bridge_highway_direction road_ramp "
        "bridge_highway_segment",
        "string",
        "Park, vehicle, taxi and bridge/highway details. " + _AS_PUBLISHED,
    ),
    column(
        "latitude longitude",
        "double",
        "WGS84 coordinates as published (see `has_valid_location` before mapping them).",
    ),
    column(
        "x_coordinate_state_plane y_coordinate_state_plane",
        "double",
        "New York State Plane coordinates (feet), as published.",
    ),
    column("bbl", "string", "Borough-block-lot tax lot id, as published."),
    column("created_date_only", "date", "The New York calendar day of `created_date`."),
    column("created_year", "int", "Year of `created_date` (New York time)."),
    column("created_month_num", "int", "Month 1-12 of `created_date` (New York time)."),
    column(
        "created_day_of_week",
        "int",
        "ISO day of the week of `created_date`: 1 = Monday ... 7 = Sunday.",
    ),
    column("created_hour", "int", "Hour 0-23 of `created_date` (New York time)."),
    column("created_month", "string", "`YYYY-MM` of `created_date` (New York time)."),
    column(
        "closed_date_only",
        "date",
        "The New York calendar day of `closed_date` (on Sail, use it instead of "
        "`to_date(closed_date)`, which reads Delta timestamps in UTC).",
    ),
    column(
        "response_time_hours",
        "double",
        "(`closed_date` - `created_date`) in hours; null unless the closed date exists and is "
        "neither invalid nor in the future.",
    ),
    column("is_closed", "boolean", "`status` is CLOSED."),
    column(
        "is_closed_date_inferred",
        "boolean",
        "`closed_date` was taken from the resolution date (CLOSED, no closed date, "
        "created <= resolution <= the run's as-of time).",
    ),
    column(
        "has_valid_location",
        "boolean",
        "Coordinates inside the NYC box `silver.nyc311.location_bounds` (never 0 or NaN).",
    ),
    column(
        "has_valid_zip",
        "boolean",
        "A 5-digit New York City ZIP (prefix 100-104, 110-114 or 116: "
        "`silver.nyc311.nyc_zip_pattern`).",
    ),
    column("has_resolution", "boolean", "A resolution description is present."),
    column(
        "has_invalid_closed_date",
        "boolean",
        "Closed before created, or before `silver.nyc311.min_closed_year` (2010).",
    ),
    column(
        "has_future_closed_date",
        "boolean",
        "Closed more than `silver.nyc311.future_closed_tolerance_days` (30) days after the run.",
    ),
)
_311 = column_dictionary(*_311_DOCS)

_311_SILVER = (
    "unique_key created_date closed_date due_date resolution_action_updated_date agency "
    "agency_name complaint_type complaint_type_raw complaint_category descriptor location_type "
    "incident_zip incident_address street_name cross_street_1 cross_street_2 "
    "intersection_street_1 intersection_street_2 address_type city landmark facility_type "
    "borough borough_recovered_from community_board status resolution_description "
    "open_data_channel_type park_facility_name park_borough vehicle_type taxi_company_borough "
    "taxi_pick_up_location bridge_highway_name bridge_highway_direction road_ramp "
    "bridge_highway_segment latitude longitude x_coordinate_state_plane y_coordinate_state_plane "
    "bbl created_date_only created_year created_month_num created_day_of_week created_hour "
    "created_month closed_date_only response_time_hours is_closed is_closed_date_inferred "
    "has_valid_location has_valid_zip has_resolution has_invalid_closed_date "
    "has_future_closed_date"
)


def _311_columns(names: str) -> tuple[ColumnDoc, ...]:
    """The docs of ``names``, with the members of a documented group merged back into one row."""
    index = {**_311, **_LINEAGE}
    groups = {d.names[0]: d for d in _311_DOCS if len(d.names) > 1}
    wanted = names.split()
    result: list[ColumnDoc] = []
    i = 0
    while i < len(wanted):
        group = groups.get(wanted[i])
        if group and tuple(wanted[i : i + len(group.names)]) == group.names:
            result.append(group)
            i += len(group.names)
        else:
            result.append(index[wanted[i]])
            i += 1
    return tuple(result)


_311_LINEAGE = "dq_warnings parse_errors source_updated_at _socrata_id _ingested_at _batch_id"
_311_LINEAGE += " _source_file _silver_updated_at"

# The quarantine keeps the typed source fields as received: everything of the base stage between
# the keys and the version stamp.
_311_BASE = nyc311_base_columns()
_311_BASE_FIELDS = _311_BASE[2 : _311_BASE.index("source_updated_at")]

_QUARANTINE = column_dictionary(
    column("failed_rules", "array<string>", "Every rule the row failed (quarantine or warn)."),
    column("run_id", "string", "The silver run that quarantined the row."),
    column("quarantined_at", "timestamp", "When that run started."),
)


def _duration_doc(field_name: str, display: str) -> tuple[str, str]:
    if field_name.startswith("average_"):
        return (
            f"{field_name}_seconds",
            f"Source column `{display}`, published in minutes, stored in seconds (x 60).",
        )
    return f"{field_name}_seconds", f"Source column `{display}`, in seconds."


_911 = column_dictionary(
    column(
        "week_start_date",
        "date",
        "Monday of the week (source `Week Start Date`; MM/DD/YYYY or ISO accepted).",
    ),
    column(
        "agency",
        "string",
        "NYPD, NYPD (Non-CIP), FDNY or EMS (spelling variants mapped by "
        "`silver.nyc911.agency_aliases`).",
    ),
    column(
        "incident_type",
        "string",
        "Source `Final Incident Type`, trimmed, runs of spaces made single; `Unspecified` "
        "when the source leaves it empty (counted by rule `incident_type_specified`).",
    ),
    column(
        "incident_count",
        "bigint",
        "Source `# of Incidents Calculated` (thousands separators parsed): incident volume is "
        "the sum of this column, never a row count.",
    ),
    *(
        column(name, "double", text)
        for name, text in (
            _duration_doc(f, d)
            for f, d in zip(NYC911_DURATION_FIELDS, NYC911_DISPLAY_COLUMNS[4:], strict=True)
        )
    ),
    column(
        "source_updated_at",
        "timestamp",
        "The revision stamp the merge keeps the newest of: Socrata's `:updated_at`, else "
        "`_ingested_at`.",
    ),
)
_911_DURATIONS = " ".join(f"{f}_seconds" for f in NYC911_DURATION_FIELDS)
_911_INDEX = {**_LINEAGE, **_911}


_911_DURATION_GROUP = column(
    _911_DURATIONS,
    "double",
    f"Every duration of `{NYC911_TABLE}`, in seconds.",
    label=f"`{NYC911_DURATION_FIELDS[0]}_seconds` ... `{NYC911_DURATION_FIELDS[-1]}_seconds` "
    f"({len(NYC911_DURATION_FIELDS)} durations)",
)


def _911_columns(names: str, group_durations: bool = False) -> tuple[ColumnDoc, ...]:
    """The docs of ``names``; ``group_durations``: the durations as one row (tables after silver)."""
    docs = columns_from(_911_INDEX | _QUARANTINE, names)
    if not group_durations:
        return docs
    first = next(i for i, d in enumerate(docs) if d.names[0].endswith("_seconds"))
    rest = [d for d in docs if not d.names[0].endswith("_seconds")]
    return (*rest[:first], _911_DURATION_GROUP, *rest[first:])


TABLES: dict[str, TableDoc] = {
    doc.name: doc
    for doc in (
        TableDoc(
            name=NYC311_TABLE,
            pipeline="silver",
            grain="One row per 311 service request: its latest version.",
            keys=("unique_key",),
            partitioned_by=("created_month",),
            write=(
                "upsert (MERGE) on `unique_key`: the latest `source_updated_at` wins, so late "
                "or out-of-order batches give the same table; a full refresh overwrites it"
            ),
            rule_set="silver.nyc311",
            columns=_311_columns(_311_SILVER + " " + _311_LINEAGE),
        ),
        TableDoc(
            name=NYC911_TABLE,
            pipeline="silver",
            grain="One row per week x agency x incident type: its newest revision.",
            keys=("week_start_date", "agency", "incident_type"),
            write=(
                "upsert (MERGE) on (`week_start_date`, `agency`, `incident_type`): the newest "
                "`source_updated_at` wins (the city revises past weeks)"
            ),
            rule_set="silver.nyc911",
            columns=_911_columns(
                "week_start_date agency incident_type incident_count "
                + _911_DURATIONS
                + " dq_warnings parse_errors source_updated_at _socrata_id _ingested_at "
                "_batch_id _source_file _silver_updated_at"
            ),
            notes=(
                "The data dictionary gives `Call to ...` columns in seconds and `Average ...` "
                "columns in minutes; silver stores every duration in seconds "
                "(`silver.nyc911.minute_column_prefixes`).",
            ),
        ),
        TableDoc(
            name="silver.nyc311_quarantine",
            pipeline="silver",
            grain=("One row per 311 bronze row that failed a `quarantine` rule, per silver run."),
            write=(
                "append, once both sources passed their checks (a failed run appends nothing); "
                "the rows of a run that ended before writing the ledger are deleted by the next "
                "run, which checks its files again"
            ),
            columns=(
                *columns_from(_311, "unique_key source_unique_key"),
                column(
                    _311_BASE_FIELDS,
                    "as in silver",
                    "The source fields typed as in silver but not standardized: status, "
                    "borough, closed date and addresses as received; the complaint type as "
                    "`complaint_type_raw`.",
                    label=f"`created_date` ... `longitude` ({len(_311_BASE_FIELDS)} typed "
                    "source fields)",
                ),
                *columns_from(_LINEAGE, "source_updated_at parse_errors _socrata_id"),
                *columns_from(_LINEAGE, "_ingested_at _source_file _batch_id"),
                *columns_from(_QUARANTINE, "failed_rules run_id quarantined_at"),
            ),
            notes=(
                "A replay appends quarantined rows again under its new `run_id`: count distinct "
                "(`source_unique_key`, `_batch_id`).",
            ),
        ),
        TableDoc(
            name="silver.nyc911_quarantine",
            pipeline="silver",
            grain=("One row per 911 bronze row that failed a `quarantine` rule, per silver run."),
            write=(
                "append, once both sources passed their checks (a failed run appends nothing); "
                "the rows of a run that ended before writing the ledger are deleted by the next "
                "run, which checks its files again"
            ),
            columns=_911_columns(
                "week_start_date agency incident_type incident_count "
                + _911_DURATIONS
                + " source_updated_at parse_errors _socrata_id _ingested_at _source_file "
                "_batch_id failed_rules run_id quarantined_at",
                group_durations=True,
            ),
        ),
        TableDoc(
            name="silver.nyc311_increment",
            pipeline="silver",
            grain=(
                "One row per bronze 311 row of the current run's increment, quarantined or not."
            ),
            write="overwrite, every run (a working table of the silver pipeline)",
            internal=True,
            ordered=False,
            columns=(
                column(
                    _311_SILVER.split() + _311_LINEAGE.split(),
                    "as in silver",
                    f"Typed, flagged, checked, enriched and stamped as in `{NYC311_TABLE}`.",
                    label=f"every column of `{NYC311_TABLE}`",
                ),
                _311["source_unique_key"],
                column(
                    "_run_as_of",
                    "timestamp",
                    'The run\'s "now" that the future-date rules compare with.',
                ),
                column(
                    "_quarantined",
                    "boolean",
                    "The row failed a `quarantine` rule (it goes to the quarantine, not silver).",
                ),
                column(
                    [f"{TYPED_PREFIX}{c}" for c in NYC311_ENRICHED_IN_PLACE],
                    "as in silver",
                    "The typed value before standardization, on quarantined rows only (the "
                    "quarantine stores rows as received).",
                ),
                column(
                    "_row_hash _row_id",
                    "bigint",
                    "Row content hash and row id, added as the table is written: the upsert "
                    "deduplicates on them.",
                ),
                column(
                    "_kind",
                    "string",
                    "`final` or `pending`: present on silver's first load only (the "
                    "increment's files then become silver's).",
                    optional=True,
                ),
            ),
        ),
        TableDoc(
            name="silver.nyc911_increment_base",
            pipeline="silver",
            grain="One row per bronze 911 row of the current run's increment, typed.",
            write="overwrite, every run (a working table of the silver pipeline)",
            internal=True,
            columns=_911_columns(
                "week_start_date agency incident_type incident_count "
                + _911_DURATIONS
                + " source_updated_at parse_errors _socrata_id _ingested_at _source_file _batch_id",
                group_durations=True,
            ),
        ),
        TableDoc(
            name="monitoring.dq_results",
            pipeline="silver",
            grain="One row per silver run x table x data-quality rule.",
            write=(
                "append, one batch per silver run; the rows of a run that ended before writing "
                "the ledger are deleted by the next run, which checks its files again"
            ),
            columns=(
                column("run_id", "string", "The silver run."),
                column("table_name", "string", f"`{NYC311_TABLE}` or `{NYC911_TABLE}`."),
                column("rule_name", "string", "The rule (see quality-rules.md)."),
                column("action", "string", "`warn`, `quarantine` or `fail`."),
                column("failed_count", "bigint", "Rows of the run's increment that failed it."),
                column("total_count", "bigint", "Rows checked: the run's increment."),
                column("failed_share", "double", "failed_count / total_count (0 when empty)."),
                column("evaluated_at", "timestamp", "When the run started (UTC)."),
            ),
        ),
        TableDoc(
            name="monitoring.silver_batch_log",
            pipeline="silver",
            grain=(
                "One row per bronze file (`_batch_id`, `_source_file`) consumed by a silver run."
            ),
            write=(
                "append, last: after the run's rows are in silver or the quarantine and counted "
                "in `monitoring.dq_results` (a run that ends earlier lists nothing, so the next "
                "run takes its files)"
            ),
            internal=True,
            notes=(
                "Silver's ledger: a run reads the bronze files it does not list, a file appended "
                "later to an old batch included.",
            ),
            columns=(
                column("dataset", "string", "`nyc311` or `nyc911`."),
                column("batch_id", "string", "The bronze `_batch_id`."),
                column("run_id", "string", "The silver run that consumed the file."),
                column(
                    "full_refresh",
                    "boolean",
                    "The run rebuilt silver from all of bronze (`--params full_refresh=true`).",
                ),
                column("processed_at", "timestamp", "When the run started (UTC)."),
                column(
                    "source_file",
                    "string",
                    "The bronze `_source_file`. Null on rows of the older batch-level log (one "
                    "row per batch), which the first run with files migrates (operations.md).",
                ),
                column("rows", "bigint", "Bronze rows of the file the run consumed."),
                column(
                    "note",
                    "string",
                    "`migrated from the batch-level log: <why>` on the files recorded as consumed "
                    "by a run of that log; null otherwise.",
                ),
            ),
        ),
    )
}
