"""Fixtures for the bronze tests: a landing zone with a few sample months, a real catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from nyc_lakehouse.landing import BatchInfo, LandingZone
from nyc_lakehouse.sources.sample import generate_nyc311, generate_nyc911

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def bronze_catalog(pipelines: tuple[str, ...] = ("bronze",)) -> Any:
    """A real DataCatalog from the project's conf/ (catalog.yml + catalog_bronze.yml + params).

    Only these files are read, so other pipelines' work in progress cannot break these tests.
    Paths follow NYC_LAKEHOUSE_DATA_ROOT (the data_root fixture).
    """
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from nyc_lakehouse.settings import CONFIG_LOADER_ARGS

    args = dict(CONFIG_LOADER_ARGS)
    args["config_patterns"] = {
        **args["config_patterns"],
        "catalog": ["catalog.yml", *[f"catalog_{p}.yml" for p in pipelines]],
        "parameters": [f"parameters_{p}.yml" for p in pipelines],
    }
    loader = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), **args)
    catalog = DataCatalog.from_config(loader["catalog"])
    params: dict[str, Any] = {}
    for name, value in loader["parameters"].items():
        _flatten("params:" + name, value, params)
    for name, value in params.items():
        catalog[name] = value
    return catalog


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    out[prefix] = value
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}", inner, out)


@pytest.fixture
def zone(data_root: Path) -> LandingZone:
    return LandingZone(str(data_root / "landing"))


LandFn = Callable[..., BatchInfo]


@pytest.fixture
def land(zone: LandingZone) -> LandFn:
    """Land sample months as the ingestion pipeline does (one batch per month)."""

    def _land(
        dataset: str,
        year: int,
        month: int,
        scale: float = 0.1,
        tables: Iterable[pa.Table] | None = None,
        batch_id: str | None = None,
    ) -> BatchInfo:
        first = date(year, month, 1)
        last = date(year + month // 12, month % 12 + 1, 1).toordinal() - 1
        window = (first, date.fromordinal(last))
        if tables is None:
            tables = (
                generate_nyc311(*window, scale=scale)
                if dataset == "nyc311"
                else generate_nyc911(*window)
            )
        return zone.write_batch(
            dataset,
            batch_id or f"sample-{year}-{month:02d}",
            tables,
            manifest_extra={"source": "sample", "mode": "sample"},
            ingest_date=f"2024-06-{month:02d}",
        )

    return _land


@pytest.fixture
def run_bronze(data_root: Path) -> Callable[..., None]:
    """Run the bronze pipeline (or a part of it) with SequentialRunner on a fresh real catalog."""
    from kedro.runner import SequentialRunner

    from nyc_lakehouse.pipelines.bronze.pipeline import create_pipeline

    def _run(pipeline: Any = None) -> None:
        SequentialRunner().run(pipeline or create_pipeline(), bronze_catalog())

    return _run


@pytest.fixture
def make_catalog(data_root: Path) -> Callable[[], Any]:
    """Build the real bronze catalog (paths under the test's data root)."""
    return bronze_catalog
