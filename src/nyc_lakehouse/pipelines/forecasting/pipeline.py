"""Wiring of the ``forecasting`` pipeline (nodes live in nodes.py).

panel -> backtest -> metrics -> champions -> leaderboard; champions refitted -> forecasts;
chart; MLflow run with the registered champion; ml.volume_forecasts scored from the registry.
"""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.forecasting import nodes, registry

SCORING_TAG = "scoring"
"""Nodes that score from the registry; pipeline `forecast_scoring` runs them alone."""


def create_pipeline(**kwargs: object) -> Pipeline:
    return Pipeline(
        [
            node(
                nodes.prepare_panel,
                ["ml.daily_volume_panel@pandas", "params:forecasting"],
                "forecasting.panel",
                name="prepare_forecasting_panel",
            ),
            node(
                nodes.backtest_models,
                ["forecasting.panel", "params:forecasting"],
                "forecasting.backtest_forecasts",
                name="backtest_models",
            ),
            node(
                nodes.score_backtest,
                ["forecasting.backtest_forecasts", "forecasting.panel", "params:forecasting"],
                "forecasting.window_metrics",
                name="score_backtest",
            ),
            node(
                nodes.choose_champions,
                ["forecasting.window_metrics", "params:forecasting"],
                "forecasting.champions",
                name="choose_champions",
            ),
            node(
                nodes.build_leaderboard,
                ["forecasting.window_metrics", "forecasting.champions", "params:forecasting"],
                "ml.forecast_backtest_metrics",
                name="build_leaderboard",
            ),
            node(
                nodes.fit_champion_model,
                ["forecasting.panel", "forecasting.champions", "params:forecasting"],
                "forecasting.champion_model",
                name="fit_champion_model",
            ),
            node(
                nodes.forecast_next_horizon,
                ["forecasting.champion_model", "params:forecasting"],
                "forecasting.fitted_forecasts",
                name="forecast_next_horizon",
            ),
            node(
                nodes.plot_forecasts,
                [
                    "forecasting.panel",
                    "forecasting.backtest_forecasts",
                    "forecasting.fitted_forecasts",
                    "forecasting.champions",
                    "params:forecasting",
                ],
                "forecasting.forecast_chart",
                name="plot_forecasts",
            ),
            node(
                registry.register_champion,
                [
                    "ml.forecast_backtest_metrics",
                    "forecasting.fitted_forecasts",
                    "forecasting.forecast_chart",
                    "forecasting.champion_model",
                    "params:forecasting",
                ],
                "forecasting.champion_model_info",
                name="register_champion",
            ),
            # Batch scoring reads the champion back from the registry, as any consumer would:
            # the table holds what the registered model serves (pipeline `forecast_scoring`).
            node(
                registry.score_volume_forecasts,
                ["forecasting.champion_model_info", "params:forecasting"],
                "ml.volume_forecasts",
                name="score_volume_forecasts",
                tags=[SCORING_TAG],
            ),
        ]
    )
