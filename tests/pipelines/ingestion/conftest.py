"""Fixtures of the ingestion tests: the test server and an empty landing zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.socrata_server import socrata_server  # noqa: F401 (pytest fixture)
from nyc_lakehouse.landing import LandingZone


@pytest.fixture
def zone(tmp_path: Path) -> LandingZone:
    return LandingZone(str(tmp_path / "landing"))
