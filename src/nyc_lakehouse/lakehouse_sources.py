"""Which sources a lakehouse holds: 311, 911 or both (parameter ``sources``).

Each source is a branch of its own from ingestion to the dashboard. A source turned off
(``sources.nyc311: false``) is not ingested; every later layer builds what the other source
supports and says what is absent (a log warning, a dashboard note). A source that is on but has
no rows yet is treated the same way, so a new lakehouse, a 911-only one and a 311-only one all
run every pipeline. See docs/operations.md, "One source or both".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

SOURCES = ("nyc311", "nyc911")
LABELS = {"nyc311": "311 service requests", "nyc911": "911 end-to-end weekly times"}


def enabled_sources(config: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The sources turned on in ``config`` (the ``sources`` parameter); a missing key is on.

    An unknown name or a setting that is not true/false is an error naming the valid ones, and
    so is a configuration that turns every source off.
    """
    config = dict(config or {})
    unknown = sorted(set(config) - set(SOURCES))
    if unknown:
        raise ValueError(f"sources: unknown source(s) {unknown}; the sources are {list(SOURCES)}")
    for name, value in config.items():
        if not isinstance(value, bool):
            raise ValueError(f"sources.{name} must be true or false, got {value!r}")
    enabled = tuple(name for name in SOURCES if config.get(name, True))
    if not enabled:
        raise ValueError("sources: every source is turned off; turn on nyc311 or nyc911")
    return enabled


def is_enabled(source: str, config: Mapping[str, Any] | None) -> bool:
    return source in enabled_sources(config)


def warn_absent(source: str, what: str) -> None:
    """One log line, the same wherever a layer finds a source without data."""
    logger.warning(
        "No %s data (%s): %s. Each source stands alone; the other's tables are built as usual.",
        source,
        LABELS.get(source, source),
        what,
    )
