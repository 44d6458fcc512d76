"""The statistical models' backtest is statsforecast's cross_validation, window for window the
same as forecasting from the truncated panel at each cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting import models
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

LEVELS = [80, 95]


def _panel() -> pd.DataFrame:
    panel = synthetic_panel(n_series=3, days=150, start="2023-01-01", seed=5)
    # the third series starts later: it only has enough history for the last window
    late = panel["unique_id"] == "series_002"
    return panel[~late | (panel["ds"] >= pd.Timestamp("2023-03-25"))].reset_index(drop=True)


def test_cross_validation_matches_a_forecast_from_each_truncated_panel(make_params):
    params = make_params(("SeasonalNaive", "AutoETS"))
    panel = _panel()
    cutoffs = bt.backtest_cutoffs(panel["ds"].max(), 7, 2, 7)
    for name in ("SeasonalNaive", "AutoETS"):
        forecaster = models.build_forecaster(name, params)
        cv = forecaster.cross_validation(panel, 7, 7, cutoffs, LEVELS, min_train_days=56)
        for cutoff in cutoffs:
            train = panel[panel["ds"] <= cutoff]
            train = train[train.groupby("unique_id")["ds"].transform("size") >= 56]
            expected = forecaster.forecast(train, 7, LEVELS)
            got = cv[cv["cutoff"] == cutoff].drop(columns="cutoff")
            key = ["unique_id", "ds"]
            assert set(got["unique_id"]) == set(expected["unique_id"]), (name, cutoff)
            pd.testing.assert_frame_equal(
                got.sort_values(key).reset_index(drop=True),
                expected.sort_values(key).reset_index(drop=True),
                rtol=1e-6,
            )
    # the late series joins the last window only (56 days before it), not the first
    late = cv[cv["unique_id"] == "series_002"]
    assert set(late["cutoff"]) == {cutoffs[-1]}


def test_the_backtest_has_every_model_and_window_with_actuals(make_params):
    params = make_params(("SeasonalNaive", "AutoTheta", "HistGradientBoosting", "Ensemble"))
    params["models"]["Ensemble"].update(
        members=["SeasonalNaive", "AutoTheta", "HistGradientBoosting"], method="median"
    )
    panel = _panel()
    features = models.forecast_features(panel, 7, params.get("calendar"))
    result = bt.run_backtest(panel, params, features)
    cutoffs = bt.backtest_cutoffs(panel["ds"].max(), 7, 2, 7)
    assert sorted(result["cutoff"].unique()) == cutoffs
    counts = result.groupby(["model", "cutoff"])["unique_id"].nunique()
    for model in ("SeasonalNaive", "AutoTheta", "HistGradientBoosting", "Ensemble"):
        assert counts[(model, cutoffs[0])] == 2 and counts[(model, cutoffs[1])] == 3, model
    assert (result["ds"] > result["cutoff"]).all()
    assert ((result["ds"] - result["cutoff"]).dt.days <= 7).all()
    assert (
        np.isfinite(result["y"]).all()
        and not result.duplicated(["model", "cutoff", "unique_id", "ds"]).any()
    )
    # the ensemble is the per-day median of its members, window by window
    one = result[(result["unique_id"] == "series_000") & (result["cutoff"] == cutoffs[0])]
    wide = one.pivot(index="ds", columns="model", values="y_hat")
    members = wide[["SeasonalNaive", "AutoTheta", "HistGradientBoosting"]].median(axis=1)
    assert np.allclose(wide["Ensemble"], members.clip(lower=0))


def test_window_metrics_equal_the_metric_functions_on_each_window(make_params):
    """utilsforecast's losses, window by window, agree with metrics.py's definitions."""
    from nyc_lakehouse.pipelines.forecasting import metrics

    params = make_params(("SeasonalNaive", "AutoTheta"))
    panel = synthetic_panel(n_series=2, days=120, start="2023-01-01", seed=2)
    result = bt.run_backtest(panel, params)
    per_window = bt.window_metrics(result, panel, LEVELS).set_index(
        ["cutoff", "model", "unique_id"]
    )
    assert len(per_window) == result.groupby(["cutoff", "model", "unique_id"]).ngroups == 8
    for (cutoff, model, uid), part in result.groupby(["cutoff", "model", "unique_id"]):
        train = panel[(panel["unique_id"] == uid) & (panel["ds"] <= cutoff)]["y"]
        got = per_window.loc[(cutoff, model, uid)]
        scale = metrics.seasonal_naive_scale(train.to_numpy(float), 7)
        assert got["mase"] == pytest.approx(metrics.mase(part["y"], part["y_hat"], scale))
        assert got["smape"] == pytest.approx(metrics.smape(part["y"], part["y_hat"]))
        assert got["rmse"] == pytest.approx(metrics.rmse(part["y"], part["y_hat"]))
        for level in LEVELS:
            expected = metrics.coverage(
                part["y"], part[f"y_hat_lo_{level}"], part[f"y_hat_hi_{level}"]
            )
            assert got[f"coverage_{level}"] == pytest.approx(expected), (model, level)
