"""fact_311 at its edges: bucket and outlier boundaries, configured buckets, missing flags and
closed dates flagged invalid or in the future (real Sail). Frames are built in each test."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.gold import nodes
from nyc_lakehouse.pipelines.gold.testing import silver_311_frame

CREATED = datetime(2021, 5, 3, 9)


def _silver(spark, hours: dict[int, float | None], **columns):
    records = [
        {
            "unique_key": key,
            "created_date": CREATED,
            "closed_date": None if h is None else CREATED + timedelta(hours=h),
        }
        for key, h in hours.items()
    ]
    frame = silver_311_frame(spark, records)
    for name, value in columns.items():
        frame = frame.withColumn(name, value)
    return frame


def _fact(silver, sla, outlier_hours=17520):
    return {
        r["unique_key"]: r.asDict()
        for r in nodes.build_fact_311(silver, sla, outlier_hours).collect()
    }


def test_bucket_boundaries_are_inclusive_and_null_stays_null(spark, gold_params):
    silver = _silver(spark, {1: 24, 2: 24.5, 3: 168, 4: 720, 5: 721, 6: None})
    buckets = {k: r["resolution_bucket"] for k, r in _fact(silver, gold_params["sla"]).items()}
    assert buckets == {
        1: "same_day",
        2: "within_7_days",
        3: "within_7_days",
        4: "within_30_days",
        5: "over_30_days",
        6: None,
    }
    schema = nodes.build_fact_311(silver, gold_params["sla"], 17520).schema
    assert schema["resolution_bucket"].dataType.simpleString() == "string"


def test_bucket_limits_come_from_the_sla_parameters(spark, gold_params):
    sla = {**gold_params["sla"], "resolution_buckets_hours": {"same_day": 12}}
    rows = _fact(_silver(spark, {1: 11.5, 2: 20}), sla)
    assert (rows[1]["resolution_bucket"], rows[2]["resolution_bucket"]) == (
        "same_day",
        "within_7_days",
    )


def test_bucket_limits_must_be_positive_and_increasing():
    hours = F.col("h")
    assert nodes.resolution_bucket(hours, {"same_day": 0.5}) is not None
    for bad in ({"same_day": 0}, {"same_day": -1}, {"within_7_days": 10}):
        with pytest.raises(ValueError) as raised:
            nodes.resolution_bucket(hours, bad)
        assert str(raised.value).startswith(
            "gold.sla.resolution_buckets_hours: expected increasing positive hours for "
        )


def test_outliers_start_above_the_limit_and_unknown_times_are_not_outliers(spark, gold_params):
    rows = _fact(_silver(spark, {1: 100, 2: 100.5, 3: None}), gold_params["sla"], outlier_hours=100)
    assert [rows[k]["is_response_time_outlier"] for k in (1, 2, 3)] == [False, True, False]


def test_missing_flags_and_flagged_closed_dates(spark, gold_params):
    sla = gold_params["sla"]
    unknown = _silver(
        spark,
        {1: 5},
        is_closed=F.lit(None).cast("boolean"),
        has_invalid_closed_date=F.lit(None).cast("boolean"),
        has_future_closed_date=F.lit(None).cast("boolean"),
    )
    row = _fact(unknown, sla)[1]
    assert row["is_closed"] is False  # unknown is not closed
    assert row["closed_date_key"] is not None  # unknown flags do not void the closed date
    for flag in ("has_invalid_closed_date", "has_future_closed_date"):
        flagged = _fact(_silver(spark, {1: 5}, **{flag: F.lit(True)}), sla)[1]
        assert flagged["closed_date_key"] is None, flag


def test_contract_errors_name_the_silver_table(spark, gold_params):
    broken = _silver(spark, {1: 5}).drop("borough")
    with pytest.raises(ValueError, match=r"^silver\.nyc311_service_requests is missing column"):
        nodes.build_fact_311(broken, gold_params["sla"], 17520)
    with pytest.raises(ValueError, match="^gold.sla: SLA targets must be positive hours$"):
        nodes.sla_target_hours({"default_target_hours": -1})
