"""Kedro dataset for the project's Delta tables, on every engine mode.

A thin layer over the Delta library (:mod:`nyc_lakehouse.delta`): the catalog entry becomes a
validated :class:`~nyc_lakehouse.datasets.delta_config.DeltaTableConfig` at construction, and
each save mode, the preview and the history are one short method over the library.

Why not kedro-datasets: its ``spark.DeltaTableDataset`` is read-only and fails under Spark
Connect, and ``spark.SparkDataset.exists()`` is always true under Spark Connect (reads are lazy).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset
from kedro.io.core import DatasetError

from nyc_lakehouse import spark as engine
from nyc_lakehouse.datasets.delta_config import SAVE_MODES, DeltaTableConfig
from nyc_lakehouse.delta import DeltaTableError, Engine, Table, TableAddress, first_load, writes
from nyc_lakehouse.delta.identity import with_identity
from nyc_lakehouse.delta.linked_files import LandingFilesAppend, append_files
from nyc_lakehouse.delta.upsert import upsert

if TYPE_CHECKING:
    from kedro_datasets._typing import TablePreview
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

__all__ = ["SAVE_MODES", "DeltaTableDataset", "OptionalDeltaTableDataset"]


@contextlib.contextmanager
def _as_dataset_error() -> Iterator[None]:
    """The library's refusals as Kedro's error type (load/save wrap them already)."""
    try:
        yield
    except DeltaTableError as exc:
        raise DatasetError(str(exc)) from exc


def _remote_has_delta_api() -> bool:
    return engine.engine_family() == "spark"


class DeltaTableDataset(AbstractDataset["DataFrame", "DataFrame"]):
    """A Delta table loaded and saved as a Spark DataFrame.

    Example ``catalog.yml`` entry::

        silver.nyc311_service_requests:
          type: nyc_lakehouse.datasets.DeltaTableDataset
          table: silver.nyc311_service_requests
          root: ${globals:lakehouse_root}      # data | s3://bucket/lakehouse | uc://nyc
          save_args:
            mode: upsert
            keys: [unique_key]
            sequence_column: source_updated_at
            partition_by: [created_month]

    Args:
        table: ``"<schema>.<name>"``; the table is ``<root>/<schema>/<name>`` or, when ``root``
            is ``uc://<catalog>``, the Unity Catalog table ``<catalog>.<schema>.<name>``.
        root: Lakehouse root: a local folder (relative to the working directory), an object
            store URI, or ``uc://<catalog>``. Defaults to ``data``.
        path: An explicit table location; wins over ``table`` + ``root``.
        load_args: ``version`` (int) or ``timestamp`` (text or date-time) for time travel;
            ``options`` (Spark reader options).
        save_args: ``mode`` (``overwrite`` default, ``append``, ``replace_where``,
            ``overwrite_partitions``, ``upsert``) and the keys of that mode; every key is
            described in docs/delta.md and checked by
            :class:`~nyc_lakehouse.datasets.delta_config.DeltaTableConfig`.
        storage_options: Object store options for delta-rs (``s3://`` roots on Sail).
        credentials: Merged into ``storage_options`` (Kedro credentials).
        metadata: Free-form metadata (kedro-viz ``layer``, ``preview_args``...).
    """

    # A subclass sets it to make an upsert replace the table with the batch's latest versions
    # (a replay): deduplicated exactly as an upsert, then one atomic overwrite.
    _replace_on_upsert = False

    def __init__(  # noqa: PLR0913 - Kedro passes catalog keys as keyword arguments
        self,
        table: str | None = None,
        root: str | None = None,
        path: str | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        self.config = DeltaTableConfig.from_args(
            table, root, path, self._load_args, self._save_args, self._replace_on_upsert
        )
        self._storage_options = {
            str(k): str(v) for k, v in {**(storage_options or {}), **(credentials or {})}.items()
        }
        self.metadata = metadata
        self.last_save_metrics: dict[str, Any] = {}

    @property
    def address(self) -> TableAddress:
        """Where the table lives (path or Unity Catalog name)."""
        return self.config.address

    @property
    def table(self) -> Table:
        """The table on the engine mode in use now (tests and notebooks switch modes)."""
        current = Engine(engine.current_mode(), engine.get_spark, _remote_has_delta_api)
        return Table(self.config.address, current, self._storage_options)

    def _describe(self) -> dict[str, Any]:
        return {
            "table": self.address.name,
            # kedro-viz shows "filepath": the location, or the Unity Catalog name.
            "filepath": self.address.location,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }

    # ------------------------------------------------------------------ read
    def _exists(self) -> bool:
        return self.table.exists()

    def load(self) -> DataFrame:
        config = self.config
        return self.table.read(config.version, config.timestamp, config.read_options)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The table's commits, newest first (through the engine where it has the Delta API)."""
        with _as_dataset_error():
            return self.table.history(limit)

    def version(self) -> int:
        """The table's current version."""
        with _as_dataset_error():
            return self.table.version()

    def preview(self, nrows: int = 10) -> TablePreview:
        """First ``nrows`` rows for kedro-viz, JSON-safe; never starts an engine for a path."""
        with _as_dataset_error():
            table = self.table
            if not table.exists():
                raise table.missing_error()
            return table.preview(nrows)

    def optimize(self, zorder_by: list[str] | None = None) -> dict[str, Any]:
        """Compact small files (``OPTIMIZE``), Z-ordered by ``zorder_by`` when given."""
        with _as_dataset_error():
            return self.table.optimize(tuple(zorder_by or ()))

    def vacuum(self, retention_hours: int | None = None) -> list[str] | None:
        """Delete files no version within the retention needs (``VACUUM``)."""
        with _as_dataset_error():
            return self.table.vacuum(retention_hours)

    # ------------------------------------------------------------------ save
    def save(self, data: DataFrame) -> None:
        started = time.perf_counter()
        mode = self.config.mode
        metrics: dict[str, Any] | None = None
        if isinstance(data, LandingFilesAppend):
            metrics = append_files(self.table, data) if self.config.link_files else None
            data = data.frame
        if metrics is None:
            data = self._to_spark(data)
            if self.config.first_load_of is None:
                data = with_identity(data, self.config.identity)
            metrics = getattr(self, f"_save_{mode}")(data)
        metrics["seconds"] = round(time.perf_counter() - started, 3)
        self.last_save_metrics = metrics
        logger.info("Saved Delta table %s (%s): %s", self.address.name, mode, metrics)

    def _save_overwrite(self, data: DataFrame) -> dict[str, Any]:
        layout = self.config.first_load_of
        if layout is not None:
            return first_load.overwrite_increment(
                self.table, data, layout, self.config.identity, self.config.write
            )
        return writes.overwrite(self.table, data, self.config.write)

    def _save_append(self, data: DataFrame) -> dict[str, Any]:
        return writes.append(self.table, data, self.config.write)

    def _save_replace_where(self, data: DataFrame) -> dict[str, Any]:
        return writes.replace_where(self.table, data, str(self.config.predicate), self.config.write)

    def _save_overwrite_partitions(self, data: DataFrame) -> dict[str, Any]:
        return writes.overwrite_partitions(self.table, data, self.config.write)

    def _save_upsert(self, data: DataFrame) -> dict[str, Any]:
        assert self.config.upsert is not None  # the config requires keys for mode upsert
        return upsert(self.table, data, self.config.upsert, self.config.write)

    def _to_spark(self, data: Any) -> DataFrame:
        # On the class: `schema` on a Spark Connect DataFrame is an analyze round trip.
        if all(hasattr(type(data), a) for a in ("write", "schema", "toArrow")):
            return data
        module = type(data).__module__
        if module.startswith(("pandas", "pyarrow")):
            return self.table.engine.spark().createDataFrame(data)
        raise DatasetError(
            f"{self.address.name}: can only save a Spark DataFrame (or pandas / Arrow table), "
            f"got {type(data).__name__}"
        )


class OptionalDeltaTableDataset(DeltaTableDataset):
    """A read-only view of a Delta table whose ``load()`` returns ``None`` while it doesn't exist.

    Pipelines read their own state through it (which landing files bronze holds, which bronze
    batches silver processed) under a second catalog name, because a Kedro node cannot read and
    write the same dataset, and because on the first run there is no state yet.
    """

    def load(self) -> Any:
        return super().load() if self._exists() else None

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"{type(self).__name__} is read-only: write the table through its own catalog entry"
        )
