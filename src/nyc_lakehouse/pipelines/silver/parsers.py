"""Parsers from landing strings to typed values, as Spark column expressions.

Every parser returns a value or null, never raises: each one first checks the string's shape
with an anchored regex (``[0-9]``, not ``\\d``, which also matches non-ASCII digits), then uses a
``try_`` function. :func:`parse_errors` turns "had a value, parsed to null" into a flag (the names
of the fields that did not parse), so a bad string becomes null *and* is counted by a rule.

Timestamps: the 311 dates are floating New York local times; they are parsed in the session time
zone, which the project sets to ``America/New_York``. Socrata's ``:updated_at`` carries a ``Z``
(UTC) and is parsed as such. Years are limited to 1900-2999 so no parsed value falls outside
what every client (Python's ``datetime`` included) can represent, while a far-future date
(a real defect: closed in 2105) still parses and is caught by the future-date rule.

Each parser trims its input first; ``trimmed=True`` skips that for input that ``clean_string``
already trimmed. Each parser refers to its input only a few times: Sail inlines a column's
expression into every later reference, so parsers that nest or repeat themselves make plans
grow multiplicatively.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

_YEAR = "(19|2[0-9])[0-9]{2}"
_TIME = "[0-9]{2}:[0-9]{2}:[0-9]{2}"
# 2024-05-27T02:08:51.000 (API) and 2024-05-27 02:08:51 (SQL-style exports)
ISO_LOCAL_PATTERN = f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}[T ]{_TIME}(\\.[0-9]{{1,9}})?$"
# 2024-05-27T06:08:51.123Z (Socrata system fields, UTC)
ISO_UTC_PATTERN = f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}T{_TIME}(\\.[0-9]{{1,9}})?Z$"
# 02/28/2023 11:31:05 PM (the portal's web export)
US_DATETIME_PATTERN = f"^[0-9]{{2}}/[0-9]{{2}}/{_YEAR} [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}} [AP]M$"
US_DATE_PATTERN = f"^[0-9]{{2}}/[0-9]{{2}}/{_YEAR}$"
ISO_DATE_PATTERN = f"^{_YEAR}-[0-9]{{2}}-[0-9]{{2}}$"
# Plain decimal numbers: sign, digits, optional fraction, optional exponent. No NaN/Infinity,
# and the sizes are capped (200 integer digits, positive exponent <= 99) so a match can never
# overflow to infinity: the parsed value is used as is, without a second look (see module doc).
DECIMAL_PATTERN = "^[+-]?([0-9]{1,200}([.][0-9]*)?|[.][0-9]+)([eE]([+]?[0-9]{1,2}|-[0-9]{1,3}))?$"
# Integers, with or without thousands separators ("8881", "8,881"); at most 18 digits.
INTEGER_PATTERN = "^[+-]?([0-9]{1,18}|[0-9]{1,3}(,[0-9]{3}){1,5})$"
DECIMAL_WITH_SEPARATORS_PATTERN = (
    "^[+-]?([0-9]{1,200}|[0-9]{1,3}(,[0-9]{3}){1,60})([.][0-9]+)?$|^[+-]?[.][0-9]+$"
)
ZIP_PATTERN = "^([0-9]{5})(-?[0-9]{4})?$"


def _text(column: Column, trimmed: bool) -> Column:
    """``column`` as text, trimmed unless the caller says it already is (``clean_string``
    output: trimming it again would be a second pass over every value for nothing)."""
    from pyspark.sql import functions as F

    text = column.cast("string")
    return text if trimmed else F.trim(text)


def clean_string(column: Column, null_placeholders: Iterable[str] = ()) -> Column:
    """Trim; empty strings and placeholder values (compared case-insensitively) become null."""
    from pyspark.sql import functions as F

    trimmed = F.trim(column.cast("string"))
    placeholders = sorted({p.strip().upper() for p in null_placeholders} | {""})
    return F.when(F.upper(trimmed).isin(placeholders), F.lit(None).cast("string")).otherwise(
        trimmed
    )


def parse_timestamp(column: Column, *, trimmed: bool = False) -> Column:
    """A 311 timestamp: ISO local (NYC floating), ISO with ``Z`` (UTC) or US web-export style."""
    from pyspark.sql import functions as F

    value = _text(column, trimmed)
    return (
        # Wall-clock text to timestamp_ntz, then to the session zone's instant: the same value
        # as parsing the text in the session zone, and cheaper per value.
        F.when(
            value.rlike(ISO_LOCAL_PATTERN),
            value.try_cast("timestamp_ntz").cast("timestamp"),
        )
        .when(value.rlike(ISO_UTC_PATTERN), F.try_to_timestamp(value))
        .when(
            value.rlike(US_DATETIME_PATTERN),
            F.try_to_timestamp(value, F.lit("MM/dd/yyyy hh:mm:ss a")),
        )
        .otherwise(F.lit(None).cast("timestamp"))
    )


def parse_date(column: Column, *, trimmed: bool = False) -> Column:
    """A calendar date: ``MM/DD/YYYY`` (export), ``YYYY-MM-DD`` or an ISO midnight timestamp."""
    from pyspark.sql import functions as F

    value = _text(column, trimmed)
    return (
        F.when(
            value.rlike(US_DATE_PATTERN),
            F.to_date(F.try_to_timestamp(value, F.lit("MM/dd/yyyy"))),
        )
        .when(
            value.rlike(ISO_DATE_PATTERN),
            F.to_date(F.try_to_timestamp(value, F.lit("yyyy-MM-dd"))),
        )
        .when(value.rlike(ISO_LOCAL_PATTERN), F.to_date(parse_timestamp(value, trimmed=True)))
        .otherwise(F.lit(None).cast("date"))
    )


def parse_double(column: Column, *, trimmed: bool = False) -> Column:
    """A finite decimal number; anything else (text, NaN, Infinity, too large) is null."""
    from pyspark.sql import functions as F

    value = _text(column, trimmed)
    return F.when(value.rlike(DECIMAL_PATTERN), value.try_cast("double")).otherwise(
        F.lit(None).cast("double")
    )


def parse_double_with_separators(column: Column, *, trimmed: bool = False) -> Column:
    """A decimal number that may carry thousands separators (``"1,234.5"``)."""
    from pyspark.sql import functions as F

    value = _text(column, trimmed)
    return F.when(
        value.rlike(DECIMAL_WITH_SEPARATORS_PATTERN),
        F.regexp_replace(value, ",", "").try_cast("double"),
    ).otherwise(F.lit(None).cast("double"))


def parse_bigint(column: Column, *, trimmed: bool = False) -> Column:
    """An integer, optionally with thousands separators (``"8,881"``); null otherwise."""
    from pyspark.sql import functions as F

    value = _text(column, trimmed)
    return F.when(
        value.rlike(INTEGER_PATTERN), F.replace(value, F.lit(","), F.lit("")).try_cast("bigint")
    ).otherwise(F.lit(None).cast("bigint"))


def parse_zip(column: Column, *, trimmed: bool = False) -> Column:
    """A 5-digit ZIP string (ZIP+4 is cut to 5 digits); ``00000`` and anything else are null."""
    from pyspark.sql import functions as F

    value = _text(column, trimmed)
    # Where the pattern matches, its first group is the first five characters: a slice, not a
    # second regex, which would cost as much as the match again.
    five = F.left(value, F.lit(5))
    return F.when(value.rlike(ZIP_PATTERN) & (five != F.lit("00000")), five).otherwise(
        F.lit(None).cast("string")
    )


def parse_errors(pairs: Mapping[str, tuple[Column, Column]]) -> Column:
    """Names of the fields that had a value but parsed to null: ``{name: (raw, parsed)}``."""
    from pyspark.sql import functions as F

    empty = F.array().cast("array<string>")
    if not pairs:
        return empty
    failed = {name: raw.isNotNull() & parsed.isNull() for name, (raw, parsed) in pairs.items()}
    names = F.array_compact(F.array(*[F.when(c, F.lit(name)) for name, c in failed.items()]))
    any_failed = functools.reduce(operator.or_, failed.values())
    # The array only on the rows where a field failed (few): building and compacting one on
    # every row would be work for nothing on nearly all of them.
    return F.when(any_failed, names).otherwise(empty)
