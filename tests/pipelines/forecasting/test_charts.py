"""The forecast chart: per series its history, the champion's backtest, the bands and the forecast."""

from __future__ import annotations

import pandas as pd

from nyc_lakehouse.pipelines.forecasting.charts import forecast_figure


def _frames():
    days = pd.date_range("2024-01-01", periods=200, freq="D")
    panel = pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": days, "y": range(200)}) for uid in ("a", "b")]
    )
    backtest = pd.concat(
        [
            pd.DataFrame({"unique_id": uid, "ds": days[-14:], "model": model, "y_hat": 1.0 + i})
            for uid in ("a", "b")
            for i, model in enumerate(("SeasonalNaive", "AutoETS"))
        ]
    )
    future = pd.date_range(days[-1] + pd.Timedelta(days=1), periods=7, freq="D")
    forecasts = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": future,
                    "y_hat": 10.0,
                    "y_hat_lo_80": 8.0,
                    "y_hat_hi_80": 12.0,
                    "y_hat_lo_95": 6.0,
                    "y_hat_hi_95": 14.0,
                }
            )
            for uid in ("a", "b")
        ]
    )
    champions = pd.Series({"a": "AutoETS", "b": "SeasonalNaive"})
    return panel, backtest, forecasts, champions


def test_each_series_has_history_champion_backtest_both_bands_and_forecast():
    panel, backtest, forecasts, champions = _frames()
    figure = forecast_figure(
        panel, backtest, forecasts, champions, [80, 95], history_days=120, series_order=["b", "a"]
    )
    assert len(figure.data) == 2 * 5  # 5 traces per series
    first = figure.data[:5]
    assert [t.name for t in first] == [
        "actual",
        "backtest (SeasonalNaive)",
        "95% interval",
        "80% interval",
        "forecast (SeasonalNaive)",
    ]
    assert all(t.visible for t in first) and not any(t.visible for t in figure.data[5:])
    assert len(first[0].x) == 120  # the last history_days only
    assert set(first[1].y) == {1.0}  # the champion's backtest, not another model's
    band_95 = first[2]
    assert max(band_95.y) == 14.0 and min(band_95.y) == 6.0 and band_95.fill == "toself"
    assert list(first[4].y) == [10.0] * 7
    assert figure.data[6].name == "backtest (AutoETS)" and set(figure.data[6].y) == {2.0}
    buttons = figure.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["b", "a"]
    assert buttons[1].args[0]["visible"] == [False] * 5 + [True] * 5
    assert "champion: AutoETS" in buttons[1].args[1]["title"]
