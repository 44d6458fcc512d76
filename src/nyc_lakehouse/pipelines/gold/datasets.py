"""Datasets of gold's incremental build (:mod:`nyc_lakehouse.pipelines.gold.incremental`).

* :class:`MonthlyGoldDeltaTableDataset`: a published gold table that also saves a
  :class:`~nyc_lakehouse.pipelines.gold.incremental.MonthsRewrite` (those months replaced, one
  commit, through the Delta library's ``replace_where``), and a
  :class:`~nyc_lakehouse.pipelines.gold.incremental.PiecewiseOverwrite` (a full build in pieces);
* :class:`GoldBuildStateDataset`: read-only, what the next build starts from: the silver
  fingerprint of the latest publication, and the gold tables written since it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kedro.io import AbstractDataset
from kedro.io.core import DatasetError

from nyc_lakehouse.datasets.published_gold import (
    _RESOLVED,
    PUBLICATIONS_TABLE,
    PublishedDeltaTableDataset,
    _table,
    published_versions,
)
from nyc_lakehouse.delta import log, writes
from nyc_lakehouse.pipelines.gold.incremental import (
    FINGERPRINT_TABLE,
    MONTH_COLUMN,
    MONTHLY_311_TABLES,
    SILVER_311_TABLE,
    SILVER_VERSION,
    MonthsRewrite,
    PiecewiseOverwrite,
)

logger = logging.getLogger(__name__)


class MonthlyGoldDeltaTableDataset(PublishedDeltaTableDataset):
    """A gold table whose builder may hand over some months only (see the module docstring).

    A DataFrame is saved as by :class:`PublishedDeltaTableDataset` (the catalog's mode, an
    overwrite). A :class:`MonthsRewrite` replaces the rows of its months with its frame: a
    ``replaceWhere`` on the month (or date) column, so the other months' files are untouched;
    no months, no commit (the table's current version is what the run built).
    """

    def save(self, data: Any) -> None:
        if isinstance(data, PiecewiseOverwrite):
            self._save_pieces(data)
            return
        if not isinstance(data, MonthsRewrite):
            super().save(data)
            return
        started = time.perf_counter()
        table = self.table
        if not table.exists():
            raise DatasetError(
                f"{self.address.name} does not exist: an incremental build needs the table a "
                "full build wrote (run with full_refresh=true)"
            )
        if data.months:
            metrics = writes.replace_where(table, data.frame, data.predicate(), self.config.write)
        else:
            metrics = {"mode": "replace_where", "months": 0}
        metrics.update(months=len(data.months), seconds=round(time.perf_counter() - started, 3))
        self.last_save_metrics = metrics
        self._built_version = table.version()
        _RESOLVED[self.address.location] = self._built_version
        logger.info(
            "Saved Delta table %s (%d month(s)): %s", self.address.name, len(data.months), metrics
        )

    def _save_pieces(self, data: PiecewiseOverwrite) -> None:
        """The first piece overwrites the table (the catalog's mode), each other one appends:
        one commit per piece. Readers see none of them before the publication."""
        started = time.perf_counter()
        first, *rest = data.pieces
        super().save(first)
        for piece in rest:
            writes.write(self.table, piece, "append", self.config.write)
        self._built_version = self.table.version()
        _RESOLVED[self.address.location] = self._built_version
        metrics = {
            "mode": "overwrite",
            "pieces": len(data.pieces),
            "seconds": round(time.perf_counter() - started, 3),
        }
        self.last_save_metrics = metrics
        logger.info("Saved Delta table %s in pieces: %s", self.address.name, metrics)


class GoldBuildStateDataset(AbstractDataset[None, dict]):
    """Read-only: ``{"fingerprint": rows | None, "unpublished": [tables], "publication_id",
    "silver_version", "silver_changed_months"}``.

    ``fingerprint`` is ``gold.silver_311_fingerprint`` at the latest publication's version
    (``None`` before one lists it); ``unpublished`` names each table the build grows month by
    month (``incremental.MONTHLY_311_TABLES`` and the fingerprint) whose latest version is not
    the published one: a later run wrote it and did not publish. (The other gold tables are
    rewritten whole every run, so their unpublished versions do not matter; they may even be
    this run's, saved before this dataset is loaded.)

    ``silver_version`` is silver 311's current Delta version (``None`` where this process cannot
    read it); ``silver_changed_months`` the creation months whose files silver's commits since
    the version the published fingerprint describes added or removed (:mod:`nyc_lakehouse.delta.
    log`), or ``None`` when the log cannot tell: the plan then takes the whole fingerprint.
    """

    def __init__(
        self,
        root: str | None = None,
        table: str = f"gold.{FINGERPRINT_TABLE}",
        publications: str = PUBLICATIONS_TABLE,
        silver: str = SILVER_311_TABLE,
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._root = root
        self._name = table
        self._publications = publications
        self._silver = silver
        self._storage_options = {
            str(k): str(v) for k, v in {**(storage_options or {}), **(credentials or {})}.items()
        }
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"table": self._name, "publications": self._publications, "root": self._root}

    def load(self) -> dict[str, Any]:
        published = published_versions(
            _table(self._publications, self._root, self._storage_options)
        )
        versions: dict[str, int] = published["versions"]
        grown = {f"gold.{name}" for name in MONTHLY_311_TABLES} | {self._name}
        unpublished = []
        for name, version in sorted(versions.items()):
            if name not in grown:
                continue
            table = _table(name, self._root, self._storage_options)
            if not table.exists() or table.version() != version:
                unpublished.append(name)
        fingerprint = None
        if self._name in versions and self._name not in unpublished:
            state = _table(self._name, self._root, self._storage_options)
            fingerprint = [row.asDict() for row in state.read(versions[self._name]).collect()]
        silver_version, changed_months = self._silver_changes(fingerprint)
        return {
            "fingerprint": fingerprint,
            "unpublished": unpublished,
            "publication_id": published["publication_id"],
            "silver_version": silver_version,
            "silver_changed_months": changed_months,
        }

    def _silver_changes(
        self, fingerprint: list[dict[str, Any]] | None
    ) -> tuple[int | None, list[str | None] | None]:
        silver = _table(self._silver, self._root, self._storage_options)
        if not silver.delta_rs_reachable or not silver.exists():
            return None, None
        # Read before the plan scans silver: a commit landing in between is scanned now and
        # again by the next run (its months are listed twice), never missed.
        version = silver.version()
        built_from = {row.get(SILVER_VERSION) for row in fingerprint or []}
        if len(built_from) != 1 or None in built_from:
            return version, None
        (since,) = built_from
        changed = log.changed_partitions(silver, MONTH_COLUMN, int(since), version)
        if changed is None:
            return version, None
        return version, sorted(changed, key=lambda m: m or "")

    def save(self, data: dict) -> None:
        raise DatasetError(f"{type(self).__name__} is read-only")
