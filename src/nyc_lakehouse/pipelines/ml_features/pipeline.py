"""Wiring of the ``ml_features`` pipeline (nodes live in nodes.py).

silver.nyc311_service_requests -> ml.daily_volume_panel -> gold.volume_forecasting_features
"""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.ml_features import nodes


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            node(
                nodes.daily_volume_panel,
                ["silver.nyc311_service_requests", "params:ml_features"],
                "ml.daily_volume_panel@spark",
                name="build_daily_volume_panel",
            ),
            node(
                nodes.volume_forecasting_features,
                ["ml.daily_volume_panel@spark", "params:ml_features"],
                "gold.volume_forecasting_features",
                name="build_volume_forecasting_features",
            ),
        ]
    )
