"""Calendar fields of timestamps in the session time zone, on every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column


def in_session_time_zone(column: Column) -> Column:
    """The same instant, with calendar fields (hour, date, month...) in the session time zone.

    Sail 0.7.2 evaluates ``hour``/``to_date``/``date_format``/``dayofweek`` of a timestamp read
    back from a **Delta** table in UTC, ignoring the session time zone (freshly parsed values and
    Parquet reads use it): 23:10 New York time came back as hour 3 of the next day. A cast to
    ``timestamp_ltz`` (the same type in Spark, so the same instant) makes Sail tag the value with
    the session zone, far cheaper than rendering the value as UTC text and parsing it back in
    the session zone. Only needed on Sail; Spark and Databricks use the session zone.
    """
    from nyc_lakehouse import spark as engine

    if engine.current_mode() != "sail":
        return column
    return column.cast("timestamp_ltz")


def local_date(column: Column) -> Column:
    """The session-time-zone calendar date of a timestamp column (see :func:`in_session_time_zone`)."""
    from pyspark.sql import functions as F

    return F.to_date(in_session_time_zone(column))
