"""Analytics nodes: seasonality, COVID impact and holiday patterns, read from the gold star schema.

Grains and column descriptions are in ``nyc_lakehouse.pipelines.gold.tables.TABLES``; every
function returns exactly those columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.gold.nodes import safe_divide
from nyc_lakehouse.pipelines.gold.tables import columns_of

ALL = "ALL"
COVID_PERIOD_ORDER = ("pre", "peak", "post")


def _pct_change(value: Column, reference: Column) -> Column:
    return F.round(safe_divide((value - reference) * 100.0, reference), 2)


def build_seasonal_trends(daily_counts: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """Average volume per month of the year, and its seasonal index, per complaint type.

    ``daily_counts`` is ``gold.agg_daily_type_borough`` (requests per day, type and borough).
    A month of the year counts for every year in which the data covers it (any complaint type),
    so a type with no requests in a covered month contributes a zero, not a gap.
    """
    all_label = str(params.get("seasonal_all_label", "All complaint types"))
    requests = daily_counts.select(
        "complaint_type",
        F.year("date").alias("year"),
        F.month("date").alias("month_of_year"),
        "request_count",
    )
    requests = requests.unionByName(requests.withColumn("complaint_type", F.lit(all_label)))
    covered = (
        daily_counts.select(
            F.year("date").alias("year"),
            F.month("date").alias("month_of_year"),
        )
        .distinct()
        .groupBy("month_of_year")
        .agg(F.count(F.lit(1)).alias("years_observed"))
    )
    counts = requests.groupBy("complaint_type", "month_of_year").agg(
        F.sum("request_count").alias("request_count")
    )
    grid = requests.select("complaint_type").distinct().crossJoin(covered)
    by_type = Window.partitionBy("complaint_type")
    return (
        grid.join(counts, ["complaint_type", "month_of_year"], "left")
        .withColumn("request_count", F.coalesce(F.col("request_count"), F.lit(0)).cast("long"))
        .withColumn("avg_monthly_requests", F.col("request_count") / F.col("years_observed"))
        .withColumn(
            "seasonal_index",
            F.round(
                safe_divide(
                    F.col("avg_monthly_requests"), F.avg("avg_monthly_requests").over(by_type)
                ),
                4,
            ),
        )
        .withColumn(
            "is_peak_month",
            F.col("seasonal_index") == F.max("seasonal_index").over(by_type),
        )
        .withColumn("avg_monthly_requests", F.round("avg_monthly_requests", 2))
        .withColumn(
            "month_name",
            F.date_format(F.make_date(F.lit(2000), F.col("month_of_year"), F.lit(1)), "MMMM"),
        )
        .orderBy("complaint_type", "month_of_year")
        .select(*columns_of("seasonal_trends"))
    )


def _with_rollups(df: DataFrame) -> DataFrame:
    """Each row once per grouping: (type, borough), (type, ALL), (ALL, borough), (ALL, ALL)."""
    groupings = F.array(
        *[
            F.struct(ct.alias("complaint_type"), b.alias("borough"))
            for ct, b in [
                (F.col("complaint_type"), F.col("borough")),
                (F.col("complaint_type"), F.lit(ALL)),
                (F.lit(ALL), F.col("borough")),
                (F.lit(ALL), F.lit(ALL)),
            ]
        ]
    )
    return (
        df.withColumn("_group", F.explode(groupings))
        .drop("complaint_type", "borough")
        .select(
            "_group.complaint_type",
            "_group.borough",
            *[c for c in df.columns if c not in ("complaint_type", "borough")],
        )
    )


def build_covid_impact_analysis(
    daily_counts: DataFrame, dim_date: DataFrame, params: Mapping[str, Any]
) -> DataFrame:
    """Daily volume per COVID period against the baseline year's same-month daily averages.

    ``daily_counts`` is ``gold.agg_daily_type_borough`` (requests per day, type and borough).

    The baseline (seed definition: 2019 same-month averages) for a period is the mean, over the
    period's observed days, of the baseline year's average daily volume in the same calendar
    month. Months the baseline year does not cover are left out; with no baseline data at all
    the baseline columns are null rather than a misleading number.
    """
    baseline_year = int(params["covid_baseline_year"])
    requests = _with_rollups(
        daily_counts.select("complaint_type", "borough", "date", "request_count")
    )
    span = daily_counts.select(F.min("date").alias("first"), F.max("date").alias("last"))
    days = dim_date.join(
        span, (F.col("date") >= F.col("first")) & (F.col("date") <= F.col("last"))
    ).select("date", "covid_period", "year", "month")
    periods = days.groupBy("covid_period").agg(
        F.min("date").alias("period_start"),
        F.max("date").alias("period_end"),
        F.count(F.lit(1)).alias("days_observed"),
    )
    groups = requests.select("complaint_type", "borough").distinct()

    dated = requests.join(days, "date")
    actual = (
        groups.crossJoin(periods)
        .join(
            dated.groupBy("complaint_type", "borough", "covid_period").agg(
                F.sum("request_count").alias("request_count")
            ),
            ["complaint_type", "borough", "covid_period"],
            "left",
        )
        .withColumn("request_count", F.coalesce(F.col("request_count"), F.lit(0)).cast("long"))
        .withColumn("avg_daily_requests", F.col("request_count") / F.col("days_observed"))
    )

    baseline_days = (
        days.where(F.col("year") == baseline_year)
        .groupBy("month")
        .agg(F.count(F.lit(1)).alias("baseline_days"))
    )
    baseline_counts = (
        dated.where(F.col("year") == baseline_year)
        .groupBy("complaint_type", "borough", "month")
        .agg(F.sum("request_count").alias("baseline_requests"))
    )
    baseline_daily = (
        groups.crossJoin(baseline_days)
        .join(baseline_counts, ["complaint_type", "borough", "month"], "left")
        .withColumn(
            "baseline_daily",
            F.coalesce(F.col("baseline_requests"), F.lit(0)) / F.col("baseline_days"),
        )
        .select("complaint_type", "borough", "month", "baseline_daily")
    )
    period_month_days = days.groupBy("covid_period", "month").agg(F.count(F.lit(1)).alias("n_days"))
    expected = (
        baseline_daily.join(period_month_days, "month")
        .groupBy("complaint_type", "borough", "covid_period")
        .agg(
            (F.sum(F.col("baseline_daily") * F.col("n_days")) / F.sum("n_days")).alias(
                "baseline_avg_daily_requests"
            )
        )
    )
    pre = actual.where(F.col("covid_period") == "pre").select(
        "complaint_type", "borough", F.col("avg_daily_requests").alias("_pre_avg")
    )
    order = F.array_position(
        F.array(*[F.lit(p) for p in COVID_PERIOD_ORDER]), F.col("covid_period")
    )
    return (
        actual.join(expected, ["complaint_type", "borough", "covid_period"], "left")
        .join(pre, ["complaint_type", "borough"], "left")
        .withColumn(
            "pct_change_vs_baseline",
            _pct_change(F.col("avg_daily_requests"), F.col("baseline_avg_daily_requests")),
        )
        .withColumn(
            "pct_change_vs_pre", _pct_change(F.col("avg_daily_requests"), F.col("_pre_avg"))
        )
        .withColumn("avg_daily_requests", F.round("avg_daily_requests", 4))
        .withColumn("baseline_avg_daily_requests", F.round("baseline_avg_daily_requests", 4))
        .orderBy("complaint_type", "borough", order)
        .select(*columns_of("covid_impact_analysis"))
    )


def build_holiday_pattern_analysis(
    agg_daily_summary: DataFrame, dim_date: DataFrame, params: Mapping[str, Any]
) -> DataFrame:
    """Each holiday's volume against non-holiday days on the same weekday within a few weeks."""
    window_days = 7 * int(params["holiday_window_weeks"])
    daily = agg_daily_summary.select("date", "day_of_week", "is_holiday", "request_count")
    holidays = (
        daily.where(F.col("is_holiday"))
        .join(dim_date.select("date", "holiday_name", "is_federal_holiday"), "date")
        .select(
            F.col("date").alias("holiday_date"),
            "holiday_name",
            "is_federal_holiday",
            "day_of_week",
            "request_count",
        )
    )
    ordinary = daily.where(~F.col("is_holiday")).select(
        F.col("date").alias("_date"),
        F.col("day_of_week").alias("_dow"),
        F.col("request_count").alias("_requests"),
    )
    near = (F.col("_dow") == F.col("day_of_week")) & (
        F.abs(F.datediff(F.col("_date"), F.col("holiday_date"))) <= window_days
    )
    return (
        holidays.join(ordinary, near, "left")
        .groupBy(
            "holiday_date", "holiday_name", "is_federal_holiday", "day_of_week", "request_count"
        )
        .agg(
            F.count("_date").alias("comparable_days"),
            F.avg("_requests").alias("comparable_avg_requests"),
        )
        .withColumn(
            "pct_difference",
            _pct_change(F.col("request_count"), F.col("comparable_avg_requests")),
        )
        .withColumn("comparable_avg_requests", F.round("comparable_avg_requests", 2))
        .orderBy("holiday_date")
        .select(*columns_of("holiday_pattern_analysis"))
    )


def build_borough_hotspots(daily_counts: DataFrame, params: Mapping[str, Any]) -> DataFrame:
    """Borough days whose volume stands out against the borough's own average day.

    Seed definition: a hotspot is a day above ``hotspot.threshold`` (1.5x) the borough's average
    daily volume, graded HIGH above ``high`` (2.0x), MEDIUM above ``medium`` (1.5x) and LOW above
    ``low`` (1.2x). LOW days are kept (``is_hotspot`` false) so that near-misses are visible.
    The average is over every day from the borough's first to its last request, zeros included.
    """
    hotspot = params["hotspot"]
    high, medium, low = (float(hotspot[k]) for k in ("high", "medium", "low"))
    threshold = float(hotspot["threshold"])
    if not high >= medium >= low > 0:
        raise ValueError(
            f"analytics.hotspot: expected high >= medium >= low > 0, got {high}, {medium}, {low}"
        )
    daily = (
        daily_counts.where(F.col("borough") != F.lit("UNSPECIFIED"))
        .groupBy("borough", "date")
        .agg(F.sum("request_count").alias("request_count"))
    )
    spans = daily.groupBy("borough").agg(
        F.sum("request_count").alias("_total"),
        (F.datediff(F.max("date"), F.min("date")) + F.lit(1)).alias("_days"),
    )
    ratio = F.col("request_count") / F.col("borough_avg_daily_requests")
    return (
        daily.join(spans, "borough")
        .withColumn("borough_avg_daily_requests", F.col("_total") / F.col("_days"))
        .withColumn("volume_ratio", ratio)
        .where(F.col("volume_ratio") > F.lit(low))
        .withColumn(
            "severity",
            F.when(F.col("volume_ratio") > F.lit(high), F.lit("HIGH"))
            .when(F.col("volume_ratio") > F.lit(medium), F.lit("MEDIUM"))
            .otherwise(F.lit("LOW")),
        )
        .withColumn("is_hotspot", F.col("volume_ratio") > F.lit(threshold))
        .withColumn("borough_avg_daily_requests", F.round("borough_avg_daily_requests", 2))
        .withColumn("volume_ratio", F.round("volume_ratio", 3))
        .orderBy("borough", "date")
        .select(*columns_of("borough_hotspots"))
    )
