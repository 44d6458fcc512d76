"""Forecasting models behind one small interface, and the champion model logged to MLflow.

Every model turns a panel (``unique_id, ds, y``; daily, no gaps) into a *long* forecast frame:
``unique_id, ds, model, y_hat, y_hat_lo_<L>, y_hat_hi_<L>`` for each interval level ``L``.

* Statistical models (statsforecast): ``SeasonalNaive``, ``AutoETS``, ``AutoTheta``, ``AutoARIMA``
  (search bounded by parameters, trained on a recent window: it is the slow one) and ``MSTL``
  (weekly + yearly seasonality, only for series with ``min_history_days`` of history).
* ``HistGradientBoosting`` (scikit-learn): one model across all series, direct multi-horizon
  (one row per target day *and* horizon step), features computed from the forecast origin only:
  same-weekday lags, recent levels, last year's value, calendar and holiday features of the
  target day. Values are divided by the series' 28-day level at the origin, so one model serves
  series of any size and follows level shifts. Intervals: split conformal (see
  :class:`GradientBoostingForecaster`).
* ``Ensemble``: the median (or mean) of configured member models, per day.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features, level_shift_features
from nyc_lakehouse.pipelines.ml_features.features import (
    CATEGORICAL,
    LEVEL_DAYS,
    feature_columns,
    forecast_features,
)

logger = logging.getLogger(__name__)

STATISTICAL_MODELS = ("SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA", "MSTL")
# statsforecast models that use exogenous regressors (X_df); MSTL through an AutoARIMA trend.
EXOGENOUS_MODELS = ("AutoARIMA", "MSTL")
SKLEARN_MODEL = "HistGradientBoosting"
ENSEMBLE_MODEL = "Ensemble"
ALL_MODELS = (*STATISTICAL_MODELS, SKLEARN_MODEL, ENSEMBLE_MODEL)
BASELINE_MODEL = "SeasonalNaive"


def interval_columns(levels: Iterable[int]) -> list[str]:
    """The interval column names for ``levels``: ``y_hat_lo_80, y_hat_hi_80, ...``."""
    return [f"y_hat_{side}_{level}" for level in levels for side in ("lo", "hi")]


def forecast_columns(levels: Iterable[int]) -> list[str]:
    return ["unique_id", "ds", "model", "y_hat", *interval_columns(levels)]


def tidy_intervals(
    forecast: pd.DataFrame, levels: Sequence[int], clip_at_zero: bool
) -> pd.DataFrame:
    """Make intervals nested and ordered (lo_95 <= lo_80 <= y_hat <= hi_80 <= hi_95).

    Volumes cannot be negative, so with ``clip_at_zero`` every value is clipped at 0 first.
    A missing bound stays missing (NaN): an interval a model did not produce must not turn into
    a zero-width one, which would score as a real (and wrong) coverage.
    """
    out = forecast.copy()
    value_columns = ["y_hat", *interval_columns(levels)]
    if clip_at_zero:
        out[value_columns] = out[value_columns].clip(lower=0)
    lower, upper = out["y_hat"].to_numpy(float), out["y_hat"].to_numpy(float)
    for level in sorted(levels):
        lo_col, hi_col = f"y_hat_lo_{level}", f"y_hat_hi_{level}"
        lo = np.minimum(out[lo_col].to_numpy(float), lower)
        hi = np.maximum(out[hi_col].to_numpy(float), upper)
        out[lo_col], out[hi_col] = lo, hi
        lower, upper = lo, hi
    return out


def future_dates(panel: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The ``horizon`` days after each series' last day: ``unique_id, ds, step`` (1..horizon)."""
    last = panel.groupby("unique_id", sort=True)["ds"].max()
    steps = np.arange(1, horizon + 1)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(last.index.to_numpy(), horizon),
            "ds": (
                np.repeat(last.to_numpy(dtype="datetime64[ns]"), horizon)
                + np.tile(steps, len(last)).astype("timedelta64[D]")
            ),
            "step": np.tile(steps, len(last)),
        }
    )


# --------------------------------------------------------------------------------------------
# Statistical models (statsforecast)
# --------------------------------------------------------------------------------------------
# statsforecast's ARIMA search warns once per candidate model that fails to converge or when the
# bounded search (``nmodels``) stops; on hundreds of series x windows that floods the run log with
# messages about candidates the search rejects anyway. Only these two messages are silenced.
SEARCH_WARNINGS = (
    r"possible convergence problem",
    r"Stepwise search was stopped early",
)


@contextlib.contextmanager
def quiet_model_search() -> Iterator[None]:
    """Ignore statsforecast's per-candidate ARIMA search warnings (workers forked inside inherit it)."""
    with warnings.catch_warnings():
        for message in SEARCH_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


class StatsForecaster:
    """One statsforecast model fitted to every eligible series of a panel.

    ``settings`` come from ``parameters_forecasting.yml`` (``models.<name>``): ``max_train_days``
    (only the most recent days are used; null = all), ``min_history_days`` (series with less
    history are left out: for MSTL the yearly season needs two years), and model arguments
    (AutoARIMA: ``max_p``, ``max_q``, ``max_P``, ``max_Q``, ``approximation``, ``nmodels``).
    """

    def __init__(
        self,
        name: str,
        settings: Mapping[str, Any],
        season_length: int = 7,
        n_jobs: int = 1,
        calendar: Mapping[str, Any] | None = None,
    ) -> None:
        if name not in STATISTICAL_MODELS:
            raise ValueError(f"Unknown statistical model {name!r}: expected {STATISTICAL_MODELS}")
        self.name = name
        self.settings = dict(settings or {})
        self.season_length = int(season_length)
        self.n_jobs = int(n_jobs)
        self.calendar = dict(calendar or {})
        exogenous = self.settings.get("exogenous") or []
        if exogenous and name not in EXOGENOUS_MODELS:
            raise ValueError(f"{name} takes no exogenous regressors (only {EXOGENOUS_MODELS})")
        self.exogenous = [str(c) for c in exogenous]
        self._fitted: Any = None
        self._future_x: pd.DataFrame | None = None

    def _model(self) -> Any:
        from statsforecast import models as sf

        s, m = self.settings, self.season_length
        if self.name == "SeasonalNaive":
            return sf.SeasonalNaive(season_length=m, alias=self.name)
        if self.name == "AutoETS":
            return sf.AutoETS(season_length=m, model=s.get("model", "ZZZ"), alias=self.name)
        if self.name == "AutoTheta":
            return sf.AutoTheta(season_length=m, alias=self.name)
        if self.name == "AutoARIMA":
            return sf.AutoARIMA(
                season_length=m,
                max_p=int(s.get("max_p", 2)),
                max_q=int(s.get("max_q", 2)),
                max_P=int(s.get("max_P", 1)),
                max_Q=int(s.get("max_Q", 1)),
                nmodels=int(s.get("nmodels", 20)),
                approximation=bool(s.get("approximation", True)),
                alias=self.name,
            )
        seasons = [int(x) for x in s.get("season_lengths", [m, 365])]
        # The seasonal parts are removed first; the trend model sees the regressors (an ETS
        # trend cannot take them, a non-seasonal ARIMA can).
        trend = (
            sf.AutoARIMA(season_length=1, max_p=2, max_q=2, approximation=True)
            if self.exogenous
            else sf.AutoETS(model="ZZN")
        )
        return sf.MSTL(season_length=seasons, trend_forecaster=trend, alias=self.name)

    def _calendar_values(self, days: pd.Series) -> pd.DataFrame:
        """The configured regressors of ``days`` (index ``ds``), as floats."""
        cal = calendar_features(
            days.drop_duplicates(),
            country=self.calendar.get("country", "US"),
            subdivision=self.calendar.get("subdivision", "NY"),
        )
        shifts = level_shift_features(cal["ds"], self.calendar.get("level_shifts"))
        cal = pd.concat([cal, shifts], axis=1).set_index("ds")
        unknown = sorted(set(self.exogenous) - set(cal.columns))
        if unknown:
            raise ValueError(f"{self.name}: unknown exogenous regressor(s) {unknown}")
        return cal[self.exogenous].astype(float)

    def _with_regressors(self, frame: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
        x = values.reindex(frame["ds"]).to_numpy()
        return frame.assign(**dict(zip(values.columns, x.T, strict=True)))

    def _regressors(
        self, train: pd.DataFrame, horizon: int
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """``train`` with the configured calendar regressors, and their values on the next
        ``horizon`` days (``X_df``). A regressor constant over the training days is left out:
        its coefficient cannot be estimated (a singular fit would fall back to SeasonalNaive)."""
        if not self.exogenous:
            return train, None
        future = future_dates(train, horizon).drop(columns="step")
        values = self._calendar_values(pd.concat([train["ds"], future["ds"]]))
        used = [c for c in self.exogenous if values.loc[train["ds"].unique(), c].nunique() > 1]
        train = self._with_regressors(train[["unique_id", "ds", "y"]], values[used])
        return train, self._with_regressors(future, values[used])

    def cross_validation(
        self,
        panel: pd.DataFrame,
        horizon: int,
        step: int,
        cutoffs: Sequence[pd.Timestamp],
        levels: Sequence[int],
        min_train_days: int = 0,
    ) -> pd.DataFrame:
        """Rolling-origin forecasts from each of ``cutoffs`` (statsforecast's cross_validation:
        one call per group of series, refitted at every origin on the ``max_train_days`` before
        it). A series joins a window once it has ``min_train_days`` (and the model's
        ``min_history_days``) before the cutoff; series that end before the panel's last day
        are not backtested. Returns the long frame with a ``cutoff`` column."""
        if not cutoffs:
            return pd.DataFrame(columns=["cutoff", *forecast_columns(levels)])
        last_day = pd.Timestamp(cutoffs[-1]) + pd.Timedelta(days=horizon)
        spans = panel.groupby("unique_id")["ds"].agg(["min", "max"])
        spans = spans[spans["max"] == last_day]
        need = max(int(min_train_days), int(self.settings.get("min_history_days") or 0))
        windows = pd.Series(
            [
                sum((pd.Timestamp(c) - start).days + 1 >= need for c in cutoffs)
                for start in spans["min"]
            ],
            index=spans.index,
        )
        max_days = self.settings.get("max_train_days")
        values = self._calendar_values(panel["ds"]) if self.exogenous else None
        frames = []
        for n_windows, ids in windows[windows > 0].groupby(windows):
            part = panel[panel["unique_id"].isin(ids.index)][["unique_id", "ds", "y"]]
            if values is not None:
                used = [
                    c for c in values.columns if values.loc[part["ds"].unique(), c].nunique() > 1
                ]
                part = self._with_regressors(part, values[used])
            with quiet_model_search():
                raw = self._statsforecast().cross_validation(
                    h=horizon,
                    df=part,
                    n_windows=int(n_windows),
                    step_size=int(step),
                    input_size=int(max_days) if max_days else None,
                    level=list(levels),
                )
            raw = raw.reset_index() if "unique_id" not in raw.columns else raw
            long = self._to_long(raw, levels)
            long.insert(0, "cutoff", pd.to_datetime(raw["cutoff"]).to_numpy())
            frames.append(long)
        if not frames:
            return pd.DataFrame(columns=["cutoff", *forecast_columns(levels)])
        return pd.concat(frames, ignore_index=True)

    def eligible(self, panel: pd.DataFrame) -> pd.DataFrame:
        """The part of ``panel`` this model trains on (recent window, long-enough series)."""
        max_days = self.settings.get("max_train_days")
        if max_days:
            start = panel.groupby("unique_id")["ds"].transform("max") - pd.Timedelta(
                days=int(max_days) - 1
            )
            panel = panel[panel["ds"] >= start]
        min_days = int(self.settings.get("min_history_days") or 0)
        if min_days:
            lengths = panel.groupby("unique_id")["ds"].transform("size")
            panel = panel[lengths >= min_days]
        return panel

    def _statsforecast(self) -> Any:
        from statsforecast import StatsForecast
        from statsforecast.models import SeasonalNaive

        return StatsForecast(
            models=[self._model()],
            freq="D",
            n_jobs=self.n_jobs,
            fallback_model=SeasonalNaive(season_length=self.season_length),
        )

    def _to_long(self, raw: pd.DataFrame, levels: Sequence[int]) -> pd.DataFrame:
        raw = raw.reset_index() if "unique_id" not in raw.columns else raw
        out = pd.DataFrame(
            {
                "unique_id": raw["unique_id"].astype(str).to_numpy(),
                "ds": pd.to_datetime(raw["ds"]).to_numpy(),
                "model": self.name,
                "y_hat": raw[self.name].to_numpy(float),
            }
        )
        for level in levels:
            for side in ("lo", "hi"):
                column = f"{self.name}-{side}-{level}"
                out[f"y_hat_{side}_{level}"] = (
                    raw[column].to_numpy(float) if column in raw.columns else np.nan
                )
        return out

    def forecast(self, panel: pd.DataFrame, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        """Fit and forecast in one pass without keeping the fitted models (backtests)."""
        train = self.eligible(panel)
        if train.empty:
            return pd.DataFrame(columns=forecast_columns(levels))
        train, future_x = self._regressors(train, horizon)
        with quiet_model_search():
            raw = self._statsforecast().forecast(
                df=train, h=horizon, X_df=future_x, level=list(levels)
            )
        return self._to_long(raw, levels)

    def fit(self, panel: pd.DataFrame, horizon: int) -> StatsForecaster:
        """Fit and keep the models (the champion refit, logged to MLflow)."""
        train = self.eligible(panel)
        if train.empty:
            self._fitted = None
            return self
        train, self._future_x = self._regressors(train, horizon)
        with quiet_model_search():
            self._fitted = self._statsforecast().fit(df=train)
        return self

    def predict(self, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        if self._fitted is None:
            return pd.DataFrame(columns=forecast_columns(levels))
        future_x = self._future_x
        if future_x is not None:
            if future_x.groupby("unique_id").size().min() < horizon:
                raise ValueError(f"{self.name} was fitted for fewer than {horizon} days ahead")
            future_x = future_x.groupby("unique_id").head(horizon)
        with quiet_model_search():
            raw = self._fitted.predict(h=horizon, X_df=future_x, level=list(levels))
        return self._to_long(raw, levels)


# --------------------------------------------------------------------------------------------
# Gradient boosting across series (scikit-learn) on the gold feature rows
# --------------------------------------------------------------------------------------------
def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """Split-conformal quantile of absolute scores: the ceil((n+1)*level)-th smallest."""
    scores = np.sort(scores[np.isfinite(scores)])
    if scores.size == 0:
        return float("nan")
    rank = min(math.ceil((scores.size + 1) * level), scores.size)
    return float(scores[rank - 1])


def split_feature_rows(
    panel: pd.DataFrame, rows: pd.DataFrame, horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows a model fitted on ``panel`` may learn from, and the rows it forecasts from.

    ``rows`` is ``gold.volume_forecasting_features`` (or the same function's output): it may
    hold days after ``panel`` ends (a backtest window slices the full table). Training rows are
    those of the panel's series whose target day is observed in ``panel``; forecast rows are
    those whose origin is the series' last day. Every feature is read at the origin, so the
    slice is exactly what computing the features on the truncated panel would give.
    """
    last = panel.groupby("unique_id")["ds"].max()
    part = rows[rows["unique_id"].isin(last.index) & (rows["horizon_step"] <= horizon)]
    series_last = part["unique_id"].map(last)
    train = part[(part["ds"] <= series_last) & part["y"].notna()]
    future = part[part["forecast_origin"] == series_last]
    return train, future


class GradientBoostingForecaster:
    """``HistGradientBoostingRegressor`` trained across series, direct multi-horizon.

    Trains on the rows of ``gold.volume_forecasting_features`` (one per series, target day and
    horizon step, every feature read at the origin: :func:`forecast_features`) and predicts
    ``y / scale``. Given no feature rows, it computes them from the panel with the same function.

    Intervals are split conformal: the model is trained on targets up to ``conformal_days``
    before the end of the training data; its errors on the last ``conformal_days`` (which it
    never saw), divided by each row's ``sn_scale`` (the series' seasonal-naive error over the
    year to the origin) and pooled over series per horizon step, give the half-width quantiles;
    the same model then forecasts the future. One fit, and the coverage is honest as long as
    the recent past resembles the near future.
    """

    name = SKLEARN_MODEL

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        season_length: int = 7,
        calendar: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.settings = dict(settings or {})
        self.season_length = int(season_length)
        self.calendar = dict(calendar or {})
        self.seed = int(seed)
        self._estimator: Any = None
        self._quantiles: dict[int, dict[int, float]] = {}
        self._future: pd.DataFrame | None = None
        self._features: list[str] = []
        self._horizon = 0

    def feature_rows(self, panel: pd.DataFrame, horizon: int) -> pd.DataFrame:
        """The feature rows of ``panel`` (the one function that also builds the gold table)."""
        return forecast_features(panel, horizon, self.calendar)

    def fit(
        self, panel: pd.DataFrame, horizon: int, features: pd.DataFrame | None = None
    ) -> GradientBoostingForecaster:
        from sklearn.ensemble import HistGradientBoostingRegressor

        started = time.perf_counter()
        self._horizon = int(horizon)
        rows = self.feature_rows(panel, horizon) if features is None else features
        rows, future = split_feature_rows(panel, rows, horizon)
        if rows.empty:
            raise ValueError(
                f"{SKLEARN_MODEL}: no series has more than {LEVEL_DAYS} days of history"
            )
        missing = set(panel["unique_id"].unique()) - set(future["unique_id"])
        if future.groupby("unique_id").size().lt(horizon).any() or (
            missing & set(rows["unique_id"])
        ):
            raise ValueError(
                f"{SKLEARN_MODEL}: the feature rows do not reach {horizon} days past the origin: "
                "build gold.volume_forecasting_features with this forecasting.horizon"
            )
        lengths = panel.groupby("unique_id")["ds"].size()
        conformal_days = int(self.settings.get("conformal_days", 56))
        # Keep at least two thirds of each series for training when the panel is short.
        conformal_days = max(1, min(conformal_days, int(lengths.min()) // 3))
        last = panel.groupby("unique_id")["ds"].max()
        cut = rows["unique_id"].map(last) - pd.Timedelta(days=conformal_days)
        is_calibration = (rows["ds"] > cut).to_numpy()
        train, calibration = rows[~is_calibration], rows[is_calibration]
        max_rows = int(self.settings.get("max_train_rows", 200_000))
        if len(train) > max_rows:
            # A uniform, seeded sample: every period keeps its share of rows (and runs repeat).
            train = train.sample(n=max_rows, random_state=self.seed)
        # A feature with no value in training (last year's value on a short panel) is dropped.
        features_used = [c for c in feature_columns(rows) if train[c].notna().any()]
        self._features = features_used
        self._estimator = HistGradientBoostingRegressor(
            loss=str(self.settings.get("loss", "squared_error")),
            max_iter=int(self.settings.get("max_iter", 200)),
            learning_rate=float(self.settings.get("learning_rate", 0.05)),
            max_leaf_nodes=int(self.settings.get("max_leaf_nodes", 31)),
            min_samples_leaf=int(self.settings.get("min_samples_leaf", 40)),
            l2_regularization=float(self.settings.get("l2_regularization", 1.0)),
            categorical_features=self._categorical_indices(features_used),
            random_state=self.seed,
        )
        target = train["y"].to_numpy(float) / train["scale"].to_numpy(float)
        self._estimator.fit(self._matrix(train), target)

        self._quantiles = {}
        if not calibration.empty:
            predicted = self._predict_rows(calibration)
            scores = np.abs(calibration["y"].to_numpy(float) - predicted) / calibration[
                "sn_scale"
            ].to_numpy(float)
            steps = calibration["horizon_step"].to_numpy(int)
            for k in range(1, horizon + 1):
                self._quantiles[k] = {
                    level: _conformal_quantile(scores[steps == k], level / 100)
                    for level in (50, 80, 90, 95, 99)
                }
        self._future = future.reset_index(drop=True)
        logger.debug(
            "%s fitted on %d rows (%d calibration) in %.1f s",
            self.name,
            len(train),
            len(calibration),
            time.perf_counter() - started,
        )
        return self

    def _matrix(self, rows: pd.DataFrame) -> np.ndarray:
        return rows[self._features].to_numpy(dtype=float, na_value=np.nan)

    def _predict_rows(self, rows: pd.DataFrame) -> np.ndarray:
        return self._estimator.predict(self._matrix(rows)) * rows["scale"].to_numpy(float)

    @staticmethod
    def _categorical_indices(features: list[str]) -> list[int]:
        return [features.index(c) for c in CATEGORICAL if c in features]

    def predict(self, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        if self._estimator is None or self._future is None:
            raise RuntimeError(f"{self.name} must be fitted before predict()")
        if horizon > self._horizon:
            raise ValueError(
                f"{self.name} was fitted for {self._horizon} days ahead, cannot forecast {horizon}"
            )
        rows = self._future[self._future["horizon_step"] <= horizon]
        y_hat = self._predict_rows(rows)
        out = pd.DataFrame(
            {
                "unique_id": rows["unique_id"].astype(str).to_numpy(),
                "ds": pd.to_datetime(rows["ds"]).to_numpy(),
                "model": self.name,
                "y_hat": y_hat,
            }
        )
        sn_scale = rows["sn_scale"].to_numpy(float)
        steps = rows["horizon_step"].to_numpy(int)
        for level in levels:
            quantile = [self._quantiles.get(k, {}).get(level, np.nan) for k in steps]
            half = np.array(quantile, dtype=float) * sn_scale
            out[f"y_hat_lo_{level}"] = y_hat - half
            out[f"y_hat_hi_{level}"] = y_hat + half
        return out

    def forecast(
        self,
        panel: pd.DataFrame,
        horizon: int,
        levels: Sequence[int],
        features: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        return self.fit(panel, horizon, features).predict(horizon, levels)


# --------------------------------------------------------------------------------------------
# Ensemble
# --------------------------------------------------------------------------------------------
def ensemble_forecast(
    forecasts: pd.DataFrame, members: Sequence[str], levels: Sequence[int], method: str = "median"
) -> pd.DataFrame:
    """Combine member models per series and day (median or mean of point and bounds).

    A series gets an ensemble forecast only where at least two members forecast it. Combining
    bounds this way is a heuristic (not a calibrated interval); the backtest measures its
    coverage like any other model's.
    """
    if method not in {"median", "mean"}:
        raise ValueError(f"ensemble method must be 'median' or 'mean', got {method!r}")
    value_columns = ["y_hat", *interval_columns(levels)]
    part = forecasts[forecasts["model"].isin(list(members))]
    if part.empty:
        return pd.DataFrame(columns=forecast_columns(levels))
    keys = [c for c in part.columns if c not in {"model", *value_columns}]
    grouped = part.groupby(keys, sort=True, dropna=False)
    combined = grouped[value_columns].agg(method)
    combined = combined[grouped.size() >= 2].reset_index()
    combined["model"] = ENSEMBLE_MODEL
    return combined[[*keys, "model", *value_columns]]


# --------------------------------------------------------------------------------------------
# Building models from parameters
# --------------------------------------------------------------------------------------------
def enabled_models(params: Mapping[str, Any]) -> list[str]:
    """Model names switched on in ``params['models']``, in the canonical order."""
    config = params.get("models", {}) or {}
    unknown = sorted(set(config) - set(ALL_MODELS))
    if unknown:
        raise ValueError(f"Unknown model(s) in parameters: {unknown}; known: {list(ALL_MODELS)}")
    names = [name for name in ALL_MODELS if (config.get(name) or {}).get("enabled", False)]
    if BASELINE_MODEL not in names:
        raise ValueError(
            f"{BASELINE_MODEL} is the baseline every model is compared with: keep it enabled"
        )
    return names


def build_forecaster(name: str, params: Mapping[str, Any]) -> Any:
    """A fresh forecaster object for model ``name`` configured from the parameters."""
    settings = (params.get("models", {}) or {}).get(name) or {}
    season_length = int(params.get("season_length", 7))
    if name in STATISTICAL_MODELS:
        return StatsForecaster(
            name, settings, season_length, int(params.get("n_jobs", 1)), params.get("calendar")
        )
    if name == SKLEARN_MODEL:
        return GradientBoostingForecaster(
            settings, season_length, params.get("calendar"), int(params.get("seed", 0))
        )
    raise ValueError(f"{name} is not a standalone model")


# --------------------------------------------------------------------------------------------
# The champion model (what is logged to MLflow)
# --------------------------------------------------------------------------------------------
class ChampionForecaster:
    """Per-series champion models refitted on all history; forecasts each series with its own.

    ``predict(series_ids, horizon)`` returns the long forecast frame for those series (all when
    None). It is the object wrapped by the MLflow pyfunc model and the one that writes
    ``ml.volume_forecasts``, so the registered model and the table always agree.
    """

    def __init__(self, champions: Mapping[str, str], params: Mapping[str, Any]) -> None:
        self.champions = dict(champions)
        self.params = {k: v for k, v in params.items()}
        self.horizon = int(params["horizon"])
        self.levels = [int(x) for x in params["levels"]]
        self.forecasters: dict[str, Any] = {}
        self.last_observed: dict[str, pd.Timestamp] = {}

    def needed_models(self) -> list[str]:
        needed = set(self.champions.values())
        if ENSEMBLE_MODEL in needed:
            needed.discard(ENSEMBLE_MODEL)
            needed |= set(self.params["models"][ENSEMBLE_MODEL].get("members", []))
        return [name for name in ALL_MODELS if name in needed]

    def fit(self, panel: pd.DataFrame, features: pd.DataFrame | None = None) -> ChampionForecaster:
        enabled = set(enabled_models(self.params))
        for name in self.needed_models():
            if name not in enabled:
                continue
            started = time.perf_counter()
            forecaster = build_forecaster(name, self.params)
            if name == SKLEARN_MODEL:
                self.forecasters[name] = forecaster.fit(panel, self.horizon, features)
            else:
                self.forecasters[name] = forecaster.fit(panel, self.horizon)
            logger.info("Refitted %s on all history in %.1f s", name, time.perf_counter() - started)
        self.last_observed = {str(k): v for k, v in panel.groupby("unique_id")["ds"].max().items()}
        return self

    def predict(
        self, series_ids: Iterable[str] | None = None, horizon: int | None = None
    ) -> pd.DataFrame:
        horizon = int(horizon or self.horizon)
        wanted = list(self.champions) if series_ids is None else [str(s) for s in series_ids]
        unknown = sorted(set(wanted) - set(self.champions))
        if unknown:
            raise ValueError(f"No champion for series {unknown[:5]} (not in the training panel)")
        frames = [f.predict(horizon, self.levels) for f in self.forecasters.values()]
        forecasts = pd.concat([f for f in frames if not f.empty], ignore_index=True)
        if ENSEMBLE_MODEL in self.champions.values():
            settings = self.params["models"][ENSEMBLE_MODEL]
            forecasts = pd.concat(
                [
                    forecasts,
                    ensemble_forecast(
                        forecasts,
                        settings.get("members", []),
                        self.levels,
                        settings.get("method", "median"),
                    ),
                ],
                ignore_index=True,
            )
        choice = pd.DataFrame({"unique_id": wanted, "model": [self.champions[s] for s in wanted]})
        out = forecasts.merge(choice, on=["unique_id", "model"], how="inner")
        out = tidy_intervals(out, self.levels, bool(self.params.get("clip_at_zero", True)))
        return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)
