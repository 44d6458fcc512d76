"""Dashboard charts from gold tables: traces, agency filter, offline HTML, kedro run, rendering."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
import yaml
from gold_sample import AGENCIES_911, dashboard_charts, gold_tables

from nyc_lakehouse.pipelines.reporting import nodes

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters_reporting.yml").read_text())[
    "reporting"
]
COLUMNS = PARAMS["columns"]


@pytest.fixture(scope="module")
def gold() -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in gold_tables().items()}


@pytest.fixture(scope="module")
def charts(gold) -> dict[str, go.Figure]:
    return dashboard_charts(gold)


def test_911_monthly_incidents_has_one_line_per_agency_and_an_agency_filter(charts, gold):
    fig = charts["nyc911_monthly_incidents"]
    assert [t.name for t in fig.data] == sorted(AGENCIES_911)
    monthly = gold["agg_911_monthly_agency"]
    ems = monthly[monthly["agency"] == "EMS"].sort_values("month_start")
    assert list(fig.data[0].y) == list(ems["incidents"])
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == [nodes.ALL_AGENCIES, *sorted(AGENCIES_911)]
    assert buttons[0].args[0]["visible"] == [True] * 4
    assert buttons[2].args[0]["visible"] == [False, True, False, False]  # FDNY only


def test_911_pickup_trend_filter_keeps_each_agency_with_its_target(charts):
    fig = charts["nyc911_pickup_trend"]
    names = [t.name for t in fig.data]
    assert names == [n for a in sorted(AGENCIES_911) for n in (a, f"{a} SLA target")]
    nypd = next(b for b in fig.layout.updatemenus[0].buttons if b.label == "NYPD")
    visible = dict(zip(names, nypd.args[0]["visible"], strict=True))
    assert {n for n, v in visible.items() if v} == {"NYPD", "NYPD SLA target"}


def test_911_tiles_show_total_incidents_and_breach_rate_per_scope(charts, gold):
    fig = charts["nyc911_kpi_tiles"]
    kpi = gold["kpi_911_overview"].set_index("agency_scope")
    assert all(isinstance(t, go.Indicator) for t in fig.data)
    assert len(fig.data) == 2 * len(kpi)
    total, breach = fig.data[0], fig.data[1]  # the ALL scope comes first and is visible
    assert total.visible and breach.visible and not fig.data[2].visible
    assert total.value == kpi.loc["ALL", "total_incidents"]
    assert breach.value == pytest.approx(kpi.loc["ALL", "sla_breach_pct"])
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert labels == [nodes.ALL_AGENCIES, *sorted(AGENCIES_911)]


def test_311_charts_have_the_expected_traces(charts, gold):
    daily = charts["nyc311_daily_volume"]
    assert [t.name for t in daily.data] == ["Requests per day", "7-day mean"]
    assert sum(daily.data[0].y) == gold["agg_daily_summary"]["request_count"].sum()

    top = charts["nyc311_top_complaint_types"].data[0]
    assert len(top.y) == 15 and top.y[-1] == "Complaint Type A"  # largest drawn on top

    borough = charts["nyc311_volume_by_borough"].data[0]
    locations = gold["agg_location_metrics"]
    expected = locations.groupby("borough")["request_count"].sum().sort_values(ascending=False)
    assert list(borough.x) == list(expected.index)
    assert list(borough.y) == list(expected)

    resolution = charts["nyc311_resolution_by_agency"]
    agencies = sorted(gold["agg_agency_metrics"]["agency"].unique())
    names = [t.name for t in resolution.data]
    assert names == [n for a in agencies for n in (a, f"{a} 90th percentile")]
    monthly = gold["agg_agency_metrics"].sort_values("month_start")
    nypd = monthly[monthly["agency"] == "NYPD"]
    line = resolution.data[names.index("NYPD")]
    assert list(line.y) == list(nypd["median_response_hours"]) and len(line.x) == 3
    buttons = resolution.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == [nodes.ALL_AGENCIES, *agencies]
    only_dot = dict(zip(names, buttons[1 + agencies.index("DOT")].args[0]["visible"], strict=True))
    assert {n for n, v in only_dot.items() if v} == {"DOT", "DOT 90th percentile"}


def test_311_resolution_chart_keeps_the_busiest_agencies_over_every_month(gold):
    monthly = gold["agg_agency_metrics"]
    # DOHMH: 3 x 7150 requests, more than the NYPD's 7000 + 7100 + 7200, though the NYPD has
    # the busiest single month
    dohmh = monthly["agency"] == "DOHMH"
    tilted = monthly.assign(request_count=monthly["request_count"].where(~dohmh, 7150))
    fig = nodes.nyc311_resolution_by_agency_chart(tilted, COLUMNS["agg_agency_metrics"], 1)
    assert [t.name for t in fig.data] == ["DOHMH", "DOHMH 90th percentile"]


def test_chart_columns_exist_in_the_gold_table_registry():
    """reporting.columns names real gold columns (the gold registry is the source of truth)."""
    from nyc_lakehouse.pipelines.gold.tables import TABLES

    sources = {
        "kpi_911_overview": "kpi_911_overview",
        "agg_911_monthly_incidents": "agg_911_monthly_agency",
        "agg_911_monthly_pickup": "agg_911_monthly_agency",
    }
    unknown = {
        key: sorted(set(roles.values()) - set(TABLES[sources.get(key, key)].columns))
        for key, roles in COLUMNS.items()
    }
    assert {k: v for k, v in unknown.items() if v} == {}


def test_a_renamed_gold_column_gives_a_clear_error(gold):
    broken = gold["agg_agency_metrics"].rename(columns={"p90_response_hours": "p90"})
    with pytest.raises(
        nodes.MissingColumnsError, match=r"p90_response_hours.*parameters_reporting"
    ):
        nodes.nyc311_resolution_by_agency_chart(broken, COLUMNS["agg_agency_metrics"])


def test_forecast_chart_is_optional_and_drawn_when_present():
    assert nodes.volume_forecast_chart(None, PARAMS["forecast"]["columns"]) is None
    forecasts = pd.DataFrame(
        {
            "unique_id": ["citywide"] * 3,
            "ds": pd.date_range("2024-01-01", periods=3),
            "model": ["MSTL"] * 3,
            "y_hat": [10.0, 11.0, 12.0],
            "y_hat_lo_80": [8.0, 9.0, 10.0],
            "y_hat_hi_80": [12.0, 13.0, 14.0],
        }
    )
    older = forecasts.assign(y_hat=99.0, forecast_origin=pd.Timestamp("2023-12-01"))
    latest = forecasts.assign(forecast_origin=pd.Timestamp("2023-12-31"))
    other = latest.assign(unique_id="borough:BRONX", y_hat=1.0)
    history = pd.Series([9.0, 9.5], index=pd.to_datetime(["2023-12-30", "2023-12-31"]))
    fig = nodes.volume_forecast_chart(
        pd.concat([older, latest, other]), PARAMS["forecast"]["columns"], "citywide", history
    )
    assert [t.name for t in fig.data] == [
        "Actual requests",
        "Prediction interval",
        "Forecast (MSTL)",
    ]
    assert list(fig.data[2].y) == [10.0, 11.0, 12.0]  # the latest origin of the chosen series
    assert list(fig.data[0].y) == [9.0, 9.5]


def test_recent_actuals_come_from_the_daily_volume_chart(charts, gold):
    actuals = nodes.recent_actuals(charts["nyc311_daily_volume"], 10)
    daily = gold["agg_daily_summary"].sort_values("date")
    assert list(actuals.values) == list(daily["request_count"].iloc[-10:])


def test_dashboard_html_is_self_contained(charts):
    page = nodes.build_dashboard(**charts)
    # plotly.js is inline exactly once, and no script or stylesheet is fetched from anywhere
    tags = re.findall(r"<script\b[^>]{0,500}>", page)
    assert len(tags) > len(charts)
    assert not [tag for tag in tags if "src=" in tag]
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    # (plotly.js mentions cdn.plot.ly only as the topojson default of geo maps, unused here)
    has_link_tag = "<link" in page
    assert not has_link_tag
    # (booleans, not `x in page`: pytest would diff a 4 MB string on failure)
    missing = [div_id for div_id in charts if f'id="{div_id}"' not in page]
    assert missing == []
    has_forecast_note = "No forecast yet" in page
    assert has_forecast_note
    assert len(page) > 3_000_000  # the 3.5 MB plotly.js bundle is embedded


@pytest.mark.slow
def test_kedro_run_writes_chart_datasets_and_dashboard(
    spark, data_root, gold_sample, project_root, isolated_mlflow
):
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project_root)
    with KedroSession.create(project_path=project_root) as session:
        session.run(pipeline_name="reporting")
        catalog = session.load_context().catalog
        monthly = catalog.load("reporting.nyc911_monthly_incidents_chart")
    assert [t.name for t in monthly.data] == sorted(AGENCIES_911)
    charts = sorted(p.stem for p in (data_root / "reporting" / "charts").glob("*.json"))
    assert len(charts) == 7
    page = (data_root / "reporting" / "dashboard.html").read_text()
    assert not [tag for tag in re.findall(r"<script\b[^>]{0,500}>", page) if "src=" in tag]
    has_title = "911 incidents per month by agency" in page
    assert has_title


def _chromium() -> str | None:
    """Same lookup as scripts/screenshots.py: $CHROMIUM, then chromium/chrome on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next((found for name in names if (found := shutil.which(name))), None)


# On a laptop without Chromium these two are skipped; CI installs it (.ci/run), so there they
# always run and a missing browser fails them.
@pytest.mark.skipif(
    _chromium() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium)",
)
def test_dashboard_renders_in_headless_chromium(charts, tmp_path):
    html_path = tmp_path / "dashboard.html"
    html_path.write_text(nodes.build_dashboard(**charts))
    png = tmp_path / "dashboard.png"
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "screenshots.py"), "dashboard",
         str(html_path), str(png), "--check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Charts rendered: 7 of 7" in result.stdout
    assert png.stat().st_size > 20_000


# On a laptop without Chromium these two are skipped; CI installs it (.ci/run), so there they
# always run and a missing browser fails them.
@pytest.mark.skipif(
    _chromium() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium)",
)
def test_render_check_fails_when_plotly_js_is_not_embedded(charts, tmp_path):
    import plotly.io as pio

    page = tmp_path / "broken.html"
    page.write_text(pio.to_html(charts["nyc311_daily_volume"], include_plotlyjs=False))
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "screenshots.py"), "dashboard",
         str(page), str(tmp_path / "broken.png"), "--check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "Charts rendered: 0 of 1" in result.stdout
