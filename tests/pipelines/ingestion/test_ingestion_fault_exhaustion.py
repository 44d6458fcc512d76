"""Every injected fault, through the ingestion node, when it does NOT go away.

The recovery side (a fault that clears after a retry lands exactly the source) is in
test_ingestion_socrata.py. Here each fault persists on every page request from page 2 on: the
run must fail with a clear error naming the dataset, the page and the query, land nothing, keep
the watermark and the last-run state, and a rerun after the API recovers must land exactly the
rows that changed.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from ingestion_helpers import api_params, landed_ids

from fixtures.socrata_server import make_311_records
from nyc_lakehouse.pipelines.ingestion.nodes import land_batches
from nyc_lakehouse.sources.socrata import SocrataError

ID_311 = "erm2-nwe9"

# fault -> what the error's "last error" part must say about it
FAULTS = [
    ({"kind": "throttle", "retry_after": "0"}, r"HTTP 429"),
    ({"kind": "error"}, r"HTTP 500"),
    ({"kind": "error", "status": 503}, r"HTTP 503"),
    ({"kind": "slow", "delay": 1.5}, r"ReadTimeout"),
    ({"kind": "truncated"}, r"malformed or truncated JSON"),
    ({"kind": "empty"}, r"page ended the result after 7 of 20 rows"),
    ({"kind": "malformed"}, r"expected a JSON array, got dict"),
    ({"kind": "missing_keys"}, r"lacks expected keys \[':id'\]"),
    ({"kind": "drop"}, r"RemoteProtocolError|ReadError|ConnectError"),
]


@pytest.mark.parametrize(
    ("fault", "reason"), FAULTS, ids=[f"{f['kind']}{f.get('status', '')}" for f, _ in FAULTS]
)
def test_a_fault_that_persists_fails_clearly_lands_nothing_and_keeps_the_watermark(
    socrata_server, zone, fault, reason
):
    source = make_311_records(30)
    socrata_server.fixture.datasets[ID_311] = source
    params = api_params(socrata_server, overlap_minutes=0)
    land_batches(zone, params, None)  # a good first run: one batch, a watermark
    batches_before = [b.batch_id for b in zone.batches("nyc311")]
    watermark_before = zone.read_state("nyc311", "watermark")
    last_run_before = zone.read_state("nyc311", "last_run")
    assert len(batches_before) == 1 and watermark_before

    # the city updates 20 requests; then page 2 of the next run fails every time
    later = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)
    stamp = later.isoformat(timespec="milliseconds") + "Z"
    for record in source[:20]:
        record[":updated_at"], record["status"] = stamp, "Closed"
    start = socrata_server.fixture.counter
    # request start+1 is the count, start+2 page 1, start+3.. page 2 and its retries
    socrata_server.fixture.fault_on(*range(start + 3, start + 3 + 10), **fault)

    with pytest.raises(SocrataError) as error:
        land_batches(zone, params, None)
    message = str(error.value)
    assert message.startswith("nyc311 (erm2-nwe9): page 2 (offset 7) failed after 4 attempts")
    assert re.search(reason, message), message
    assert "Query: GET http://127.0.0.1:" in message and "%24order=%3Aid" in message
    assert "%24where=%3Aupdated_at+%3E" in message  # the incremental window is in the query
    served = [r for r in socrata_server.fixture.requests if r.number > start]
    page_two = [r for r in served if r.query.get("$offset") == "7"]
    assert len(page_two) == 4 and {r.fault for r in page_two} == {fault["kind"]}  # bounded
    assert not [r for r in served if r.query.get("$offset") == "14"]  # gave up, went no further

    assert [b.batch_id for b in zone.batches("nyc311")] == batches_before  # nothing landed
    assert zone.read_state("nyc311", "watermark") == watermark_before
    assert zone.read_state("nyc311", "last_run") == last_run_before

    socrata_server.fixture.faults.clear()  # the API recovers: the rerun lands exactly the change
    summary = land_batches(zone, params, None)
    assert summary["rows_landed"] == 20
    rerun = zone.read_batch(zone.batches("nyc311")[-1])
    assert Counter(rerun.column("_socrata_id").to_pylist()) == Counter(
        r[":id"] for r in source[:20]
    )
    assert set(rerun.column("status").to_pylist()) == {"Closed"}
    assert Counter(landed_ids(zone, "nyc311")) == Counter(
        [r[":id"] for r in source] + [r[":id"] for r in source[:20]]
    )
    assert zone.read_state("nyc311", "watermark")["watermark"] == stamp


def test_the_first_run_failing_leaves_no_watermark_and_no_batch(socrata_server, zone):
    socrata_server.fixture.datasets[ID_311] = make_311_records(30)
    socrata_server.fixture.fault_on(*range(3, 13), kind="truncated")
    with pytest.raises(SocrataError, match=r"page 2 \(offset 7\) failed after 4 attempts"):
        land_batches(zone, api_params(socrata_server), None)
    assert zone.batches("nyc311") == []
    assert zone.read_state("nyc311", "watermark") is None
    assert zone.read_state("nyc311", "last_run") is None


def test_the_node_waits_the_servers_retry_after_then_lands_exactly_the_source(socrata_server, zone):
    source = make_311_records(30)
    socrata_server.fixture.datasets[ID_311] = source
    socrata_server.fixture.fault_on(3, kind="throttle", retry_after="1")  # page 2, first try
    started = time.monotonic()
    summary = land_batches(zone, api_params(socrata_server), None)
    assert time.monotonic() - started >= 0.95
    throttled, retried = socrata_server.fixture.requests[2:4]
    assert throttled.fault == "throttle" and retried.query["$offset"] == "7"
    # the backoff parameters are ~1 ms: only the server's Retry-After explains a 1 s wait
    assert retried.at - throttled.at >= 0.95
    assert summary["rows_landed"] == 30
    assert Counter(landed_ids(zone, "nyc311")) == Counter(r[":id"] for r in source)
