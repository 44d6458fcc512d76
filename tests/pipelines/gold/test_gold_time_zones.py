"""Gold calendar days of timestamps read back from Delta are New York days, not UTC days.

Sail 0.7.2 evaluates ``to_date`` of a timestamp read from Delta in UTC: a request closed at
23:30 in New York (04:30 UTC the next day) would get the next day's ``closed_date_key`` and push
``dim_date`` into the next year. The silver fixture goes through a real Delta table here.
"""

from __future__ import annotations

from datetime import date, datetime

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.testing import silver_311_frame

# 23:30 on New Year's Eve in New York is 04:30 UTC on 1 January 2024.
LATE_EVENING = [
    {
        "unique_key": 1,
        "created_date": datetime(2023, 12, 31, 20, 0),
        "closed_date": datetime(2023, 12, 31, 23, 30),
        "incident_zip": "11201",
    },
    {
        "unique_key": 2,
        "created_date": datetime(2023, 12, 30, 9, 0),
        "closed_date": datetime(2023, 12, 30, 10, 0),
        "incident_zip": "11201",
    },
]


def _date_key(spark, day: date) -> int:
    frame = spark.createDataFrame([(day,)], "d date")
    return frame.select(nodes._date_key(frame["d"])).collect()[0][0]


def test_closed_day_of_a_late_evening_request_is_its_new_york_day(spark, data_root, gold_params):
    dataset = DeltaTableDataset(table="silver.nyc311_service_requests", root=str(data_root))
    dataset.save(silver_311_frame(spark, LATE_EVENING))
    silver = dataset.load()

    fact = nodes.build_fact_311(
        silver, gold_params["sla"], gold_params["response_time_outlier_hours"]
    )
    closed_keys = {r["unique_key"]: r["closed_date_key"] for r in fact.collect()}
    assert closed_keys[1] == _date_key(spark, date(2023, 12, 31))
    assert closed_keys[2] == _date_key(spark, date(2023, 12, 30))

    # the calendar ends with the last New York day (2023), not the UTC day (2024)
    dim_date = nodes.build_dim_date(silver, gold_params["calendar"])
    last_day = dim_date.agg({"date": "max"}).collect()[0][0]
    assert last_day == date(2023, 12, 31)
