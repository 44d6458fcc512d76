"""Rolling-origin backtest, per-window metrics, leaderboard and champion selection."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.forecasting import metrics
from nyc_lakehouse.pipelines.forecasting.models import BASELINE_MODEL, forecast_all

logger = logging.getLogger(__name__)

CHAMPION_ROW = "Champion"
ALL_SERIES = "__all__"
METRICS = ("mase", "smape", "rmse")


def backtest_cutoffs(
    last_day: pd.Timestamp, horizon: int, n_windows: int, step: int
) -> list[pd.Timestamp]:
    """Forecast origins, oldest first; the last window ends on ``last_day``.

    Window ``i`` trains on days ``<= cutoff_i`` and is scored on the ``horizon`` days after it.
    """
    if horizon < 1 or n_windows < 1 or step < 1:
        raise ValueError("horizon, n_windows and step must all be >= 1")
    last_day = pd.Timestamp(last_day)
    return [
        last_day - pd.Timedelta(days=horizon + step * (n_windows - 1 - i)) for i in range(n_windows)
    ]


def run_backtest(
    panel: pd.DataFrame, params: Mapping[str, Any], features: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Forecast every window with every enabled model; rows joined with the actual ``y``.

    Columns: ``cutoff, unique_id, ds, model, y_hat, y_hat_lo_*, y_hat_hi_*, y``. A series is
    left out of a window if it has fewer than ``backtest.min_train_days`` days before the cutoff.
    ``features`` (``gold.volume_forecasting_features``) is sliced per window by the
    machine-learning model: its rows only read values up to their origin.
    """
    horizon = int(params["horizon"])
    config = params.get("backtest", {}) or {}
    n_windows = int(config.get("n_windows", 3))
    step = int(config.get("step", horizon))
    min_train_days = int(config.get("min_train_days", 56))
    cutoffs = backtest_cutoffs(panel["ds"].max(), horizon, n_windows, step)
    frames = []
    for number, cutoff in enumerate(cutoffs, start=1):
        started = time.perf_counter()
        train = panel[panel["ds"] <= cutoff]
        long_enough = train.groupby("unique_id")["ds"].transform("size") >= min_train_days
        train = train[long_enough]
        if train.empty:
            logger.warning(
                "Backtest window %s: no series has %d days", cutoff.date(), min_train_days
            )
            continue
        logger.info(
            "Backtest window %d/%d (cutoff %s, %d series)",
            number,
            len(cutoffs),
            cutoff.date(),
            train["unique_id"].nunique(),
        )
        window = forecast_all(train, params, features=features)
        window.insert(0, "cutoff", cutoff)
        frames.append(window)
        logger.info(
            "Backtest window %d/%d done in %.1f s",
            number,
            len(cutoffs),
            time.perf_counter() - started,
        )
    if not frames:
        raise ValueError(
            f"The panel is too short to backtest: every series needs >= {min_train_days} days "
            f"before the first cutoff plus {horizon} days to score"
        )
    forecasts = pd.concat(frames, ignore_index=True)
    return forecasts.merge(panel[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")


def window_metrics(
    backtest: pd.DataFrame, panel: pd.DataFrame, levels: Sequence[int], season_length: int = 7
) -> pd.DataFrame:
    """Metrics per model x series x window: ``mase, smape, rmse, coverage_<L>``.

    The MASE scale is the in-sample seasonal-naive MAE of that series' training window
    (days up to the cutoff), so each window is scaled by what was known at its origin.
    """
    scales = {}
    for cutoff in backtest["cutoff"].unique():
        train = panel[panel["ds"] <= cutoff]
        for unique_id, series in train.groupby("unique_id"):
            scales[(pd.Timestamp(cutoff), unique_id)] = metrics.seasonal_naive_scale(
                series["y"].to_numpy(float), season_length
            )
    rows = []
    for (cutoff, model, unique_id), part in backtest.groupby(
        ["cutoff", "model", "unique_id"], sort=True
    ):
        actual, forecast = part["y"].to_numpy(float), part["y_hat"].to_numpy(float)
        row = {
            "cutoff": pd.Timestamp(cutoff),
            "model": model,
            "unique_id": unique_id,
            "mase": metrics.mase(actual, forecast, scales[(pd.Timestamp(cutoff), unique_id)]),
            "smape": metrics.smape(actual, forecast),
            "rmse": metrics.rmse(actual, forecast),
        }
        for level in levels:
            row[f"coverage_{level}"] = metrics.coverage(
                actual, part[f"y_hat_lo_{level}"], part[f"y_hat_hi_{level}"]
            )
        rows.append(row)
    return pd.DataFrame(rows)


def select_champions(
    per_window: pd.DataFrame, candidates: Sequence[str] | None = None
) -> pd.Series:
    """Champion model per series: lowest mean MASE over the windows (ties: the simpler model).

    Models that have no MASE in some window of a series (not eligible) are ranked on the
    windows they have; a series where every MASE is NaN keeps the baseline.
    """
    frame = per_window if candidates is None else per_window[per_window["model"].isin(candidates)]
    order = {name: i for i, name in enumerate(frame["model"].drop_duplicates())}
    mean = frame.groupby(["unique_id", "model"])["mase"].mean().reset_index()
    mean["order"] = mean["model"].map(order)
    mean = mean.dropna(subset=["mase"]).sort_values(["unique_id", "mase", "order"])
    champions = mean.groupby("unique_id")["model"].first()
    every = pd.Index(per_window["unique_id"].unique(), name="unique_id")
    return champions.reindex(every).fillna(BASELINE_MODEL).sort_index()


def nested_champion_metrics(per_window: pd.DataFrame) -> pd.DataFrame:
    """Honest score of "pick the champion, then forecast": for each window after the first,
    the champion is chosen on the earlier windows only and scored on this one.

    Returns rows shaped like :func:`window_metrics` with ``model == "Champion"``.
    """
    cutoffs = sorted(per_window["cutoff"].unique())
    frames = []
    for position, cutoff in enumerate(cutoffs[1:], start=1):
        earlier = per_window[per_window["cutoff"].isin(cutoffs[:position])]
        earlier = earlier[earlier["model"] != CHAMPION_ROW]
        chosen = select_champions(earlier)
        current = per_window[per_window["cutoff"] == cutoff]
        picked = current.merge(
            chosen.rename("model").reset_index(), on=["unique_id", "model"], how="inner"
        )
        picked = picked.assign(selected_model=picked["model"], model=CHAMPION_ROW)
        frames.append(picked)
    if not frames:
        return pd.DataFrame(columns=[*per_window.columns, "selected_model"])
    return pd.concat(frames, ignore_index=True)


def leaderboard(
    per_window: pd.DataFrame,
    champions: pd.Series,
    horizon: int,
    levels: Sequence[int],
) -> pd.DataFrame:
    """One row per model per series, plus one ``unique_id == "__all__"`` row per model.

    Metrics are means over the backtest windows (``n_windows`` says how many); the all-series
    row is the mean over series (so RMSE there mixes scales: read MASE and sMAPE across
    series). ``mase_vs_baseline`` is MASE divided by SeasonalNaive's MASE on the same series
    and windows (below 1 beats the baseline). ``Champion`` rows score the per-series choice
    made on earlier windows only (see :func:`nested_champion_metrics`), the honest estimate of
    what the published forecast achieves; ``is_champion`` flags the model chosen on all
    windows, the one refitted and published.
    """
    nested = nested_champion_metrics(per_window)
    scored = pd.concat([per_window, nested.drop(columns=["selected_model"])], ignore_index=True)
    value_columns = [*METRICS, *(f"coverage_{level}" for level in levels)]

    baseline = per_window[per_window["model"] == BASELINE_MODEL][["cutoff", "unique_id", "mase"]]
    scored = scored.merge(
        baseline.rename(columns={"mase": "baseline_mase"}), on=["cutoff", "unique_id"], how="left"
    )
    per_series = (
        scored.groupby(["model", "unique_id"])
        .agg(
            **{c: (c, "mean") for c in value_columns},
            baseline_mase=("baseline_mase", "mean"),
            n_windows=("cutoff", "nunique"),
        )
        .reset_index()
    )
    all_series = (
        per_series.groupby("model")
        .agg(
            **{c: (c, "mean") for c in value_columns},
            baseline_mase=("baseline_mase", "mean"),
            n_windows=("n_windows", "max"),
            n_series=("unique_id", "nunique"),
        )
        .reset_index()
        .assign(unique_id=ALL_SERIES)
    )
    per_series["n_series"] = 1
    board = pd.concat([per_series, all_series], ignore_index=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        board["mase_vs_baseline"] = board["mase"] / board["baseline_mase"]
    board.loc[~np.isfinite(board["mase_vs_baseline"]), "mase_vs_baseline"] = np.nan
    board["rank"] = (
        board.groupby("unique_id")["mase"].rank(method="min", na_option="bottom").astype("int64")
    )
    chosen = set(champions.reset_index().itertuples(index=False, name=None))
    board["is_champion"] = [
        (uid, model) in chosen
        for uid, model in zip(board["unique_id"], board["model"], strict=True)
    ]
    board["horizon"] = int(horizon)
    columns = [
        "unique_id",
        "model",
        "rank",
        "is_champion",
        *value_columns,
        "mase_vs_baseline",
        "baseline_mase",
        "n_windows",
        "n_series",
        "horizon",
    ]
    return board[columns].sort_values(["unique_id", "rank", "model"]).reset_index(drop=True)
