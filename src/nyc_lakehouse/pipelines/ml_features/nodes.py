"""Nodes of the ``ml_features`` pipeline (Spark DataFrame API).

Input: ``silver.nyc311_service_requests`` (one row per request; ``created_date_only``,
``borough``, ``complaint_type``). Outputs:

* ``ml.daily_volume_panel``: one row per series per day: ``unique_id, ds, y``, days without
  requests filled with 0. Series: ``citywide``, ``borough:<BOROUGH>``, ``complaint_type:<type>``
  for the top-N complaint types.
* ``gold.volume_forecasting_features``: one row per series per day: the panel plus calendar,
  holiday, lag, rolling (past values only) and trend features.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.ml_features.calendar import calendar_features

logger = logging.getLogger(__name__)

CITYWIDE = "citywide"
BOROUGH_PREFIX = "borough:"
COMPLAINT_PREFIX = "complaint_type:"


def _spark_of(frame: DataFrame) -> Any:
    return frame.sparkSession


def daily_volume_panel(requests: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """Long daily panel ``unique_id string, ds date, y double`` (zero-filled, no gaps).

    The day range is the same for every series: from ``start_date`` (or the first request day)
    to the last day with requests minus ``drop_last_days`` (the newest day of an incremental
    extract is usually partial; counting it would look like a collapse in volume). Requests
    dated in the future (bad source dates) are ignored. Boroughs come from ``boroughs`` (the
    five boroughs by default, so UNSPECIFIED is not a series); complaint types are the
    ``top_n_complaint_types`` with the most requests over the panel's days.
    """
    top_n = int(params.get("top_n_complaint_types", 10))
    boroughs = [str(b).upper() for b in params.get("boroughs", [])]
    drop_last_days = int(params.get("drop_last_days", 1))
    start_date = params.get("start_date")

    days = requests.select(F.col("created_date_only").alias("ds"), "borough", "complaint_type")
    days = days.where(F.col("ds").isNotNull() & (F.col("ds") <= F.current_date()))
    if start_date:
        days = days.where(F.col("ds") >= F.lit(str(start_date)).cast("date"))
    bounds = days.agg(F.min("ds").alias("first"), F.max("ds").alias("last")).collect()[0]
    if bounds["first"] is None:
        raise ValueError("ml_features: silver.nyc311_service_requests has no dated requests")
    first: dt.date = bounds["first"]
    last: dt.date = bounds["last"] - dt.timedelta(days=drop_last_days)
    if last < first:
        raise ValueError(
            f"ml_features: only {(bounds['last'] - first).days + 1} day(s) of requests; "
            f"drop_last_days={drop_last_days} leaves none"
        )
    days = days.where(F.col("ds") <= F.lit(last))

    citywide = days.groupBy("ds").agg(F.count(F.lit(1)).alias("y"))
    citywide = citywide.select(F.lit(CITYWIDE).alias("unique_id"), "ds", "y")
    by_borough = (
        days.where(F.col("borough").isin(boroughs))
        .groupBy("borough", "ds")
        .agg(F.count(F.lit(1)).alias("y"))
        .select(F.concat(F.lit(BOROUGH_PREFIX), "borough").alias("unique_id"), "ds", "y")
    )
    top_types = [
        row["complaint_type"]
        for row in days.where(F.col("complaint_type").isNotNull())
        .groupBy("complaint_type")
        .agg(F.count(F.lit(1)).alias("n"))
        .orderBy(F.desc("n"), F.asc("complaint_type"))
        .limit(top_n)
        .collect()
    ]
    by_type = (
        days.where(F.col("complaint_type").isin(top_types))
        .groupBy("complaint_type", "ds")
        .agg(F.count(F.lit(1)).alias("y"))
        .select(F.concat(F.lit(COMPLAINT_PREFIX), "complaint_type").alias("unique_id"), "ds", "y")
    )
    counts = citywide.unionByName(by_borough).unionByName(by_type)

    series_ids = (
        [CITYWIDE]
        + [f"{BOROUGH_PREFIX}{b}" for b in boroughs]
        + [f"{COMPLAINT_PREFIX}{t}" for t in top_types]
    )
    spark = _spark_of(requests)
    calendar = spark.range(0, (last - first).days + 1).select(
        F.date_add(F.lit(first), F.col("id").cast("int")).alias("ds")
    )
    series = spark.createDataFrame(pd.DataFrame({"unique_id": series_ids}))
    grid = series.crossJoin(calendar)
    panel = grid.join(counts, on=["unique_id", "ds"], how="left").select(
        F.col("unique_id").cast("string"),
        F.col("ds").cast("date"),
        F.coalesce(F.col("y"), F.lit(0)).cast("double").alias("y"),
    )
    logger.info(
        "Daily panel: %d series x %d days (%s to %s)",
        len(series_ids),
        (last - first).days + 1,
        first,
        last,
    )
    return panel


def volume_forecasting_features(panel: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """Feature table: one row per series per day.

    Lags ``lag_<k>`` are the value ``k`` days earlier (the panel has no gaps, so a row offset
    is a day offset); rolling means / standard deviations ``rolling_mean_<w>`` cover the ``w``
    days ending the day BEFORE (no leakage of the day itself) and are null until ``w`` past
    days exist. ``trend`` counts days since the series' first day. Calendar and holiday
    columns come from :func:`~nyc_lakehouse.pipelines.ml_features.calendar.calendar_features`.
    """
    lags = [int(k) for k in params.get("lags", [1, 7, 14, 28, 364])]
    windows = [int(w) for w in params.get("rolling_windows", [7, 28])]
    calendar_params = params.get("calendar", {}) or {}

    bounds = panel.agg(F.min("ds").alias("first"), F.max("ds").alias("last")).collect()[0]
    if bounds["first"] is None:
        raise ValueError("ml_features: the daily panel is empty")
    days = pd.date_range(bounds["first"], bounds["last"], freq="D")
    calendar = calendar_features(
        days,
        country=calendar_params.get("country", "US"),
        subdivision=calendar_params.get("subdivision", "NY"),
    )
    calendar["ds"] = calendar["ds"].dt.date
    calendar = calendar.drop(columns=["year"])
    calendar_df = _spark_of(panel).createDataFrame(calendar)

    by_day = Window.partitionBy("unique_id").orderBy("ds")
    columns = [F.col(c) for c in panel.columns]
    for k in lags:
        columns.append(F.lag("y", k).over(by_day).alias(f"lag_{k}"))
    for w in windows:
        past = by_day.rowsBetween(-w, -1)
        count = F.count("y").over(past)
        columns.append(F.when(count == w, F.avg("y").over(past)).alias(f"rolling_mean_{w}"))
        columns.append(F.when(count == w, F.stddev_samp("y").over(past)).alias(f"rolling_std_{w}"))
    first_day = F.min("ds").over(Window.partitionBy("unique_id"))
    columns.append(F.datediff(F.col("ds"), first_day).alias("trend"))
    features = panel.select(*columns).join(calendar_df, on="ds", how="left")
    ordered = ["unique_id", "ds", "y"] + [
        c for c in features.columns if c not in {"unique_id", "ds", "y"}
    ]
    return features.select(*ordered)
