"""A Socrata dataset's own column metadata: display names, API field names, landing columns.

The API names of a dataset's columns cannot be derived from the names the CSV export shows: the
911 End-to-End dataset's "Week Start Date" is ``date`` on the API, not ``week_start_date``. So
every API run first reads ``GET /api/views/<id>.json``, whose ``columns`` list each column's
display name (``name``, the export header) and API name (``fieldName``), and the project refers
to columns by display name only. Records are landed under the display name's snake_case form
(:func:`~nyc_lakehouse.sources.schemas.to_field_name`), which is exactly what the CSV export
path lands, so the two paths give bronze the same columns.

The metadata comes from outside and is treated as untrusted: field names must be plain
identifiers (they go into SoQL queries), names are bounded in length and count, and two columns
may not land under the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nyc_lakehouse.sources.schemas import landing_column_name, to_field_name

# An API field name as it may appear in a SoQL query: lower-case identifier characters only.
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
# Hidden fields (``:id``, ``:@computed_region_xxxx_yyyy``): listed by some views, never mapped.
HIDDEN_FIELD_NAME = re.compile(r"^:@?[a-z_][a-z0-9_]{0,127}$")
MAX_COLUMNS = 1_000
MAX_DISPLAY_NAME_CHARS = 255
# A real view's JSON (with column statistics) is a few hundred kB; far more is not metadata.
MAX_METADATA_BYTES = 8 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SourceMetadataError(ValueError):
    """Column metadata that cannot be trusted, or lacks a column the project needs."""


@dataclass(frozen=True)
class SourceColumn:
    """One column of a Socrata dataset."""

    name: str  # display name, as in the CSV export header ("Week Start Date")
    field_name: str  # API name, as in queries and JSON records ("date")
    data_type: str | None = None  # Socrata's dataTypeName ("calendar_date", "number", "text")

    @property
    def landing(self) -> str:
        """The landing column: the display name's snake_case form, as the export path lands it."""
        return to_field_name(self.name)


@dataclass(frozen=True)
class SourceColumns:
    """A dataset's columns as its metadata describes them, looked up by display name."""

    dataset_id: str
    columns: tuple[SourceColumn, ...]
    label: str | None = None

    @classmethod
    def from_view(cls, body: Any, dataset_id: str, label: str | None = None) -> SourceColumns:
        """Validate the body of ``/api/views/<id>.json``; raise :class:`SourceMetadataError`."""
        who = f"{label or dataset_id} ({dataset_id})"
        if not isinstance(body, Mapping):
            raise SourceMetadataError(f"{who}: metadata is not a JSON object")
        if body.get("id") not in (None, dataset_id):
            raise SourceMetadataError(
                f"{who}: metadata describes another dataset ({str(body.get('id'))[:40]!r})"
            )
        raw = body.get("columns")
        if not isinstance(raw, list) or not raw:
            raise SourceMetadataError(f"{who}: metadata has no 'columns' list")
        if len(raw) > MAX_COLUMNS:
            raise SourceMetadataError(f"{who}: metadata lists {len(raw)} columns (> {MAX_COLUMNS})")
        columns = []
        for index, entry in enumerate(raw):
            if not isinstance(entry, Mapping):
                raise SourceMetadataError(f"{who}: column {index} is not an object")
            field_name, name = entry.get("fieldName"), entry.get("name")
            if not isinstance(field_name, str) or not isinstance(name, str):
                raise SourceMetadataError(f"{who}: column {index} lacks a name or fieldName")
            if HIDDEN_FIELD_NAME.match(field_name):
                continue  # system and computed-region fields keep their own landing names
            if not FIELD_NAME.match(field_name):
                raise SourceMetadataError(
                    f"{who}: column {index} has an invalid fieldName {field_name[:80]!r} "
                    f"(expected {FIELD_NAME.pattern})"
                )
            if not name.strip() or len(name) > MAX_DISPLAY_NAME_CHARS or _CONTROL.search(name):
                raise SourceMetadataError(
                    f"{who}: column {field_name!r} has an invalid display name {name[:80]!r}"
                )
            data_type = entry.get("dataTypeName")
            column = SourceColumn(
                name=name,
                field_name=field_name,
                data_type=data_type if isinstance(data_type, str) else None,
            )
            if not column.landing:
                raise SourceMetadataError(
                    f"{who}: column {field_name!r} ({name!r}) has no usable landing name"
                )
            columns.append(column)
        result = cls(dataset_id=dataset_id, columns=tuple(columns), label=label)
        result._check_unique()
        return result

    def _check_unique(self) -> None:
        for attribute in ("field_name", "landing"):
            seen: dict[str, str] = {}
            for column in self.columns:
                key = getattr(column, attribute)
                if key in seen:
                    raise SourceMetadataError(
                        f"{self._who}: columns {seen[key]!r} and {column.name!r} share the "
                        f"{'API' if attribute == 'field_name' else 'landing'} name {key!r}"
                    )
                seen[key] = column.name

    @property
    def _who(self) -> str:
        return f"{self.label or self.dataset_id} ({self.dataset_id})"

    # lookups ---------------------------------------------------------------------------------
    def column(self, display_name: str) -> SourceColumn:
        """The column with this display name (case, spacing and punctuation do not matter).

        A missing column is an error that names it and lists the columns that exist.
        """
        return self.select([display_name])[0]

    def select(self, display_names: Iterable[str]) -> tuple[SourceColumn, ...]:
        """Several columns by display name; every missing one is named in one error."""
        by_landing = {c.landing: c for c in self.columns}
        names = list(display_names)
        missing = [n for n in names if to_field_name(n) not in by_landing]
        if missing:
            existing = ", ".join(repr(c.name) for c in self.columns)
            raise SourceMetadataError(
                f"{self._who}: the source has no column "
                f"{', '.join(repr(m) for m in missing)}, which this project needs. Its columns "
                f"are: {existing}. If the city renamed one, set the ingestion parameter to the "
                f"new display name (docs/operations.md)."
            )
        return tuple(by_landing[to_field_name(n)] for n in names)

    def field(self, display_name: str) -> str:
        """The API field name of a column, by display name."""
        return self.column(display_name).field_name

    def fields(self, display_names: Iterable[str]) -> tuple[str, ...]:
        """API field names of several columns, by display name."""
        return tuple(c.field_name for c in self.select(display_names))

    def landing_names(self) -> dict[str, str]:
        """API field name -> landing column, for every column of the metadata."""
        return {c.field_name: c.landing for c in self.columns}

    def missing_landing_columns(self, known: Sequence[str]) -> list[str]:
        """Landing columns the project knows that the source no longer has (landed as nulls)."""
        present = {c.landing for c in self.columns}
        return [name for name in known if name not in present]

    # records ---------------------------------------------------------------------------------
    def rename_record(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A record keyed by landing columns; a key the metadata lacks must be an identifier."""
        names = self.landing_names()
        renamed: dict[str, Any] = {}
        for key, value in record.items():
            if key in names:
                renamed[names[key]] = value
            elif HIDDEN_FIELD_NAME.match(key) or FIELD_NAME.match(key):
                renamed[landing_column_name(key)] = value
            else:
                raise SourceMetadataError(
                    f"{self._who}: a record carries the field {str(key)[:80]!r}, which is "
                    f"neither in the metadata nor a plain identifier"
                )
        return renamed

    # persistence -----------------------------------------------------------------------------
    def to_manifest(self) -> dict[str, Any]:
        """What a batch manifest keeps: the mapping the batch was landed with."""
        return {
            "dataset_id": self.dataset_id,
            "columns": [
                {
                    "name": c.name,
                    "field_name": c.field_name,
                    "landing": c.landing,
                    "data_type": c.data_type,
                }
                for c in self.columns
            ],
        }

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any], label: str | None = None) -> SourceColumns:
        """Read back :meth:`to_manifest`, validated like fresh metadata."""
        body = {
            "id": entry.get("dataset_id"),
            "columns": [
                {"name": c.get("name"), "fieldName": c.get("field_name"), **_type(c)}
                for c in entry.get("columns") or []
                if isinstance(c, Mapping)
            ],
        }
        return cls.from_view(body, str(entry.get("dataset_id")), label=label)


def _type(column: Mapping[str, Any]) -> dict[str, Any]:
    return {"dataTypeName": column["data_type"]} if column.get("data_type") else {}
