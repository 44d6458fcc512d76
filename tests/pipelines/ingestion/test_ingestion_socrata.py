"""The ingestion node against the misbehaving test server: incremental and backfill.

Every test ends in one of two states: the landed rows are exactly the server's rows (none lost,
none twice), or a clear error with nothing landed and the watermark unchanged.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from ingestion_helpers import (
    CrashingZone,
    SimulatedCrash,
    api_params,
    landed_ids,
    landed_table,
)

from fixtures.socrata_server import make_311_records, make_911_records
from nyc_lakehouse.pipelines.ingestion.nodes import (
    MonthWindow,
    land_batches,
    month_windows,
    parse_settings,
)
from nyc_lakehouse.sources.socrata import SocrataError, parse_socrata_timestamp

ID_311, ID_911 = "erm2-nwe9", "t7p9-n9dy"


def serve_311(server, count=30, **kwargs):
    records = make_311_records(count, **kwargs)
    server.fixture.datasets[ID_311] = records
    return records


def watermark(zone, dataset="nyc311"):
    return (zone.read_state(dataset, "watermark") or {}).get("watermark")


def newest_updated_at(records):
    return max(r[":updated_at"] for r in records)


# incremental ---------------------------------------------------------------------------------
def test_first_incremental_run_lands_exactly_the_source_and_sets_the_watermark(
    socrata_server, zone
):
    source = serve_311(socrata_server)
    summary = land_batches(zone, api_params(socrata_server), None)
    landed = landed_ids(zone, "nyc311")
    assert Counter(landed) == Counter(r[":id"] for r in source)  # each exactly once
    assert summary["rows_landed"] == 30 and summary["batches_landed_count"] == 1
    assert watermark(zone) == newest_updated_at(source)
    (batch,) = zone.batches("nyc311")
    assert batch.manifest["source"] == "socrata" and batch.manifest["mode"] == "incremental"
    assert batch.manifest["watermark_max"] == newest_updated_at(source)
    assert batch.manifest["watermark_min"] == min(r[":updated_at"] for r in source)
    assert zone.read_state("nyc311", "last_run")["rows_landed"] == 30


def test_next_run_fetches_changes_after_the_watermark_minus_overlap(socrata_server, zone):
    source = serve_311(socrata_server)
    params = api_params(socrata_server, overlap_minutes=0)
    land_batches(zone, params, None)
    # the city closes two requests and files three new ones
    later = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    for record in source[3:5]:
        record["status"], record[":updated_at"] = (
            "Closed",
            later.isoformat(timespec="milliseconds") + "Z",
        )
    source.extend(make_311_records(3, first_key=70_000_000, updated_from=later))
    for i, record in enumerate(source[-3:]):
        record[":id"] = f"row-new-{i}"
    summary = land_batches(zone, params, None)
    assert summary["rows_landed"] == 5
    second = zone.batches("nyc311")[-1]
    rows = zone.read_batch(second).to_pylist()
    assert sorted(r["_socrata_id"] for r in rows) == sorted(
        [source[3][":id"], source[4][":id"], "row-new-0", "row-new-1", "row-new-2"]
    )
    assert {
        r["status"] for r in rows if r["_socrata_id"] in (source[3][":id"], source[4][":id"])
    } == {"Closed"}
    assert set(landed_ids(zone, "nyc311")) == {r[":id"] for r in source}
    assert watermark(zone) == newest_updated_at(source)
    where = socrata_server.fixture.page_requests()[-1].query["$where"]
    assert where.startswith(":updated_at > '")


def test_overlap_refetches_recent_rows_and_nothing_is_lost(socrata_server, zone):
    source = serve_311(socrata_server)
    params = api_params(socrata_server, overlap_minutes=60)
    land_batches(zone, params, None)
    summary = land_batches(zone, params, None)
    # all 30 fixture rows were updated within 5.5 minutes: the 60 min overlap refetches them
    assert summary["rows_landed"] == 30
    assert Counter(landed_ids(zone, "nyc311")) == Counter({r[":id"]: 2 for r in source})


def test_nothing_changed_lands_no_batch_and_keeps_the_watermark(socrata_server, zone):
    serve_311(socrata_server)
    params = api_params(socrata_server, overlap_minutes=0)
    land_batches(zone, params, None)
    before = zone.read_state("nyc311", "watermark")
    summary = land_batches(zone, params, None)
    assert summary["rows_landed"] == 0 and summary["batches_landed"] == []
    assert len(zone.batches("nyc311")) == 1
    assert zone.read_state("nyc311", "watermark") == before


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "throttle", "retry_after": "0"},
        {"kind": "error"},
        {"kind": "slow", "delay": 1.5},
        {"kind": "truncated"},
        {"kind": "empty"},
        {"kind": "malformed"},
        {"kind": "drop"},
    ],
    ids=lambda f: f["kind"],
)
def test_incremental_lands_exactly_the_source_through_each_fault(socrata_server, zone, fault):
    source = serve_311(socrata_server)
    # requests: 1 count, 2-6 pages; fault pages 2 and 4 (their first attempt each) and a retry
    socrata_server.fixture.fault_on(3, 6, 7, **fault)
    summary = land_batches(zone, api_params(socrata_server), None)
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in source)
    assert summary["rows_landed"] == len(source)
    assert watermark(zone) == newest_updated_at(source)
    # the faults were really served, and each faulty page was asked for again
    served = [(r.number, r.query.get("$offset")) for r in socrata_server.fixture.requests]
    faulty = [r for r in socrata_server.fixture.requests if r.fault == fault["kind"]]
    assert [(r.number, r.query["$offset"]) for r in faulty] == [(3, "7"), (6, "21"), (7, "21")]
    assert (4, "7") in served and (8, "21") in served


def test_exhausted_retries_land_nothing_and_keep_the_watermark(socrata_server, zone):
    source = serve_311(socrata_server)
    params = api_params(socrata_server, overlap_minutes=0)
    land_batches(zone, params, None)
    state_before = zone.read_state("nyc311", "watermark")
    later = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)
    for record in source[:20]:
        record[":updated_at"] = later.isoformat(timespec="milliseconds") + "Z"
    start = socrata_server.fixture.counter
    socrata_server.fixture.fault_on(*range(start + 3, start + 20), kind="error")  # page 2 onwards
    with pytest.raises(SocrataError, match=r"nyc311 \(erm2-nwe9\): page 2 \(offset 7\)"):
        land_batches(zone, params, None)
    assert len(zone.batches("nyc311")) == 1  # the first run's batch only
    assert zone.read_state("nyc311", "watermark") == state_before
    # the API recovers: the rerun lands exactly the changed rows
    socrata_server.fixture.faults.clear()
    summary = land_batches(zone, params, None)
    assert summary["rows_landed"] == 20
    assert sorted(
        zone.read_batch(zone.batches("nyc311")[-1]).column("_socrata_id").to_pylist()
    ) == sorted(r[":id"] for r in source[:20])
    assert watermark(zone) == later.isoformat(timespec="milliseconds") + "Z"


def test_crash_after_the_batch_commit_but_before_the_watermark_refetches_on_rerun(
    socrata_server, zone
):
    source = serve_311(socrata_server)
    params = api_params(socrata_server, overlap_minutes=0)
    crashing = CrashingZone(zone.root, crash_on_state="watermark")
    with pytest.raises(SimulatedCrash):
        land_batches(crashing, params, None)
    assert len(zone.batches("nyc311")) == 1  # committed...
    assert zone.read_state("nyc311", "watermark") is None  # ...but the watermark did not move
    summary = land_batches(zone, params, None)
    assert summary["rows_landed"] == 30  # fetched again from the old (no) watermark: no gap
    assert Counter(landed_ids(zone, "nyc311")) == Counter({r[":id"]: 2 for r in source})
    assert watermark(zone) == newest_updated_at(source)


def test_crash_mid_paging_leaves_nothing_visible_and_the_rerun_lands_everything(
    socrata_server, zone
):
    source = serve_311(socrata_server)
    params = api_params(socrata_server, max_attempts=1)
    socrata_server.fixture.fault_on(4, kind="error")  # page 3, after two pages were written
    with pytest.raises(SocrataError, match="page 3"):
        land_batches(zone, params, None)
    assert zone.batches("nyc311") == []
    assert zone.read_state("nyc311", "watermark") is None
    land_batches(zone, params, None)
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in source)
    (batch,) = zone.batches("nyc311")
    assert all(f.split("/")[-1].startswith("part-") for f in batch.files)
    on_disk = [p.name for p in __import__("pathlib").Path(batch.path).glob("part-*")]
    assert sorted(on_disk) == sorted(f.split("/")[-1] for f in batch.files)  # orphans removed


def test_a_record_inserted_while_paging_is_neither_repeated_nor_lost(socrata_server, zone):
    source = list(serve_311(socrata_server))  # what the server holds when the run starts
    inserted = make_311_records(1, first_key=80_000_000, updated_from=datetime(2000, 1, 1))[0]
    inserted[":id"] = "row-000000000000"  # sorts first: every later page shifts by one

    def city_files_a_request(number, query):
        if number == 3:  # while page 2 is requested
            stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
            inserted[":updated_at"] = stamp + "Z"
            socrata_server.fixture.datasets[ID_311].append(inserted)

    socrata_server.fixture.before_answer = city_files_a_request
    params = api_params(socrata_server, overlap_minutes=0)
    first = land_batches(zone, params, None)
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in source)
    assert first["rows_landed"] == 30
    assert zone.batches("nyc311")[0].manifest["repeated_records_dropped"] == 1
    socrata_server.fixture.before_answer = None
    second = land_batches(zone, params, None)  # changed after the first fetch began: next run
    assert second["rows_landed"] == 1
    assert Counter(landed_ids(zone, "nyc311")) == Counter(
        [r[":id"] for r in source] + [inserted[":id"]]
    )


def test_a_record_deleted_while_paging_fails_the_run_instead_of_skipping_one(socrata_server, zone):
    source = serve_311(socrata_server)

    def city_deletes_a_request(number, query):
        if number == 3:
            socrata_server.fixture.datasets[ID_311].remove(min(source, key=lambda r: r[":id"]))

    socrata_server.fixture.before_answer = city_deletes_a_request
    with pytest.raises(SocrataError, match=r"ended the result after 29 of 30 rows"):
        land_batches(zone, api_params(socrata_server), None)
    assert zone.batches("nyc311") == [] and watermark(zone) is None
    socrata_server.fixture.before_answer = None
    land_batches(zone, api_params(socrata_server), None)
    remaining = socrata_server.fixture.datasets[ID_311]
    assert len(remaining) == 29
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in remaining)


def test_the_watermark_never_passes_the_start_of_the_fetch(socrata_server, zone):
    future = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=3)  # a server clock ahead
    source = serve_311(socrata_server, updated_from=future)
    before = datetime.now(UTC)
    land_batches(zone, api_params(socrata_server), None)
    stored = parse_socrata_timestamp(watermark(zone))
    assert before <= stored <= datetime.now(UTC)
    assert newest_updated_at(source) > watermark(zone)  # capped: refetched next time, not skipped


def test_without_a_watermark_incremental_starts_from_initial_watermark(socrata_server, zone):
    source = serve_311(socrata_server, updated_from=datetime(2020, 1, 1))
    params = api_params(socrata_server, initial_watermark="2020-01-01T00:02:00")
    summary = land_batches(zone, params, None)
    expected = [r for r in source if r[":updated_at"] > "2020-01-01T00:02:00"]
    assert summary["rows_landed"] == len(expected) > 0
    assert set(landed_ids(zone, "nyc311")) == {r[":id"] for r in expected}


def test_without_any_watermark_incremental_looks_back_initial_lookback_days(socrata_server, zone):
    old = serve_311(socrata_server, count=10, updated_from=datetime(2020, 1, 1))
    recent = make_311_records(5, first_key=70_000_000)
    for i, record in enumerate(recent):
        record[":id"] = f"row-recent-{i}"
    socrata_server.fixture.datasets[ID_311] = old + recent
    summary = land_batches(zone, api_params(socrata_server, initial_lookback_days=7), None)
    assert summary["rows_landed"] == 5
    assert set(landed_ids(zone, "nyc311")) == {r[":id"] for r in recent}


def test_the_911_namespace_uses_its_own_dataset_and_fields(socrata_server, zone):
    records = make_911_records(6)
    socrata_server.fixture.datasets[ID_911] = records
    summary = land_batches(zone, api_params(socrata_server, "nyc911"), None)
    assert summary["rows_landed"] == len(records) == 18
    table = landed_table(zone, "nyc911")
    assert table.column_names[:4] == [
        "week_start_date",
        "agency",
        "final_incident_type",
        "of_incidents_calculated",
    ]
    assert zone.batches("nyc311") == []


# backfill ------------------------------------------------------------------------------------
def test_backfill_lands_one_batch_per_month_and_resumes_after_a_failure(socrata_server, zone):
    # 60 requests, two every 3 days from 2024-01-20 to 2024-04-18, plus none in May and June
    source = serve_311(
        socrata_server, count=60, created_from=datetime(2024, 1, 20), step_minutes=60 * 24 * 3
    )
    params = api_params(
        socrata_server, mode="backfill", start="2024-01-01", end="2024-06-30", max_attempts=2
    )
    # the first run dies on March (after January and February were committed)
    socrata_server.fixture.fault_when(
        lambda query: "2024-03-01T00:00:00.000' AND" in query.get("$where", ""), kind="error"
    )
    with pytest.raises(SocrataError, match="nyc311"):
        land_batches(zone, params, None)
    assert [b.batch_id for b in zone.batches("nyc311")] == ["socrata-2024-01", "socrata-2024-02"]
    socrata_server.fixture.rules.clear()
    summary = land_batches(zone, params, None)
    assert summary["batches_skipped"] == ["socrata-2024-01", "socrata-2024-02"]
    assert summary["batches_landed"] == ["socrata-2024-03", "socrata-2024-04"]
    assert summary["batches_empty"] == ["socrata-2024-05", "socrata-2024-06"]  # no rows there
    in_range = [r for r in source if "2024-01-01" <= r["created_date"] < "2024-07-01"]
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in in_range)
    for batch in zone.batches("nyc311"):
        month = batch.batch_id.removeprefix("socrata-")
        created = zone.read_batch(batch).column("created_date").to_pylist()
        assert {c[:7] for c in created} == {month}
        assert batch.manifest["mode"] == "backfill"
    # a third run lands nothing (it only asks again about the empty months)
    third = land_batches(zone, params, None)
    assert third["batches_landed"] == [] and len(third["batches_skipped"]) == 4
    assert zone.read_state("nyc311", "backfill")["earliest_fetch_started_at"]


def test_backfill_then_incremental_starts_from_the_backfill_fetch_time(socrata_server, zone):
    serve_311(socrata_server, count=10, created_from=datetime(2024, 1, 5))
    land_batches(
        zone,
        api_params(socrata_server, mode="backfill", start="2024-01-01", end="2024-01-31"),
        None,
    )
    land_batches(zone, api_params(socrata_server, overlap_minutes=0), None)
    where = socrata_server.fixture.page_requests()[-1].query["$where"]
    since = where.split("'")[1]
    fetched = zone.read_state("nyc311", "backfill")["earliest_fetch_started_at"]
    assert since == fetched[:23]
    # recorded before the month was fetched, so a crash after its commit cannot leave a gap
    (batch,) = zone.batches("nyc311")
    assert fetched <= batch.manifest["committed_at"]


def test_backfill_progress_is_logged_with_batches_rows_and_eta(socrata_server, zone, caplog):
    serve_311(socrata_server, count=40, created_from=datetime(2024, 1, 20), step_minutes=60 * 24)
    caplog.set_level(logging.INFO, logger="nyc_lakehouse")
    land_batches(
        zone,
        api_params(
            socrata_server,
            mode="backfill",
            start="2024-01-01",
            end="2024-02-29",
            progress_log_seconds=0,  # a line for every page, for the test
        ),
        None,
    )
    lines = [r.getMessage() for r in caplog.records if "nyc311 backfill:" in r.getMessage()]
    assert any("1/2 batches" in line and "ETA" in line and "of 40 rows" in line for line in lines)
    assert any("2/2 batches" in line and "took" in line for line in lines)


def test_month_windows_and_batch_ids():
    windows = month_windows(date(2019, 1, 15), date(2019, 3, 31))
    assert windows == [
        MonthWindow(date(2019, 1, 15), date(2019, 2, 1)),
        MonthWindow(date(2019, 2, 1), date(2019, 3, 1)),
        MonthWindow(date(2019, 3, 1), date(2019, 4, 1)),
    ]
    assert [w.batch_id("socrata") for w in windows] == [
        "socrata-2019-01-15_2019-01-31",
        "socrata-2019-02",
        "socrata-2019-03",
    ]
    december = month_windows(date(2019, 12, 1), date(2019, 12, 31))[0]
    assert december.stop == date(2020, 1, 1)
    unfinished = MonthWindow(date(2024, 5, 1), date(2024, 6, 1))
    now = datetime(2024, 5, 20, 8, 30, tzinfo=UTC)
    assert (
        unfinished.batch_id("socrata", today=now.date(), now=now)
        == "socrata-2024-05-asof-20240520T083000Z"
    )


def test_parameters_are_validated_with_clear_errors(socrata_server):
    params = api_params(socrata_server)
    assert parse_settings({**params, "page_size": "100"}).page_size == 100
    for bad, message in [
        ({"source": "ftp"}, "unknown ingestion source 'ftp'"),
        ({"mode": "weekly"}, "unknown ingestion mode 'weekly'"),
        ({"start": "2019-13-01"}, "start must be a date"),
        ({"start": "2020-01-01", "end": "2019-01-01"}, "before start"),
        ({"source": "export", "export_path": None}, "export_path"),
        ({"page_size": 0}, "page_size must be >= 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_settings({**params, **bad})
