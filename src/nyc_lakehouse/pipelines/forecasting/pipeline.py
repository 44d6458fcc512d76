"""Wiring of the ``forecasting`` pipeline (nodes live in nodes.py).

panel (from gold) -> gold.volume_forecasting_features (+ its data tests) -> backtest ->
metrics -> champions -> leaderboard; champions refitted on the panel and the features ->
forecasts; chart; MLflow run (metrics and files through kedro-mlflow datasets) with the
registered champion; ml.volume_forecasts scored from the registry.
"""

from kedro.pipeline import Node, Pipeline, node

from nyc_lakehouse.pipelines.forecasting import nodes, quality, registry

SCORING_TAG = "scoring"
"""Nodes that score from the registry; pipeline `forecast_scoring` runs them alone."""
MLFLOW_RUN_RECORDS = (
    "forecasting.run_metrics",
    "forecasting.run_leaderboard_csv",
    "forecasting.run_forecasts_csv",
    "forecasting.run_chart_html",
    "forecasting.run_chart_json",
)
"""What the MLflow run records through kedro-mlflow's datasets: written, never read back."""


def feature_data_test_nodes() -> list[Node]:
    """The feature table's data tests: results saved first, then enforced (as gold's)."""
    return [
        node(
            quality.run_feature_data_tests,
            ["gold.volume_forecasting_features@pandas", "params:forecasting"],
            ["monitoring.forecasting_test_results", "forecasting_data_test_summary"],
            name="run_forecasting_data_tests",
        ),
        node(
            quality.enforce_feature_data_tests,
            "forecasting_data_test_summary",
            None,
            name="enforce_forecasting_data_tests",
        ),
    ]


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
                nodes.build_volume_forecasting_features,
                ["forecasting.panel", "params:forecasting"],
                "gold.volume_forecasting_features@pandas",
                name="build_volume_forecasting_features",
            ),
            *feature_data_test_nodes(),
            node(
                nodes.backtest_models,
                [
                    "forecasting.panel",
                    "gold.volume_forecasting_features@pandas",
                    "params:forecasting",
                ],
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
                [
                    "forecasting.panel",
                    "gold.volume_forecasting_features@pandas",
                    "forecasting.champions",
                    "params:forecasting",
                ],
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
            # The run's metrics and files go through kedro-mlflow's catalog datasets; the model
            # is logged and registered by hand (registry.register_champion says why).
            node(
                registry.mlflow_run_record,
                [
                    "ml.forecast_backtest_metrics",
                    "forecasting.fitted_forecasts",
                    "forecasting.forecast_chart",
                ],
                list(MLFLOW_RUN_RECORDS),
                name="record_mlflow_run",
            ),
            node(
                registry.register_champion,
                ["forecasting.champion_model", "params:forecasting"],
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
