"""Kedro datasets of the project: Delta tables on any engine mode, and the landing zone."""

from nyc_lakehouse.datasets.delta_table import DeltaTableDataset, OptionalDeltaTableDataset
from nyc_lakehouse.datasets.landing_zone import LandingZoneDataset

__all__ = ["DeltaTableDataset", "LandingZoneDataset", "OptionalDeltaTableDataset"]
