"""Gold published whole: readers see the last tested gold or the new one, never a mix.

A real ``kedro run --pipeline gold`` subprocess is killed with SIGKILL right after it saved
``gold.fact_311`` (before the aggregates built from it): the tables on disk then mix two builds,
and the catalog's readers must still see the previous publication, whose totals agree across
tables. A rerun publishes the new build; a run whose data tests fail publishes nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from pyspark.sql import functions as F

from nyc_lakehouse.datasets.published_gold import published_versions
from nyc_lakehouse.pipelines.gold.data_tests import GoldDataTestError
from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline
from nyc_lakehouse.pipelines.gold.testing import PROJECT_ROOT, project_catalog, write_silver

KILL_AFTER_SAVE = """
import os, signal, sys
from nyc_lakehouse.pipelines.gold import datasets

saved = datasets.MonthlyGoldDeltaTableDataset.save

def save_then_die(self, data):
    saved(self, data)
    if self.address.name == os.environ["KILL_AFTER_SAVE"]:
        os.kill(os.getpid(), signal.SIGKILL)

datasets.MonthlyGoldDeltaTableDataset.save = save_then_die
from kedro.framework.cli import main
sys.argv = ["kedro", "run", "--pipeline", "gold"]
main()
"""


def gold_totals(catalog: Any) -> dict[str, int]:
    """The totals a dashboard shows, read through the catalog as every reader does."""

    def total(name: str, column: str | None = None) -> int:
        frame = catalog.load(name)
        if column is None:
            return int(frame.count())
        return int(frame.agg(F.sum(column)).first()[0] or 0)

    return {
        "fact_311_rows": total("gold.fact_311"),
        "daily_requests": total("gold.agg_daily_summary", "request_count"),
        "monthly_requests": total("gold.agg_monthly_summary", "request_count"),
        "fact_911_incidents": total("gold.fact_911_weekly", "incident_count"),
        "monthly_911_incidents": total("gold.agg_911_monthly_agency", "incidents"),
    }


def assert_consistent(totals: dict[str, int]) -> None:
    assert totals["fact_311_rows"] == totals["daily_requests"] == totals["monthly_requests"], totals
    assert totals["fact_911_incidents"] == totals["monthly_911_incidents"], totals


def latest_count(spark, data_root: Path, name: str) -> int:
    return spark.read.format("delta").load(str(data_root / "gold" / name)).count()


def kill_gold_after(data_root: Path, table: str, log: Path) -> int:
    env = {
        **os.environ,
        "NYC_LAKEHOUSE_DATA_ROOT": str(data_root),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "KILL_AFTER_SAVE": table,
    }
    with log.open("w") as out:
        return subprocess.run(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", KILL_AFTER_SAVE],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=600,
            check=False,
        ).returncode


def test_gold_killed_between_tables_readers_keep_the_last_publication(
    spark, data_root, tmp_path, silver_311, silver_911
):
    # first build: two thirds of the requests and the 911 weeks of June
    write_silver(
        data_root,
        silver_311.where(F.col("unique_key") % 3 != 0),
        silver_911.where(F.month("week_start_date") == 6),
    )
    SequentialRunner().run(create_pipeline(), project_catalog())
    first = gold_totals(project_catalog())
    assert_consistent(first)
    assert first["fact_311_rows"] > 0
    assert first["fact_911_incidents"] > 0

    # second build, killed right after fact_311 is saved
    write_silver(data_root, silver_311, silver_911)
    code = kill_gold_after(data_root, "gold.fact_311", tmp_path / "killed.log")
    assert code == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
    # on disk, the latest fact_311 is the new build and the daily aggregate the old one: a mix
    assert latest_count(spark, data_root, "fact_311") == silver_311.count()
    assert latest_count(spark, data_root, "fact_311") != first["fact_311_rows"]
    daily = spark.read.format("delta").load(str(data_root / "gold" / "agg_daily_summary"))
    assert daily.agg(F.sum("request_count")).first()[0] == first["daily_requests"]

    # readers (a new catalog: a notebook, the dashboard, analytics) still see the first build
    assert gold_totals(project_catalog()) == first

    # a rerun publishes the new build, consistent across tables
    SequentialRunner().run(create_pipeline(), project_catalog())
    second = gold_totals(project_catalog())
    assert_consistent(second)
    assert second["fact_311_rows"] == silver_311.count()
    expected_911 = silver_911.agg(F.sum("incident_count")).first()[0]
    assert second["fact_911_incidents"] == expected_911 != first["fact_911_incidents"]


def test_failing_data_tests_publish_nothing(spark, data_root, silver_311, silver_911):
    write_silver(data_root, silver_311, silver_911)
    SequentialRunner().run(create_pipeline(), project_catalog())
    publications = project_catalog().get("gold.fact_311").publications
    before = published_versions(publications)
    first = gold_totals(project_catalog())
    assert_consistent(first)

    # a duplicated request: fact_311 is rebuilt with one row more, and its data test fails
    write_silver(data_root, silver_311.unionByName(silver_311.where("unique_key = 1")), silver_911)
    with pytest.raises(GoldDataTestError):
        SequentialRunner().run(create_pipeline(), project_catalog())
    assert latest_count(spark, data_root, "fact_311") == silver_311.count() + 1
    after = published_versions(publications)
    assert after["publication_id"] == before["publication_id"]
    assert after["versions"] == before["versions"]
    assert gold_totals(project_catalog()) == first


def test_before_the_first_publication_readers_read_the_latest(data_root, silver_311, silver_911):
    write_silver(data_root, silver_311, silver_911)
    catalog = project_catalog()
    # the star schema and aggregates, without the data tests and the publication
    builds = [n for n in create_pipeline().nodes if n.name.startswith(("plan_", "build_"))]
    SequentialRunner().run(Pipeline(builds), catalog)
    dataset = project_catalog().get("gold.fact_311")
    assert dataset.published_version() is None
    assert project_catalog().load("gold.fact_311").count() == silver_311.count()
