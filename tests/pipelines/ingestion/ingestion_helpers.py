"""Helpers of the ingestion tests: the project's real parameters, landed rows, crash points."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pyarrow as pa

from fixtures.socrata_server import SocrataTestServer
from nyc_lakehouse.landing import LandingZone

PROJECT_ROOT = Path(__file__).resolve().parents[3]
INGESTION_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "ingestion"


def project_config(key: str, env: str | None = None) -> dict[str, Any]:
    """The project's ``parameters``/``catalog``/``globals``, resolved as ``kedro run`` does."""
    return copy.deepcopy(_load_config(key, env))


@functools.cache
def _load_config(key: str, env: str | None) -> dict[str, Any]:
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), env=env, **CONFIG_LOADER_ARGS
    )
    return loader[key]


def project_params(dataset: str, env: str | None = None) -> dict[str, Any]:
    """``<dataset>.ingestion`` exactly as the project's conf/ (base + ``env``) defines it."""
    return dict(project_config("parameters", env)[dataset]["ingestion"])


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
