"""A fault-tolerant client for the Socrata (SODA 2.0) API of NYC Open Data, on httpx.

It pages a dataset with ``$limit``/``$offset`` under a *stable* ``$order=:id`` (ordering by a
timestamp skips and repeats rows across pages when values tie) and ``$select=:*, *`` (so the
system fields ``:id`` and ``:updated_at`` come with every record). Each page is validated (a JSON
array of objects carrying the expected keys) before anyone sees it; a malformed, truncated or
suspiciously short page is retried, never returned. Throttling (429), server errors (5xx),
timeouts and connection errors are retried with exponential backoff and full jitter, honouring
``Retry-After``, for a bounded number of attempts; then :class:`SocrataError` names the dataset,
the page and the query.

Column names come from the dataset itself: :meth:`SocrataClient.source_columns` reads
``/api/views/<id>.json`` (see :mod:`nyc_lakehouse.sources.socrata_metadata`).

The optional app token travels only in the ``X-App-Token`` header. It never appears in a URL,
a log line, a ``repr`` or an error message, and it is sent only to the configured origin: the
base URL must be ``https`` on an allow-listed host, and a redirect that changes the scheme, the
host or the port loses the token.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pyarrow as pa
from kedro.io import AbstractDataset

from nyc_lakehouse.landing import records_to_table
from nyc_lakehouse.sources.schemas import FIELDS_BY_DATASET, SYSTEM_FIELD_RENAMES
from nyc_lakehouse.sources.socrata_metadata import (
    MAX_METADATA_BYTES,
    SourceColumns,
    SourceMetadataError,
)

logger = logging.getLogger(__name__)

APP_TOKEN_ENV_VAR = "NYC_OPEN_DATA_APP_TOKEN"  # pragma: allowlist secret (a variable name)
SELECT_ALL_WITH_SYSTEM_FIELDS = ":*, *"
STABLE_ORDER = ":id"
# Landing columns every batch of an API-backed dataset carries (null when the source lacks them,
# e.g. a bulk export), so downstream code can always refer to them.
SYSTEM_COLUMNS: tuple[str, ...] = tuple(sorted(SYSTEM_FIELD_RENAMES.values()))
# Plus every 5xx (see is_retryable_status): a server error may be gone on the next attempt.
RETRYABLE_STATUS = frozenset({408, 425, 429})
# Hosts the client sends requests (and the app token) to, unless told otherwise.
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("data.cityofnewyork.us",)
# Plain http is allowed only to these, and only with allow_loopback_http (a local test stand-in).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# A Socrata dataset id ("four-by-four"): it goes into the request path.
DATASET_ID = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeBaseUrlError(ValueError):
    """A base URL the client refuses to send requests (and the app token) to."""


def validate_base_url(
    base_url: str,
    allowed_hosts: Sequence[str] = DEFAULT_ALLOWED_HOSTS,
    allow_loopback_http: bool = False,
) -> str:
    """``base_url`` without a trailing slash, if it is ``https`` on an allow-listed host.

    ``allow_loopback_http`` is the one way to reach a local stand-in (``http://127.0.0.1:port``):
    tests and local mirrors set it explicitly; no other host may use plain http.
    """
    text = str(base_url).strip().rstrip("/")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeBaseUrlError(f"base_url {text[:100]!r} is not a URL: {exc}") from None
    host = (url.host or "").lower()
    if url.userinfo or url.query or url.fragment or not host:
        raise UnsafeBaseUrlError(
            f"base_url {text[:100]!r} must be a plain origin (scheme, host, optional port and "
            f"path), without credentials, query or fragment"
        )
    if allow_loopback_http and host in LOOPBACK_HOSTS and url.scheme in ("http", "https"):
        return text
    if url.scheme != "https":
        raise UnsafeBaseUrlError(
            f"base_url {text[:100]!r} must use https (plain http is allowed only to a loopback "
            f"test server with allow_loopback_http)"
        )
    allowed = {h.strip().lower() for h in allowed_hosts}
    if host not in allowed:
        raise UnsafeBaseUrlError(
            f"base_url host {host!r} is not allow-listed (allowed_hosts: "
            f"{', '.join(sorted(allowed)) or 'none'})"
        )
    return text


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    return (url.scheme, (url.host or "").lower(), url.port or _DEFAULT_PORTS.get(url.scheme))


def is_retryable_status(status_code: int) -> bool:
    """Timeouts, rate limits (429) and every server error (5xx) are retried."""
    return status_code in RETRYABLE_STATUS or 500 <= status_code <= 599


class SocrataError(RuntimeError):
    """A request to the Socrata API failed for good (attempts exhausted or not retryable)."""


class InvalidPageError(ValueError):
    """A response body that is not a complete, well-formed page of records."""


class AppToken:
    """A Socrata app token that does not print itself (``repr``/``str`` are masked)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The token itself, for the request header only."""
        return self._value

    def __repr__(self) -> str:
        return "AppToken('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:  # deepcopy/pickle between Kedro nodes
        return (AppToken, (self._value,))


def resolve_app_token(
    credentials: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AppToken | None:
    """The app token from Kedro credentials (``app_token`` key), else ``NYC_OPEN_DATA_APP_TOKEN``.

    Empty values count as absent: the API works without a token, only with lower rate limits.
    """
    value = (credentials or {}).get("app_token")
    if not value:
        value = (os.environ if environ is None else environ).get(APP_TOKEN_ENV_VAR)
    return AppToken(str(value)) if value else None


class SocrataAppTokenDataset(AbstractDataset[None, "AppToken | None"]):
    """Kedro dataset that hands nodes the optional app token, masked.

    ``credentials`` comes from Kedro credentials (``conf/local/credentials.yml``, key
    ``nyc_open_data``); the environment variable ``NYC_OPEN_DATA_APP_TOKEN`` is the fallback.
    """

    def __init__(
        self,
        credentials: Mapping[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._credentials = dict(credentials or {})
        self.metadata = metadata

    def load(self) -> AppToken | None:
        return resolve_app_token(self._credentials)

    def save(self, data: None) -> None:
        raise NotImplementedError("The app token is read-only configuration")

    def _exists(self) -> bool:
        return True

    def _describe(self) -> dict[str, Any]:
        return {"app_token": "***" if resolve_app_token(self._credentials) else None}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    Attempt ``n`` (1-based) that fails waits ``uniform(0, min(max, base * 2**(n-1)))`` seconds,
    or the server's ``Retry-After`` when it sent one (capped at ``max_retry_after_seconds``).
    """

    max_attempts: int = 6
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff_base_seconds < 0 or self.backoff_max_seconds < 0:
            raise ValueError("backoff seconds must be >= 0")

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after_seconds))
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def soql_timestamp(moment: datetime) -> str:
    """A SoQL timestamp literal (UTC, millisecond precision, no zone suffix)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds")


def parse_socrata_timestamp(text: str) -> datetime:
    """``2024-05-27T06:12:01.123Z`` (system fields, UTC) or a floating one (read as UTC)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def conform_to_landing_schema(table: pa.Table, dataset: str) -> pa.Table:
    """Give a landing table the dataset's full column set, in one canonical order.

    The dataset's known fields first (absent ones as all-null strings), then the Socrata system
    columns (``_socrata_id``, ``_socrata_created_at``, ``_socrata_updated_at``), then any other
    column sorted by name. Every landing batch of a dataset then has the same schema whichever
    source produced it; unknown columns are kept so that bronze can add them.
    """
    known = FIELDS_BY_DATASET.get(dataset, ())
    fixed = list(known) + [c for c in SYSTEM_COLUMNS if c not in known]
    present = set(table.column_names)
    extra = sorted(c for c in present if c not in set(fixed))
    columns = []
    for name in fixed + extra:
        if name in present:
            column = table.column(name)
            columns.append(column if column.type == pa.string() else column.cast(pa.string()))
        else:
            columns.append(pa.nulls(table.num_rows, type=pa.string()))
    return pa.table(columns, names=fixed + extra)


def records_to_landing_table(
    records: Sequence[Mapping[str, Any]], dataset: str, columns: SourceColumns | None = None
) -> pa.Table:
    """API records as a landing table with the dataset's full, canonical schema.

    With the dataset's ``columns`` (its metadata), API field names are renamed to the landing
    columns of their display names (``date`` -> ``week_start_date``), as the export path lands.
    """
    if columns is not None:
        records = [columns.rename_record(record) for record in records]
    return conform_to_landing_schema(records_to_table(records, dataset), dataset)


@dataclass(frozen=True)
class Page:
    """One validated page of records."""

    number: int  # 1-based
    offset: int
    records: list[dict[str, Any]]


class SocrataClient:
    """Reads one Socrata dataset page by page, with retries and validation.

    ``label`` names the dataset in messages (``nyc311``); ``required_fields`` are keys every
    record must carry (besides ``:id`` and ``:updated_at``, which ``$select=:*, *`` always adds).
    ``base_url`` must be ``https`` on one of ``allowed_hosts``; ``allow_loopback_http`` admits a
    local test stand-in on ``http://127.0.0.1`` (see :func:`validate_base_url`).
    """

    def __init__(
        self,
        base_url: str,
        dataset_id: str,
        *,
        label: str | None = None,
        app_token: AppToken | str | None = None,
        page_size: int = 50_000,
        timeout_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        required_fields: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        allowed_hosts: Sequence[str] = DEFAULT_ALLOWED_HOSTS,
        allow_loopback_http: bool = False,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        if not DATASET_ID.match(str(dataset_id)):
            raise ValueError(f"dataset_id {str(dataset_id)[:40]!r} is not a Socrata id (abcd-1234)")
        self.base_url = validate_base_url(base_url, allowed_hosts, allow_loopback_http)
        self.dataset_id = dataset_id
        self.label = label or dataset_id
        self.page_size = int(page_size)
        self.retry = retry or RetryPolicy()
        self.required_fields = tuple(required_fields)
        self._sleep = sleep
        self._rng = random.Random()
        token = app_token.reveal() if isinstance(app_token, AppToken) else app_token
        headers = {"Accept": "application/json", "User-Agent": "nyc-lakehouse ingestion"}
        if token:
            headers["X-App-Token"] = token
        self._has_token = bool(token)
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=True,
            event_hooks={"request": [self._keep_token_on_origin]},
        )
        self._origin = origin_of(httpx.URL(self.base_url))

    def _keep_token_on_origin(self, request: httpx.Request) -> None:
        # httpx strips only Authorization, and only on a cross-host redirect: a redirect to
        # http:// (readable on the wire) or to another port (another server) must lose the
        # token as well.
        if origin_of(request.url) != self._origin:
            request.headers.pop("X-App-Token", None)

    def __repr__(self) -> str:
        token = "***" if self._has_token else None
        return (
            f"SocrataClient({self.resource_url!r}, label={self.label!r}, "
            f"page_size={self.page_size}, app_token={token!r})"
        )

    def __enter__(self) -> SocrataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def resource_url(self) -> str:
        return f"{self.base_url}/resource/{self.dataset_id}.json"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/api/views/{self.dataset_id}.json"

    def source_columns(self) -> SourceColumns:
        """The dataset's column metadata (display and API names), validated, with retries."""

        def parse(body: Any) -> SourceColumns:
            return SourceColumns.from_view(body, self.dataset_id, label=self.label)

        return self._request_with_retries(
            {}, parse, what="column metadata", url=self.metadata_url, max_bytes=MAX_METADATA_BYTES
        )

    # queries -------------------------------------------------------------------------------
    def page_query(self, where: str | None, offset: int) -> dict[str, str]:
        query = {
            "$select": SELECT_ALL_WITH_SYSTEM_FIELDS,
            "$order": STABLE_ORDER,
            "$limit": str(self.page_size),
            "$offset": str(offset),
        }
        if where:
            query["$where"] = where
        return query

    def describe_query(self, query: Mapping[str, str], url: str | None = None) -> str:
        return str(httpx.URL(url or self.resource_url, params=dict(query)))

    def count(self, where: str | None = None) -> int:
        """Rows matching ``where`` (``$select=count(*)``), with the same retries."""
        query = {"$select": "count(*) AS row_count"}
        if where:
            query["$where"] = where

        def parse(body: Any) -> int:
            if (
                not isinstance(body, list)
                or len(body) != 1
                or not isinstance(body[0], dict)
                or "row_count" not in body[0]
            ):
                raise InvalidPageError(f"expected [{{'row_count': ...}}], got {str(body)[:200]}")
            try:
                return int(body[0]["row_count"])
            except (TypeError, ValueError) as exc:
                raise InvalidPageError(f"row_count is not an integer: {body[0]!r}") from exc

        return self._request_with_retries(query, parse, what="row count")

    def pages(self, where: str | None = None, expected_rows: int | None = None) -> Iterator[Page]:
        """Validated pages in ``:id`` order until the source is exhausted.

        With ``expected_rows`` (from :meth:`count`), a page that ends the result early (short or
        empty while fewer rows than expected have arrived) is treated as a faulty response and
        retried; rows added meanwhile simply extend the paging.
        """
        offset, number = 0, 1
        while True:
            query = self.page_query(where, offset)
            fetched_before = offset

            def parse(body: Any, _before: int = fetched_before) -> list[dict[str, Any]]:
                records = self._validate_page(body)
                short = len(records) < self.page_size
                if short and expected_rows is not None and _before + len(records) < expected_rows:
                    raise InvalidPageError(
                        f"page ended the result after {_before + len(records)} of "
                        f"{expected_rows} rows ({len(records)} records on the page)"
                    )
                return records

            records = self._request_with_retries(
                query, parse, what=f"page {number} (offset {offset})"
            )
            yield Page(number=number, offset=offset, records=records)
            if len(records) < self.page_size:
                return
            offset += len(records)
            number += 1

    # internals -----------------------------------------------------------------------------
    def _validate_page(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise InvalidPageError(f"expected a JSON array, got {type(body).__name__}")
        if len(body) > self.page_size:
            raise InvalidPageError(f"{len(body)} records on a page of at most {self.page_size}")
        required = (":id", ":updated_at", *self.required_fields)
        for index, record in enumerate(body):
            if not isinstance(record, dict):
                raise InvalidPageError(
                    f"record {index} is a {type(record).__name__}, not an object"
                )
            missing = [key for key in required if key not in record]
            if missing:
                raise InvalidPageError(f"record {index} lacks expected keys {missing}")
        return body

    def _request_with_retries(
        self,
        query: Mapping[str, str],
        parse: Callable[[Any], Any],
        what: str,
        url: str | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        url = url or self.resource_url
        last_problem = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._get(url, query, max_bytes, what)
                if is_retryable_status(response.status_code):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    raise _Retryable(f"HTTP {response.status_code}{_short(response)}")
                if response.status_code >= 400:
                    raise SocrataError(
                        f"{self.label} ({self.dataset_id}): {what} was refused with HTTP "
                        f"{response.status_code}{_short(response)} (not retried). "
                        f"Query: GET {self.describe_query(query, url)}"
                    )
                try:
                    body = json.loads(response.content)
                except ValueError as exc:
                    raise InvalidPageError(
                        f"malformed or truncated JSON ({len(response.content)} bytes): {exc}"
                    ) from exc
                try:
                    return parse(body)
                except SourceMetadataError as exc:
                    raise SocrataError(str(exc)) from exc
            except SocrataError:
                raise
            except _Retryable as exc:
                last_problem = str(exc)
            except InvalidPageError as exc:
                last_problem = f"invalid page: {exc}"
            except httpx.TransportError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.retry.max_attempts:
                wait = self.retry.delay(attempt, retry_after, self._rng)
                logger.warning(
                    "%s (%s): %s failed (attempt %d of %d: %s); retrying in %.2fs",
                    self.label,
                    self.dataset_id,
                    what,
                    attempt,
                    self.retry.max_attempts,
                    last_problem,
                    wait,
                )
                self._sleep(wait)
        raise SocrataError(
            f"{self.label} ({self.dataset_id}): {what} failed after {self.retry.max_attempts} "
            f"attempts; last error: {last_problem}. Query: GET {self.describe_query(query, url)}"
        )

    def _get(
        self, url: str, query: Mapping[str, str], max_bytes: int | None, what: str
    ) -> httpx.Response:
        """One GET; with ``max_bytes``, a larger body is refused as soon as it is seen."""
        if max_bytes is None:
            return self._http.get(url, params=dict(query))
        with self._http.stream("GET", url, params=dict(query)) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SocrataError(
                        f"{self.label} ({self.dataset_id}): {what} is larger than "
                        f"{max_bytes:,} bytes; refused. Query: GET {self.describe_query(query, url)}"
                    )
                chunks.append(chunk)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=b"".join(chunks),
            request=response.request,
        )


class _Retryable(Exception):
    """A response worth retrying (throttled or a server error)."""


def _short(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f": {text[:200]}" if text else ""
