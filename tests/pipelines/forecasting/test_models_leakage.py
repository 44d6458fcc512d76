"""The feature rows (``gold.volume_forecasting_features``) never see their own target.

The other leakage test poisons days after the training cutoff; a feature read at the target day
instead of the origin would still pass it, because the poisoned days are never targets. Here one
target *inside* the training rows changes, and no feature of a row predicting that day may move.
Rows are built by the one function that builds the gold table and the forecast rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nyc_lakehouse.pipelines.ml_features.features import feature_columns

HORIZON = 7


def _feature_rows(panel: pd.DataFrame, params: dict) -> pd.DataFrame:
    from nyc_lakehouse.pipelines.forecasting import models

    forecaster = models.build_forecaster("HistGradientBoosting", params)
    rows = forecaster.feature_rows(panel, HORIZON)
    rows = rows[rows["y"].notna()].reset_index(drop=True)
    first = panel["ds"].min()
    return rows.assign(
        t=(rows["ds"] - first).dt.days,
        step=rows["horizon_step"],
        target=rows["y"] / rows["scale"],
    )


def _features(rows: pd.DataFrame) -> list[str]:
    """The model's inputs (not the test's own t / step / target helpers)."""
    return [c for c in feature_columns(rows) if c not in {"t", "step", "target"}]


def test_changing_one_training_target_moves_no_feature_of_its_rows(tiny_panel, make_params):
    params = make_params(("HistGradientBoosting",))
    series = sorted(tiny_panel["unique_id"].unique())[0]
    days = tiny_panel[tiny_panel["unique_id"] == series].sort_values("ds")
    target_index = 120  # far enough in that every horizon step 1..7 has a row for it
    target_day = days["ds"].iloc[target_index]

    changed = tiny_panel.copy()
    where = (changed["unique_id"] == series) & (changed["ds"] == target_day)
    assert where.sum() == 1
    changed.loc[where, "y"] = changed.loc[where, "y"] * 10 + 1000

    before = _feature_rows(tiny_panel, params)
    after = _feature_rows(changed, params)
    features = [*_features(before), "scale", "sn_scale"]
    assert {"last", "mean_7", "same_dow_1", "last_year", "log_level"} <= set(features)

    def rows_for_target(rows: pd.DataFrame) -> pd.DataFrame:
        picked = rows[(rows["unique_id"] == series) & (rows["t"] == target_index)]
        return picked.sort_values("step").reset_index(drop=True)

    old, new = rows_for_target(before), rows_for_target(after)
    assert old["step"].tolist() == list(range(1, HORIZON + 1))
    # the change is real: every one of those rows has a new target...
    assert not np.isclose(old["target"], new["target"]).any()
    # ...and not one feature of them moved
    pd.testing.assert_frame_equal(old[features], new[features])


def test_a_target_changes_features_only_of_later_origins(tiny_panel, make_params):
    """The same change does show up in rows whose origin is at or after that day."""
    params = make_params(("HistGradientBoosting",))
    series = sorted(tiny_panel["unique_id"].unique())[0]
    days = tiny_panel[tiny_panel["unique_id"] == series].sort_values("ds")
    target_index = 120
    changed = tiny_panel.copy()
    where = (changed["unique_id"] == series) & (changed["ds"] == days["ds"].iloc[target_index])
    changed.loc[where, "y"] = changed.loc[where, "y"] * 10 + 1000

    before = _feature_rows(tiny_panel, params)
    after = _feature_rows(changed, params)
    origin = before["t"] - before["step"]
    mine = before["unique_id"] == series
    # a row whose origin is the changed day reads it as its latest value
    at_origin = (mine & (origin == target_index) & (before["step"] == 1)).to_numpy()
    assert before.loc[at_origin, "last"].item() != after.loc[at_origin, "last"].item()
    # rows whose origin is before the changed day (and other series) are untouched
    untouched = (~mine | (origin < target_index)).to_numpy()
    features = [*_features(before), "scale", "sn_scale"]
    pd.testing.assert_frame_equal(
        before.loc[untouched, features].reset_index(drop=True),
        after.loc[untouched, features].reset_index(drop=True),
    )
