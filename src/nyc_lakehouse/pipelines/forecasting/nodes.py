"""Nodes of the ``forecasting`` pipeline (pandas; no Spark needed).

The data input is a daily panel ``unique_id, ds, y`` (``ml.daily_volume_panel@pandas``, built
from gold, or any CSV of that shape in another conf env). The pipeline turns it into
``gold.volume_forecasting_features`` (the machine-learning model's rows, from the one function
:func:`~nyc_lakehouse.pipelines.ml_features.features.forecast_features`), checks that table's
data tests, and trains the models on the panel and the features; every calendar feature is
derived from ``ds``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting.charts import forecast_figure
from nyc_lakehouse.pipelines.forecasting.models import (
    BASELINE_MODEL,
    ChampionForecaster,
    enabled_models,
)
from nyc_lakehouse.pipelines.ml_features.features import feature_columns, forecast_features

logger = logging.getLogger(__name__)

PANEL_COLUMNS = ("unique_id", "ds", "y")
MISSING_DAY_POLICIES = ("zero", "ffill", "error")


def prepare_panel(panel: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Validate and regularise the input panel: one row per series per day, no gaps.

    Checks: the three columns exist; ``ds`` parses as a date; ``y`` is numeric; no series has
    two rows for a day (an error: summing or dropping silently would change the data). Days
    missing inside a series are filled by ``panel.missing_days`` (``zero``: a day without
    requests; ``ffill``; ``error``). ``panel.max_history_days`` keeps the most recent days of
    each series (bounded cost), ``panel.series`` keeps only the listed series.
    """
    missing = [c for c in PANEL_COLUMNS if c not in panel.columns]
    if missing:
        raise ValueError(
            f"The forecasting panel needs columns {list(PANEL_COLUMNS)}; missing {missing} "
            f"(got {list(panel.columns)})"
        )
    config = params.get("panel", {}) or {}
    frame = pd.DataFrame(
        {
            "unique_id": panel["unique_id"].astype(str),
            "ds": pd.to_datetime(panel["ds"], errors="coerce"),
            "y": pd.to_numeric(panel["y"], errors="coerce"),
        }
    )
    bad_dates = frame["ds"].isna() & panel["ds"].notna()
    if bad_dates.any():
        examples = panel.loc[bad_dates, "ds"].astype(str).unique()[:3].tolist()
        raise ValueError(f"ds: {int(bad_dates.sum())} value(s) are not dates, e.g. {examples}")
    if frame["ds"].isna().any():
        raise ValueError(f"ds: {int(frame['ds'].isna().sum())} row(s) have no date")
    bad_values = frame["y"].isna() & panel["y"].notna()
    if bad_values.any():
        examples = panel.loc[bad_values, "y"].astype(str).unique()[:3].tolist()
        raise ValueError(f"y: {int(bad_values.sum())} value(s) are not numbers, e.g. {examples}")
    if (frame["ds"] != frame["ds"].dt.normalize()).any():
        raise ValueError("ds must be daily dates; found times of day (aggregate to days first)")
    duplicated = frame.duplicated(["unique_id", "ds"], keep=False)
    if duplicated.any():
        examples = frame.loc[duplicated, ["unique_id", "ds"]].head(3).astype(str).values.tolist()
        raise ValueError(
            f"{int(duplicated.sum())} rows share a (unique_id, ds): one row per series per day "
            f"is required, e.g. {examples}"
        )
    wanted = config.get("series")
    if wanted:
        frame = frame[frame["unique_id"].isin([str(s) for s in wanted])]
    if frame.empty:
        raise ValueError("The forecasting panel is empty (after the panel.series filter)")

    policy = config.get("missing_days", "zero")
    if policy not in MISSING_DAY_POLICIES:
        raise ValueError(
            f"panel.missing_days must be one of {MISSING_DAY_POLICIES}, got {policy!r}"
        )
    pieces = []
    filled_days = 0
    for unique_id, series in frame.groupby("unique_id", sort=True):
        series = series.set_index("ds").sort_index()
        days = pd.date_range(series.index.min(), series.index.max(), freq="D")
        gaps = int(len(days) - series["y"].notna().sum())
        if gaps and policy == "error":
            raise ValueError(
                f"Series {unique_id!r} has {gaps} missing day(s) (panel.missing_days: error)"
            )
        y = series["y"].reindex(days)
        y = y.ffill().fillna(0.0) if policy == "ffill" else y.fillna(0.0)
        filled_days += gaps
        pieces.append(pd.DataFrame({"unique_id": unique_id, "ds": days, "y": y.to_numpy(float)}))
    out = pd.concat(pieces, ignore_index=True)
    max_days = config.get("max_history_days")
    if max_days:
        start = out.groupby("unique_id")["ds"].transform("max") - pd.Timedelta(
            days=int(max_days) - 1
        )
        out = out[out["ds"] >= start]
    if filled_days:
        logger.warning("Filled %d missing series-day(s) with policy %r", filled_days, policy)
    logger.info(
        "Panel: %d series, %d rows, %s to %s",
        out["unique_id"].nunique(),
        len(out),
        out["ds"].min().date(),
        out["ds"].max().date(),
    )
    return out.reset_index(drop=True)


def build_volume_forecasting_features(
    panel: pd.DataFrame, params: Mapping[str, Any]
) -> pd.DataFrame:
    """``gold.volume_forecasting_features``: the machine-learning model's rows.

    One row per series, target day and horizon step (1 .. ``horizon``), every history feature
    read at the forecast origin; the rows of the next ``horizon`` days have no ``y``. The same
    function builds the rows the model forecasts from, so training and serving cannot drift.
    """
    started = time.perf_counter()
    rows = forecast_features(panel, int(params["horizon"]), params.get("calendar"))
    logger.info(
        "Feature rows: %d (%d series, %d features) in %.1f s",
        len(rows),
        rows["unique_id"].nunique(),
        len(feature_columns(rows)),
        time.perf_counter() - started,
    )
    return rows


def backtest_models(
    panel: pd.DataFrame, features: pd.DataFrame, params: Mapping[str, Any]
) -> pd.DataFrame:
    """Rolling-origin backtest of every enabled model (see ``backtest.run_backtest``)."""
    started = time.perf_counter()
    result = bt.run_backtest(panel, params, features)
    logger.info(
        "Backtest of %d model(s) on %d series done in %.1f s",
        result["model"].nunique(),
        result["unique_id"].nunique(),
        time.perf_counter() - started,
    )
    return result


def score_backtest(
    backtest: pd.DataFrame, panel: pd.DataFrame, params: Mapping[str, Any]
) -> pd.DataFrame:
    """Metrics per model x series x backtest window (MASE, sMAPE, RMSE, coverage)."""
    return bt.window_metrics(
        backtest, panel, list(params["levels"]), int(params.get("season_length", 7))
    )


def choose_champions(per_window: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Champion per series (lowest mean MASE over all windows): ``unique_id, model``."""
    candidates, scope = _champion_settings(params)
    champions = bt.select_champions(per_window, candidates, scope)
    logger.info("Champions: %s", champions.value_counts().to_dict())
    return champions.rename("model").reset_index()


def _champion_settings(params: Mapping[str, Any]) -> tuple[list[str] | None, str]:
    config = params.get("champion", {}) or {}
    return config.get("candidates") or None, str(config.get("scope", "series"))


def build_leaderboard(
    per_window: pd.DataFrame, champions: pd.DataFrame, params: Mapping[str, Any]
) -> pd.DataFrame:
    """``ml.forecast_backtest_metrics``: one row per model per series, plus ``__all__`` rows.

    Grain: one row per (model, unique_id); ``unique_id == "__all__"`` is the mean over series.
    """
    candidates, scope = _champion_settings(params)
    board = bt.leaderboard(
        per_window,
        champions.set_index("unique_id")["model"],
        int(params["horizon"]),
        list(params["levels"]),
        candidates,
        scope,
    )
    board["evaluated_at"] = pd.Timestamp.now(tz="UTC")
    overall = board[board["unique_id"] == bt.ALL_SERIES].set_index("model")
    if bt.CHAMPION_ROW in overall.index and BASELINE_MODEL in overall.index:
        logger.info(
            "Champion MASE %.3f vs %s %.3f (ratio %.3f on the same windows)",
            overall.loc[bt.CHAMPION_ROW, "mase"],
            BASELINE_MODEL,
            overall.loc[bt.CHAMPION_ROW, "baseline_mase"],
            overall.loc[bt.CHAMPION_ROW, "mase_vs_baseline"],
        )
    return board


def fit_champion_model(
    panel: pd.DataFrame,
    features: pd.DataFrame,
    champions: pd.DataFrame,
    params: Mapping[str, Any],
) -> ChampionForecaster:
    """Refit every series' champion on all of its history (and all of its feature rows)."""
    mapping = dict(zip(champions["unique_id"], champions["model"], strict=True))
    enabled = set(enabled_models(params))
    unknown = sorted(set(mapping.values()) - enabled)
    if unknown:
        raise ValueError(f"Champion model(s) {unknown} are not enabled in the parameters")
    return ChampionForecaster(mapping, params).fit(panel, features)


def forecast_next_horizon(
    champion_model: ChampionForecaster, params: Mapping[str, Any]
) -> pd.DataFrame:
    """``ml.volume_forecasts``: one row per series per forecast day, champion's forecast.

    Columns ``unique_id, ds, model, y_hat, y_hat_lo_<L>, y_hat_hi_<L>, forecast_origin
    (last observed day), horizon_step, created_at``.
    """
    forecasts = champion_model.predict()
    origin = forecasts["unique_id"].map(champion_model.last_observed)
    forecasts["forecast_origin"] = pd.to_datetime(origin)
    forecasts["horizon_step"] = (forecasts["ds"] - forecasts["forecast_origin"]).dt.days.astype(
        "int64"
    )
    forecasts["created_at"] = pd.Timestamp.now(tz="UTC")
    return forecasts


def plot_forecasts(
    panel: pd.DataFrame,
    backtest: pd.DataFrame,
    forecasts: pd.DataFrame,
    champions: pd.DataFrame,
    params: Mapping[str, Any],
) -> go.Figure:
    """The forecast chart (kedro-viz preview, dashboard and MLflow artifact)."""
    ids = sorted(panel["unique_id"].unique(), key=lambda s: (s != "citywide", s))
    return forecast_figure(
        panel,
        backtest,
        forecasts,
        champions.set_index("unique_id")["model"],
        list(params["levels"]),
        history_days=int((params.get("chart", {}) or {}).get("history_days", 120)),
        series_order=ids,
    )
