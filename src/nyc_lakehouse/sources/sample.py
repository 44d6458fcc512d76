"""The bundled sample source: deterministic NYC 311 and 911 data in the landing format.

:func:`generate_nyc311` and :func:`generate_nyc911` yield one all-string Arrow table per calendar
month, with exactly the columns and value formats the live Socrata API lands with
(:func:`nyc_lakehouse.landing.records_to_table`): API field names, floating timestamps like
``2024-05-27T02:08:51.000``, ``location`` as compact JSON text, ``_socrata_id`` /
``_socrata_created_at`` / ``_socrata_updated_at`` (UTC, ``Z``) and nulls where the API omits a
key. Nothing downstream can tell a sample batch from an API batch.

Content model (see ``docs/operations.md``, "The bundled sample"): the complaint-type and agency mix,
boroughs with real ZIP codes and coordinates, resolution times by complaint type, real-world
defects at low, configurable rates (:class:`DefectRates`), and daily volumes with the structure
of the city's (:func:`daily_intensity`; every factor is per complaint type, and they multiply):

=====================  ====================================================================
structure              model
=====================  ====================================================================
level                  ``REQUESTS_PER_DAY`` x ``scale`` x the type's share; +4 % a year
weekday profile        office types peak on Monday (the weekend's backlog) and drop by 40 %
                       at the weekend; noise types peak on Friday and Saturday nights
yearly season          monthly profiles (heat in winter, noise in summer, potholes after
                       the thaw, fireworks in June-July), interpolated day by day
public holidays        US + New York, observed days included: offices x0.55, noise x1.2
days around holidays   ``HOLIDAY_NEIGHBOURS``: 24 and 31 December, Thanksgiving Friday and
                       26-30 December lower; the first working day after a holiday higher
COVID                  from 2020-03-16: office types x0.45, street x0.6, home x1.1 at the
                       trough (to 2020-05-31), back to normal by 2021-06-30
level shifts           ``sample_reference.LEVEL_SHIFTS``: app-reported parking (2021),
                       encampments (2021-06), bulky items (2020-09), all types +6 % (2022-07)
storms and events      ``STORMS``: every type drops on the storm days, then the damage they
                       leave (snow, trees, heat, water) bursts and fades; one-off waves in
                       ``sample_reference.EVENTS`` (2020 fireworks, Isaias, Ida)
noise                  Poisson counts around that expectation, per day and type
=====================  ====================================================================

The 911 End-to-End weeks follow a yearly season and the COVID dip; their call-to-pickup times
are about 3.6 s, above the 5-second target in the busy and short-staffed weeks of
``PICKUP_STRESS`` (about 11 % of the incidents of 2019-2022), as in the real data.

Determinism and streaming: each month is drawn from its own random stream
``(seed, year, month)`` and its unique keys come from a block reserved for that month, so the
same arguments give the same bytes and memory stays bounded by one month whatever the ``scale``.
A 311 month does depend on ``end``, the snapshot date: requests that would close after it are
still open, and the random draws that follow the statuses shift with them, so up to every row
of a month can differ between two ends (``start`` only cuts the first month). The ingestion
therefore treats the window as part of a landed sample's identity, like the scale and the seed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import holidays
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nyc_lakehouse.landing import records_to_table
from nyc_lakehouse.sources import sample_reference as ref
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

DEFAULT_START = date(2019, 1, 1)
DEFAULT_END = date(2022, 12, 31)
DEFAULT_SCALE = 1.0
REQUESTS_PER_DAY = 200  # at scale 1.0, before seasonality (about 300k rows over 2019-2022)
NYC311_SEED = 311
NYC911_SEED = 911
# Unique keys: 8 digits, increasing with time. Each month owns a block of keys starting at
# KEY_START + month_index * block (month_index counted from KEY_EPOCH).
KEY_START = 10_000_000
KEY_EPOCH = date(2015, 1, 1)
KEY_BLOCK_PER_SCALE = REQUESTS_PER_DAY * 31 * 3
# Requests whose closure falls more than this after the window's end are still open.
SNAPSHOT_LAG_DAYS = 14
# Longest resolution time drawn; later closures stay open.
MAX_RESOLUTION_DAYS = 400

# The days around public holidays, by week profile (ref.WEEK_PROFILES): offices close on the eves
# and the bridge days, and the requests they did not get come in on the next working day.
HOLIDAY_NEIGHBOURS: dict[str, dict[str, float]] = {
    "eve": {"weekday": 0.75, "nightlife": 1.15, "flat": 0.9},  # 24 and 31 December
    "bridge": {"weekday": 0.8, "nightlife": 1.0, "flat": 0.92},  # Thanksgiving Friday, 26-30 Dec
    "after": {"weekday": 1.15, "nightlife": 0.95, "flat": 1.03},  # first working day after
}
# Storms that hit New York: (first day, days, factor on every type while it lasts, the damage
# reported over it and the next days: complaint type -> peak factor, fading by 0.6 a day).
# Damage bursts already in ref.EVENTS (Isaias' trees, Ida's sewers) are not repeated here.
STORMS: tuple[tuple[str, int, float, dict[str, float]], ...] = (
    ("2016-01-23", 2, 0.55, {"Snow or Ice": 8.0}),  # blizzard Jonas
    ("2017-03-14", 1, 0.7, {"Snow or Ice": 5.0}),  # winter storm Stella
    ("2018-03-02", 1, 0.8, {"Damaged Tree": 4.0}),  # nor'easter Riley
    ("2019-01-20", 1, 0.85, {"HEAT/HOT WATER": 1.6}),  # ice storm, then a deep freeze
    ("2020-08-04", 1, 0.8, {}),  # tropical storm Isaias
    ("2020-12-16", 2, 0.75, {"Snow or Ice": 5.0}),  # December nor'easter
    ("2021-02-01", 2, 0.7, {}),  # the February 2021 snowstorm
    ("2021-08-22", 1, 0.85, {"Damaged Tree": 3.0}),  # tropical storm Henri
    ("2021-09-01", 2, 0.8, {"Water System": 2.0}),  # remnants of hurricane Ida
    ("2022-01-29", 1, 0.65, {"Snow or Ice": 6.0}),  # the January 2022 blizzard
)
# 911 call-to-pickup stress: (first Monday, last Monday, factor on pickup times). The city's
# target is a 5-second average pickup; these weeks miss it, as the real data does in its busy
# and short-staffed periods (about a tenth of the incidents of 2019-2022 in breaching weeks).
PICKUP_STRESS: tuple[tuple[str, str, float], ...] = (
    ("2019-07-01", "2019-07-15", 1.4),  # July 2019: heat wave, the Fourth
    ("2020-03-23", "2020-04-13", 2.2),  # the COVID call surge
    ("2020-06-01", "2020-06-15", 1.45),  # June 2020: protests, fireworks calls
    ("2021-07-05", "2021-08-02", 1.45),  # summer 2021: call-taker shortage
    ("2022-06-27", "2022-08-22", 1.5),  # summer 2022: the shortage at its worst
)

NYC311_COMPUTED_REGIONS = (
    "_computed_region_7mpf_4k6g", "_computed_region_92fq_4b7q", "_computed_region_efsh_h5xi",
    "_computed_region_f5dn_yrer", "_computed_region_sbqj_enih", "_computed_region_yeji_bk3q",
)  # fmt: skip
NYC311_SYSTEM_COLUMNS = ("_socrata_created_at", "_socrata_id", "_socrata_updated_at")
# Column order of a landed 311 table: API fields, then other keys sorted (records_to_table's rule).
NYC311_SAMPLE_COLUMNS = NYC311_FIELDS + NYC311_COMPUTED_REGIONS + NYC311_SYSTEM_COLUMNS
NYC911_SAMPLE_COLUMNS = NYC911_FIELDS + ("_socrata_id", "_socrata_updated_at")

_HUMAN_ADDRESS = json.dumps({"address": "", "city": "", "state": "", "zip": ""})
# location -> compact, key-sorted JSON, exactly as records_to_table serialises the API's object.
_LOCATION_PREFIX = json.dumps({"human_address": _HUMAN_ADDRESS}, separators=(",", ":"))[:-1]
_LOCATION_PREFIX += ',"latitude":"'
_LOCATION_MIDDLE = '","longitude":"'
_LOCATION_SUFFIX = '"}'
_INVALID_ZIPS = ("N/A", "0", "1234", "00000", "NA")
_ROW_ID_ALPHABET = np.frombuffer(b"abcdefghijkmnpqrstuvwxyz23456789", dtype=np.uint8)


@dataclass(frozen=True)
class DefectRates:
    """Share of sample rows with each real-world defect (independent draws)."""

    zip_missing: float = 0.010  # incident_zip key absent
    zip_invalid: float = 0.004  # 'N/A', '0', '1234', '00000', 'NA' or ZIP+4 '10001-1234'
    closed_before_created: float = 0.003
    closed_in_future: float = 0.001  # closed_date 80-90 years after created
    closed_date_missing: float = 0.004  # status Closed, no closed_date (resolution date present)
    location_missing: float = 0.012  # no coordinates, no location, no computed regions
    location_zero: float = 0.001  # latitude/longitude "0"
    borough_unspecified: float = 0.005  # borough 'Unspecified' although the ZIP is valid
    exact_duplicate: float = 0.002  # the same record twice, byte for byte
    resent: float = 0.03  # an earlier open version plus the later closed version


DEFAULT_DEFECTS = DefectRates()


def sample_defaults() -> dict[str, Any]:
    """Default window, scale, seeds and defect rates of the bundled sample."""
    return {
        "start": DEFAULT_START.isoformat(),
        "end": DEFAULT_END.isoformat(),
        "scale": DEFAULT_SCALE,
        "requests_per_day": REQUESTS_PER_DAY,
        "nyc311_seed": NYC311_SEED,
        "nyc911_seed": NYC911_SEED,
        "defects": asdict(DEFAULT_DEFECTS),
    }


def months_between(start: date, end: date) -> list[tuple[int, int]]:
    """Calendar months (year, month) that intersect [start, end]."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


# ============================================================================================
# 311 service requests
# ============================================================================================


def generate_nyc311(
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    scale: float = DEFAULT_SCALE,
    seed: int = NYC311_SEED,
    *,
    defects: DefectRates = DEFAULT_DEFECTS,
) -> Iterator[pa.Table]:
    """Yield one landing-format 311 table per calendar month of [start, end] (inclusive).

    ``scale`` multiplies the volume (1.0 = about 200 requests a day). Within a month, the
    earlier (open) versions of re-sent requests come first, then every request in
    ``created_date`` order, then the exact duplicates.
    """
    start, end = _as_date(start), _as_date(end)
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if start < KEY_EPOCH:
        raise ValueError(f"the sample starts at {KEY_EPOCH} at the earliest, got {start}")
    model = _model_311()
    snapshot = _epoch_seconds(end + timedelta(days=SNAPSHOT_LAG_DAYS))
    for year, month in months_between(start, end):
        table = _month_311(model, year, month, scale, seed, defects, snapshot)
        created = _window_mask(table["created_date"], start, end)
        yield table if created is None else table.filter(created)


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _epoch_seconds(day: date) -> int:
    return int((day - date(1970, 1, 1)).total_seconds())


def _window_mask(created: pa.ChunkedArray, start: date, end: date) -> pa.ChunkedArray | None:
    lo, hi = start.isoformat(), (end + timedelta(days=1)).isoformat()
    first, last = pc.min(created).as_py(), pc.max(created).as_py()
    if first is None or (first >= lo and last < hi):
        return None
    return pc.and_(pc.greater_equal(created, lo), pc.less(created, hi))


@dataclass(frozen=True)
class _Model311:
    """The reference tables as arrays, computed once per process."""

    types: tuple[ref.ComplaintType, ...]
    share: np.ndarray  # (T,)
    season: np.ndarray  # (T, 12) mean 1
    week: np.ndarray  # (T, 7) mean 1
    holiday: np.ndarray  # (T,)
    covid: np.ndarray  # (T,) factor at the trough
    hour_cum: np.ndarray  # (T * 24,) cumulative per type, plus the type index
    agency: pa.Array  # (T,) strings
    agency_name: pa.Array
    complaint_type: pa.Array
    descriptors: pa.Array  # flattened
    descriptor_offset: np.ndarray
    descriptor_count: np.ndarray
    location_types: pa.Array
    location_offset: np.ndarray
    location_count: np.ndarray
    resolution_log_median: np.ndarray
    resolution_sigma: np.ndarray
    open_share: np.ndarray
    due_days: np.ndarray  # 0 = none
    vehicle: np.ndarray  # bool
    facility_na: np.ndarray  # bool: facility_type 'N/A'
    is_tlc: np.ndarray
    is_traffic: np.ndarray
    done_text: pa.Array  # flattened resolution texts (closed), per type offsets
    done_offset: np.ndarray
    done_count: np.ndarray
    open_text: pa.Array
    open_offset: np.ndarray
    open_count: np.ndarray
    # geography
    zip_cum: np.ndarray
    zip_code: pa.Array
    zip_lat: np.ndarray
    zip_lon: np.ndarray
    zip_borough: np.ndarray  # index into BOROUGHS
    zip_board: pa.Array
    zip_city: pa.Array
    zip_regions: np.ndarray  # (Z, 6) ints in NYC311_COMPUTED_REGIONS order
    boroughs: pa.Array
    street_offset: np.ndarray
    street_count: np.ndarray
    streets: pa.Array


def _flatten(groups: list[tuple[str, ...]]) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    counts = np.array([len(g) for g in groups], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    flat = pa.array([item for g in groups for item in g], type=pa.string())
    return flat, offsets, counts


def _normalised(profile: tuple[float, ...]) -> np.ndarray:
    values = np.asarray(profile, dtype=float)
    return values / values.mean()


@lru_cache(maxsize=1)
def _model_311() -> _Model311:
    types = ref.COMPLAINT_TYPES
    hour = np.array([_normalised(ref.HOUR_PROFILES[t.hours]) for t in types])
    hour_cum = np.cumsum(hour / hour.sum(axis=1, keepdims=True), axis=1)
    # Type t's cumulative profile shifted to [t, t + 1]: one searchsorted draws every row's hour.
    hour_cum = (hour_cum + np.arange(len(types))[:, None]).ravel()
    descriptors, d_off, d_cnt = _flatten([t.descriptors for t in types])
    locations, l_off, l_cnt = _flatten([t.location_types for t in types])
    done, o_off, o_cnt = _flatten([ref.RESOLUTIONS[t.agency][0] for t in types])
    opened, p_off, p_cnt = _flatten([ref.RESOLUTIONS[t.agency][1] for t in types])

    zips = [(b, *z) for b in ref.BOROUGHS for z in ref.ZIPS[b]]
    weights_rng = np.random.default_rng(20240526)  # fixed: ZIP popularity is part of the model
    zip_weight = np.array([ref.BOROUGH_SHARE[b] / len(ref.ZIPS[b]) for b, *_ in zips])
    zip_weight *= weights_rng.uniform(0.5, 1.5, len(zips))
    regions = np.column_stack(
        [
            weights_rng.integers(1, 78, len(zips)),  # 7mpf_4k6g (police precinct-like)
            weights_rng.integers(1, 52, len(zips)),  # 92fq_4b7q (council district-like)
            weights_rng.integers(10_000, 18_200, len(zips)),  # efsh_h5xi (zip polygons)
            weights_rng.integers(1, 72, len(zips)),  # f5dn_yrer
            np.zeros(len(zips), dtype=np.int64),  # sbqj_enih = 7mpf_4k6g, set below
            [ref.REGION_BOROUGH_CODE[b] for b, *_ in zips],  # yeji_bk3q borough code
        ]
    ).astype(np.int64)
    regions[:, 4] = regions[:, 0]
    streets, s_off, s_cnt = _flatten([ref.STREETS[b] for b in ref.BOROUGHS])
    return _Model311(
        types=types,
        share=np.array([t.share for t in types]) / sum(t.share for t in types),
        season=np.array([_normalised(ref.SEASON_PROFILES[t.season]) for t in types]),
        week=np.array([_normalised(ref.WEEK_PROFILES[t.week]) for t in types]),
        holiday=np.array([ref.HOLIDAY_FACTOR[t.week] for t in types]),
        covid=np.array([ref.COVID_FACTORS[t.covid] for t in types]),
        hour_cum=hour_cum,
        agency=pa.array([t.agency for t in types]),
        agency_name=pa.array([ref.AGENCY_NAMES[t.agency] for t in types]),
        complaint_type=pa.array([t.complaint_type for t in types]),
        descriptors=descriptors,
        descriptor_offset=d_off,
        descriptor_count=d_cnt,
        location_types=locations,
        location_offset=l_off,
        location_count=l_cnt,
        resolution_log_median=np.log([t.resolution_hours for t in types]),
        resolution_sigma=np.array([t.resolution_sigma for t in types]),
        open_share=np.array([t.open_share for t in types]),
        due_days=np.array([t.due_days or 0 for t in types]),
        vehicle=np.array([t.vehicle for t in types]),
        facility_na=np.array([t.agency in ("DOT", "DSNY") for t in types]),
        is_tlc=np.array([t.agency == "TLC" for t in types]),
        is_traffic=np.array([t.complaint_type == "Traffic" for t in types]),
        done_text=done,
        done_offset=o_off,
        done_count=o_cnt,
        open_text=opened,
        open_offset=p_off,
        open_count=p_cnt,
        zip_cum=np.cumsum(zip_weight / zip_weight.sum()),
        zip_code=pa.array([z[1] for z in zips]),
        zip_lat=np.array([z[2] for z in zips]),
        zip_lon=np.array([z[3] for z in zips]),
        zip_borough=np.array([ref.BOROUGHS.index(z[0]) for z in zips]),
        zip_board=pa.array([f"{z[4]:02d} {z[0]}" for z in zips]),
        zip_city=pa.array([z[5] for z in zips]),
        zip_regions=regions,
        boroughs=pa.array(list(ref.BOROUGHS)),
        street_offset=s_off,
        street_count=s_cnt,
        streets=streets,
    )


@lru_cache(maxsize=64)
def _holiday_set(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", subdiv="NY", years=year).keys())


def daily_intensity(days: list[date], scale: float = 1.0) -> np.ndarray:
    """Expected requests per (day, complaint type): the sample's volume model, shape (D, T).

    The factors multiply, in the order of the table in the module docstring.
    """
    model = _model_311()
    n_days = len(days)
    weekday = np.array([d.weekday() for d in days])
    lam = REQUESTS_PER_DAY * scale * model.share[None, :] * _season(days, model.season)
    lam = lam * model.week[:, weekday].T
    is_holiday = np.array([d in _holiday_set(d.year) for d in days])
    lam[is_holiday] *= model.holiday[None, :]
    lam *= _around_holidays(days, model.types)
    lam *= _covid_factor(days, model.covid)
    years = np.array([(d - DEFAULT_START).days / 365.25 for d in days])
    lam *= ((1 + ref.YEARLY_GROWTH) ** years)[:, None]
    names = [t.complaint_type for t in model.types]
    for complaint_type, first_day, factor in ref.LEVEL_SHIFTS:
        after = np.array([d >= date.fromisoformat(first_day) for d in days])
        cols = slice(None) if complaint_type == "*" else names.index(complaint_type)
        lam[after, cols] *= factor
    for complaint_type, first_day, last_day, factor in ref.EVENTS:
        lo, hi = date.fromisoformat(first_day), date.fromisoformat(last_day)
        during = np.array([lo <= d <= hi for d in days])
        lam[during, names.index(complaint_type)] *= factor
    lam *= _storms(days, names)
    assert lam.shape == (n_days, len(model.types))
    return lam


# Mid-month day of the year: the monthly season profiles are anchored there and interpolated,
# so the season changes smoothly instead of stepping on the first of each month.
_MID_MONTH = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30]) + 15.5


def _season(days: list[date], season: np.ndarray) -> np.ndarray:
    """Each type's yearly season on each day, shape (D, T): monthly profiles made smooth."""
    day_of_year = np.array([min(d.timetuple().tm_yday, 365) - 1 for d in days], dtype=float)
    return np.column_stack(
        [np.interp(day_of_year, _MID_MONTH, profile, period=365) for profile in season]
    )


def _thanksgiving(year: int) -> date:
    november = date(year, 11, 1)
    return november + timedelta(days=(3 - november.weekday()) % 7 + 21)


def _day_kind(day: date) -> str | None:
    """Which of HOLIDAY_NEIGHBOURS a day is (None: an ordinary day or a holiday itself)."""
    if day in _holiday_set(day.year) or day.weekday() >= 5:
        return None
    if (day.month, day.day) in ((12, 24), (12, 31)):
        return "eve"
    if day == _thanksgiving(day.year) + timedelta(days=1) or (
        day.month == 12 and 26 <= day.day <= 30
    ):
        return "bridge"
    previous = day - timedelta(days=1)
    while previous.weekday() >= 5 and previous not in _holiday_set(previous.year):
        previous -= timedelta(days=1)  # a Monday after a Friday holiday catches up too
    if previous in _holiday_set(previous.year):
        return "after"
    return None


def _around_holidays(days: list[date], types: tuple[ref.ComplaintType, ...]) -> np.ndarray:
    """Factors of the days around holidays, shape (D, T), by each type's week profile."""
    factor = np.ones((len(days), len(types)))
    for i, day in enumerate(days):
        kind = _day_kind(day)
        if kind:
            factor[i] = [HOLIDAY_NEIGHBOURS[kind][t.week] for t in types]
    return factor


def _storms(days: list[date], names: list[str]) -> np.ndarray:
    """Storm days: fewer requests of every other kind, and a burst of the damage they leave."""
    factor = np.ones((len(days), len(names)))
    index = {day: i for i, day in enumerate(days)}
    for first_day, length, dip, aftermath in STORMS:
        first = date.fromisoformat(first_day)
        spared = [names.index(complaint_type) for complaint_type in aftermath]
        for offset in range(length):
            if first + timedelta(days=offset) in index:
                row = index[first + timedelta(days=offset)]
                kept = factor[row, spared]
                factor[row] *= dip
                factor[row, spared] = kept  # the damage is reported whatever the weather
        for complaint_type, burst in aftermath.items():
            column = names.index(complaint_type)
            # the damage is reported over the storm and the next days, fading out
            for offset in range(length + 4):
                day = first + timedelta(days=offset)
                if day in index:
                    factor[index[day], column] *= 1 + (burst - 1) * 0.6**offset
    return factor


def _covid_factor(days: list[date], trough: np.ndarray) -> np.ndarray:
    start = date.fromisoformat(ref.COVID_START)
    trough_end = date.fromisoformat(ref.COVID_TROUGH_END)
    recovered = date.fromisoformat(ref.COVID_RECOVERED)
    factor = np.ones((len(days), len(trough)))
    for i, d in enumerate(days):
        if start <= d <= trough_end:
            factor[i] = trough
        elif trough_end < d <= recovered:
            progress = (d - trough_end).days / (recovered - trough_end).days
            factor[i] = trough + (1 - trough) * progress
    return factor


def _pick(rng: np.random.Generator, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Uniform pick of one item per row from each row's group (flattened groups)."""
    return offsets + np.floor(rng.random(len(offsets)) * counts).astype(np.int64)


def _weighted(rng: np.random.Generator, choices: tuple[tuple[str, float], ...], n: int) -> pa.Array:
    weights = np.array([w for _, w in choices])
    idx = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(n), side="right")
    return pa.array([c for c, _ in choices]).take(pa.array(np.minimum(idx, len(choices) - 1)))


def _null_where(values: pa.Array, absent: np.ndarray) -> pa.Array:
    """``values`` with nulls where ``absent``: only the validity bitmap is rebuilt."""
    absent = np.asarray(absent, dtype=bool)
    if not absent.any():
        return values
    if values.offset != 0 or not pa.types.is_string(values.type):
        return pc.if_else(pa.array(absent), pa.scalar(None, values.type), values)
    valid = ~absent
    if values.null_count:
        valid &= np.asarray(values.is_valid())
    validity = pa.array(valid).buffers()[1]
    buffers = values.buffers()
    return pa.Array.from_buffers(
        values.type, len(values), [validity, buffers[1], buffers[2]], int((~valid).sum())
    )


def _fixed_width(chars: np.ndarray, absent: np.ndarray | None = None) -> pa.Array:
    """An (n, width) uint8 matrix of ASCII -> a string array, built from buffers (no copies
    through Python objects)."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    validity = None
    null_count = 0
    if absent is not None and absent.any():
        validity = pa.array(~absent).buffers()[1]
        null_count = int(absent.sum())
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets),
        pa.py_buffer(np.ascontiguousarray(chars)),
        validity,
        null_count,
    )


@lru_cache(maxsize=2)
def _time_of_day(suffix: str) -> np.ndarray:
    """'HH:MM:SS' + suffix for every second of a day, as an (86400, 8 + len(suffix)) matrix."""
    seconds = np.arange(86_400)
    text = "".join(
        f"{h:02d}:{m:02d}:{s:02d}{suffix}"
        for h, m, s in zip(seconds // 3600, seconds // 60 % 60, seconds % 60, strict=True)
    )
    return np.frombuffer(text.encode(), dtype=np.uint8).reshape(86_400, -1)


def _timestamp_text(seconds: np.ndarray, suffix: str, absent: np.ndarray | None = None) -> pa.Array:
    days = seconds // 86_400
    first_day = int(days.min()) if len(days) else 0
    if len(days) and days.max() - first_day < 1000:  # cheaper than np.unique's sort
        unique_days = np.arange(first_day, int(days.max()) + 1)
        day_of_row = days - first_day
    else:
        unique_days, day_of_row = np.unique(days, return_inverse=True)
    day_text = "".join(f"{d}T" for d in np.datetime_as_string(unique_days.astype("datetime64[D]")))
    day_chars = np.frombuffer(day_text.encode(), dtype=np.uint8).reshape(len(unique_days), -1)
    chars = np.concatenate(
        [day_chars[day_of_row.ravel()], _time_of_day(suffix)[seconds - days * 86_400]], axis=1
    )
    return _fixed_width(chars, absent)


def _floating(seconds: np.ndarray, absent: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds (NYC local wall time) -> '2024-05-27T02:08:51.000'."""
    return _timestamp_text(seconds, ".000", absent)


def _utc_z(local_seconds: np.ndarray) -> pa.Array:
    """NYC local wall time (epoch seconds) -> UTC '2024-05-27T06:08:51.000Z'."""
    return _timestamp_text(local_seconds + _utc_offset(local_seconds), ".000Z")


def _utc_offset(local_seconds: np.ndarray) -> np.ndarray:
    """Seconds to add to New York wall time to get UTC (US daylight-saving rules since 2007).

    A wall time in the repeated autumn hour is read as daylight time, one in the skipped
    spring hour as daylight time too: the same choice Socrata's loaders make."""
    offset = np.full(local_seconds.shape, 5 * 3600, dtype=np.int64)
    years = (local_seconds.astype("datetime64[s]").astype("datetime64[Y]").astype(int)) + 1970
    for year in np.unique(years):
        march = date(int(year), 3, 1)
        dst_start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)  # 2nd Sunday
        november = date(int(year), 11, 1)
        dst_end = november + timedelta(days=(6 - november.weekday()) % 7)  # 1st Sunday
        lo = _epoch_seconds(dst_start) + 2 * 3600
        hi = _epoch_seconds(dst_end) + 2 * 3600
        in_dst = (years == year) & (local_seconds >= lo) & (local_seconds < hi)
        offset[in_dst] = 4 * 3600
    return offset


def _socrata_row_ids(keys: np.ndarray, seed: int) -> pa.Array:
    """Stable Socrata-style row ids ('row-abcd~efgh_ijkm') derived from the unique key."""
    mixed = (keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(seed * 7919)
    mixed ^= mixed >> np.uint64(29)
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(32)
    chars = np.empty((len(keys), 18), dtype=np.uint8)
    chars[:, :4] = np.frombuffer(b"row-", dtype=np.uint8)
    chars[:, 8] = ord("~")
    chars[:, 13] = ord("_")
    positions = [4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17]
    for i, pos in enumerate(positions):
        chars[:, pos] = _ROW_ID_ALPHABET[((mixed >> np.uint64(5 * i)) & np.uint64(31)).astype(int)]
    return _fixed_width(chars)


def _month_311(
    model: _Model311,
    year: int,
    month: int,
    scale: float,
    seed: int,
    defects: DefectRates,
    snapshot: int,
) -> pa.Table:
    rng = np.random.default_rng([seed, year, month])
    first = date(year, month, 1)
    n_days = (date(year + month // 12, month % 12 + 1, 1) - first).days
    days = [first + timedelta(days=i) for i in range(n_days)]
    counts = rng.poisson(daily_intensity(days, scale))
    n_types = counts.shape[1]
    type_idx = np.repeat(np.tile(np.arange(n_types), n_days), counts.ravel())
    day_idx = np.repeat(np.repeat(np.arange(n_days), n_types), counts.ravel())
    n = len(type_idx)

    hour = np.searchsorted(model.hour_cum, rng.random(n) + type_idx, side="right")
    hour = (hour - type_idx * 24).clip(0, 23)
    created = _epoch_seconds(first) + day_idx * 86_400 + hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(created, kind="stable")
    type_idx, created = type_idx[order], created[order]

    month_index = (year - KEY_EPOCH.year) * 12 + (month - 1)
    block = int(math.ceil(KEY_BLOCK_PER_SCALE * scale))
    keys = KEY_START + month_index * block + np.cumsum(rng.integers(1, 3, n))
    if n and keys[-1] >= KEY_START + (month_index + 1) * block:
        raise RuntimeError(f"{year}-{month:02d}: {n} requests overflow the key block {block}")

    cols: dict[str, pa.Array] = {}
    cols["unique_key"] = pa.array(keys).cast(pa.string())
    cols["created_date"] = _floating(created)

    # --- who, what, where ------------------------------------------------------------------
    cols["agency"] = model.agency.take(pa.array(type_idx))
    cols["agency_name"] = model.agency_name.take(pa.array(type_idx))
    cols["complaint_type"] = model.complaint_type.take(pa.array(type_idx))
    cols["descriptor"] = model.descriptors.take(
        pa.array(_pick(rng, model.descriptor_offset[type_idx], model.descriptor_count[type_idx]))
    )
    location_type = model.location_types.take(
        pa.array(_pick(rng, model.location_offset[type_idx], model.location_count[type_idx]))
    )
    cols["location_type"] = _null_where(location_type, rng.random(n) < 0.012)

    zip_idx = np.searchsorted(model.zip_cum, rng.random(n), side="right").clip(
        0, len(model.zip_lat) - 1
    )
    borough_idx = model.zip_borough[zip_idx]
    zip_missing = rng.random(n) < defects.zip_missing
    zip_invalid = (rng.random(n) < defects.zip_invalid) & ~zip_missing
    zip_code = _zip_codes(rng, model, zip_idx, zip_invalid)
    cols["incident_zip"] = _null_where(zip_code, zip_missing)

    street_pick = _pick(rng, model.street_offset[borough_idx], model.street_count[borough_idx])
    cross_1 = _pick(rng, model.street_offset[borough_idx], model.street_count[borough_idx])
    cross_2 = _pick(rng, model.street_offset[borough_idx], model.street_count[borough_idx])
    street = model.streets.take(pa.array(street_pick))
    address_type = _weighted(rng, ref.ADDRESS_TYPES, n)
    is_intersection = np.asarray(pc.equal(address_type, "INTERSECTION"))
    is_highway = model.is_traffic[type_idx] & (rng.random(n) < 0.4)
    no_address = is_intersection | is_highway
    house = pa.array(rng.integers(1, 3000, n)).cast(pa.string())
    cols["incident_address"] = _null_where(
        pc.binary_join_element_wise(house, street, " "), no_address
    )
    cols["street_name"] = _null_where(street, no_address)
    cross_1_name = model.streets.take(pa.array(cross_1))
    cross_2_name = model.streets.take(pa.array(cross_2))
    cols["cross_street_1"] = _null_where(cross_1_name, is_highway | (rng.random(n) < 0.02))
    cols["cross_street_2"] = _null_where(cross_2_name, is_highway | (rng.random(n) < 0.02))
    cols["intersection_street_1"] = _null_where(cross_1_name, is_highway | (rng.random(n) < 0.03))
    cols["intersection_street_2"] = _null_where(cross_2_name, is_highway | (rng.random(n) < 0.03))
    cols["address_type"] = _null_where(address_type, is_highway)
    cols["city"] = _null_where(model.zip_city.take(pa.array(zip_idx)), rng.random(n) < 0.06)
    cols["landmark"] = _null_where(street, no_address | (rng.random(n) < 0.1))
    cols["facility_type"] = _null_where(
        pa.repeat(pa.scalar("N/A"), n), ~model.facility_na[type_idx]
    )

    # --- status and resolution -----------------------------------------------------------------
    hours = np.exp(
        model.resolution_log_median[type_idx]
        + model.resolution_sigma[type_idx] * rng.standard_normal(n)
    ).clip(0.02, MAX_RESOLUTION_DAYS * 24)
    closed = created + (hours * 3600).astype(np.int64)
    still_open = (rng.random(n) < model.open_share[type_idx]) | (closed > snapshot)
    before_created = (rng.random(n) < defects.closed_before_created) & ~still_open
    closed[before_created] = created[before_created] - rng.integers(
        3600, 30 * 86_400, before_created.sum()
    )
    in_future = (rng.random(n) < defects.closed_in_future) & ~still_open & ~before_created
    closed[in_future] = (
        created[in_future] + rng.integers(80 * 365, 90 * 365, in_future.sum()) * 86_400
    )
    closed_missing = (rng.random(n) < defects.closed_date_missing) & ~still_open
    cols["closed_date"] = _floating(closed, still_open | closed_missing)

    open_status = _weighted(rng, ref.OPEN_STATUSES, n)
    cols["status"] = pc.if_else(pa.array(still_open), open_status, pa.scalar("Closed"))
    due = created + model.due_days[type_idx] * 86_400
    cols["due_date"] = _floating(due, (model.due_days[type_idx] == 0) | (rng.random(n) < 0.4))
    # Closed rows get a closing text, open rows an "in progress" one (one take over both lists).
    done_pick = _pick(rng, model.done_offset[type_idx], model.done_count[type_idx])
    open_pick = _pick(rng, model.open_offset[type_idx], model.open_count[type_idx])
    texts = pa.concat_arrays([model.done_text, model.open_text])
    resolution_text = texts.take(
        pa.array(np.where(still_open, open_pick + len(model.done_text), done_pick))
    )
    cols["resolution_description"] = _null_where(
        resolution_text, (still_open & (rng.random(n) < 0.4)) | (rng.random(n) < 0.01)
    )
    first_action = created + rng.integers(0, 6 * 3600, n)
    action = np.where(
        still_open, np.minimum(first_action, snapshot), closed + rng.integers(0, 600, n)
    )
    action[before_created | in_future] = created[before_created | in_future] + 3600
    action_missing = rng.random(n) < 0.04
    cols["resolution_action_updated_date"] = _floating(action, action_missing & ~closed_missing)

    # --- geography -----------------------------------------------------------------------------
    borough_names = model.boroughs.take(pa.array(borough_idx))
    unspecified = rng.random(n) < defects.borough_unspecified
    board = model.zip_board.take(pa.array(zip_idx))
    board_unspecified = pc.binary_join_element_wise("Unspecified", borough_names, " ")
    board = pc.if_else(pa.array(rng.random(n) < 0.01), board_unspecified, board)
    cols["community_board"] = pc.if_else(pa.array(unspecified), pa.scalar("0 Unspecified"), board)
    has_lot = ~no_address & (rng.random(n) < 0.88)
    bbl = (
        (borough_idx_to_bbl(borough_idx)) * 1_000_000_000
        + rng.integers(1, 16_000, n) * 10_000
        + rng.integers(1, 200, n)
    )
    cols["bbl"] = _null_where(pa.array(bbl).cast(pa.string()), ~has_lot)
    borough_text = pc.if_else(pa.array(unspecified), pa.scalar("Unspecified"), borough_names)
    cols["borough"] = borough_text

    lat = (model.zip_lat[zip_idx] + rng.normal(0, 0.005, n)).clip(
        ref.LAT_MIN + 1e-4, ref.LAT_MAX - 1e-4
    )
    lon = (model.zip_lon[zip_idx] + rng.normal(0, 0.006, n)).clip(
        ref.LON_MIN + 1e-4, ref.LON_MAX - 1e-4
    )
    ax, bx, cx = ref.STATE_PLANE_X
    ay, by, cy = ref.STATE_PLANE_Y
    x_plane = np.rint(ax + bx * lat + cx * lon).astype(np.int64)
    y_plane = np.rint(ay + by * lat + cy * lon).astype(np.int64)
    no_location = (rng.random(n) < defects.location_missing) | is_highway
    zero_location = (rng.random(n) < defects.location_zero) & ~no_location
    lat[zero_location] = 0.0
    lon[zero_location] = 0.0
    no_plane = no_location | zero_location
    cols["x_coordinate_state_plane"] = _null_where(pa.array(x_plane).cast(pa.string()), no_plane)
    cols["y_coordinate_state_plane"] = _null_where(pa.array(y_plane).cast(pa.string()), no_plane)
    cols["open_data_channel_type"] = _weighted(rng, ref.CHANNELS, n)
    cols["park_facility_name"] = pa.repeat(pa.scalar("Unspecified"), n)
    cols["park_borough"] = borough_text
    vehicle = model.vehicle[type_idx] & (rng.random(n) < 0.45)
    cols["vehicle_type"] = _null_where(_weighted(rng, ref.VEHICLE_TYPES, n), ~vehicle)
    tlc = model.is_tlc[type_idx]
    cols["taxi_company_borough"] = _null_where(borough_names, ~(tlc & (rng.random(n) < 0.5)))
    cols["taxi_pick_up_location"] = _null_where(
        _weighted(rng, (("Other", 0.7), ("JFK Airport", 0.15), ("LaGuardia Airport", 0.15)), n),
        ~tlc,
    )
    highway = rng.integers(0, len(ref.HIGHWAYS), n)
    for i, column in enumerate(("bridge_highway_name", "bridge_highway_direction")):
        values = pa.array([h[i] for h in ref.HIGHWAYS]).take(pa.array(highway))
        cols[column] = _null_where(values, ~is_highway)
    cols["road_ramp"] = _null_where(pa.repeat(pa.scalar("Roadway"), n), ~is_highway)
    cols["bridge_highway_segment"] = _null_where(
        pa.array([h[2] for h in ref.HIGHWAYS]).take(pa.array(highway)), ~is_highway
    )
    lat_text = _null_where(pa.array(lat).cast(pa.string()), no_location)
    lon_text = _null_where(pa.array(lon).cast(pa.string()), no_location)
    cols["latitude"], cols["longitude"] = lat_text, lon_text
    cols["location"] = pc.binary_join_element_wise(
        _LOCATION_PREFIX, lat_text, _LOCATION_MIDDLE, lon_text, _LOCATION_SUFFIX, ""
    )
    regions = model.zip_regions[zip_idx]
    region_missing = no_location | unspecified
    for i, column in enumerate(NYC311_COMPUTED_REGIONS):
        absent = region_missing | ((rng.random(n) < 0.003) if i == 2 else False)
        cols[column] = _null_where(pa.array(regions[:, i]).cast(pa.string()), absent)

    # --- Socrata system fields -----------------------------------------------------------------
    loaded_at = created + rng.integers(3600, 30 * 3600, n)
    last_change = np.maximum(np.maximum(action, np.where(still_open, created, closed)), created)
    last_change = np.minimum(last_change, np.maximum(snapshot, created))
    updated_at = np.maximum(last_change + rng.integers(1800, 36 * 3600, n), loaded_at + 60)
    cols["_socrata_created_at"] = _utc_z(loaded_at)
    cols["_socrata_id"] = _socrata_row_ids(keys, seed)
    cols["_socrata_updated_at"] = _utc_z(updated_at)
    final = pa.table({name: cols[name] for name in NYC311_SAMPLE_COLUMNS})

    # --- re-sent versions and exact duplicates -------------------------------------------------
    # A re-sent request: the first fetch saw an earlier, open version; the final version comes
    # again later with the same key and :id and a newer :updated_at. The earlier versions open
    # the month's table, so they precede their final versions.
    resent = (rng.random(n) < defects.resent) & ~still_open & ~before_created & ~in_future
    resent &= ~closed_missing
    table = final
    if resent.any():
        rows = np.flatnonzero(resent)
        k = len(rows)
        first_update = np.minimum(
            loaded_at[rows] + rng.integers(60, 3600, k), updated_at[rows] - 60
        )
        earlier_values = {
            "closed_date": pa.nulls(k, pa.string()),
            "status": _weighted(rng, (("In Progress", 0.5), ("Open", 0.35), ("Assigned", 0.15)), k),
            "resolution_description": _null_where(
                model.open_text.take(pa.array(open_pick[rows])), rng.random(k) < 0.5
            ),
            "resolution_action_updated_date": _floating(first_action[rows]),
            "_socrata_updated_at": _utc_z(np.maximum(first_update, loaded_at[rows])),
        }
        earlier = final.take(pa.array(rows))
        for name, values in earlier_values.items():
            earlier = earlier.set_column(earlier.schema.get_field_index(name), name, values)
        table = pa.concat_tables([earlier, final])
    # Exact duplicates are taken from the single-chunk final table: take() on the concatenated
    # table would first copy every column into one chunk.
    duplicates = np.flatnonzero(rng.random(n) < defects.exact_duplicate)
    if len(duplicates):
        table = pa.concat_tables([table, final.take(pa.array(duplicates))])
    return table


def _zip_codes(
    rng: np.random.Generator, model: _Model311, zip_idx: np.ndarray, invalid: np.ndarray
) -> pa.Array:
    """ZIP codes, with invalid values ('N/A', '0', ..., ZIP+4) where ``invalid``: one take over
    the real ZIPs followed by the invalid values of this month."""
    rows = np.flatnonzero(invalid)
    choice = rng.integers(0, len(_INVALID_ZIPS), len(rows))
    plus_four = rng.random(len(rows)) < 0.3
    zips = model.zip_code.to_pylist()
    plus_four_text = [
        f"{zips[z]}-{d}"
        for z, d in zip(
            zip_idx[rows[plus_four]], rng.integers(1000, 10_000, int(plus_four.sum())), strict=True
        )
    ]
    dictionary = pa.concat_arrays(
        [model.zip_code, pa.array(_INVALID_ZIPS), pa.array(plus_four_text, pa.string())]
    )
    index = zip_idx.copy()
    index[rows] = len(zips) + choice
    index[rows[plus_four]] = len(zips) + len(_INVALID_ZIPS) + np.arange(int(plus_four.sum()))
    return dictionary.take(pa.array(index))


def borough_idx_to_bbl(borough_idx: np.ndarray) -> np.ndarray:
    """Index into BOROUGHS -> the BBL's leading borough digit."""
    digits = np.array([ref.BBL_BOROUGH_DIGIT[b] for b in ref.BOROUGHS], dtype=np.int64)
    return digits[borough_idx]


# ============================================================================================
# 911 End-to-End weekly
# ============================================================================================


def generate_nyc911(
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    seed: int = NYC911_SEED,
) -> Iterator[pa.Table]:
    """Yield one landing-format 911 End-to-End table per calendar month of [start, end].

    One row per week x agency x final incident type, for every week (Monday) starting in the
    window; ``week_start_date`` as the API gives it (``2019-06-24T00:00:00.000``); numbers as
    strings; segments an agency doesn't report are absent. About 2% of rows come twice: a later
    revision (same ``_socrata_id``, newer ``_socrata_updated_at``, revised figures).
    """
    start, end = _as_date(start), _as_date(end)
    for year, month in months_between(start, end):
        first = date(year, month, 1)
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        monday = first + timedelta(days=(7 - first.weekday()) % 7)
        weeks = []
        while monday <= last:
            if start <= monday <= end:
                weeks.append(monday)
            monday += timedelta(days=7)
        rng = np.random.default_rng([seed, year, month])
        records = _weeks_911(rng, weeks, year, month, seed)
        yield _records_table_911(records)


def _records_table_911(records: list[dict[str, str]]) -> pa.Table:
    table = records_to_table(records, "nyc911")
    columns = {}
    for name in NYC911_SAMPLE_COLUMNS:
        columns[name] = (
            table[name] if name in table.column_names else pa.nulls(table.num_rows, pa.string())
        )
    return pa.table(columns)


def _number(value: float, decimals: int = 2) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _weeks_911(
    rng: np.random.Generator, weeks: list[date], year: int, month: int, seed: int
) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    revisions: list[dict[str, str]] = []
    covid = _covid_factor(weeks, np.array([0.85]))[:, 0] if weeks else np.array([])
    stress = [pickup_stress(week) for week in weeks]
    for w, week in enumerate(weeks):
        season = 1 + 0.08 * math.sin(2 * math.pi * (week.timetuple().tm_yday - 100) / 365.25)
        for t, kind in enumerate(ref.INCIDENT_TYPES):
            if kind.rare and rng.random() > 0.1:
                continue
            level = kind.weekly_incidents * season * (covid[w] if kind.agency != "EMS" else 1.05)
            count = max(1, int(rng.poisson(level)) if not kind.rare else int(rng.integers(1, 6)))
            load = 1 + 0.5 * (season - 1)  # busier weeks respond a little slower
            record = {
                "week_start_date": f"{week.isoformat()}T00:00:00.000",
                "agency": kind.agency,
                "final_incident_type": kind.incident_type,
                "of_incidents_calculated": str(count),
            }
            for field, base in zip(ref.NYC911_COMMON_FIELDS, kind.common, strict=True):
                if field in PICKUP_FIELDS:
                    base *= stress[w]
                record[field] = _duration(rng, field, base, load)
            if kind.ems:
                for field, base in zip(ref.NYC911_EMS_FIELDS, kind.ems, strict=True):
                    record[field] = _duration(rng, field, base, load)
            if kind.fdny and week >= date.fromisoformat(ref.NYC911_FDNY_FIELDS_FROM):
                for field, base in zip(ref.NYC911_FDNY_FIELDS, kind.fdny, strict=True):
                    record[field] = _duration(rng, field, base, load)
            row_number = (week.toordinal() * 64 + t) * 7 + seed
            record[":id"] = "row-" + _row_id_911(row_number)
            published = datetime.combine(week + timedelta(days=35), datetime.min.time())
            published += timedelta(hours=14, minutes=int(rng.integers(0, 60)))
            record[":updated_at"] = published.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            records.append(record)
            if rng.random() < 0.02:  # the city revised this week later
                revised = dict(record)
                revised["of_incidents_calculated"] = str(max(1, count + int(rng.integers(-40, 41))))
                revised[":updated_at"] = (
                    published + timedelta(days=int(rng.integers(20, 90)))
                ).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                revisions.append(revised)
    return records + revisions


# The 911 call-taker's part: the same for every agency, and what the 5-second target measures.
PICKUP_FIELDS = frozenset({"call_to_first_pickup", "median_pickup", "average_pickup"})


def pickup_stress(week: date) -> float:
    """Factor on the week's call-to-pickup times (PICKUP_STRESS; 1.0 in an ordinary week)."""
    for first, last, factor in PICKUP_STRESS:
        if date.fromisoformat(first) <= week <= date.fromisoformat(last):
            return factor
    return 1.0


def _duration(rng: np.random.Generator, field: str, base: float, load: float) -> str:
    if field == "median_pickup":
        return _number(base + float(rng.choice([0, 0, 0, 0.5, 1])), 1)
    if field.startswith("median_"):
        return _number(round(base * load * (1 + 0.05 * rng.standard_normal()) * 2) / 2, 2)
    noise = 0.35 if base < 1 else 0.06
    return _number(base * load * (1 + noise * rng.standard_normal()), 2)


def _row_id_911(number: int) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    mixed = (number * 0x9E3779B97F4A7C15) & (2**64 - 1)
    chars = [alphabet[(mixed >> (5 * i)) & 31] for i in range(12)]
    return "".join(chars[:4]) + "~" + "".join(chars[4:8]) + "_" + "".join(chars[8:])
