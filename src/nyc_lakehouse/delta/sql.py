"""The SQL text the Delta writers build: literals, partition predicates and MERGE statements.

Pure: no Spark, no I/O, so the text of every statement (including the Unity Catalog one that
cannot run on a laptop) is unit-tested; the same text runs for real in the contract tests.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from nyc_lakehouse.delta.address import quote_identifier
from nyc_lakehouse.delta.errors import DeltaTableError


def sql_literal(value: Any, dialect: str = "spark") -> str:
    """A SQL literal for a partition value in ``dialect`` ``spark`` or ``datafusion`` (delta-rs).

    The dialects differ only in quoting inside strings: Spark escapes with a backslash (it
    reads ``'a''b'`` as two adjacent literals, ``ab``), DataFusion doubles the quote.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DeltaTableError(f"Cannot use {value!r} as a partition value in a predicate")
        return repr(value)
    if isinstance(value, dt.datetime):
        raise DeltaTableError(
            "Timestamp partition columns are not supported (their literals depend on the "
            "session time zone): partition by a date or a string such as 'YYYY-MM'"
        )
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        if dialect == "datafusion":
            return "'" + value.replace("'", "''") + "'"
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise DeltaTableError(f"Unsupported partition value type {type(value).__name__}: {value!r}")


def partition_predicate(
    columns: Sequence[str],
    values: Iterable[Sequence[Any]],
    alias: str | None = None,
    dialect: str = "spark",
) -> str:
    """A predicate selecting exactly the given partition value combinations, as literals.

    One column: ``p IN ('a', 'b')`` (``OR p IS NULL`` for a null partition). Several:
    ``(p = 'a' AND q = 1) OR (...)``. Literals, not a join on the source, because only literal
    predicates let Sail and delta-rs prune the target's files before reading them.
    """
    prefix = f"{alias}." if alias else ""
    cols = [prefix + quote_identifier(c) for c in columns]
    combos = sorted({tuple(v) for v in values}, key=lambda combo: tuple(map(repr, combo)))
    if not combos:
        raise DeltaTableError("No partition values: nothing to build a predicate from")
    if len(cols) == 1:
        present = [combo[0] for combo in combos if combo[0] is not None]
        clauses = []
        if present:
            clauses.append(f"{cols[0]} IN ({', '.join(sql_literal(v, dialect) for v in present)})")
        if len(present) < len(combos):
            clauses.append(f"{cols[0]} IS NULL")
        return clauses[0] if len(clauses) == 1 else "(" + " OR ".join(clauses) + ")"
    terms = []
    for combo in combos:
        parts = [
            f"{col} IS NULL" if value is None else f"{col} = {sql_literal(value, dialect)}"
            for col, value in zip(cols, combo, strict=True)
        ]
        terms.append("(" + " AND ".join(parts) + ")")
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def merge_condition(
    keys: Sequence[str],
    partition_filter: str | None,
    source: str = "source",
    target: str = "target",
) -> str:
    """The MERGE ``ON`` clause: key equality plus the target-side literal partition filter."""
    clause = " AND ".join(
        f"{target}.{quote_identifier(k)} = {source}.{quote_identifier(k)}" for k in keys
    )
    return f"{clause} AND {partition_filter}" if partition_filter else clause


def sequence_condition(
    sequence_column: str | None, source: str = "source", target: str = "target"
) -> str | None:
    """When a matched row may be updated: the source is at least as new as the target.

    ``>=`` (not ``>``): a correction re-sent with the same sequence value replaces the stored
    row, and rerunning a batch rewrites identical values (idempotent). A target row without a
    sequence value is always replaced; a source row without one never replaces a sequenced row.
    """
    if sequence_column is None:
        return None
    col = quote_identifier(sequence_column)
    return f"({target}.{col} IS NULL OR {source}.{col} >= {target}.{col})"


def merge_sql(
    target: str,
    source_view: str,
    keys: Sequence[str],
    sequence_column: str | None = None,
    partition_filter: str | None = None,
    schema_evolution: bool = True,
) -> str:
    """The Spark SQL upsert used on Databricks / remote Spark (and testable on Sail)."""
    evolution = " WITH SCHEMA EVOLUTION" if schema_evolution else ""
    matched = sequence_condition(sequence_column)
    when_matched = f"WHEN MATCHED AND {matched} THEN" if matched else "WHEN MATCHED THEN"
    return (
        f"MERGE{evolution} INTO {target} AS target\n"
        f"USING {quote_identifier(source_view)} AS source\n"
        f"ON {merge_condition(keys, partition_filter)}\n"
        f"{when_matched} UPDATE SET *\n"
        "WHEN NOT MATCHED THEN INSERT *"
    )
