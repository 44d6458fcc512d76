"""Fixtures of the reporting tests: a small gold layer on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gold_sample import write_gold_sample  # noqa: E402


@pytest.fixture
def gold_sample(data_root: Path) -> dict:
    """Sample gold tables written under the test's lakehouse root."""
    return write_gold_sample(data_root)
