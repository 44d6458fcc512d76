"""Nodes of the ``reporting`` pipeline: plotly charts from gold tables and one offline dashboard.

Every chart reads a gold aggregate only (never silver), through the column names declared in
``parameters_reporting.yml`` (``reporting.columns``): when a gold column is renamed, that file is
the one place to change. Charts are saved as plotly JSON (previewed by kedro-viz) and assembled
into ``reporting/dashboard.html``, which embeds plotly.js inline so it opens without a network.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from nyc_lakehouse.chart_text import escape_label, escape_labels
from nyc_lakehouse.pipelines.reporting.data_health import data_health_node_html

logger = logging.getLogger(__name__)

ALL_AGENCIES = "All agencies"
AGENCY_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


class MissingColumnsError(KeyError):
    """A gold table lacks columns a chart needs (the message lists what exists)."""


def to_pandas(table: Any) -> pd.DataFrame:
    """A small gold aggregate as pandas (Spark DataFrames are collected; pandas passes through)."""
    if isinstance(table, pd.DataFrame):
        return table.copy()
    return table.toPandas()


def select_columns(table: Any, columns: Mapping[str, str], table_name: str) -> pd.DataFrame:
    """The gold columns a chart needs, renamed to the chart's roles (``{role: gold column}``).

    Raises :class:`MissingColumnsError` naming the table, the missing and the available columns.
    """
    frame = to_pandas(table)
    missing = sorted(c for c in columns.values() if c not in frame.columns)
    if missing:
        raise MissingColumnsError(
            f"{table_name} lacks column(s) {missing} needed by the dashboard; it has "
            f"{sorted(frame.columns)}. Update reporting.columns.{table_name} in "
            "conf/base/parameters_reporting.yml."
        )
    return frame[list(columns.values())].rename(columns={v: k for k, v in columns.items()})


def _layout(fig: go.Figure, title: str, y_title: str | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "y": -0.2},
        height=420,
    )
    if y_title:
        fig.update_yaxes(title_text=y_title)
    # Lower the x labels a little: a date axis' first label otherwise collides with the lowest
    # y label in the corner (seen in the headless-Chromium screenshot).
    fig.update_xaxes(ticklabelstandoff=6)
    return fig


def _counts_from_zero(fig: go.Figure) -> go.Figure:
    """Volumes are drawn from zero, so the height of a line compares with the real total."""
    fig.update_yaxes(rangemode="tozero")
    return fig


def agency_filter(trace_agencies: Sequence[str], agencies: Sequence[str]) -> list[dict[str, Any]]:
    """Dropdown (plotly ``updatemenus``) showing all agencies or one: toggles trace visibility.

    ``trace_agencies[i]`` is the agency of trace ``i`` (``None`` for traces always shown, e.g. a
    target line).
    """
    buttons = [
        {
            "label": ALL_AGENCIES,
            "method": "update",
            "args": [{"visible": [True] * len(trace_agencies)}],
        }
    ]
    for agency in agencies:
        visible = [a is None or a == agency for a in trace_agencies]
        buttons.append({"label": agency, "method": "update", "args": [{"visible": visible}]})
    return [
        {
            "type": "dropdown",
            "buttons": buttons,
            "direction": "down",
            "x": 1.0,
            "xanchor": "right",
            "y": 1.15,
            "yanchor": "top",
            "showactive": True,
        }
    ]


def nyc911_monthly_incidents_chart(monthly: Any, columns: Mapping[str, str]) -> go.Figure:
    """Monthly 911 incidents (sum of ``# of Incidents Calculated``), one line per agency."""
    frame = escape_labels(select_columns(monthly, columns, "agg_911_monthly_agency"), "agency")
    frame = frame.sort_values("month")
    agencies = sorted(frame["agency"].dropna().unique())
    fig = go.Figure()
    for i, agency in enumerate(agencies):
        part = frame[frame["agency"] == agency]
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part["incidents"],
                name=agency,
                mode="lines+markers",
                line={"color": AGENCY_PALETTE[i % len(AGENCY_PALETTE)]},
            )
        )
    fig.update_layout(updatemenus=agency_filter(agencies, agencies))
    return _counts_from_zero(_layout(fig, "911 incidents per month by agency", "Incidents"))


def nyc911_pickup_trend_chart(monthly: Any, columns: Mapping[str, str]) -> go.Figure:
    """Average call-to-first-pickup seconds per month and agency, with each agency's SLA target."""
    frame = escape_labels(select_columns(monthly, columns, "agg_911_monthly_agency"), "agency")
    frame = frame.sort_values("month")
    agencies = sorted(frame["agency"].dropna().unique())
    fig = go.Figure()
    trace_agencies: list[str | None] = []
    for i, agency in enumerate(agencies):
        part = frame[frame["agency"] == agency]
        color = AGENCY_PALETTE[i % len(AGENCY_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part["pickup_seconds"],
                name=agency,
                mode="lines+markers",
                line={"color": color},
            )
        )
        trace_agencies.append(agency)
        targets = part["target_seconds"].dropna()
        if not targets.empty:
            fig.add_trace(
                go.Scatter(
                    x=part["month"],
                    y=part["target_seconds"],
                    name=f"{agency} SLA target",
                    mode="lines",
                    line={"color": color, "dash": "dot", "width": 1},
                    showlegend=False,
                )
            )
            trace_agencies.append(agency)
    fig.update_layout(updatemenus=agency_filter(trace_agencies, agencies))
    return _layout(fig, "911 average call-to-first-pickup (dotted: SLA target)", "Seconds")


def nyc911_kpi_tiles(kpi: Any, columns: Mapping[str, str]) -> go.Figure:
    """Two tiles, total incidents and SLA breach rate, for all agencies or one (dropdown)."""
    frame = select_columns(kpi, columns, "kpi_911_overview")
    all_scope = frame[frame["scope"] == "ALL"]
    ordered = pd.concat([all_scope, frame[frame["scope"] != "ALL"].sort_values("scope")])
    if ordered.empty:
        raise ValueError("kpi_911_overview is empty: run the gold pipeline on 911 data first")
    fig = go.Figure()
    scopes: list[str] = []
    for index, row in enumerate(ordered.itertuples(index=False)):
        visible = index == 0
        fig.add_trace(
            go.Indicator(
                mode="number",
                value=float(row.total_incidents),
                title={"text": "Total incidents"},
                number={"valueformat": ",.0f"},
                domain={"x": [0.0, 0.48], "y": [0.0, 1.0]},
                visible=visible,
            )
        )
        fig.add_trace(
            go.Indicator(
                mode="number",
                value=None if pd.isna(row.breach_pct) else float(row.breach_pct),
                title={"text": "SLA breach rate (pickup above target)"},
                number={"suffix": " %", "valueformat": ".1f"},
                domain={"x": [0.52, 1.0], "y": [0.0, 1.0]},
                visible=visible,
            )
        )
        scopes += [row.scope, row.scope]
    labels = {"ALL": ALL_AGENCIES}
    buttons = [
        {
            "label": labels.get(scope, escape_label(scope)),
            "method": "update",
            "args": [{"visible": [s == scope for s in scopes]}],
        }
        for scope in dict.fromkeys(scopes)
    ]
    fig.update_layout(
        updatemenus=[
            {
                "type": "dropdown",
                "buttons": buttons,
                "x": 1.0,
                "xanchor": "right",
                "y": 1.25,
                "yanchor": "top",
            }
        ],
        title={"text": "911 overview since the data starts", "x": 0.01},
        template="plotly_white",
        margin={"l": 20, "r": 20, "t": 80, "b": 20},
        height=260,
    )
    return fig


def nyc311_daily_volume_chart(
    daily: Any, columns: Mapping[str, str], rolling_days: int = 7
) -> go.Figure:
    """311 requests created per day, with a trailing rolling mean."""
    frame = select_columns(daily, columns, "agg_daily_summary").sort_values("date")
    fig = go.Figure(
        [
            go.Scatter(
                x=frame["date"],
                y=frame["requests"],
                name="Requests per day",
                mode="lines",
                line={"color": "#9ecae1", "width": 1},
            ),
            go.Scatter(
                x=frame["date"],
                y=frame["requests"].rolling(rolling_days, min_periods=1).mean(),
                name=f"{rolling_days}-day mean",
                mode="lines",
                line={"color": "#08519c", "width": 2},
            ),
        ]
    )
    return _counts_from_zero(_layout(fig, "311 requests per day", "Requests"))


def nyc311_top_complaint_types_chart(
    complaints: Any, columns: Mapping[str, str], top_n: int = 15
) -> go.Figure:
    """The ``top_n`` complaint types by volume over every month, largest on top."""
    frame = escape_labels(
        select_columns(complaints, columns, "agg_complaint_type_metrics"), "complaint_type"
    )
    totals = frame.groupby("complaint_type", as_index=False)["requests"].sum()
    top = totals.nlargest(top_n, "requests").sort_values("requests")
    fig = go.Figure(
        go.Bar(
            x=top["requests"],
            y=top["complaint_type"],
            orientation="h",
            name="Requests",
            marker={"color": "#3182bd"},
        )
    )
    fig = _layout(fig, f"Top {len(top)} 311 complaint types", None)
    fig.update_layout(height=max(420, 28 * len(top) + 120))
    fig.update_xaxes(title_text="Requests")
    return fig


def nyc311_volume_by_borough_chart(locations: Any, columns: Mapping[str, str]) -> go.Figure:
    """311 requests per borough (the location aggregate summed to borough, over every month)."""
    frame = escape_labels(select_columns(locations, columns, "agg_location_metrics"), "borough")
    by_borough = (
        frame.assign(borough=frame["borough"].fillna("UNSPECIFIED"))
        .groupby("borough", as_index=False)["requests"]
        .sum()
        .sort_values("requests", ascending=False)
    )
    fig = go.Figure(
        go.Bar(
            x=by_borough["borough"],
            y=by_borough["requests"],
            name="Requests",
            marker={"color": "#31a354"},
        )
    )
    return _layout(fig, "311 requests by borough", "Requests")


def nyc311_resolution_by_agency_chart(
    agencies: Any, columns: Mapping[str, str], top_n: int = 15
) -> go.Figure:
    """Median resolution hours per month of the ``top_n`` busiest agencies (dotted: their 90th
    percentile), with an agency filter like the 911 charts'."""
    frame = escape_labels(select_columns(agencies, columns, "agg_agency_metrics"), "agency")
    frame = frame.sort_values("month")
    totals = frame.groupby("agency")["requests"].sum()
    busiest = sorted(totals.nlargest(top_n).index)
    fig = go.Figure()
    trace_agencies: list[str | None] = []
    for i, agency in enumerate(busiest):
        part = frame[frame["agency"] == agency]
        color = AGENCY_PALETTE[i % len(AGENCY_PALETTE)]
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part["median_hours"],
                name=agency,
                mode="lines+markers",
                line={"color": color},
            )
        )
        fig.add_trace(
            go.Scatter(
                x=part["month"],
                y=part["p90_hours"],
                name=f"{agency} 90th percentile",
                mode="lines",
                line={"color": color, "dash": "dot", "width": 1},
                showlegend=False,
            )
        )
        trace_agencies += [agency, agency]
    fig.update_layout(updatemenus=agency_filter(trace_agencies, busiest))
    return _layout(
        fig, "311 median resolution hours by agency per month (dotted: 90th percentile)", "Hours"
    )


def volume_forecast_chart(
    forecasts: pd.DataFrame | None,
    columns: Mapping[str, str],
    series: str | None = None,
    history: pd.Series | None = None,
) -> go.Figure | None:
    """One series' latest forecast with its interval (and recent actuals), or ``None``.

    ``history`` (actual daily requests indexed by day) is drawn before the forecast when given.
    """
    if forecasts is None or forecasts.empty:
        return None
    missing = [c for c in ("id", "date", "value") if columns.get(c) not in forecasts.columns]
    if missing:
        logger.warning("Dashboard: forecast table lacks %s; forecast chart skipped", missing)
        return None
    ids = sorted(forecasts[columns["id"]].astype(str).unique())
    chosen = series if series in ids else ids[0]
    part = forecasts[forecasts[columns["id"]].astype(str) == chosen]
    origin = columns.get("origin")
    if origin in part.columns:
        part = part[part[origin] == part[origin].max()]
    model_col = columns.get("model")
    model = ""
    if model_col in part.columns:
        model = sorted(part[model_col].astype(str).unique())[0]
        part = part[part[model_col].astype(str) == model]
    part = part.sort_values(columns["date"])
    fig = go.Figure()
    if history is not None and not history.empty:
        fig.add_trace(
            go.Scatter(
                x=list(history.index),
                y=list(history.values),
                name="Actual requests",
                mode="lines",
                line={"color": "#636363", "width": 1},
            )
        )
    lower, upper = columns.get("lower"), columns.get("upper")
    if lower in part.columns and upper in part.columns:
        fig.add_trace(
            go.Scatter(
                x=list(part[columns["date"]]) + list(part[columns["date"]])[::-1],
                y=list(part[upper]) + list(part[lower])[::-1],
                fill="toself",
                line={"width": 0},
                fillcolor="rgba(49,130,189,0.2)",
                name="Prediction interval",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=part[columns["date"]],
            y=part[columns["value"]],
            name=f"Forecast ({escape_label(model)})" if model else "Forecast",
            mode="lines",
            line={"color": "#08519c", "width": 2},
        )
    )
    return _layout(fig, f"311 daily volume forecast: {escape_label(chosen)}", "Requests")


def recent_actuals(daily_volume: go.Figure, days: int) -> pd.Series:
    """The last ``days`` of actual daily requests, taken from the daily volume chart's data."""
    if not daily_volume.data:
        return pd.Series(dtype="float64")
    trace = daily_volume.data[0]
    actuals = pd.Series(list(trace.y), index=pd.to_datetime(list(trace.x)))
    return actuals.sort_index().iloc[-days:]


def load_optional_forecasts(forecast: Mapping[str, Any]) -> pd.DataFrame | None:
    """``ml.volume_forecasts`` as pandas when the forecasting pipeline has written it."""
    from nyc_lakehouse.datasets import DeltaTableDataset

    dataset = DeltaTableDataset(table=forecast["table"], root=forecast["lakehouse_root"])
    if not dataset.exists():
        logger.info("Dashboard: %s not found; forecast slot left empty", forecast["table"])
        return None
    return dataset.load().toPandas()


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0; background: #f4f6f8; color: #1b1f24; }}
header {{ padding: 16px 24px; background: #0b3d91; color: #fff; }}
header h1 {{ margin: 0; font-size: 22px; }}
header p {{ margin: 4px 0 0; font-size: 13px; opacity: 0.85; }}
section {{ padding: 8px 24px 16px; }}
section h2 {{ font-size: 18px; margin: 16px 0 8px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }}
.card {{ background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 8px; }}
.wide {{ grid-column: 1 / -1; }}
.note {{ color: #57606a; font-size: 13px; padding: 12px; }}
footer {{ padding: 12px 24px 24px; color: #57606a; font-size: 12px; }}
</style>
</head>
<body>
<header><h1>{title}</h1><p>Generated {generated} from the gold layer. Opens offline: plotly.js is embedded.</p></header>
{sections}
<footer>Sources: NYC Open Data 311 Service Requests (erm2-nwe9) and 911 End-to-End Response Times (t7p9-n9dy).</footer>
</body>
</html>
"""


def _figure_div(fig: go.Figure, include_plotlyjs: bool, div_id: str) -> str:
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )


def build_dashboard(
    nyc911_kpi_tiles: go.Figure,
    nyc911_monthly_incidents: go.Figure,
    nyc911_pickup_trend: go.Figure,
    nyc311_daily_volume: go.Figure,
    nyc311_top_complaint_types: go.Figure,
    nyc311_volume_by_borough: go.Figure,
    nyc311_resolution_by_agency: go.Figure,
    forecast: go.Figure | None = None,
    title: str = "NYC lakehouse dashboard",
    generated_at: datetime | None = None,
    data_health: str | None = None,
) -> str:
    """One self-contained HTML page: plotly.js inline once, then every chart."""
    generated = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    layout = [
        (
            "911 End-to-End response times",
            [
                ("nyc911_kpi_tiles", nyc911_kpi_tiles, True),
                ("nyc911_monthly_incidents", nyc911_monthly_incidents, False),
                ("nyc911_pickup_trend", nyc911_pickup_trend, False),
            ],
        ),
        (
            "311 service requests",
            [
                ("nyc311_daily_volume", nyc311_daily_volume, True),
                ("nyc311_top_complaint_types", nyc311_top_complaint_types, False),
                ("nyc311_volume_by_borough", nyc311_volume_by_borough, False),
                ("nyc311_resolution_by_agency", nyc311_resolution_by_agency, True),
                ("volume_forecast", forecast, True),
            ],
        ),
    ]
    sections, first = [], True
    for heading, charts in layout:
        cards = []
        for div_id, fig, wide in charts:
            css = "card wide" if wide else "card"
            if fig is None:
                cards.append(
                    f'<div class="{css}" id="{div_id}"><p class="note">No forecast yet: run '
                    "<code>kedro run --pipeline forecasting</code> to fill this slot.</p></div>"
                )
                continue
            cards.append(f'<div class="{css}">{_figure_div(fig, first, div_id)}</div>')
            first = False
        sections.append(
            f'<section><h2>{html.escape(heading)}</h2><div class="grid">{"".join(cards)}</div></section>'
        )
    if data_health is not None:  # first: what to distrust before reading the charts
        sections.insert(
            0,
            '<section id="data-health"><h2>Data health</h2>'
            f'<div class="card wide">{data_health}</div></section>',
        )
    page = _PAGE.format(title=html.escape(title), generated=generated, sections="\n".join(sections))
    drawn = sum(fig is not None for _, charts in layout for _, fig, _ in charts)
    logger.info("Dashboard: %d charts, %.1f MB", drawn, len(page) / 1e6)
    return page


def build_dashboard_node(
    nyc911_kpi_tiles: go.Figure,
    nyc911_monthly_incidents: go.Figure,
    nyc911_pickup_trend: go.Figure,
    nyc311_daily_volume: go.Figure,
    nyc311_top_complaint_types: go.Figure,
    nyc311_volume_by_borough: go.Figure,
    nyc311_resolution_by_agency: go.Figure,
    params: Mapping[str, Any],
    forecasts: pd.DataFrame | None = None,
) -> str:
    """Kedro entry point: adds the optional forecast chart, then :func:`build_dashboard`.

    ``forecasts`` is the forecast table when the pipeline hands it over (``kedro run`` of every
    pipeline, see ``pipeline.create_pipeline(forecasts_input=...)``); otherwise the table is
    looked up by name and the slot stays empty when forecasting has not run yet.
    """
    forecast_params = params.get("forecast") or {}
    forecast = None
    if forecast_params.get("enabled", True) and forecast_params.get("table"):
        if forecasts is None:
            forecasts = load_optional_forecasts(forecast_params)
        # The citywide series is the total the daily volume chart draws: show its recent actuals.
        history = None
        if forecast_params.get("series") == forecast_params.get("history_series", "citywide"):
            history = recent_actuals(
                nyc311_daily_volume, int(forecast_params.get("history_days", 90))
            )
        forecast = volume_forecast_chart(
            forecasts,
            forecast_params.get("columns", {}),
            forecast_params.get("series"),
            history,
        )
    return build_dashboard(
        nyc911_kpi_tiles,
        nyc911_monthly_incidents,
        nyc911_pickup_trend,
        nyc311_daily_volume,
        nyc311_top_complaint_types,
        nyc311_volume_by_borough,
        nyc311_resolution_by_agency,
        forecast=forecast,
        title=params.get("title", "NYC lakehouse dashboard"),
        data_health=data_health_node_html(params.get("data_health")),
    )
