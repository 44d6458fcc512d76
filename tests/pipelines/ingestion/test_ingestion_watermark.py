"""The incremental watermark never moves backwards.

A stored watermark can be newer than every row a run lands: the overlap refetches rows just
before it, an operator may have set it by hand, or the source rolled records back. The newest
row of such a batch is older than the stored watermark; writing it would move the watermark
back and make every later run refetch what was already landed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingestion_helpers import api_params, landed_ids

from fixtures.socrata_server import make_311_records
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches

ID_311 = "erm2-nwe9"


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def test_a_stored_watermark_newer_than_every_row_is_kept(socrata_server, zone):
    # 30 rows updated over 5.5 minutes, two days ago
    source = make_311_records(30)
    socrata_server.fixture.datasets[ID_311] = source
    newest_row = max(r[":updated_at"] for r in source)
    stored = {
        "watermark": _iso(datetime.fromisoformat(newest_row[:-1]) + timedelta(minutes=10)),
        "batch_id": "an-earlier-batch",
        "written_at": "2024-01-01T00:00:00+00:00",
    }
    assert stored["watermark"] > newest_row
    zone.write_state("nyc311", "watermark", stored)

    # The 60-minute overlap reaches back past every row: the run lands all 30 of them...
    summary = land_batches(zone, api_params(socrata_server, overlap_minutes=60), None)
    assert summary["rows_landed"] == 30 and len(zone.batches("nyc311")) == 1
    # ...whose newest is older than the stored watermark, which must stay where it was.
    assert zone.read_state("nyc311", "watermark") == stored
    assert summary["watermark_before"] == stored["watermark"]
    assert summary["watermark"] == stored["watermark"]
    assert zone.read_state("nyc311", "last_run")["watermark"] == stored["watermark"]


def test_a_future_watermark_is_not_pulled_back_to_the_fetch_time(socrata_server, zone):
    # A watermark ahead of the clock (a source clock that ran fast): the run's cap (the moment
    # the fetch started) is older than it, and must not replace it either.
    source = make_311_records(5, updated_from=datetime.now(UTC).replace(tzinfo=None))
    socrata_server.fixture.datasets[ID_311] = source
    ahead = _iso(datetime.now(UTC) + timedelta(minutes=30))
    zone.write_state("nyc311", "watermark", {"watermark": ahead, "batch_id": "x"})
    summary = land_batches(zone, api_params(socrata_server, overlap_minutes=60), None)
    assert summary["rows_landed"] == 5
    assert zone.read_state("nyc311", "watermark")["watermark"] == ahead


def test_the_watermark_moves_forward_once_a_newer_row_lands(socrata_server, zone):
    source = make_311_records(30)
    socrata_server.fixture.datasets[ID_311] = source
    newest_row = max(r[":updated_at"] for r in source)
    stored = _iso(datetime.fromisoformat(newest_row[:-1]) + timedelta(minutes=10))
    zone.write_state("nyc311", "watermark", {"watermark": stored, "batch_id": "x"})
    params = api_params(socrata_server, overlap_minutes=60)
    land_batches(zone, params, None)
    assert zone.read_state("nyc311", "watermark")["watermark"] == stored

    # one request changes after the stored watermark: the next run moves the watermark to it
    changed = _iso(datetime.fromisoformat(stored[:-1]) + timedelta(minutes=1))
    source[4][":updated_at"] = changed
    summary = land_batches(zone, params, None)
    assert summary["watermark_before"] == stored and summary["watermark"] == changed
    state = zone.read_state("nyc311", "watermark")
    assert state["watermark"] == changed and state["batch_id"] == summary["batches_landed"][0]
    assert source[4][":id"] in landed_ids(zone, "nyc311")
