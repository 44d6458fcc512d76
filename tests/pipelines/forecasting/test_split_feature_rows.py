"""Which feature rows a model fitted on a panel learns from, and which it forecasts from.

The backtest slices one feature table (built on the full history) per window with
``split_feature_rows``: a row of a series the window does not hold, a row past the window's
horizon or a target after the window's end must never reach the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.forecasting.models import split_feature_rows
from nyc_lakehouse.pipelines.ml_features.features import forecast_features


def _panel(unique_id: str, days: int) -> pd.DataFrame:
    ds = pd.date_range("2023-03-01", periods=days, freq="D")
    return pd.DataFrame({"unique_id": unique_id, "ds": ds, "y": np.arange(days) + 5.0})


def test_training_rows_end_on_the_panels_last_day_and_forecast_rows_start_there():
    full = pd.concat([_panel("a", 45), _panel("b", 45)])
    rows = forecast_features(full, 3)
    window = _panel("a", 40)  # series a, its first 40 days: b is not in this window
    last = window["ds"].max()
    train, future = split_feature_rows(window, rows, 2)

    assert set(train["unique_id"]) == {"a"} and set(future["unique_id"]) == {"a"}
    assert train["horizon_step"].max() == 2 and future["horizon_step"].tolist() == [1, 2]
    # the last observed day is a target to learn from; nothing after it is
    assert train["ds"].max() == last
    assert len(train[train["ds"] == last]) == 2  # from origins last - 1 and last - 2
    assert train["y"].notna().all()
    # forecasts are made from the window's last day, for the days after it
    assert (future["forecast_origin"] == last).all()
    assert future["ds"].tolist() == [last + pd.Timedelta(days=k) for k in (1, 2)]
    expected_train = rows[
        (rows["unique_id"] == "a") & (rows["horizon_step"] <= 2) & (rows["ds"] <= last)
    ]
    assert train.index.tolist() == expected_train.index.tolist()
