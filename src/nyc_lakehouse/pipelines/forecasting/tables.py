"""The forecasting pipeline's tables: the backtest leaderboard and the forecasts (docs/tables.md).

Both are written from pandas through ``io.PandasDeltaTableDataset``; the types below are the
Delta types that writes. ``tests/test_reference_docs.py`` runs the real nodes on a small panel
and checks the produced columns and types.
"""

from __future__ import annotations

from nyc_lakehouse.table_docs import TableDoc, column

_SERIES = column(
    "unique_id",
    "string",
    "The series (as in `ml.daily_volume_panel`); `__all__` for the mean over all series.",
)

FORECAST_BACKTEST_METRICS = TableDoc(
    name="ml.forecast_backtest_metrics",
    pipeline="forecasting",
    grain=(
        "One row per model per series of the rolling-origin backtest, plus one `__all__` row "
        "per model (the mean over series)."
    ),
    keys=("unique_id", "model"),
    write="overwrite, every run",
    columns=(
        _SERIES,
        column(
            "model",
            "string",
            "SeasonalNaive (the baseline), AutoETS, AutoTheta, AutoARIMA, MSTL, "
            "HistGradientBoosting, Ensemble, or Champion: each series' champion chosen on the "
            "earlier windows only and scored on the next one (the honest estimate of the "
            "published forecasts).",
        ),
        column("rank", "bigint", "Rank by MASE within the series (1 = best)."),
        column(
            "is_champion",
            "boolean",
            "The model chosen on all windows: refitted and published in `ml.volume_forecasts`.",
        ),
        column(
            "mase",
            "double",
            "Mean absolute error / the in-sample seasonal-naive (7-day) error; below 1 beats "
            '"same day last week".',
        ),
        column("smape", "double", "Symmetric mean absolute percentage error, 0-200."),
        column("rmse", "double", "Root mean squared error, in requests per day."),
        column(
            "coverage_<level>",
            "double",
            "Share of actual days inside the level% prediction interval, for each level of "
            "`forecasting.levels` (80, 95); well calibrated near level / 100.",
        ),
        column(
            "mase_vs_baseline",
            "double",
            "mase / SeasonalNaive's mase on the same series and windows (0.7 = 30% better).",
        ),
        column("baseline_mase", "double", "SeasonalNaive's mase on the same windows."),
        column("n_windows", "bigint", "Backtest windows averaged."),
        column("n_series", "bigint", "Series averaged (1 except on `__all__` rows)."),
        column("horizon", "bigint", "Days forecast from each origin (`forecasting.horizon`)."),
        column("evaluated_at", "timestamp", "When the leaderboard was computed (UTC)."),
    ),
)

VOLUME_FORECASTS = TableDoc(
    name="ml.volume_forecasts",
    pipeline="forecasting",
    grain="One row per series per forecast day: its champion model's forecast.",
    keys=("unique_id", "ds"),
    write="overwrite, every run",
    columns=(
        column("unique_id", "string", "The series (as in `ml.daily_volume_panel`)."),
        column("ds", "date", "The forecast day."),
        column("model", "string", "The series' champion model."),
        column(
            "y_hat",
            "double",
            "Forecast requests (clipped at 0 when `forecasting.clip_at_zero`, the default).",
        ),
        column(
            "y_hat_lo_<level>",
            "double",
            "Lower bound of the level% prediction interval, for each level of "
            "`forecasting.levels` (80, 95).",
        ),
        column("y_hat_hi_<level>", "double", "Upper bound of that interval."),
        column(
            "forecast_origin",
            "timestamp_ntz",
            "The last observed day the forecast starts from (midnight, no time zone).",
        ),
        column("horizon_step", "bigint", "Days after the origin: 1 ... `forecasting.horizon`."),
        column("created_at", "timestamp", "When the forecast was made (UTC)."),
    ),
)

TABLES: dict[str, TableDoc] = {
    doc.name: doc for doc in (FORECAST_BACKTEST_METRICS, VOLUME_FORECASTS)
}
