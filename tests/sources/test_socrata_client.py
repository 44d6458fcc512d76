"""SocrataClient against a real HTTP server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

import pytest

from fixtures.socrata_server import (  # noqa: F401 (pytest fixture)
    SocrataTestServer,
    make_311_records,
    socrata_server,
)
from nyc_lakehouse.sources.socrata import (
    AppToken,
    RetryPolicy,
    SocrataAppTokenDataset,
    SocrataClient,
    SocrataError,
    parse_retry_after,
    records_to_landing_table,
    resolve_app_token,
)

DATASET_ID = "erm2-nwe9"
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base_seconds=0.001, backoff_max_seconds=0.01)


def client_for(server: SocrataTestServer, **options) -> SocrataClient:
    defaults = dict(
        label="nyc311",
        page_size=7,
        timeout_seconds=2.0,
        retry=FAST_RETRY,
        required_fields=("unique_key", "created_date"),
        allow_loopback_http=True,  # the stand-in is plain http on 127.0.0.1
    )
    return SocrataClient(server.base_url, DATASET_ID, **{**defaults, **options})


def fetch_all(client: SocrataClient, where: str | None = None) -> list[dict]:
    expected = client.count(where)
    return [r for page in client.pages(where, expected_rows=expected) for r in page.records]


@pytest.fixture
def server_with_records(socrata_server):  # noqa: F811
    socrata_server.fixture.datasets[DATASET_ID] = make_311_records(30)
    return socrata_server


def ids(records: list[dict]) -> list[str]:
    return [r[":id"] for r in records]


def test_pages_every_record_once_in_id_order_with_the_documented_query(server_with_records):
    source = server_with_records.fixture.datasets[DATASET_ID]
    with client_for(server_with_records) as client:
        records = fetch_all(client)
    assert sorted(ids(records)) == sorted(ids(source))
    assert len(set(ids(records))) == len(source) == 30
    assert ids(records) == sorted(ids(source))  # $order=:id, not creation order
    pages = server_with_records.fixture.page_requests()
    assert [p.query["$offset"] for p in pages] == ["0", "7", "14", "21", "28"]
    assert {p.query["$select"] for p in pages} == {":*, *"}
    assert {p.query["$order"] for p in pages} == {":id"}
    assert {p.query["$limit"] for p in pages} == {"7"}


def test_where_filters_on_the_server_and_count_agrees(server_with_records):
    source = server_with_records.fixture.datasets[DATASET_ID]
    cut = sorted(r[":updated_at"] for r in source)[9].rstrip("Z")
    where = f":updated_at > '{cut}' AND agency = 'DOT'"
    with client_for(server_with_records) as client:
        records = fetch_all(client, where)
    expected = [r for r in source if r[":updated_at"].rstrip("Z") > cut and r["agency"] == "DOT"]
    assert sorted(ids(records)) == sorted(ids(expected))
    assert len(expected) > 0


def test_exact_page_multiple_ends_with_an_empty_page(socrata_server):  # noqa: F811
    socrata_server.fixture.datasets[DATASET_ID] = make_311_records(14)
    with client_for(socrata_server) as client:
        records = fetch_all(client)
    assert len(records) == 14
    assert [p.query["$offset"] for p in socrata_server.fixture.page_requests()] == ["0", "7", "14"]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "throttle", "retry_after": "0"},
        {"kind": "error"},
        {"kind": "error", "status": 503},
        {"kind": "slow", "delay": 1.0},
        {"kind": "truncated"},
        {"kind": "empty"},
        {"kind": "malformed"},
        {"kind": "missing_keys"},
        {"kind": "drop"},
    ],
    ids=lambda f: f"{f['kind']}{f.get('status', '')}",
)
def test_every_fault_is_retried_and_every_record_arrives_exactly_once(server_with_records, fault):
    source = server_with_records.fixture.datasets[DATASET_ID]
    # request 1 is the count; 3 and 4 are pages 2 (twice: the fault, then its first retry)
    server_with_records.fixture.fault_on(3, 4, **fault)
    with client_for(server_with_records, timeout_seconds=0.3) as client:
        records = fetch_all(client)
    assert sorted(ids(records)) == sorted(ids(source))
    assert len(records) == len(source)
    page_two = [p for p in server_with_records.fixture.page_requests() if p.query["$offset"] == "7"]
    assert len(page_two) == 3  # two faulty answers, then the good one


def test_retry_after_is_honoured(server_with_records):
    server_with_records.fixture.fault_on(2, kind="throttle", retry_after="1")
    with client_for(server_with_records) as client:
        records = fetch_all(client)
    assert len(records) == 30
    first, second = server_with_records.fixture.requests[1:3]
    assert second.at - first.at >= 0.95  # waited the server's Retry-After, not the tiny backoff


def test_exhausted_attempts_raise_an_error_naming_dataset_page_and_query(server_with_records):
    server_with_records.fixture.fault_on(*range(3, 20), kind="error")
    with client_for(server_with_records) as client, pytest.raises(SocrataError) as error:
        fetch_all(client)
    message = str(error.value)
    assert "nyc311 (erm2-nwe9)" in message
    assert "page 2 (offset 7)" in message
    assert "after 4 attempts" in message
    assert "HTTP 500" in message
    assert "%24order=%3Aid" in message and "%24offset=7" in message
    page_two = [p for p in server_with_records.fixture.page_requests() if p.query["$offset"] == "7"]
    assert len(page_two) == 4  # bounded


def test_a_refused_request_is_not_retried(socrata_server):  # noqa: F811
    with client_for(socrata_server) as client, pytest.raises(SocrataError) as error:
        client.count()  # the server does not know this dataset: 404
    assert "HTTP 404" in str(error.value) and "not retried" in str(error.value)
    assert len(socrata_server.fixture.requests) == 1


def test_a_short_page_before_the_expected_count_is_retried_not_trusted(server_with_records):
    # page 3 comes back empty once: without the count check the client would stop at 14 rows
    server_with_records.fixture.fault_on(4, kind="empty")
    with client_for(server_with_records) as client:
        records = fetch_all(client)
    assert len(records) == 30


def test_the_app_token_is_sent_as_a_header_and_never_shown(server_with_records, caplog):
    secret = f"planted-{uuid.uuid4().hex}"
    server_with_records.fixture.fault_on(2, kind="error")  # makes the client log a retry
    caplog.set_level(logging.DEBUG)
    with client_for(server_with_records, app_token=AppToken(secret)) as client:
        records = fetch_all(client)
        shown = repr(client) + str(client)
    assert len(records) == 30
    assert {r.app_token for r in server_with_records.fixture.requests} == {secret}
    assert all(
        secret not in r.path and secret not in str(r.query)
        for r in server_with_records.fixture.requests
    )
    assert "retrying" in caplog.text
    assert secret not in caplog.text
    assert secret not in shown and "***" in shown
    assert secret not in repr(AppToken(secret)) and secret not in f"{AppToken(secret)}"


def test_the_app_token_is_not_in_errors(server_with_records):
    secret = f"planted-{uuid.uuid4().hex}"
    server_with_records.fixture.fault_on(*range(1, 10), kind="error")
    with (
        client_for(server_with_records, app_token=AppToken(secret)) as client,
        pytest.raises(SocrataError) as error,
    ):
        client.count()
    assert secret not in str(error.value) and secret not in repr(error.value)


def test_app_token_comes_from_credentials_else_the_environment(monkeypatch):
    monkeypatch.setenv("NYC_OPEN_DATA_APP_TOKEN", "from-env")
    from_credentials = {"app_token": "from-credentials"}  # pragma: allowlist secret
    assert resolve_app_token(from_credentials).reveal() == "from-credentials"
    assert resolve_app_token({"app_token": None}).reveal() == "from-env"
    assert resolve_app_token(None).reveal() == "from-env"
    monkeypatch.delenv("NYC_OPEN_DATA_APP_TOKEN")
    assert resolve_app_token({"app_token": ""}) is None
    dataset = SocrataAppTokenDataset(credentials={"app_token": "from-credentials"})
    assert dataset.load().reveal() == "from-credentials"
    assert "from-credentials" not in repr(dataset) and "from-credentials" not in str(
        dataset._describe()
    )


def test_retry_policy_backs_off_exponentially_with_jitter_and_caps():
    policy = RetryPolicy(max_attempts=5, backoff_base_seconds=1.0, backoff_max_seconds=8.0)
    import random

    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # jitter spreads over the whole range
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert RetryPolicy(max_retry_after_seconds=10).delay(1, retry_after=3600) == 10
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


def test_retry_after_parses_seconds_and_http_dates():
    now = datetime(2024, 5, 27, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Mon, 27 May 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 27 May 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_api_records_become_all_string_landing_tables_with_a_stable_schema():
    records = make_311_records(5)
    table = records_to_landing_table(records[:1], "nyc311")
    wide = records_to_landing_table(records, "nyc311")
    assert table.schema == wide.schema  # same columns whatever keys a page happens to carry
    assert {f.type for f in table.schema} == {__import__("pyarrow").string()}
    row = wide.to_pylist()[0]
    assert row["_socrata_id"] == records[0][":id"]
    assert row["_socrata_updated_at"] == records[0][":updated_at"]
    assert row["closed_date"] == records[0]["closed_date"]
    assert wide.to_pylist()[1]["closed_date"] is None  # absent key -> null
    assert row["location"].startswith('{"human_address":')
    assert table.column_names[:3] == ["unique_key", "created_date", "closed_date"]


def test_slow_server_times_out_quickly(server_with_records):
    server_with_records.fixture.fault_on(*range(1, 10), kind="slow", delay=1.0)
    started = time.monotonic()
    with (
        client_for(
            server_with_records, timeout_seconds=0.2, retry=RetryPolicy(2, 0.001, 0.001)
        ) as client,
        pytest.raises(SocrataError, match="ReadTimeout"),
    ):
        client.count()
    assert time.monotonic() - started < 1.5


def test_an_unreachable_server_is_retried_then_named_in_the_error():
    import socket

    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SocrataClient(
        f"http://127.0.0.1:{port}",
        DATASET_ID,
        label="nyc311",
        retry=FAST_RETRY,
        timeout_seconds=1,
        allow_loopback_http=True,
    )
    with client, pytest.raises(SocrataError) as error:
        client.count()
    assert "after 4 attempts" in str(error.value) and "ConnectError" in str(error.value)


@pytest.mark.parametrize("status", [501, 507, 599])
def test_every_server_error_is_retried(server_with_records, status):
    server_with_records.fixture.fault_on(2, kind="error", status=status)
    with client_for(server_with_records) as client:
        records = fetch_all(client)
    assert len(records) == 30
    served = [r.fault for r in server_with_records.fixture.requests]
    assert served.count("error") == 1


def test_the_app_token_does_not_follow_a_redirect_to_another_host(server_with_records):
    secret = f"planted-{uuid.uuid4().hex}"
    # "localhost" is another host than 127.0.0.1 for the client, though the same server.
    port = server_with_records.base_url.rsplit(":", 1)[1]
    server_with_records.fixture.fault_on(2, kind="redirect", location=f"http://localhost:{port}")
    with client_for(server_with_records, app_token=AppToken(secret)) as client:
        records = fetch_all(client)
    assert len(records) == 30
    requests = server_with_records.fixture.requests
    assert requests[1].fault == "redirect" and requests[1].app_token == secret
    assert requests[2].app_token is None  # the redirected request, to localhost
    assert {r.app_token for r in requests[3:]} == {secret}  # back on the origin host
