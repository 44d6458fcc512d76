"""Bulk CSV exports of NYC Open Data, streamed into the landing format of the API path.

A downloaded export of the whole dataset is far faster than paging 40M rows through the API.
The portal produces two header styles, and both are accepted:

* API field names (``unique_key, created_date, ...``) with ISO floating timestamps
  (``2024-04-16T03:03:15.000``) - the API's own CSV;
* display names (``Unique Key, Created Date, ...``) with US dates
  (``04/16/2024 03:03:15 AM``, 911: ``06/24/2019``) - the web export.

Rows become exactly what the API would have returned, so nothing downstream can tell the paths
apart: header names go through :func:`~nyc_lakehouse.sources.schemas.to_field_name`; US dates in
the dataset's date columns become ISO floating timestamps with milliseconds; an empty field is
absent (null), as the API omits null keys; the export's text rendering of ``location``
(``"<address>\\n<city>, <state> <zip>\\n(<lat>, <lon>)"``) becomes the API's object; in 911 number
columns, thousands separators are removed (``"8,881"`` -> ``"8881"``), because the API returns
numbers without them. Nothing else is changed ("as received"). Older schemas (41 to 53 columns,
e.g. the ``School ...``, ``Garage Lot Name`` and ``Ferry ...`` columns) are fine: missing columns
become null, unknown columns are kept. Export rows carry no Socrata system fields, so
``_socrata_id``/``_socrata_updated_at`` are null in export batches.

The file is read as a stream (plain or ``.gz``), ``chunk_rows`` rows at a time: memory stays
flat whatever its size. A UTF-8 byte-order mark is dropped; quoted fields may contain newlines.
A row with the wrong number of fields, or an unterminated quote (a truncated download), stops
the import with an error naming the file and line: the batch is never committed.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc

from nyc_lakehouse.sources.schemas import (
    NYC311_FIELDS,
    NYC311_LEGACY_FIELDS,
    NYC911_FIELDS,
    landing_column_name,
    to_field_name,
)
from nyc_lakehouse.sources.socrata import conform_to_landing_schema

# Columns holding dates, per dataset (US dates in display-style exports are converted).
DATE_COLUMNS: dict[str, frozenset[str]] = {
    "nyc311": frozenset(
        {"created_date", "closed_date", "due_date", "resolution_action_updated_date"}
    ),
    "nyc911": frozenset({"week_start_date"}),
}
# Numeric columns whose thousands separators are removed (the 911 web export writes "8,881").
THOUSANDS_SEPARATOR_COLUMNS: dict[str, frozenset[str]] = {
    "nyc911": frozenset(NYC911_FIELDS) - {"week_start_date", "agency", "final_incident_type"},
}
# Columns that identify a dataset's export: a file without them is the wrong file.
IDENTIFYING_COLUMNS: dict[str, tuple[str, ...]] = {
    "nyc311": ("unique_key", "created_date"),
    "nyc911": ("week_start_date", "agency"),
}
KNOWN_COLUMNS: dict[str, frozenset[str]] = {
    "nyc311": frozenset(NYC311_FIELDS) | frozenset(NYC311_LEGACY_FIELDS),
    "nyc911": frozenset(NYC911_FIELDS),
}

_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LOCATION_TEXT = re.compile(r"^(?:(.*)\n(.*)\n)?\((-?\d+(?:\.\d+)?), (-?\d+(?:\.\d+)?)\)$", re.S)


class ExportFormatError(ValueError):
    """The file is not a readable export of the expected dataset."""


@dataclass(frozen=True)
class ExportHeader:
    """The mapped header of an export file."""

    source_names: tuple[str, ...]
    columns: tuple[str, ...]
    style: str  # "api" | "display"
    unknown: tuple[str, ...]  # neither a current nor a legacy field: kept as received
    missing: tuple[str, ...]  # current fields the file lacks: landed as nulls


def map_header(source_names: list[str], dataset: str) -> ExportHeader:
    """Map an export header to API field names and tell its style.

    A header is ``api`` style when every name already is a field name, else ``display``.
    """
    names = [n.lstrip("\ufeff").strip() for n in source_names]
    columns = [landing_column_name(n) if n.startswith(":") else to_field_name(n) for n in names]
    if any(not c for c in columns):
        raise ExportFormatError(f"empty column name in header {names!r}")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ExportFormatError(f"header maps several columns to {duplicates}: {names!r}")
    unidentified = [c for c in IDENTIFYING_COLUMNS.get(dataset, ()) if c not in columns]
    if unidentified:
        raise ExportFormatError(
            f"this is not a {dataset} export: the header has no {unidentified} "
            f"(first columns: {names[:5]!r})"
        )
    style = "api" if all(n == c for n, c in zip(names, columns, strict=True)) else "display"
    known = KNOWN_COLUMNS.get(dataset, frozenset())
    unknown = tuple(c for c in columns if c not in known and not c.startswith("_"))
    current = NYC311_FIELDS if dataset == "nyc311" else NYC911_FIELDS if dataset == "nyc911" else ()
    missing = tuple(c for c in current if c not in columns)
    return ExportHeader(tuple(names), tuple(columns), style, unknown, missing)


def us_date_to_iso(text: str) -> str | None:
    """``04/16/2024 03:03:15 AM`` -> ``2024-04-16T03:03:15.000`` (None when not a US date)."""
    converted = us_dates_to_iso(pa.array([text], type=pa.string()))[0].as_py()
    return converted if converted != text else None


def location_text_to_json(text: str) -> str | None:
    """The export's rendering of a location back to the API object (as landing JSON text).

    ``"\\n,  \\n(40.67, -73.73)"`` (API-style export) and ``"(40.67, -73.73)"`` (web export) ->
    ``{"human_address":"{\\"address\\": \\"\\", ...}","latitude":"40.67","longitude":"-73.73"}``,
    the API's object. None when the text has another shape (then it is kept as received).
    """
    match = _LOCATION_TEXT.match(text)
    if not match:
        return None
    street, place, latitude, longitude = match.groups()
    city = state = zip_code = ""
    if place:
        city, _, state_zip = place.partition(", ")
        state, _, zip_code = state_zip.partition(" ")
    # The bare "(lat, lon)" form (web export) carries no address; the API's is then empty.
    human_address = {"address": street or "", "city": city, "state": state, "zip": zip_code}
    value = {
        "latitude": latitude,
        "longitude": longitude,
        "human_address": json.dumps(human_address),
    }
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def export_batch_id(path: str | os.PathLike[str], sample_bytes: int = 1 << 20) -> str:
    """A stable batch id for an export file: its name plus a fingerprint of size, head and tail.

    Re-importing the same file finds its batch and skips it; a new download gets a new id.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.blake2b(digest_size=6)
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(sample_bytes))
        if size > sample_bytes:
            handle.seek(max(sample_bytes, size - sample_bytes))
            digest.update(handle.read(sample_bytes))
    stem = path.name.split(".")[0]
    stem = re.sub(r"[^0-9A-Za-z_-]+", "-", stem).strip("-")[:60] or "file"
    return f"export-{stem}-{digest.hexdigest()}"


class _Position:
    """Bytes consumed from the file on disk (compressed bytes for .gz), for progress."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def __call__(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0


def read_export(
    path: str | os.PathLike[str],
    dataset: str,
    chunk_rows: int = 50_000,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Iterator[pa.Table]:
    """Stream an export as landing tables of at most ``chunk_rows`` rows.

    ``on_chunk(rows_in_chunk, bytes_read)`` is called after each chunk (for progress bars).
    Raises :class:`ExportFormatError` (file and line) on a malformed file.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    path = Path(path)
    if not path.is_file():
        raise ExportFormatError(f"export file not found: {path}")
    with path.open("rb") as raw:
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(raw) else raw
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, strict=True)
        try:
            header = map_header(next(reader), dataset)
        except StopIteration:
            raise ExportFormatError(f"{path}: the file is empty (no header)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ExportFormatError(f"{path}: unreadable header: {exc}") from exc
        except ExportFormatError as exc:
            raise ExportFormatError(f"{path}: {exc}") from None
        converters = _converters(header.columns, dataset)
        width = len(header.columns)
        position = _Position(raw)
        rows: list[list[str]] = []
        try:
            for row in reader:
                if len(row) != width:
                    if not row or row == [""]:
                        continue  # a blank line (e.g. a trailing newline)
                    raise ExportFormatError(
                        f"{path}, line {reader.line_num}: {len(row)} fields, the header has "
                        f"{width}; the file is damaged (no rows of it were landed)"
                    )
                rows.append(row)
                if len(rows) == chunk_rows:
                    yield _to_table(rows, header.columns, converters, dataset)
                    if on_chunk:
                        on_chunk(len(rows), position())
                    rows = []
        except csv.Error as exc:
            raise ExportFormatError(
                f"{path}, line {reader.line_num}: {exc} (a truncated download?); "
                "no rows of it were landed"
            ) from exc
        except UnicodeDecodeError as exc:
            raise ExportFormatError(
                f"{path}, near line {reader.line_num}: not UTF-8 text ({exc})"
            ) from exc
        except (EOFError, gzip.BadGzipFile) as exc:
            raise ExportFormatError(f"{path}: damaged gzip stream ({exc})") from exc
        if rows:
            yield _to_table(rows, header.columns, converters, dataset)
            if on_chunk:
                on_chunk(len(rows), position())


def read_export_header(path: str | os.PathLike[str], dataset: str) -> ExportHeader:
    """Only the mapped header of an export (style, columns), for manifests and logs."""
    with Path(path).open("rb") as raw:
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(raw) else raw
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        try:
            return map_header(next(csv.reader(text, strict=True)), dataset)
        except StopIteration:
            raise ExportFormatError(f"{path}: the file is empty (no header)") from None


def _is_gzip(raw: IO[bytes]) -> bool:
    magic = raw.read(2)
    raw.seek(0)
    return magic == b"\x1f\x8b"


def us_dates_to_iso(values: pa.Array) -> pa.Array:
    """Vectorised :func:`us_date_to_iso` over a string array; other values are kept as received."""
    with_time = pc.strptime(values, format="%m/%d/%Y %I:%M:%S %p", unit="s", error_is_null=True)
    date_only = pc.strptime(values, format="%m/%d/%Y", unit="s", error_is_null=True)
    parsed = pc.coalesce(with_time, date_only)
    if parsed.null_count == len(parsed):
        return values  # nothing to convert (an API-style export)
    iso = pc.strftime(parsed, format="%Y-%m-%dT%H:%M:%S.000")
    return pc.if_else(pc.is_valid(parsed), iso, values)


def strip_thousands_separators(values: pa.Array) -> pa.Array:
    """``"8,881"`` -> ``"8881"``, only where the whole value is such a number."""
    has_separators = pc.match_substring_regex(values, _THOUSANDS.pattern)
    return pc.if_else(has_separators, pc.replace_substring(values, ",", ""), values)


_EMPTY_HUMAN_ADDRESS = json.dumps({"address": "", "city": "", "state": "", "zip": ""})
_LOCATION_PREFIX = '{"human_address":' + json.dumps(_EMPTY_HUMAN_ADDRESS) + ',"latitude":"'


def _location(value: str | None) -> str | None:
    if not value or not value.endswith(")"):
        return value
    match = _LOCATION_TEXT.match(value)
    if match is None:
        return value
    street, place, latitude, longitude = match.groups()
    if not street and (place is None or place == ",  "):  # no address: the common case, fast
        return f'{_LOCATION_PREFIX}{latitude}","longitude":"{longitude}"}}'
    return location_text_to_json(value)


def locations_to_json(values: pa.Array) -> pa.Array:
    """Export location texts -> the API's object as landing JSON text (others kept)."""
    return pa.array([_location(v) for v in values.to_pylist()], type=pa.string())


def _converters(
    columns: tuple[str, ...], dataset: str
) -> list[Callable[[pa.Array], pa.Array] | None]:
    """Per column, the conversion to the API's form (None: the value is kept as received)."""
    dates = DATE_COLUMNS.get(dataset, frozenset())
    numbers = THOUSANDS_SEPARATOR_COLUMNS.get(dataset, frozenset())
    converters: list[Callable[[pa.Array], pa.Array] | None] = []
    for column in columns:
        if column in dates:
            converters.append(us_dates_to_iso)
        elif column in numbers:
            converters.append(strip_thousands_separators)
        elif column == "location":
            converters.append(locations_to_json)
        else:
            converters.append(None)
    return converters


_NULL = pa.scalar(None, type=pa.string())


def _to_table(
    rows: list[list[str]],
    columns: tuple[str, ...],
    converters: list[Callable[[pa.Array], pa.Array] | None],
    dataset: str,
) -> pa.Table:
    """Rows -> landing table, column by column (empty fields become nulls, as in the API)."""
    arrays = []
    for values, convert in zip(zip(*rows, strict=True), converters, strict=True):
        array = pa.array(values, type=pa.string())
        array = pc.if_else(pc.equal(array, ""), _NULL, array)
        arrays.append(convert(array) if convert is not None else array)
    return conform_to_landing_schema(pa.table(arrays, names=list(columns)), dataset)
