"""What the Socrata client sends and how it judges each answer, on an in-process transport.

The API is the outside world, so it is faked here: an ``httpx.MockTransport`` answers each
request with a scripted response, and the test reads the requests the client made.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nyc_lakehouse.sources.socrata import (
    RetryPolicy,
    SocrataClient,
    SocrataError,
    is_retryable_status,
)

BASE = "https://data.example.org"
HOSTS = ("data.example.org",)


def _client(answers, page_size=2, sleep=lambda _: None, **kwargs):
    """A client whose transport replays ``answers`` (responses or callables) in order."""
    seen: list[httpx.Request] = []
    script = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = script.pop(0)
        return answer(request) if callable(answer) else answer

    client = SocrataClient(
        BASE + "/",
        "abcd-1234",
        label="nyc311",
        page_size=page_size,
        retry=RetryPolicy(max_attempts=2, backoff_base_seconds=0.0),
        sleep=sleep,
        transport=httpx.MockTransport(handle),
        allowed_hosts=HOSTS,
        **kwargs,
    )
    return client, seen


def _json(body, status=200) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode())


def _record(i: int) -> dict:
    return {":id": f"row-{i}", ":updated_at": "2024-01-01T00:00:00.000Z"}


def test_requests_carry_the_headers_the_token_and_the_resource_url():
    client, seen = _client([_json([{"row_count": "3"}])], app_token="secret")
    assert client.base_url == BASE and client.count() == 3
    (request,) = seen
    assert str(request.url).startswith(f"{BASE}/resource/abcd-1234.json?")
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == "nyc-lakehouse ingestion"
    assert request.headers["X-App-Token"] == "secret"  # pragma: allowlist secret
    without, seen = _client([_json([{"row_count": "0"}])])
    assert without.count() == 0 and "X-App-Token" not in seen[0].headers


def test_defaults_and_page_size_validation():
    client = SocrataClient(BASE, "abcd-1234", allowed_hosts=HOSTS)
    assert client.page_size == 50_000
    assert client._http.timeout == httpx.Timeout(60.0)
    assert SocrataClient(BASE, "abcd-1234", page_size=1, allowed_hosts=HOSTS).page_size == 1
    with pytest.raises(ValueError, match="^page_size must be >= 1, got 0$"):
        SocrataClient(BASE, "abcd-1234", page_size=0, allowed_hosts=HOSTS)


def test_status_codes_retried():
    assert is_retryable_status(429) and is_retryable_status(500) and is_retryable_status(599)
    assert not is_retryable_status(600) and not is_retryable_status(404)


def test_a_400_is_refused_at_once_with_the_query():
    client, seen = _client([httpx.Response(400, text="bad $where")])
    with pytest.raises(SocrataError) as raised:
        client.count("x > 1")
    assert len(seen) == 1  # not retried
    message = str(raised.value)
    assert message.startswith(
        "nyc311 (abcd-1234): row count was refused with HTTP 400: bad $where (not retried)."
    )
    assert message.endswith(
        "(not retried). Query: GET "
        + client.describe_query({"$select": "count(*) AS row_count", "$where": "x > 1"})
    )


def test_the_row_count_answer_is_checked():
    bad_answers = [
        ({"row_count": 1}, "expected [{'row_count': ...}], got {'row_count': 1}"),
        ([], "expected [{'row_count': ...}], got []"),
        ([1], "expected [{'row_count': ...}], got [1]"),
        ([{"rows": 1}], "expected [{'row_count': ...}], got [{'rows': 1}]"),
        ([{"row_count": 1}, {"row_count": 2}], "got [{'row_count': 1}, {'row_count': 2}]"),
        ([{"row_count": "many"}], "row_count is not an integer: {'row_count': 'many'}"),
    ]
    for body, problem in bad_answers:
        client, seen = _client([_json(body), _json(body)])
        with pytest.raises(SocrataError) as raised:
            client.count()
        assert len(seen) == 2  # an invalid answer is retried, then given up
        assert "row count failed after 2 attempts; last error: invalid page: " in str(raised.value)
        assert problem in str(raised.value), body
    long = [{"row_count": 1, "x": "y" * 400}, {}]
    client, _ = _client([_json(long), _json(long)])
    with pytest.raises(SocrataError) as raised:
        client.count()
    assert f"got {str(long)[:200]}. Query" in str(raised.value)


def test_pages_are_numbered_from_one_with_their_offsets():
    client, seen = _client(
        [_json([_record(0), _record(1)]), _json([_record(2), _record(3)]), _json([_record(4)])]
    )
    pages = list(client.pages())
    assert [(p.number, p.offset, len(p.records)) for p in pages] == [
        (1, 0, 2),
        (2, 2, 2),
        (3, 4, 1),
    ]
    assert [r.url.params["$offset"] for r in seen] == ["0", "2", "4"]


def test_invalid_pages_name_the_problem():
    client, _ = _client([_json([_record(0)] * 3)] * 2)
    with pytest.raises(SocrataError, match="invalid page: 3 records on a page of at most 2"):
        list(client.pages())
    client, _ = _client([_json([_record(0), [1, 2]])] * 2)
    with pytest.raises(SocrataError, match="invalid page: record 1 is a list, not an object"):
        list(client.pages())


def test_it_sleeps_between_attempts_only_and_honours_retry_after():
    sleeps: list[float] = []
    failing = [httpx.Response(500, headers={"Retry-After": "3"}), httpx.Response(503)]
    client, seen = _client(failing, sleep=sleeps.append)
    with pytest.raises(
        SocrataError, match="row count failed after 2 attempts; last error: HTTP 503"
    ):
        client.count()
    assert len(seen) == 2 and sleeps == [3.0]  # no sleep after the last attempt


def test_the_token_is_dropped_for_good_after_a_cross_host_redirect():
    def to(url):
        return lambda request: httpx.Response(302, headers={"Location": url})

    client, seen = _client(
        [to("https://mirror.example/a"), to("https://cdn.example/b"), _json([{"row_count": 1}])],
        app_token="secret",  # pragma: allowlist secret
    )
    assert client.count() == 1
    assert [r.url.host for r in seen] == ["data.example.org", "mirror.example", "cdn.example"]
    assert [r.headers.get("X-App-Token") for r in seen] == ["secret", None, None]
