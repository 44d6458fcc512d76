"""The enrichment's code lookups: per distinct value, then an IN-list CASE on every row.

They must give exactly what the per-row functions give (status, canonical complaint type,
category, borough recovery), whatever the values: config values, spellings, nulls, noise.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from silver_fixtures import load_config

from nyc_lakehouse.pipelines.silver import nodes

P311 = load_config("parameters")["silver"]["nyc311"]
CODE_SCHEMA = "i int, status string, complaint_type_raw string, city string, borough string, " \
    "incident_zip string"  # fmt: skip
COMPARED = ("status", "borough", "_code_borough_recovered_from", "_code_complaint_type",
            "_code_complaint_category")  # fmt: skip

statuses = st.one_of(
    st.none(),
    st.sampled_from([*P311["status"]["allowed"], *P311["status"]["aliases"], "closed ", "Closed - x"]),
    st.text(max_size=12),
)  # fmt: skip
complaint_types = st.one_of(
    st.none(),
    st.sampled_from([*P311["complaint_types"]["aliases"], "HEAT/HOT WATER", "Noise - Street/Sidewalk",
                     "noise  residential", "Illegal Parking", "Rodent"]),
    st.text(max_size=12),
)  # fmt: skip
cities = st.one_of(
    st.none(),
    st.sampled_from([*P311["borough"]["city_names"], "new  york", " bronx", "Jersey City"]),
    st.text(max_size=10),
)  # fmt: skip
boroughs = st.one_of(st.none(), st.sampled_from([*P311["borough"]["valid"], "Unspecified"]))
zips = st.one_of(st.none(), st.sampled_from(["10001", "11101", "11004", "10465", "07302", "99999"]))


def _reference(df):
    """The per-row functions, as the enrichment applied them before the lookups."""
    from pyspark.sql import functions as F

    types = P311["complaint_types"]
    canonical = nodes.canonical_complaint_type(F.col("complaint_type_raw"), types["aliases"])
    coded = df.select(
        *[c for c in df.columns if c != "status"],
        nodes.standardize_status(F.col("status"), P311["status"]).alias("status"),
        canonical.alias("_code_complaint_type"),
        nodes.complaint_category(canonical, types).alias("_code_complaint_category"),
    )
    return nodes.recover_borough(coded, P311["borough"]).withColumnRenamed(
        "borough_recovered_from", "_code_borough_recovered_from"
    )


def _by_row(df) -> dict[int, tuple]:
    return {row["i"]: tuple(row[c] for c in COMPARED) for row in df.collect()}


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.tuples(statuses, complaint_types, cities, boroughs, zips), min_size=1,
                  max_size=30)
)  # fmt: skip
def test_lookups_give_what_the_per_row_functions_give(spark, rows):
    df = spark.createDataFrame([(i, *row) for i, row in enumerate(rows)], CODE_SCHEMA)
    looked_up = nodes._with_code_lookups(df, P311)
    assert looked_up.columns[: len(COMPARED)] == list(COMPARED)
    assert _by_row(looked_up) == _by_row(_reference(df))


def test_a_value_missing_from_the_lookup_falls_back_to_the_function(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("a",), ("b",), ("c",), (None,), ("zzz",)], "k string")
    mapping = {"a": "X", "b": "X", "c": "Y", None: "N"}
    out = df.select("k", nodes.lookup_values(F.col("k"), mapping, F.upper("k")).alias("v"))
    assert dict(out.collect()) == {"a": "X", "b": "X", "c": "Y", None: "N", "zzz": "ZZZ"}
    # no entry for null: null keys get the function too
    without_null = nodes.lookup_values(F.col("k"), {"a": "X"}, F.coalesce("k", F.lit("none")))
    assert dict(df.select("k", without_null).collect()) == {
        "a": "X", "b": "b", "c": "c", None: "none", "zzz": "zzz"
    }  # fmt: skip


def test_keys_that_map_to_themselves_share_one_branch_and_keep_their_value(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("a",), ("A",), ("b",), ("c",), (None,), ("zzz",)], "k string")
    mapping = {"a": "a", "b": "X", "c": "c", "zzz": "zzz", None: "N"}
    lookup = nodes.lookup_values(F.col("k"), mapping, F.concat(F.lit("fn:"), "k"))
    assert dict(df.select("k", lookup.alias("v")).collect()) == {
        "a": "a", "A": "fn:A", "b": "X", "c": "c", None: "N", "zzz": "zzz"
    }  # fmt: skip
    # one branch for the unchanged keys (plus the null branch and b's), not one per key
    assert str(lookup).count(" WHEN ") == 3


def test_a_value_missing_from_a_complete_lookup_fails_the_job(spark):
    """The enrichment's lookups hold every value of their input: a new one fails loudly."""
    from pyspark.sql import functions as F

    df = spark.createDataFrame([("a",), ("b",), (None,)], "k string")
    complete = nodes.lookup_values(F.col("k"), {"a": "X", "b": "Y", None: "N"},
                                   nodes.missing_lookup_value("k"))  # fmt: skip
    assert dict(df.select("k", complete.alias("v")).collect()) == {"a": "X", "b": "Y", None: "N"}
    incomplete = nodes.lookup_values(F.col("k"), {"a": "X", None: "N"},
                                     nodes.missing_lookup_value("k"))  # fmt: skip
    with pytest.raises(Exception, match="a k value appeared after its distinct values"):
        df.select(incomplete.alias("v")).collect()


def test_a_column_with_too_many_values_is_mapped_row_by_row(spark, monkeypatch):
    monkeypatch.setattr(nodes, "MAX_LOOKUP_VALUES", 2)
    df = spark.createDataFrame(
        [(i, s, "Noise", "BROOKLYN", None, None) for i, s in enumerate(["open", "Closed", "x"])],
        CODE_SCHEMA,
    )
    values = nodes._distinct_code_values(df)
    assert values["status"] is None  # three values, over the limit of two
    assert values["complaint_type_raw"] == ["Noise", None]
    assert _by_row(nodes._with_code_lookups(df, P311)) == _by_row(_reference(df))
