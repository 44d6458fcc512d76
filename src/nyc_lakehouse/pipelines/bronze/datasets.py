"""A small dataset the bronze pipeline waits on (its Delta state is read through
:class:`nyc_lakehouse.datasets.OptionalDeltaTableDataset`).

* :class:`RunSummaryDataset`: a small JSON document (the ingestion run summary bronze waits for),
  saved atomically; loads ``{}`` when no ingestion ran yet, so ``kedro run --pipeline bronze``
  works on its own.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from typing import Any

import fsspec
from kedro.io import AbstractDataset


class RunSummaryDataset(AbstractDataset[dict, dict]):
    """A JSON object at ``filepath`` (local or fsspec URL); ``{}`` when the file doesn't exist."""

    def __init__(
        self,
        filepath: str,
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = filepath
        options = {**(storage_options or {}), **(credentials or {})}
        self._fs, self._path = fsspec.core.url_to_fs(filepath, **options)
        self._atomic_rename = "://" not in filepath or filepath.startswith("file://")
        self.metadata = metadata

    def load(self) -> dict:
        if not self._fs.exists(self._path):
            return {}
        with self._fs.open(self._path, "r") as handle:
            return json.load(handle)

    def save(self, data: dict) -> None:
        payload = json.dumps(data, indent=2, sort_keys=True, default=str)
        folder = posixpath.dirname(self._path)
        self._fs.makedirs(folder, exist_ok=True)
        if not self._atomic_rename:  # object stores: one PUT is atomic
            with self._fs.open(self._path, "w") as handle:
                handle.write(payload)
            return
        tmp = posixpath.join(folder, f".{posixpath.basename(self._path)}.{uuid.uuid4().hex}.tmp")
        with self._fs.open(tmp, "w") as handle:
            handle.write(payload)
        self._fs.mv(tmp, self._path)

    def _exists(self) -> bool:
        return bool(self._fs.exists(self._path))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}
