"""Gold that grows by the day: a run recomputes only the creation months silver changed.

Every 311 gold table but the dimensions has a month in its grain (``fact_311``, the
aggregates and ``silver_311_month_members`` by ``created_month``, ``agg_daily_summary`` by the
month of ``date``), and each month's rows depend on silver's rows of that month alone. The
agency, complaint type and location dimensions are summed from ``silver_311_month_members``
(each month's members and their counts), so they too follow from the rebuilt months. So a
daily run:

1. takes silver's **fingerprint**, one row per ``created_month``: row count, an XOR of the
   request keys' hashes, the latest ``_silver_updated_at`` (silver stamps every row it writes
   with its run), first and last creation day (:func:`silver_fingerprint`, one narrow scan).
   Only the months whose files silver's commits since the published fingerprint's silver
   version added or removed are scanned (read from silver's Delta log,
   :mod:`nyc_lakehouse.delta.log`); the others keep their published rows. Where the log cannot
   tell (a commit file cleaned up, a metadata change, a remote table), every month is scanned;
2. compares it with the fingerprint the **published** gold was built from
   (``gold.silver_311_fingerprint``, published with the other gold tables, so it always
   describes the published set): a month whose fingerprint differs, or that appears or
   disappears, changed. A request updated in place raises its month's latest stamp; a late row
   of an old month changes that month's count and keys; a request moving between months
   changes both months' keys (:func:`plan_311_build`);
3. rebuilds the fact and the aggregates for those months only, from silver's partitions of
   those months, and writes them with a ``replaceWhere`` on the month (:class:`MonthsRewrite`,
   saved by :class:`~nyc_lakehouse.pipelines.gold.datasets.MonthlyGoldDeltaTableDataset`).

The run then goes on as a full one: data tests, then one publication of every table. The
result equals a full rebuild (``tests/pipelines/gold/test_gold_incremental.py``).

A full rebuild happens on the first run, with ``full_refresh=true``, when the gold definition
changed (parameters or table columns: :func:`definition_of`), when silver lacks its write stamp,
and when a gold table's latest version is not its published one (a run that ended after writing
and before publishing: its writes are not trusted, the rebuild replaces them).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.gold.tables import columns_of

logger = logging.getLogger(__name__)

STAMP_COLUMN = "_silver_updated_at"
MONTH_COLUMN = "created_month"
SILVER_311_TABLE = "silver.nyc311_service_requests"
# The fingerprint table's column holding the silver Delta version it describes.
SILVER_VERSION = "silver_version"
# Bump when a change to the gold 311 code changes what existing months would hold: the next
# run then rebuilds every month (parameters and columns are part of the definition already).
DEFINITION_VERSION = 1
# The 311 tables a month of silver feeds; their columns are part of the definition.
MONTHLY_311_TABLES = (
    "fact_311",
    "agg_daily_summary",
    "agg_monthly_summary",
    "agg_agency_metrics",
    "agg_complaint_type_metrics",
    "agg_location_metrics",
    "agg_daily_type_borough",
    "silver_311_month_members",
)
FINGERPRINT_FIELDS = ("rows", "key_checksum", "last_silver_stamp")
# A full build writes ``fact_311`` this many silver rows at a time (whole months, at least one
# month a piece). Sail's partitioned Delta writer keeps every partition it has open in memory
# until the write ends, so one write of every month holds the whole fact: its peak grows with
# the history (docs/performance.md). Pieces of a few million rows keep it flat.
FULL_BUILD_PIECE_ROWS = 3_000_000


@dataclass(frozen=True)
class MonthsRewrite:
    """A gold table's new rows for some months only: the dataset replaces those months.

    ``column`` holds the month (``YYYY-MM`` text) or, with ``by_day``, a date whose month is
    meant. ``months`` may include months without rows: their old rows are deleted.
    """

    frame: DataFrame
    months: tuple[str | None, ...]
    column: str = MONTH_COLUMN
    by_day: bool = False

    def predicate(self) -> str:
        """The ``replaceWhere`` predicate: literals on the month or date column only, valid
        SQL for Spark and for delta-rs (DataFusion)."""
        clauses = []
        for month in sorted(m for m in self.months if m is not None):
            if self.by_day:
                first, after = month_bounds(month)
                clauses.append(
                    f"({self.column} >= DATE '{first}' AND {self.column} < DATE '{after}')"
                )
        if not self.by_day:
            present = [f"'{_checked_month(m)}'" for m in sorted(m for m in self.months if m)]
            if present:
                clauses.append(f"{self.column} IN ({', '.join(present)})")
        if None in self.months:
            clauses.append(f"{self.column} IS NULL")
        if not clauses:
            raise ValueError("MonthsRewrite without months: nothing to replace")
        return clauses[0] if len(clauses) == 1 else "(" + " OR ".join(clauses) + ")"


@dataclass(frozen=True)
class PiecewiseOverwrite:
    """A whole table written in pieces: the first one overwrites the table, the others append.

    Each piece is a disjoint set of months; together they hold every row of the table.
    """

    pieces: tuple[DataFrame, ...]


def month_pieces(
    fingerprint: Sequence[Mapping[str, Any]], max_rows: int | None = None
) -> list[list[str | None]]:
    """Consecutive months of silver's fingerprint grouped into pieces of at most ``max_rows``
    rows (:data:`FULL_BUILD_PIECE_ROWS` by default; a larger month is a piece of its own)."""
    max_rows = FULL_BUILD_PIECE_ROWS if max_rows is None else max_rows
    pieces: list[list[str | None]] = []
    rows = 0
    for row in sorted(fingerprint, key=lambda r: r[MONTH_COLUMN] or ""):
        if not pieces or (rows + int(row["rows"]) > max_rows and pieces[-1]):
            pieces.append([])
            rows = 0
        pieces[-1].append(row[MONTH_COLUMN])
        rows += int(row["rows"])
    return pieces


def month_condition(months: Sequence[str | None]) -> Column:
    """Rows whose ``created_month`` is one of ``months`` (``None`` for a null month)."""
    present = [m for m in months if m is not None]
    condition = F.col(MONTH_COLUMN).isin(present) if present else F.lit(False)
    if None in months:
        condition = condition | F.col(MONTH_COLUMN).isNull()
    return condition


def in_pieces(plan: Mapping[str, Any] | None, frame: DataFrame) -> list[DataFrame]:
    """``frame`` (with a ``created_month``) cut into the pieces a full build writes one at a
    time (:data:`FULL_BUILD_PIECE_ROWS`), or ``[frame]`` when one piece holds it all.

    The pieces come from the plan's silver fingerprint; the last one takes every row the others
    do not, so a month silver gained since the plan is still written, once.
    """
    if plan is None or is_incremental(plan):
        return [frame]
    pieces = month_pieces(plan.get("fingerprint") or [])
    if len(pieces) <= 1:
        return [frame]
    earlier: list[str | None] = []
    frames = []
    for months in pieces[:-1]:
        frames.append(frame.filter(month_condition(months)))
        earlier += months
    frames.append(frame.filter(~F.coalesce(month_condition(earlier), F.lit(False))))
    return frames


def _checked_month(month: str) -> str:
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        raise ValueError(f"not a YYYY-MM month: {month!r}")
    return month


def month_bounds(month: str) -> tuple[date, date]:
    """First day of ``month`` and first day of the next month."""
    year, number = (int(part) for part in _checked_month(month).split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    return first, after


def months_between(first: date, last: date) -> list[str]:
    """Every ``YYYY-MM`` from ``first``'s month to ``last``'s, both included."""
    months, year, number = [], first.year, first.month
    while (year, number) <= (last.year, last.month):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


def definition_of(sla: Mapping[str, Any], outlier_hours: float, calendar: Mapping[str, Any]) -> str:
    """A hash of everything that decides a month's gold rows besides silver's rows."""
    described = {
        "version": DEFINITION_VERSION,
        "sla": sla,
        "outlier_hours": float(outlier_hours),
        "calendar": calendar,
        "columns": {name: columns_of(name) for name in MONTHLY_311_TABLES},
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def valid_closed_day() -> Column:
    """Day of a closed date the silver flags accept (null otherwise)."""
    valid = (
        F.col("closed_date").isNotNull()
        & ~F.coalesce(F.col("has_invalid_closed_date"), F.lit(False))
        & ~F.coalesce(F.col("has_future_closed_date"), F.lit(False))
    )
    return F.when(valid, F.to_date(F.col("closed_date")))


def last_day() -> Column:
    """A row's last day for the calendar: its creation day or its valid closed day."""
    return F.greatest(F.col("created_date_only"), valid_closed_day())


def silver_days(silver_311: DataFrame) -> tuple[date | None, date | None]:
    """First creation day and last :func:`last_day` of ``silver_311`` (one narrow scan)."""
    row = silver_311.select(
        F.min("created_date_only").alias("first"), F.max(last_day()).alias("last")
    ).collect()[0]
    return row["first"], row["last"]


def silver_fingerprint(silver_311: DataFrame) -> list[dict[str, Any]]:
    """One dict per silver ``created_month`` (see the module docstring), sorted by month."""
    rows = (
        silver_311.groupBy(MONTH_COLUMN)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.bit_xor(F.xxhash64(F.col("unique_key").cast("string"))).alias("key_checksum"),
            # epoch seconds, not a timestamp: compared exactly after a round trip through Delta
            F.max(F.col(STAMP_COLUMN).cast("long")).alias("last_silver_stamp"),
            F.min("created_date_only").alias("first_created_date"),
            F.max("created_date_only").alias("last_created_date"),
            F.max(last_day()).alias("last_day"),
        )
        .collect()
    )
    return sorted((row.asDict() for row in rows), key=lambda r: r[MONTH_COLUMN] or "")


FINGERPRINT_COLUMNS = (
    MONTH_COLUMN,
    *FINGERPRINT_FIELDS,
    "first_created_date",
    "last_created_date",
    "last_day",
)


def updated_fingerprint(
    silver_311: DataFrame,
    published: Sequence[Mapping[str, Any]],
    changed_months: Sequence[str | None] | None,
) -> list[dict[str, Any]]:
    """Silver's fingerprint from the ``published`` one: the ``changed_months`` scanned again
    (silver is partitioned by month, so only their files are read), every other month as
    published. ``None`` for ``changed_months``: nothing is known, every month is scanned."""
    complete = all(column in row for row in published for column in FINGERPRINT_COLUMNS)
    if changed_months is None or not complete:
        return silver_fingerprint(silver_311)
    changed = set(changed_months)
    kept = [
        {column: row[column] for column in FINGERPRINT_COLUMNS}
        for row in published
        if row[MONTH_COLUMN] not in changed
    ]
    fresh = silver_fingerprint(silver_311.filter(month_condition(list(changed)))) if changed else []
    logger.info(
        "Gold 311: silver fingerprint of %d changed month(s) scanned, %d kept",
        len(changed),
        len(kept),
    )
    return sorted([*kept, *fresh], key=lambda r: r[MONTH_COLUMN] or "")


def _by_month(fingerprint: Iterable[Mapping[str, Any]]) -> dict[str | None, tuple]:
    return {row[MONTH_COLUMN]: tuple(row[f] for f in FINGERPRINT_FIELDS) for row in fingerprint}


def _day_span(fingerprint: Sequence[Mapping[str, Any]]) -> tuple[date | None, date | None]:
    firsts = [r["first_created_date"] for r in fingerprint if r["first_created_date"]]
    lasts = [r["last_created_date"] for r in fingerprint if r["last_created_date"]]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _calendar_span(fingerprint: Sequence[Mapping[str, Any]]) -> tuple[date | None, date | None]:
    firsts = [r["first_created_date"] for r in fingerprint if r["first_created_date"]]
    lasts = [r["last_day"] for r in fingerprint if r["last_day"]]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _full_reason(
    state: Mapping[str, Any] | None, definition: str, full_refresh: bool, has_stamp: bool
) -> str | None:
    if full_refresh:
        return "full_refresh=true"
    if not has_stamp:
        return f"silver has no {STAMP_COLUMN} column"
    if state is None or state.get("fingerprint") is None:
        return "no published gold built from a silver fingerprint yet"
    if state.get("unpublished"):
        return (
            "gold tables written after the last publication (an interrupted or failed run): "
            + ", ".join(state["unpublished"])
        )
    previous = {row.get("definition") for row in state["fingerprint"]}
    if previous and previous != {definition}:
        return "the gold definition changed (parameters, columns or code version)"
    return None


def plan_311_build(
    silver_311: DataFrame,
    state: Mapping[str, Any] | None,
    sla: Mapping[str, Any],
    outlier_hours: float,
    calendar: Mapping[str, Any],
    full_refresh: bool = False,
) -> dict[str, Any]:
    """Which months this run rebuilds: all (``mode`` ``full``) or the changed ones.

    ``state`` is :class:`~nyc_lakehouse.pipelines.gold.datasets.GoldBuildStateDataset`'s load:
    the published fingerprint and the gold tables written since the publication.
    """
    definition = definition_of(sla, outlier_hours, calendar)
    has_stamp = STAMP_COLUMN in silver_311.columns
    reason = _full_reason(state, definition, bool(full_refresh), has_stamp)
    if not has_stamp:
        fingerprint: list[dict[str, Any]] = []
    elif reason is None and state is not None:
        fingerprint = updated_fingerprint(
            silver_311, state["fingerprint"], state.get("silver_changed_months")
        )
    else:
        fingerprint = silver_fingerprint(silver_311)
    first_day, last_day = _day_span(fingerprint)
    plan: dict[str, Any] = {
        "definition": definition,
        "fingerprint": fingerprint,
        "first_day": first_day,
        "last_day": last_day,
        # What dim_date must cover of 311 (its closed days too), from the fingerprint.
        "calendar_days": _calendar_span(fingerprint) if has_stamp else silver_days(silver_311),
        SILVER_VERSION: (state or {}).get(SILVER_VERSION),
    }
    if reason is not None:
        logger.info("Gold 311: full rebuild (%s)", reason)
        return {**plan, "mode": "full", "reason": reason, "months": [], "daily_months": []}
    assert state is not None  # _full_reason returns a reason without a state
    old, new = _by_month(state["fingerprint"]), _by_month(fingerprint)
    changed = sorted(
        (m for m in old.keys() | new.keys() if old.get(m) != new.get(m)), key=lambda m: m or ""
    )
    # agg_daily_summary zero-fills every day between the first and the last creation day: when
    # either end moves, the months between its old and new place gain or lose days.
    daily = set(changed)
    for before, after in zip(_day_span(state["fingerprint"]), (first_day, last_day), strict=True):
        if before != after and before is not None and after is not None:
            daily.update(months_between(min(before, after), max(before, after)))
    daily_months = sorted(daily, key=lambda m: m or "")
    logger.info(
        "Gold 311: incremental, %d of %d month(s) changed in silver: %s",
        len(changed),
        len(new),
        ", ".join(str(m) for m in changed) or "none",
    )
    return {
        **plan,
        "mode": "incremental",
        "reason": "silver changed in these months only",
        "months": changed,
        "daily_months": daily_months,
    }


def by_pieces(
    plan: Mapping[str, Any] | None, source: DataFrame, build: Callable[[DataFrame], DataFrame]
) -> DataFrame | MonthsRewrite | PiecewiseOverwrite:
    """What a month-grained builder returns: ``build`` of the plan's months of ``source`` (the
    table's new rows for them) on an incremental build; on a full one, ``build`` of each piece
    of ``source`` (:func:`in_pieces`), written one after another, so that neither the writer
    nor an aggregate holds the whole history at once."""
    pieces = in_pieces(plan, source)
    if len(pieces) > 1:
        return PiecewiseOverwrite(tuple(build(piece) for piece in pieces))
    return output(plan, build(in_months(plan, source)))


def is_incremental(plan: Mapping[str, Any] | None) -> bool:
    return plan is not None and plan.get("mode") == "incremental"


def in_months(
    plan: Mapping[str, Any] | None, frame: DataFrame, months_key: str = "months"
) -> DataFrame:
    """``frame`` (with a ``created_month``) cut to the plan's months; all of it on a full run.

    A literal ``IN`` list on ``created_month``: silver and ``fact_311`` are partitioned by it,
    so only those months' files are read.
    """
    if not is_incremental(plan):
        return frame
    assert plan is not None
    return frame.filter(month_condition(plan[months_key]))


def output(
    plan: Mapping[str, Any] | None,
    frame: DataFrame,
    months_key: str = "months",
    column: str = MONTH_COLUMN,
    by_day: bool = False,
) -> DataFrame | MonthsRewrite:
    """What a builder returns: the whole table on a full run, its months' rows otherwise."""
    if not is_incremental(plan):
        return frame
    assert plan is not None
    return MonthsRewrite(frame, tuple(plan[months_key]), column, by_day)


def tested_rows(
    plan: Mapping[str, Any] | None, tables: Mapping[str, DataFrame]
) -> dict[str, DataFrame]:
    """What the data tests read: on a daily build, the rebuilt months of the month-grown tables.

    Their other months are the published ones, tested when they were built; every month's rows
    depend on silver's rows of that month only (a request that moved changed both months), so
    testing the rebuilt ones keeps the data tests' cost flat as gold grows. Other tables, and
    every table on a full build, are tested whole.
    """
    if not is_incremental(plan):
        return dict(tables)
    assert plan is not None
    scoped = dict(tables)
    for name in MONTHLY_311_TABLES:
        if name not in scoped:
            continue
        if name == "agg_daily_summary":
            months = [m for m in plan["daily_months"] if m is not None]
            month = F.date_format("date", "yyyy-MM")
            scoped[name] = scoped[name].filter(month.isin(months) if months else F.lit(False))
        else:
            scoped[name] = in_months(plan, scoped[name])
    return scoped


FINGERPRINT_TABLE = "silver_311_fingerprint"


def fingerprint_frame(plan: Mapping[str, Any]) -> DataFrame:
    """``gold.silver_311_fingerprint``: the silver fingerprint this build is made from."""
    from nyc_lakehouse.spark import get_spark

    schema = (
        "created_month string, rows bigint, key_checksum bigint, "
        "last_silver_stamp bigint, first_created_date date, last_created_date date, "
        "last_day date, "
        "definition string, build_mode string, months_rebuilt bigint, silver_version bigint"
    )
    rebuilt = len(plan["fingerprint"]) if plan["mode"] == "full" else len(plan["months"])
    rows = [
        (
            r[MONTH_COLUMN],
            int(r["rows"]),
            int(r["key_checksum"]),
            r["last_silver_stamp"],
            r["first_created_date"],
            r["last_created_date"],
            r["last_day"],
            plan["definition"],
            plan["mode"],
            rebuilt,
            plan.get(SILVER_VERSION),
        )
        for r in plan["fingerprint"]
    ]
    frame = get_spark().createDataFrame(rows, schema)
    return frame.select(*columns_of(FINGERPRINT_TABLE))
