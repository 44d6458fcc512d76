"""Bulk CSV export import: both header styles, old schemas, BOM, embedded newlines, bad files."""

from __future__ import annotations

import csv
import gzip
import shutil
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.socrata_server import make_311_records
from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches
from nyc_lakehouse.sources.export import (
    ExportFormatError,
    export_batch_id,
    location_text_to_json,
    read_export,
    read_export_header,
    us_date_to_iso,
)
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC311_LEGACY_FIELDS
from nyc_lakehouse.sources.socrata import SYSTEM_COLUMNS, records_to_landing_table

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "ingestion"


def fixture_records() -> list[dict]:
    """The records the nyc311_api_style / nyc311_display_style_bom fixtures were written from."""
    return make_311_records(
        6, created_from=datetime(2023, 2, 28, 23, 31, 5), updated_from=datetime(2023, 3, 1)
    )


def read_all(path: Path, dataset: str = "nyc311", chunk_rows: int = 1000) -> pa.Table:
    return pa.concat_tables(read_export(path, dataset, chunk_rows))


def without_system_columns(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in SYSTEM_COLUMNS if c in table.column_names])


def project_params(dataset: str) -> dict:
    config = yaml.safe_load(
        (PROJECT_ROOT / "conf" / "base" / "parameters_ingestion.yml").read_text()
    )
    return dict(config[dataset]["ingestion"])


def export_params(path: Path, dataset: str = "nyc311", **overrides) -> dict:
    return {**project_params(dataset), "source": "export", "export_path": str(path), **overrides}


def test_api_style_export_lands_what_the_api_returns():
    table = read_all(FIXTURES / "nyc311_api_style.csv")
    expected = records_to_landing_table(fixture_records(), "nyc311")
    assert table.schema == expected.schema
    assert without_system_columns(table).equals(without_system_columns(expected))
    for column in SYSTEM_COLUMNS:  # an export has no Socrata system fields
        assert table.column(column).null_count == table.num_rows
    description = table.column("resolution_description").to_pylist()[0]
    assert description == "Note 0, with a comma\nand a second line"  # embedded newline kept


def test_display_style_export_with_bom_lands_the_same_table():
    header = read_export_header(FIXTURES / "nyc311_display_style_bom.csv", "nyc311")
    assert header.style == "display" and header.columns == NYC311_FIELDS
    display = read_all(FIXTURES / "nyc311_display_style_bom.csv")
    api = read_all(FIXTURES / "nyc311_api_style.csv")
    assert display.equals(api)
    assert display.column("created_date").to_pylist()[0] == "2023-02-28T23:31:05.000"


def test_old_53_column_schema_keeps_legacy_columns_and_nulls_missing_ones():
    path = FIXTURES / "nyc311_legacy_53_columns.csv"
    header = read_export_header(path, "nyc311")
    assert len(header.source_names) == 53
    assert header.missing == ("bbl", "open_data_channel_type") and header.unknown == ()
    table = read_all(path)
    assert table.num_rows == 3
    assert table.column_names[: len(NYC311_FIELDS)] == list(NYC311_FIELDS)
    assert set(NYC311_LEGACY_FIELDS) <= set(table.column_names)
    rows = table.to_pylist()
    assert rows[0]["bbl"] is None and rows[0]["open_data_channel_type"] is None
    assert rows[0]["created_date"] == "2012-01-15T08:12:44.000"
    assert rows[0]["closed_date"] == "2012-01-16T15:00:00.000"
    assert rows[0]["resolution_action_updated_date"] == "2012-01-16T00:00:00.000"
    assert rows[1]["created_date"] == "2012-01-15T23:59:00.000"
    assert rows[1]["due_date"] == "2012-01-29T23:59:00.000"
    assert rows[1]["ferry_terminal_name"] == "Whitehall Terminal"
    assert rows[2]["garage_lot_name"] == "Lot 7, Level 2"
    assert rows[2]["school_name"] == "P.S. 234" and rows[2]["school_zip"] == "10007"
    assert rows[0]["resolution_description"].endswith("conditions.\nNo violations were issued.")
    assert rows[0]["location"] == location_text_to_json("(40.8504861, -73.9127538)")
    assert rows[1]["location"] is None


def test_911_display_export_with_bom_and_thousands_separators():
    table = read_all(FIXTURES / "nyc911_display_bom.csv", "nyc911")
    rows = table.to_pylist()
    assert len(rows) == 4
    assert table.column_names[:4] == [
        "week_start_date",
        "agency",
        "final_incident_type",
        "of_incidents_calculated",
    ]
    assert rows[0]["week_start_date"] == "2019-06-24T00:00:00.000"
    assert [r["of_incidents_calculated"] for r in rows] == ["7801", "171", "12345", "11329"]
    assert rows[2]["call_to_agency_dispatch"] == "1116.29"
    assert rows[2]["call_to_agency_arrival"] == "1381.89"
    assert rows[3]["average_ems_processing"] == "-0.11"  # a real defect, kept as received
    assert rows[0]["call_to_agency_dispatch"] == "161.40"  # not reformatted
    assert rows[0]["call_to_fdny_pickup"] is None
    assert rows[2]["final_incident_type"] == "Critical"


def test_chunks_share_one_schema_and_cover_every_row_once():
    chunks = list(read_export(FIXTURES / "nyc311_api_style.csv", "nyc311", chunk_rows=4))
    assert [c.num_rows for c in chunks] == [4, 2]
    assert chunks[0].schema == chunks[1].schema
    keys = [k for c in chunks for k in c.column("unique_key").to_pylist()]
    assert keys == [r["unique_key"] for r in fixture_records()]


def test_gzip_exports_are_streamed_too(tmp_path):
    packed = tmp_path / "export.csv.gz"
    with (FIXTURES / "nyc311_api_style.csv").open("rb") as src, gzip.open(packed, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert read_all(packed).equals(read_all(FIXTURES / "nyc311_api_style.csv"))


def test_unknown_columns_are_kept(tmp_path):
    with (FIXTURES / "nyc311_api_style.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    path = tmp_path / "new_schema.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [rows[0] + ["Brand New Column"]] + [row + [f"x{i}"] for i, row in enumerate(rows[1:])]
        )
    header = read_export_header(path, "nyc311")
    assert header.unknown == ("brand_new_column",) and header.style == "display"
    table = read_all(path)
    assert table.column_names[-1] == "brand_new_column"
    assert table.column("brand_new_column").to_pylist() == [f"x{i}" for i in range(6)]
    assert without_system_columns(table.drop_columns(["brand_new_column"])).equals(
        without_system_columns(read_all(FIXTURES / "nyc311_api_style.csv"))
    )


def test_a_truncated_download_is_an_error_naming_the_line_and_nothing_lands(tmp_path):
    path = FIXTURES / "nyc311_truncated.csv"
    with pytest.raises(ExportFormatError, match=r"nyc311_truncated.csv, line \d+: .*truncated"):
        read_all(path)
    zone = LandingZone(str(tmp_path / "landing"))
    with pytest.raises(ExportFormatError):
        land_batches(zone, export_params(path), None)
    assert zone.batches("nyc311") == []


def test_a_row_with_missing_fields_is_an_error_naming_the_line(tmp_path):
    path = FIXTURES / "nyc311_short_row.csv"
    with pytest.raises(ExportFormatError, match=r"line \d+: 39 fields, the header has 41"):
        read_all(path)
    zone = LandingZone(str(tmp_path / "landing"))
    with pytest.raises(ExportFormatError):
        land_batches(zone, export_params(path), None)
    assert zone.batches("nyc311") == []


def test_the_wrong_dataset_file_is_refused():
    with pytest.raises(ExportFormatError, match="not a nyc311 export"):
        read_all(FIXTURES / "nyc911_display_bom.csv", "nyc311")
    with pytest.raises(ExportFormatError, match="not a nyc911 export"):
        read_all(FIXTURES / "nyc311_api_style.csv", "nyc911")


def test_empty_and_missing_files_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ExportFormatError, match="empty"):
        read_all(empty)
    with pytest.raises(ExportFormatError, match="not found"):
        read_all(tmp_path / "nope.csv")


def test_export_is_streamed_rows_arrive_before_the_end_of_the_file(tmp_path):
    text = (FIXTURES / "nyc311_api_style.csv").read_text()
    path = tmp_path / "damaged_at_the_end.csv"
    path.write_text(text + '"1","2"\n')
    chunks = read_export(path, "nyc311", chunk_rows=2)
    assert next(chunks).num_rows == 2  # the damage far below has not been read yet
    with pytest.raises(ExportFormatError):
        list(chunks)


def test_land_export_commits_one_batch_and_skips_the_same_file_next_time(tmp_path):
    zone = LandingZone(str(tmp_path / "landing"))
    path = FIXTURES / "nyc311_display_style_bom.csv"
    summary = land_batches(zone, export_params(path, chunk_rows=4), None)
    assert summary["rows_landed"] == 6 and summary["batches_landed"] == [export_batch_id(path)]
    (batch,) = zone.batches("nyc311")
    assert len(batch.files) == 2  # two chunks
    assert batch.manifest["source"] == "export" and batch.manifest["header_style"] == "display"
    assert zone.read_batch(batch).equals(read_all(path))
    again = land_batches(zone, export_params(path), None)
    assert again["batches_skipped"] == [export_batch_id(path)] and again["rows_landed"] == 0
    assert len(zone.batches("nyc311")) == 1


def test_batch_ids_fingerprint_the_file(tmp_path):
    first = tmp_path / "311 export (1).csv"
    shutil.copy(FIXTURES / "nyc311_api_style.csv", first)
    second = tmp_path / "311 export (2).csv"
    second.write_text(first.read_text().replace("Pothole", "Potholes"))
    assert export_batch_id(first) == export_batch_id(first)
    assert export_batch_id(first) != export_batch_id(second)
    assert "/" not in export_batch_id(first) and "=" not in export_batch_id(first)
    assert export_batch_id(first).startswith("export-311-export-1-")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("02/28/2023 11:31:05 PM", "2023-02-28T23:31:05.000"),
        ("01/01/2020 12:00:00 AM", "2020-01-01T00:00:00.000"),
        ("07/04/2021 12:30:00 PM", "2021-07-04T12:30:00.000"),
        ("06/24/2019", "2019-06-24T00:00:00.000"),
        ("6/4/2019 1:05:09 PM", "2019-06-04T13:05:09.000"),
        ("13/01/2023 11:31:05 PM", None),
        ("02/28/2023 13:31:05 PM", None),
        ("2023-02-28T23:31:05.000", None),
        ("yesterday", None),
    ],
)
def test_us_dates_become_iso_floating_timestamps(text, iso):
    assert us_date_to_iso(text) == iso


def test_location_texts_become_the_api_object():
    assert location_text_to_json("\n,  \n(40.67, -73.73)") == location_text_to_json(
        "(40.67, -73.73)"
    )
    assert location_text_to_json("1 MAIN ST\nQUEENS, NY 11373\n(40.7, -73.8)") == (
        '{"human_address":"{\\"address\\": \\"1 MAIN ST\\", \\"city\\": \\"QUEENS\\", '
        '\\"state\\": \\"NY\\", \\"zip\\": \\"11373\\"}","latitude":"40.7","longitude":"-73.8"}'
    )
    assert location_text_to_json("somewhere") is None


text_values = st.one_of(
    st.none(),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
        min_size=1,
        max_size=30,
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(text_values, text_values, text_values), min_size=1, max_size=12))
def test_any_text_survives_the_export_round_trip(tmp_path, rows):
    """Quotes, commas, newlines and any Unicode in fields land exactly as the API would return them."""
    records = [
        {
            "unique_key": str(i),
            "created_date": "2024-01-01T00:00:00.000",
            **{
                k: v
                for k, v in zip(("descriptor", "incident_address", "status"), row, strict=True)
                if v is not None
            },
        }
        for i, row in enumerate(rows)
    ]
    path = tmp_path / "round_trip.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(NYC311_FIELDS)
        writer.writerows([[r.get(f, "") for f in NYC311_FIELDS] for r in records])
    landed = read_all(path, chunk_rows=5)
    expected = records_to_landing_table(records, "nyc311")
    for column in ("descriptor", "incident_address", "status"):
        # the API omits empty values; an empty field in a CSV is read as null
        assert landed.column(column).to_pylist() == [
            v or None for v in expected.column(column).to_pylist()
        ]
