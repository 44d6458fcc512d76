"""Nodes of the ``ml_features`` pipeline (Spark DataFrame API).

Input: ``gold.agg_daily_type_borough``, the requests per creation day x complaint type x borough
of the gold star schema (its cost follows days and types, not requests, and gold's daily run
rebuilds only the months that changed). Output ``ml.daily_volume_panel``: one row per
series per day, ``unique_id, ds, y``, days without requests filled with 0. Series:
``citywide``, ``borough:<BOROUGH>``, ``complaint_type:<type>`` for the top-N complaint types.

The feature table the model trains on, ``gold.volume_forecasting_features``, is built from this
panel by the forecasting pipeline (pandas), with the same function that builds the rows it
forecasts from (:mod:`nyc_lakehouse.pipelines.ml_features.features`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from nyc_lakehouse.lakehouse_sources import warn_absent

logger = logging.getLogger(__name__)

PANEL_SCHEMA = "unique_id string, ds date, y double"

CITYWIDE = "citywide"
BOROUGH_PREFIX = "borough:"
COMPLAINT_PREFIX = "complaint_type:"


def _spark_of(frame: DataFrame) -> Any:
    return frame.sparkSession


def daily_volume_panel_from_gold(daily_counts: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """``ml.daily_volume_panel`` from ``gold.agg_daily_type_borough`` (see
    :func:`daily_volume_panel`)."""
    counts = daily_counts.select(
        F.col("date").alias("created_date_only"), "borough", "complaint_type", "request_count"
    )
    return daily_volume_panel(counts, params, count_column="request_count")


def daily_volume_panel(
    requests: DataFrame, params: Mapping[str, Any], count_column: str | None = None
) -> DataFrame:
    """Long daily panel ``unique_id string, ds date, y double`` (zero-filled, no gaps).

    ``requests``: one row per request with ``created_date_only, borough, complaint_type``, or,
    with ``count_column``, one row per day x borough x type with its number of requests.

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

    count = F.sum(count_column) if count_column else F.count(F.lit(1))
    days = requests.select(
        F.col("created_date_only").alias("ds"),
        "borough",
        "complaint_type",
        *([count_column] if count_column else []),
    )
    days = days.where(F.col("ds").isNotNull() & (F.col("ds") <= F.current_date()))
    if start_date:
        days = days.where(F.col("ds") >= F.lit(str(start_date)).cast("date"))
    bounds = days.agg(F.min("ds").alias("first"), F.max("ds").alias("last")).collect()[0]
    if bounds["first"] is None:
        # Each source stands alone: a lakehouse without 311 rows gets an empty panel, and
        # forecasting forecasts nothing, instead of the run failing.
        warn_absent("nyc311", "ml.daily_volume_panel is empty, there is nothing to forecast")
        return _spark_of(requests).createDataFrame([], PANEL_SCHEMA)
    first: dt.date = bounds["first"]
    last: dt.date = bounds["last"] - dt.timedelta(days=drop_last_days)
    if last < first:
        raise ValueError(
            f"ml_features: only {(bounds['last'] - first).days + 1} day(s) of requests; "
            f"drop_last_days={drop_last_days} leaves none"
        )
    days = days.where(F.col("ds") <= F.lit(last))

    citywide = days.groupBy("ds").agg(count.alias("y"))
    citywide = citywide.select(F.lit(CITYWIDE).alias("unique_id"), "ds", "y")
    by_borough = (
        days.where(F.col("borough").isin(boroughs))
        .groupBy("borough", "ds")
        .agg(count.alias("y"))
        .select(F.concat(F.lit(BOROUGH_PREFIX), "borough").alias("unique_id"), "ds", "y")
    )
    top_types = [
        row["complaint_type"]
        for row in days.where(F.col("complaint_type").isNotNull())
        .groupBy("complaint_type")
        .agg(count.alias("n"))
        .orderBy(F.desc("n"), F.asc("complaint_type"))
        .limit(top_n)
        .collect()
    ]
    by_type = (
        days.where(F.col("complaint_type").isin(top_types))
        .groupBy("complaint_type", "ds")
        .agg(count.alias("y"))
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
