"""The dashboard page's kedro-viz preview: an HTML outline of the page, served by real kedro-viz.

The page is built by the reporting node from the small gold sample; the kedro-viz test runs
``kedro viz run`` on a copy of the project whose data root holds that page, and reads the
dashboard node's metadata from the live API, as the kedro-viz side panel does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import plotly.graph_objects as go
import pytest
from gold_sample import dashboard_charts, gold_tables

from nyc_lakehouse.datasets import DashboardHTMLDataset
from nyc_lakehouse.pipelines.reporting import nodes
from project_copy import copy_project

PROJECT_ROOT = Path(__file__).resolve().parents[3]
GENERATED = datetime(2024, 3, 1, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def charts() -> dict[str, go.Figure]:
    return dashboard_charts({name: table.to_pandas() for name, table in gold_tables().items()})


@pytest.fixture(scope="module")
def page(charts) -> str:
    """The dashboard without a forecast, so its forecast slot holds the "run forecasting" note."""
    return nodes.build_dashboard(**charts, title="Test dashboard", generated_at=GENERATED)


def _visible_kpis(fig: go.Figure) -> list[tuple[str, float]]:
    return [(t.title.text, t.value) for t in fig.data if t.visible is not False]


def _assert_is_outline_of(preview: str, page: str, charts: dict[str, go.Figure]) -> None:
    assert "<script" not in preview.lower()
    assert len(preview) < len(page) / 100  # an outline, not megabytes of plotly.js
    assert "<h2>Test dashboard</h2>" in preview
    assert "Generated 2024-03-01 06:30 UTC" in preview
    for heading in ("911 End-to-End response times", "311 service requests"):
        assert f"<h3>{heading}</h3>" in preview
    for name, fig in charts.items():
        assert fig.layout.title.text, name
        assert f"<li>{fig.layout.title.text}" in preview, name
    # the KPI tiles shown by default (all agencies), formatted as plotly prints them
    kpis = _visible_kpis(charts["nyc911_kpi_tiles"])
    assert len(kpis) == 2
    (incidents_label, incidents), (breach_label, breach) = kpis
    assert f"{incidents_label}: <strong>{incidents:,.0f}</strong>" in preview
    assert f"{breach_label}: <strong>{breach:.1f} %</strong>" in preview
    assert "No forecast yet" in preview and "kedro run --pipeline forecasting" in preview
    assert "7 interactive charts" in preview


def test_preview_is_an_html_outline_of_the_dashboard(page, charts, tmp_path):
    dataset = DashboardHTMLDataset(filepath=str(tmp_path / "dashboard.html"))
    dataset.save(page)
    assert dataset.load() == page  # loads and saves like text.TextDataset
    preview = dataset.preview()
    _assert_is_outline_of(preview, page, charts)
    assert f"<code>{tmp_path / 'dashboard.html'}</code>" in preview


def test_preview_says_how_to_build_a_missing_dashboard(tmp_path):
    preview = DashboardHTMLDataset(filepath=str(tmp_path / "nowhere.html")).preview()
    assert "No dashboard yet" in preview
    assert "kedro run --pipeline reporting" in preview


def test_preview_of_a_page_it_cannot_parse_still_names_its_charts(tmp_path):
    dataset = DashboardHTMLDataset(filepath=str(tmp_path / "dashboard.html"))
    dataset.save(
        '<header><h1>Odd</h1></header><section><h2>Only</h2><div class="grid">'
        '<div id="odd_chart" class="plotly-graph-div"></div>'
        '<script>Plotly.newPlot("odd_chart", [not json], {})</script></div></section>'
    )
    preview = dataset.preview()
    assert "<h3>Only</h3>" in preview and "<li>odd_chart</li>" in preview


# -- real kedro-viz ------------------------------------------------------------------------------
def _free_port(first: int = 4300) -> int:
    for port in range(first, first + 500):  # kedro-viz refuses ports above 49151
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def viz_api(page, tmp_path_factory) -> Iterator[str]:
    """Base URL of ``kedro viz run`` on a copy of the project whose data root holds the page."""
    project = copy_project(tmp_path_factory.mktemp("viz_preview_project"))
    data_root = project / "data"
    (data_root / "reporting").mkdir(parents=True)
    (data_root / "reporting" / "dashboard.html").write_text(page)
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    env["NYC_LAKEHOUSE_DATA_ROOT"] = str(data_root)
    log = project / "viz.log"
    kedro = Path(sys.executable).with_name("kedro")
    port = _free_port()
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(kedro), "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # kedro-viz serves from a child process: stop the group
        )
    try:
        deadline, url = time.monotonic() + 240, None
        while time.monotonic() < deadline and server.poll() is None:
            # kedro-viz moves to the next port when the one asked for is taken: it says where
            found = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
            if found:
                try:
                    _get_json(f"http://127.0.0.1:{found.group(1)}/api/main")
                    url = f"http://127.0.0.1:{found.group(1)}"
                    break
                except (OSError, urllib.error.URLError, ValueError):
                    pass
            time.sleep(0.5)
        assert url, f"kedro viz run did not answer:\n{log.read_text(errors='replace')[-3000:]}"
        yield url
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                break
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue


@pytest.mark.slow
def test_kedro_viz_previews_the_dashboard_as_html(viz_api, page, charts):
    main = _get_json(f"{viz_api}/api/main")
    [node] = [n for n in main["nodes"] if n["name"] == "reporting.dashboard"]
    assert node["layer"] == "reporting"
    metadata = _get_json(f"{viz_api}/api/nodes/{node['id']}")
    assert metadata["type"] == "datasets.dashboard_html.DashboardHTMLDataset"
    assert metadata["preview_type"] == "HTMLPreview"
    _assert_is_outline_of(metadata["preview"], page, charts)
    assert metadata["filepath"].endswith("data/reporting/dashboard.html")
