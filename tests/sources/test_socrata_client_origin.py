"""Where the client may send requests and the app token: https on an allow-listed host only."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from fixtures.socrata_server import SocrataTestServer, make_311_records
from nyc_lakehouse.sources.socrata import (
    DEFAULT_ALLOWED_HOSTS,
    RetryPolicy,
    SocrataClient,
    UnsafeBaseUrlError,
    validate_base_url,
)

ID_311 = "erm2-nwe9"


def test_the_default_is_the_city_portal_over_https():
    assert DEFAULT_ALLOWED_HOSTS == ("data.cityofnewyork.us",)
    assert validate_base_url("https://data.cityofnewyork.us/") == "https://data.cityofnewyork.us"
    assert SocrataClient("https://DATA.cityofnewyork.us", ID_311).resource_url == (
        "https://DATA.cityofnewyork.us/resource/erm2-nwe9.json"
    )


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("http://data.cityofnewyork.us", {}, "must use https"),
        ("https://evil.example", {}, "host 'evil.example' is not allow-listed"),
        ("https://data.cityofnewyork.us.evil.example", {}, "not allow-listed"),
        (
            "https://user:pw@data.cityofnewyork.us",  # pragma: allowlist secret
            {},
            "without credentials",
        ),
        ("https://data.cityofnewyork.us?x=1", {}, "without credentials, query"),
        ("ftp://data.cityofnewyork.us", {}, "must use https"),
        # the loopback opt-in is for loopback only, and plain http only there
        ("http://127.0.0.1:8080", {}, "must use https"),
        ("http://evil.example", {"allow_loopback_http": True}, "must use https"),
        ("http://10.0.0.5", {"allow_loopback_http": True}, "must use https"),
        ("https://mirror.example", {"allowed_hosts": ()}, "allowed_hosts: none"),
    ],
)
def test_unsafe_base_urls_are_refused(url, options, message):
    with pytest.raises(UnsafeBaseUrlError, match=message):
        validate_base_url(url, **options)
    with pytest.raises(UnsafeBaseUrlError):
        SocrataClient(url, ID_311, **options)


def test_the_explicit_opt_ins():
    assert validate_base_url("https://mirror.example", allowed_hosts=["mirror.example"])
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"):
        assert validate_base_url(url, allow_loopback_http=True) == url
    with pytest.raises(ValueError, match="is not a Socrata id"):
        SocrataClient("https://data.cityofnewyork.us", "../../admin")


def _count_with_redirect(location: str, token: str):
    """A client on https://data.cityofnewyork.us whose first answer redirects to ``location``."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=json.dumps([{"row_count": "4"}]).encode())

    client = SocrataClient(
        "https://data.cityofnewyork.us",
        ID_311,
        app_token=token,
        retry=RetryPolicy(max_attempts=1),
        transport=httpx.MockTransport(handle),
    )
    with client:
        assert client.count() == 4
    return seen


@pytest.mark.parametrize(
    ("location", "kept"),
    [
        ("http://data.cityofnewyork.us/resource/x.json", False),  # scheme: readable on the wire
        ("https://data.cityofnewyork.us:8443/resource/x.json", False),  # port: another server
        ("https://other.example/resource/x.json", False),  # host
        ("https://data.cityofnewyork.us:443/resource/x.json", True),  # the same origin
        ("/resource/x.json?page=2", True),
    ],
)
def test_the_token_is_dropped_on_any_change_of_scheme_host_or_port(location, kept):
    token = f"planted-{uuid.uuid4().hex}"
    first, redirected = _count_with_redirect(location, token)
    assert first.headers["X-App-Token"] == token
    assert redirected.headers.get("X-App-Token") == (token if kept else None)


def test_a_redirect_to_another_port_on_the_same_loopback_host_loses_the_token():
    origin, other = SocrataTestServer().start(), SocrataTestServer().start()
    try:
        for server in (origin, other):
            server.fixture.datasets[ID_311] = make_311_records(3)
        origin.fixture.fault_on(1, kind="redirect", location=other.base_url)
        token = f"planted-{uuid.uuid4().hex}"
        with SocrataClient(
            origin.base_url, ID_311, app_token=token, allow_loopback_http=True
        ) as client:
            assert client.count() == 3
        assert [r.app_token for r in origin.fixture.requests] == [token]
        assert [r.app_token for r in other.fixture.requests] == [None]
    finally:
        origin.stop()
        other.stop()
