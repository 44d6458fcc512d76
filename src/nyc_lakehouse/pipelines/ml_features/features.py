"""The machine-learning model's features: ONE function for the gold table and for forecasting.

:func:`forecast_features` turns a daily panel (``unique_id, ds, y``, no gaps) into the rows of
``gold.volume_forecasting_features``: one row per series, target day ``ds`` and horizon step
``k`` (1 .. horizon), whose every history feature is read at the forecast origin ``ds - k`` or
earlier. The gradient-boosting model trains on the rows whose target is known and forecasts from
the rows whose origin is a series' last day, so the table and the forecast can never disagree
(no train/serve skew), and a backtest window only has to slice the table: a row's features do not
depend on anything after its origin (tests/pipelines/forecasting/test_models_leakage.py).

History features are divided by ``scale``, the series' 28-day mean at the origin (at least 1), so
one model serves series of any size and follows level shifts; calendar features are those of the
target day (:func:`~nyc_lakehouse.pipelines.ml_features.calendar.calendar_features`), known in
advance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.ml_features.calendar import (
    DEFAULT_TIMEZONE,
    calendar_features,
    level_shift_features,
)

LEVEL_DAYS = 28  # the origin needs this many observed days (the 28-day level)
SN_SCALE_DAYS = 364  # the seasonal-naive error that scales conformal intervals: last year
KEY_COLUMNS = ("unique_id", "forecast_origin", "ds", "horizon_step")
# Not features: keys, the target and the scales the model multiplies back.
NOT_FEATURES = frozenset({"unique_id", "forecast_origin", "ds", "y", "scale", "sn_scale"})
TARGET_CALENDAR = (
    "day_of_week",
    "day_of_year",
    "month",
    "is_weekend",
    "is_holiday",
    "is_holiday_adjacent",
    "holiday_code",
    "days_to_next_holiday",
    "days_since_previous_holiday",
    "is_observed_holiday",
    "is_day_after_thanksgiving",
    "is_year_end_break",
    "is_dst_change",
)
CATEGORICAL = ("day_of_week", "month", "holiday_code")


def feature_columns(rows: pd.DataFrame) -> list[str]:
    """The model's input columns of a feature frame, in table order."""
    return [c for c in rows.columns if c not in NOT_FEATURES]


def _calendar(days: pd.DatetimeIndex, calendar: Mapping[str, Any]) -> pd.DataFrame:
    cal = calendar_features(
        days,
        country=calendar.get("country", "US"),
        subdivision=calendar.get("subdivision", "NY"),
        timezone=calendar.get("timezone", DEFAULT_TIMEZONE),
    )
    shifts = level_shift_features(cal["ds"], calendar.get("level_shifts"))
    return pd.concat([cal.reset_index(drop=True), shifts], axis=1).set_index("ds")


def forecast_features(
    panel: pd.DataFrame,
    horizon: int,
    calendar: Mapping[str, Any] | None = None,
    future: bool = True,
) -> pd.DataFrame:
    """Feature rows of every series: one per (target day, horizon step) with an origin in range.

    Rows exist for every origin with at least 28 observed days, for targets inside the panel
    (``y`` known) and, with ``future``, the ``horizon`` days after each series' last day (``y``
    null): the rows the published forecast is made from. Columns:

    * keys ``unique_id, forecast_origin, ds`` (the target day), ``horizon_step`` (also a feature);
    * ``y`` (the target day's value), ``scale`` (28-day mean at the origin, at least 1) and
      ``sn_scale`` (mean |y - y 7 days earlier| over the year up to the origin: the series'
      noise, which scales the conformal intervals);
    * at the origin, divided by ``scale``: ``last``, ``mean_7``, ``mean_91``, ``std_28``
      (population), ``log_level`` (log1p of the 28-day mean, not scaled);
    * the same weekday as the target, as recent as the origin allows (7 * ceil(k / 7) days
      before the target, and 7 days before that): ``same_dow_1``, ``same_dow_2``,
      ``same_dow_mean_4`` (mean of four), and whether that day was a holiday
      (``lag_is_holiday``, ``lag_is_holiday_adjacent``);
    * a year (364 days) before the target: ``last_year`` and ``last_year_week`` (the week around
      it), divided by the 28-day level at the origin a year earlier;
    * the target day's calendar (``TARGET_CALENDAR``) and level-shift columns
      (``shift_<name>``, from ``calendar.level_shifts``).
    """
    calendar = dict(calendar or {})
    horizon = int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if panel.empty:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "y", "scale", "sn_scale"])
    panel = panel.sort_values(["unique_id", "ds"])
    first_day = pd.Timestamp(panel["ds"].min()) - pd.Timedelta(days=371)
    all_days = pd.date_range(
        first_day, pd.Timestamp(panel["ds"].max()) + pd.Timedelta(days=horizon), freq="D"
    )
    cal = _calendar(all_days, calendar)
    cal_values = {c: cal[c].to_numpy() for c in (*TARGET_CALENDAR, *_shift_columns(cal))}
    holiday = cal["is_holiday"].to_numpy(float)
    adjacent = cal["is_holiday_adjacent"].to_numpy(float)
    frames = []
    for unique_id, series in panel.groupby("unique_id", sort=True):
        y_obs = series["y"].to_numpy(float)
        n = y_obs.size
        if n <= LEVEL_DAYS:
            continue
        extra = horizon if future else 0
        y = np.concatenate([y_obs, np.full(extra, np.nan)])
        offset = int((pd.Timestamp(series["ds"].iloc[0]) - first_day).days)
        cs = np.concatenate([[0.0], np.cumsum(np.nan_to_num(y))])
        cs2 = np.concatenate([[0.0], np.cumsum(np.nan_to_num(y) ** 2)])
        seasonal_error = np.abs(y_obs[7:] - y_obs[:-7]) if n > 7 else np.zeros(0)
        cse = np.concatenate([[0.0], np.cumsum(seasonal_error)])

        def window_mean(end: np.ndarray, width: int, cs: np.ndarray = cs) -> np.ndarray:
            start = end - width + 1
            valid = start >= 0
            value = (cs[np.where(valid, end, 0) + 1] - cs[np.where(valid, start, 0)]) / width
            return np.where(valid, value, np.nan)

        def at(index: np.ndarray, y: np.ndarray = y) -> np.ndarray:
            return np.where(index >= 0, y[np.maximum(index, 0)], np.nan)

        for k in range(1, horizon + 1):
            t = np.arange(LEVEL_DAYS - 1 + k, n)
            if future:  # from the last day only: other origins' unknown targets serve nothing
                t = np.append(t, n - 1 + k)
            if t.size == 0:
                continue
            o = t - k
            level28 = window_mean(o, LEVEL_DAYS)
            scale = np.maximum(level28, 1.0)
            mean_sq = (cs2[o + 1] - cs2[o + 1 - LEVEL_DAYS]) / LEVEL_DAYS
            std28 = np.sqrt(np.maximum(mean_sq - level28**2, 0))
            # seasonal errors |y[j] - y[j-7]| for j in (o - 364, o]: entries j - 7 of `cse`
            err_end = o - 7 + 1
            err_start = np.maximum(err_end - SN_SCALE_DAYS, 0)
            sn_scale = (cse[err_end] - cse[err_start]) / np.maximum(err_end - err_start, 1)
            back = 7 * math.ceil(k / 7)
            same_dow = [at(t - back - 7 * j) for j in range(4)]
            ly_index = t - 364
            ly_level = np.maximum(window_mean(o - 364, LEVEL_DAYS), 1.0)
            cal_index = t + offset
            lag_index = t - back + offset
            row: dict[str, Any] = {
                "unique_id": unique_id,
                "forecast_origin": all_days[o + offset],
                "ds": all_days[cal_index],
                "horizon_step": np.full(t.size, k, dtype="int64"),
                "y": y[t],
                "scale": scale,
                "sn_scale": np.maximum(sn_scale, 1e-6),
                "log_level": np.log1p(level28),
                "last": at(o) / scale,
                "mean_7": window_mean(o, 7) / scale,
                "mean_91": window_mean(o, 91) / scale,
                "std_28": std28 / scale,
                "same_dow_1": same_dow[0] / scale,
                "same_dow_2": same_dow[1] / scale,
                "same_dow_mean_4": np.nanmean(np.vstack(same_dow), axis=0) / scale,
                "last_year": at(ly_index) / ly_level,
                "last_year_week": window_mean(ly_index + 3, 7) / ly_level,
                "lag_is_holiday": holiday[lag_index].astype(bool),
                "lag_is_holiday_adjacent": adjacent[lag_index].astype(bool),
            }
            for column, values in cal_values.items():
                row[column] = values[cal_index]
            frames.append(pd.DataFrame(row))
    if not frames:
        return pd.DataFrame(columns=[*KEY_COLUMNS, "y", "scale", "sn_scale"])
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["unique_id", "ds", "horizon_step"], kind="stable").reset_index(
        drop=True
    )


def _shift_columns(cal: pd.DataFrame) -> list[str]:
    return [c for c in cal.columns if c.startswith("shift_")]
