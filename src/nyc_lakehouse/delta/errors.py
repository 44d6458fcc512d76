"""The one exception the Delta library raises for a table it cannot read or write as asked."""

from __future__ import annotations


class DeltaTableError(Exception):
    """A Delta table operation refused or failed for a reason the caller can fix (bad config,
    missing table, rows that break the write's contract). Engine errors propagate unchanged."""
