"""Plotly chart of each series: recent history, champion backtest forecasts, and the forecast."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from nyc_lakehouse.chart_text import escape_label

HISTORY_COLOR = "#1f2937"
BACKTEST_COLOR = "#d97706"
FORECAST_COLOR = "#2563eb"


def _band(x: pd.Series, lo: pd.Series, hi: pd.Series, name: str, opacity: float) -> go.Scatter:
    return go.Scatter(
        x=list(x) + list(x[::-1]),
        y=list(hi) + list(lo[::-1]),
        fill="toself",
        fillcolor=f"rgba(37, 99, 235, {opacity})",
        line={"width": 0},
        hoverinfo="skip",
        name=name,
    )


def forecast_figure(
    panel: pd.DataFrame,
    backtest: pd.DataFrame,
    forecasts: pd.DataFrame,
    champions: pd.Series,
    levels: Sequence[int],
    history_days: int = 120,
    series_order: Sequence[str] | None = None,
) -> go.Figure:
    """One figure, a dropdown to pick the series (citywide first); 8 traces per series.

    Traces: actual history (last ``history_days``), champion's backtest forecasts (one line,
    windows concatenated), forecast mean, and one shaded band per interval level.
    """
    ids = list(series_order) if series_order else sorted(panel["unique_id"].unique())
    levels = sorted(levels, reverse=True)
    figure = go.Figure()
    traces_per_series = 3 + len(levels)
    for position, unique_id in enumerate(ids):
        visible = position == 0
        history = panel[panel["unique_id"] == unique_id].sort_values("ds").tail(history_days)
        champion = champions.get(unique_id)
        shown = escape_label(champion)  # series ids and names are data: plain text in plotly
        past = backtest[(backtest["unique_id"] == unique_id) & (backtest["model"] == champion)]
        past = past[past["ds"] >= history["ds"].min()].sort_values("ds")
        future = forecasts[forecasts["unique_id"] == unique_id].sort_values("ds")
        figure.add_trace(
            go.Scatter(
                x=history["ds"],
                y=history["y"],
                name="actual",
                line={"color": HISTORY_COLOR, "width": 1.5},
                visible=visible,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=past["ds"],
                y=past["y_hat"],
                name=f"backtest ({shown})",
                mode="lines",
                line={"color": BACKTEST_COLOR, "dash": "dot"},
                connectgaps=False,
                visible=visible,
            )
        )
        for level, opacity in zip(levels, (0.15, 0.3, 0.45), strict=False):
            band = _band(
                future["ds"],
                future[f"y_hat_lo_{level}"],
                future[f"y_hat_hi_{level}"],
                f"{level}% interval",
                opacity,
            )
            band.visible = visible
            figure.add_trace(band)
        figure.add_trace(
            go.Scatter(
                x=future["ds"],
                y=future["y_hat"],
                name=f"forecast ({shown})",
                line={"color": FORECAST_COLOR, "width": 2},
                visible=visible,
            )
        )
    buttons = []
    for position, unique_id in enumerate(ids):
        mask = [False] * (traces_per_series * len(ids))
        mask[position * traces_per_series : (position + 1) * traces_per_series] = [
            True
        ] * traces_per_series
        buttons.append(
            {
                "label": escape_label(unique_id),
                "method": "update",
                "args": [{"visible": mask}, {"title": _title(unique_id, champions)}],
            }
        )
    first = ids[0] if ids else ""
    figure.update_layout(
        title=_title(first, champions),
        xaxis_title="day",
        yaxis_title="requests per day",
        hovermode="x unified",
        template="plotly_white",
        updatemenus=[
            {"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right", "y": 1.15}
        ],
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def _title(unique_id: str, champions: pd.Series) -> str:
    champion = escape_label(champions.get(unique_id))
    return f"Daily volume: {escape_label(unique_id)} (champion: {champion})"
