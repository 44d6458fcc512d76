"""The champion as an ``mlflow.pyfunc`` model: what the registry serves.

This module is logged with the model (``code/``, see :mod:`.registry`) and loaded in
environments that have only the model's own requirements: it imports nothing from Kedro or
Spark, only the forecasting models.

Input: a DataFrame with a ``unique_id`` column (the series to forecast) and an optional
``horizon`` column (days ahead; the model's horizon by default, never more). Output: one row per
series per forecast day, the columns of ``ml.volume_forecasts`` but ``created_at``:
``unique_id, ds, model, y_hat, y_hat_lo_<L>, y_hat_hi_<L>, forecast_origin, horizon_step``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import mlflow.pyfunc
import pandas as pd

from nyc_lakehouse.pipelines.forecasting.models import ChampionForecaster


def champion_forecasts(
    model: ChampionForecaster, series_ids: Iterable[str] | None = None, horizon: int | None = None
) -> pd.DataFrame:
    """The champion's forecast of ``series_ids`` (all when None), with origin and step."""
    out = model.predict(series_ids, horizon)
    out["ds"] = pd.to_datetime(out["ds"])
    out["forecast_origin"] = pd.to_datetime(out["unique_id"].map(model.last_observed))
    out["horizon_step"] = (out["ds"] - out["forecast_origin"]).dt.days.astype("int64")
    return out


class ChampionPyfunc(mlflow.pyfunc.PythonModel):
    """A fitted :class:`ChampionForecaster` behind MLflow's ``predict`` interface."""

    def __init__(self, model: ChampionForecaster) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        horizon = None
        if "horizon" in frame.columns and frame["horizon"].notna().any():
            horizon = int(frame["horizon"].dropna().iloc[0])
        ids = frame["unique_id"].astype(str).unique()
        return champion_forecasts(self.model, ids, horizon)
