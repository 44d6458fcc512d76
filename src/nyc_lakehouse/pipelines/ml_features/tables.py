"""The ml_features pipeline's table: the daily panel (docs/tables.md).

``tests/test_reference_docs.py`` runs :mod:`.nodes` on small gold frames with the shipped
parameters and checks that the produced columns and types are the documented ones. The feature
table the forecasting pipeline builds from this panel, ``gold.volume_forecasting_features``, is
declared with the other gold tables (``gold/tables.py``: grain, columns, data tests).
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
        "Source: `gold.agg_daily_type_borough` (requests per creation day, complaint type and "
        "borough; its cost follows days, not requests). Requests dated in the future are ignored "
        "and the newest day is dropped (`ml_features.drop_last_days`): an extract taken during "
        "the day holds only part of it.",
    ),
)

TABLES: dict[str, TableDoc] = {doc.name: doc for doc in (DAILY_VOLUME_PANEL,)}
