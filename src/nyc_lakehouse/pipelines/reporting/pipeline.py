"""Wiring of the ``reporting`` pipeline (nodes live in nodes.py).

Each chart is its own plotly dataset (``reporting.<chart>_chart``, previewed by kedro-viz); the
last node assembles them into ``reporting.dashboard`` (``<files_root>/reporting/dashboard.html``).
"""

from kedro.pipeline import Pipeline, node

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
                nodes.nyc911_kpi_tiles,
                inputs=["gold.kpi_911_overview", f"{columns}.kpi_911_overview"],
                outputs="reporting.nyc911_kpi_tiles_chart",
                name="chart_nyc911_kpi_tiles",
            ),
            node(
                nodes.nyc911_monthly_incidents_chart,
                inputs=["gold.agg_911_monthly_agency", f"{columns}.agg_911_monthly_incidents"],
                outputs="reporting.nyc911_monthly_incidents_chart",
                name="chart_nyc911_monthly_incidents",
            ),
            node(
                nodes.nyc911_pickup_trend_chart,
                inputs=["gold.agg_911_monthly_agency", f"{columns}.agg_911_monthly_pickup"],
                outputs="reporting.nyc911_pickup_trend_chart",
                name="chart_nyc911_pickup_trend",
            ),
            node(
                nodes.nyc311_daily_volume_chart,
                inputs=[
                    "gold.agg_daily_summary",
                    f"{columns}.agg_daily_summary",
                    "params:reporting.rolling_days",
                ],
                outputs="reporting.nyc311_daily_volume_chart",
                name="chart_nyc311_daily_volume",
            ),
            node(
                nodes.nyc311_top_complaint_types_chart,
                inputs=[
                    "gold.agg_complaint_type_metrics",
                    f"{columns}.agg_complaint_type_metrics",
                    "params:reporting.top_complaint_types",
                ],
                outputs="reporting.nyc311_top_complaint_types_chart",
                name="chart_nyc311_top_complaint_types",
            ),
            node(
                nodes.nyc311_volume_by_borough_chart,
                inputs=["gold.agg_location_metrics", f"{columns}.agg_location_metrics"],
                outputs="reporting.nyc311_volume_by_borough_chart",
                name="chart_nyc311_volume_by_borough",
            ),
            node(
                nodes.nyc311_resolution_by_agency_chart,
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
