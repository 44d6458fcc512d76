"""Property tests: the parsers never raise on arbitrary strings; a value or null + flag.

Each hypothesis example is a *batch* of strings parsed in one DataFrame (a Spark round trip per
example, so example counts stay small). Well-formed inputs must parse to the value a Python
oracle computes, so "always null" would fail these tests as surely as an exception.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nyc_lakehouse.pipelines.silver import parsers

PARSERS = {
    "timestamp": parsers.parse_timestamp,
    "date": parsers.parse_date,
    "double": parsers.parse_double,
    "double_sep": parsers.parse_double_with_separators,
    "bigint": parsers.parse_bigint,
    "zip": parsers.parse_zip,
}

SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

noise = st.one_of(
    st.none(),
    st.text(max_size=25),
    st.text(alphabet="0123456789-/:.,TZ +eE", max_size=25),
    st.sampled_from(["NaN", "Infinity", "-inf", "1e400", "9" * 40, "00000", "2024-02-30T00:00:00.000",
                     "0000-01-01T00:00:00.000", "2105-03-01T10:00:00.000", "2024-13-01T00:00:00.000", "１２３４５"]),
)  # fmt: skip
local_timestamps = st.datetimes(
    min_value=datetime(1950, 1, 1), max_value=datetime(2090, 12, 31)
).map(lambda d: d.replace(microsecond=0))
floats = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_subnormal=False)
integers = st.integers(min_value=-(10**15), max_value=10**15)


def _parse_all(spark, values: list[str | None]) -> list[dict]:
    from pyspark.sql import functions as F

    df = spark.createDataFrame(list(enumerate(values)), "i int, raw string")
    cleaned = parsers.clean_string(F.col("raw"))
    columns = [F.col("i"), cleaned.alias("cleaned")]
    columns += [parse(cleaned).alias(name) for name, parse in PARSERS.items()]
    # Silver passes clean_string's output with trimmed=True: it must change nothing there.
    columns += [
        parse(cleaned, trimmed=True).alias(f"{name}_trimmed") for name, parse in PARSERS.items()
    ]
    parsed = df.select(*columns)
    flags = parsers.parse_errors({name: (F.col("cleaned"), F.col(name)) for name in PARSERS})
    rows = parsed.select("*", flags.alias("errors")).orderBy("i").collect()
    return [row.asDict() for row in rows]


STATUSES = {
    "OPEN",
    "IN PROGRESS",
    "ASSIGNED",
    "PENDING",
    "STARTED",
    "CLOSED",
    "CANCELLED",
    "UNSPECIFIED",
}


_CONFIG: dict = {}


def _standardize_all(spark, values: list[str | None]) -> list[dict]:
    """The enrichment's text standardizers on the same arbitrary strings."""
    from pyspark.sql import functions as F
    from silver_fixtures import load_config

    from nyc_lakehouse.pipelines.silver import nodes

    if "silver" not in _CONFIG:
        _CONFIG["silver"] = load_config("parameters")["silver"]
    p311, p911 = _CONFIG["silver"]["nyc311"], _CONFIG["silver"]["nyc911"]
    raw = F.col("raw")
    df = spark.createDataFrame(list(enumerate(values)), "i int, raw string")
    out = df.select(
        "i",
        "raw",
        nodes.standardize_status(raw, p311["status"]).alias("status"),
        nodes.normalize_address(raw, p311["address_abbreviations"]).alias("address"),
        nodes.canonical_complaint_type(raw, p311["complaint_types"]["aliases"]).alias(
            "complaint_type"
        ),
        nodes.normalize_agency(raw, p911["agency_aliases"]).alias("agency"),
    )
    return [row.asDict() for row in out.orderBy("i").collect()]


def _assert_value_or_flag(row: dict) -> None:
    for name in PARSERS:
        assert row[f"{name}_trimmed"] == row[name], (name, row)
        if row[name] is None and row["cleaned"] is not None:
            assert name in row["errors"], (name, row)
        else:
            assert name not in row["errors"], (name, row)


@SETTINGS
@given(values=st.lists(noise, min_size=1, max_size=40))
def test_parsers_never_raise_on_arbitrary_strings(spark, values):
    rows = _parse_all(spark, values)
    assert len(rows) == len(values)
    standardized = _standardize_all(spark, values)
    for row in standardized:
        assert row["status"] in STATUSES
        for name in ("address", "complaint_type", "agency"):
            assert row[name] is None or isinstance(row[name], str)
        assert (row["complaint_type"] is None) == (row["raw"] is None)
    for row in rows:
        _assert_value_or_flag(row)
        if row["timestamp"] is not None:
            assert 1899 <= row["timestamp"].year <= 3000
        if row["double"] is not None:
            assert math.isfinite(row["double"])
        if row["zip"] is not None:
            assert len(row["zip"]) == 5 and row["zip"].isascii() and row["zip"].isdigit()


@SETTINGS
@given(
    stamps=st.lists(local_timestamps, min_size=1, max_size=20),
    numbers=st.lists(floats, min_size=1, max_size=20),
    counts=st.lists(integers, min_size=1, max_size=20),
)
def test_well_formed_values_parse_to_the_oracle(spark, stamps, numbers, counts):
    iso = [d.strftime("%Y-%m-%dT%H:%M:%S.000") for d in stamps]
    utc = [d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in stamps]
    us = [d.strftime("%m/%d/%Y %I:%M:%S %p") for d in stamps]
    plain = [repr(x) for x in numbers]
    separated = [f"{n:,}" for n in counts]
    rows = _parse_all(spark, iso + utc + us + plain + separated)
    n = len(stamps)
    for offset in (0, 2 * n):  # floating local times (ISO and US style): NYC wall-clock kept
        for stamp, row in zip(stamps, rows[offset : offset + n], strict=True):
            assert row["timestamp"] is not None, row
            assert row["timestamp"].timestamp() == _new_york_instant(stamp), (stamp, row)
            assert row["date"] is None or row["date"] == stamp.date()
    for stamp, row in zip(stamps, rows[n : 2 * n], strict=True):  # Z: the UTC instant
        assert row["timestamp"].timestamp() == stamp.replace(tzinfo=UTC).timestamp()
    numbers_rows = rows[3 * n : 3 * n + len(numbers)]
    for value, row in zip(numbers, numbers_rows, strict=True):
        assert row["double"] is not None and math.isclose(row["double"], value, rel_tol=1e-12), row
    for value, row in zip(counts, rows[3 * n + len(numbers) :], strict=True):
        assert row["bigint"] == value, row
        assert row["double_sep"] == float(value), row
    for row in rows:
        _assert_value_or_flag(row)


def _new_york_instant(wall_clock: datetime) -> float:
    """POSIX seconds of a New York wall-clock time; in a DST gap or overlap, the offset before
    the change (``fold=0``), as Spark resolves them (02:30 on a spring-forward day is 03:30)."""
    from zoneinfo import ZoneInfo

    return wall_clock.replace(tzinfo=ZoneInfo("America/New_York"), fold=0).timestamp()


# Both DST changes of 2024 (02:30 on 10 March does not exist in New York; 01:30 on 3 November
# happens twice), a late evening whose UTC date is the next day, and every fraction length.
LOCAL_EDGE_CASES = {
    "2024-03-10T02:30:00.000": datetime(2024, 3, 10, 2, 30),
    "2024-03-10 01:59:59": datetime(2024, 3, 10, 1, 59, 59),
    "2024-03-10T03:00:00.5": datetime(2024, 3, 10, 3, 0, 0, 500000),
    "2024-11-03T01:30:00.000": datetime(2024, 11, 3, 1, 30),
    "2024-11-03 00:59:59.999999": datetime(2024, 11, 3, 0, 59, 59, 999999),
    "2024-11-03T02:00:00.123456789": datetime(2024, 11, 3, 2, 0, 0, 123456),
    "2023-12-31 23:10:00.12": datetime(2023, 12, 31, 23, 10, 0, 120000),
    "  2024-07-04T12:00:00  ": datetime(2024, 7, 4, 12, 0),
}


def test_local_timestamps_are_new_york_instants_across_dst_changes(spark):
    rows = _parse_all(spark, list(LOCAL_EDGE_CASES))
    for (text, wall_clock), row in zip(LOCAL_EDGE_CASES.items(), rows, strict=True):
        assert row["timestamp"] is not None, (text, row)
        assert row["timestamp"].timestamp() == _new_york_instant(wall_clock), (text, row)
        assert "timestamp" not in row["errors"], (text, row)


def test_zips_keep_their_first_five_digits_and_zero_zips_are_null(spark):
    cases = {
        "10001": "10001",
        "10001-1234": "10001",
        "100011234": "10001",
        " 11201 ": "11201",
        "00000": None,
        "00000-1234": None,
        "1000": None,
        "10001-12": None,
        "1000A": None,
        "１０００１": None,
    }
    rows = _parse_all(spark, list(cases))
    assert [row["zip"] for row in rows] == list(cases.values())


def _reference_address(raw: str | None, abbreviations: dict[str, str]) -> str | None:
    """The documented rule in plain Python: the oracle for ``normalize_address``."""
    import re

    if raw is None:
        return None
    value = re.sub(r"\s+", " ", raw.replace(".", " ").replace(",", " ")).strip().upper()
    if not value:
        return None
    words = value.split(" ")
    expansions = {k.upper(): v.upper() for k, v in abbreviations.items()}
    if len(words) > 1 and words[-1] in expansions:
        words[-1] = expansions[words[-1]]
    return " ".join(words)


address_words = st.sampled_from(
    ["12", "1750", "st", "ST", "Ave", "av", "BLVD", "nicholas", "Main", "PKWY", "stone", "AVENUE",
     "west", "E", "ter", "hwy", "expy", "Rd", "dr.", "ln,", "ct", "pl", "STREET", "ST.", "Ave,"]
)  # fmt: skip
separators = st.sampled_from([" ", "  ", ".", ", ", "\t", " . "])
addresses = st.one_of(
    st.none(),
    st.tuples(
        st.lists(address_words, min_size=1, max_size=5),
        st.lists(separators, min_size=5, max_size=5),
        separators,
    ).map(lambda t: t[2] + "".join(w + s for w, s in zip(t[0], t[1], strict=False)).rstrip("\t")),
    st.sampled_from(["", "   ", ".,", "ST", "AVE", " st ", "ST NICHOLAS AVE", "BROADWAY"]),
)


@SETTINGS
@given(values=st.lists(addresses, min_size=1, max_size=40))
def test_normalize_address_matches_the_python_reference(spark, values):
    from silver_fixtures import load_config

    if "silver" not in _CONFIG:
        _CONFIG["silver"] = load_config("parameters")["silver"]
    abbreviations = _CONFIG["silver"]["nyc311"]["address_abbreviations"]
    rows = _standardize_all(spark, values)
    assert [row["address"] for row in rows] == [
        _reference_address(v, abbreviations) for v in values
    ]
