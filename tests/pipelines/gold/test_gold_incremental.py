"""Gold that grows by the day: an incremental build equals a full rebuild, row for row.

The real gold pipeline (SequentialRunner, the project's catalog) builds the fixture silver in
full, then silver changes in two creation months: a request moves from 2019-07 to 2020-04 and
a late request arrives in 2019-07. The next run rebuilds those two months only (the files of
the other months stay), and every published gold table then equals what a full rebuild of the
same silver gives. A second increment moves silver's last day forward over an empty month, so
the daily summary's zero-filled days move too.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from kedro.runner import SequentialRunner

from engines import on_engines
from nyc_lakehouse.pipelines.gold import incremental
from nyc_lakehouse.pipelines.gold.datasets import MonthlyGoldDeltaTableDataset
from nyc_lakehouse.pipelines.gold.incremental import MonthsRewrite
from nyc_lakehouse.pipelines.gold.pipeline import create_pipeline
from nyc_lakehouse.pipelines.gold.tables import TABLES
from nyc_lakehouse.pipelines.gold.testing import (
    SILVER_311_RECORDS,
    project_catalog,
    silver_311_frame,
    write_silver,
)

GOLD_TABLES = sorted(name for name, spec in TABLES.items() if spec.pipeline == "gold")
# How the build was made, not what it holds: the only columns a full and a daily build differ in.
BUILD_COLUMNS = {"silver_311_fingerprint": ("build_mode", "months_rebuilt")}
LATER = datetime(2026, 1, 2)


def run_gold(full_refresh: bool = False) -> dict[str, Any]:
    catalog = project_catalog()
    catalog["params:gold.full_refresh"] = full_refresh
    SequentialRunner().run(create_pipeline(), catalog)
    return published(project_catalog())


def published(catalog: Any) -> dict[str, list[tuple]]:
    """Every gold table as the catalog's readers see it, as sorted rows."""
    tables = {}
    for name in GOLD_TABLES:
        frame = catalog.load(f"gold.{name}").drop(*BUILD_COLUMNS.get(name, ()))
        columns = sorted(frame.columns)
        tables[name] = sorted((tuple(row[c] for c in columns) for row in frame.collect()), key=repr)
    return tables


def build_of(catalog: Any) -> dict[str, Any]:
    (row,) = (
        catalog.load("gold.silver_311_fingerprint")
        .select("build_mode", "months_rebuilt")
        .distinct()
        .collect()
    )
    return row.asDict()


def month_files(data_root: Path, month: str) -> set[str]:
    actions = DeltaTable(str(data_root / "gold" / "fact_311")).get_add_actions(flatten=True)
    paths = actions.column("path").to_pylist()
    return {p for p in paths if f"created_month={month}" in p}


def assert_equal_tables(daily: dict[str, list[tuple]], full: dict[str, list[tuple]]) -> None:
    for name in GOLD_TABLES:
        assert daily[name] == full[name], name


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return [dict(r) for r in SILVER_311_RECORDS]


def test_daily_build_rebuilds_changed_months_and_equals_a_full_rebuild(
    spark, data_root, silver_911, records
):
    write_silver(data_root, silver_311_frame(spark, records), silver_911)
    run_gold()
    assert build_of(project_catalog())["build_mode"] == "full"  # the first run
    untouched = month_files(data_root, "2021-12")
    assert untouched

    # request 3 moves from 2019-07 to 2020-04; request 100 arrives late in 2019-07
    moved = next(r for r in records if r["unique_key"] == 3)
    moved.update(created_date=datetime(2020, 4, 3, 8), closed_date=datetime(2020, 4, 9, 8))
    moved["_silver_updated_at"] = LATER
    records.append(
        {
            "unique_key": 100,
            "created_date": datetime(2019, 7, 20, 14),
            "closed_date": datetime(2019, 7, 21, 9),
            "agency": "DSNY",
            "complaint_type": "Missed Collection",
            "_silver_updated_at": LATER,
        }
    )
    write_silver(data_root, silver_311_frame(spark, records), silver_911)
    daily = run_gold()
    assert build_of(project_catalog()) == {"build_mode": "incremental", "months_rebuilt": 2}
    assert month_files(data_root, "2021-12") == untouched  # untouched month: same files
    fact = project_catalog().load("gold.fact_311")
    assert {r["created_month"] for r in fact.where("unique_key IN (3, 100)").collect()} == {
        "2020-04",
        "2019-07",
    }

    full = run_gold(full_refresh=True)
    assert build_of(project_catalog())["build_mode"] == "full"
    assert_equal_tables(daily, full)

    # a request in 2022-02: the last day moves over January 2022, which has no request
    records.append(
        {
            "unique_key": 101,
            "created_date": datetime(2022, 2, 2, 10),
            "_silver_updated_at": datetime(2026, 1, 3),
        }
    )
    write_silver(data_root, silver_311_frame(spark, records), silver_911)
    daily = run_gold()
    assert build_of(project_catalog()) == {"build_mode": "incremental", "months_rebuilt": 1}
    days = project_catalog().load("gold.agg_daily_summary")
    assert days.where("date = DATE '2022-01-15' AND request_count = 0").count() == 1
    assert_equal_tables(daily, run_gold(full_refresh=True))


def test_a_full_build_in_pieces_equals_one_write(
    spark, data_root, silver_911, records, monkeypatch
):
    """A full build writes fact_311 a few months at a time (a long history then never sits in
    the writer at once); the published tables are what one write gives."""
    write_silver(data_root, silver_311_frame(spark, records), silver_911)
    whole = run_gold(full_refresh=True)
    fact = DeltaTable(str(data_root / "gold" / "fact_311"))
    before = fact.version()
    monkeypatch.setattr(incremental, "FULL_BUILD_PIECE_ROWS", 2)
    in_pieces = run_gold(full_refresh=True)
    fact.update_incremental()
    assert fact.version() - before > 2  # an overwrite, then an append per further piece
    assert_equal_tables(in_pieces, whole)


def test_pieces_cover_every_row_once(spark, monkeypatch):
    """Pieces follow the fingerprint's months in order; the last takes every month the plan did
    not list (a month silver gained since), a null month included."""
    fingerprint = [
        {"created_month": m, "rows": n} for m, n in (("2024-03", 2), ("2024-01", 2), (None, 1))
    ]
    assert incremental.month_pieces(fingerprint, max_rows=3) == [[None, "2024-01"], ["2024-03"]]
    assert incremental.month_pieces(fingerprint, max_rows=1) == [[None], ["2024-01"], ["2024-03"]]
    months = ["2024-01", "2024-01", "2024-03", "2024-04", None, None]
    frame = spark.createDataFrame(
        [(m, i) for i, m in enumerate(months)], "created_month string, i int"
    )
    plan = {"mode": "full", "fingerprint": [r for r in fingerprint if r["created_month"]]}
    assert incremental.in_pieces(plan, frame) == [frame]  # a few rows: one piece
    monkeypatch.setattr(incremental, "FULL_BUILD_PIECE_ROWS", 2)
    pieces = incremental.in_pieces(plan, frame)
    ids = [sorted(r["i"] for r in piece.collect()) for piece in pieces]
    assert ids == [[0, 1], [2, 3, 4, 5]]
    assert incremental.in_pieces({**plan, "mode": "incremental"}, frame) == [frame]


def test_plan_rebuilds_everything_without_a_trusted_publication(spark, records, gold_params):
    silver = silver_311_frame(spark, records)
    args = (gold_params["sla"], gold_params["response_time_outlier_hours"])
    calendar = gold_params["calendar"]
    fingerprint = incremental.plan_311_build(silver, None, *args, calendar)["fingerprint"]
    definition = incremental.definition_of(*args, calendar)
    state = {"fingerprint": [{**r, "definition": definition} for r in fingerprint]}
    assert incremental.plan_311_build(silver, state, *args, calendar)["months"] == []
    changed_sla = {**gold_params["sla"], "default_target_hours": 1}
    cases = {
        "no published": (None, args),
        "full_refresh": (state, args),
        "written after the last publication": (
            {**state, "unpublished": ["gold.fact_311"]},
            args,
        ),
        "definition changed": (state, (changed_sla, args[1])),
    }
    for reason, (given, (sla, hours)) in cases.items():
        plan = incremental.plan_311_build(
            silver, given, sla, hours, calendar, full_refresh=reason == "full_refresh"
        )
        assert plan["mode"] == "full" and reason in plan["reason"], (reason, plan["reason"])


@on_engines("sail", "jvm")
def test_months_rewrite_replaces_only_its_months_on_each_engine(engine, tmp_path):
    """The dataset's month replacement through each engine's Delta writer: a month's rows go,
    an emptied month is deleted, by a text month key and by a date's month."""
    root = str(tmp_path / "lake")
    rows = [
        (m, date(2024, int(m[-1]), d), d)
        for m in ("2024-01", "2024-02", "2024-03")
        for d in (1, 28)
    ]
    frame = engine.spark.createDataFrame(rows, "created_month string, date date, n long")
    for column, by_day in (("created_month", False), ("date", True)):
        dataset = MonthlyGoldDeltaTableDataset(table=f"gold.by_{column}", root=root)
        dataset.save(frame)
        new = engine.spark.createDataFrame(
            [("2024-02", date(2024, 2, 14), 99)], "created_month string, date date, n long"
        )
        dataset.save(MonthsRewrite(new, ("2024-02", "2024-03"), column, by_day))
        kept = sorted((r["created_month"], r["n"]) for r in dataset.load().collect())
        assert kept == [("2024-01", 1), ("2024-01", 28), ("2024-02", 99)], column
        assert dataset.table.version() == 1  # one commit
