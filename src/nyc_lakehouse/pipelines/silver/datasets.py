"""A variant of the project's Delta dataset that the silver pipeline needs.

* :class:`RefreshableDeltaTableDataset`: upserts normally; when its ``full_refresh`` argument is
  true (``${runtime_params:full_refresh, false}`` in the catalog) it keeps the latest version of
  each key exactly as an upsert does, then overwrites the table in one Delta commit, so a replay
  rebuilds silver from all of bronze, dropping whatever a bad run left behind. Overwrite is
  atomic: readers see the old table until the new one commits.
"""

from __future__ import annotations

from typing import Any

from nyc_lakehouse.datasets import DeltaTableDataset

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


def _as_bool(value: bool | str | None) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "y"):
            return True
        if lowered in ("false", "0", "no", "n", ""):
            return False
        raise ValueError(f"full_refresh={value!r}: expected true or false")
    return bool(value)
