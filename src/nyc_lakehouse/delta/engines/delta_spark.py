"""Every delta-spark (open-source Delta on JVM Spark) defect the project works around.

Each workaround names the version it was seen on and the test that reproduces the defect
(``tests/datasets/test_delta_spark_defects.py``: each test first shows the defect, so an upgrade
that fixes one fails that test and says which workaround can go).

Seen on delta-spark 4.0.0 with Spark 4.0.1, local (``jvm``) and behind Spark Connect
(``remote``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from nyc_lakehouse.delta.engines import Engine

AUTO_MERGE = "spark.databricks.delta.schema.autoMerge.enabled"


def applies(engine: Engine) -> bool:
    """On every engine that may be delta-spark: ``jvm``, and ``remote`` (any server, a JVM one
    included). Not Sail (it ignores the setting) and not Databricks (its runtime honours the
    SQL syntax)."""
    return engine.mode in ("jvm", "remote")


@contextmanager
def merge_schema_evolution(spark: SparkSession) -> Iterator[None]:
    """Schema evolution for the SQL ``MERGE`` run inside the block.

    delta-spark parses ``MERGE WITH SCHEMA EVOLUTION`` (Spark 4.0's syntax) but ignores it:
    new source columns are silently dropped. It honours the session's ``autoMerge`` setting, so
    that is turned on for the statement and restored after. Seen on delta-spark 4.0.0; test:
    ``test_sql_merge_with_schema_evolution_drops_new_columns``.
    """
    previous = spark.conf.get(AUTO_MERGE, None)
    spark.conf.set(AUTO_MERGE, "true")
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(AUTO_MERGE)
        else:
            spark.conf.set(AUTO_MERGE, previous)
