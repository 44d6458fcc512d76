"""Kedro dataset that hands nodes a :class:`~nyc_lakehouse.landing.LandingZone`."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset

from nyc_lakehouse.landing import LandingZone


class LandingZoneDataset(AbstractDataset[None, LandingZone]):
    """The landing zone root (local folder or ``s3://...``) as a :class:`LandingZone` object.

    Ingestion nodes write batches through it and bronze nodes list committed batches; saving
    is not supported because batches are committed one by one, atomically, by the writer.
    """

    def __init__(
        self,
        root: str,
        storage_options: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._root = root
        self._storage_options = {**(storage_options or {}), **(credentials or {})}
        self.metadata = metadata

    def load(self) -> LandingZone:
        return LandingZone(self._root, self._storage_options)

    def save(self, data: None) -> None:
        raise NotImplementedError("Batches are committed by LandingZone.open_batch(...).commit()")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"root": self._root}
