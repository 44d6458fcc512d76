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

One bad row does not stop the import: a row that is not UTF-8, has a field longer than
``max_field_chars``, has the wrong number of fields or broken quoting is handed to ``on_reject``
(:class:`RejectedRow`: its physical lines, the reason and its raw bytes) and the rest lands; the
ingestion writes those rows to a quarantine file next to the batch. A file that ends inside a
quoted field or in a short last line without a line end is a truncated download, and that stops
the import (the batch is never committed). Keys found on several rows are reported by
:class:`DuplicateKeys`, with bounded memory.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
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

# Columns that identify a row: a key found twice in one export is reported (see DuplicateKeys).
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "nyc311": ("unique_key",),
    "nyc911": ("week_start_date", "agency", "final_incident_type"),
}
# Field size limit (characters): csv's own default; real 311 and 911 fields are far shorter.
DEFAULT_MAX_FIELD_CHARS = 131_072
MIN_FIELD_CHARS = 1_024
MAX_FIELD_CHARS = 16 << 20
# Bytes of one record held in memory (and kept for the quarantine file) at most.
MIN_RECORD_BYTES = 16 << 20
# Next to the batch in the landing zone, referenced from its manifest, never read by bronze.
REJECTED_FILE = "_rejected.csv"
DUPLICATES_FILE = "_duplicate_keys.csv"
_BOM = b"\xef\xbb\xbf"

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


# bad rows ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RejectedRow:
    """A row of an export that was not landed, with where it is and why.

    ``line`` and ``end_line`` are physical lines of the file (as ``sed -n <n>p`` counts them,
    the header is line 1): a row with quoted newlines spans several. ``raw`` holds its bytes as
    in the file, cut after the record size cap (``raw_cut``) so that memory stays bounded.
    """

    line: int
    end_line: int
    kind: str  # encoding | field_size | record_size | columns | syntax
    reason: str
    raw: bytes
    raw_cut: bool = False


@dataclass
class ExportStats:
    """What a read of an export saw (filled while the tables are streamed)."""

    rows: int = 0  # rows yielded
    lines: int = 0  # physical lines read, the header included
    blank_lines: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # rows set aside, per kind
    ends_with_newline: bool = True


def validate_max_field_chars(value: Any) -> int:
    """``max_field_chars`` as an int, or a ValueError naming the allowed range."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"max_field_chars must be a whole number, got {value!r}") from None
    if not MIN_FIELD_CHARS <= number <= MAX_FIELD_CHARS:
        raise ValueError(
            f"max_field_chars must be between {MIN_FIELD_CHARS:,} and {MAX_FIELD_CHARS:,} "
            f"characters, got {number:,}"
        )
    return number


class _RecordTooLong(Exception):
    """Raised through csv.reader when a record outgrows the size cap (ends the record)."""


class _Lines:
    """The physical lines of an export, fed to :class:`csv.reader` one at a time.

    Reading bytes line by line (not through a decoding text layer that reads ahead) is what
    lets every problem be placed on its line: a byte that is not UTF-8 is found when its own
    line is decoded. Such a line is decoded with ``surrogateescape`` so the parser still sees
    its commas and quotes, and the row is set aside afterwards. The lines of the record being
    parsed are kept (up to ``cap`` bytes) for the quarantine file, with a count of their quote
    characters: after a parse error, an odd count means the record goes on into the next lines.
    A line longer than ``cap`` is read in pieces and never handed to the parser, so memory stays
    bounded whatever the file holds.
    """

    def __init__(self, binary: IO[bytes], cap: int) -> None:
        self._binary = binary
        self._cap = cap
        self.number = 0
        self.eof = False
        self.newline_at_end = True
        self.start_record()

    def start_record(self) -> None:
        self.first = self.number + 1
        self.raw: list[bytes] = []
        self.size = 0  # bytes of the record so far (kept up to the cap)
        self.cut = False
        self.quotes = 0
        self.decode_error: tuple[int, int, int] | None = None  # line, byte position, byte

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        data = self._binary.readline(self._cap)
        if not data:
            self.eof = True
            raise StopIteration
        self.number += 1
        size = len(data)
        if self.size + size < self._cap and data[-1:] == b"\n" and self.number > 1:
            # The common case, kept short: a whole line that fits.
            self.size += size
            self.quotes += data.count(b'"')
            self.raw.append(data)
        else:
            data = self._account(data)
            if self.size > self._cap:
                raise _RecordTooLong
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.decode_error is None:
                self.decode_error = (self.number, exc.start + 1, data[exc.start])
            return data.decode("utf-8", "surrogateescape")

    def skip_line(self) -> bool:
        """Consume one more line of the record without parsing it (False at the end)."""
        data = self._binary.readline(self._cap)
        if not data:
            self.eof = True
            return False
        self.number += 1
        self._account(data)
        return True

    def _account(self, data: bytes) -> bytes:
        """Count a line into the record: its size and quotes, its bytes up to the cap."""
        if self.number == 1 and data.startswith(_BOM):
            data = data[len(_BOM) :]
        size, quotes = len(data), data.count(b'"')
        ends_line = data.endswith(b"\n")
        if size == self._cap and not ends_line:  # the line goes on: count it, keep none of it
            while piece := self._binary.readline(1 << 20):
                size += len(piece)
                quotes += piece.count(b'"')
                if ends_line := piece.endswith(b"\n"):
                    break
        self.newline_at_end = ends_line
        room = self._cap - self.size
        if size <= room:
            self.raw.append(data)
        else:
            self.raw.append(data[: max(room, 0)])
            self.cut = True
        self.size += size
        self.quotes += quotes
        return data


class _Records:
    """Rows of an export with their physical lines; bad ones come back as :class:`RejectedRow`."""

    def __init__(self, binary: IO[bytes], path: Path, max_field_chars: int) -> None:
        self.path = path
        self.limit = max_field_chars
        # A record may hold several fields at the limit, in up to 4 bytes a character.
        self.cap = max(MIN_RECORD_BYTES, 8 * max_field_chars)
        # csv's own limit is process-wide: it is raised (never lowered) to let every field this
        # import accepts through. Where it is higher, the fields are measured after parsing.
        if csv.field_size_limit() < max_field_chars:
            csv.field_size_limit(max_field_chars)
        self.measure = csv.field_size_limit() > max_field_chars
        self.lines = _Lines(binary, self.cap)
        self.reader = csv.reader(self.lines, strict=True)
        self.columns: tuple[str, ...] = ()  # known once the header is read

    def next(self) -> list[str] | RejectedRow | None:
        """The next record: its fields, a rejected row, or None at the end of the file."""
        lines = self.lines
        lines.start_record()
        try:
            row = next(self.reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            if lines.eof:
                raise self.truncated() from None
            if "field larger than field limit" in str(exc):
                return self._skip_rest("field_size", self._field_size_reason())
            return self._skip_rest("syntax", f"malformed CSV: {exc}")
        except _RecordTooLong:
            return self._skip_rest(
                "record_size",
                f"longer than {self.cap:,} bytes (a field larger than max_field_chars="
                f"{self.limit:,} characters, or a quote that does not close)",
            )
        if lines.decode_error is not None:
            line, position, byte = lines.decode_error
            return self.rejected(
                "encoding", f"not UTF-8 text: byte 0x{byte:02X} at line {line}, byte {position}"
            )
        if self.measure:
            longest = max(map(len, row), default=0)
            if longest > self.limit:
                index = [len(value) for value in row].index(longest)
                return self.rejected("field_size", self._field_size_reason(index, longest))
        return row

    def rejected(self, kind: str, reason: str) -> RejectedRow:
        lines = self.lines
        return RejectedRow(
            lines.first, lines.number, kind, reason, b"".join(lines.raw), raw_cut=lines.cut
        )

    def truncated(self) -> ExportFormatError:
        return ExportFormatError(
            f"{self.path}, line {self.lines.first}: the file ends inside a quoted field of the "
            "row that starts on this line (a truncated download?); download it again: no rows "
            "of it were landed"
        )

    def _skip_rest(self, kind: str, reason: str) -> RejectedRow:
        """After a parse error: the rest of the record, while its quotes are open, then reject."""
        while self.lines.quotes % 2:
            if not self.lines.skip_line():
                raise self.truncated()
        return self.rejected(kind, reason)

    def _field_size_reason(self, index: int | None = None, length: int = 0) -> str:
        if index is None:
            return f"a field longer than max_field_chars={self.limit:,} characters"
        name = self.columns[index] if index < len(self.columns) else f"#{index + 1}"
        return f"field {name} has {length:,} characters, more than max_field_chars={self.limit:,}"


def read_export(
    path: str | os.PathLike[str],
    dataset: str,
    chunk_rows: int = 50_000,
    on_chunk: Callable[[int, int], None] | None = None,
    *,
    max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
    on_reject: Callable[[RejectedRow], None] | None = None,
    duplicates: DuplicateKeys | None = None,
    stats: ExportStats | None = None,
) -> Iterator[pa.Table]:
    """Stream an export as landing tables of at most ``chunk_rows`` rows.

    A bad row (not UTF-8, a field over ``max_field_chars``, the wrong number of fields, broken
    quoting) is passed to ``on_reject`` with its lines and reason, and the read goes on; without
    ``on_reject`` the first one raises :class:`ExportFormatError` naming its line. A file that
    ends inside a quoted field, or in a short last line without a line end, is a truncated
    download: that always raises. ``on_chunk(rows_in_chunk, bytes_read)`` is called after each
    chunk (for progress bars); ``duplicates`` is fed every landed row's key; ``stats`` is filled.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    limit = validate_max_field_chars(max_field_chars)
    path = Path(path)
    if not path.is_file():
        raise ExportFormatError(f"export file not found: {path}")
    stats = stats if stats is not None else ExportStats()
    with path.open("rb") as raw:
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(raw) else raw
        position = _Position(raw)
        try:
            records = _Records(binary, path, limit)
            header = _read_header(records, dataset)
            records.columns = header.columns
            converters = _converters(header.columns, dataset)
            width = len(header.columns)
            if duplicates is not None:
                duplicates.start(header.columns)
            rows: list[list[str]] = []
            lines: list[int] = []
            while (record := records.next()) is not None:
                stats.lines = records.lines.number
                stats.ends_with_newline = records.lines.newline_at_end
                if isinstance(record, list) and len(record) != width:
                    if not record or record == [""]:
                        stats.blank_lines += 1
                        continue  # a blank line (e.g. a trailing newline)
                    if len(record) < width and not records.lines.newline_at_end:
                        raise ExportFormatError(
                            f"{path}, line {records.lines.first}: the last line has "
                            f"{len(record)} of {width} fields and no line end (a truncated "
                            "download?); download it again: no rows of it were landed"
                        )
                    record = records.rejected(
                        "columns", f"{len(record)} fields, the header has {width}"
                    )
                if isinstance(record, RejectedRow):
                    stats.rejected[record.kind] = stats.rejected.get(record.kind, 0) + 1
                    if on_reject is None:
                        raise ExportFormatError(f"{path}, line {record.line}: {record.reason}")
                    on_reject(record)
                    continue
                rows.append(record)
                lines.append(records.lines.first)
                if len(rows) == chunk_rows:
                    yield _chunk(rows, lines, header.columns, converters, dataset, duplicates)
                    stats.rows += len(rows)
                    if on_chunk:
                        on_chunk(len(rows), position())
                    rows, lines = [], []
            if rows:
                yield _chunk(rows, lines, header.columns, converters, dataset, duplicates)
                stats.rows += len(rows)
                if on_chunk:
                    on_chunk(len(rows), position())
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ExportFormatError(
                f"{path}: damaged gzip stream ({exc}); a truncated download? No rows of it "
                "were landed"
            ) from exc


def _read_header(records: _Records, dataset: str) -> ExportHeader:
    record = records.next()
    if record is None:
        raise ExportFormatError(f"{records.path}: the file is empty (no header)")
    if isinstance(record, RejectedRow):
        raise ExportFormatError(f"{records.path}: unreadable header: {record.reason}")
    try:
        return map_header(record, dataset)
    except ExportFormatError as exc:
        raise ExportFormatError(f"{records.path}: {exc}") from None


def _chunk(
    rows: list[list[str]],
    lines: list[int],
    columns: tuple[str, ...],
    converters: list[Callable[[pa.Array], pa.Array] | None],
    dataset: str,
    duplicates: DuplicateKeys | None,
) -> pa.Table:
    if duplicates is not None:
        duplicates.add(rows, lines)
    return _to_table(rows, columns, converters, dataset)


def read_export_header(path: str | os.PathLike[str], dataset: str) -> ExportHeader:
    """Only the mapped header of an export (style, columns), for manifests and logs."""
    with Path(path).open("rb") as raw:
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(raw) else raw
        return _read_header(_Records(binary, Path(path), DEFAULT_MAX_FIELD_CHARS), dataset)


# duplicate keys ----------------------------------------------------------------------------
@dataclass(frozen=True)
class DuplicateKey:
    """A key found on several rows of one export: their lines and how many contents differ."""

    key: str
    lines: tuple[int, ...]
    versions: int  # distinct contents among the rows (1: identical repeats)


class DuplicateKeys:
    """Finds the keys that occur more than once in an export, in bounded memory.

    Exports carry no ``:updated_at``, so silver cannot tell which of two versions of a key is
    the newer one: they are reported instead of being resolved silently. Each landed row's key,
    a digest of its fields and its line are spilled to ``partitions`` files by a hash of the key;
    :meth:`finish` then groups one partition at a time, so memory holds a partition, not the
    file. The spill files live in a temporary folder (under ``directory``, default the system's)
    removed by :meth:`finish` or :meth:`close`.
    """

    def __init__(
        self, dataset: str, directory: str | os.PathLike[str] | None = None, partitions: int = 1
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        self.key_columns = KEY_COLUMNS.get(dataset, ())
        self.partitions = partitions
        self.keys_conflicting = 0  # keys with at least two different contents
        self.rows_identical = 0  # rows repeating an earlier row of their key field for field
        self._directory = directory
        self._folder: str | None = None
        self._index: list[int] = []
        self._writers: dict[int, tuple[IO[bytes], pa.ipc.RecordBatchStreamWriter]] = {}

    def start(self, columns: Sequence[str]) -> None:
        """Bind to an export's columns (an export without the key columns is not tracked)."""
        missing = [c for c in self.key_columns if c not in columns]
        self._index = [] if missing else [list(columns).index(c) for c in self.key_columns]
        if self._index and self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="export-keys-", dir=self._directory)

    def add(self, rows: Sequence[Sequence[str]], lines: Sequence[int]) -> None:
        """Record the keys of landed rows (rows without a key are left to silver's checks)."""
        if not self._index:
            return
        index = self._index
        keys: list[str] = []
        digests: list[int] = []
        kept_lines: list[int] = []
        for row, line in zip(rows, lines, strict=True):
            key = row[index[0]] if len(index) == 1 else "\x1f".join(row[i] for i in index)
            if key:
                keys.append(key)
                digests.append(hash(tuple(row)))
                kept_lines.append(line)
        if not keys:
            return
        table = pa.table(
            {
                "key": pa.array(keys, pa.string()),
                "digest": pa.array(digests, pa.int64()),
                "line": pa.array(kept_lines, pa.int64()),
            }
        )
        if self.partitions == 1:
            self._write(0, table)
            return
        part = np.fromiter((hash(k) % self.partitions for k in keys), np.int64, len(keys))
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self.partitions + 1))
        ordered = table.take(pa.array(order))
        for p in range(self.partitions):
            if bounds[p + 1] > bounds[p]:
                self._write(p, ordered.slice(bounds[p], bounds[p + 1] - bounds[p]))

    def _write(self, partition: int, table: pa.Table) -> None:
        if partition not in self._writers:
            assert self._folder is not None
            handle = open(os.path.join(self._folder, f"part-{partition:03d}.arrow"), "wb")  # noqa: SIM115
            self._writers[partition] = (handle, pa.ipc.new_stream(handle, table.schema))
        self._writers[partition][1].write_table(table)

    def finish(self) -> Iterator[DuplicateKey]:
        """Every key found more than once, partition by partition (counts add up as they go)."""
        try:
            self._close_writers()
            for partition in sorted(os.listdir(self._folder)) if self._folder else []:
                with pa.OSFile(os.path.join(self._folder, partition)) as source:
                    table = pa.ipc.open_stream(source).read_all()
                groups = table.group_by("key").aggregate(
                    [("line", "count"), ("digest", "count_distinct"), ("line", "list")]
                )
                repeated = groups.filter(pc.greater(groups["line_count"], 1))
                found = [
                    DuplicateKey(key, tuple(sorted(lines)), versions)
                    for key, versions, lines in zip(
                        repeated["key"].to_pylist(),
                        repeated["digest_count_distinct"].to_pylist(),
                        repeated["line_list"].to_pylist(),
                        strict=True,
                    )
                ]
                for duplicate in sorted(found, key=lambda d: d.lines):
                    self.rows_identical += len(duplicate.lines) - duplicate.versions
                    self.keys_conflicting += duplicate.versions > 1
                    yield duplicate
        finally:
            self.close()

    def close(self) -> None:
        """Remove the spill files (safe to call twice)."""
        self._close_writers()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _close_writers(self) -> None:
        for handle, writer in self._writers.values():
            writer.close()
            handle.close()
        self._writers = {}


def spill_partitions(path: str | os.PathLike[str]) -> int:
    """Partitions for :class:`DuplicateKeys`: about 256 MB of export text each (up to 256)."""
    size = Path(path).stat().st_size
    with Path(path).open("rb") as raw:
        if _is_gzip(raw):
            size *= 8  # a CSV export compresses about 6-10 times
    return max(1, min(256, math.ceil(size / (256 << 20))))


# quarantine files --------------------------------------------------------------------------
class _CsvFile:
    """A CSV file opened on first write (UTF-8, header row first)."""

    def __init__(self, open_binary: Callable[[], IO[bytes]], columns: Sequence[str]) -> None:
        self._open = open_binary
        self._columns = list(columns)
        self._text: io.TextIOWrapper | None = None
        self._writer: Any = None
        self.rows = 0

    def write(self, values: Sequence[Any]) -> None:
        if self._writer is None:
            self._text = io.TextIOWrapper(self._open(), encoding="utf-8", newline="")
            self._writer = csv.writer(self._text, lineterminator="\n")
            self._writer.writerow(self._columns)
        self._writer.writerow(values)
        self.rows += 1

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
            self._text = None


class RejectedRowsFile(_CsvFile):
    """The quarantine file of an import: ``line, end_line, kind, reason, raw``, one row per
    rejected row. ``raw`` is the row's text as in the file; bytes that are not UTF-8 are written
    as ``\\xNN``. Use it as ``on_reject`` of :func:`read_export`."""

    COLUMNS = ("line", "end_line", "kind", "reason", "raw")

    def __init__(self, open_binary: Callable[[], IO[bytes]]) -> None:
        super().__init__(open_binary, self.COLUMNS)
        self.by_kind: dict[str, int] = {}
        self.first: list[RejectedRow] = []  # the first few, for messages

    def __call__(self, row: RejectedRow) -> None:
        reason = row.reason
        if row.raw_cut:
            reason += f"; raw cut after {len(row.raw):,} bytes (see the lines in the file)"
        self.write(
            [row.line, row.end_line, row.kind, reason, row.raw.decode("utf-8", "backslashreplace")]
        )
        self.by_kind[row.kind] = self.by_kind.get(row.kind, 0) + 1
        if len(self.first) < 3:
            self.first.append(row)


class DuplicateKeysFile(_CsvFile):
    """``key, rows, versions, lines``: the keys found on several rows of an export."""

    COLUMNS = ("key", "rows", "versions", "lines")

    def __init__(self, open_binary: Callable[[], IO[bytes]]) -> None:
        super().__init__(open_binary, self.COLUMNS)

    def __call__(self, duplicate: DuplicateKey) -> None:
        lines = ";".join(map(str, duplicate.lines))
        self.write([duplicate.key, len(duplicate.lines), duplicate.versions, lines])


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
