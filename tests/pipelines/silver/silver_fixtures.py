"""Helpers of the silver tests: bronze-shaped rows (all strings, API names) and the real config."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

PROJECT_ROOT = Path(__file__).resolve().parents[3]
META_COLUMNS = ("_socrata_id", "_socrata_updated_at", "_socrata_created_at")
BRONZE_EXTRA_SCHEMA = (
    "_ingested_at timestamp, _source_file string, _batch_id string, _ingest_date string"
)

# "Now" of the test runs: fixed, so the future-date rules do not depend on the clock.
AS_OF = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def good_request(unique_key: int | str = 1000001, **overrides: Any) -> dict[str, Any]:
    """A clean, valid 311 record in landing shape (every value a string or None)."""
    record: dict[str, Any] = dict.fromkeys(NYC311_FIELDS)
    record.update(
        unique_key=str(unique_key),
        created_date="2024-05-26T23:10:00.000",
        closed_date="2024-05-27T01:10:00.000",
        agency="NYPD",
        agency_name="New York City Police Department",
        complaint_type="Noise - Residential",
        descriptor="Loud Music/Party",
        location_type="Residential Building/House",
        incident_zip="10033",
        incident_address="600 West 178 St.",
        street_name="WEST 178 ST",
        address_type="ADDRESS",
        city="NEW YORK",
        status="Closed",
        resolution_description="The Police Department responded and took action.",
        resolution_action_updated_date="2024-05-27T01:10:00.000",
        community_board="12 MANHATTAN",
        borough="MANHATTAN",
        x_coordinate_state_plane="1002186",
        y_coordinate_state_plane="247999",
        open_data_channel_type="ONLINE",
        latitude="40.84735682050765",
        longitude="-73.93517137747149",
        _socrata_id="row-abc",
        _socrata_updated_at="2024-05-27T05:10:00.000Z",
    )
    record.update(overrides)
    return record


def good_911_row(**overrides: Any) -> dict[str, Any]:
    """A clean 911 End-to-End record in landing shape (API field names)."""
    record: dict[str, Any] = dict.fromkeys(NYC911_FIELDS)
    record.update(
        week_start_date="06/24/2019",
        agency="EMS",
        final_incident_type="1. Life Threating Med Emergencies",
        of_incidents_calculated="7801",
        call_to_first_pickup="4.51",
        call_to_agency_dispatch="161.40",
        call_to_agency_arrival="580.36",
        median_pickup="3",
        median_dispatch="85.5",
        median_travel="366.5",
        average_travel="6.98",
        average_dispatch="1.54",
        average_pickup="0.08",
        _socrata_id="row-911",
        _socrata_updated_at="2019-07-01T10:00:00.000Z",
    )
    record.update(overrides)
    return record


def bronze_frame(
    spark,
    records: Iterable[dict[str, Any]],
    fields: Iterable[str],
    batch_id: str = "batch-1",
    ingested_at: datetime = datetime(2024, 5, 27, 6, 0, tzinfo=UTC),
    source_file: str | None = None,
):
    """A bronze-shaped DataFrame: landing strings + ``_ingested_at``/``_source_file``/``_batch_id``."""
    fields = list(fields) + [c for c in META_COLUMNS]
    source_file = source_file or f"landing/{batch_id}/part-0.parquet"
    rows = [
        tuple(record.get(f) for f in fields)
        + (ingested_at, source_file, batch_id, ingested_at.strftime("%Y-%m-%d"))
        for record in records
    ]
    schema = ", ".join(f"`{f}` string" for f in fields) + ", " + BRONZE_EXTRA_SCHEMA
    return spark.createDataFrame(rows, schema)


def load_config(key: str, runtime_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's real configuration (``conf/``), resolved as ``kedro run`` resolves it."""
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse import settings

    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        runtime_params=runtime_params or {},
        **settings.CONFIG_LOADER_ARGS,
    )
    return loader[key]


def write_bronze(spark, data_root: Path, table: str, frame) -> None:
    """Append a bronze-shaped frame to ``<data_root>/bronze/<table>`` (as the bronze pipeline does)."""
    frame.write.format("delta").mode("append").partitionBy("_ingest_date").save(
        str(data_root / "bronze" / table)
    )


def silver_catalog(runtime_params: dict[str, Any] | None = None, **param_overrides: Any):
    """The project's real catalog and parameters (``conf/``), as ``kedro run`` would build them.

    ``param_overrides`` replace keys of ``silver.nyc311`` / ``silver.nyc911`` (``nyc311={...}``).
    """
    from nyc_lakehouse.pipelines.silver import create_pipeline

    return project_catalog(create_pipeline(), runtime_params, **param_overrides)


def project_catalog(
    pipeline: Any, runtime_params: dict[str, Any] | None = None, **param_overrides: Any
):
    """The real catalog and parameters of ``pipeline``'s datasets (see :func:`silver_catalog`)."""
    from kedro.io import DataCatalog

    # Only the entries this pipeline uses (and the layer factories): other pipelines' entries may
    # need credentials or files that have nothing to do with it.
    used = pipeline.datasets()
    config = {
        name: entry
        for name, entry in load_config("catalog", runtime_params).items()
        if name in used or "{" in name
    }
    catalog = DataCatalog.from_config(config)
    parameters = load_config("parameters", runtime_params)
    for section, overrides in param_overrides.items():
        parameters["silver"][section] = {**parameters["silver"][section], **overrides}

    def add(name: str, value: Any) -> None:
        catalog[f"params:{name}"] = value
        if isinstance(value, dict):
            for key, item in value.items():
                add(f"{name}.{key}", item)

    catalog["parameters"] = parameters
    for key, value in parameters.items():
        add(key, value)
    return catalog


def run_silver(
    runtime_params: dict[str, Any] | None = None,
    sources: tuple[str, ...] = ("nyc311", "nyc911"),
    **param_overrides: Any,
) -> None:
    """Run the silver pipeline (of ``sources``) with Kedro's SequentialRunner on the real
    catalog."""
    from kedro.runner import SequentialRunner

    from nyc_lakehouse.pipelines.silver import create_pipeline

    SequentialRunner().run(
        create_pipeline(sources=sources), silver_catalog(runtime_params, **param_overrides)
    )


def read_table(spark, data_root: Path, table: str) -> list[dict[str, Any]]:
    """Every row of a Delta table as dicts, in a stable order."""
    schema, name = table.split(".")
    rows = [
        row.asDict()
        for row in spark.read.format("delta").load(str(data_root / schema / name)).collect()
    ]
    return sorted(rows, key=lambda row: repr(sorted(row.items(), key=lambda kv: kv[0])))


def materialize(spark, df, path: Path):
    """Write a stage's output to Delta and read it back through the Delta dataset, as the
    pipeline persists the base stage (the dataset hands nodes session-zone timestamps)."""
    from nyc_lakehouse.datasets import DeltaTableDataset

    dataset = DeltaTableDataset(path=str(path))
    dataset.save(df)
    return dataset.load()
