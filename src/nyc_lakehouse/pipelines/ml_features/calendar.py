"""Calendar and holiday features of a set of days (pandas, shared by ml_features and forecasting).

Both pipelines derive their calendar features from the date alone with this one function, so the
feature table in gold and the forecasting models agree on what "a holiday" is.
"""

from __future__ import annotations

from collections.abc import Iterable

import holidays
import numpy as np
import pandas as pd

OBSERVED_SUFFIX = " (observed)"


def holiday_calendar(
    years: Iterable[int], country: str = "US", subdivision: str | None = "NY"
) -> pd.DataFrame:
    """Public holidays of ``country`` (and ``subdivision``) in ``years``: one row per holiday day.

    Columns ``ds`` (datetime64), ``holiday_name`` (the "(observed)" suffix removed, so an observed
    Monday counts as the holiday it replaces). Two holidays on one day keep the first name.
    """
    years = sorted(set(int(y) for y in years))
    if not years:
        return pd.DataFrame({"ds": pd.Series(dtype="datetime64[ns]"), "holiday_name": []})
    days = holidays.country_holidays(country, subdiv=subdivision, years=years)
    rows = [
        (pd.Timestamp(day), str(name).split(";")[0].replace(OBSERVED_SUFFIX, "").strip())
        for day, name in sorted(days.items())
    ]
    frame = pd.DataFrame(rows, columns=["ds", "holiday_name"])
    return frame.drop_duplicates("ds").reset_index(drop=True)


def calendar_features(
    dates: Iterable[object],
    country: str = "US",
    subdivision: str | None = "NY",
    max_holiday_distance: int = 30,
) -> pd.DataFrame:
    """Calendar features of each distinct day in ``dates`` (one row per day, sorted).

    Columns: ``ds``, ``day_of_week`` (1=Mon..7=Sun, the silver convention), ``is_weekend``,
    ``day_of_month``, ``day_of_year``, ``week_of_year``, ``month``, ``quarter``, ``year``,
    ``is_holiday``, ``holiday_name`` (None on ordinary days), ``days_to_next_holiday`` and
    ``days_since_previous_holiday`` (0 on a holiday; capped at ``max_holiday_distance`` so the
    value stays meaningful at the edges of the holiday table), ``days_to_nearest_holiday``
    (their minimum) and ``is_holiday_adjacent`` (the day before or after a holiday, e.g. Black
    Friday or Christmas Eve, when 311 volume is also unusual).
    """
    days = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(dates)))).normalize().unique()
    days = days.sort_values()
    out = pd.DataFrame({"ds": days})
    if out.empty:
        for column in (
            "day_of_week day_of_month day_of_year week_of_year month quarter year "
            "days_to_next_holiday days_since_previous_holiday days_to_nearest_holiday"
        ).split():
            out[column] = pd.Series(dtype="int64")
        out["is_weekend"] = pd.Series(dtype=bool)
        out["is_holiday"] = pd.Series(dtype=bool)
        out["is_holiday_adjacent"] = pd.Series(dtype=bool)
        out["holiday_name"] = pd.Series(dtype=object)
        return out
    ds = out["ds"].dt
    out["day_of_week"] = (ds.dayofweek + 1).astype("int64")
    out["is_weekend"] = out["day_of_week"] >= 6
    out["day_of_month"] = ds.day.astype("int64")
    out["day_of_year"] = ds.dayofyear.astype("int64")
    out["week_of_year"] = ds.isocalendar().week.astype("int64").to_numpy()
    out["month"] = ds.month.astype("int64")
    out["quarter"] = ds.quarter.astype("int64")
    out["year"] = ds.year.astype("int64")

    # One extra year each side so the distance to the nearest holiday is right at the edges.
    first, last = int(days.min().year), int(days.max().year)
    table = holiday_calendar(range(first - 1, last + 2), country, subdivision)
    names = dict(zip(table["ds"], table["holiday_name"], strict=True))
    out["holiday_name"] = out["ds"].map(names).astype(object)
    out["is_holiday"] = out["holiday_name"].notna()

    holiday_days = table["ds"].to_numpy(dtype="datetime64[D]").astype("int64")
    day_numbers = out["ds"].to_numpy(dtype="datetime64[D]").astype("int64")
    next_index = np.searchsorted(holiday_days, day_numbers, side="left")
    prev_index = np.searchsorted(holiday_days, day_numbers, side="right") - 1
    big = max_holiday_distance
    to_next = np.where(
        next_index < len(holiday_days),
        holiday_days[np.minimum(next_index, len(holiday_days) - 1)] - day_numbers,
        big,
    )
    since_prev = np.where(
        prev_index >= 0, day_numbers - holiday_days[np.maximum(prev_index, 0)], big
    )
    out["days_to_next_holiday"] = np.minimum(to_next, big).astype("int64")
    out["days_since_previous_holiday"] = np.minimum(since_prev, big).astype("int64")
    out["days_to_nearest_holiday"] = np.minimum(
        out["days_to_next_holiday"], out["days_since_previous_holiday"]
    )
    out["is_holiday_adjacent"] = (~out["is_holiday"]) & (out["days_to_nearest_holiday"] == 1)
    return out
