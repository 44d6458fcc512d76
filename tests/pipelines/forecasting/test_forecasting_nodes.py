"""Input validation of the forecasting panel and the forecast table's shape."""

from __future__ import annotations

import pandas as pd
import pytest

from nyc_lakehouse.pipelines.forecasting import nodes


def _panel(rows):
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def test_prepare_panel_fills_missing_days_with_zero_and_sorts(make_params):
    raw = _panel([("b", "2024-01-03", 5), ("a", "2024-01-01", 1), ("a", "2024-01-04", 4)])
    out = nodes.prepare_panel(raw, make_params())
    a = out[out["unique_id"] == "a"]
    assert a["ds"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert a["y"].tolist() == [1.0, 0.0, 0.0, 4.0]
    assert out["unique_id"].tolist()[0] == "a"


def test_prepare_panel_ffill_and_error_policies(make_params):
    raw = _panel([("a", "2024-01-01", 1), ("a", "2024-01-03", 3)])
    params = make_params()
    params["panel"]["missing_days"] = "ffill"
    assert nodes.prepare_panel(raw, params)["y"].tolist() == [1.0, 1.0, 3.0]
    params["panel"]["missing_days"] = "error"
    with pytest.raises(ValueError, match="1 missing day"):
        nodes.prepare_panel(raw, params)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"]}), "missing \\['y'\\]"),
        (_panel([("a", "2024-01-01", 1), ("a", "2024-01-01", 2)]), "share a \\(unique_id, ds\\)"),
        (_panel([("a", "not a date", 1)]), "not dates"),
        (_panel([("a", "2024-01-01", "many")]), "not numbers"),
        (_panel([("a", "2024-01-01 10:30", 1)]), "daily dates"),
    ],
)
def test_prepare_panel_rejects_bad_input_with_a_clear_error(raw, message, make_params):
    with pytest.raises(ValueError, match=message):
        nodes.prepare_panel(raw, make_params())


def test_prepare_panel_keeps_recent_history_and_selected_series(make_params):
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    raw = pd.concat(
        [pd.DataFrame({"unique_id": uid, "ds": days, "y": range(10)}) for uid in ("a", "b")]
    )
    params = make_params()
    params["panel"].update(max_history_days=4, series=["b"])
    out = nodes.prepare_panel(raw, params)
    assert set(out["unique_id"]) == {"b"}
    assert out["y"].tolist() == [6.0, 7.0, 8.0, 9.0]
