"""Helpers of the ingestion tests: the project's real parameters, landed rows, crash points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from fixtures.socrata_server import SocrataTestServer
from nyc_lakehouse.landing import LandingZone

PROJECT_ROOT = Path(__file__).resolve().parents[3]
INGESTION_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "ingestion"


def project_params(dataset: str) -> dict[str, Any]:
    """``<dataset>.ingestion`` exactly as conf/base/parameters_ingestion.yml defines it."""
    with (PROJECT_ROOT / "conf" / "base" / "parameters_ingestion.yml").open() as handle:
        return dict(yaml.safe_load(handle)[dataset]["ingestion"])


def api_params(server: SocrataTestServer, dataset: str = "nyc311", **overrides: Any) -> dict:
    """The project's parameters pointed at the test server, with tiny retry delays."""
    return {
        **project_params(dataset),
        "source": "socrata",
        "base_url": server.base_url,
        "allow_loopback_http": True,  # the stand-in is plain http on 127.0.0.1
        "page_size": 7,
        "timeout_seconds": 0.5,
        "max_attempts": 4,
        "backoff_base_seconds": 0.001,
        "backoff_max_seconds": 0.005,
        "max_retry_after_seconds": 2,
        **overrides,
    }


def landed_table(zone: LandingZone, dataset: str) -> pa.Table:
    """Every committed batch of a dataset, concatenated."""
    tables = [zone.read_batch(b) for b in zone.batches(dataset)]
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default")


def landed_ids(zone: LandingZone, dataset: str) -> list[str]:
    table = landed_table(zone, dataset)
    return table.column("_socrata_id").to_pylist() if table.num_rows else []


class SimulatedCrash(Exception):
    """The process dying at a chosen point."""


class CrashingZone(LandingZone):
    """A real landing zone whose process 'dies' when it is about to write a given state."""

    def __init__(self, root: str, crash_on_state: str) -> None:
        super().__init__(root)
        self.crash_on_state = crash_on_state

    def write_state(self, dataset: str, name: str, state: Any) -> None:
        if name == self.crash_on_state:
            raise SimulatedCrash(f"simulated crash before writing {dataset}/{name}")
        super().write_state(dataset, name, state)
