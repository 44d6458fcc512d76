"""Delta table dataset (MINIMAL PLACEHOLDER: being replaced by the full implementation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from nyc_lakehouse import spark as engine


class DeltaTableDataset(AbstractDataset[Any, Any]):
    def __init__(
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
        if path is None:
            schema, name = table.split(".")
            path = f"{root or 'data'}/{schema}/{name}"
        self._path = str(Path(path).resolve())
        self._table = table
        self._load_args = load_args or {}
        self._save_args = save_args or {}
        self.metadata = metadata

    def load(self) -> Any:
        return engine.get_spark().read.format("delta").load(self._path)

    def save(self, data: Any) -> None:
        mode = self._save_args.get("mode", "overwrite")
        data.write.format("delta").mode(mode).option("mergeSchema", "true").save(self._path)

    def _exists(self) -> bool:
        return (Path(self._path) / "_delta_log").exists()

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "table": self._table, "save_args": self._save_args}
