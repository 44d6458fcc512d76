"""Bulk CSV export import: both header styles, old schemas, BOM, embedded newlines, bad files."""

from __future__ import annotations

import csv
import gzip
import logging
import shutil
import tracemalloc
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures.socrata_server import make_311_records
from nyc_lakehouse.landing import BatchWriter, LandingZone
from nyc_lakehouse.pipelines.bronze.nodes import plan_bronze_load
from nyc_lakehouse.pipelines.ingestion.nodes import (
    IngestionConfigError,
    land_batches,
    parse_settings,
)
from nyc_lakehouse.sources.export import (
    DEFAULT_MAX_FIELD_CHARS,
    DUPLICATES_FILE,
    MIN_RECORD_BYTES,
    REJECTED_FILE,
    DuplicateKeys,
    ExportFormatError,
    ExportStats,
    RejectedRow,
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


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def physical_lines(path: Path) -> list[bytes]:
    """The file's lines as ``sed -n <n>p`` counts them (each with its line end)."""
    return path.read_bytes().splitlines(keepends=True)


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
    # A truncated file is not one bad row: the rows after the cut are missing, so even an import
    # that sets bad rows aside refuses it.
    with pytest.raises(ExportFormatError, match="truncated"):
        list(read_export(path, "nyc311", on_reject=lambda row: None))
    zone = LandingZone(str(tmp_path / "landing"))
    with pytest.raises(ExportFormatError, match="truncated"):
        land_batches(zone, export_params(path), None)
    assert zone.batches("nyc311") == []


def test_a_file_cut_inside_an_unquoted_field_is_truncated_too(tmp_path):
    data = (FIXTURES / "nyc311_api_style.csv").read_bytes()
    cut = data[: data.index(b'"DOT","Department of Transportation"') + 5]  # ends in line 6
    path = write_bytes(tmp_path / "cut.csv", cut.replace(b'"DOT"', b"DOT"))
    with pytest.raises(ExportFormatError, match=r"cut.csv, line 6: .*truncated"):
        list(read_export(path, "nyc311", on_reject=lambda row: None))


def test_a_row_with_missing_fields_is_set_aside_with_its_line_and_the_rest_lands(tmp_path):
    path = FIXTURES / "nyc311_short_row.csv"
    with pytest.raises(ExportFormatError, match=r"line 6: 39 fields, the header has 41"):
        read_all(path)  # without on_reject, the first bad row stops the read
    rejected: list[RejectedRow] = []
    table = pa.concat_tables(read_export(path, "nyc311", on_reject=rejected.append))
    assert [(r.line, r.end_line, r.kind) for r in rejected] == [(6, 6, "columns")]
    assert rejected[0].reason == "39 fields, the header has 41"
    assert rejected[0].raw == physical_lines(path)[5]
    assert table.column("unique_key").to_pylist() == ["61000000"]  # the file's other row


def with_line_replaced(data: bytes, line: int, old: bytes, new: bytes) -> bytes:
    """``data`` with ``old`` replaced by ``new`` on physical line ``line`` (which must hold it)."""
    lines = data.splitlines(keepends=True)
    assert old in lines[line - 1], f"line {line} has no {old!r}"
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return b"".join(lines)


API_STYLE = FIXTURES / "nyc311_api_style.csv"
ALL_KEYS = [r["unique_key"] for r in fixture_records()]


@pytest.mark.parametrize("packing", ["plain", "gzip", "crlf"])
def test_a_non_utf8_byte_is_reported_on_its_physical_line_and_only_its_row_is_set_aside(
    tmp_path, packing
):
    # Line 6 holds the second record: the first one spans lines 2-5 (quoted newlines).
    data = with_line_replaced(API_STYLE.read_bytes(), 6, b"Pothole", b"Poth\xe9le")
    if packing == "crlf":
        data = data.replace(b"\n", b"\r\n")
    path = write_bytes(tmp_path / "latin1.csv", data)
    if packing == "gzip":
        path = write_bytes(tmp_path / "latin1.csv.gz", gzip.compress(data))
    with pytest.raises(ExportFormatError, match=r"line 6: not UTF-8 text: byte 0xE9 at line 6"):
        read_all(path)
    rejected: list[RejectedRow] = []
    stats = ExportStats()
    table = pa.concat_tables(read_export(path, "nyc311", on_reject=rejected.append, stats=stats))
    assert [(r.line, r.end_line, r.kind) for r in rejected] == [(6, 6, "encoding")]
    assert b"Poth\xe9le" in rejected[0].raw and rejected[0].raw.startswith(b'"61000001"')
    assert table.column("unique_key").to_pylist() == [k for k in ALL_KEYS if k != "61000001"]
    assert stats.rows == 5 and stats.rejected == {"encoding": 1} and stats.lines == 17


def test_a_non_utf8_byte_inside_a_multiline_record_names_the_line_it_is_on(tmp_path):
    data = with_line_replaced(API_STYLE.read_bytes(), 3, b"second line", b"second l\xffne")
    path = write_bytes(tmp_path / "bad_line_3.csv", data)
    with pytest.raises(ExportFormatError, match=r"line 2: not UTF-8 text: byte 0xFF at line 3"):
        read_all(path)
    rejected: list[RejectedRow] = []
    table = pa.concat_tables(read_export(path, "nyc311", on_reject=rejected.append))
    assert [(r.line, r.end_line) for r in rejected] == [(2, 5)]  # the record's lines
    assert rejected[0].raw == b"".join(physical_lines(path)[1:5])
    assert table.column("unique_key").to_pylist() == ALL_KEYS[1:]


def test_an_oversized_field_is_set_aside_not_called_a_truncated_download(tmp_path):
    big = b"x" * 2_000_000  # 2 MB on one line
    data = with_line_replaced(API_STYLE.read_bytes(), 6, b"The Department reviewed", big)
    path = write_bytes(tmp_path / "big_field.csv", data)
    with pytest.raises(ExportFormatError) as error:
        read_all(path)
    assert "line 6:" in str(error.value) and "max_field_chars=131,072" in str(error.value)
    assert "truncated" not in str(error.value)
    rejected: list[RejectedRow] = []
    table = pa.concat_tables(read_export(path, "nyc311", on_reject=rejected.append))
    assert [(r.line, r.end_line, r.kind) for r in rejected] == [(6, 6, "field_size")]
    assert rejected[0].raw == physical_lines(path)[5] and not rejected[0].raw_cut  # all kept
    assert table.column("unique_key").to_pylist() == [k for k in ALL_KEYS if k != "61000001"]
    # The limit is a parameter: raised above the field, the row lands whole.
    allowed = pa.concat_tables(read_export(path, "nyc311", max_field_chars=3_000_000))
    assert allowed.num_rows == 6
    assert len(allowed.column("resolution_description")[1].as_py()) > 2_000_000
    # csv's process-wide limit is now above the default: the field is measured after parsing.
    with pytest.raises(
        ExportFormatError,
        match=r"line 6: field resolution_description has 2,000,016 characters, more than "
        r"max_field_chars=131,072",
    ):
        read_all(path)


def test_an_oversized_multiline_field_is_set_aside_whole_and_the_next_rows_land(tmp_path):
    big = b"y" * 999 + b"\n"
    text = big * 300  # 300 kB over 300 lines, inside one quoted field
    data = with_line_replaced(API_STYLE.read_bytes(), 6, b"The Department reviewed", text)
    path = write_bytes(tmp_path / "big_multiline_field.csv", data)
    rejected: list[RejectedRow] = []
    table = pa.concat_tables(read_export(path, "nyc311", on_reject=rejected.append))
    assert [(r.line, r.end_line, r.kind) for r in rejected] == [(6, 306, "field_size")]
    assert table.column("unique_key").to_pylist() == [k for k in ALL_KEYS if k != "61000001"]
    expected = read_all(API_STYLE).filter(pa.compute.field("unique_key") != "61000001")
    assert table.equals(expected)  # the rows after it are intact


def test_a_line_longer_than_memory_allows_is_skipped_in_pieces_with_flat_memory(tmp_path):
    # 80 MB without a line end in an unquoted field: read in pieces, only the head is kept, so
    # memory is bounded by the record cap (MIN_RECORD_BYTES), not by the line.
    data = with_line_replaced(API_STYLE.read_bytes(), 6, b'"Pothole"', b"P" * 80_000_000)
    path = write_bytes(tmp_path / "runaway_line.csv", data)
    del data
    rejected: list[RejectedRow] = []
    tracemalloc.start()
    try:
        table = pa.concat_tables(read_export(path, "nyc311", on_reject=rejected.append))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(r.line, r.end_line, r.kind) for r in rejected] == [(6, 6, "record_size")]
    assert rejected[0].raw_cut and len(rejected[0].raw) == MIN_RECORD_BYTES
    assert table.num_rows == 5
    assert peak < 2.5 * MIN_RECORD_BYTES, f"peak {peak:,} bytes while reading an 80 MB line"


@pytest.mark.parametrize("value", [0, -5, "many", 1 << 30])
def test_max_field_chars_is_validated(value):
    with pytest.raises(ValueError, match="max_field_chars"):
        list(read_export(API_STYLE, "nyc311", max_field_chars=value))
    with pytest.raises(IngestionConfigError, match="max_field_chars"):
        parse_settings(export_params(API_STYLE, max_field_chars=value))


def test_max_field_chars_has_a_documented_default():
    assert parse_settings(export_params(API_STYLE)).max_field_chars == DEFAULT_MAX_FIELD_CHARS
    assert project_params("nyc311")["max_field_chars"] == DEFAULT_MAX_FIELD_CHARS == 131_072
    assert project_params("nyc911")["max_field_chars"] == DEFAULT_MAX_FIELD_CHARS


def damaged_export(tmp_path: Path) -> Path:
    """The API-style fixture with three bad rows: non-UTF-8 (line 6), a 2 MB field (lines 7-9)
    and a short row (lines 13-15), plus a conflicting and an identical duplicate key."""
    data = API_STYLE.read_bytes()
    data = with_line_replaced(data, 6, b"Pothole", b"Poth\xe9le")
    data = with_line_replaced(data, 7, b"The Department", b"z" * 2_000_000)
    data = with_line_replaced(data, 13, b'"NYPD",', b"")
    lines = data.splitlines(keepends=True)
    last = b"".join(lines[15:17])  # 61000005: lines 16-17
    conflicting = last.replace(b'"Open"', b'"Closed"')
    assert conflicting != last
    return write_bytes(
        tmp_path / "damaged.csv", data + conflicting + lines[9] + lines[10] + lines[11] + last
    )


def test_land_export_sets_bad_rows_aside_next_to_the_batch_and_lands_the_rest(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = damaged_export(tmp_path)
    zone = LandingZone(str(tmp_path / "landing"))
    summary = land_batches(zone, export_params(path, chunk_rows=2), None)
    (batch,) = zone.batches("nyc311")
    landed = zone.read_batch(batch).column("unique_key").to_pylist()
    assert sorted(landed) == [
        "61000000",
        "61000003",
        "61000003",
        "61000005",
        "61000005",
        "61000005",
    ]
    assert summary["rows_landed"] == 6 and summary["rows_rejected"] == 3
    manifest = batch.manifest
    assert manifest["rejected_rows"] == 3 and manifest["rejected_file"] == REJECTED_FILE
    assert manifest["rejected_by_kind"] == {"columns": 1, "encoding": 1, "field_size": 1}
    assert manifest["max_field_chars"] == DEFAULT_MAX_FIELD_CHARS
    assert REJECTED_FILE not in manifest["files"]
    with open(Path(batch.path) / REJECTED_FILE, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["line"], r["end_line"], r["kind"]) for r in rows] == [
        ("6", "6", "encoding"),
        ("7", "9", "field_size"),
        ("13", "15", "columns"),
    ]
    assert "Poth\\xe9le" in rows[0]["raw"]  # undecodable bytes written as \xNN
    assert len(rows[1]["raw"]) > 2_000_000  # nothing of the row is lost
    assert rows[2]["raw"].encode() == b"".join(physical_lines(path)[12:15])
    assert "3 row(s)" in caplog.text and REJECTED_FILE in caplog.text
    # Bronze reads the files the manifest lists: the quarantine file is not one of them.
    plan = plan_bronze_load(zone, {}, None, None, {"dataset": "nyc311"})
    assert {f["status"] for f in plan["files"]} == {"new"}
    assert sum(f["rows"] for f in plan["files"]) == 6
    assert not any(REJECTED_FILE in f["source_file"] for f in plan["files"])


def test_a_rerun_after_a_crash_replaces_the_quarantine_file_of_the_failed_attempt(
    tmp_path, monkeypatch
):
    data = with_line_replaced(API_STYLE.read_bytes(), 6, b"The Department", b"z" * 2_000_000)
    path = write_bytes(tmp_path / "big_field.csv", data)
    zone = LandingZone(str(tmp_path / "landing"))
    commit = BatchWriter.commit

    def crash(self, *args, **kwargs):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(BatchWriter, "commit", crash)
    with pytest.raises(RuntimeError, match="killed"):
        land_batches(zone, export_params(path), None)
    assert zone.batches("nyc311") == []
    monkeypatch.setattr(BatchWriter, "commit", commit)
    (attempt,) = (tmp_path / "landing").rglob(REJECTED_FILE)  # the crashed attempt's
    # The rerun allows the 2 MB field: nothing is set aside, and no stale file stays behind.
    summary = land_batches(zone, export_params(path, max_field_chars=3_000_000), None)
    (batch,) = zone.batches("nyc311")
    assert summary["rows_landed"] == 6 and batch.manifest["rejected_rows"] == 0
    assert batch.manifest["rejected_file"] is None
    assert Path(batch.path) == attempt.parent and not attempt.exists()


def test_a_file_whose_every_row_is_bad_is_an_error_and_lands_nothing(tmp_path):
    data = API_STYLE.read_bytes().replace(b'"unique_key",', b'"unique_key","extra",', 1)
    path = write_bytes(tmp_path / "shifted.csv", data)
    zone = LandingZone(str(tmp_path / "landing"))
    with pytest.raises(ExportFormatError, match=r"none of its 6 row\(s\).*line 2: 41 fields"):
        land_batches(zone, export_params(path), None)
    assert zone.batches("nyc311") == []


def test_a_duplicate_key_with_other_content_is_counted_and_listed_not_dropped_silently(
    tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    path = damaged_export(tmp_path)
    zone = LandingZone(str(tmp_path / "landing"))
    summary = land_batches(zone, export_params(path), None)
    (batch,) = zone.batches("nyc311")
    assert batch.manifest["duplicate_keys_conflicting"] == 1  # 61000005: Open, then Closed
    assert batch.manifest["duplicate_rows_identical"] == 2  # 61000003 twice, 61000005 again
    assert batch.manifest["duplicate_keys_file"] == DUPLICATES_FILE
    assert summary["duplicate_keys_conflicting"] == 1
    with open(Path(batch.path) / DUPLICATES_FILE, newline="", encoding="utf-8") as handle:
        rows = {r["key"]: r for r in csv.DictReader(handle)}
    assert rows["61000005"]["versions"] == "2" and rows["61000005"]["lines"] == "16;18;23"
    assert rows["61000003"]["versions"] == "1" and rows["61000003"]["lines"] == "10;20"
    assert "1 key(s) with different content" in caplog.text


def test_duplicate_keys_are_found_across_spill_partitions(tmp_path):
    finder = DuplicateKeys("nyc311", tmp_path, partitions=4)
    finder.start(("unique_key", "status"))
    rows = [(str(k % 50), "Open" if k < 90 else "Closed") for k in range(100)]
    for chunk in range(0, 100, 30):
        part = rows[chunk : chunk + 30]
        finder.add(part, list(range(chunk + 2, chunk + 2 + len(part))))
    found = {d.key: d for d in finder.finish()}
    assert set(found) == {str(k) for k in range(50)}  # every key twice
    assert all(d.lines == (int(d.key) + 2, int(d.key) + 52) for d in found.values())
    conflicting = {k for k, d in found.items() if d.versions > 1}
    assert conflicting == {str(k) for k in range(40, 50)}
    assert finder.keys_conflicting == 10 and finder.rows_identical == 40
    assert list(tmp_path.iterdir()) == []  # the spill files are removed


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
    path.write_text(text + '"1","2\n')  # a quote that never closes: a truncated download
    chunks = read_export(path, "nyc311", chunk_rows=2)
    assert next(chunks).num_rows == 2  # the damage far below has not been read yet
    with pytest.raises(ExportFormatError, match="truncated"):
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
