"""Variants of the project's Delta dataset that the silver pipeline needs.

* :class:`RefreshableDeltaTableDataset`: upserts normally; when its ``full_refresh`` argument is
  true (``${runtime_params:full_refresh, false}`` in the catalog) it keeps the latest version of
  each key exactly as an upsert does, then overwrites the table in one Delta commit, so a replay
  rebuilds silver from all of bronze, dropping whatever a bad run left behind. Overwrite is
  atomic: readers see the old table until the new one commits.
* :class:`RunAppendDeltaTableDataset`: an append-only table of per-run rows (the quarantines,
  ``monitoring.dq_results``) that takes :class:`RunRows`: this run's rows, appended after the
  rows of interrupted runs are deleted (runs that appended, then ended before silver's ledger
  recorded them: see ``pipelines/silver/ledger.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.delta import writes
from nyc_lakehouse.delta.address import quote_identifier
from nyc_lakehouse.delta.sql import sql_literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

_UPSERT_ONLY_ARGS = ("keys", "sequence_column", "tiebreak_columns")


class RefreshableDeltaTableDataset(DeltaTableDataset):
    """A Delta table written with ``save_args`` (upsert), or overwritten on a full refresh."""

    def __init__(
        self,
        *,
        full_refresh: bool | str = False,
        save_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._full_refresh = _as_bool(full_refresh)
        save_args = dict(save_args or {})
        if self._full_refresh and save_args.get("mode") != "upsert":
            save_args = {k: v for k, v in save_args.items() if k not in _UPSERT_ONLY_ARGS}
            save_args["mode"] = "overwrite"
        self._replace_on_upsert = self._full_refresh
        super().__init__(save_args=save_args, **kwargs)

    @property
    def full_refresh(self) -> bool:
        return self._full_refresh


@dataclass(frozen=True)
class RunRows:
    """One run's rows for an append-only table, and the interrupted runs whose rows they replace."""

    frame: DataFrame
    run_id: str
    replaces: tuple[str, ...] = ()


class RunAppendDeltaTableDataset(DeltaTableDataset):
    """An append-only Delta table of per-run rows (``run_column`` names the run).

    ``save`` takes a DataFrame (appended) or :class:`RunRows`: the rows of the runs it replaces
    are deleted (one commit), then this run's rows are appended (another). A crash between the
    two loses nothing: those runs' files are not in silver's ledger, so the next run checks them
    again and appends their rows then. A plain append when nothing is replaced keeps the usual
    run (no interrupted runs) to one cheap commit.
    """

    def __init__(self, *, run_column: str = "run_id", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run_column = run_column

    def save(self, data: Any) -> None:
        if not isinstance(data, RunRows):
            super().save(data)
            return
        if data.replaces and self._exists():
            runs = ", ".join(sql_literal(run) for run in data.replaces)
            predicate = f"{quote_identifier(self._run_column)} IN ({runs})"
            metrics = writes.delete(self.table, predicate)
            logger.info(
                "Deleted the rows of interrupted runs from %s: %s", self.address.name, metrics
            )
        super().save(data.frame)


def _as_bool(value: bool | str | None) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "y"):
            return True
        if lowered in ("false", "0", "no", "n", ""):
            return False
        raise ValueError(f"full_refresh={value!r}: expected true or false")
    return bool(value)
