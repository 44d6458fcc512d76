"""``kedro run --pipeline ingestion`` for real (a subprocess), against the local test server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections import Counter

import pytest
from ingestion_helpers import PROJECT_ROOT, landed_ids

from fixtures.socrata_server import make_311_records, make_911_records
from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.pipelines.ingestion.progress import Progress

# a value generated per run: nothing that looks like a credential is committed
PLANTED = f"planted-{uuid.uuid4().hex}"


@pytest.mark.slow
def test_kedro_run_with_the_documented_params_lands_the_server_records(socrata_server, tmp_path):
    records = make_311_records(250)  # updated in the last days: inside the first-run lookback
    socrata_server.fixture.datasets["erm2-nwe9"] = records
    records_911 = make_911_records(50)  # 150 rows: two pages of 100
    socrata_server.fixture.datasets["t7p9-n9dy"] = records_911
    socrata_server.fixture.fault_on(3, kind="throttle", retry_after="0")
    socrata_server.fixture.fault_on(5, kind="truncated")
    data_root = tmp_path / "data"
    env = {
        **os.environ,
        "NYC_LAKEHOUSE_DATA_ROOT": str(data_root),
        "NYC_OPEN_DATA_APP_TOKEN": PLANTED,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    params = (
        "nyc311.ingestion.source=socrata,"
        f"nyc311.ingestion.base_url={socrata_server.base_url},"
        "nyc311.ingestion.allow_loopback_http=true,"
        "nyc311.ingestion.page_size=100"
    )
    # the documented command (a plain-http loopback stand-in needs the explicit opt-in), then
    # the same names under nyc911, so both namespaces are proven to take command-line overrides
    params_911 = params.replace("nyc311.", "nyc911.")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedro",
            "run",
            "--pipeline",
            "ingestion",
            "--params",
            f"{params},{params_911}",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]

    zone = LandingZone(str(data_root / "landing"))
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in records)
    assert Counter(landed_ids(zone, "nyc911")) == Counter(r[":id"] for r in records_911)
    pages = socrata_server.fixture.page_requests()
    assert {p.query["$limit"] for p in pages} == {"100"}
    assert {p.path for p in pages} == {"/resource/erm2-nwe9.json", "/resource/t7p9-n9dy.json"}
    assert {r.app_token for r in socrata_server.fixture.requests} == {PLANTED}
    assert PLANTED not in output  # not in any log line
    for path in data_root.rglob("*.json"):
        assert PLANTED not in path.read_text()
    summary = json.loads((data_root / "landing" / "_runs" / "nyc311.json").read_text())
    assert summary["source"] == "socrata" and summary["rows_landed"] == 250
    assert [b.manifest["source"] for b in zone.batches("nyc911")] == ["socrata"]
    assert "nyc311: landed 1 batch(es), 250 rows" in output
    assert "nyc911: landed 1 batch(es), 150 rows" in output


def test_progress_bar_on_a_terminal_shows_rows_batches_and_eta():
    stream = io.StringIO()
    with Progress(
        "nyc311 backfill", total=1000, total_batches=4, stream=stream, force_tty=True
    ) as bar:
        for _ in range(4):
            bar.advance(250, batches=1)
    text = stream.getvalue()
    assert "nyc311 backfill" in text and "1.00k/1.00k" in text and "batches=4/4" in text
    stream = io.StringIO()
    with Progress("nyc311 sample", total_batches=3, stream=stream, force_tty=True) as bar:
        bar.advance(500, batches=1)
    assert "1/3" in stream.getvalue() and "rows=500" in stream.getvalue()


def _catalog_token(conf_root, monkeypatch, env_token=None):
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    from nyc_lakehouse import settings

    if env_token is None:
        monkeypatch.delenv("NYC_OPEN_DATA_APP_TOKEN", raising=False)
    else:
        monkeypatch.setenv("NYC_OPEN_DATA_APP_TOKEN", env_token)
    args = dict(settings.CONFIG_LOADER_ARGS)
    loader = OmegaConfigLoader(
        conf_source=str(conf_root),
        base_env=args.pop("base_env"),
        default_run_env=args.pop("default_run_env"),
        **args,
    )
    catalog = DataCatalog.from_config(
        {"socrata.app_token": loader["catalog"]["socrata.app_token"]},
        credentials=loader["credentials"],
    )
    return catalog.load("socrata.app_token")


def test_the_token_comes_from_kedro_credentials_or_the_environment(tmp_path, monkeypatch):
    import shutil

    conf = tmp_path / "conf"
    (conf / "base").mkdir(parents=True)
    (conf / "local").mkdir()
    for name in ("catalog_ingestion.yml", "credentials_ingestion.yml"):
        shutil.copy(PROJECT_ROOT / "conf" / "base" / name, conf / "base" / name)
    assert _catalog_token(conf, monkeypatch) is None  # optional: no token, no error
    from_env = f"planted-{uuid.uuid4().hex}"
    assert _catalog_token(conf, monkeypatch, env_token=from_env).reveal() == from_env
    from_file = f"planted-{uuid.uuid4().hex}"
    (conf / "local" / "credentials.yml").write_text(f"nyc_open_data:\n  app_token: {from_file}\n")
    assert _catalog_token(conf, monkeypatch, env_token=from_env).reveal() == from_file
