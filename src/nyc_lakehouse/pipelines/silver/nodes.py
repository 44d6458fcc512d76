"""Nodes of the ``silver`` pipeline: bronze strings -> typed, checked, enriched, merged tables.

311 runs in four visible stages (base -> quality -> enrichment -> final); 911 in three (base ->
quality -> final). Every node is a small function of DataFrames and parameters; reading and
writing is the catalog's job (``conf/base/catalog_silver.yml``), including the MERGE
(``DeltaTableDataset`` upsert keyed on ``unique_key``, latest ``source_updated_at`` wins, touching
only the batch's ``created_month`` partitions).

Incremental processing: only the bronze files (``_batch_id``, ``_source_file``) that silver's
ledger, ``monitoring.silver_batch_log``, does not list are read (:mod:`.ledger`).
``full_refresh`` (``kedro run --pipeline silver --params full_refresh=true``) reprocesses every
bronze file and overwrites the silver tables.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# A real import (not TYPE_CHECKING): Kedro 1.7 resolves node type hints when it validates
# parameters, and warns for every node whose hints name an unimported type.
from pyspark.sql import Column, DataFrame

from nyc_lakehouse.delta import select_columns
from nyc_lakehouse.pipelines.silver import ledger, parsers
from nyc_lakehouse.pipelines.silver.datasets import RunRows
from nyc_lakehouse.quality import (
    FAILED_RULES_COLUMN,
    QualityReport,
    apply_rules,
    enforce_rules,
    format_summary,
    is_quarantined,
    results_to_records,
    rules_from_config,
    summarize_rules,
)
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

logger = logging.getLogger(__name__)

NYC311_TABLE = "silver.nyc311_service_requests"
NYC911_TABLE = "silver.nyc911_e2e_weekly"
# Rows without a Final Incident Type (the silver.nyc911 rule incident_type_specified).
UNSPECIFIED_INCIDENT_TYPE = "Unspecified"

BRONZE_META_COLUMNS = ("_socrata_id", "_ingested_at", "_source_file", "_batch_id", "_ingest_date")

NYC311_TIMESTAMP_FIELDS = (
    "created_date",
    "closed_date",
    "due_date",
    "resolution_action_updated_date",
)
NYC311_DOUBLE_FIELDS = (
    "latitude",
    "longitude",
    "x_coordinate_state_plane",
    "y_coordinate_state_plane",
)
NYC311_UPPER_FIELDS = (
    "agency", "borough", "city", "address_type", "community_board", "open_data_channel_type",
    "park_borough", "taxi_company_borough",
)  # fmt: skip
# Redundant with latitude/longitude (and a JSON object or multi-line text depending on the path).
NYC311_DROPPED_FIELDS = ("location",)

NYC911_DURATION_FIELDS = NYC911_FIELDS[4:]

DQ_RESULTS_SCHEMA = (
    "run_id string, table_name string, rule_name string, action string, failed_count bigint, "
    "total_count bigint, failed_share double, evaluated_at timestamp"
)
BATCH_LOG_SCHEMA = ledger.LEDGER_SCHEMA


# --------------------------------------------------------------------------------------------
# Run context and batch selection
# --------------------------------------------------------------------------------------------


def start_silver_run(as_of: str | None = None) -> dict[str, Any]:
    """Identify this run: a ``run_id`` for the quarantine and DQ tables, and the ``as_of`` time.

    ``as_of`` (ISO text, UTC if no zone) is "now" for the future-date rules and the closed-date
    inference; leave it null to use the run's start time. Pinning it makes reruns comparable.
    """
    started_at = datetime.now(UTC).replace(microsecond=0)
    reference = started_at
    if as_of:
        try:
            parsed = datetime.fromisoformat(str(as_of).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(
                f"silver.as_of={as_of!r} is not an ISO date-time (e.g. 2024-06-01T00:00:00Z); "
                "leave it null to use the run's start time"
            ) from exc
        reference = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    run_id = f"silver-{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    logger.info("Silver run %s (as_of %s)", run_id, reference.isoformat())
    return {"run_id": run_id, "started_at": started_at, "as_of": reference.astimezone(UTC)}


def _select_files(
    dataset: str,
    bronze: DataFrame,
    processed: DataFrame | None,
    full_refresh: bool,
    bronze_log: DataFrame | None,
    written: Sequence[tuple[DataFrame | None, str]],
) -> tuple[DataFrame, ledger.Selection]:
    files = ledger.list_bronze_files(bronze)
    state = ledger.read_ledger(processed, dataset)
    legacy = {}
    if state.needs_migration and not full_refresh:
        legacy = ledger.legacy_consumed(dataset, files, state, bronze_log, written)
    selection = ledger.select_files(dataset, files, state, full_refresh, legacy)
    logger.info("%s", ledger.describe(selection, len(files), state, full_refresh))
    return bronze.filter(ledger.file_filter(selection)), selection


def select_new_311_files(
    bronze: DataFrame,
    processed: DataFrame | None,
    full_refresh: bool,
    bronze_log: DataFrame | None = None,
    silver: DataFrame | None = None,
    quarantine: DataFrame | None = None,
) -> tuple[DataFrame, ledger.Selection]:
    """The 311 bronze rows of the files silver has not consumed yet (all on full refresh).

    ``processed`` is silver's ledger; ``bronze_log``, ``silver`` and ``quarantine`` (the tables
    as they are before this run) only matter while the ledger is the older batch-level log
    (:func:`~.ledger.legacy_consumed`).
    """
    written = ((silver, "_silver_updated_at"), (quarantine, "quarantined_at"))
    return _select_files("nyc311", bronze, processed, bool(full_refresh), bronze_log, written)


def select_new_911_files(
    bronze: DataFrame,
    processed: DataFrame | None,
    full_refresh: bool,
    bronze_log: DataFrame | None = None,
    silver: DataFrame | None = None,
    quarantine: DataFrame | None = None,
) -> tuple[DataFrame, ledger.Selection]:
    """The 911 bronze rows of the files silver has not consumed yet (all on full refresh)."""
    written = ((silver, "_silver_updated_at"), (quarantine, "quarantined_at"))
    return _select_files("nyc911", bronze, processed, bool(full_refresh), bronze_log, written)


def find_interrupted_runs(
    processed: DataFrame | None,
    quarantine_311: DataFrame | None,
    quarantine_911: DataFrame | None,
    dq_results: DataFrame | None,
) -> list[str]:
    """Earlier runs that appended quarantine or data-quality rows, then ended before the ledger.

    This run checks their files again; the quarantines and ``monitoring.dq_results`` drop their
    rows before appending this run's (:func:`release_quarantine`).
    """
    return ledger.interrupted_runs(processed, (quarantine_311, quarantine_911), dq_results)


# --------------------------------------------------------------------------------------------
# 311 stage 1: base (types, names, cleaned strings)
# --------------------------------------------------------------------------------------------


def _source_column(df: DataFrame, name: str) -> Column:
    from pyspark.sql import functions as F

    if name in df.columns:
        return F.col(name).cast("string")
    return F.lit(None).cast("string")


def clean_311_base(bronze: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """Stage 1: typed 311 rows with snake_case names and cleaned strings.

    Strings are trimmed; empty strings and ``null_placeholders`` become null; codes are upper
    case; the floating timestamps are parsed as New York local time, ``_socrata_updated_at`` as
    UTC; numbers and ZIPs are parsed with regex guards. A value that does not parse becomes null
    and its field name is listed in ``parse_errors``. ``source_unique_key`` keeps the key's text
    so a row whose key does not parse can still be traced from the quarantine.
    """
    from pyspark.sql import functions as F

    placeholders = params.get("null_placeholders", [])
    missing = [f for f in NYC311_FIELDS if f not in bronze.columns]
    if missing:
        logger.warning("Bronze 311 lacks columns %s: they are null in silver", missing)
    # Three selects that refer to the previous one's columns by name: each parse expression is
    # built once (see parsers' module doc on plan growth).
    kept = [f for f in NYC311_FIELDS if f not in NYC311_DROPPED_FIELDS]
    zip_placeholder = params.get("zip_null_pattern")

    def cleaned_field(name: str) -> Column:
        value = parsers.clean_string(_source_column(bronze, name), placeholders)
        if name == "incident_zip" and zip_placeholder:
            # "0" / "00000" are placeholders, not malformed ZIPs: null without a parse error.
            return F.when(value.rlike(zip_placeholder), F.lit(None).cast("string")).otherwise(value)
        return value

    cleaned = bronze.select(
        *[cleaned_field(f).alias(f) for f in kept],
        parsers.clean_string(_source_column(bronze, "_socrata_updated_at")).alias(
            "_socrata_updated_at"
        ),
        _source_column(bronze, "_socrata_id").alias("_socrata_id"),
        F.col("_ingested_at").cast("timestamp").alias("_ingested_at"),
        F.col("_source_file").cast("string").alias("_source_file"),
        F.col("_batch_id").cast("string").alias("_batch_id"),
    )
    checked_fields = ("unique_key", "incident_zip", *NYC311_TIMESTAMP_FIELDS, *NYC311_DOUBLE_FIELDS)
    typed_columns: list[Column] = []
    for name in kept:
        raw = F.col(name)
        if name == "unique_key":
            parsed = parsers.parse_bigint(raw, trimmed=True)
        elif name in NYC311_TIMESTAMP_FIELDS:
            parsed = parsers.parse_timestamp(raw, trimmed=True)
        elif name in NYC311_DOUBLE_FIELDS:
            parsed = parsers.parse_double(raw, trimmed=True)
        elif name == "incident_zip":
            parsed = parsers.parse_zip(raw, trimmed=True)
        elif name in NYC311_UPPER_FIELDS:
            parsed = F.upper(raw)
        else:
            parsed = raw
        alias = "complaint_type_raw" if name == "complaint_type" else name
        typed_columns.append(parsed.alias(alias))
    typed = cleaned.select(
        *typed_columns,
        F.col("unique_key").alias("source_unique_key"),
        *[F.col(f).alias(f"_raw_{f}") for f in checked_fields],
        F.col("_socrata_updated_at").alias("_raw__socrata_updated_at"),
        parsers.parse_timestamp(F.col("_socrata_updated_at"), trimmed=True).alias(
            "_socrata_updated_at"
        ),
        "_socrata_id",
        "_ingested_at",
        "_source_file",
        "_batch_id",
    )
    errors = {f: (F.col(f"_raw_{f}"), F.col(f)) for f in (*checked_fields, "_socrata_updated_at")}
    # Bulk exports carry no :updated_at; the reference pipelines' version stamp (the latest of
    # the request's own dates) is the fallback, so the merge still has an order. Each date is
    # capped at the row's ingestion time: an export cannot hold a version newer than the moment
    # it was ingested, and a typo'd future closed date (2031) must neither fail the
    # source_updated_at_not_in_future rule nor outrank every later API correction.
    ingested_at = F.col("_ingested_at")

    def no_later_than_ingestion(name: str) -> Column:
        date = F.col(name)
        return F.when(date.isNull(), F.lit(None).cast("timestamp")).otherwise(
            F.least(date, ingested_at)
        )

    source_updated_at = F.coalesce(
        F.col("_socrata_updated_at"),
        F.greatest(
            *[
                no_later_than_ingestion(name)
                for name in ("created_date", "closed_date", "resolution_action_updated_date")
            ]
        ),
    )
    order = ["unique_key", "source_unique_key"] + [
        "complaint_type_raw" if f == "complaint_type" else f for f in kept if f != "unique_key"
    ]
    return typed.select(
        *order,
        source_updated_at.alias("source_updated_at"),
        parsers.parse_errors(errors).alias("parse_errors"),
        "_socrata_id",
        "_ingested_at",
        "_source_file",
        "_batch_id",
    )


# --------------------------------------------------------------------------------------------
# Stage 2: quality (flags, rules, quarantine, DQ results)
# --------------------------------------------------------------------------------------------

RUN_AS_OF_COLUMN = "_run_as_of"


def _as_of_literal(run: Mapping[str, Any]) -> Column:
    from pyspark.sql import functions as F

    as_of: datetime = run["as_of"]
    return F.try_to_timestamp(F.lit(as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")))


def add_311_flags(base: DataFrame, params: Mapping[str, Any], as_of: Column) -> DataFrame:
    """The five quality flags of the 311 contract, from parameters (defaults: seed parity).

    * ``has_valid_location``: latitude/longitude inside ``location_bounds`` (NYC), not 0/NaN;
    * ``has_valid_zip``: a 5-digit ZIP matching ``nyc_zip_pattern`` (NYC's 100-104, 110-116);
    * ``has_resolution``: a resolution description is present;
    * ``has_invalid_closed_date``: closed before created, or before ``min_closed_year``;
    * ``has_future_closed_date``: closed more than ``future_closed_tolerance_days`` after as_of.
    """
    from pyspark.sql import functions as F

    bounds = params["location_bounds"]
    lat, lon = F.col("latitude"), F.col("longitude")
    valid_location = (
        lat.isNotNull()
        & lon.isNotNull()
        & ~F.isnan(lat)
        & ~F.isnan(lon)
        & (lat != 0)
        & (lon != 0)
        & lat.between(float(bounds["lat_min"]), float(bounds["lat_max"]))
        & lon.between(float(bounds["lon_min"]), float(bounds["lon_max"]))
    )
    closed, created = F.col("closed_date"), F.col("created_date")
    invalid_closed = closed.isNotNull() & (
        (created.isNotNull() & (closed < created))
        | (F.year(closed) < F.lit(int(params["min_closed_year"])))
    )
    tolerance_days = int(params["future_closed_tolerance_days"])
    future_closed = closed.isNotNull() & (
        closed > as_of + F.expr(f"INTERVAL {tolerance_days} DAYS")
    )
    return base.select(
        "*",
        F.coalesce(valid_location, F.lit(False)).alias("has_valid_location"),
        F.coalesce(F.col("incident_zip").rlike(params["nyc_zip_pattern"]), F.lit(False)).alias(
            "has_valid_zip"
        ),
        F.col("resolution_description").isNotNull().alias("has_resolution"),
        F.coalesce(invalid_closed, F.lit(False)).alias("has_invalid_closed_date"),
        F.coalesce(future_closed, F.lit(False)).alias("has_future_closed_date"),
    )


def apply_rule_registry(df: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """``df`` with the failed-rules column of the source's rule registry (``params.rules``)."""
    return apply_rules(df, rules_from_config(params.get("rules", [])), FAILED_RULES_COLUMN)


def _split_checked(
    checked: DataFrame,
    params: Mapping[str, Any],
    run: Mapping[str, Any],
    table_name: str,
    flag_columns: Sequence[str],
    quarantine_columns: Sequence[Column] | None = None,
) -> tuple[DataFrame, DataFrame, list[dict[str, Any]]]:
    """Count the rules (one aggregate), enforce them, split passed from quarantined rows.

    ``checked`` already carries the failed-rules column (:func:`apply_rules`).
    ``quarantine_columns`` (default: every column but the flags) shape the quarantined rows.
    """
    from pyspark.sql import functions as F

    rules = rules_from_config(params.get("rules", []))
    report: QualityReport = summarize_rules(checked, rules, table_name, FAILED_RULES_COLUMN)
    logger.info("%s", format_summary(report))
    enforce_rules(
        report,
        rules,
        max_quarantine_share=params.get("max_quarantine_share"),
        min_rows_for_share_check=int(params.get("min_rows_for_share_check", 0)),
    )
    quarantined = is_quarantined(rules, FAILED_RULES_COLUMN)
    internal = [RUN_AS_OF_COLUMN, *flag_columns]
    passed = (
        checked.filter(~quarantined)
        .withColumnRenamed(FAILED_RULES_COLUMN, "dq_warnings")
        .drop(RUN_AS_OF_COLUMN)
    )
    failing = checked.filter(quarantined)
    if quarantine_columns is None:
        failing = failing.drop(*[c for c in internal if c in checked.columns])
    else:
        failing = failing.select(*quarantine_columns, FAILED_RULES_COLUMN)
    quarantine = failing.withColumn("run_id", F.lit(run["run_id"])).withColumn(
        "quarantined_at", F.lit(run["started_at"]).cast("timestamp")
    )
    records = results_to_records(report, str(run["run_id"]), run["started_at"])
    return passed, quarantine, records


def release_quarantine(
    quarantined: DataFrame,
    run: Mapping[str, Any],
    interrupted_runs: Sequence[str] = (),
) -> RunRows:
    """Hand a source's quarantined rows (its quality check passed) to its quarantine table.

    Each source stands alone: a failing check of the other source does not hold this one back.
    The quarantine is append-only. A run that appended and then ended before its ledger write
    (for instance because the other source failed afterwards) is an ``interrupted_runs`` entry:
    the next run checks the same files again, so the dataset deletes that run's rows before it
    appends its own, and no row is quarantined twice.
    """
    return RunRows(quarantined, str(run["run_id"]), tuple(interrupted_runs))


NYC311_FLAGS = (
    "has_valid_location",
    "has_valid_zip",
    "has_resolution",
    "has_invalid_closed_date",
    "has_future_closed_date",
)


def check_311_quality(
    base: DataFrame, params: Mapping[str, Any], run: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame, list[dict[str, Any]]]:
    """Stage 2: add the quality flags and apply the 311 rule registry.

    Returns the rows that pass every ``quarantine`` rule (with their ``dq_warnings``), the
    quarantined rows (base columns + ``failed_rules``, ``run_id``, ``quarantined_at``) and one
    DQ result record per rule. Raises :class:`~nyc_lakehouse.quality.DataQualityError` when a
    ``fail`` rule fails or the quarantined share exceeds ``max_quarantine_share``.
    """
    checked = flag_and_apply_311_rules(base, params, run)
    return _split_checked(checked, params, run, NYC311_TABLE, NYC311_FLAGS)


def flag_and_apply_311_rules(
    base: DataFrame, params: Mapping[str, Any], run: Mapping[str, Any]
) -> DataFrame:
    """The base rows with the five flags, the run's as-of time and their failed rules."""
    as_of = _as_of_literal(run)
    flagged = add_311_flags(base, params, as_of).withColumn(RUN_AS_OF_COLUMN, as_of)
    return apply_rule_registry(flagged, params)


# Base columns that enrichment replaces with their standardized value; the prepared increment
# keeps the typed value as ``_typed_<name>`` so the quarantine stores rows as they were received.
NYC311_ENRICHED_IN_PLACE = ("status", "borough", "closed_date", "incident_address", "street_name")
TYPED_PREFIX = "_typed_"


def nyc311_base_columns() -> list[str]:
    """The columns of :func:`clean_311_base`'s output, in order."""
    kept = [f for f in NYC311_FIELDS if f not in NYC311_DROPPED_FIELDS]
    renamed = ["complaint_type_raw" if f == "complaint_type" else f for f in kept]
    return [
        "unique_key",
        "source_unique_key",
        *[f for f in renamed if f != "unique_key"],
        "source_updated_at",
        "parse_errors",
        "_socrata_id",
        "_ingested_at",
        "_source_file",
        "_batch_id",
    ]


def prepare_311_increment(
    bronze: DataFrame, params: Mapping[str, Any], run: Mapping[str, Any]
) -> DataFrame:
    """Stages 1-3 in one pass: typed, flagged, checked against the rules and enriched.

    Every row of the increment, quarantined or not (``_quarantined``), with its failed rules
    (``dq_warnings``, silver's name) and the run's ``_silver_updated_at``; the catalog
    persists it (``silver.nyc311_increment``) and everything after reads it: the rule counts,
    the quarantine and the merge. One pass over bronze instead of a typed table plus a staged
    enriched copy, which wrote and read the wide rows once more. Pure column expressions only:
    a filter here would be pushed into the parse expressions and re-run them, turning a short
    quarantine write into a very long one. The content hash and the row id the catalog adds as
    it writes (``add_row_hash``, ``add_row_id``: :func:`with_row_hash`) let the upsert
    deduplicate on narrow columns instead of re-reading the wide rows.
    """
    from pyspark.sql import functions as F

    checked = flag_and_apply_311_rules(clean_311_base(bronze, params), params, run)
    # Only the quarantine reads the received values: null on the rows that pass, they cost
    # nothing to store (otherwise a sizeable share of the persisted increment).
    rules = rules_from_config(params.get("rules", []))
    flagged = checked.withColumn("_quarantined", is_quarantined(rules, FAILED_RULES_COLUMN))
    received = [
        F.when(F.col("_quarantined"), F.col(c)).alias(f"{TYPED_PREFIX}{c}")
        for c in NYC311_ENRICHED_IN_PLACE
    ]
    only_quarantined_key = F.when(F.col("_quarantined"), F.col("source_unique_key"))
    kept = flagged.withColumn("source_unique_key", only_quarantined_key).select("*", *received)
    # Stored under their silver names and with the run's stamp, so that on a first load the
    # increment's files can become silver's (delta/first_load.py). The catalog adds the row
    # identity as it writes (add_row_hash, leaving out the run's time and stamp, and add_row_id).
    return (
        enrich_311(kept, params, run)
        .withColumnRenamed(FAILED_RULES_COLUMN, "dq_warnings")
        .withColumn("_silver_updated_at", F.lit(run["started_at"]).cast("timestamp"))
    )


def check_311_increment(
    prepared: DataFrame, params: Mapping[str, Any], run: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame, list[dict[str, Any]]]:
    """Stage 2's verdict on the prepared increment: passed (enriched) rows, quarantine, DQ records.

    Same contract as :func:`check_311_quality`: the quarantined rows hold the typed base
    columns as received (not their enriched values), then ``failed_rules``, ``run_id``,
    ``quarantined_at``. Raises :class:`~nyc_lakehouse.quality.DataQualityError` like it.
    """
    from pyspark.sql import functions as F

    typed = [
        F.col(f"{TYPED_PREFIX}{c}").alias(c) if c in NYC311_ENRICHED_IN_PLACE else F.col(c)
        for c in nyc311_base_columns()
    ]
    if "dq_warnings" in prepared.columns:
        prepared = prepared.withColumnRenamed("dq_warnings", FAILED_RULES_COLUMN)
    return _split_checked(prepared, params, run, NYC311_TABLE, NYC311_FLAGS, typed)


# --------------------------------------------------------------------------------------------
# 311 stage 3: enrichment
# --------------------------------------------------------------------------------------------


def _map_lookup(mapping: Mapping[str, str], key: Column) -> Column:
    from pyspark.sql import functions as F

    if not mapping:
        return F.lit(None).cast("string")
    pairs: list[Column] = []
    for k, v in mapping.items():
        pairs += [F.lit(str(k)), F.lit(str(v))]
    return F.try_element_at(F.create_map(*pairs), key)


def standardize_status(status: Column, params: Mapping[str, Any]) -> Column:
    """Upper-case status from ``status.allowed``; ``status.aliases`` fix spellings; else UNSPECIFIED."""
    from pyspark.sql import functions as F

    key = F.upper(F.regexp_replace(F.trim(status), "\\s+", " "))
    allowed = [str(s) for s in params["allowed"]]
    return F.coalesce(
        _map_lookup({str(k).upper(): v for k, v in params.get("aliases", {}).items()}, key),
        F.when(key.isin(allowed), key),
        F.when(key.startswith("CLOSED"), F.lit("CLOSED")),
        F.lit(params.get("default", "UNSPECIFIED")),
    )


def borough_from_zip(incident_zip: Column, params: Mapping[str, Any]) -> Column:
    """The borough whose ``zip_ranges`` (minus ``zip_exclusions``) or ``queens_zips`` hold the
    ZIP; null otherwise. Plain comparisons on the ZIP's number: cheap on every row."""
    from pyspark.sql import functions as F

    zip_number = incident_zip.try_cast("int")
    from_zip: Column | None = None
    for borough, ranges in params.get("zip_ranges", {}).items():
        in_borough = F.lit(False)
        for low, high in ranges:
            in_borough = in_borough | zip_number.between(int(low), int(high))
        for low, high in params.get("zip_exclusions", {}).get(borough, []):
            in_borough = in_borough & ~zip_number.between(int(low), int(high))
        condition = F.coalesce(in_borough, F.lit(False))
        from_zip = (
            F.when(condition, F.lit(borough))
            if from_zip is None
            else from_zip.when(condition, F.lit(borough))
        )
    queens = [str(z) for z in params.get("queens_zips", [])]
    if queens:
        condition = F.coalesce(incident_zip.isin(queens), F.lit(False))
        from_zip = (
            F.when(condition, F.lit("QUEENS"))
            if from_zip is None
            else from_zip.when(condition, F.lit("QUEENS"))
        )
    return from_zip if from_zip is not None else F.lit(None).cast("string")


def borough_from_city(city: Column, params: Mapping[str, Any]) -> Column:
    """The borough of a city name in ``city_names`` (upper case, single spaces); null otherwise."""
    from pyspark.sql import functions as F

    city_key = F.upper(F.regexp_replace(F.trim(city), "\\s+", " "))
    city_names = {str(k).upper(): str(v) for k, v in params.get("city_names", {}).items()}
    return _map_lookup(city_names, city_key)


def recover_borough(
    df: DataFrame, params: Mapping[str, Any], by_city: Column | None = None
) -> DataFrame:
    """Replace ``borough``: the source's if valid, else from the ZIP, else from the city name.

    Adds ``borough_recovered_from`` (``source``, ``zip``, ``city`` or ``unspecified``).
    ``by_city`` replaces :func:`borough_from_city` (the enrichment passes a precomputed lookup).
    """
    from pyspark.sql import functions as F

    valid = [str(b) for b in params["valid"]]
    candidates = df.select(
        "*",
        F.when(F.col("borough").isin(valid), F.col("borough")).alias("_borough_source"),
        borough_from_zip(F.col("incident_zip"), params).alias("_borough_zip"),
        (by_city if by_city is not None else borough_from_city(F.col("city"), params)).alias(
            "_borough_city"
        ),
    )
    source, by_zip, city = (
        F.col("_borough_source"),
        F.col("_borough_zip"),
        F.col("_borough_city"),
    )
    return (
        candidates.withColumn("borough", F.coalesce(source, by_zip, city, F.lit("UNSPECIFIED")))
        .withColumn(
            "borough_recovered_from",
            F.when(source.isNotNull(), F.lit("source"))
            .when(by_zip.isNotNull(), F.lit("zip"))
            .when(city.isNotNull(), F.lit("city"))
            .otherwise(F.lit("unspecified")),
        )
        .drop("_borough_source", "_borough_zip", "_borough_city")
    )


def normalize_address(address: Column, abbreviations: Mapping[str, str]) -> Column:
    """Upper case, no ``.``/``,``, single spaces; a street-type abbreviation at the end expanded.

    Only the last word is expanded: ``ST NICHOLAS AVE`` -> ``ST NICHOLAS AVENUE`` (a leading
    ``ST`` is Saint; a one-word address is left alone). Addresses are nearly unique, so this
    runs on every row: the last word is compared in one CASE instead of one regex per
    abbreviation, which is cheaper; a literal map built per row, as ``_map_lookup`` does, is
    far slower still.
    """
    from pyspark.sql import functions as F

    spaced = F.translate(address, ".,", "  ")
    # The regex only where it changes something: a run of whitespace or a tab, newline or other
    # non-space whitespace (most addresses have neither, so most rows skip the regex).
    collapsed = F.when(
        spaced.rlike("\\s\\s|[^\\S ]"), F.regexp_replace(spaced, "\\s+", " ")
    ).otherwise(spaced)
    value = F.upper(F.trim(collapsed))
    value = F.when(value == F.lit(""), F.lit(None).cast("string")).otherwise(value)
    expansions = {str(short).upper(): str(full).upper() for short, full in abbreviations.items()}
    if not expansions:
        return value
    last_word = F.substring_index(value, " ", -1)
    stem_length = F.length(value) - F.length(last_word)  # the words before it, with the space
    expansion = None
    for short, full in expansions.items():
        condition = last_word == F.lit(short)
        expansion = (F.when if expansion is None else expansion.when)(condition, F.lit(full))
    # The concatenation only on the rows that end in an abbreviation (a CASE evaluates its
    # branch on the rows it selects): most addresses already end in a full word.
    expandable = last_word.isin(sorted(expansions)) & (stem_length > 0)
    expanded = F.concat(value.substr(F.lit(1), stem_length), expansion)
    return F.when(expandable, expanded).otherwise(value)


def canonical_complaint_type(raw: Column, aliases: Mapping[str, str]) -> Column:
    """``complaint_types.aliases`` (by upper-case text) first, else title case.

    Title case treats ``/``, ``-`` and ``(`` as word breaks: ``HEAT/HOT WATER`` ->
    ``Heat/Hot Water``, ``Noise - Street/Sidewalk`` stays as is.
    """
    from pyspark.sql import functions as F

    spaced = F.regexp_replace(F.lower(F.regexp_replace(F.trim(raw), "\\s+", " ")), "([/(-])", "$1 ")
    title = F.regexp_replace(F.initcap(spaced), "([/(-]) ", "$1")
    key = F.upper(F.regexp_replace(F.trim(raw), "\\s+", " "))
    alias = _map_lookup({str(k).upper(): v for k, v in aliases.items()}, key)
    return F.when(raw.isNull(), F.lit(None).cast("string")).otherwise(F.coalesce(alias, title))


def complaint_category(canonical: Column, params: Mapping[str, Any]) -> Column:
    """The first ``complaint_types.categories`` pattern (regex on lower case) that matches."""
    from pyspark.sql import functions as F

    key = F.lower(canonical)
    result: Column | None = None
    for entry in params.get("categories", []):
        condition = F.coalesce(key.rlike(str(entry["pattern"])), F.lit(False))
        result = (
            F.when(condition, F.lit(entry["category"]))
            if result is None
            else result.when(condition, F.lit(entry["category"]))
        )
    default = F.lit(params.get("default_category", "Other"))
    if result is None:
        return F.when(canonical.isNull(), F.lit(None).cast("string")).otherwise(default)
    return F.when(canonical.isNull(), F.lit(None).cast("string")).otherwise(
        result.otherwise(default)
    )


def enrich_311(checked: DataFrame, params: Mapping[str, Any], run: Mapping[str, Any]) -> DataFrame:
    """Stage 3: status, inferred closed dates, response time, date parts, borough, address, types.

    A request whose status is CLOSED without a closed date gets its resolution date as closed
    date when ``created <= resolution <= as_of`` (``is_closed_date_inferred``). Response time
    (hours) is set for closed dates that are not flagged invalid or future.
    """
    from pyspark.sql import functions as F

    as_of = _as_of_literal(run)
    coded = _with_code_lookups(checked, params)
    # Built in steps that refer to earlier columns by name, so no expression is inlined twice.
    with_status = coded  # status already standardized by the lookup
    created = F.col("created_date")
    resolution = F.col("resolution_action_updated_date")
    inferred = F.coalesce(
        F.col("closed_date").isNull()
        & (F.col("status") == F.lit("CLOSED"))
        & resolution.isNotNull()
        & (resolution >= created)
        & (resolution <= as_of),
        F.lit(False),
    )
    with_closed = with_status.withColumn("is_closed_date_inferred", inferred).withColumn(
        "closed_date",
        F.when(F.col("is_closed_date_inferred"), resolution).otherwise(F.col("closed_date")),
    )
    closed = F.col("closed_date")
    response_hours = F.when(
        closed.isNotNull() & ~F.col("has_invalid_closed_date") & ~F.col("has_future_closed_date"),
        ((F.unix_timestamp(closed) - F.unix_timestamp(created)) / F.lit(3600.0)).cast("double"),
    )
    abbreviations = params.get("address_abbreviations", {})
    # Calendar fields in the session time zone (New York): Delta reads on Sail are converted by
    # the dataset (nyc_lakehouse.delta.engines.sail.in_session_time_zone).
    local_created = F.col("created_date")
    day_of_week = ((F.dayofweek(local_created) + F.lit(5)) % F.lit(7) + F.lit(1)).cast("int")
    described = with_closed.select(
        *[
            c
            for c in with_closed.columns
            if c not in ("incident_address", "street_name") and not c.startswith("_code_")
        ],
        F.col("_code_complaint_type").alias("complaint_type"),
        F.col("_code_complaint_category").alias("complaint_category"),
        F.col("_code_borough_recovered_from").alias("borough_recovered_from"),
        (F.col("status") == F.lit("CLOSED")).alias("is_closed"),
        response_hours.alias("response_time_hours"),
        normalize_address(F.col("incident_address"), abbreviations).alias("incident_address"),
        normalize_address(F.col("street_name"), abbreviations).alias("street_name"),
        F.to_date(local_created).alias("created_date_only"),
        F.to_date(closed).alias("closed_date_only"),
        F.year(local_created).cast("int").alias("created_year"),
        F.month(local_created).cast("int").alias("created_month_num"),
        day_of_week.alias("created_day_of_week"),
        F.hour(local_created).cast("int").alias("created_hour"),
        # "yyyy-MM" from the year and month numbers, which is cheaper than date_format (years
        # are 1900-2999, so four digits).
        F.concat(
            F.year(local_created).cast("string"),
            F.lit("-"),
            F.lpad(F.month(local_created).cast("string"), 2, "0"),
        ).alias("created_month"),
    )
    return described


# The code columns whose derived values are looked up per distinct value (see _with_code_lookups).
CODE_COLUMNS = ("status", "complaint_type_raw", "city")


def lookup_values(
    key: Column, mapping: Mapping[str | None, str | None], otherwise: Column
) -> Column:
    """``mapping[key]`` as one CASE of IN lists, one per distinct result; other keys: ``otherwise``.

    Evaluating a per-value function on the few distinct values of a column, then this lookup on
    every row, replaces a per-row regex or map (Sail builds a literal map for every row) and a
    join (which copies every column of the wide rows). The keys that map to themselves share one
    branch that returns the key: a CASE costs one pass over the rows per branch, and most
    complaint types are already canonical, so most of them share that one branch.
    """
    from pyspark.sql import functions as F

    unchanged: list[str] = []
    keys_by_result: dict[str | None, list[str]] = {}
    for value, result in mapping.items():
        if value is None:
            continue
        if value == result:
            unchanged.append(value)
        else:
            keys_by_result.setdefault(result, []).append(value)
    null_result = F.lit(mapping[None]).cast("string") if None in mapping else otherwise
    lookup = F.when(key.isNull(), null_result)
    if unchanged:
        lookup = lookup.when(key.isin(sorted(unchanged)), key.cast("string"))
    for result, values in keys_by_result.items():
        lookup = lookup.when(key.isin(sorted(values)), F.lit(result).cast("string"))
    return lookup.otherwise(otherwise)


def missing_lookup_value(column: str) -> Column:
    """A lookup's ELSE branch where the lookup holds every value: fail the job, loudly."""
    from pyspark.sql import functions as F

    message = (
        f"Silver 311: a {column} value appeared after its distinct values were collected "
        "(the increment changed while silver read it); rerun silver"
    )
    return F.raise_error(F.lit(message)).cast("string")


# Above this many distinct values a column keeps the per-row functions (the IN lists would make
# a plan too large to be worth it; these columns hold tens to hundreds of values).
MAX_LOOKUP_VALUES = 5_000


def _distinct_code_values(checked: DataFrame) -> dict[str, list[str | None] | None]:
    """The distinct values of each CODE_COLUMNS column (null included), in one aggregation;
    ``None`` for a column with more than MAX_LOOKUP_VALUES."""
    from pyspark.sql import functions as F

    row = checked.agg(
        *[F.slice(F.collect_set(c), 1, MAX_LOOKUP_VALUES + 1).alias(c) for c in CODE_COLUMNS],
    ).first()
    values: dict[str, list[str | None] | None] = {}
    for column in CODE_COLUMNS:
        found = list(row[column] or []) if row is not None else []
        if len(found) > MAX_LOOKUP_VALUES:
            logger.info("Silver 311: %s has over %d values: mapped row by row", column, len(found))
            values[column] = None
        else:
            values[column] = [*found, None]
    return values


def _with_code_lookups(checked: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """Status, canonical complaint type, category and borough, per distinct value of their inputs.

    Their regexes and map lookups run once per distinct value (a few hundred at most) on a small
    table, in one job, and every row gets the results through :func:`lookup_values`. The
    alternative, a table of distinct combinations joined back, would copy every wide row in
    the join.

    The values are collected from ``checked`` itself, so the lookup is complete; a value it
    lacks means the input changed between the two reads, and the row fails the job
    (:func:`missing_lookup_value`) instead of silently getting another value. The per-row
    functions are not the fallback: planning them as every lookup's ELSE branch would cost
    more than running a whole daily increment.
    """
    from pyspark.sql import functions as F

    spark = checked.sparkSession
    values = _distinct_code_values(checked)
    complaint_types = params["complaint_types"]

    def standardized_status(column: Column) -> Column:
        return standardize_status(column, params["status"])

    def canonical(column: Column) -> Column:
        return canonical_complaint_type(column, complaint_types.get("aliases", {}))

    def category(column: Column) -> Column:
        return complaint_category(canonical(column), complaint_types)

    def city_borough(column: Column) -> Column:
        return borough_from_city(column, params["borough"])

    functions: dict[str, dict[str, Callable[[Column], Column]]] = {
        "status": {"status": standardized_status},
        "complaint_type_raw": {"canonical": canonical, "category": category},
        "city": {"city_borough": city_borough},
    }
    # Every function on every collected value, in one small job (a few hundred rows).
    pairs = [(column, v) for column in functions for v in values[column] or []]
    results: dict[str, dict[str | None, str | None]] = {
        name: {} for names in functions.values() for name in names
    }
    if pairs:
        table = spark.createDataFrame(pairs, "`column` string, value string")
        value = F.col("value")
        outputs = [
            f(value).alias(name) for names in functions.values() for name, f in names.items()
        ]
        for row in table.select("column", "value", *outputs).collect():
            for name in functions[row["column"]]:
                results[name][row["value"]] = row[name]

    def lookup(column: str, name: str) -> Column:
        """``functions[column][name](column)`` on every row, through its collected values."""
        if values[column] is None:
            return functions[column][name](F.col(column))
        return lookup_values(F.col(column), results[name], missing_lookup_value(column))

    coded = checked.select(
        *[c for c in checked.columns if c != "status"],
        lookup("status", "status").alias("status"),
        lookup("complaint_type_raw", "canonical").alias("_code_complaint_type"),
        lookup("complaint_type_raw", "category").alias("_code_complaint_category"),
    )
    by_city = lookup("city", "city_borough")
    recovered = recover_borough(coded, params["borough"], by_city).withColumnRenamed(
        "borough_recovered_from", "_code_borough_recovered_from"
    )
    # The column order of the earlier join, so an existing increment table keeps its schema.
    first = ["status", "borough", "_code_borough_recovered_from", "_code_complaint_type"]
    first.append("_code_complaint_category")
    return recovered.select(*first, *[c for c in recovered.columns if c not in first])


# --------------------------------------------------------------------------------------------
# 311 stage 4: final (one row per request, latest version)
# --------------------------------------------------------------------------------------------

NYC311_SILVER_COLUMNS = (
    "unique_key", "created_date", "closed_date", "due_date", "resolution_action_updated_date",
    "agency", "agency_name", "complaint_type", "complaint_type_raw", "complaint_category",
    "descriptor", "location_type", "incident_zip", "incident_address", "street_name",
    "cross_street_1", "cross_street_2", "intersection_street_1", "intersection_street_2",
    "address_type", "city", "landmark", "facility_type", "borough", "borough_recovered_from",
    "community_board", "status", "resolution_description", "open_data_channel_type",
    "park_facility_name", "park_borough", "vehicle_type", "taxi_company_borough",
    "taxi_pick_up_location", "bridge_highway_name", "bridge_highway_direction", "road_ramp",
    "bridge_highway_segment", "latitude", "longitude", "x_coordinate_state_plane",
    "y_coordinate_state_plane", "bbl", "created_date_only", "created_year", "created_month_num",
    "created_day_of_week", "created_hour", "created_month", "closed_date_only",
    "response_time_hours", "is_closed",
    "is_closed_date_inferred", "has_valid_location", "has_valid_zip", "has_resolution",
    "has_invalid_closed_date", "has_future_closed_date", "dq_warnings", "parse_errors",
    "source_updated_at", "_socrata_id", "_ingested_at", "_batch_id", "_source_file",
    "_silver_updated_at",
)  # fmt: skip


def latest_per_key(df: DataFrame, keys: Sequence[str]) -> DataFrame:
    """One row per key: the latest ``source_updated_at``, then the latest ingestion."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(*keys).orderBy(
        F.col("source_updated_at").desc_nulls_last(),
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_source_file").desc_nulls_last(),
    )
    return (
        df.withColumn("_version_rank", F.row_number().over(order))
        .filter(F.col("_version_rank") == 1)
        .drop("_version_rank")
    )


def finalize_311(enriched: DataFrame, run: Mapping[str, Any]) -> DataFrame:
    """Stage 4: the increment in contract column order, stamped with the run.

    The catalog upserts it into ``silver.nyc311_service_requests`` (keys ``unique_key``,
    sequence ``source_updated_at``, tiebreaks ``_ingested_at, _source_file``, partitions
    ``created_month``): the dataset keeps the latest version of each request in the increment
    (it ranks only the keys that occur twice, on narrow columns and the row identity: a window
    over every row here cost more than the whole cleaning), a newer version updates the row,
    and an older one arriving late never overwrites it.
    """
    from pyspark.sql import functions as F

    columns = enriched.columns
    stamped = enriched
    if "_silver_updated_at" not in columns:  # the prepared increment carries it already
        stamped = enriched.withColumn(
            "_silver_updated_at", F.lit(run["started_at"]).cast("timestamp")
        )
    # select_columns keeps the storage columns the increment's dataset added, for the upsert.
    # Nothing else may change between the increment and the upsert: on a first load the
    # increment's files become the table (the dataset checks counts and types).
    return select_columns(stamped, NYC311_SILVER_COLUMNS)


# --------------------------------------------------------------------------------------------
# 911 End-to-End weekly
# --------------------------------------------------------------------------------------------


def duration_seconds(
    raw: Column, field: str, minute_prefixes: Sequence[str], *, trimmed: bool = False
) -> Column:
    """A duration in seconds: ``Average ...`` columns are minutes (x 60), the others seconds
    (``trimmed``: ``raw`` is already trimmed, as ``clean_string`` leaves it)."""
    from pyspark.sql import functions as F

    value = parsers.parse_double_with_separators(raw, trimmed=trimmed)
    if any(field.startswith(prefix) for prefix in minute_prefixes):
        return (value * F.lit(60.0)).cast("double")
    return value


def normalize_agency(raw: Column, aliases: Mapping[str, str]) -> Column:
    """``NYPD``, ``NYPD (Non-CIP)``, ``FDNY``, ``EMS`` from any spacing/casing/punctuation.

    The lookup key is the upper-case letters and digits only (``nypd non cip`` -> ``NYPDNONCIP``);
    unknown agencies keep their upper-case text, for the ``known_agency`` rule to catch.
    """
    from pyspark.sql import functions as F

    key = F.regexp_replace(F.upper(raw), "[^A-Z0-9]", "")
    normalized = {str(k).upper(): str(v) for k, v in aliases.items()}
    return F.coalesce(_map_lookup(normalized, key), F.upper(raw))


def clean_911_base(bronze: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """911 base: week as a date, agency normalized, counts and durations parsed (in seconds)."""
    from pyspark.sql import functions as F

    placeholders = params.get("null_placeholders", [])
    minute_prefixes = list(params.get("minute_column_prefixes", ["average_"]))
    cleaned = bronze.select(
        *[
            parsers.clean_string(_source_column(bronze, f), placeholders).alias(f)
            for f in NYC911_FIELDS
        ],
        parsers.clean_string(_source_column(bronze, "_socrata_updated_at")).alias(
            "_socrata_updated_at"
        ),
        _source_column(bronze, "_socrata_id").alias("_socrata_id"),
        F.col("_ingested_at").cast("timestamp").alias("_ingested_at"),
        F.col("_source_file").cast("string").alias("_source_file"),
        F.col("_batch_id").cast("string").alias("_batch_id"),
    )
    durations = {f: f"{f}_seconds" for f in NYC911_DURATION_FIELDS}
    typed = cleaned.select(
        parsers.parse_date(F.col("week_start_date"), trimmed=True).alias("week_start_date"),
        normalize_agency(F.col("agency"), params.get("agency_aliases", {})).alias("agency"),
        # A row without a Final Incident Type still carries real incidents: kept under a
        # placeholder type, so incident totals equal the source's (warn rule
        # incident_type_specified counts them).
        F.coalesce(
            F.regexp_replace(F.col("final_incident_type"), "\\s+", " "),
            F.lit(UNSPECIFIED_INCIDENT_TYPE),
        ).alias("incident_type"),
        parsers.parse_bigint(F.col("of_incidents_calculated"), trimmed=True).alias(
            "incident_count"
        ),
        *[
            duration_seconds(F.col(field), field, minute_prefixes, trimmed=True).alias(name)
            for field, name in durations.items()
        ],
        parsers.parse_timestamp(F.col("_socrata_updated_at"), trimmed=True).alias(
            "_socrata_updated_at"
        ),
        *[
            F.col(f).alias(f"_raw_{f}")
            for f in ("week_start_date", "of_incidents_calculated", "_socrata_updated_at")
        ],
        *[F.col(field).alias(f"_raw_{field}") for field in durations],
        "_socrata_id",
        "_ingested_at",
        "_source_file",
        "_batch_id",
    )
    errors = {
        "week_start_date": (F.col("_raw_week_start_date"), F.col("week_start_date")),
        "of_incidents_calculated": (
            F.col("_raw_of_incidents_calculated"),
            F.col("incident_count"),
        ),
        **{field: (F.col(f"_raw_{field}"), F.col(name)) for field, name in durations.items()},
        "_socrata_updated_at": (F.col("_raw__socrata_updated_at"), F.col("_socrata_updated_at")),
    }
    return typed.select(
        "week_start_date",
        "agency",
        "incident_type",
        "incident_count",
        *durations.values(),
        F.coalesce(F.col("_socrata_updated_at"), F.col("_ingested_at")).alias("source_updated_at"),
        parsers.parse_errors(errors).alias("parse_errors"),
        "_socrata_id",
        "_ingested_at",
        "_source_file",
        "_batch_id",
    )


def check_911_quality(
    base: DataFrame, params: Mapping[str, Any], run: Mapping[str, Any]
) -> tuple[DataFrame, DataFrame, list[dict[str, Any]]]:
    """Apply the 911 rule registry (e.g. rows with an unknown agency are quarantined).

    Rows without an incident type were kept as ``Unspecified`` by :func:`clean_911_base`; the
    warn rule ``incident_type_specified`` counts them and a warning names the count.
    """
    flagged = base.withColumn(RUN_AS_OF_COLUMN, _as_of_literal(run))
    checked = _split_checked(apply_rule_registry(flagged, params), params, run, NYC911_TABLE, ())
    unspecified = sum(
        int(r["failed_count"]) for r in checked[2] if r["rule_name"] == "incident_type_specified"
    )
    if unspecified:
        logger.warning(
            "Silver 911: %d row(s) without a Final Incident Type kept as %r (their incidents "
            "count in every total)",
            unspecified,
            UNSPECIFIED_INCIDENT_TYPE,
        )
    return checked


def finalize_911(passed: DataFrame, run: Mapping[str, Any]) -> DataFrame:
    """One row per week x agency x incident type: the newest revision (the city revises weeks)."""
    from pyspark.sql import functions as F

    latest = latest_per_key(passed, ["week_start_date", "agency", "incident_type"])
    columns = [
        "week_start_date",
        "agency",
        "incident_type",
        "incident_count",
        *[f"{field}_seconds" for field in NYC911_DURATION_FIELDS],
        "dq_warnings",
        "parse_errors",
        "source_updated_at",
        "_socrata_id",
        "_ingested_at",
        "_batch_id",
        "_source_file",
    ]
    return latest.select(*columns).withColumn(
        "_silver_updated_at", F.lit(run["started_at"]).cast("timestamp")
    )


# --------------------------------------------------------------------------------------------
# Monitoring: DQ results and the processed-batch log
# --------------------------------------------------------------------------------------------


def publish_dq_results(
    run: Mapping[str, Any],
    interrupted_runs: Sequence[str],
    *records: list[dict[str, Any]],
) -> RunRows:
    """``monitoring.dq_results`` rows of this run (one record list per source it checked),
    replacing those of ``interrupted_runs`` (their files are checked again by this run: see
    :func:`release_quarantine`)."""
    frame = dq_results_frame(*records)
    return RunRows(frame, str(run["run_id"]), tuple(interrupted_runs))


def dq_results_frame(*record_lists: list[dict[str, Any]]) -> DataFrame:
    """``monitoring.dq_results`` rows of this run (one per table x rule), and a log summary."""
    from nyc_lakehouse.spark import get_spark

    records = [record for records in record_lists for record in records]
    failing = [r for r in records if r["failed_count"]]
    logger.info(
        "Data-quality results: %d rule checks, %d with failures%s",
        len(records),
        len(failing),
        "".join(
            f"\n  {r['table_name']}.{r['rule_name']} [{r['action']}]: {r['failed_count']} of "
            f"{r['total_count']} ({r['failed_share']:.2%})"
            for r in failing
        ),
    )
    rows = [
        (
            r["run_id"],
            r["table_name"],
            r["rule_name"],
            r["action"],
            int(r["failed_count"]),
            int(r["total_count"]),
            float(r["failed_share"]),
            r["evaluated_at"],
        )
        for r in records
    ]
    return get_spark().createDataFrame(rows, DQ_RESULTS_SCHEMA)


def record_consumed_files(
    run: Mapping[str, Any],
    full_refresh: bool,
    *selections_and_written: ledger.Selection | DataFrame,
) -> DataFrame:
    """``monitoring.silver_batch_log`` rows: the bronze files this run consumed, one per file.

    ``selections_and_written``: the file selection of each source the run handled, then every
    table the run writes (silver, quarantines, DQ results), which are inputs only so that Kedro
    runs this after they are saved: the ledger is the run's commit point. A file is listed
    once its rows are in silver or the quarantine and counted in the DQ results, so a run that
    ends earlier is simply taken up by the next one (:mod:`.ledger`).
    """
    from nyc_lakehouse.spark import get_spark

    selections = [s for s in selections_and_written if isinstance(s, ledger.Selection)]
    rows = [
        row
        for selection in selections
        for row in ledger.ledger_rows(selection, run, bool(full_refresh))
    ]
    consumed = sum(len(selection.files) for selection in selections)
    logger.info(
        "Silver run %s consumed %d bronze file(s) (%s rows)%s",
        run["run_id"],
        consumed,
        f"{sum(selection.rows for selection in selections):,}",
        f"; {len(rows) - consumed} file(s) recorded as consumed under the batch-level log"
        if len(rows) > consumed
        else "",
    )
    return get_spark().createDataFrame(rows, ledger.LEDGER_SCHEMA)
