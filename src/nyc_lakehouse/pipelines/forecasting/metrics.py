"""Forecast accuracy metrics: MASE, sMAPE, RMSE and prediction-interval coverage.

All functions take plain arrays of one forecast window of one series, so they are easy to check
against hand-computed answers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike


def seasonal_naive_scale(history: ArrayLike, season_length: int = 7) -> float:
    """Mean absolute error of the in-sample seasonal naive forecast (the MASE denominator).

    ``history`` is the training window only, so the scale never sees the test period.
    Returns NaN when the history is not longer than one season.
    """
    values = np.asarray(history, dtype="float64")
    if values.size <= season_length:
        return float("nan")
    return float(np.mean(np.abs(values[season_length:] - values[:-season_length])))


def mase(actual: ArrayLike, forecast: ArrayLike, scale: float) -> float:
    """Mean absolute scaled error: MAE of the forecast divided by ``scale``.

    A zero scale (a training window that repeats exactly every season) gives 0 for a perfect
    forecast and NaN otherwise (the ratio is undefined), rather than an infinite average.
    """
    error = float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(forecast, float))))
    if not np.isfinite(scale):
        return float("nan")
    if scale == 0:
        return 0.0 if error == 0 else float("nan")
    return error / scale


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric MAPE in percent (0..200); a day where both actual and forecast are 0 counts 0."""
    actual = np.asarray(actual, float)
    forecast = np.asarray(forecast, float)
    denominator = np.abs(actual) + np.abs(forecast)
    # A zero denominator means actual and forecast are both 0, so the numerator is 0 as well:
    # dividing it by 1 instead gives the day's 0 without a division by zero.
    ratio = 2.0 * np.abs(actual - forecast) / np.where(denominator > 0, denominator, 1.0)
    return float(100.0 * np.mean(ratio))


def rmse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Root mean squared error, in the unit of the series."""
    diff = np.asarray(actual, float) - np.asarray(forecast, float)
    return float(np.sqrt(np.mean(diff**2)))


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actual values inside ``[lower, upper]`` (NaN when the model has no interval)."""
    actual = np.asarray(actual, float)
    lower = np.asarray(lower, float)
    upper = np.asarray(upper, float)
    if np.isnan(lower).all() or np.isnan(upper).all():
        return float("nan")
    return float(np.mean((actual >= lower) & (actual <= upper)))
