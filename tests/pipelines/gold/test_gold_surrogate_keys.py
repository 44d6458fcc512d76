"""Surrogate keys are XXH64 (seed 42, chained per key part) of the parts' strings, as in Spark.

Checked against an independent pure-Python XXH64, so the keys Sail writes locally are the keys
Databricks computes for the same natural keys (Spark's xxhash64 is XXH64 with seed 42, each
argument's hash seeding the next).
"""

from __future__ import annotations

import pytest

from nyc_lakehouse.pipelines.gold.nodes import NULL_KEY_MARKER, surrogate_key

_M = (1 << 64) - 1
_P1, _P2, _P3, _P4, _P5 = (
    11400714785074694791,
    14029467366897019727,
    1609587929392839161,
    9650029242287828579,
    2870177450012600261,
)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def xxh64(data: bytes, seed: int) -> int:
    """Reference XXH64 (https://github.com/Cyan4973/xxHash), unsigned."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed & _M, (seed - _P1) & _M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], int.from_bytes(data[i + 8 * k : i + 8 * k + 8], "little"))
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M
        for lane in v:
            h = ((h ^ _round(0, lane)) * _P1 + _P4) & _M
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, int.from_bytes(data[i : i + 8], "little")), 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (int.from_bytes(data[i : i + 4], "little") * _P1) & _M, 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h = (_rotl(h ^ (data[i] * _P5) & _M, 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    return h ^ (h >> 32)


def spark_xxhash64(*parts: str | None) -> int:
    seed = 42
    for part in parts:
        seed = xxh64((NULL_KEY_MARKER if part is None else part).encode("utf-8"), seed)
    return seed - (1 << 64) if seed >= 1 << 63 else seed


@pytest.mark.parametrize(
    "parts",
    [
        ("NYPD",),
        ("Noise - Residential",),
        ("2020-03-16",),
        ("BROOKLYN", "11201", "02 BROOKLYN"),
        ("STATEN ISLAND", None, None),
        ("Department of Housing Preservation and Development (long key)",),
    ],
)
def test_surrogate_key_is_sparks_xxhash64(spark, parts):
    names = [f"p{i}" for i in range(len(parts))]
    df = spark.createDataFrame([parts], ", ".join(f"{n} string" for n in names))
    assert df.select(surrogate_key(*names)).first()[0] == spark_xxhash64(*parts)
