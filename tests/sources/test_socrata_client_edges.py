"""The Socrata client's small parts at their edges: Retry-After dates, timestamps in and out of
UTC whatever the machine's zone, retry delays, error texts and the masked app token."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from nyc_lakehouse.sources import socrata
from nyc_lakehouse.sources.socrata import (
    AppToken,
    RetryPolicy,
    SocrataAppTokenDataset,
    SocrataClient,
    parse_retry_after,
    parse_socrata_timestamp,
    resolve_app_token,
    soql_timestamp,
)


@pytest.fixture
def new_york_machine(monkeypatch):
    """A machine whose local time zone is not UTC: code must not lean on the local zone."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# Retry-After ---------------------------------------------------------------------------------
def test_retry_after_seconds_are_never_negative_and_zero_is_zero():
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(" 2.5 ") == 2.5


def test_retry_after_http_dates_with_and_without_a_zone():
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0
    # "-0000" means "UTC, zone unknown": parsed without a zone, read as UTC
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0  # in the past


def test_retry_after_dates_against_the_clock(new_york_machine):
    later = datetime.now(UTC) + timedelta(hours=1)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 3500 < parse_retry_after(header) <= 3600


# timestamps ----------------------------------------------------------------------------------
def test_socrata_timestamps_are_utc_unless_they_say_otherwise():
    assert parse_socrata_timestamp("2024-05-27T06:12:01.123Z") == datetime(
        2024, 5, 27, 6, 12, 1, 123000, tzinfo=UTC
    )
    floating = parse_socrata_timestamp(" 2024-05-27T06:12:01 ")
    assert floating.tzinfo is UTC and floating.hour == 6
    offset = parse_socrata_timestamp("2024-05-27T06:12:01+05:00")
    assert offset.utcoffset() == timedelta(hours=5)
    assert offset == datetime(2024, 5, 27, 1, 12, 1, tzinfo=UTC)


def test_soql_literals_are_utc_whatever_the_machine_zone(new_york_machine):
    eastern = datetime(2024, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert soql_timestamp(eastern) == "2024-01-01T12:00:00.000"
    assert soql_timestamp(datetime(2024, 1, 1, 7, 0)) == "2024-01-01T07:00:00.000"  # floating


# retry delays --------------------------------------------------------------------------------
def test_retry_delay_uses_the_given_random_source_from_zero():
    policy = RetryPolicy(backoff_base_seconds=1.0, backoff_max_seconds=60.0)
    expected = random.Random(7).uniform(0.0, 4.0)  # attempt 3: ceiling 1 * 2**2
    assert policy.delay(3, rng=random.Random(7)) == expected
    # a zero ceiling waits nothing (the jitter starts at 0)
    assert RetryPolicy(backoff_base_seconds=0.0).delay(1, rng=random.Random(1)) == 0.0


def test_retry_after_zero_waits_nothing_and_is_capped():
    policy = RetryPolicy(max_retry_after_seconds=30.0)
    assert policy.delay(1, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=-1.0) == 0.0
    assert policy.delay(1, retry_after=500.0) == 30.0


# messages and masking ------------------------------------------------------------------------
def test_error_texts_are_one_line_and_at_most_200_characters():
    assert socrata._short(httpx.Response(500, text="")) == ""
    assert socrata._short(httpx.Response(500, text="  \n ")) == ""
    assert socrata._short(httpx.Response(500, text=" bad\nrequest \n")) == ": bad request"
    long = socrata._short(httpx.Response(500, text="x" * 300))
    assert long == ": " + "x" * 200


def test_the_app_token_never_prints_and_the_environment_argument_wins(monkeypatch):
    monkeypatch.delenv(socrata.APP_TOKEN_ENV_VAR, raising=False)
    assert repr(AppToken("secret")) == "AppToken('***')" == str(AppToken("secret"))
    token = resolve_app_token({}, environ={socrata.APP_TOKEN_ENV_VAR: "from-env"})
    assert token is not None and token.reveal() == "from-env"
    assert resolve_app_token({}, environ={}) is None
    hosts = ("data.example",)
    with_token = SocrataClient(
        "https://data.example", "abcd-1234", app_token="secret", allowed_hosts=hosts
    )
    without = SocrataClient("https://data.example", "abcd-1234", allowed_hosts=hosts)
    assert repr(with_token).endswith("app_token='***')") and "secret" not in repr(with_token)
    assert repr(without).endswith("app_token=None)")


def test_the_app_token_dataset(monkeypatch):
    monkeypatch.delenv(socrata.APP_TOKEN_ENV_VAR, raising=False)
    dataset = SocrataAppTokenDataset({"app_token": "secret"}, metadata={"owner": "ops"})
    assert dataset.metadata == {"owner": "ops"}
    assert dataset.exists() is True
    assert dataset._describe() == {"app_token": "***"}
    assert SocrataAppTokenDataset()._describe() == {"app_token": None}
    with pytest.raises(Exception) as raised:
        dataset.save("a token")
    assert str(raised.value).endswith("\nThe app token is read-only configuration")
