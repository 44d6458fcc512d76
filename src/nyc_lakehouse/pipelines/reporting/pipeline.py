"""Wiring of the ``reporting`` pipeline (nodes live in nodes.py).

Each chart is its own plotly dataset (``reporting.<chart>_chart``, previewed by kedro-viz); the
last node assembles them into ``reporting.dashboard`` (``<files_root>/reporting/dashboard.html``).
"""

import functools
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
from kedro.pipeline import Pipeline, node

from nyc_lakehouse.lakehouse_sources import LABELS, warn_absent
from nyc_lakehouse.pipelines.reporting import nodes

CHARTS = (
    "nyc911_kpi_tiles",
    "nyc911_monthly_incidents",
    "nyc911_pickup_trend",
    "nyc311_daily_volume",
    "nyc311_top_complaint_types",
    "nyc311_volume_by_borough",
    "nyc311_resolution_by_agency",
)


def _is_empty(table: Any) -> bool:
    if hasattr(table, "isEmpty"):  # Spark
        return bool(table.isEmpty())
    return bool(getattr(table, "empty", False))


def absent_source_chart(source: str, chart: str) -> go.Figure:
    """The slot of a chart whose source has no data: a note saying so, not empty axes."""
    fig = go.Figure()
    fig.add_annotation(
        text=(
            f"No {LABELS[source]} data in this lakehouse (source {source} is turned off or has "
            "not landed yet): nothing to draw."
        ),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
    )
    fig.update_layout(
        title={"text": chart.replace("_", " "), "x": 0.01},
        template="plotly_white",
        xaxis_visible=False,
        yaxis_visible=False,
        height=220,
        meta={"absent_source": source},
    )
    return fig


def _note_when_absent(draw: Callable[..., go.Figure], source: str, chart: str) -> Callable:
    """``draw``, or the note of :func:`absent_source_chart` when its gold table is empty."""

    @functools.wraps(draw)
    def chart_or_note(table: Any, *args: Any, **kwargs: Any) -> go.Figure:
        if _is_empty(table):
            warn_absent(source, f"the dashboard shows a note instead of chart {chart}")
            return absent_source_chart(source, chart)
        return draw(table, *args, **kwargs)

    return chart_or_note


def create_pipeline(forecasts_input: str | None = None, **kwargs: object) -> Pipeline:
    """The reporting pipeline; on its own it looks the forecast table up by name.

    ``forecasts_input`` (e.g. ``"ml.volume_forecasts"``) makes that dataset an input of the
    dashboard, so a run that also contains forecasting draws the dashboard after the forecast.
    The default keeps ``kedro run --pipeline reporting`` free of it: the forecast slot shows
    a note when forecasting has not run yet.
    """
    columns = "params:reporting.columns"
    forecasts = [forecasts_input] if forecasts_input else []
    return Pipeline(
        [
            node(
                _note_when_absent(nodes.nyc911_kpi_tiles, "nyc911", "nyc911_kpi_tiles"),
                inputs=["gold.kpi_911_overview", f"{columns}.kpi_911_overview"],
                outputs="reporting.nyc911_kpi_tiles_chart",
                name="chart_nyc911_kpi_tiles",
            ),
            node(
                _note_when_absent(
                    nodes.nyc911_monthly_incidents_chart, "nyc911", "nyc911_monthly_incidents"
                ),
                inputs=["gold.agg_911_monthly_agency", f"{columns}.agg_911_monthly_incidents"],
                outputs="reporting.nyc911_monthly_incidents_chart",
                name="chart_nyc911_monthly_incidents",
            ),
            node(
                _note_when_absent(nodes.nyc911_pickup_trend_chart, "nyc911", "nyc911_pickup_trend"),
                inputs=["gold.agg_911_monthly_agency", f"{columns}.agg_911_monthly_pickup"],
                outputs="reporting.nyc911_pickup_trend_chart",
                name="chart_nyc911_pickup_trend",
            ),
            node(
                _note_when_absent(nodes.nyc311_daily_volume_chart, "nyc311", "nyc311_daily_volume"),
                inputs=[
                    "gold.agg_daily_summary",
                    f"{columns}.agg_daily_summary",
                    "params:reporting.rolling_days",
                ],
                outputs="reporting.nyc311_daily_volume_chart",
                name="chart_nyc311_daily_volume",
            ),
            node(
                _note_when_absent(
                    nodes.nyc311_top_complaint_types_chart, "nyc311", "nyc311_top_complaint_types"
                ),
                inputs=[
                    "gold.agg_complaint_type_metrics",
                    f"{columns}.agg_complaint_type_metrics",
                    "params:reporting.top_complaint_types",
                ],
                outputs="reporting.nyc311_top_complaint_types_chart",
                name="chart_nyc311_top_complaint_types",
            ),
            node(
                _note_when_absent(
                    nodes.nyc311_volume_by_borough_chart, "nyc311", "nyc311_volume_by_borough"
                ),
                inputs=["gold.agg_location_metrics", f"{columns}.agg_location_metrics"],
                outputs="reporting.nyc311_volume_by_borough_chart",
                name="chart_nyc311_volume_by_borough",
            ),
            node(
                _note_when_absent(
                    nodes.nyc311_resolution_by_agency_chart, "nyc311", "nyc311_resolution_by_agency"
                ),
                inputs=[
                    "gold.agg_agency_metrics",
                    f"{columns}.agg_agency_metrics",
                    "params:reporting.top_agencies",
                ],
                outputs="reporting.nyc311_resolution_by_agency_chart",
                name="chart_nyc311_resolution_by_agency",
            ),
            node(
                nodes.build_dashboard_node,
                inputs=[
                    *(f"reporting.{chart}_chart" for chart in CHARTS),
                    "params:reporting",
                    *forecasts,
                ],
                outputs="reporting.dashboard",
                name="build_dashboard",
            ),
        ],
        tags=["reporting"],
    )
