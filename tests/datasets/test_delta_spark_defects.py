"""Every delta-spark defect the Delta library works around, reproduced (JVM Spark only).

Each test first shows the defect on the installed delta-spark, then the workaround in
``nyc_lakehouse.delta.engines.delta_spark`` giving the right answer. When an upgrade fixes a
defect, the first half of its test fails: the workaround can then go (docs/engines.md).
Seen on delta-spark 4.0.0 with Spark 4.0.1.
"""

from __future__ import annotations

from engines import on_engines
from nyc_lakehouse.delta.engines import delta_spark


def _merge(spark, path: str) -> None:
    spark.createDataFrame(
        [(2, "b", "n")], "id long, v string, note string"
    ).createOrReplaceTempView("nyc_defect_source")
    spark.sql(
        f"MERGE WITH SCHEMA EVOLUTION INTO delta.`{path}` AS target "
        "USING nyc_defect_source AS source ON target.id = source.id "
        "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    ).collect()


@on_engines("jvm")
def test_sql_merge_with_schema_evolution_drops_new_columns(engine, tmp_path):
    spark = engine.spark
    for name in ("raw", "fixed"):
        spark.createDataFrame([(1, "a")], "id long, v string").write.format("delta").save(
            str(tmp_path / name)
        )
    _merge(spark, str(tmp_path / "raw"))
    assert spark.read.format("delta").load(str(tmp_path / "raw")).columns == ["id", "v"]

    before = spark.conf.get(delta_spark.AUTO_MERGE, None)
    with delta_spark.merge_schema_evolution(spark):
        _merge(spark, str(tmp_path / "fixed"))
    assert spark.conf.get(delta_spark.AUTO_MERGE, None) == before  # restored
    fixed = spark.read.format("delta").load(str(tmp_path / "fixed"))
    assert fixed.columns == ["id", "v", "note"]
    assert {r["id"]: r["note"] for r in fixed.collect()} == {1: None, 2: "n"}
