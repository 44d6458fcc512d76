"""The ml_features pipeline's tables: the daily panel and the feature table (docs/tables.md).

``tests/test_reference_docs.py`` runs :mod:`.nodes` on a small silver frame with the shipped
parameters and checks that the produced columns and types are the documented ones.
"""

from __future__ import annotations

from nyc_lakehouse.table_docs import TableDoc, column

_SERIES = column(
    "unique_id",
    "string",
    "The series: `citywide`, `borough:<BOROUGH>` (the five boroughs) or "
    "`complaint_type:<type>` (the `ml_features.top_n_complaint_types` types with the most "
    "requests).",
)
_DAY = column("ds", "date", "The day (New York calendar day of creation).")
_Y = column("y", "double", "Requests created that day in the series (0 on a day without any).")

DAILY_VOLUME_PANEL = TableDoc(
    name="ml.daily_volume_panel",
    pipeline="ml_features",
    grain="One row per series per day, every series over the same days.",
    keys=("unique_id", "ds"),
    write="overwrite, every run",
    columns=(_SERIES, _DAY, _Y),
    notes=(
        "Source: `silver.nyc311_service_requests`. Requests dated in the future are ignored "
        "and the newest day is dropped (`ml_features.drop_last_days`): an extract taken during "
        "the day holds only part of it.",
    ),
)

VOLUME_FORECASTING_FEATURES = TableDoc(
    name="gold.volume_forecasting_features",
    pipeline="ml_features",
    grain="One row per series per day of the daily panel, with its features.",
    keys=("unique_id", "ds"),
    write="overwrite, every run",
    columns=(
        _SERIES,
        _DAY,
        _Y,
        column(
            "lag_<k>",
            "double",
            "`y` k days earlier, for each k of `ml_features.lags` (1, 7, 14, 28, 364); null "
            "before the series has k days.",
        ),
        column(
            "rolling_mean_<w>",
            "double",
            "Mean of `y` over the w days ending the day before (never the day itself), for each "
            "w of `ml_features.rolling_windows` (7, 28); null until w past days exist.",
        ),
        column(
            "rolling_std_<w>",
            "double",
            "Sample standard deviation over the same window.",
        ),
        column("trend", "bigint", "Days since the series' first day."),
        column("day_of_week", "bigint", "1 = Monday ... 7 = Sunday (as silver)."),
        column("is_weekend", "boolean", "Saturday or Sunday."),
        column("day_of_month", "bigint", "Day of the month 1-31."),
        column("day_of_year", "bigint", "Day of the year 1-366."),
        column("week_of_year", "bigint", "ISO week number."),
        column("month", "bigint", "Month 1-12."),
        column("quarter", "bigint", "Quarter 1-4."),
        column(
            "holiday_name",
            "string",
            "US federal or New York State holiday (`holidays` package; an observed day counts "
            "as the holiday); null on ordinary days.",
        ),
        column("is_holiday", "boolean", "The day is such a holiday."),
        column(
            "days_to_next_holiday",
            "bigint",
            "Days until the next holiday, 0 on a holiday (capped at 30).",
        ),
        column(
            "days_since_previous_holiday",
            "bigint",
            "Days since the previous holiday, 0 on a holiday (capped at 30).",
        ),
        column("days_to_nearest_holiday", "bigint", "The smaller of the two."),
        column(
            "is_holiday_adjacent",
            "boolean",
            "The day before or after a holiday (Black Friday, Christmas Eve...).",
        ),
    ),
)

TABLES: dict[str, TableDoc] = {
    doc.name: doc for doc in (DAILY_VOLUME_PANEL, VOLUME_FORECASTING_FEATURES)
}
