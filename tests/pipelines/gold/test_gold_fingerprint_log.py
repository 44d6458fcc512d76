"""Gold's daily plan rescans only the silver months silver's Delta log says changed.

Silver partitioned by creation month as in production; a daily silver write replaces two months
(a request moves from 2019-07 to 2020-04, a late request lands in 2019-07, and a request of a
new agency, complaint type and location lands in 2021-12). The build state then names exactly
those months, the plan scans them only, and the daily gold equals a full rebuild, the
dimensions included.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from nyc_lakehouse.datasets import DeltaTableDataset
from nyc_lakehouse.delta import log, writes
from nyc_lakehouse.pipelines.gold import incremental
from nyc_lakehouse.pipelines.gold.testing import (
    SILVER_311_RECORDS,
    project_catalog,
    silver_311_frame,
    write_silver,
)
from pipelines.gold.test_gold_incremental import assert_equal_tables, build_of, run_gold

MONTHS = ("2019-07", "2020-04", "2021-12")


def silver_table(data_root: Path) -> DeltaTableDataset:
    return DeltaTableDataset(
        table="silver.nyc311_service_requests",
        root=str(data_root),
        save_args={"mode": "overwrite", "partition_by": ["created_month"]},
    )


def test_daily_plan_scans_the_months_silver_changed(spark, data_root, silver_911):
    records = [dict(r) for r in SILVER_311_RECORDS]
    write_silver(data_root, silver_311_frame(spark, records), silver_911)
    silver = silver_table(data_root)
    silver.save(silver_311_frame(spark, records))  # partitioned by month, as in production
    run_gold()
    published = project_catalog().load("gold.silver_311_fingerprint").collect()
    assert {row["silver_version"] for row in published} == {silver.table.version()}
    state = project_catalog().load("gold_build_state")
    assert state["silver_changed_months"] == []  # nothing since

    moved = next(r for r in records if r["unique_key"] == 3)
    moved.update(created_date=datetime(2020, 4, 3, 8), closed_date=datetime(2020, 4, 9, 8))
    moved["_silver_updated_at"] = datetime(2026, 1, 2)
    late = {"created_date": datetime(2019, 7, 20, 14), "_silver_updated_at": datetime(2026, 1, 2)}
    records += [
        {**late, "unique_key": 100, "agency": "DSNY", "complaint_type": "Missed Collection"},
        {
            "unique_key": 101,
            "created_date": datetime(2021, 12, 30, 9),
            "agency": "NEWAGENCY",
            "agency_name": "A New Agency",
            "complaint_type": "A New Complaint",
            "borough": "STATEN ISLAND",
            "incident_zip": "10314",
            "_silver_updated_at": datetime(2026, 1, 2),
        },
    ]
    frame = silver_311_frame(spark, records)
    predicate = "created_month IN ('2019-07', '2020-04', '2021-12')"
    writes.replace_where(silver.table, frame.where(predicate), predicate, silver.config.write)

    state = project_catalog().load("gold_build_state")
    assert state["silver_changed_months"] == list(MONTHS)
    plan = incremental.plan_311_build(frame, state, *plan_args())
    assert plan["months"] == list(MONTHS)
    assert plan["fingerprint"] == incremental.silver_fingerprint(frame)

    daily = run_gold()
    assert build_of(project_catalog()) == {"build_mode": "incremental", "months_rebuilt": 3}
    catalog = project_catalog()
    assert catalog.load("gold.dim_agency").where("agency = 'NEWAGENCY'").count() == 1
    assert (
        catalog.load("gold.dim_complaint_type").where("complaint_type = 'A New Complaint'").count()
    )
    assert_equal_tables(daily, run_gold(full_refresh=True))


def plan_args() -> tuple[Any, ...]:
    from nyc_lakehouse.pipelines.gold.testing import load_gold_parameters

    params = load_gold_parameters()
    return params["sla"], params["response_time_outlier_hours"], params["calendar"]


@pytest.fixture
def logged_table(spark, tmp_path):
    """A local table partitioned by ``created_month`` with two commits."""
    dataset = DeltaTableDataset(
        path=str(tmp_path / "t"), save_args={"mode": "overwrite", "partition_by": ["created_month"]}
    )
    rows = [(1, "2024-01"), (2, "2024-02"), (3, None)]
    dataset.save(spark.createDataFrame(rows, "id bigint, created_month string"))
    appended = spark.createDataFrame([(4, "2024-03"), (5, None)], "id bigint, created_month string")
    writes.write(dataset.table, appended, "append", dataset.config.write)
    return dataset.table


def test_log_names_each_commits_partitions_and_says_when_it_cannot(logged_table):
    table = logged_table
    last = table.version()
    assert log.changed_partitions(table, "created_month", last - 1, last) == {"2024-03", None}
    assert log.changed_partitions(table, "created_month", last, last) == set()
    assert log.changed_partitions(table, "created_month", last + 1, last) is None
    assert log.changed_partitions(table, "no_such_column", last - 1, last) is None
    assert log.changed_partitions(table, "created_month", -1, last) == {
        "2024-01",
        "2024-02",
        "2024-03",
        None,
    }

    commit = Path(table.address.path) / "_delta_log" / f"{last:020d}.json"
    actions = [json.loads(line) for line in commit.read_text().splitlines() if line.strip()]
    for action in actions:  # remove actions may omit partitionValues: the path tells then
        for kind in ("add", "remove"):
            action.get(kind, {}).pop("partitionValues", None)
    commit.write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    assert log.changed_partitions(table, "created_month", last - 1, last) == {"2024-03", None}
    commit.unlink()  # cleaned up by log retention
    assert log.changed_partitions(table, "created_month", last - 1, last) is None
