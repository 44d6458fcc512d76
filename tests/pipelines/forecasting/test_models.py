"""Each model's output shape and interval order; the ensemble; the champion forecaster."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import models
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

LEVELS = [80, 95]


def _check_forecast(forecast: pd.DataFrame, panel: pd.DataFrame, horizon: int, model: str):
    ids = sorted(panel["unique_id"].unique())
    assert list(forecast.columns[:4]) == ["unique_id", "ds", "model", "y_hat"]
    assert len(forecast) == len(ids) * horizon
    assert sorted(forecast["unique_id"].unique()) == ids
    assert (forecast["model"] == model).all()
    last = panel.groupby("unique_id")["ds"].max()
    for uid, part in forecast.groupby("unique_id"):
        expected = pd.date_range(last[uid] + pd.Timedelta(days=1), periods=horizon, freq="D")
        assert list(part.sort_values("ds")["ds"]) == list(expected)
    values = forecast[["y_hat", *models.interval_columns(LEVELS)]]
    assert not values.isna().any().any()
    assert (forecast["y_hat_lo_95"] <= forecast["y_hat_lo_80"] + 1e-9).all()
    assert (forecast["y_hat_lo_80"] <= forecast["y_hat"] + 1e-9).all()
    assert (forecast["y_hat"] <= forecast["y_hat_hi_80"] + 1e-9).all()
    assert (forecast["y_hat_hi_80"] <= forecast["y_hat_hi_95"] + 1e-9).all()


@pytest.mark.parametrize("name", ["SeasonalNaive", "AutoETS", "AutoTheta", "AutoARIMA"])
def test_statistical_model_output_shape_and_intervals(name, tiny_panel, make_params):
    params = make_params((name,))
    params["models"]["AutoARIMA"].update(max_train_days=120, nmodels=5)
    forecaster = models.build_forecaster(name, params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = forecaster.forecast(tiny_panel, 7, LEVELS)
    # The model's own intervals are checked, not only the tidied ones (tidying reorders).
    _check_forecast(raw, tiny_panel, 7, name)
    forecast = models.tidy_intervals(raw, LEVELS, True)
    _check_forecast(forecast, tiny_panel, 7, name)
    # A bounded ARIMA search (nmodels=5 stops it early) must not flood the run log.
    search_noise = [w for w in caught if "statsforecast" in w.filename]
    assert not search_noise, [str(w.message) for w in search_noise][:3]


def test_mstl_forecasts_only_series_with_two_years(make_params):
    long = synthetic_panel(n_series=1, days=760, start="2022-01-01", seed=1)
    short = synthetic_panel(n_series=1, days=200, start="2023-06-01", seed=2)
    short["unique_id"] = "short"
    panel = pd.concat([long, short], ignore_index=True)
    forecaster = models.build_forecaster("MSTL", make_params(("MSTL",)))
    raw = forecaster.forecast(panel, 7, LEVELS)
    _check_forecast(raw, long, 7, "MSTL")
    _check_forecast(models.tidy_intervals(raw, LEVELS, True), long, 7, "MSTL")


def test_gradient_boosting_output_shape_intervals_and_refit(tiny_panel, make_params):
    params = make_params(("HistGradientBoosting",))
    forecaster = models.build_forecaster("HistGradientBoosting", params)
    forecast = models.tidy_intervals(forecaster.forecast(tiny_panel, 7, LEVELS), LEVELS, True)
    _check_forecast(forecast, tiny_panel, 7, "HistGradientBoosting")
    # Raw conformal intervals are symmetric and nested before any clipping.
    raw = forecaster.predict(7, LEVELS)
    assert np.allclose(raw["y_hat"] - raw["y_hat_lo_80"], raw["y_hat_hi_80"] - raw["y_hat"])
    assert (
        (raw["y_hat_hi_95"] - raw["y_hat_lo_95"]) >= (raw["y_hat_hi_80"] - raw["y_hat_lo_80"])
    ).all()
    with pytest.raises(ValueError, match="cannot forecast 8"):
        forecaster.predict(8, LEVELS)


def test_gradient_boosting_ignores_values_after_the_origin(tiny_panel, make_params):
    """Features are computed from the origin backwards: the future cannot leak in."""
    params = make_params(("HistGradientBoosting",))
    cutoff = tiny_panel["ds"].max() - pd.Timedelta(days=7)
    train = tiny_panel[tiny_panel["ds"] <= cutoff]
    first = models.build_forecaster("HistGradientBoosting", params).fit(train, 7)
    rows = first.feature_rows(train, 7)
    # every row's target day is after its features' origin
    assert ((rows["ds"] - rows["forecast_origin"]).dt.days == rows["horizon_step"]).all()
    assert (rows["horizon_step"] >= 1).all()
    forecast_a = first.predict(7, LEVELS)
    poisoned = tiny_panel.copy()
    poisoned.loc[poisoned["ds"] > cutoff, "y"] = 1e9
    second = models.build_forecaster("HistGradientBoosting", params).fit(
        poisoned[poisoned["ds"] <= cutoff], 7
    )
    pd.testing.assert_frame_equal(forecast_a, second.predict(7, LEVELS))


def test_a_backtest_window_sliced_from_the_full_table_is_the_truncated_panel_s(
    tiny_panel, make_params
):
    """The gold table holds rows up to the last day; a window ending earlier slices it, and
    must forecast exactly as if the features had been computed on the truncated panel only
    (values after the cutoff, poisoned here, are in the table but never used)."""
    params = make_params(("HistGradientBoosting",))
    cutoff = tiny_panel["ds"].max() - pd.Timedelta(days=10)
    poisoned = tiny_panel.copy()
    poisoned.loc[poisoned["ds"] > cutoff, "y"] = 1e9
    full_table = models.build_forecaster("HistGradientBoosting", params).feature_rows(poisoned, 7)
    assert full_table["ds"].max() > cutoff + pd.Timedelta(days=7)
    train = tiny_panel[tiny_panel["ds"] <= cutoff]
    sliced = models.build_forecaster("HistGradientBoosting", params).fit(train, 7, full_table)
    own = models.build_forecaster("HistGradientBoosting", params).fit(train, 7)
    pd.testing.assert_frame_equal(sliced.predict(7, LEVELS), own.predict(7, LEVELS))
    assert sliced.predict(7, LEVELS)["y_hat"].max() < 1e6


def test_gradient_boosting_refuses_a_table_built_for_a_shorter_horizon(tiny_panel, make_params):
    params = make_params(("HistGradientBoosting",))
    forecaster = models.build_forecaster("HistGradientBoosting", params)
    table = forecaster.feature_rows(tiny_panel, 3)
    with pytest.raises(ValueError, match="forecasting.horizon"):
        forecaster.fit(tiny_panel, 7, table)


def test_ensemble_is_the_median_of_members():
    base = pd.DataFrame(
        {
            "unique_id": ["a"] * 3,
            "ds": pd.to_datetime(["2024-01-01"] * 3),
            "model": ["AutoETS", "AutoTheta", "HistGradientBoosting"],
            "y_hat": [10.0, 20.0, 60.0],
            "y_hat_lo_80": [5.0, 15.0, 50.0],
            "y_hat_hi_80": [15.0, 25.0, 70.0],
            "y_hat_lo_95": [0.0, 10.0, 40.0],
            "y_hat_hi_95": [20.0, 30.0, 80.0],
        }
    )
    members = ["AutoETS", "AutoTheta", "HistGradientBoosting"]
    combined = models.ensemble_forecast(base, members, LEVELS, "median")
    assert combined["y_hat"].tolist() == [20.0]
    assert combined["model"].tolist() == ["Ensemble"]
    assert models.ensemble_forecast(base, members, LEVELS, "mean")["y_hat"].tolist() == [30.0]
    assert models.ensemble_forecast(base.iloc[:1], members, LEVELS).empty  # one member: none


def test_enabled_models_requires_the_baseline_and_known_names(make_params):
    params = make_params(("AutoETS",))
    params["models"]["SeasonalNaive"]["enabled"] = False
    with pytest.raises(ValueError, match="baseline"):
        models.enabled_models(params)
    params["models"]["Prophet"] = {"enabled": True}
    with pytest.raises(ValueError, match="Unknown model"):
        models.enabled_models(params)


def test_champion_forecaster_uses_each_series_own_model(tiny_panel, make_params):
    params = make_params(("SeasonalNaive", "AutoETS"))
    ids = sorted(tiny_panel["unique_id"].unique())
    champions = {ids[0]: "SeasonalNaive", ids[1]: "AutoETS", ids[2]: "AutoETS"}
    champion = models.ChampionForecaster(champions, params).fit(tiny_panel)
    forecast = champion.predict()
    assert len(forecast) == 3 * params["horizon"]
    assert dict(forecast.groupby("unique_id")["model"].first()) == champions
    naive = forecast[forecast["unique_id"] == ids[0]]
    last_week = tiny_panel[tiny_panel["unique_id"] == ids[0]].tail(7)["y"].to_numpy()
    np.testing.assert_allclose(naive["y_hat"], last_week)
    with pytest.raises(ValueError, match="No champion"):
        champion.predict(["unknown"])


def test_tidy_intervals_keeps_missing_bounds_missing_and_nests_crossing_ones():
    forecast = pd.DataFrame(
        {
            "unique_id": ["a", "a"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "model": ["M", "M"],
            "y_hat": [10.0, 10.0],
            "y_hat_lo_80": [float("nan"), 12.0],  # missing / above the mean
            "y_hat_hi_80": [float("nan"), 11.0],
            "y_hat_lo_95": [float("nan"), 9.0],  # 95% narrower than 80% on the low side
            "y_hat_hi_95": [float("nan"), 10.5],
        }
    )
    tidy = models.tidy_intervals(forecast, LEVELS, clip_at_zero=True)
    assert tidy.loc[0, models.interval_columns(LEVELS)].isna().all()
    row = tidy.loc[1]
    assert row["y_hat_lo_95"] <= row["y_hat_lo_80"] <= row["y_hat"] <= row["y_hat_hi_80"]
    assert row["y_hat_hi_80"] <= row["y_hat_hi_95"]
    # A low bound above the mean is clamped to it; a 95% bound inside the 80% one widens to it.
    assert (row["y_hat_lo_80"], row["y_hat_hi_80"], row["y_hat_hi_95"]) == (10.0, 11.0, 11.0)
