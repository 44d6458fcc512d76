"""Wiring of the ``forecasting`` pipeline (nodes live in nodes.py).

panel -> backtest -> metrics -> champions -> leaderboard; champions refitted -> forecasts;
chart; MLflow run with the registered champion.
"""

from kedro.pipeline import Pipeline, node

from nyc_lakehouse.pipelines.forecasting import nodes


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
                "ml.volume_forecasts",
                name="forecast_next_horizon",
            ),
            node(
                nodes.plot_forecasts,
                [
                    "forecasting.panel",
                    "forecasting.backtest_forecasts",
                    "ml.volume_forecasts",
                    "forecasting.champions",
                    "params:forecasting",
                ],
                "forecasting.forecast_chart",
                name="plot_forecasts",
            ),
            node(
                nodes.log_forecasting_run,
                [
                    "ml.forecast_backtest_metrics",
                    "ml.volume_forecasts",
                    "forecasting.forecast_chart",
                    "forecasting.champion_model",
                    "params:forecasting",
                ],
                "forecasting.champion_model_info",
                name="log_forecasting_run",
            ),
        ]
    )
