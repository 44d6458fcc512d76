"""Calendar fields in New York time whatever the timestamp's origin (Sail tags Delta reads UTC)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nyc_lakehouse.timezones import in_session_time_zone, local_date

# New York wall-clock times: late evening (UTC is already the next day), both DST edges, and
# microseconds that a text round trip could lose.
WALL_TIMES = (
    "2024-01-01 23:10:00.123456",
    "2024-07-04 23:59:59.999999",
    "2024-03-10 03:30:00",
    "2024-11-02 22:15:00",
)


@pytest.fixture
def timestamps(spark, tmp_path: Path) -> dict[str, object]:
    from pyspark.sql import functions as F

    fresh = spark.createDataFrame([(i, t) for i, t in enumerate(WALL_TIMES)], "id int, text string")
    fresh = fresh.select("id", F.to_timestamp("text").alias("ts"))
    fresh.write.parquet(str(tmp_path / "parquet"))
    fresh.write.format("delta").save(str(tmp_path / "delta"))
    return {
        "fresh": fresh,
        "parquet": spark.read.parquet(str(tmp_path / "parquet")),
        "delta": spark.read.format("delta").load(str(tmp_path / "delta")),
    }


@pytest.mark.parametrize("origin", ["fresh", "parquet", "delta"])
def test_calendar_fields_are_new_york_time_for_every_origin(timestamps, origin: str) -> None:
    from pyspark.sql import functions as F

    local = in_session_time_zone(F.col("ts"))
    rows = (
        timestamps[origin]
        .select(
            "id",
            F.hour(local).alias("hour"),
            local_date(F.col("ts")).alias("date"),
            F.date_format(local, "yyyy-MM").alias("month"),
            F.dayofweek(local).alias("weekday"),
            (F.unix_micros(local) - F.unix_micros(F.col("ts"))).alias("shift_us"),
        )
        .orderBy("id")
        .collect()
    )
    expected = [dt.datetime.fromisoformat(text) for text in WALL_TIMES]
    assert [r["hour"] for r in rows] == [t.hour for t in expected]
    assert [r["date"] for r in rows] == [t.date() for t in expected]
    assert [r["month"] for r in rows] == [t.strftime("%Y-%m") for t in expected]
    # Spark's dayofweek: Sunday = 1 ... Saturday = 7
    assert [r["weekday"] for r in rows] == [t.isoweekday() % 7 + 1 for t in expected]
    # the instant itself never moves (microseconds included)
    assert [r["shift_us"] for r in rows] == [0, 0, 0, 0]


def test_delta_reads_need_the_conversion(timestamps) -> None:
    """Guards the reason the helper exists: if Sail fixes this, the helper can go."""
    from pyspark.sql import functions as F

    raw_hour = timestamps["delta"].filter("id = 0").select(F.hour("ts")).first()[0]
    assert raw_hour == 4  # 23:10 New York is 04:10 UTC
