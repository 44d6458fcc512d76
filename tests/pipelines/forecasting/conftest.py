"""Fixtures of the forecasting tests: tiny panels and fast parameters."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def base_params() -> dict[str, Any]:
    """The shipped parameters_forecasting.yml (so tests exercise the real defaults' shape)."""
    text = (PROJECT_ROOT / "conf/base/parameters_forecasting.yml").read_text()
    return yaml.safe_load(text)["forecasting"]


def fast_params(models: tuple[str, ...] = ("SeasonalNaive", "AutoETS")) -> dict[str, Any]:
    """Only ``models`` enabled, 2 small backtest windows, short horizon: seconds, not minutes."""
    params = copy.deepcopy(base_params())
    params["horizon"] = 7
    params["backtest"] = {"n_windows": 2, "step": 7, "min_train_days": 56}
    for name, settings in params["models"].items():
        settings["enabled"] = name in models
    params["models"]["HistGradientBoosting"].update(
        max_iter=30, max_train_rows=5000, conformal_days=28
    )
    return params


@pytest.fixture
def tiny_panel():
    return synthetic_panel(n_series=3, days=180, start="2023-01-01", seed=3)


@pytest.fixture
def make_params():
    """``make_params(("SeasonalNaive", "AutoETS"))``: fast parameters with only those models."""
    return fast_params
