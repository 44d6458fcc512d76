"""Data tests of ``gold.volume_forecasting_features``, evaluated on pandas with DuckDB.

The tests are declared with every other gold table's (``gold/tables.py``, pipeline
``forecasting``) and run by the same rules (:mod:`~nyc_lakehouse.pipelines.gold.data_tests`:
a query returning failing rows, ``error`` fails the run after the results are written, a test
that cannot run counts as an error). The forecasting pipeline is pandas end to end, and also
runs on a CSV panel without Spark (``conf/csv_panel``), so the same SQL runs on DuckDB here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from nyc_lakehouse.pipelines.gold import data_tests
from nyc_lakehouse.pipelines.gold.tables import all_data_tests

logger = logging.getLogger(__name__)

FEATURES_VIEW = "volume_forecasting_features"
RESULT_COLUMNS = tuple(data_tests.RESULTS_SCHEMA.fieldNames())


def evaluate_on_duckdb(
    tests: list[data_tests.DataTest],
    tables: Mapping[str, pd.DataFrame],
    placeholders: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run ``tests`` against pandas ``tables`` (DuckDB views); one result dict per test."""
    import duckdb

    run_id = uuid.uuid4().hex
    connection = duckdb.connect()
    try:
        for name, frame in tables.items():
            connection.register(name, frame)
        results = []
        for test in tests:
            query = test.failing_rows_sql(placeholders)
            record = data_tests.result_record(run_id, test, query)
            try:
                total = len(tables[test.table])
                failed = connection.execute(f"SELECT count(*) FROM ({query}) AS failing")
                failed = int(failed.fetchone()[0])
                record.update(
                    failed_count=failed,
                    total_count=total,
                    failed_share=failed / total if total else 0.0,
                    status="pass" if failed == 0 else "fail",
                )
            except Exception as exc:  # noqa: BLE001 - recorded as a failing result
                record.update(status="error", error=f"{type(exc).__name__}: {exc}"[:2000])
            record["evaluated_at"] = datetime.now(UTC)
            results.append(record)
            (logger.info if record["status"] == "pass" else logger.warning)(
                "Feature data test %s [%s]: %s (%s failing of %s)",
                test.name,
                test.severity,
                record["status"],
                record["failed_count"],
                record["total_count"],
            )
        return results
    finally:
        connection.close()


def run_feature_data_tests(
    features: pd.DataFrame, params: Mapping[str, Any]
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The feature table's data tests: rows for the test-results table, and the summary."""
    tests = all_data_tests("forecasting")
    placeholders = {"horizon": int(params["horizon"])}
    results = evaluate_on_duckdb(tests, {FEATURES_VIEW: features}, placeholders)
    frame = pd.DataFrame(results, columns=list(RESULT_COLUMNS))
    for column in ("failed_count", "total_count"):
        frame[column] = frame[column].astype("Int64")
    frame["failed_share"] = frame["failed_share"].astype("float64")
    for column in ("column_name", "error"):
        frame[column] = frame[column].astype("string")
    return frame, results


def enforce_feature_data_tests(results: list[dict[str, Any]]) -> None:
    """Fail the run if an error-level feature test failed (after its results were written)."""
    data_tests.raise_on_blocking_failures(results)
