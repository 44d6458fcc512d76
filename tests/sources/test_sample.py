"""The bundled sample generator: API-identical format, determinism, content and defect rates."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from nyc_lakehouse.landing import records_to_table
from nyc_lakehouse.sources import sample
from nyc_lakehouse.sources.sample import (
    NYC311_SAMPLE_COLUMNS,
    NYC911_SAMPLE_COLUMNS,
    DefectRates,
    daily_intensity,
    generate_nyc311,
    generate_nyc911,
    sample_defaults,
)
from nyc_lakehouse.sources.schemas import NYC311_FIELDS, NYC911_FIELDS

# The keys a real `GET /resource/erm2-nwe9.json?$select=:*,*` response carries (names only).
REAL_API_KEYS_311 = set(NYC311_FIELDS) | {
    ":@computed_region_efsh_h5xi", ":@computed_region_f5dn_yrer", ":@computed_region_yeji_bk3q",
    ":@computed_region_92fq_4b7q", ":@computed_region_sbqj_enih", ":@computed_region_7mpf_4k6g",
    ":id", ":created_at", ":updated_at",
}  # fmt: skip
FLOATING = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000$")
UTC_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
BOROUGHS = {"MANHATTAN", "BRONX", "BROOKLYN", "QUEENS", "STATEN ISLAND"}


@pytest.fixture(scope="module")
def two_years() -> pa.Table:
    """2019-2020 at scale 1 (about 150k rows): enough for rates, seasonality and COVID."""
    return pa.concat_tables(generate_nyc311(date(2019, 1, 1), date(2020, 12, 31)))


@pytest.fixture(scope="module")
def one_month() -> pa.Table:
    return next(generate_nyc311(date(2021, 3, 1), date(2021, 3, 31)))


def _to_api_records(table: pa.Table) -> list[dict]:
    """Landing rows back to API JSON records (what records_to_table receives)."""
    records = []
    for row in table.to_pylist():
        record = {}
        for key, value in row.items():
            if value is None:
                continue
            if key == "location":
                value = json.loads(value)
            if key.startswith("_computed_region"):
                key = ":@" + key[1:]
            elif key.startswith("_socrata_"):
                key = ":" + key[len("_socrata_") :]
            record[key] = value
        records.append(record)
    return records


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


# ---------------------------------------------------------------------------- format
def test_landing_format_is_what_records_to_table_makes_of_api_records(one_month):
    records = _to_api_records(one_month)
    from_api = records_to_table(records, "nyc311")
    emitted = one_month.select(
        [c for c in one_month.column_names if one_month[c].null_count < len(one_month)]
    )
    assert from_api.column_names == emitted.column_names
    assert from_api.equals(emitted)


def test_keys_are_exactly_the_real_api_keys_and_every_value_is_a_string(one_month):
    assert one_month.column_names == list(NYC311_SAMPLE_COLUMNS)
    assert all(field.type == pa.string() for field in one_month.schema)
    keys = {key for record in _to_api_records(one_month) for key in record}
    assert keys == REAL_API_KEYS_311


def test_value_formats_match_the_api(one_month):
    rows = one_month.to_pylist()
    for name in ("created_date", "closed_date", "due_date", "resolution_action_updated_date"):
        values = [r[name] for r in rows if r[name] is not None]
        assert values and all(FLOATING.match(v) for v in values), name
    for name in ("_socrata_updated_at", "_socrata_created_at"):
        assert all(UTC_Z.match(r[name]) for r in rows), name
    assert all(re.fullmatch(r"\d{8}", r["unique_key"]) for r in rows)
    assert all(
        re.fullmatch(r"row-[a-z0-9]{4}~[a-z0-9]{4}_[a-z0-9]{4}", r["_socrata_id"]) for r in rows
    )
    for r in rows:
        if r["location"] is None:
            assert r["latitude"] is None
            continue
        location = json.loads(r["location"])
        assert location["latitude"] == r["latitude"] and location["longitude"] == r["longitude"]
        assert json.loads(location["human_address"]) == {
            "address": "",
            "city": "",
            "state": "",
            "zip": "",
        }
    boards = {r["community_board"] for r in rows}
    assert all(
        re.fullmatch(r"\d\d (MANHATTAN|BRONX|BROOKLYN|QUEENS|STATEN ISLAND)", b)
        or b == "0 Unspecified"
        or b.startswith("Unspecified ")
        for b in boards
    )
    assert {r["borough"] for r in rows} <= BOROUGHS | {"Unspecified"}
    assert {r["status"] for r in rows} <= {"Closed", "Open", "In Progress", "Assigned", "Pending"}


def test_coordinates_zips_and_state_plane_are_inside_nyc(one_month):
    lat = pc.cast(one_month["latitude"], pa.float64()).to_numpy(zero_copy_only=False)
    lon = pc.cast(one_month["longitude"], pa.float64()).to_numpy(zero_copy_only=False)
    real = ~np.isnan(lat) & (lat != 0)
    assert real.mean() > 0.95
    assert ((lat[real] > 40.4774) & (lat[real] < 40.9176)).all()
    assert ((lon[real] > -74.2591) & (lon[real] < -73.7000)).all()
    x = pc.cast(one_month["x_coordinate_state_plane"], pa.float64()).to_numpy(zero_copy_only=False)
    y = pc.cast(one_month["y_coordinate_state_plane"], pa.float64()).to_numpy(zero_copy_only=False)
    both = real & ~np.isnan(x)
    assert ((x[both] > 910_000) & (x[both] < 1_070_000)).all()
    assert ((y[both] > 110_000) & (y[both] < 275_000)).all()
    zips = [
        z
        for z in one_month["incident_zip"].to_pylist()
        if z and re.fullmatch(r"\d{5}", z) and z != "00000"
    ]
    assert all(
        z[:3] in {"100", "101", "102", "103", "104", "110", "111", "112", "113", "114", "116"}
        for z in zips
    )


def test_agency_and_complaint_mix_is_realistic(two_years):
    types = Counter(two_years["complaint_type"].to_pylist())
    top = [name for name, _ in types.most_common(8)]
    for expected in (
        "Noise - Residential",
        "Illegal Parking",
        "HEAT/HOT WATER",
        "Blocked Driveway",
    ):
        assert expected in top
    agencies = Counter(two_years["agency"].to_pylist())
    assert agencies.most_common(1)[0][0] == "NYPD"
    assert {"NYPD", "HPD", "DSNY", "DOT", "DEP", "DOB", "DPR", "DOHMH"} <= set(agencies)
    pairs = set(
        zip(two_years["agency"].to_pylist(), two_years["complaint_type"].to_pylist(), strict=True)
    )
    assert ("HPD", "HEAT/HOT WATER") in pairs and ("NYPD", "Noise - Residential") in pairs
    assert all(pair[0] == "DOT" for pair in pairs if pair[1] == "Street Condition")


# ---------------------------------------------------------------------------- determinism
def test_same_arguments_give_the_same_bytes():
    first = [_parquet_bytes(t) for t in generate_nyc311(date(2020, 1, 1), date(2020, 2, 29))]
    second = [_parquet_bytes(t) for t in generate_nyc311(date(2020, 1, 1), date(2020, 2, 29))]
    assert first == second
    other_seed = [
        _parquet_bytes(t) for t in generate_nyc311(date(2020, 1, 1), date(2020, 2, 29), seed=1)
    ]
    assert other_seed != first
    assert [_parquet_bytes(t) for t in generate_nyc911(date(2020, 1, 1), date(2020, 2, 29))] == [
        _parquet_bytes(t) for t in generate_nyc911(date(2020, 1, 1), date(2020, 2, 29))
    ]


def test_a_month_depends_on_the_end_of_the_window_the_snapshot_date():
    """Why the ingestion refuses to extend a landed sample window (see the ingestion tests)."""
    short = next(generate_nyc311(date(2019, 1, 1), date(2019, 2, 28)))
    long = next(generate_nyc311(date(2019, 1, 1), date(2019, 12, 31)))
    # The same requests (keys and types are drawn first), in other states.
    requests = {(r["unique_key"], r["complaint_type"]) for r in short.to_pylist()}
    assert requests == {(r["unique_key"], r["complaint_type"]) for r in long.to_pylist()}
    assert not short.equals(long)
    statuses = pc.value_counts(short["status"]).to_pylist()
    assert statuses != pc.value_counts(long["status"]).to_pylist()


def test_a_month_is_the_same_whichever_start_it_is_generated_with():
    end = date(2020, 3, 31)
    wide = list(generate_nyc311(date(2020, 1, 1), end))
    narrow = list(generate_nyc311(date(2020, 2, 1), end))
    assert len(wide) == 3 and len(narrow) == 2
    assert wide[1].equals(narrow[0]) and wide[2].equals(narrow[1])


def test_one_table_per_month_keys_increase_and_window_is_respected():
    tables = list(generate_nyc311(date(2020, 1, 15), date(2020, 3, 10), scale=0.5))
    assert len(tables) == 3
    created = pa.concat_tables(tables)["created_date"].to_pylist()
    assert min(created) >= "2020-01-15" and max(created) < "2020-03-11"
    last_key = 0
    for table in tables:
        keys = pc.cast(table["unique_key"], pa.int64())
        assert pc.min(keys).as_py() > last_key
        last_key = pc.max(keys).as_py()


def test_scale_multiplies_volume():
    one = next(generate_nyc311(date(2020, 10, 1), date(2020, 10, 31), scale=1)).num_rows
    five = next(generate_nyc311(date(2020, 10, 1), date(2020, 10, 31), scale=5)).num_rows
    assert 4.6 < five / one < 5.4


def test_default_window_is_about_300k_rows_over_four_years():
    defaults = sample_defaults()
    start, end = date.fromisoformat(defaults["start"]), date.fromisoformat(defaults["end"])
    assert (start, end) == (date(2019, 1, 1), date(2022, 12, 31))
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    expected = daily_intensity(days).sum() * (
        1 + DefectRates().resent + DefectRates().exact_duplicate
    )
    assert 250_000 < expected < 380_000


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="before start"):
        next(generate_nyc311(date(2020, 2, 1), date(2020, 1, 1)))
    with pytest.raises(ValueError, match="scale"):
        next(generate_nyc311(date(2020, 1, 1), date(2020, 1, 31), scale=0))
    with pytest.raises(ValueError, match="2015"):
        next(generate_nyc311(date(2010, 1, 1), date(2010, 1, 31)))


# ---------------------------------------------------------------------------- defects
def _share(mask: pa.ChunkedArray | pa.Array) -> float:
    """Share of rows where ``mask`` is true (nulls count as false)."""
    return pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() / len(mask)


def test_defect_rates_are_within_bounds(two_years):
    t, rates = two_years, DefectRates()
    zips = t["incident_zip"]
    assert 0.5 * rates.zip_missing < _share(pc.is_null(zips)) < 1.6 * rates.zip_missing
    invalid = pc.and_(pc.is_valid(zips), pc.invert(pc.match_substring_regex(zips, r"^[0-9]{5}$")))
    invalid = pc.or_(invalid, pc.equal(zips, "00000"))
    assert 0.5 * rates.zip_invalid < _share(invalid) < 1.6 * rates.zip_invalid
    bad_values = set(zips.filter(invalid).to_pylist())
    assert {"N/A", "0", "1234"} <= bad_values
    assert any(re.fullmatch(r"\d{5}-\d{4}", z) for z in bad_values)

    closed, created = t["closed_date"], t["created_date"]
    before = _share(pc.less(closed, created))
    assert 0.5 * rates.closed_before_created < before < 2 * rates.closed_before_created
    future = _share(pc.greater(closed, "2030"))
    assert 0.3 * rates.closed_in_future < future < 3 * rates.closed_in_future
    inferred = _share(pc.and_(pc.equal(t["status"], "Closed"), pc.is_null(closed)))
    assert 0.5 * rates.closed_date_missing < inferred < 1.6 * rates.closed_date_missing

    no_location = _share(pc.is_null(t["latitude"]))
    assert 0.5 * rates.location_missing < no_location < 1.6 * rates.location_missing + 0.003
    zero = _share(pc.equal(t["latitude"], "0"))
    assert 0.3 * rates.location_zero < zero < 3 * rates.location_zero
    unspecified = t.filter(pc.equal(t["borough"], "Unspecified"))
    assert (
        0.5 * rates.borough_unspecified
        < len(unspecified) / len(t)
        < 1.6 * rates.borough_unspecified
    )
    valid_zip = pc.match_substring_regex(unspecified["incident_zip"], r"^[0-9]{5}$")
    assert _share(valid_zip) > 0.9


def test_exact_duplicates_and_resent_requests(two_years):
    t = two_years
    distinct_rows = t.group_by(t.column_names).aggregate([]).num_rows
    duplicate_share = (t.num_rows - distinct_rows) / t.num_rows
    assert (
        0.5 * DefectRates().exact_duplicate < duplicate_share < 1.6 * DefectRates().exact_duplicate
    )

    version_columns = ["unique_key", "_socrata_updated_at", "status", "closed_date", "_socrata_id"]
    versions = t.select(version_columns).group_by(version_columns).aggregate([])
    per_key = versions.group_by("unique_key").aggregate([("_socrata_updated_at", "count")])
    resent_keys = per_key.filter(pc.greater(per_key["_socrata_updated_at_count"], 1))["unique_key"]
    share = len(resent_keys) / per_key.num_rows
    assert 0.4 * DefectRates().resent < share < 1.3 * DefectRates().resent
    resent = versions.filter(pc.is_in(versions["unique_key"], resent_keys)).to_pylist()
    by_key: dict[str, list[dict]] = {}
    for row in resent:
        by_key.setdefault(row["unique_key"], []).append(row)
    for rows in by_key.values():
        first, last = sorted(rows, key=lambda r: r["_socrata_updated_at"])
        assert first["_socrata_updated_at"] < last["_socrata_updated_at"]
        assert first["_socrata_id"] == last["_socrata_id"]
        assert last["status"] == "Closed" and last["closed_date"] is not None
        assert (
            first["status"] in {"Open", "In Progress", "Assigned"} and first["closed_date"] is None
        )


def test_defects_can_be_switched_off():
    clean = pa.concat_tables(
        generate_nyc311(date(2020, 1, 1), date(2020, 1, 31), defects=DefectRates(*[0.0] * 10))
    )
    assert pc.count_distinct(clean["unique_key"]).as_py() == clean.num_rows
    assert clean["incident_zip"].null_count == 0


# ---------------------------------------------------------------------------- time patterns
def _monthly(table: pa.Table, complaint_type: str | None = None) -> Counter:
    months = [d[:7] for d in table["created_date"].to_pylist()]
    if complaint_type is None:
        return Counter(months)
    types = table["complaint_type"].to_pylist()
    return Counter(m for m, t in zip(months, types, strict=True) if t == complaint_type)


def test_yearly_seasonality(two_years):
    heat = _monthly(two_years, "HEAT/HOT WATER")
    assert heat["2019-01"] > 5 * heat["2019-07"]
    noise = _monthly(two_years, "Noise - Residential")
    assert noise["2019-07"] > 1.5 * noise["2019-01"]


def test_weekly_pattern_and_holiday_dip(two_years):
    days = Counter(d[:10] for d in two_years["created_date"].to_pylist())
    street = Counter(
        d[:10]
        for d, t in zip(
            two_years["created_date"].to_pylist(),
            two_years["complaint_type"].to_pylist(),
            strict=True,
        )
        if t == "Street Condition"
    )
    weekday = [
        street[(date(2019, 3, 4) + timedelta(days=i)).isoformat()] for i in range(63) if i % 7 < 5
    ]
    weekend = [
        street[(date(2019, 3, 4) + timedelta(days=i)).isoformat()] for i in range(63) if i % 7 >= 5
    ]
    assert np.mean(weekday) > 1.3 * np.mean(weekend)
    # Thanksgiving 2019 (Thursday 28 Nov) vs the Thursdays around it
    thursdays = [days[d] for d in ("2019-11-14", "2019-11-21", "2019-12-05", "2019-12-12")]
    assert days["2019-11-28"] < 0.9 * np.mean(thursdays)


def test_covid_dip_and_rebound(two_years):
    monthly = _monthly(two_years)
    assert monthly["2020-04"] < 0.85 * monthly["2019-04"]
    assert monthly["2020-02"] > 0.95 * monthly["2019-02"]  # before the lockdown: normal
    assert monthly["2020-10"] > monthly["2020-04"]  # rebound


def test_resolution_time_depends_on_complaint_type(one_month):
    def median_hours(complaint_type: str) -> float:
        hours = []
        for r in one_month.to_pylist():
            if (
                r["complaint_type"] == complaint_type
                and r["closed_date"]
                and r["closed_date"] > r["created_date"]
            ):
                created = np.datetime64(r["created_date"])
                closed = np.datetime64(r["closed_date"])
                hours.append((closed - created) / np.timedelta64(1, "h"))
        return float(np.median(hours))

    assert median_hours("Noise - Residential") < 12
    assert median_hours("HEAT/HOT WATER") > 24
    assert median_hours("UNSANITARY CONDITION") > median_hours("HEAT/HOT WATER")


# ---------------------------------------------------------------------------- 911
def test_nyc911_rows_look_like_the_api():
    tables = list(generate_nyc911(date(2019, 1, 1), date(2019, 3, 31)))
    assert len(tables) == 3
    table = pa.concat_tables(tables)
    assert table.column_names == list(NYC911_SAMPLE_COLUMNS)
    assert set(NYC911_FIELDS) <= set(table.column_names)
    assert all(field.type == pa.string() for field in table.schema)
    rows = table.to_pylist()
    weeks = {r["week_start_date"] for r in rows}
    assert len(weeks) == 12  # Mondays of 2019-01..03
    assert all(FLOATING.match(w) and date.fromisoformat(w[:10]).weekday() == 0 for w in weeks)
    assert {r["agency"] for r in rows} == {"NYPD", "NYPD (Non-CIP)", "FDNY", "EMS"}
    per_week = Counter(r["week_start_date"] for r in rows)
    assert all(18 <= n <= 24 for n in per_week.values())
    for r in rows:
        assert int(r["of_incidents_calculated"]) >= 1
        assert float(r["call_to_first_pickup"]) > 0
        assert UTC_Z.match(r["_socrata_updated_at"])
        if r["final_incident_type"] == "3. Medical Emergencies":
            assert r["call_to_fdny_pickup"] is None and r["call_to_ems_pickup"] is not None
        if r["agency"] == "NYPD":
            assert r["call_to_ems_pickup"] is None and r["average_fd_pickup"] is None
    ids = Counter(r["_socrata_id"] for r in rows)
    revised = [i for i, n in ids.items() if n > 1]
    for row_id in revised:
        versions = sorted(
            (r for r in rows if r["_socrata_id"] == row_id), key=lambda r: r["_socrata_updated_at"]
        )
        assert versions[0]["week_start_date"] == versions[1]["week_start_date"]
        assert versions[0]["_socrata_updated_at"] < versions[1]["_socrata_updated_at"]


def test_nyc911_fdny_segments_start_in_march_2018():
    before = pa.concat_tables(generate_nyc911(date(2018, 1, 1), date(2018, 2, 28)))
    after = pa.concat_tables(generate_nyc911(date(2018, 4, 1), date(2018, 4, 30)))
    assert before["call_to_fdny_pickup"].null_count == before.num_rows
    fires = after.filter(pc.equal(after["final_incident_type"], "1. Structural Fires"))
    assert fires["call_to_fdny_pickup"].null_count == 0


def test_sample_defaults_are_documented_values():
    defaults = sample_defaults()
    assert (
        defaults["scale"] == 1.0 and defaults["requests_per_day"] == sample.REQUESTS_PER_DAY == 200
    )
    assert defaults["nyc311_seed"] == 311 and defaults["nyc911_seed"] == 911
    assert set(defaults["defects"]) == set(DefectRates.__dataclass_fields__)
