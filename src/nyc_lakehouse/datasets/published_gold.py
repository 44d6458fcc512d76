"""Gold published whole: readers see one complete, tested set of gold table versions.

The gold pipeline overwrites its tables one by one, so between two saves (or after a crash) the
latest versions mix two builds. Readers therefore never read "latest": the gold pipeline's last
node, after the data tests pass, records ONE publication - every gold table with the Delta
version the tests saw - as a single append commit to ``monitoring.gold_publications`` (a Delta
commit is atomic, so a publication is all there or absent). :class:`PublishedDeltaTableDataset`
reads a gold table at the version of the latest publication (``versionAsOf`` on every engine,
``VERSION AS OF`` on Unity Catalog), except inside the run that builds it: a dataset instance
that saved the table reads back the version it wrote, so the gold nodes and the data tests see
the new build. Before the first publication, and for gold-schema tables no publication lists
(analytics, ML features), reads are of the latest version.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kedro.io.core import DatasetError

from nyc_lakehouse import spark as engine
from nyc_lakehouse.datasets.delta_table import DeltaTableDataset, _remote_has_delta_api
from nyc_lakehouse.delta import Engine, Table
from nyc_lakehouse.delta.address import resolve_address

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

PUBLICATIONS_TABLE = "monitoring.gold_publications"
PUBLICATION_COLUMNS = (
    "publication_id STRING, run_id STRING, published_at TIMESTAMP, "
    "table_name STRING, table_version BIGINT"
)

# Table location -> the version this process last read or wrote through a gold dataset. The
# gold data tests load every gold table right before the publication node, so at publication
# time it holds exactly the versions the tests passed on.
_RESOLVED: dict[str, int] = {}


def _table(name: str, root: str | None, storage_options: Mapping[str, str]) -> Table:
    current = Engine(engine.current_mode(), engine.get_spark, _remote_has_delta_api)
    return Table(resolve_address(name, root, None), current, storage_options)


def published_versions(publications: Table) -> dict[str, Any]:
    """The latest publication: ``{"publication_id", "run_id", "published_at", "versions"}``.

    ``versions`` maps ``gold.<table>`` to its Delta version; empty before the first publication.
    """
    from pyspark.sql import functions as F  # noqa: N812 - Spark's usual alias

    if not publications.exists():
        return {"publication_id": None, "run_id": None, "published_at": None, "versions": {}}
    frame = publications.read()
    latest = frame.orderBy(F.desc("published_at"), F.desc("publication_id")).limit(1)
    rows = (
        frame.join(latest.select("publication_id"), "publication_id")
        .select("publication_id", "run_id", "published_at", "table_name", "table_version")
        .collect()
    )
    if not rows:
        return {"publication_id": None, "run_id": None, "published_at": None, "versions": {}}
    return {
        "publication_id": rows[0]["publication_id"],
        "run_id": rows[0]["run_id"],
        "published_at": rows[0]["published_at"],
        "versions": {row["table_name"]: int(row["table_version"]) for row in rows},
    }


class PublishedDeltaTableDataset(DeltaTableDataset):
    """A gold Delta table read at its published version (see the module docstring).

    Saves are those of :class:`DeltaTableDataset` (a new version, never seen by readers until
    it is published). ``load_args.version`` / ``timestamp``, when given, win over the
    publication (explicit time travel).

    Args:
        publications: The publications table (``<schema>.<name>`` under the same root);
            defaults to ``monitoring.gold_publications``.
        Other arguments: those of :class:`DeltaTableDataset`.
    """

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
        publications: str = PUBLICATIONS_TABLE,
    ) -> None:
        super().__init__(
            table, root, path, load_args, save_args, storage_options, credentials, metadata
        )
        self._root = root
        self._publications = publications
        self._built_version: int | None = None

    @property
    def publications(self) -> Table:
        return _table(self._publications, self._root, self._storage_options)

    def published_version(self) -> int | None:
        """The version of the latest publication, or None (never published, or not listed)."""
        return published_versions(self.publications)["versions"].get(self.address.name)

    def resolved_version(self) -> int | None:
        """What :meth:`load` reads: the version this instance built, else the published one,
        else None (the latest)."""
        if self.config.version is not None or self.config.timestamp is not None:
            return self.config.version
        if self._built_version is not None:
            return self._built_version
        return self.published_version()

    def load(self) -> DataFrame:
        config = self.config
        if config.version is not None or config.timestamp is not None:
            return super().load()
        version = self.resolved_version()
        table = self.table
        if version is None:
            if not table.exists():
                raise table.missing_error()
            version = table.version()
        _RESOLVED[self.address.location] = version
        return table.read(version, None, config.read_options)

    def save(self, data: DataFrame) -> None:
        super().save(data)
        self._built_version = self.table.version()
        _RESOLVED[self.address.location] = self._built_version


class GoldPublicationsDeltaTableDataset(DeltaTableDataset):
    """``monitoring.gold_publications``: one row per gold table per publication (append).

    Saved from a request ``{"tables": [...], "run_id": ...}``: each table's version is the one
    this run's gold datasets last read or wrote (the data tests read them all just before), and
    all rows go in one append commit, so a publication is atomic.
    """

    def save(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            super().save(data)
            return
        tables: Sequence[str] = list(data["tables"])
        versions: dict[str, int] = {}
        for name in tables:
            location = resolve_address(name, self._root, None)
            if location.location not in _RESOLVED:
                raise DatasetError(
                    f"Cannot publish gold: {name} was not read or built in this run, so its "
                    "tested version is unknown (run the whole gold pipeline)"
                )
            versions[name] = _RESOLVED[location.location]
        publication_id = uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        run_id = str(data.get("run_id") or publication_id)
        rows = [(publication_id, run_id, now, name, versions[name]) for name in sorted(versions)]
        frame = self.table.engine.spark().createDataFrame(rows, schema=PUBLICATION_COLUMNS)
        super().save(frame)
        logger.info(
            "Published gold %s (run %s): %s",
            publication_id,
            run_id,
            ", ".join(f"{name}@v{version}" for name, version in sorted(versions.items())),
        )

    def __init__(  # noqa: PLR0913 - Kedro passes catalog keys as keyword arguments
        self,
        table: str | None = PUBLICATIONS_TABLE,
        root: str | None = None,
        path: str | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        save_args = {"mode": "append", **(save_args or {})}
        super().__init__(
            table, root, path, load_args, save_args, storage_options, credentials, metadata
        )
        self._root = root
