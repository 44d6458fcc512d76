"""The bronze pipeline's tables: grain, keys, write mode and columns (rendered into docs/tables.md).

Bronze keeps the landed records as received, so most columns are the source's API fields
(``sources.schemas``); the audit columns are the ones :mod:`.nodes` adds (``AUDIT_COLUMNS``) and
the batch log's are ``LOG_SCHEMA``. ``tests/test_reference_docs.py`` checks both against what
the nodes produce.
"""

from __future__ import annotations

from nyc_lakehouse.sources.schemas import (
    NYC311_DATASET_ID,
    NYC311_FIELDS,
    NYC311_LEGACY_FIELDS,
    NYC911_DATASET_ID,
    NYC911_FIELDS,
)
from nyc_lakehouse.table_docs import TableDoc, column

_SYSTEM = (
    column(
        "_socrata_id",
        "string",
        "Socrata's row id (`:id`); null for rows from a bulk CSV export.",
    ),
    column(
        "_socrata_created_at",
        "string",
        "When Socrata first published the row (`:created_at`, UTC ISO text), when the "
        "landing batch has it; null from exports.",
        optional=True,
    ),
    column(
        "_socrata_updated_at",
        "string",
        "When Socrata last changed the row (`:updated_at`, UTC ISO text): the version stamp "
        "silver merges on; null from exports.",
    ),
    column(
        "_computed_region_<id>",
        "string",
        "Socrata's computed region codes (`:@computed_region_<id>`), when the API sends them.",
        optional=True,
    ),
)

_AUDIT = (
    column("_ingested_at", "timestamp", "When the bronze run that appended the row started."),
    column("_source_file", "string", "The landing Parquet file the row came from."),
    column(
        "_batch_id",
        "string",
        "The landing batch (`sample-2019-01`, `socrata-2019-01` for a backfill month, "
        "`socrata-updated-<time>-<id>` for an incremental run...).",
    ),
    column("_ingest_date", "string", "The landing batch's ingest date, `YYYY-MM-DD`."),
)

_WRITE = (
    "append: each committed landing file once (the table records which files it holds, so a "
    "rerun appends nothing twice); locally the landing files are linked into the table, not "
    "copied"
)

TABLES: dict[str, TableDoc] = {
    doc.name: doc
    for doc in (
        TableDoc(
            name="bronze.nyc311_service_requests",
            pipeline="bronze",
            grain=(
                "One row per landed 311 record, as received: re-sent versions and duplicates "
                "included."
            ),
            write=_WRITE,
            partitioned_by=("_ingest_date",),
            ordered=False,
            columns=(
                column(
                    NYC311_FIELDS,
                    "string",
                    f"The {len(NYC311_FIELDS)} API fields of the 311 dataset "
                    f"({NYC311_DATASET_ID}), names and text exactly as received (typing and "
                    "cleaning are silver's job).",
                    label=f"`unique_key`, `created_date` ... `location` "
                    f"({len(NYC311_FIELDS)} API fields)",
                ),
                column(
                    NYC311_LEGACY_FIELDS,
                    "string",
                    "Fields of older bulk exports that the current schema dropped (school and "
                    "ferry fields...), added to the table only when such an export is loaded.",
                    label=f"`school_name` ... `ferry_terminal_name` "
                    f"({len(NYC311_LEGACY_FIELDS)} legacy export fields)",
                    optional=True,
                ),
                *_SYSTEM,
                *_AUDIT,
            ),
            notes=(
                "A source column new to the table is added by Delta schema evolution: older "
                "rows read it as null.",
            ),
        ),
        TableDoc(
            name="bronze.nyc911_e2e_weekly",
            pipeline="bronze",
            grain=(
                "One row per landed 911 End-to-End row (week x agency x incident type), every "
                "revision the city published."
            ),
            write=_WRITE,
            partitioned_by=("_ingest_date",),
            ordered=False,
            columns=(
                column(
                    NYC911_FIELDS,
                    "string",
                    f"The {len(NYC911_FIELDS)} columns of the 911 End-to-End dataset "
                    f"({NYC911_DATASET_ID}) under their API field names (the export's display "
                    "names in snake case: `Week Start Date` -> `week_start_date`), as received.",
                    label=f"`week_start_date`, `agency` ... `average_fd_processing` "
                    f"({len(NYC911_FIELDS)} API fields)",
                ),
                *_SYSTEM,
                *_AUDIT,
            ),
        ),
        TableDoc(
            name="monitoring.bronze_batch_log",
            pipeline="bronze",
            grain="One row per landing file handled by a bronze run.",
            write="append, one row per landing file at the end of each bronze run",
            internal=True,
            columns=(
                column("dataset", "string", "Landing dataset: `nyc311` or `nyc911`."),
                column("batch_id", "string", "The landing batch of the file."),
                column("source_file", "string", "The landing Parquet file."),
                column(
                    "rows",
                    "bigint",
                    "Rows of an ingested file, counted in bronze after the append (what bronze "
                    "holds, not what was planned).",
                ),
                column(
                    "status",
                    "string",
                    "`ingested`, `empty` (0 bytes or no rows) or `unreadable` (missing, not "
                    "Parquet, corrupt, or changed since it was landed); a bad file is retried on "
                    "every later run.",
                ),
                column(
                    "error",
                    "string",
                    "Why the file was skipped, or a recovery note; null otherwise.",
                ),
                column("logged_at", "timestamp", "When the log row was written (UTC)."),
            ),
            notes=(
                "The bronze table itself is the record of what was ingested; this log is the "
                "audit trail.",
            ),
        ),
    )
}
