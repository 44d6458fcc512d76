"""Calendar fields of timestamps in the session time zone, on every engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

_UTC_TEXT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"


def in_session_time_zone(column: Column) -> Column:
    """The same instant, with calendar fields (hour, date, month...) in the session time zone.

    Sail 0.7.2 evaluates ``hour``/``to_date``/``date_format``/``dayofweek`` of a timestamp read
    back from a **Delta** table in UTC, ignoring the session time zone (freshly parsed values and
    Parquet reads use it): 23:10 New York time came back as hour 3 of the next day. Rendering
    the instant as UTC text and parsing it again yields a session-zone value on every input.
    Only needed (and only correct) on Sail; Spark and Databricks always use the session zone.
    """
    from pyspark.sql import functions as F

    from nyc_lakehouse import spark as engine

    if engine.current_mode() != "sail":
        return column
    as_utc = F.timestamp_micros(F.unix_micros(column))
    return F.try_to_timestamp(F.date_format(as_utc, _UTC_TEXT_FORMAT))


def local_date(column: Column) -> Column:
    """The session-time-zone calendar date of a timestamp column (see :func:`in_session_time_zone`)."""
    from pyspark.sql import functions as F

    return F.to_date(in_session_time_zone(column))
