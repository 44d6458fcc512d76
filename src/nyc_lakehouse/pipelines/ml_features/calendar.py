"""Calendar and holiday features of a set of days (pandas, shared by ml_features and forecasting).

Every calendar feature is derived from the date alone with :func:`calendar_features`, so the
feature table in gold, the statistical models' exogenous regressors and the synthetic panels agree
on what "a holiday" is. Beyond the public holidays (``holidays`` package, observed days included)
it knows the days 311 volume also moves on: the Friday after Thanksgiving, the Christmas Eve to
New Year's Day break, the Sundays the clocks change, and configured level shifts (COVID, 2020-03).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import holidays
import numpy as np
import pandas as pd

OBSERVED_SUFFIX = " (observed)"
DEFAULT_TIMEZONE = "America/New_York"


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
    observed = [str(name).split(";")[0].strip().endswith(OBSERVED_SUFFIX) for name in days.values()]
    frame = pd.DataFrame(rows, columns=["ds", "holiday_name"])
    frame["is_observed"] = [flag for _, flag in sorted(zip(days.keys(), observed, strict=True))]
    return frame.drop_duplicates("ds").reset_index(drop=True)


@functools.lru_cache(maxsize=16)
def holiday_codes(country: str = "US", subdivision: str | None = "NY") -> dict[str, int]:
    """A stable integer per holiday name (1, 2, ...; 0 is "no holiday").

    Taken over 1990-2050, so a code never depends on which years a panel covers: the model
    trained on one slice of the feature table reads the same codes in every other slice.
    """
    names = holiday_calendar(range(1990, 2051), country, subdivision)["holiday_name"]
    return {name: i + 1 for i, name in enumerate(sorted(set(names)))}


def dst_change_days(days: pd.DatetimeIndex, timezone: str = DEFAULT_TIMEZONE) -> np.ndarray:
    """True on the days the clocks change in ``timezone`` (noon's UTC offset differs from the
    previous noon's): a 23- or 25-hour day, and a Sunday whose volume is off by an hour."""
    noon = pd.DatetimeIndex(days).normalize() + pd.Timedelta(hours=12)
    offset = (noon.tz_localize(timezone).tz_convert("UTC").tz_localize(None) - noon).to_numpy()
    before = (
        (noon - pd.Timedelta(days=1)).tz_localize(timezone).tz_convert("UTC").tz_localize(None)
        - (noon - pd.Timedelta(days=1))
    ).to_numpy()
    return offset != before


def level_shift_features(
    days: Iterable[object], shifts: Sequence[Mapping[str, Any]] | None
) -> pd.DataFrame:
    """One 0/1 column ``shift_<name>`` per configured level shift: 1 from ``start`` (to ``end``
    when given, inclusive). E.g. ``{name: covid, start: 2020-03-16}``: the city's volume moved to a
    new level that month and never fully came back, a regressor for models that cannot re-level
    themselves from recent values."""
    index = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(days)))).normalize()
    out = pd.DataFrame(index=range(len(index)))
    for shift in shifts or []:
        start = pd.Timestamp(shift["start"])
        inside = index >= start
        if shift.get("end"):
            inside &= index <= pd.Timestamp(shift["end"])
        out[f"shift_{shift['name']}"] = inside.astype("int64")
    return out


def calendar_features(
    dates: Iterable[object],
    country: str = "US",
    subdivision: str | None = "NY",
    max_holiday_distance: int = 30,
    timezone: str = DEFAULT_TIMEZONE,
) -> pd.DataFrame:
    """Calendar features of each distinct day in ``dates`` (one row per day, sorted).

    Columns: ``ds``, ``day_of_week`` (1=Mon..7=Sun, the silver convention), ``is_weekend``,
    ``day_of_month``, ``day_of_year``, ``week_of_year``, ``month``, ``quarter``, ``year``,
    ``is_holiday``, ``holiday_name`` (None on ordinary days), ``days_to_next_holiday`` and
    ``days_since_previous_holiday`` (0 on a holiday; capped at ``max_holiday_distance`` so the
    value stays meaningful at the edges of the holiday table), ``days_to_nearest_holiday``
    (their minimum) and ``is_holiday_adjacent`` (the day before or after a holiday, e.g. Black
    Friday or Christmas Eve, when 311 volume is also unusual), ``holiday_code`` (a stable code of
    the holiday's name, 0 on ordinary days: see :func:`holiday_codes`), ``is_observed_holiday``
    (the weekday a weekend holiday is observed on), ``is_day_after_thanksgiving``,
    ``is_year_end_break`` (24 December to 1 January: offices closed or half-staffed) and
    ``is_dst_change`` (the Sundays the clocks change in ``timezone``).
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
        out["holiday_code"] = pd.Series(dtype="int64")
        for column in SPECIAL_DAY_COLUMNS:
            out[column] = pd.Series(dtype=bool)
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
    codes = holiday_codes(country, subdivision)
    out["holiday_code"] = out["holiday_name"].map(codes).fillna(0).astype("int64")
    observed = set(table.loc[table["is_observed"], "ds"])
    out["is_observed_holiday"] = out["ds"].isin(observed)
    thanksgiving = set(table.loc[table["holiday_name"] == "Thanksgiving Day", "ds"])
    out["is_day_after_thanksgiving"] = (out["ds"] - pd.Timedelta(days=1)).isin(thanksgiving)
    month, day = out["ds"].dt.month, out["ds"].dt.day
    out["is_year_end_break"] = ((month == 12) & (day >= 24)) | ((month == 1) & (day == 1))
    out["is_dst_change"] = dst_change_days(pd.DatetimeIndex(out["ds"]), timezone)
    return out


SPECIAL_DAY_COLUMNS = (
    "is_observed_holiday",
    "is_day_after_thanksgiving",
    "is_year_end_break",
    "is_dst_change",
)
