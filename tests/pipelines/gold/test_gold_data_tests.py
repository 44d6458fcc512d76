"""The gold data tests pass on good data and fail, by name and count, on broken fixtures."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from nyc_lakehouse.pipelines.gold import data_tests, nodes
from nyc_lakehouse.pipelines.gold.data_tests import DataTest, GoldDataTestError
from nyc_lakehouse.pipelines.gold.tables import TABLES, all_data_tests


@pytest.fixture(scope="module")
def gold_tables(silver_311, silver_911, gold_params):
    sla, calendar = gold_params["sla"], gold_params["calendar"]
    fact = nodes.build_fact_311(silver_311, sla, gold_params["response_time_outlier_hours"])
    plan = nodes.plan_gold_311(
        silver_311, None, sla, gold_params["response_time_outlier_hours"], calendar
    )
    dim_date = nodes.build_dim_date(silver_311, calendar)
    dims = {
        "dim_date": dim_date,
        "dim_agency": nodes.build_dim_agency(silver_311),
        "dim_complaint_type": nodes.build_dim_complaint_type(silver_311, sla),
        "dim_location": nodes.build_dim_location(silver_311),
    }
    fact_911 = nodes.build_fact_911_weekly(silver_911, gold_params["nyc911"])
    return {
        **dims,
        "fact_311": fact,
        "agg_daily_summary": nodes.build_agg_daily_summary(fact, dim_date),
        "agg_monthly_summary": nodes.build_agg_monthly_summary(fact),
        "agg_agency_metrics": nodes.build_agg_agency_metrics(fact, dims["dim_agency"]),
        "agg_complaint_type_metrics": nodes.build_agg_complaint_type_metrics(
            fact, dims["dim_complaint_type"]
        ),
        "agg_location_metrics": nodes.build_agg_location_metrics(fact, dims["dim_location"]),
        "agg_daily_type_borough": nodes.build_agg_daily_type_borough(
            fact, dims["dim_complaint_type"], dims["dim_location"]
        ),
        "silver_311_fingerprint": nodes.build_silver_311_fingerprint(plan),
        "silver_311_month_members": nodes.month_members(silver_311),
        "fact_911_weekly": fact_911,
        "agg_911_monthly_agency": nodes.build_agg_911_monthly_agency(fact_911),
        "kpi_911_overview": nodes.build_kpi_911_overview(fact_911, gold_params["nyc911"]),
    }


def _by_name(results):
    return {r["test_name"]: r for r in results}


def test_every_gold_and_analytics_table_has_data_tests():
    tested = {t.table for t in all_data_tests()}
    assert set(TABLES) <= tested
    for pipeline in ("gold", "analytics"):
        assert {t.table for t in all_data_tests(pipeline)} == {
            name for name, spec in TABLES.items() if spec.pipeline == pipeline
        }
    kinds = {t.check for t in all_data_tests()}
    assert {
        "unique",
        "not_null",
        "relationships",
        "accepted_values",
        "range",
        "expression",
    } <= kinds


def test_all_tests_pass_on_good_data(spark, gold_tables, gold_params):
    config = gold_params["data_tests"]
    frame, results = nodes.run_gold_data_tests(config, **gold_tables)
    not_passing = {
        r["test_name"]: (r["status"], r["error"]) for r in results if r["status"] != "pass"
    }
    # the fixture holds one deliberate response-time outlier (a warn-level test) and one
    # implausible 911 pickup (warn): everything else passes
    assert not_passing == {
        "fact_311__response_time_outliers_rare": ("fail", None),
        "fact_911_weekly__pickup_plausible": ("fail", None),
    }
    assert len(results) == len(all_data_tests("gold"))
    assert frame.count() == len(results)
    assert frame.schema == data_tests.RESULTS_SCHEMA
    nodes.enforce_data_tests(results)  # warnings do not fail the run


@pytest.mark.parametrize(
    ("table", "breakage", "failing_test", "failed_count"),
    [
        ("fact_311", lambda df: df.unionByName(df.limit(2)), "fact_311__unique_key__unique", 2),
        (
            "fact_311",
            lambda df: df.withColumn(
                "agency_key",
                F.when(F.col("unique_key") == 1, F.lit(123)).otherwise(F.col("agency_key")),
            ),
            "fact_311__agency_key__references_dim_agency",
            1,
        ),
        (
            "fact_311",
            lambda df: df.withColumn(
                "response_time_hours",
                F.when(F.col("unique_key") <= 2, F.lit(-1.0)).otherwise(
                    F.col("response_time_hours")
                ),
            ),
            "fact_311__response_time_hours__not_negative",
            2,
        ),
        (
            "fact_311",
            lambda df: df.withColumn(
                "created_date",
                F.when(
                    F.col("unique_key") == 3, F.lit("2009-12-31 23:00:00").cast("timestamp")
                ).otherwise(F.col("created_date")),
            ),
            "fact_311__created_date__inside_data_range",
            1,
        ),
        (
            "dim_agency",
            lambda df: df.withColumn("agency_key", F.lit(None).cast("long")),
            "dim_agency__agency_key__not_null",
            4,
        ),
        (
            "dim_location",
            lambda df: df.withColumn("borough", F.lit("NEW JERSEY")),
            "dim_location__borough__accepted_values",
            4,
        ),
        (
            "agg_911_monthly_agency",
            lambda df: df.withColumn("incidents", F.col("incidents") + 1),
            "agg_911_monthly_agency__incidents_match_fact",
            1,
        ),
        (
            "kpi_911_overview",
            lambda df: df.where("agency_scope <> 'ALL'"),
            "kpi_911_overview__all_scope_present",
            1,
        ),
    ],
)
def test_broken_fixture_fails_the_named_test(
    spark, gold_tables, gold_params, table, breakage, failing_test, failed_count
):
    broken = {**gold_tables, table: breakage(gold_tables[table])}
    # only the broken table's tests, to keep the suite fast (the node runs all of them above)
    tests = [t for t in all_data_tests() if t.table == table]
    placeholders = gold_params["data_tests"]["placeholders"]
    results = data_tests.evaluate_data_tests(spark, tests, broken, placeholders)
    result = _by_name(results)[failing_test]
    assert (result["status"], result["failed_count"]) == ("fail", failed_count)
    with pytest.raises(GoldDataTestError) as raised:
        nodes.enforce_data_tests(results)
    assert f"{failing_test} on {table}: {failed_count} failing row(s)" in str(raised.value)


def test_a_test_that_cannot_run_is_an_error_not_a_pass(spark, gold_tables):
    bad_column = DataTest("typo", "fact_311", "not_null", column="no_such_column")
    missing_table = DataTest("missing", "no_such_table", "unique", column="x")
    results = data_tests.evaluate_data_tests(spark, [bad_column, missing_table], gold_tables)
    assert [r["status"] for r in results] == ["error", "error"]
    assert "no_such_table" in results[1]["error"]
    with pytest.raises(GoldDataTestError, match="typo on fact_311: could not run"):
        data_tests.raise_on_blocking_failures(results)


def test_severity_overrides_disable_and_extra_tests(spark, gold_tables):
    config = {
        "severity_overrides": {"fact_311__unique_key__unique": "warn"},
        "disabled": ["fact_311__unique_key__not_null"],
        "extra_tests": [
            {
                "name": "fact_311__few_open",
                "table": "fact_311",
                "check": "sql",
                "sql": "SELECT 1 FROM fact_311 WHERE NOT is_closed HAVING count(*) > {max_open}",
                "severity": "warn",
            }
        ],
        "placeholders": {"max_open": 0},
    }
    tests = {t.name: t for t in data_tests.apply_overrides(all_data_tests(), config)}
    assert tests["fact_311__unique_key__unique"].severity == "warn"
    assert "fact_311__unique_key__not_null" not in tests
    extra = data_tests.apply_overrides([], config)
    results = data_tests.evaluate_data_tests(spark, extra, gold_tables, config["placeholders"])
    assert (results[0]["status"], results[0]["failed_count"]) == ("fail", 1)
    with pytest.raises(ValueError, match="Duplicate data test names"):
        data_tests.apply_overrides(extra, config)


def test_invalid_definitions_are_rejected():
    with pytest.raises(ValueError, match="unknown check"):
        DataTest("x", "t", "bogus")
    with pytest.raises(ValueError, match="needs to_table, to_column"):
        DataTest("x", "t", "relationships", column="c")
    with pytest.raises(ValueError, match="severity"):
        DataTest("x", "t", "unique", column="c", severity="fatal")
