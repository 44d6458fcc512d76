"""Field names of the two NYC Open Data sources, as the Socrata API returns them.

The landing zone stores every record with these names (every value a string), whichever path
brought it in: the bundled sample generator, the live API or a bulk CSV export.
"""

from __future__ import annotations

import re

NYC311_DATASET_ID = "erm2-nwe9"
NYC911_DATASET_ID = "t7p9-n9dy"

# API field order of erm2-nwe9 (the API-style CSV export header), 41 columns.
NYC311_FIELDS: tuple[str, ...] = (
    "unique_key", "created_date", "closed_date", "agency", "agency_name", "complaint_type",
    "descriptor", "location_type", "incident_zip", "incident_address", "street_name",
    "cross_street_1", "cross_street_2", "intersection_street_1", "intersection_street_2",
    "address_type", "city", "landmark", "facility_type", "status", "due_date",
    "resolution_description", "resolution_action_updated_date", "community_board", "bbl",
    "borough", "x_coordinate_state_plane", "y_coordinate_state_plane", "open_data_channel_type",
    "park_facility_name", "park_borough", "vehicle_type", "taxi_company_borough",
    "taxi_pick_up_location", "bridge_highway_name", "bridge_highway_direction", "road_ramp",
    "bridge_highway_segment", "latitude", "longitude", "location",
)  # fmt: skip

# Columns of older 311 exports (46 to 53 columns) that the current schema dropped.
NYC311_LEGACY_FIELDS: tuple[str, ...] = (
    "school_name", "school_number", "school_region", "school_code", "school_phone_number",
    "school_address", "school_city", "school_state", "school_zip", "school_not_found",
    "school_or_citywide_complaint", "garage_lot_name", "ferry_direction", "ferry_terminal_name",
)  # fmt: skip

# Display names of t7p9-n9dy (911 End-to-End), in export order. "Call to ..." and "Median ..."
# columns are seconds; "Average ..." columns are minutes (data dictionary).
NYC911_DISPLAY_COLUMNS: tuple[str, ...] = (
    "Week Start Date", "Agency", "Final Incident Type", "# of Incidents Calculated",
    "Call to First Pickup", "Call to PD Calltaker Handoff", "Call to FDNY Pickup",
    "Call to FDNY Job Creation", "Call to EMS Pickup", "Call to Agency Job Creation",
    "Call to Agency Dispatch", "Call to Agency Arrival",
    "Call to First Arrival (Multi-Agency Incidents)", "Median Pickup", "Median Calltaker Handoff",
    "Median FDNY Pickup", "Median FDNY Job Creation", "Median Ems Pickup",
    "Median Ems Job Creation", "Median Dispatch", "Median Travel",
    "Median Cumulative First Arrival  (Multi-Agency Incidents)", "Average Travel",
    "Average Dispatch", "Average EMS Processing", "Average EMS Pickup",
    "Average Calltaker Processing", "Average Pickup", "Average FD Pickup", "Average FD Processing",
)  # fmt: skip


def to_field_name(display_name: str) -> str:
    """Socrata's rule from a column's display name to its API field name.

    ``"X Coordinate (State Plane)"`` -> ``"x_coordinate_state_plane"``,
    ``"# of Incidents Calculated"`` -> ``"of_incidents_calculated"``.
    """
    name = re.sub(r"[^0-9a-z]+", "_", display_name.strip().lstrip("\ufeff").lower())
    return name.strip("_")


NYC911_FIELDS: tuple[str, ...] = tuple(to_field_name(c) for c in NYC911_DISPLAY_COLUMNS)

# Socrata system fields (returned with ``$select=:*, *``) are renamed on landing, because Delta
# column names cannot start with ':' portably.
SYSTEM_FIELD_RENAMES = {
    ":id": "_socrata_id",
    ":created_at": "_socrata_created_at",
    ":updated_at": "_socrata_updated_at",
}
SOCRATA_ID = "_socrata_id"
SOCRATA_UPDATED_AT = "_socrata_updated_at"


def landing_column_name(api_key: str) -> str:
    """Landing-zone column for an API key: system fields renamed, the rest unchanged."""
    if api_key in SYSTEM_FIELD_RENAMES:
        return SYSTEM_FIELD_RENAMES[api_key]
    if api_key.startswith(":@"):
        return "_" + api_key[2:]  # ':@computed_region_x' -> '_computed_region_x'
    if api_key.startswith(":"):
        return "_socrata_" + api_key[1:]
    return api_key


FIELDS_BY_DATASET = {"nyc311": NYC311_FIELDS, "nyc911": NYC911_FIELDS}
