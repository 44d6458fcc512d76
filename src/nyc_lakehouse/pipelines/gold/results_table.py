"""``monitoring.gold_test_results``: the table the gold and analytics data tests write (docs/tables.md).

Its columns are ``data_tests.RESULTS_SCHEMA``; ``tests/test_reference_docs.py`` checks that this
description lists exactly those columns, with their types.
"""

from __future__ import annotations

from nyc_lakehouse.table_docs import TableDoc, column

GOLD_TEST_RESULTS = TableDoc(
    name="monitoring.gold_test_results",
    pipeline="gold, analytics",
    grain="One row per data-test run x gold data test.",
    write=(
        "append, one batch per gold or analytics run, written before an error-level failure "
        "stops the run"
    ),
    columns=(
        column("run_id", "string", "The data-test run (one per pipeline run)."),
        column("test_name", "string", "The data test (see quality-rules.md)."),
        column("table_name", "string", "The gold table tested (without the `gold.` schema)."),
        column(
            "check_type",
            "string",
            "unique, not_null, relationships, accepted_values, range, expression or sql.",
        ),
        column("column_name", "string", "The column tested; null for table-level checks."),
        column("severity", "string", "`error` (fails the run) or `warn` (recorded only)."),
        column(
            "status",
            "string",
            "`pass`, `fail`, or `error` when the test could not run (never counted as passed).",
        ),
        column("failed_count", "bigint", "Rows the test's query returned: the failing rows."),
        column("total_count", "bigint", "Rows of the tested table."),
        column("failed_share", "double", "failed_count / total_count (0 when empty)."),
        column("query", "string", "The SQL that returned the failing rows."),
        column("error", "string", "Why the test could not run; null otherwise."),
        column("evaluated_at", "timestamp", "When the test ran (UTC)."),
    ),
)

GOLD_PUBLICATIONS = TableDoc(
    name="monitoring.gold_publications",
    pipeline="gold",
    grain="One row per gold publication x gold table.",
    write=(
        "append, one commit per publication, written by the gold pipeline's last node after "
        "its data tests pass; gold readers read the tables at the versions of the latest one"
    ),
    columns=(
        column("publication_id", "string", "The publication (one per successful gold run)."),
        column("run_id", "string", "The Kedro run that built and tested it."),
        column("published_at", "timestamp", "When it was published (UTC); the latest wins."),
        column("table_name", "string", "The gold table (`gold.<name>`)."),
        column("table_version", "bigint", "The table's Delta version the data tests passed on."),
    ),
)
