"""A registry of data-quality rules kept as data, and the one place that applies them.

A rule is ``name``, a SQL ``condition`` that a *good* row satisfies, an ``action`` and a
``description`` (why the rule exists). A row fails a rule when its condition is not true: false
**or null**, so a rule never passes a row by accident because a column was missing.

Actions (as in Delta Live Tables expectations):

* ``warn``: the row is kept; the failure is counted and the row's ``failed_rules`` names it;
* ``quarantine``: the row is kept out of the target table and written to a quarantine table
  with the names of the rules it failed (never silently dropped);
* ``fail``: any failing row fails the run, with a message that names the rule and the count.

Rules are declared in ``conf/base/parameters_<pipeline>.yml`` (or a module constant) and turned
into :class:`Rule` objects with :func:`rules_from_config`. Everything here works on any Spark
DataFrame (Sail, Spark Connect, Databricks): one pass adds the ``failed_rules`` column, one
aggregate query counts every rule at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

logger = logging.getLogger(__name__)

ACTIONS = ("warn", "quarantine", "fail")
# What each action does to a failing row (docs/quality-rules.md is generated from this).
ACTION_EFFECTS = {
    "warn": "The row is kept; the failure is counted and the row's list of failed rules names it.",
    "quarantine": (
        "The row is kept out of the table and written to a quarantine table with the names of "
        "the rules it failed: never silently dropped."
    ),
    "fail": (
        "Any failing row fails the run before anything is written, with a message that names "
        "the rule and the count."
    ),
}
FAILED_RULES_COLUMN = "failed_rules"


class DataQualityError(RuntimeError):
    """A ``fail`` rule failed, or too large a share of the rows was quarantined."""


@dataclass(frozen=True)
class Rule:
    """One data-quality expectation: rows must satisfy ``condition`` (SQL)."""

    name: str
    condition: str
    action: str = "warn"
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum():
            raise ValueError(f"Rule name {self.name!r}: use letters, digits and underscores")
        if self.action not in ACTIONS:
            raise ValueError(
                f"Rule {self.name!r}: action {self.action!r} is not one of {', '.join(ACTIONS)}"
            )
        if not str(self.condition).strip():
            raise ValueError(f"Rule {self.name!r}: empty condition")

    def failure(self) -> Column:
        """True when a row fails this rule (its condition is false or null)."""
        from pyspark.sql import functions as F

        return ~F.coalesce(F.expr(f"({self.condition})").cast("boolean"), F.lit(False))


@dataclass(frozen=True)
class RuleResult:
    """How many rows of one table failed one rule in one run."""

    table_name: str
    rule_name: str
    action: str
    failed_count: int
    total_count: int

    @property
    def failed_share(self) -> float:
        return self.failed_count / self.total_count if self.total_count else 0.0


@dataclass(frozen=True)
class QualityReport:
    """The results of every rule on one table, plus how many rows were quarantined."""

    table_name: str
    total_count: int
    quarantined_count: int
    results: tuple[RuleResult, ...]

    @property
    def quarantined_share(self) -> float:
        return self.quarantined_count / self.total_count if self.total_count else 0.0


def rules_from_config(entries: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> list[Rule]:
    """Build rules from configuration.

    Accepts a list of mappings with ``name, condition, action, description``, or a mapping
    ``{name: {condition, action, description}}``. Names must be unique.
    """
    if isinstance(entries, Mapping):
        entries = [{"name": name, **dict(spec)} for name, spec in entries.items()]
    rules: list[Rule] = []
    seen: set[str] = set()
    for entry in entries:
        unknown = set(entry) - {"name", "condition", "action", "description"}
        if unknown:
            raise ValueError(f"Rule {entry.get('name')!r}: unknown keys {sorted(unknown)}")
        rule = Rule(
            name=str(entry.get("name", "")),
            condition=str(entry.get("condition", "")),
            action=str(entry.get("action", "warn")),
            description=str(entry.get("description", "")),
        )
        if rule.name in seen:
            raise ValueError(f"Rule {rule.name!r} is declared twice")
        seen.add(rule.name)
        rules.append(rule)
    return rules


def validate_rules(df: DataFrame, rules: Sequence[Rule]) -> None:
    """Check that every condition is valid SQL over ``df``'s columns, naming the bad rule."""
    from pyspark.sql import functions as F

    if not rules:
        return
    try:  # one analysis for all rules; only on error look for the culprit rule by rule
        df.select(*[F.expr(f"({r.condition})").alias(f"_c{i}") for i, r in enumerate(rules)]).schema  # noqa: B018
        return
    except Exception:  # noqa: BLE001
        pass
    for rule in rules:
        try:
            df.select(F.expr(f"({rule.condition})").alias("_condition")).schema  # noqa: B018
        except Exception as exc:  # noqa: BLE001 - re-raised with the rule's name
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ValueError(
                f"Rule {rule.name!r} has an invalid condition {rule.condition!r}: {first_line}"
            ) from exc


def apply_rules(
    df: DataFrame, rules: Sequence[Rule], column: str = FAILED_RULES_COLUMN
) -> DataFrame:
    """Add ``column``: an array with the names of the rules each row fails (empty if none)."""
    from pyspark.sql import functions as F

    validate_rules(df, rules)
    if not rules:
        return df.withColumn(column, F.array().cast("array<string>"))
    names = [F.when(rule.failure(), F.lit(rule.name)) for rule in rules]
    return df.withColumn(column, F.array_compact(F.array(*names)))


def is_quarantined(rules: Sequence[Rule], column: str = FAILED_RULES_COLUMN) -> Column:
    """True for rows that failed at least one ``quarantine`` rule (needs :func:`apply_rules`)."""
    from pyspark.sql import functions as F

    names = [rule.name for rule in rules if rule.action == "quarantine"]
    if not names:
        return F.lit(False)
    return F.arrays_overlap(F.col(column), F.array(*[F.lit(name) for name in names]))


def summarize_rules(
    checked: DataFrame,
    rules: Sequence[Rule],
    table_name: str,
    column: str = FAILED_RULES_COLUMN,
) -> QualityReport:
    """Count, in a single aggregate query, the failures of every rule and the quarantined rows."""
    from pyspark.sql import functions as F

    aggregates = [F.count(F.lit(1)).alias("_total"), _count_if(is_quarantined(rules, column))]
    aggregates[-1] = aggregates[-1].alias("_quarantined")
    for index, rule in enumerate(rules):
        aggregates.append(
            _count_if(F.array_contains(F.col(column), F.lit(rule.name))).alias(f"_r{index}")
        )
    row = checked.agg(*aggregates).collect()[0]
    total = int(row["_total"] or 0)
    results = tuple(
        RuleResult(
            table_name=table_name,
            rule_name=rule.name,
            action=rule.action,
            failed_count=int(row[f"_r{index}"] or 0),
            total_count=total,
        )
        for index, rule in enumerate(rules)
    )
    return QualityReport(
        table_name=table_name,
        total_count=total,
        quarantined_count=int(row["_quarantined"] or 0),
        results=results,
    )


def _count_if(condition: Column) -> Column:
    from pyspark.sql import functions as F

    return F.sum(F.when(condition, F.lit(1)).otherwise(F.lit(0))).cast("bigint")


def enforce_rules(
    report: QualityReport,
    rules: Sequence[Rule],
    max_quarantine_share: float | None = None,
    min_rows_for_share_check: int = 0,
) -> None:
    """Raise :class:`DataQualityError` if a ``fail`` rule failed or too much was quarantined.

    The message names every offending rule with its count, so the run log says what to fix.
    The share check is skipped below ``min_rows_for_share_check`` rows: on a tiny increment one
    bad record is a large share without meaning that the source is broken.
    """
    descriptions = {rule.name: rule.description for rule in rules}
    failed = [r for r in report.results if r.action == "fail" and r.failed_count > 0]
    if failed:
        details = "; ".join(
            f"rule {r.rule_name!r} failed for {r.failed_count} of {r.total_count} rows"
            + (f" ({descriptions[r.rule_name]})" if descriptions.get(r.rule_name) else "")
            for r in failed
        )
        raise DataQualityError(f"{report.table_name}: data-quality check failed: {details}")
    if (
        max_quarantine_share is not None
        and report.total_count >= max(min_rows_for_share_check, 1)
        and report.quarantined_share > max_quarantine_share
    ):
        offenders = ", ".join(
            f"{r.rule_name!r}: {r.failed_count}"
            for r in report.results
            if r.action == "quarantine" and r.failed_count > 0
        )
        raise DataQualityError(
            f"{report.table_name}: {report.quarantined_count} of {report.total_count} rows "
            f"({report.quarantined_share:.1%}) failed quarantine rules, above the allowed "
            f"{max_quarantine_share:.1%} (max_quarantine_share). Failing rules: {offenders}"
        )


def results_to_records(
    report: QualityReport, run_id: str, evaluated_at: datetime
) -> list[dict[str, Any]]:
    """Rows for ``monitoring.dq_results`` (one per rule)."""
    return [
        {
            "run_id": run_id,
            "table_name": r.table_name,
            "rule_name": r.rule_name,
            "action": r.action,
            "failed_count": r.failed_count,
            "total_count": r.total_count,
            "failed_share": float(r.failed_share),
            "evaluated_at": evaluated_at,
        }
        for r in report.results
    ]


def format_summary(report: QualityReport) -> str:
    """A human summary for the run log: one line per rule."""
    lines = [
        f"Data quality of {report.table_name}: {report.total_count} rows checked, "
        f"{report.quarantined_count} quarantined ({report.quarantined_share:.2%})"
    ]
    width = max((len(r.rule_name) for r in report.results), default=10)
    for r in report.results:
        lines.append(
            f"  {r.rule_name:<{width}}  {r.action:<10}  failed {r.failed_count:>9}  "
            f"({r.failed_share:.2%})"
        )
    return "\n".join(lines)
