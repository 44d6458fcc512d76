"""Ingestion takes its field names from the source's own metadata, by display name.

Against the stand-in, which serves 911 under the live API names (``date`` for "Week Start Date")
and answers an unknown column with HTTP 400 as Socrata does.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime

import pytest
from ingestion_helpers import INGESTION_FIXTURES, api_params, landed_ids, landed_table

from fixtures.socrata_server import NYC911_VIEW, make_911_records
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches
from nyc_lakehouse.sources.socrata import SocrataError
from nyc_lakehouse.sources.socrata_metadata import SourceColumns, SourceMetadataError

ID_911 = "t7p9-n9dy"


def test_a_911_backfill_queries_the_live_week_field_and_keeps_the_mapping(socrata_server, zone):
    records = make_911_records(9, start=datetime(2024, 1, 1))  # 27 rows, January to February
    socrata_server.fixture.datasets[ID_911] = records
    params = api_params(
        socrata_server, "nyc911", mode="backfill", start="2024-01-01", end="2024-02-29"
    )
    summary = land_batches(zone, params, None)
    assert summary["batches_landed"] == ["socrata-2024-01", "socrata-2024-02"]
    assert Counter(landed_ids(zone, "nyc911")) == Counter(r[":id"] for r in records)
    wheres = {r.query.get("$where", "") for r in socrata_server.fixture.requests}
    assert "date >= '2024-01-01T00:00:00.000' AND date < '2024-02-01T00:00:00.000'" in wheres
    assert not any("week_start_date" in w for w in wheres)
    table = landed_table(zone, "nyc911")
    assert "date" not in table.column_names
    assert sorted(table.column("week_start_date").to_pylist()) == sorted(r["date"] for r in records)
    ems = [r for r in table.to_pylist() if r["agency"] == "EMS"]
    assert all(r["call_to_first_arrival_multi_agency_incidents"] for r in ems)
    for batch in zone.batches("nyc911"):
        assert batch.manifest["date_field"] == "date"
        kept = SourceColumns.from_manifest(batch.manifest["source_columns"])
        assert kept.field("Week Start Date") == "date" and len(kept.columns) == 30
    state = zone.read_state("nyc911", "source_columns")
    assert state["dataset_id"] == ID_911 and state["read_at"]
    assert len(socrata_server.fixture.view_requests) == 1  # once per run


def test_the_old_guessed_field_name_is_what_socrata_refuses(socrata_server):
    """The stand-in answers the project's former guess as the live API did: HTTP 400."""
    from nyc_lakehouse.sources.socrata import SocrataClient

    socrata_server.fixture.datasets[ID_911] = make_911_records(2)
    client = SocrataClient(socrata_server.base_url, ID_911, allow_loopback_http=True)
    with client, pytest.raises(SocrataError, match="HTTP 400.*No such column: week_start_date"):
        client.count("week_start_date >= '2021-12-27T00:00:00.000'")


def test_a_needed_column_missing_from_the_metadata_stops_the_run_before_any_data_request(
    socrata_server, zone
):
    socrata_server.fixture.datasets[ID_911] = make_911_records(2)
    socrata_server.fixture.views[ID_911] = tuple(
        column for column in NYC911_VIEW if column[0] != "Week Start Date"
    )
    params = api_params(
        socrata_server, "nyc911", mode="backfill", start="2024-01-01", end="2024-01-31"
    )
    with pytest.raises(SourceMetadataError) as error:
        land_batches(zone, params, None)
    message = str(error.value)
    assert "nyc911 (t7p9-n9dy): the source has no column 'Week Start Date'" in message
    assert "Its columns are: 'Agency', 'Final Incident Type', '# of Incidents Calculated'" in (
        message
    )
    assert socrata_server.fixture.requests == [] and zone.batches("nyc911") == []
    # a renamed column is followed by naming it: the parameter is a display name
    renamed = tuple(
        ("Week Starting" if d == "Week Start Date" else d, f, k) for d, f, k in NYC911_VIEW
    )
    socrata_server.fixture.views[ID_911] = renamed
    renamed_params = {
        **params,
        "date_column": "Week Starting",
        "required_columns": ["Week Starting", "Agency"],
    }
    summary = land_batches(zone, renamed_params, None)
    assert summary["rows_landed"] == 6
    assert "week_starting" in landed_table(zone, "nyc911").column_names


def test_old_parameter_names_are_refused_with_the_new_ones(socrata_server):
    from nyc_lakehouse.pipelines.ingestion.nodes import IngestionConfigError, parse_settings

    with pytest.raises(IngestionConfigError, match="'date_field' is now 'date_column'"):
        parse_settings({**api_params(socrata_server), "date_field": "created_date"})
    settings = parse_settings(
        {**api_params(socrata_server), "required_columns": "Unique Key; Created Date"}
    )
    assert settings.required_columns == ("Unique Key", "Created Date")
    with pytest.raises(IngestionConfigError, match="allow_loopback_http must be true or false"):
        parse_settings({**api_params(socrata_server), "allow_loopback_http": "maybe"})


def _export_rows_as_api_records() -> list[dict]:
    """The 911 export fixture's rows as the live API sends them: API names, ISO dates."""
    names = {display: field_name for display, field_name, _kind in NYC911_VIEW}
    path = INGESTION_FIXTURES / "nyc911_display_bom.csv"
    records = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            record = {
                names[display]: value.replace(",", "") for display, value in row.items() if value
            }
            month, day, year = record["date"].split("/")
            record["date"] = f"{year}-{month}-{day}T00:00:00.000"
            record[":id"] = f"row-{number}"
            record[":updated_at"] = record[":created_at"] = "2024-01-01T00:00:00.000Z"
            records.append(record)
    return records


def test_the_api_and_the_csv_export_land_the_same_columns_and_values(socrata_server, tmp_path):
    from nyc_lakehouse.landing import LandingZone

    socrata_server.fixture.datasets[ID_911] = _export_rows_as_api_records()
    api_zone, export_zone = LandingZone(str(tmp_path / "a")), LandingZone(str(tmp_path / "e"))
    land_batches(
        api_zone,
        api_params(socrata_server, "nyc911", initial_watermark="2020-01-01T00:00:00"),
        None,
    )
    export = {
        **api_params(socrata_server, "nyc911"),
        "source": "export",
        "export_path": str(INGESTION_FIXTURES / "nyc911_display_bom.csv"),
    }
    land_batches(export_zone, export, None)
    from_api, from_export = landed_table(api_zone, "nyc911"), landed_table(export_zone, "nyc911")
    assert from_api.column_names == from_export.column_names
    data = [c for c in from_api.column_names if not c.startswith("_socrata")]

    def rows(table):
        return sorted(tuple(r[c] for c in data) for r in table.select(data).to_pylist())

    assert rows(from_api) == rows(from_export) and len(rows(from_api)) == 4
