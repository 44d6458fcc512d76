"""Wiring of the ``ml_features`` pipeline (nodes live in nodes.py).

gold.agg_daily_type_borough -> ml.daily_volume_panel; the
forecasting pipeline turns the panel into gold.volume_forecasting_features and trains on it.
"""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.ml_features import nodes


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            node(
                nodes.daily_volume_panel_from_gold,
                ["gold.agg_daily_type_borough", "params:ml_features"],
                "ml.daily_volume_panel@spark",
                name="build_daily_volume_panel",
            ),
        ]
    )
