"""Twelve years of 911 from the Socrata stand-in, through ingestion, bronze, silver and gold.

The stand-in serves the 911 End-to-End dataset under its live API names (the week is ``date``)
and refuses unknown columns with HTTP 400, as Socrata does. A backfill over 2013-2025 and an
incremental run (the city revises past weeks, adds new ones and a new column) must land every
source row once: silver's rows and incident sums equal the served ones, the new column reaches
bronze by schema evolution, and after each run gold's monthly incidents by agency (as readers
see them, at the published version) equal the sums taken straight from the served rows, rows
without an incident type included.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from ingestion_helpers import PROJECT_ROOT

from fixtures.socrata_server import NYC911_VIEW, make_311_records, make_911_records
from nyc_lakehouse.pipelines.gold.testing import project_catalog

ID_311, ID_911 = "erm2-nwe9", "t7p9-n9dy"
FIRST_WEEK = datetime(2013, 11, 4)  # the dataset's first Monday
WEEKS = 635  # through the week of 2025-12-29
INCIDENTS = (
    ("EMS", "1. Life Threating Med Emergencies"),
    ("EMS", "2. Non-Life Threatening Med Emergencies"),
    ("FDNY", "1. Structural Fires"),
    ("NYPD", "Critical"),
    ("NYPD (Non-CIP)", "Non-Critical"),
)
NEW_COLUMN = ("Call to Drone Arrival", "call_to_drone_arrival", "number")


def _run(pipeline: str, runtime_params: dict) -> None:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, runtime_params=runtime_params) as session:
        session.run(pipeline_name=pipeline)


def _api(server, **ingestion) -> dict:
    common = {
        "source": "socrata",
        "base_url": server.base_url,
        "allow_loopback_http": True,
        "page_size": 1000,
        "backoff_base_seconds": 0.001,
        "progress_log_seconds": 3600,
    }
    return {
        "nyc311": {"ingestion": common},
        "nyc911": {"ingestion": {**common, **ingestion}},
    }


def _incidents(rows, week_key, count_key):
    """Rows and incident sums per agency, as (rows, incidents)."""
    totals: Counter = Counter()
    counts: Counter = Counter()
    for row in rows:
        counts[row["agency"]] += 1
        totals[row["agency"]] += int(row[count_key])
    weeks = {str(row[week_key])[:10] for row in rows}
    return dict(counts), dict(totals), len(weeks)


def _source_monthly(served) -> dict[tuple[str, str], tuple[int, int]]:
    """(month, agency) -> (weeks, incidents) summed from the served rows, as the city counts them.

    A week belongs to the month of its Monday (the source's ``date``), whichever month its
    other days fall in; the served ``date`` is an ISO string, so its month is its first 7 chars.
    """
    incidents: Counter = Counter()
    weeks: defaultdict = defaultdict(set)
    for row in served:
        key = (row["date"][:7], row["agency"])
        incidents[key] += int(row["of_incidents_calculated"])
        weeks[key].add(row["date"][:10])
    return {key: (len(weeks[key]), incidents[key]) for key in incidents}


def _gold_monthly() -> dict[tuple[str, str], tuple[int, int]]:
    """(month, agency) -> (weeks, incidents) of gold.agg_911_monthly_agency, read as readers do."""
    frame = project_catalog(("gold",)).load("gold.agg_911_monthly_agency")
    rows = frame.select("month", "agency", "weeks", "incidents").collect()
    monthly = {(r["month"], r["agency"]): (r["weeks"], r["incidents"]) for r in rows}
    assert len(monthly) == len(rows), "gold holds a (month, agency) twice"
    return monthly


def _assert_gold_matches(served) -> None:
    want = _source_monthly(served)
    got = _gold_monthly()
    assert got.keys() == want.keys()
    wrong = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
    assert not wrong, f"(month, agency): (gold, source) as (weeks, incidents): {wrong}"
    assert sum(n for _, n in got.values()) == sum(int(r["of_incidents_calculated"]) for r in served)


@pytest.mark.slow
def test_a_911_backfill_and_an_incremental_run_land_every_source_row_once(
    spark, data_root, socrata_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    fixture = socrata_server.fixture
    served = make_911_records(WEEKS, start=FIRST_WEEK, incidents=INCIDENTS)
    # Some rows come without a Final Incident Type (the API omits a null key, or sends blanks);
    # their incidents are real and must count in every total. Row 100 is revised below too.
    untyped = served[100:3175:150]
    for number, record in enumerate(untyped):
        if number % 3 == 1:
            record["final_incident_type"] = " " * (number % 2)
        else:
            del record["final_incident_type"]
    fixture.datasets[ID_911] = served
    fixture.datasets[ID_311] = make_311_records(20)
    backfill = _api(socrata_server, mode="backfill", start="2013-11-01", end="2025-12-31")
    _run("ingestion", backfill)
    for pipeline in ("bronze", "silver", "gold"):
        _run(pipeline, {})
    _assert_gold_matches(served)

    # The city revises ten past weeks' counts and publishes two new weeks with a new column.
    now = datetime.now(UTC).replace(tzinfo=None)
    stamp = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds") + "Z"
    for record in served[100:3000:290]:
        record["of_incidents_calculated"] = str(int(record["of_incidents_calculated"]) + 11)
        record[":updated_at"] = stamp
    fresh = make_911_records(
        2,
        start=FIRST_WEEK + timedelta(weeks=WEEKS),
        incidents=INCIDENTS,
        first_row=900_000,
        updated=now - timedelta(minutes=1),
    )
    for number, record in enumerate(fresh):
        record[NEW_COLUMN[1]] = str(500 + number)
    served.extend(fresh)
    fixture.views[ID_911] = (*NYC911_VIEW, NEW_COLUMN)
    _run("ingestion", _api(socrata_server, mode="incremental"))
    for pipeline in ("bronze", "silver", "gold"):
        _run(pipeline, {})
    _assert_gold_matches(served)

    from nyc_lakehouse.landing import LandingZone

    zone = LandingZone(str(data_root / "landing"))
    batches = zone.batches("nyc911")
    backfilled = [b for b in batches if b.manifest["mode"] == "backfill"]
    (incremental,) = [b for b in batches if b.manifest["mode"] == "incremental"]
    assert len(backfilled) == 146  # every month from 2013-11 to 2025-12
    assert sum(b.rows for b in backfilled) == WEEKS * len(INCIDENTS) == 3175
    assert incremental.rows == 10 + 10  # the revised rows and the two new weeks
    assert all(b.manifest["date_field"] == "date" for b in batches)
    page_wheres = [r.query.get("$where", "") for r in fixture.page_requests()]
    assert all("week_start_date" not in w for w in page_wheres)

    bronze = spark.read.format("delta").load(str(data_root / "bronze" / "nyc911_e2e_weekly"))
    assert bronze.count() == 3175 + 20
    drone = [r[0] for r in bronze.select(NEW_COLUMN[1]).collect()]
    assert sorted(v for v in drone if v is not None) == [str(500 + n) for n in range(10)]

    silver = spark.read.format("delta").load(str(data_root / "silver" / "nyc911_e2e_weekly"))
    silver_rows = [r.asDict() for r in silver.collect()]
    want = _incidents(served, "date", "of_incidents_calculated")
    got = _incidents(silver_rows, "week_start_date", "incident_count")
    assert got == want
    assert len(silver_rows) == len(served) == 3185 and want[2] == WEEKS + 2
    assert sum(want[1].values()) == sum(int(r["of_incidents_calculated"]) for r in served)

    # The rows without an incident type reach gold under one placeholder type, all of them.
    fact = project_catalog(("gold",)).load("gold.fact_911_weekly")
    (unspecified,) = (
        fact.where("incident_type = 'Unspecified'").agg({"incident_count": "sum"}).collect()
    )
    assert len(untyped) == 21 and "final_incident_type" not in served[100]
    assert unspecified[0] == sum(int(r["of_incidents_calculated"]) for r in untyped)
