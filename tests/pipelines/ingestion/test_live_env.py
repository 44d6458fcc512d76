"""The ``live`` conf env (``make daily``): both sources incrementally from the city's API.

No network: the env is loaded as ``kedro run --env live`` loads it and the clients it configures
are built (which validates their URL), but no request is sent.
"""

from __future__ import annotations

import re

import pytest
from ingestion_helpers import PROJECT_ROOT, project_params

from nyc_lakehouse.pipelines.ingestion.nodes import make_client, parse_settings


def _loader(env: str | None):
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse.settings import CONFIG_LOADER_ARGS

    return OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), env=env, **CONFIG_LOADER_ARGS)


@pytest.mark.parametrize(
    ("dataset", "dataset_id"), [("nyc311", "erm2-nwe9"), ("nyc911", "t7p9-n9dy")]
)
def test_the_live_env_ingests_incrementally_from_the_city_portal(dataset, dataset_id):
    settings = parse_settings(project_params(dataset, env="live"))
    assert (settings.source, settings.mode) == ("socrata", "incremental")
    assert settings.base_url == "https://data.cityofnewyork.us"
    assert settings.allowed_hosts == ("data.cityofnewyork.us",)
    assert settings.allow_loopback_http is False
    assert settings.dataset_id == dataset_id
    assert settings.retry.max_attempts >= 3 and settings.page_size == 50_000
    assert settings.overlap_minutes > 0  # refetch a margin: duplicates, never a gap
    with make_client(settings, app_token=None) as client:
        assert client.resource_url == f"https://data.cityofnewyork.us/resource/{dataset_id}.json"
    # the default env still runs the bundled sample, offline
    assert parse_settings(project_params(dataset)).source == "sample"


def _resolved(env: str | None) -> dict:
    """One env's globals, catalog and monitoring rules, read before another loader exists
    (OmegaConf's ``globals`` resolver is process-wide: the newest loader's wins)."""
    loader = _loader(env)
    return {
        "globals": loader["globals"],
        "catalog": loader["catalog"],
        "failing": {
            r["name"] for r in loader["parameters"]["monitoring"]["alerts"] if r["action"] == "fail"
        },
    }


def test_the_live_lakehouse_has_its_own_root_and_fails_on_stale_data(monkeypatch):
    monkeypatch.delenv("NYC_LAKEHOUSE_DATA_ROOT", raising=False)
    live = _resolved("live")
    local = _resolved(None)
    assert live["globals"]["data_root"] == "data-live"
    assert local["globals"]["data_root"] == "data"
    catalog = live["catalog"]
    assert catalog["landing.zone"]["root"] == "data-live/landing"
    roots = {e.get("root") for e in catalog.values() if isinstance(e, dict) and "table" in e}
    paths = {e.get("filepath") for e in catalog.values() if isinstance(e, dict)} - {None}
    assert roots == {"data-live"} and all(p.startswith("data-live/") for p in paths)
    assert local["catalog"]["landing.zone"]["root"] == "data/landing"
    # the data-freshness rules only warn on the bundled sample; live, stale data fails the run
    assert live["globals"]["monitoring_data_freshness_action"] == "fail"
    assert live["failing"] > local["failing"]
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", "/srv/lakehouse")
    assert _resolved("live")["catalog"]["landing.zone"]["root"] == "/srv/lakehouse/landing"


def test_make_daily_runs_the_live_env_and_the_docs_say_how_to_schedule_it():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^daily: setup\n\t\$\(RUN\) kedro run --env live", makefile, re.M)
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    assert "make daily" in operations and "OnCalendar=" in operations and "crontab" in operations
    assert "make daily" in (PROJECT_ROOT / "README.md").read_text()
