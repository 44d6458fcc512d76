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

from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features

logger = logging.getLogger(__name__)

STATISTICAL_MODELS = ("SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA", "MSTL")
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
        self, name: str, settings: Mapping[str, Any], season_length: int = 7, n_jobs: int = 1
    ) -> None:
        if name not in STATISTICAL_MODELS:
            raise ValueError(f"Unknown statistical model {name!r}: expected {STATISTICAL_MODELS}")
        self.name = name
        self.settings = dict(settings or {})
        self.season_length = int(season_length)
        self.n_jobs = int(n_jobs)
        self._fitted: Any = None

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
        return sf.MSTL(
            season_length=seasons, trend_forecaster=sf.AutoETS(model="ZZN"), alias=self.name
        )

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
        with quiet_model_search():
            raw = self._statsforecast().forecast(df=train, h=horizon, level=list(levels))
        return self._to_long(raw, levels)

    def fit(self, panel: pd.DataFrame, horizon: int) -> StatsForecaster:
        """Fit and keep the models (the champion refit, logged to MLflow)."""
        train = self.eligible(panel)
        with quiet_model_search():
            self._fitted = self._statsforecast().fit(df=train) if not train.empty else None
        return self

    def predict(self, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        if self._fitted is None:
            return pd.DataFrame(columns=forecast_columns(levels))
        with quiet_model_search():
            raw = self._fitted.predict(h=horizon, level=list(levels))
        return self._to_long(raw, levels)


# --------------------------------------------------------------------------------------------
# Gradient boosting across series (scikit-learn)
# --------------------------------------------------------------------------------------------
_MIN_ORIGIN_INDEX = 27  # the 28-day level at the origin needs 28 observed days


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """Split-conformal quantile of absolute scores: the ceil((n+1)*level)-th smallest."""
    scores = np.sort(scores[np.isfinite(scores)])
    if scores.size == 0:
        return float("nan")
    rank = min(math.ceil((scores.size + 1) * level), scores.size)
    return float(scores[rank - 1])


class GradientBoostingForecaster:
    """``HistGradientBoostingRegressor`` trained across series, direct multi-horizon.

    Training rows are (series, target day ``t``, horizon step ``k``) with every feature taken
    at the origin ``t - k`` or earlier, so a row never sees a value it would not have when
    forecasting ``k`` days ahead (no leakage, including the rolling means).

    Intervals are split conformal: the model is trained on targets up to ``conformal_days``
    before the end of the training data; its errors on the last ``conformal_days`` (which it
    never saw), divided by each series' in-sample seasonal-naive MAE and pooled over series per
    horizon step, give the half-width quantiles; the same model then forecasts the future.
    Only one fit is needed, and the coverage is honest as long as the recent past resembles
    the near future.
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
        self._holiday_codes: dict[str, int] = {}
        self._history: pd.DataFrame | None = None
        self._horizon = 0

    # -- features ------------------------------------------------------------------------
    def _calendar(self, days: pd.DatetimeIndex) -> pd.DataFrame:
        cal = calendar_features(
            days,
            country=self.calendar.get("country", "US"),
            subdivision=self.calendar.get("subdivision", "NY"),
        )
        for name in sorted(cal["holiday_name"].dropna().unique()):
            self._holiday_codes.setdefault(str(name), len(self._holiday_codes))
        cal["holiday_code"] = cal["holiday_name"].map(self._holiday_codes).fillna(-1)
        return cal.set_index("ds")

    def _rows(self, panel: pd.DataFrame, horizon: int, future: bool) -> pd.DataFrame:
        """Feature rows for every series: training rows, or (``future``) the forecast rows."""
        frames = []
        all_days = pd.date_range(
            panel["ds"].min() - pd.Timedelta(days=371),
            panel["ds"].max() + pd.Timedelta(days=horizon),
            freq="D",
        )
        cal = self._calendar(all_days)
        cal_values = {
            column: cal[column].to_numpy(float)
            for column in (
                "day_of_week",
                "day_of_year",
                "month",
                "is_weekend",
                "is_holiday",
                "is_holiday_adjacent",
                "holiday_code",
                "days_to_next_holiday",
                "days_since_previous_holiday",
            )
        }
        day0 = all_days[0]
        for unique_id, series in panel.groupby("unique_id", sort=True):
            y_obs = series["y"].to_numpy(float)
            n = y_obs.size
            if n <= _MIN_ORIGIN_INDEX + 1:
                continue
            y = np.concatenate([y_obs, np.full(horizon, np.nan)])
            offset = int((series["ds"].iloc[0] - day0).days)
            cs = np.concatenate([[0.0], np.cumsum(np.nan_to_num(y))])
            cs2 = np.concatenate([[0.0], np.cumsum(np.nan_to_num(y) ** 2)])

            def window_mean(end: np.ndarray, width: int, cs: np.ndarray = cs) -> np.ndarray:
                start = end - width + 1
                valid = start >= 0
                safe_start = np.where(valid, start, 0)
                safe_end = np.where(valid, end, width - 1)
                value = (cs[safe_end + 1] - cs[safe_start]) / width
                return np.where(valid, value, np.nan)

            sn_scale = float(
                np.mean(np.abs(y_obs[self.season_length :] - y_obs[: -self.season_length]))
            )
            sn_scale = max(sn_scale, 1e-6)
            for k in range(1, horizon + 1):
                if future:
                    t = np.array([n - 1 + k])
                else:
                    t = np.arange(_MIN_ORIGIN_INDEX + k, n)
                if t.size == 0:
                    continue
                o = t - k
                level28 = window_mean(o, 28)
                scale = np.maximum(level28, 1.0)
                mean_sq = (cs2[o + 1] - cs2[np.maximum(o - 27, 0)]) / 28
                std28 = np.sqrt(np.maximum(mean_sq - level28**2, 0))
                back = 7 * math.ceil(k / 7)

                def at(index: np.ndarray, y: np.ndarray = y) -> np.ndarray:
                    return np.where(index >= 0, y[np.maximum(index, 0)], np.nan)

                same_dow = [at(t - back - 7 * j) for j in range(4)]
                ly_index = t - 364
                ly_level = window_mean(o - 364, 28)
                ly_week = window_mean(ly_index + 3, 7)
                cal_index = t + offset
                lag_cal_index = t - back + offset
                row = {
                    "unique_id": unique_id,
                    "t": t,
                    "step": np.full(t.size, k, dtype=float),
                    "target": (y[t] / scale) if not future else np.full(t.size, np.nan),
                    "scale": scale,
                    "sn_scale": np.full(t.size, sn_scale),
                    "log_level": np.log1p(level28),
                    "last": at(o) / scale,
                    "mean_7": window_mean(o, 7) / scale,
                    "mean_91": window_mean(o, 91) / scale,
                    "std_28": std28 / scale,
                    "same_dow_1": same_dow[0] / scale,
                    "same_dow_2": same_dow[1] / scale,
                    "same_dow_mean_4": np.nanmean(np.vstack(same_dow), axis=0) / scale,
                    "last_year": at(ly_index) / np.maximum(ly_level, 1.0),
                    "last_year_week": ly_week / np.maximum(ly_level, 1.0),
                    "lag_is_holiday": cal_values["is_holiday"][lag_cal_index],
                    "lag_is_holiday_adjacent": cal_values["is_holiday_adjacent"][lag_cal_index],
                }
                for column, values in cal_values.items():
                    row[column] = values[cal_index]
                frames.append(pd.DataFrame(row))
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    @staticmethod
    def _feature_names(rows: pd.DataFrame) -> list[str]:
        return [
            c for c in rows.columns if c not in {"unique_id", "t", "target", "scale", "sn_scale"}
        ]

    # -- fit / predict ---------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame, horizon: int) -> GradientBoostingForecaster:
        from sklearn.ensemble import HistGradientBoostingRegressor

        started = time.perf_counter()
        self._horizon = int(horizon)
        rows = self._rows(panel, horizon, future=False)
        if rows.empty:
            raise ValueError(
                f"{SKLEARN_MODEL}: no series has more than {_MIN_ORIGIN_INDEX + 1} days of history"
            )
        lengths = panel.groupby("unique_id")["ds"].size()
        conformal_days = int(self.settings.get("conformal_days", 56))
        # Keep at least half of each series for training when the panel is short.
        conformal_days = max(1, min(conformal_days, int(lengths.min()) // 3))
        last_index = rows["unique_id"].map(lengths - 1)
        is_calibration = rows["t"] > last_index - conformal_days
        train = rows[~is_calibration & rows["target"].notna()]
        calibration = rows[is_calibration & rows["target"].notna()]
        max_rows = int(self.settings.get("max_train_rows", 200_000))
        if len(train) > max_rows:
            # A uniform, seeded sample: every period keeps its share of rows (and runs repeat).
            train = train.sample(n=max_rows, random_state=self.seed)
        # A feature with no value in training (last year's value on a short panel) is dropped.
        features = [c for c in self._feature_names(rows) if train[c].notna().any()]
        categorical = self._categorical_indices(features)
        self._estimator = HistGradientBoostingRegressor(
            max_iter=int(self.settings.get("max_iter", 200)),
            learning_rate=float(self.settings.get("learning_rate", 0.05)),
            max_leaf_nodes=int(self.settings.get("max_leaf_nodes", 31)),
            min_samples_leaf=int(self.settings.get("min_samples_leaf", 40)),
            l2_regularization=float(self.settings.get("l2_regularization", 1.0)),
            categorical_features=categorical,
            random_state=self.seed,
        )
        # Holiday codes can be -1 (no holiday); the estimator wants non-negative categories.
        x_train = train[features].to_numpy(float)
        x_train[:, categorical] = np.maximum(x_train[:, categorical] + 1, 0)
        self._estimator.fit(x_train, train["target"].to_numpy(float))

        self._quantiles = {}
        if not calibration.empty:
            predicted = self._predict_rows(calibration, features)
            actual = calibration["target"].to_numpy(float) * calibration["scale"].to_numpy(float)
            scores = np.abs(actual - predicted) / calibration["sn_scale"].to_numpy(float)
            steps = calibration["step"].to_numpy(int)
            for k in range(1, horizon + 1):
                self._quantiles[k] = {
                    level: _conformal_quantile(scores[steps == k], level / 100)
                    for level in (50, 80, 90, 95, 99)
                }
        history_days = 400
        self._history = (
            panel.sort_values(["unique_id", "ds"]).groupby("unique_id").tail(history_days)
        )
        self._features = features
        logger.debug(
            "%s fitted on %d rows (%d calibration) in %.1f s",
            self.name,
            len(train),
            len(calibration),
            time.perf_counter() - started,
        )
        return self

    def _predict_rows(self, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
        x = rows[features].to_numpy(float)
        x[:, self._categorical_indices(features)] = np.maximum(
            x[:, self._categorical_indices(features)] + 1, 0
        )
        return self._estimator.predict(x) * rows["scale"].to_numpy(float)

    @staticmethod
    def _categorical_indices(features: list[str]) -> list[int]:
        return [
            features.index(c) for c in ("day_of_week", "month", "holiday_code") if c in features
        ]

    def predict(self, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        if self._estimator is None or self._history is None:
            raise RuntimeError(f"{self.name} must be fitted before predict()")
        if horizon > self._horizon:
            raise ValueError(
                f"{self.name} was fitted for {self._horizon} days ahead, cannot forecast {horizon}"
            )
        rows = self._rows(self._history, horizon, future=True)
        y_hat = self._predict_rows(rows, self._features)
        last = self._history.groupby("unique_id")["ds"].max()
        out = pd.DataFrame(
            {
                "unique_id": rows["unique_id"].astype(str).to_numpy(),
                "ds": (
                    rows["unique_id"].map(last).to_numpy(dtype="datetime64[ns]")
                    + rows["step"].to_numpy(int).astype("timedelta64[D]")
                ),
                "model": self.name,
                "y_hat": y_hat,
            }
        )
        sn_scale = rows["sn_scale"].to_numpy(float)
        steps = rows["step"].to_numpy(int)
        for level in levels:
            half = (
                np.array(
                    [self._quantiles.get(k, {}).get(level, np.nan) for k in steps], dtype=float
                )
                * sn_scale
            )
            out[f"y_hat_lo_{level}"] = y_hat - half
            out[f"y_hat_hi_{level}"] = y_hat + half
        return out

    def forecast(self, panel: pd.DataFrame, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        return self.fit(panel, horizon).predict(horizon, levels)


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
        return StatsForecaster(name, settings, season_length, int(params.get("n_jobs", 1)))
    if name == SKLEARN_MODEL:
        return GradientBoostingForecaster(
            settings, season_length, params.get("calendar"), int(params.get("seed", 0))
        )
    raise ValueError(f"{name} is not a standalone model")


def forecast_all(
    panel: pd.DataFrame, params: Mapping[str, Any], models: Sequence[str] | None = None
) -> pd.DataFrame:
    """Forecast ``params['horizon']`` days after the end of ``panel`` with every enabled model."""
    horizon, levels = int(params["horizon"]), list(params["levels"])
    names = list(models) if models is not None else enabled_models(params)
    frames = []
    for name in names:
        if name == ENSEMBLE_MODEL:
            continue
        started = time.perf_counter()
        frames.append(build_forecaster(name, params).forecast(panel, horizon, levels))
        logger.info("  %s: %.1f s", name, time.perf_counter() - started)
    forecasts = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    if ENSEMBLE_MODEL in names:
        settings = params["models"][ENSEMBLE_MODEL]
        ensemble = ensemble_forecast(
            forecasts, settings.get("members", []), levels, settings.get("method", "median")
        )
        forecasts = pd.concat([forecasts, ensemble], ignore_index=True)
    return tidy_intervals(forecasts, levels, bool(params.get("clip_at_zero", True)))


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

    def fit(self, panel: pd.DataFrame) -> ChampionForecaster:
        enabled = set(enabled_models(self.params))
        for name in self.needed_models():
            if name not in enabled:
                continue
            started = time.perf_counter()
            self.forecasters[name] = build_forecaster(name, self.params).fit(panel, self.horizon)
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


def pyfunc_model(champion: ChampionForecaster) -> Any:
    """Wrap a fitted :class:`ChampionForecaster` as an ``mlflow.pyfunc.PythonModel``.

    Input: a DataFrame with a ``unique_id`` column (and optionally ``horizon``); output: the
    long forecast frame of those series.
    """
    import mlflow.pyfunc

    class ChampionPyfunc(mlflow.pyfunc.PythonModel):
        def __init__(self, model: ChampionForecaster) -> None:
            self.model = model

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            horizon = None
            if "horizon" in model_input.columns and len(model_input):
                horizon = int(model_input["horizon"].iloc[0])
            result = self.model.predict(model_input["unique_id"].astype(str).unique(), horizon)
            result["ds"] = pd.to_datetime(result["ds"])
            return result

    return ChampionPyfunc(champion)
