"""Data-derived labels (agencies, complaint types, boroughs, series) are drawn as plain text.

Plotly renders label markup in names, ticks, titles and dropdowns: a crafted agency such as
``<a href="https://evil.example">NYPD</a>`` would become a link in the dashboard's legend.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from gold_sample import dashboard_charts, gold_tables

from nyc_lakehouse.chart_text import escape_label, escape_labels
from nyc_lakehouse.pipelines.forecasting.charts import forecast_figure

LINK = '<a href="https://evil.example">NYPD</a>'
BOLD = "<b>Noise</b> & <br>more"


def strings(tree: Any) -> list[str]:
    """Every string in a plotly JSON tree, inside data arrays (numpy, pandas) too."""
    if hasattr(tree, "tolist"):
        tree = tree.tolist()
    if isinstance(tree, dict):
        return [s for value in tree.values() for s in strings(value)]
    if isinstance(tree, list | tuple):
        return [s for value in tree for s in strings(value)]
    return [tree] if isinstance(tree, str) else []


def figure_strings(figure: go.Figure) -> list[str]:
    return strings(figure.to_plotly_json())


def hostile_gold() -> dict[str, pd.DataFrame]:
    gold = {name: table.to_pandas() for name, table in gold_tables().items()}
    for name, column in (
        ("agg_911_monthly_agency", "agency"),
        ("kpi_911_overview", "agency_scope"),
        ("agg_agency_metrics", "agency"),
    ):
        frame = gold[name]
        first = sorted(v for v in frame[column].unique() if v != "ALL")[0]
        frame[column] = frame[column].replace(first, LINK)
    complaints = gold["agg_complaint_type_metrics"]
    busiest = complaints.groupby("complaint_type")["request_count"].sum().idxmax()
    complaints["complaint_type"] = complaints["complaint_type"].replace(busiest, BOLD)
    locations = gold["agg_location_metrics"]
    locations["borough"] = locations["borough"].replace("QUEENS", BOLD)
    return gold


def test_every_dashboard_chart_draws_hostile_labels_as_text():
    charts = dashboard_charts(hostile_gold())
    escaped = {html.escape(LINK, quote=False), html.escape(BOLD, quote=False)}
    for name, figure in charts.items():
        found = figure_strings(figure)
        assert not [s for s in found if "<" in s or ">" in s], name
    everything = [s for figure in charts.values() for s in figure_strings(figure)]
    # the hostile values did reach the charts, as text: legend names, dropdowns, ticks, tiles
    assert escaped <= {e for e in escaped if any(e in s for s in everything)}
    legend = [t.name for t in charts["nyc911_monthly_incidents"].data]
    assert html.escape(LINK, quote=False) in legend
    assert html.escape(BOLD, quote=False) in list(charts["nyc311_top_complaint_types"].data[0].y)


def test_the_forecast_chart_draws_series_and_model_names_as_text():
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    panel = pd.DataFrame({"unique_id": LINK, "ds": days, "y": range(30)})
    backtest = pd.DataFrame({"unique_id": LINK, "ds": days[-7:], "model": BOLD, "y_hat": 1.0})
    future = pd.date_range(days[-1] + pd.Timedelta(days=1), periods=3, freq="D")
    forecasts = pd.DataFrame(
        {"unique_id": LINK, "ds": future, "y_hat": 2.0, "y_hat_lo_80": 1.0, "y_hat_hi_80": 3.0}
    )
    figure = forecast_figure(panel, backtest, forecasts, pd.Series({LINK: BOLD}), [80])
    found = figure_strings(figure)
    assert not [s for s in found if "<" in s or ">" in s]
    assert figure.layout.updatemenus[0].buttons[0].label == html.escape(LINK, quote=False)
    assert f"forecast ({html.escape(BOLD, quote=False)})" in [t.name for t in figure.data]


def test_escaping_keeps_plain_names_and_nulls():
    assert escape_label("NYPD") == "NYPD" and escape_label("DOT & DSNY") == "DOT &amp; DSNY"
    frame = escape_labels(pd.DataFrame({"agency": ["<i>x</i>", None]}), "agency")
    assert frame["agency"].iloc[0] == "&lt;i&gt;x&lt;/i&gt;" and frame["agency"].isna().iloc[1]
