"""A dataset's column metadata: validated as untrusted input, looked up by display name."""

from __future__ import annotations

import pytest

from nyc_lakehouse.sources.schemas import NYC911_DISPLAY_COLUMNS, NYC911_FIELDS
from nyc_lakehouse.sources.socrata_metadata import (
    MAX_COLUMNS,
    SourceColumns,
    SourceMetadataError,
)

ID_911 = "t7p9-n9dy"
# What the live 911 metadata says (a subset): the week is `date`, "Multi-Agency" has no
# underscore in its API name.
LIVE_911 = [
    ("Week Start Date", "date"),
    ("Agency", "agency"),
    ("Final Incident Type", "final_incident_type"),
    ("# of Incidents Calculated", "of_incidents_calculated"),
    (
        "Call to First Arrival (Multi-Agency Incidents)",
        "call_to_first_arrival_multiagency_incidents",
    ),
    (
        "Median Cumulative First Arrival  (Multi-Agency Incidents)",
        "median_cumulative_first_arrival_multiagency_incidents",
    ),
]


def view(columns, dataset_id=ID_911, **extra):
    return {
        "id": dataset_id,
        "columns": [{"name": n, "fieldName": f, "dataTypeName": "text"} for n, f in columns],
        **extra,
    }


def test_columns_are_found_by_display_name_and_land_under_the_export_names():
    columns = SourceColumns.from_view(view(LIVE_911), ID_911, label="nyc911")
    assert columns.field("Week Start Date") == "date"
    assert columns.fields(["week start date", "AGENCY"]) == ("date", "agency")
    renames = columns.landing_names()
    assert renames["date"] == "week_start_date"
    assert renames["call_to_first_arrival_multiagency_incidents"] == (
        "call_to_first_arrival_multi_agency_incidents"
    )
    # every landing name is the one the CSV export path lands for the same display name
    export_names = dict(zip(NYC911_DISPLAY_COLUMNS, NYC911_FIELDS, strict=True))
    for display, field_name in LIVE_911:
        assert renames[field_name] == export_names[display]


def test_a_needed_column_the_source_lacks_is_named_with_the_columns_that_exist():
    columns = SourceColumns.from_view(view(LIVE_911[1:]), ID_911, label="nyc911")
    with pytest.raises(SourceMetadataError) as error:
        columns.fields(["Week Start Date", "Agency", "Borough"])
    message = str(error.value)
    assert message.startswith("nyc911 (t7p9-n9dy): the source has no column 'Week Start Date', ")
    assert "'Borough'" in message and "'Agency'" not in message.split("Its columns")[0]
    assert "Its columns are: 'Agency', 'Final Incident Type'," in message


def test_records_are_renamed_and_unknown_keys_must_be_identifiers():
    columns = SourceColumns.from_view(view(LIVE_911), ID_911)
    record = {":id": "row-1", ":@computed_region_x": "7", "date": "2024-01-01T00:00:00.000"}
    assert columns.rename_record({**record, "new_field": "1"}) == {
        "_socrata_id": "row-1",
        "_computed_region_x": "7",
        "week_start_date": "2024-01-01T00:00:00.000",
        "new_field": "1",
    }
    with pytest.raises(SourceMetadataError, match="neither in the metadata nor a plain"):
        columns.rename_record({"a`b": "1"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "not a JSON object"),
        ({"id": ID_911}, "no 'columns' list"),
        (view(LIVE_911, dataset_id="abcd-1234"), "describes another dataset"),
        (view([("Week", "date) OR (1=1")]), "invalid fieldName"),
        (view([("Week", "Date")]), "invalid fieldName"),
        (view([("Week", "a" * 129)]), "invalid fieldName"),
        (view([("x" * 256, "date")]), "invalid display name"),
        (view([("Week\nStart", "date")]), "invalid display name"),
        (view([("###", "date")]), "no usable landing name"),
        (view([("Week Start Date", "date"), ("Week-Start Date", "week")]), "share the landing"),
        (view([("Week", "date"), ("Day", "date")]), "share the API name"),
        ({"id": ID_911, "columns": [{"name": "Week"}]}, "lacks a name or fieldName"),
        ({"id": ID_911, "columns": ["date"]}, "column 0 is not an object"),
    ],
)
def test_metadata_is_untrusted_input(body, message):
    with pytest.raises(SourceMetadataError, match=message):
        SourceColumns.from_view(body, ID_911)


def test_metadata_size_limits():
    many = [(f"Column {i}", f"column_{i}") for i in range(MAX_COLUMNS + 1)]
    with pytest.raises(SourceMetadataError, match=f"lists {MAX_COLUMNS + 1} columns"):
        SourceColumns.from_view(view(many), ID_911)
    assert len(SourceColumns.from_view(view(many[:MAX_COLUMNS]), ID_911).columns) == MAX_COLUMNS


def test_hidden_fields_are_skipped_and_the_manifest_round_trips():
    body = view([*LIVE_911, ("Zip Codes", ":@computed_region_efsh_h5xi"), ("Id", ":id")])
    columns = SourceColumns.from_view(body, ID_911)
    assert [c.field_name for c in columns.columns] == [f for _, f in LIVE_911]
    entry = columns.to_manifest()
    assert entry["columns"][0] == {
        "name": "Week Start Date",
        "field_name": "date",
        "landing": "week_start_date",
        "data_type": "text",
    }
    assert SourceColumns.from_manifest(entry) == columns
    assert columns.missing_landing_columns(["week_start_date", "median_travel"]) == [
        "median_travel"
    ]
