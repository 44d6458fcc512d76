"""Data tests on gold tables, declared as data (dbt-style generic tests + SQL), run as Kedro nodes.

A test is a query that returns the *failing* rows; ``failed_count`` is how many it returns.
Kinds: ``unique``, ``not_null``, ``relationships``, ``accepted_values``, ``range``,
``expression`` (a SQL condition every row must satisfy) and ``sql`` (any query returning failing
rows). Inside the SQL, every gold table is a temporary view named after the table, and
``{placeholders}`` are filled from parameters ``gold.data_tests``.

Severity ``error`` fails the run (after the results are written); ``warn`` is only recorded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

logger = logging.getLogger(__name__)

KINDS = ("unique", "not_null", "relationships", "accepted_values", "range", "expression", "sql")
SEVERITIES = ("error", "warn")

RESULTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("test_name", T.StringType()),
        T.StructField("table_name", T.StringType()),
        T.StructField("check_type", T.StringType()),
        T.StructField("column_name", T.StringType()),
        T.StructField("severity", T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField("failed_count", T.LongType()),
        T.StructField("total_count", T.LongType()),
        T.StructField("failed_share", T.DoubleType()),
        T.StructField("query", T.StringType()),
        T.StructField("error", T.StringType()),
        T.StructField("evaluated_at", T.TimestampType()),
    ]
)


class GoldDataTestError(RuntimeError):
    """Raised when error-level gold data tests fail; the message lists each test and its count."""


@dataclass(frozen=True)
class DataTest:
    """One data test. Only the fields its ``check`` needs are used."""

    name: str
    table: str
    check: str
    severity: str = "error"
    column: str | None = None
    to_table: str | None = None
    to_column: str | None = None
    values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    expression: str | None = None
    sql: str | None = None

    def __post_init__(self) -> None:
        if self.check not in KINDS:
            raise ValueError(f"Data test {self.name!r}: unknown check {self.check!r} ({KINDS})")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Data test {self.name!r}: severity must be one of {SEVERITIES}")
        needs = {
            "unique": ("column",),
            "not_null": ("column",),
            "relationships": ("column", "to_table", "to_column"),
            "accepted_values": ("column", "values"),
            "range": ("column",),
            "expression": ("expression",),
            "sql": ("sql",),
        }[self.check]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"Data test {self.name!r} ({self.check}) needs {', '.join(missing)}")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> DataTest:
        """Build a test from a parameters mapping (``values`` may be a list)."""
        fields = dict(spec)
        if fields.get("values") is not None:
            fields["values"] = tuple(str(v) for v in fields["values"])
        return cls(**fields)

    def failing_rows_sql(self, placeholders: Mapping[str, Any] | None = None) -> str:
        """The query returning the rows that fail this test."""
        t, c = self.table, self.column
        if self.check == "unique":
            query = f"SELECT {c} FROM {t} WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1"
        elif self.check == "not_null":
            query = f"SELECT * FROM {t} WHERE {c} IS NULL"
        elif self.check == "relationships":
            query = (
                f"SELECT child.{c} FROM {t} AS child WHERE child.{c} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {self.to_table} AS parent WHERE parent.{self.to_column} = child.{c})"
            )
        elif self.check == "accepted_values":
            accepted = ", ".join("'" + v.replace("'", "''") + "'" for v in self.values or ())
            query = f"SELECT * FROM {t} WHERE {c} IS NOT NULL AND {c} NOT IN ({accepted})"
        elif self.check == "range":
            bounds = []
            if self.min_value is not None:
                bounds.append(f"{c} < {self.min_value}")
            if self.max_value is not None:
                bounds.append(f"{c} > {self.max_value}")
            query = f"SELECT * FROM {t} WHERE {' OR '.join(bounds) or 'false'}"
        elif self.check == "expression":
            query = f"SELECT * FROM {t} WHERE NOT coalesce(({self.expression}), false)"
        else:
            query = str(self.sql)
        return query.format(**(placeholders or {}))


def apply_overrides(tests: Iterable[DataTest], config: Mapping[str, Any]) -> list[DataTest]:
    """Apply ``severity_overrides``, ``disabled`` and ``extra_tests`` from parameters."""
    overrides = dict(config.get("severity_overrides") or {})
    disabled = set(config.get("disabled") or [])
    result = []
    for test in tests:
        if test.name in disabled:
            continue
        if test.name in overrides:
            test = DataTest(**{**test.__dict__, "severity": overrides[test.name]})
        result.append(test)
    result += [DataTest.from_dict(spec) for spec in config.get("extra_tests") or []]
    names = [t.name for t in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Duplicate data test names: {', '.join(duplicates)}")
    return result


def result_record(run_id: str, test: DataTest, query: str) -> dict[str, Any]:
    """A test's result before it runs (counts and status are filled in by the evaluator)."""
    return {
        "run_id": run_id,
        "test_name": test.name,
        "table_name": test.table,
        "check_type": test.check,
        "column_name": test.column,
        "severity": test.severity,
        "query": query,
        "error": None,
        "failed_count": None,
        "total_count": None,
        "failed_share": None,
    }


def evaluate_data_tests(
    spark: SparkSession,
    tests: Iterable[DataTest],
    tables: Mapping[str, DataFrame],
    placeholders: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Run every test against ``tables`` (registered as temp views) and return one dict per test.

    A test whose query cannot run (missing table or column, SQL error) gets status ``error``:
    a test that cannot be evaluated must never count as passed.
    """
    run_id = run_id or uuid.uuid4().hex
    for name, frame in tables.items():
        frame.createOrReplaceTempView(name)
    totals: dict[str, int] = {}
    results = []
    for test in tests:
        evaluated_at = datetime.now(UTC).replace(tzinfo=None)
        query = test.failing_rows_sql(placeholders)
        record = result_record(run_id, test, query)
        try:
            if test.table not in tables:
                raise KeyError(f"table {test.table!r} is not an input of the data-test node")
            if test.table not in totals:
                totals[test.table] = tables[test.table].count()
            failed = spark.sql(f"SELECT count(*) AS n FROM ({query}) AS failing").collect()[0][0]
            total = totals[test.table]
            record.update(
                failed_count=int(failed),
                total_count=int(total),
                failed_share=(failed / total) if total else 0.0,
                status="pass" if failed == 0 else "fail",
            )
        except Exception as exc:  # noqa: BLE001 - recorded as a failing result, never swallowed
            record.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000])
        record["evaluated_at"] = evaluated_at
        log = logger.info if record["status"] == "pass" else logger.warning
        log(
            "Gold data test %s [%s]: %s (%s failing of %s)",
            test.name,
            test.severity,
            record["status"],
            record["failed_count"],
            record["total_count"],
        )
        results.append(record)
    return results


def results_frame(spark: SparkSession, results: list[dict[str, Any]]) -> DataFrame:
    """The results as a DataFrame with the ``monitoring.gold_test_results`` schema."""
    names = RESULTS_SCHEMA.fieldNames()
    return spark.createDataFrame([tuple(r[n] for n in names) for r in results], RESULTS_SCHEMA)


def blocking_failures(results: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Error-level tests that failed or could not be evaluated."""
    return [r for r in results if r["severity"] == "error" and r["status"] != "pass"]


def raise_on_blocking_failures(results: list[Mapping[str, Any]]) -> None:
    """Raise :class:`GoldDataTestError` naming each error-level failure and its failing count."""
    failures = blocking_failures(results)
    warnings = [r for r in results if r["severity"] == "warn" and r["status"] != "pass"]
    if warnings:
        logger.warning(
            "Gold data tests with warnings: %s",
            ", ".join(f"{r['test_name']} ({r['failed_count']} failing)" for r in warnings),
        )
    if not failures:
        logger.info("Gold data tests: %d passed or warned, 0 errors", len(results))
        return
    lines = [
        f"  - {r['test_name']} on {r['table_name']}: "
        + (
            f"{r['failed_count']} failing row(s) of {r['total_count']}"
            if r["status"] == "fail"
            else f"could not run ({r['error']})"
        )
        for r in failures
    ]
    raise GoldDataTestError(
        f"{len(failures)} error-level gold data test(s) failed "
        "(results appended to monitoring.gold_test_results):\n" + "\n".join(lines)
    )
