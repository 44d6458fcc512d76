"""Rolling-origin backtest, per-window metrics, leaderboard and champion selection."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.forecasting import metrics
from nyc_lakehouse.pipelines.forecasting.models import (
    BASELINE_MODEL,
    ENSEMBLE_MODEL,
    STATISTICAL_MODELS,
    build_forecaster,
    enabled_models,
    ensemble_forecast,
    tidy_intervals,
)

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
    The statistical models are backtested by statsforecast's ``cross_validation`` (one call per
    model); the machine-learning model slices ``features`` (``gold.volume_forecasting_features``)
    at each cutoff: its rows only read values up to their origin. The ensemble combines the
    members window by window.
    """
    horizon = int(params["horizon"])
    levels = [int(x) for x in params["levels"]]
    config = params.get("backtest", {}) or {}
    n_windows = int(config.get("n_windows", 3))
    step = int(config.get("step", horizon))
    min_train_days = int(config.get("min_train_days", 56))
    cutoffs = backtest_cutoffs(panel["ds"].max(), horizon, n_windows, step)
    frames = []
    for name in enabled_models(params):
        if name == ENSEMBLE_MODEL:
            continue
        started = time.perf_counter()
        forecaster = build_forecaster(name, params)
        if name in STATISTICAL_MODELS:
            frame = forecaster.cross_validation(
                panel, horizon, step, cutoffs, levels, min_train_days
            )
        else:
            frame = _by_window(
                forecaster, panel, features, cutoffs, horizon, levels, min_train_days
            )
        logger.info(
            "Backtest of %s: %d window(s) in %.1f s", name, n_windows, time.perf_counter() - started
        )
        if not frame.empty:
            frames.append(frame)
    if not frames:
        raise ValueError(
            f"The panel is too short to backtest: every series needs >= {min_train_days} days "
            f"before the first cutoff plus {horizon} days to score"
        )
    forecasts = pd.concat(frames, ignore_index=True)
    if ENSEMBLE_MODEL in enabled_models(params):
        settings = params["models"][ENSEMBLE_MODEL]
        ensemble = ensemble_forecast(
            forecasts, settings.get("members", []), levels, settings.get("method", "median")
        )
        forecasts = pd.concat([forecasts, ensemble], ignore_index=True)
    forecasts = tidy_intervals(forecasts, levels, bool(params.get("clip_at_zero", True)))
    forecasts["cutoff"] = pd.to_datetime(forecasts["cutoff"])
    return forecasts.merge(panel[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")


def _by_window(
    forecaster: Any,
    panel: pd.DataFrame,
    features: pd.DataFrame | None,
    cutoffs: Sequence[pd.Timestamp],
    horizon: int,
    levels: Sequence[int],
    min_train_days: int,
) -> pd.DataFrame:
    """The machine-learning model refitted at every cutoff on the days before it."""
    frames = []
    for cutoff in cutoffs:
        train = panel[panel["ds"] <= cutoff]
        train = train[train.groupby("unique_id")["ds"].transform("size") >= min_train_days]
        if train.empty:
            logger.warning(
                "Backtest window %s: no series has %d days", cutoff.date(), min_train_days
            )
            continue
        window = forecaster.forecast(train, horizon, levels, features)
        window.insert(0, "cutoff", cutoff)
        frames.append(window)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def window_metrics(
    backtest: pd.DataFrame, panel: pd.DataFrame, levels: Sequence[int], season_length: int = 7
) -> pd.DataFrame:
    """Metrics per model x series x window: ``mase, smape, rmse, coverage_<L>``.

    Computed with utilsforecast's losses, window by window (``cutoff``): the MASE scale is the
    in-sample seasonal-naive MAE of that series' training window (days up to the cutoff), so
    each window is scaled by what was known at its origin. Two rules are this project's
    (:mod:`.metrics`, which defines every metric on one window's arrays): a zero scale gives 0
    for a perfect forecast and NaN otherwise (never infinity), and a model without an interval
    has NaN coverage, not 0. sMAPE is in percent (0-200).
    """
    from utilsforecast import losses

    keys = ["unique_id", "cutoff", "ds"]
    values = ["y_hat", *(f"y_hat_{s}_{level}" for level in levels for s in ("lo", "hi"))]
    # unstack, not pivot_table: only the (series, window, day) rows that exist, never the
    # cross product of windows and days (empty rows would count as uncovered days)
    wide = (
        backtest.drop_duplicates([*keys, "model"])
        .set_index([*keys, "model"])[values]
        .astype("float64")
        .unstack("model")
    )
    models = sorted(backtest["model"].unique())
    frame = pd.DataFrame(index=wide.index)
    for model in models:
        frame[model] = wide[("y_hat", model)]
        for level in levels:
            for side in ("lo", "hi"):
                frame[f"{model}-{side}-{level}"] = wide[(f"y_hat_{side}_{level}", model)]
    actual = backtest.drop_duplicates(keys).set_index(keys)["y"]
    frame = frame.assign(y=actual.reindex(frame.index)).reset_index()
    frame = frame.astype({c: "float64" for c in frame.columns if c not in keys})
    train = panel[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"])

    def long(scores: pd.DataFrame, name: str) -> pd.DataFrame:
        return scores.melt(
            id_vars=["unique_id", "cutoff"], value_vars=models, var_name="model", value_name=name
        ).set_index(["cutoff", "model", "unique_id"])

    mae = long(losses.mae(frame, models), "mae")
    mase = long(losses.mase(frame, models, season_length, train), "mase")
    result = pd.concat(
        [
            mase,
            long(losses.smape(frame, models), "smape") * 200,
            long(losses.rmse(frame, models), "rmse"),
            mae,
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(result["mase"])
    result.loc[infinite, "mase"] = np.nan
    # a zero scale: 0/0 is a perfect forecast of a series that repeats exactly every season
    result.loc[
        result["mase"].isna()
        & (result["mae"] == 0)
        & _zero_scale(result, frame, train, season_length),
        "mase",
    ] = 0.0
    for level in levels:
        covered = long(losses.coverage(frame, models, level), f"coverage_{level}")
        has_interval = (
            frame.melt(
                id_vars=["unique_id", "cutoff"], value_vars=[f"{m}-lo-{level}" for m in models]
            )
            .assign(
                model=lambda d: d["variable"].str.rsplit("-", n=2).str[0],
                present=lambda d: d["value"].notna(),
            )
            .groupby(["cutoff", "model", "unique_id"])["present"]
            .any()
        )
        result[f"coverage_{level}"] = covered[f"coverage_{level}"].where(
            has_interval.reindex(covered.index).fillna(False)
        )
    result = result.drop(columns="mae").reset_index()
    result["cutoff"] = pd.to_datetime(result["cutoff"])
    result = result.dropna(subset=["rmse"]).sort_values(["cutoff", "model", "unique_id"])
    return result[["cutoff", "model", "unique_id", *METRICS, *(f"coverage_{x}" for x in levels)]]


def _zero_scale(
    result: pd.DataFrame, frame: pd.DataFrame, train: pd.DataFrame, season_length: int
) -> pd.Series:
    """True where the series' training window (up to the cutoff) has a seasonal-naive MAE of 0."""
    scales = {}
    for cutoff in frame["cutoff"].unique():
        part = train[train["ds"] <= cutoff]
        for unique_id, series in part.groupby("unique_id"):
            scales[(pd.Timestamp(cutoff), unique_id)] = metrics.seasonal_naive_scale(
                series["y"].to_numpy(float), season_length
            )
    index = result.index
    return pd.Series([scales.get((pd.Timestamp(c), u)) == 0 for c, _, u in index], index=index)


CHAMPION_SCOPES = ("series", "all")


def select_champions(
    per_window: pd.DataFrame, candidates: Sequence[str] | None = None, scope: str = "series"
) -> pd.Series:
    """Champion model per series: lowest mean MASE over the windows (ties: the simpler model).

    Models that have no MASE in some window of a series (not eligible) are ranked on the
    windows they have; a series where every MASE is NaN keeps the baseline. With ``scope="all"``
    one model serves every series it forecasts: the lowest mean over series of the per-series
    mean MASE (a choice made on all series is steadier than one series' few windows); series it
    does not forecast keep their own choice.
    """
    if scope not in CHAMPION_SCOPES:
        raise ValueError(f"champion.scope must be one of {CHAMPION_SCOPES}, got {scope!r}")
    frame = per_window if candidates is None else per_window[per_window["model"].isin(candidates)]
    order = {name: i for i, name in enumerate(frame["model"].drop_duplicates())}
    mean = frame.groupby(["unique_id", "model"])["mase"].mean().reset_index()
    mean["order"] = mean["model"].map(order)
    mean = mean.dropna(subset=["mase"]).sort_values(["unique_id", "mase", "order"])
    champions = mean.groupby("unique_id")["model"].first()
    if scope == "all" and not mean.empty:
        overall = mean.groupby("model").agg(mase=("mase", "mean"), order=("order", "first"))
        best = overall.sort_values(["mase", "order"]).index[0]
        covered = mean.loc[mean["model"] == best, "unique_id"]
        champions.loc[champions.index.isin(covered)] = best
    every = pd.Index(per_window["unique_id"].unique(), name="unique_id")
    return champions.reindex(every).fillna(BASELINE_MODEL).sort_index()


def nested_champion_metrics(
    per_window: pd.DataFrame, candidates: Sequence[str] | None = None, scope: str = "series"
) -> pd.DataFrame:
    """Honest score of "pick the champion, then forecast": for each window after the first,
    the champion is chosen on the earlier windows only (as :func:`select_champions` chooses,
    among ``candidates``, per ``scope``) and scored on this one.

    Returns rows shaped like :func:`window_metrics` with ``model == "Champion"``.
    """
    cutoffs = sorted(per_window["cutoff"].unique())
    frames = []
    for position, cutoff in enumerate(cutoffs[1:], start=1):
        earlier = per_window[per_window["cutoff"].isin(cutoffs[:position])]
        earlier = earlier[earlier["model"] != CHAMPION_ROW]
        chosen = select_champions(earlier, candidates, scope)
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
    candidates: Sequence[str] | None = None,
    scope: str = "series",
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
    nested = nested_champion_metrics(per_window, candidates, scope)
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
