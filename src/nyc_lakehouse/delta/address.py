"""Where a Delta table lives: a path (local folder or object store URI) or a Unity Catalog name.

Pure: no Spark, no I/O, so every name (including the Unity Catalog ones that cannot be reached
from a laptop) is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nyc_lakehouse.delta.errors import DeltaTableError

UC_SCHEME = "uc://"
DEFAULT_ROOT = "data"


@dataclass(frozen=True)
class TableAddress:
    """Where a Delta table lives: a path (local folder or object store URI) or a UC name."""

    name: str
    """Human name used in messages: ``schema.table`` or the path."""
    path: str | None = None
    """Absolute local path or ``scheme://...`` URI; ``None`` for a Unity Catalog table."""
    catalog_name: str | None = None
    """``catalog.schema.table`` for a Unity Catalog table; ``None`` for a path."""

    @property
    def is_catalog(self) -> bool:
        return self.catalog_name is not None

    @property
    def is_local_path(self) -> bool:
        return self.path is not None and "://" not in self.path

    @property
    def location(self) -> str:
        """The path, or the Unity Catalog name: what messages and kedro-viz show."""
        return str(self.path or self.catalog_name)

    def sql_identifier(self) -> str:
        """The table as it appears in Spark SQL: ```c`.`s`.`t``` or ``delta.`path```."""
        if self.catalog_name is not None:
            return ".".join(quote_identifier(part) for part in self.catalog_name.split("."))
        return f"delta.{quote_identifier(str(self.path))}"


def resolve_address(table: str | None, root: str | None, path: str | None) -> TableAddress:
    """Turn a dataset's ``table``/``root``/``path`` arguments into a :class:`TableAddress`.

    ``table="<schema>.<name>"`` with ``root`` a folder or URI gives ``<root>/<schema>/<name>``;
    with ``root="uc://<catalog>"`` it gives the Unity Catalog table ``<catalog>.<schema>.<name>``.
    An explicit ``path`` wins over ``table``+``root`` (``table`` then only names it in messages).
    """
    if path is not None:
        if path.startswith(UC_SCHEME):
            raise DeltaTableError(
                f"path={path!r}: Unity Catalog tables are addressed with "
                "table='<schema>.<name>' and root='uc://<catalog>', not path="
            )
        location = _normalize_location(path)
        return TableAddress(name=table or location, path=location)
    if not table:
        raise DeltaTableError("A Delta table needs table='<schema>.<name>' (+ root) or path=")
    parts = table.split(".")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise DeltaTableError(
            f"table={table!r}: expected '<schema>.<name>' (e.g. 'silver.nyc311_service_requests')"
        )
    schema, name = (part.strip() for part in parts)
    root = DEFAULT_ROOT if root is None or root == "" else root
    if root.startswith(UC_SCHEME):
        catalog = root[len(UC_SCHEME) :].strip("/")
        if not catalog or "/" in catalog or "." in catalog:
            raise DeltaTableError(f"root={root!r}: expected 'uc://<catalog>' (e.g. 'uc://nyc')")
        return TableAddress(name=f"{schema}.{name}", catalog_name=f"{catalog}.{schema}.{name}")
    location = _normalize_location(f"{root.rstrip('/')}/{schema}/{name}")
    return TableAddress(name=f"{schema}.{name}", path=location)


def _normalize_location(location: str) -> str:
    if location.startswith("file://"):
        location = location[len("file://") :]
    if "://" in location:
        return location.rstrip("/")
    # Relative local paths are relative to the working directory, like every Kedro dataset.
    return str(Path(location).expanduser().resolve())


def quote_identifier(name: str) -> str:
    """Backtick-quote a SQL identifier (Spark SQL and delta-rs/DataFusion both accept it)."""
    return "`" + name.replace("`", "``") + "`"
