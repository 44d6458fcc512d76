"""Kedro datasets of the project: Delta tables on any engine mode, the landing zone, the dashboard."""

from nyc_lakehouse.datasets.dashboard_html import DashboardHTMLDataset
from nyc_lakehouse.datasets.delta_table import DeltaTableDataset, OptionalDeltaTableDataset
from nyc_lakehouse.datasets.landing_zone import LandingZoneDataset
from nyc_lakehouse.datasets.published_gold import (
    GoldPublicationsDeltaTableDataset,
    PublishedDeltaTableDataset,
)

__all__ = [
    "DashboardHTMLDataset",
    "DeltaTableDataset",
    "GoldPublicationsDeltaTableDataset",
    "LandingZoneDataset",
    "OptionalDeltaTableDataset",
    "PublishedDeltaTableDataset",
]
