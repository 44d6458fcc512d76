"""One Delta table on one engine: exists, read (time travel), history, preview and maintenance.

Reads and the log go through delta-rs where this process reaches the table's files (a preview
or an ``exists()`` never starts an engine); history, OPTIMIZE / ZORDER and VACUUM go through the
engine where it has them (delta-spark on ``jvm`` and ``databricks``; SQL on ``remote``), and
through delta-rs on Sail, which has none of them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.delta.engines import DELTA_RS, DELTA_SPARK, SQL, Engine, sail
from nyc_lakehouse.delta.errors import DeltaTableError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from nyc_lakehouse.delta.address import TableAddress


@dataclass(frozen=True)
class Table:
    """A Delta table (:class:`TableAddress`) as seen from one :class:`Engine`."""

    address: TableAddress
    engine: Engine
    storage_options: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.address.name

    @property
    def delta_rs_reachable(self) -> bool:
        """delta-rs can reach the files: a local path, or any path while Sail runs in-process."""
        return self.address.path is not None and (self.engine.is_sail or self.address.is_local_path)

    # ------------------------------------------------------------------ state
    def exists(self) -> bool:
        if self.address.is_catalog:
            spark = self.engine.spark()
            return bool(spark.catalog.tableExists(self.address.catalog_name))
        if self.delta_rs_reachable:
            from deltalake import DeltaTable

            return DeltaTable.is_deltatable(self.address.path, self._options())
        try:  # A remote engine may see paths this process cannot: ask it.
            self.engine.spark().read.format("delta").load(self.address.path).schema  # noqa: B018
        except Exception:  # noqa: BLE001 - any analysis failure means "no readable table"
            return False
        return True

    def missing_error(self) -> DeltaTableError:
        return DeltaTableError(
            f"Delta table '{self.name}' does not exist ({self.address.location}). Run the "
            "pipeline that writes it first (kedro run --pipeline <layer>) or check the "
            "catalog's table/root."
        )

    def delta_rs(self) -> Any:
        """The table as a ``deltalake.DeltaTable`` (path tables only)."""
        from deltalake import DeltaTable

        if self.address.path is None:
            raise DeltaTableError(f"{self.name}: a Unity Catalog table has no delta-rs path")
        try:
            return DeltaTable(self.address.path, storage_options=self._options())
        except Exception as exc:  # deltalake raises TableNotFoundError for missing tables
            if not DeltaTable.is_deltatable(self.address.path, self._options()):
                raise self.missing_error() from exc
            raise

    def _options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None

    # ------------------------------------------------------------------ read
    def read(
        self,
        version: int | None = None,
        timestamp: Any = None,
        options: Mapping[str, Any] | None = None,
    ) -> DataFrame:
        """The table as a DataFrame, at ``version`` or ``timestamp`` when given."""
        if not self.exists():
            raise self.missing_error()
        spark = self.engine.spark()
        as_of = timestamp_text(timestamp)
        if version is not None:
            self._check_version(int(version))
        if self.address.is_catalog:
            table_sql = self.address.sql_identifier()
            if version is not None:
                frame = spark.sql(f"SELECT * FROM {table_sql} VERSION AS OF {int(version)}")
            elif as_of is not None:
                frame = spark.sql(f"SELECT * FROM {table_sql} TIMESTAMP AS OF '{as_of}'")
            else:
                frame = spark.read.options(**dict(options or {})).table(self.address.catalog_name)
        else:
            reader = spark.read.format("delta")
            reader = reader.options(**{k: str(v) for k, v in (options or {}).items()})
            if version is not None:
                reader = reader.option("versionAsOf", int(version))
            if as_of is not None:
                reader = reader.option("timestampAsOf", as_of)
            frame = reader.load(self.address.path)
        return sail.with_session_time_zone(frame) if sail.applies(self.engine) else frame

    def _check_version(self, version: int) -> None:
        latest = self.version()
        if version < 0 or version > latest:
            raise DeltaTableError(
                f"Delta table '{self.name}' has no version {version} "
                f"(versions 0..{latest}); see DeltaTableDataset.history()"
            )

    def version(self) -> int:
        """The table's current version."""
        if self.delta_rs_reachable:
            return int(self.delta_rs().version())
        return int(self.history(1)[0]["version"])

    def preview(self, nrows: int = 10) -> dict[str, Any]:
        """First ``nrows`` rows as ``{"columns", "index", "data"}`` (kedro-viz's table preview).

        Path tables are read with delta-rs, so a preview never starts a Spark engine. Values are
        JSON-safe (timestamps as ISO 8601 text in UTC, dates as ``YYYY-MM-DD``).
        """
        if self.delta_rs_reachable:
            arrow = self.delta_rs().to_pyarrow_dataset().head(int(nrows))
            frame = _dates_as_text(arrow).to_pandas()
        else:
            frame = self.read().limit(int(nrows)).toPandas()
        return json.loads(frame.to_json(orient="split", date_format="iso", date_unit="us"))

    # ------------------------------------------------------------------ history, maintenance
    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The table's commits, newest first; ``timestamp`` in milliseconds since the epoch."""
        route = self._maintenance_route()
        if route == DELTA_RS:
            return [dict(entry) for entry in self.delta_rs().history(limit)]
        if not self.exists():
            raise self.missing_error()
        if route == DELTA_SPARK:
            frame = self._delta_spark().history(limit)
        else:
            statement = f"DESCRIBE HISTORY {self.address.sql_identifier()}"
            if limit is not None:
                statement += f" LIMIT {int(limit)}"
            frame = self.engine.spark().sql(statement)
        return [_history_entry(row.asDict(recursive=True)) for row in frame.collect()]

    def optimize(self, zorder_by: Sequence[str] = ()) -> dict[str, Any]:
        """Compact small files (``OPTIMIZE``), clustering by ``zorder_by`` when given."""
        route = self._maintenance_route()
        if route == DELTA_RS:
            optimizer = self.delta_rs().optimize
            metrics = optimizer.z_order(list(zorder_by)) if zorder_by else optimizer.compact()
            return {"engine": DELTA_RS, **metrics}
        if route == DELTA_SPARK:
            builder = self._delta_spark().optimize()
            result = (
                builder.executeZOrderBy(*zorder_by) if zorder_by else builder.executeCompaction()
            )
        else:
            zorder = f" ZORDER BY ({', '.join(zorder_by)})" if zorder_by else ""
            statement = f"OPTIMIZE {self.address.sql_identifier()}{zorder}"
            result = self.engine.spark().sql(statement)
        row = result.first()
        return {"engine": route, **(row.asDict(recursive=True) if row else {})}

    def vacuum(self, retention_hours: int | None = None) -> list[str] | None:
        """Delete files no version within ``retention_hours`` (default: the table's) needs.

        Returns the removed files where the engine says (delta-rs), else None.
        """
        route = self._maintenance_route()
        if route == DELTA_RS:
            return list(
                self.delta_rs().vacuum(
                    retention_hours=retention_hours,
                    dry_run=False,
                    enforce_retention_duration=retention_hours is None,
                )
            )
        if route == DELTA_SPARK:
            self._delta_spark().vacuum(retention_hours)
            return None
        retain = f" RETAIN {int(retention_hours)} HOURS" if retention_hours is not None else ""
        self.engine.spark().sql(f"VACUUM {self.address.sql_identifier()}{retain}").collect()
        return None

    def _maintenance_route(self) -> str:
        """delta-spark where the engine has the Delta API, else delta-rs where this process
        reaches the files (Sail has no history, OPTIMIZE or VACUUM), else the engine's SQL."""
        if self.engine.has_delta_api:
            return DELTA_SPARK
        if self.delta_rs_reachable:
            return DELTA_RS
        return SQL

    def _delta_spark(self) -> Any:
        from delta.tables import DeltaTable

        spark = self.engine.spark()
        if self.address.is_catalog:
            return DeltaTable.forName(spark, self.address.catalog_name)
        return DeltaTable.forPath(spark, self.address.path)


def _history_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A ``DESCRIBE HISTORY`` row shaped like delta-rs's entries (timestamp in ms)."""
    stamp = row.get("timestamp")
    if isinstance(stamp, dt.datetime):
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        row["timestamp"] = int(stamp.timestamp() * 1000)
    return row


def _dates_as_text(table: Any) -> Any:
    """Dates as ``YYYY-MM-DD`` (pandas' JSON would print them as midnight timestamps)."""
    import pyarrow as pa

    for index, field_ in enumerate(table.schema):
        if pa.types.is_date(field_.type):
            table = table.set_column(index, field_.name, table.column(index).cast(pa.string()))
    return table


def timestamp_text(value: Any) -> str | None:
    """A time-travel timestamp as ISO 8601 text with an explicit offset.

    A zone-less string would be read in the session zone by Spark and as UTC by Sail, so a
    ``datetime`` (YAML parses ``2024-05-01 10:00:00`` into one) is sent with its offset, and a
    naive one is taken as UTC on every engine.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00+00:00"
    return str(value)
