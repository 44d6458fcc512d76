"""Nodes of the ``ingestion`` pipeline: land source records in the landing zone, batch by batch.

One node per dataset (namespaces ``nyc311``, ``nyc911``) reads its parameters, picks the source
(``sample``, ``socrata`` or ``export``) and lands batches through :class:`LandingZone`: every batch
is committed atomically (manifest last), so bronze never sees half a batch. What a run did is
returned as a small JSON-able summary (batches landed and skipped, rows, watermark).

Column names come from the source itself: an API run first reads the dataset's column metadata
(``/api/views/<id>.json``) and resolves the columns it needs by their display names (parameters
``date_column`` and ``required_columns``), so it queries the API's own field names (the 911
"Week Start Date" is ``date``) and lands every column under the display name's snake_case form,
exactly as a CSV export of the same dataset lands. The metadata is kept in the landing zone
(state ``source_columns``) and in every batch manifest.

Guarantees, per source:

* ``sample`` / ``socrata`` + ``mode=backfill``: one batch per calendar month of the date field,
  with deterministic ids (``sample-2019-01``, ``socrata-2019-01``); months already landed are
  skipped, so a crashed backfill resumes where it stopped. A month that has not ended yet gets an
  ``-asof-<time>`` id, so later runs fetch it again instead of skipping it.
* ``socrata`` + ``mode=incremental``: everything with ``:updated_at`` after the stored watermark
  minus an overlap, as one batch; the watermark is advanced only after that batch is committed.
  A crash at any point means the next run fetches again from the old watermark: duplicates
  (removed in silver), never a gap.
* ``export``: the whole file as one batch, whose id fingerprints the file (re-importing the same
  file is skipped). Bad rows are set aside in the batch's ``_rejected.csv`` with their lines and
  reasons, and keys found on several rows are counted and listed; a truncated file lands nothing.
"""

from __future__ import annotations

import logging
import posixpath
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from nyc_lakehouse.landing import LandingZone
from nyc_lakehouse.pipelines.ingestion.progress import Progress
from nyc_lakehouse.sources import export as export_source
from nyc_lakehouse.sources.schemas import FIELDS_BY_DATASET, SOCRATA_UPDATED_AT
from nyc_lakehouse.sources.socrata import (
    AppToken,
    RetryPolicy,
    SocrataClient,
    conform_to_landing_schema,
    parse_socrata_timestamp,
    records_to_landing_table,
    soql_timestamp,
)
from nyc_lakehouse.sources.socrata_metadata import SourceColumns

logger = logging.getLogger(__name__)

SOURCES = ("sample", "socrata", "export")
MODES = ("incremental", "backfill")
WATERMARK_STATE = "watermark"
BACKFILL_STATE = "backfill"
LAST_RUN_STATE = "last_run"
SOURCE_COLUMNS_STATE = "source_columns"


class IngestionConfigError(ValueError):
    """Ingestion parameters that cannot work (unknown source, missing export path...)."""


@dataclass(frozen=True)
class IngestionSettings:
    """Validated, typed ``<namespace>.ingestion`` parameters (see parameters_ingestion.yml)."""

    dataset: str
    source: str
    mode: str
    start: date
    end: date
    base_url: str
    allowed_hosts: tuple[str, ...]
    allow_loopback_http: bool
    dataset_id: str
    date_column: str
    required_columns: tuple[str, ...]
    page_size: int
    timeout_seconds: float
    retry: RetryPolicy
    overlap_minutes: float
    initial_watermark: datetime | None
    initial_lookback_days: float
    export_path: str | None
    chunk_rows: int
    max_field_chars: int
    sample_scale: float
    sample_seed: int | None
    progress_log_seconds: float


@dataclass(frozen=True)
class MonthWindow:
    """A half-open range ``[start, stop)`` of days inside one calendar month."""

    start: date
    stop: date

    @property
    def last_day(self) -> date:
        return self.stop - timedelta(days=1)

    @property
    def is_whole_month(self) -> bool:
        return self.start.day == 1 and self.stop == _next_month(self.start)

    def batch_id(self, source: str, today: date | None = None, now: datetime | None = None) -> str:
        """``<source>-2019-01`` for a whole past month; a ranged id for a partial one.

        A window that ends after ``today`` is not complete yet: its id carries the fetch time,
        so that a later run fetches it again rather than skipping it as landed.
        """
        if self.is_whole_month:
            label = f"{source}-{self.start:%Y-%m}"
        else:
            label = f"{source}-{self.start:%Y-%m-%d}_{self.last_day:%Y-%m-%d}"
        if today is not None and self.stop > today:
            stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
            label += f"-asof-{stamp}"
        return label


# parameters --------------------------------------------------------------------------------
def parse_settings(params: Mapping[str, Any]) -> IngestionSettings:
    """Validate ``<namespace>.ingestion`` parameters, with clear errors for bad values.

    Values may arrive as strings from ``kedro run --params``; they are coerced here.
    """
    p = dict(params)
    dataset = str(_required(p, "dataset"))
    source = str(p.get("source", "sample")).strip().lower()
    if source not in SOURCES:
        raise IngestionConfigError(
            f"{dataset}: unknown ingestion source {source!r}; use one of {', '.join(SOURCES)}"
        )
    mode = str(p.get("mode", "incremental")).strip().lower()
    if mode not in MODES:
        raise IngestionConfigError(
            f"{dataset}: unknown ingestion mode {mode!r}; use one of {', '.join(MODES)}"
        )
    start = _as_date(p.get("start"), f"{dataset}.ingestion.start")
    end = _as_date(p.get("end"), f"{dataset}.ingestion.end")
    if end < start:
        raise IngestionConfigError(f"{dataset}: end {end} is before start {start}")
    export_path = p.get("export_path")
    if source == "export" and not export_path:
        raise IngestionConfigError(
            f"{dataset}: source=export needs {dataset}.ingestion.export_path=<file.csv[.gz]>"
        )
    for old, new in (("date_field", "date_column"), ("required_fields", "required_columns")):
        if old in p:
            raise IngestionConfigError(
                f"{dataset}: ingestion parameter {old!r} is now {new!r}, given as the column's "
                f"display name (e.g. 'Created Date'): API field names come from the source"
            )
    required = _name_list(p.get("required_columns"))
    allowed_hosts = _name_list(p.get("allowed_hosts", ["data.cityofnewyork.us"]))
    initial = p.get("initial_watermark")
    try:
        max_field_chars = export_source.validate_max_field_chars(
            p.get("max_field_chars", export_source.DEFAULT_MAX_FIELD_CHARS)
        )
    except ValueError as exc:
        raise IngestionConfigError(f"{dataset}: {exc}") from None
    return IngestionSettings(
        dataset=dataset,
        source=source,
        mode=mode,
        start=start,
        end=end,
        base_url=str(p.get("base_url", "https://data.cityofnewyork.us")).rstrip("/"),
        allowed_hosts=allowed_hosts,
        allow_loopback_http=_flag(p.get("allow_loopback_http", False), "allow_loopback_http"),
        dataset_id=str(_required(p, "dataset_id")),
        date_column=str(_required(p, "date_column")),
        required_columns=required,
        page_size=_positive_int(p.get("page_size", 50_000), "page_size"),
        timeout_seconds=float(p.get("timeout_seconds", 60)),
        retry=RetryPolicy(
            max_attempts=_positive_int(p.get("max_attempts", 6), "max_attempts"),
            backoff_base_seconds=float(p.get("backoff_base_seconds", 1.0)),
            backoff_max_seconds=float(p.get("backoff_max_seconds", 60.0)),
            max_retry_after_seconds=float(p.get("max_retry_after_seconds", 300.0)),
        ),
        overlap_minutes=float(p.get("overlap_minutes", 60)),
        initial_watermark=parse_socrata_timestamp(str(initial)) if initial else None,
        initial_lookback_days=float(p.get("initial_lookback_days", 7)),
        export_path=str(export_path) if export_path else None,
        chunk_rows=_positive_int(p.get("chunk_rows", 50_000), "chunk_rows"),
        max_field_chars=max_field_chars,
        sample_scale=float(p.get("sample_scale", 1.0)),
        sample_seed=int(p["sample_seed"]) if p.get("sample_seed") is not None else None,
        progress_log_seconds=float(p.get("progress_log_seconds", 30)),
    )


def _name_list(value: Any) -> tuple[str, ...]:
    """A list parameter; from ``--params`` it arrives as one string, ``;``-separated."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(";")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "none", ""):
        return False
    raise IngestionConfigError(f"{name} must be true or false, got {value!r}")


def _required(params: Mapping[str, Any], key: str) -> Any:
    if params.get(key) in (None, ""):
        raise IngestionConfigError(f"ingestion parameter {key!r} is missing")
    return params[key]


def _positive_int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise IngestionConfigError(f"{name} must be a whole number, got {value!r}") from exc
    if number < 1:
        raise IngestionConfigError(f"{name} must be >= 1, got {number}")
    return number


def _as_date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError as exc:
        raise IngestionConfigError(f"{name} must be a date YYYY-MM-DD, got {value!r}") from exc


# pure helpers ------------------------------------------------------------------------------
def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def month_windows(start: date, end: date) -> list[MonthWindow]:
    """The calendar-month pieces of the inclusive range ``start..end``."""
    windows, cursor, stop = [], start, end + timedelta(days=1)
    while cursor < stop:
        boundary = min(_next_month(cursor), stop)
        windows.append(MonthWindow(cursor, boundary))
        cursor = boundary
    return windows


def date_range_where(field: str, start: date, stop: date) -> str:
    """SoQL for ``start <= field < stop`` on a floating timestamp column."""
    low = soql_timestamp(datetime(start.year, start.month, start.day))
    high = soql_timestamp(datetime(stop.year, stop.month, stop.day))
    return f"{field} >= '{low}' AND {field} < '{high}'"


def updated_since_where(since: datetime) -> str:
    """SoQL for records changed after ``since`` (``:updated_at`` is a UTC system timestamp)."""
    return f":updated_at > '{soql_timestamp(since)}'"


def latest_updated_at(table: pa.Table) -> datetime | None:
    """The newest ``_socrata_updated_at`` in a landing table (None when absent or empty)."""
    if SOCRATA_UPDATED_AT not in table.column_names:
        return None
    values = [v for v in table.column(SOCRATA_UPDATED_AT).to_pylist() if v]
    return max((parse_socrata_timestamp(v) for v in values), default=None)


def new_summary(settings: IngestionSettings) -> dict[str, Any]:
    return {
        "dataset": settings.dataset,
        "source": settings.source,
        "mode": settings.mode if settings.source == "socrata" else settings.source,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "batches_landed": [],
        "batches_skipped": [],
        "batches_empty": [],
        "rows_landed": 0,
    }


def _finish(summary: dict[str, Any], started: float) -> dict[str, Any]:
    summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    summary["duration_seconds"] = round(time.monotonic() - started, 3)
    summary["batches_landed_count"] = len(summary["batches_landed"])
    summary["batches_skipped_count"] = len(summary["batches_skipped"])
    logger.info(
        "%s: landed %d batch(es), %s rows; skipped %d batch(es) already landed",
        summary["dataset"],
        summary["batches_landed_count"],
        f"{summary['rows_landed']:,}",
        summary["batches_skipped_count"],
    )
    return summary


# the node ----------------------------------------------------------------------------------
def land_batches(
    zone: LandingZone, params: Mapping[str, Any], app_token: AppToken | None
) -> dict[str, Any]:
    """Land the configured source's records for one dataset; return a run summary.

    Args:
        zone: The landing zone (catalog entry ``landing.zone``).
        params: ``<namespace>.ingestion`` parameters.
        app_token: Optional Socrata app token (catalog entry ``socrata.app_token``), masked.

    Returns:
        A JSON-able summary: dataset, source, mode, batches landed/skipped, rows, watermark.
    """
    settings = parse_settings(params)
    if settings.source == "sample":
        summary = land_sample(zone, settings)
    elif settings.source == "export":
        summary = land_export(zone, settings)
    else:
        with make_client(settings, app_token) as client:
            plan = plan_source(zone, client, settings)
            if settings.mode == "backfill":
                summary = land_socrata_backfill(zone, client, settings, plan)
            else:
                summary = land_socrata_incremental(zone, client, settings, plan)
    zone.write_state(settings.dataset, LAST_RUN_STATE, summary)
    return summary


def make_client(
    settings: IngestionSettings,
    app_token: AppToken | None,
    sleep: Callable[[float], None] = time.sleep,
) -> SocrataClient:
    return SocrataClient(
        settings.base_url,
        settings.dataset_id,
        label=settings.dataset,
        app_token=app_token,
        page_size=settings.page_size,
        timeout_seconds=settings.timeout_seconds,
        retry=settings.retry,
        sleep=sleep,
        allowed_hosts=settings.allowed_hosts,
        allow_loopback_http=settings.allow_loopback_http,
    )


@dataclass(frozen=True)
class SourcePlan:
    """What a run reads from the API, resolved from the dataset's own column metadata."""

    columns: SourceColumns
    date_field: str  # API name of the date_column (backfill months are cut on it)

    def manifest(self) -> dict[str, Any]:
        return {"date_field": self.date_field, "source_columns": self.columns.to_manifest()}


def plan_source(
    zone: LandingZone, client: SocrataClient, settings: IngestionSettings
) -> SourcePlan:
    """Read the dataset's column metadata and resolve the columns this run needs.

    The client then requires the API names of ``required_columns`` on every record. A needed
    column that the metadata lacks stops the run before any data request, naming the column and
    the columns that exist. Changes since the last run are logged: a new column lands (bronze
    adds it), a dropped one lands as nulls.
    """
    columns = client.source_columns()
    date_field, *required = columns.fields([settings.date_column, *settings.required_columns])
    client.required_fields = tuple(required)
    previous = zone.read_state(settings.dataset, SOURCE_COLUMNS_STATE)
    if previous:
        before = {c.get("landing") for c in previous.get("columns", [])}
        now = {c.landing for c in columns.columns}
        if now - before:
            logger.warning(
                "%s: the source has new column(s), landed as received (bronze adds them): %s",
                settings.dataset,
                ", ".join(sorted(now - before)),
            )
        if before - now:
            logger.warning(
                "%s: column(s) gone from the source (landed as nulls from now on): %s",
                settings.dataset,
                ", ".join(sorted(c for c in before - now if c)),
            )
    missing = columns.missing_landing_columns(FIELDS_BY_DATASET.get(settings.dataset, ()))
    if missing:
        logger.info(
            "%s: %d known column(s) are not in the source's metadata (landed as nulls): %s",
            settings.dataset,
            len(missing),
            ", ".join(missing),
        )
    zone.write_state(
        settings.dataset,
        SOURCE_COLUMNS_STATE,
        {**columns.to_manifest(), "read_at": datetime.now(UTC).isoformat(timespec="seconds")},
    )
    logger.info(
        "%s: %d source column(s); %r is the API field %r",
        settings.dataset,
        len(columns.columns),
        settings.date_column,
        date_field,
    )
    return SourcePlan(columns=columns, date_field=date_field)


# sample ------------------------------------------------------------------------------------
def sample_tables(settings: IngestionSettings) -> Iterator[pa.Table]:
    """The bundled generator's tables, one per calendar month of ``start..end``.

    The whole window is generated in one call, because the generator treats ``end`` as the
    snapshot date (requests that close after it are still open): every 311 month depends on it,
    which is why the window is part of the sample's identity (:func:`_sample_identity`).
    """
    from nyc_lakehouse.sources import sample

    kwargs: dict[str, Any] = {}
    if settings.sample_seed is not None:
        kwargs["seed"] = settings.sample_seed
    if settings.dataset == "nyc311":
        return sample.generate_nyc311(
            settings.start, settings.end, scale=settings.sample_scale, **kwargs
        )
    if settings.dataset == "nyc911":
        return sample.generate_nyc911(settings.start, settings.end, **kwargs)
    raise IngestionConfigError(f"no sample generator for dataset {settings.dataset!r}")


def land_sample(
    zone: LandingZone,
    settings: IngestionSettings,
    generate: Callable[[IngestionSettings], Iterable[pa.Table]] = sample_tables,
) -> dict[str, Any]:
    """Land the bundled sample, one batch per month (``sample-YYYY-MM``); landed months are skipped.

    ``generate`` yields one table per calendar month of ``start..end``, in order.
    """
    started = time.monotonic()
    summary = new_summary(settings)
    windows = month_windows(settings.start, settings.end)
    batch_ids = [window.batch_id("sample") for window in windows]
    landed = {b for b in batch_ids if zone.has_batch(settings.dataset, b)}
    _check_landed_sample_matches(zone, settings)
    summary["batches_skipped"] = [b for b in batch_ids if b in landed]
    pending = len(batch_ids) - len(landed)
    if not pending:
        logger.info("%s: every sample month is landed already", settings.dataset)
        return _finish(summary, started)
    with Progress(
        f"{settings.dataset} sample",
        total_batches=pending,
        log_every_seconds=settings.progress_log_seconds,
    ) as progress:
        tables = iter(generate(settings))
        processed = 0
        for window, batch_id in zip(windows, batch_ids, strict=False):
            table = next(tables, None)
            if table is None:
                raise RuntimeError(
                    f"{settings.dataset}: the sample generator yielded no table for {window.start:%Y-%m}"
                )
            if batch_id in landed:
                continue
            processed += 1
            if table.num_rows == 0:
                summary["batches_empty"].append(batch_id)
            else:
                _land_sample_month(zone, settings, window, batch_id, table, summary)
            progress.advance(table.num_rows, batches=1)
            if processed == pending:
                break  # the remaining months are landed already: don't generate them
    return _finish(summary, started)


def _sample_identity(settings: IngestionSettings) -> dict[str, Any]:
    """What makes a sample month's content: its seed, for 311 its scale, and the window.

    The window's end is the generator's snapshot date (requests still open then), so every
    311 month depends on it; the start decides where the first month is cut. A lakehouse holds
    one sample: months of another window would mix snapshots or leave months outside it.
    """
    identity: dict[str, Any] = {"sample_seed": settings.sample_seed}
    if settings.dataset == "nyc311":
        identity["sample_scale"] = float(settings.sample_scale)
    identity["sample_start"] = settings.start.isoformat()
    identity["sample_end"] = settings.end.isoformat()
    return identity


def _check_landed_sample_matches(zone: LandingZone, settings: IngestionSettings) -> None:
    """Refuse to land next to sample months generated with another scale, seed or window.

    Months are skipped by batch id, so without this check a rerun with a new
    ``sample_scale`` would silently keep the old volume, and a rerun with a longer window would
    keep months generated for the old end next to new months generated for the new one: not
    what one run over the new window lands. Every sample batch of the dataset is checked, not
    only the months of this window, so a moved window is refused too. Batches landed before
    a key was recorded are not checked on that key.
    """
    wanted = _sample_identity(settings)
    for batch in zone.batches(settings.dataset):
        if batch.manifest.get("source") != "sample":
            continue
        differs = {
            key: batch.manifest[key]
            for key, value in wanted.items()
            if batch.manifest.get(key) is not None
            and value is not None
            and batch.manifest[key] != value
        }
        if not differs:
            continue
        window = {"sample_start", "sample_end"} & differs.keys()
        scalars = {k: v for k, v in differs.items() if k not in window}
        found, asked = [], []
        if window:
            manifest = batch.manifest
            found.append(f"window {manifest['sample_start']} to {manifest['sample_end']}")
            asked.append(f"window {wanted['sample_start']} to {wanted['sample_end']}")
        found += [f"{key}={value}" for key, value in scalars.items()]
        asked += [f"{key}={wanted[key]}" for key in scalars]
        why = ""
        if window:
            why = (
                " (the window's end is the sample's snapshot date: every month depends on it)"
                if settings.dataset == "nyc311"
                else " (a lakehouse holds the sample of one window)"
            )
        raise IngestionConfigError(
            f"{settings.dataset}: the landing zone already holds sample month "
            f"{batch.batch_id} generated with {', '.join(found)}, but this run asks for "
            f"{', '.join(asked)}{why}. Landed months are never regenerated: start from an empty "
            f"lakehouse (`make clean-data`, or NYC_LAKEHOUSE_DATA_ROOT=<another folder>) to "
            f"land the sample again."
        )


def _land_sample_month(
    zone: LandingZone,
    settings: IngestionSettings,
    window: MonthWindow,
    batch_id: str,
    table: pa.Table,
    summary: dict[str, Any],
) -> None:
    writer = zone.open_batch(settings.dataset, batch_id)
    writer.write(conform_to_landing_schema(table, settings.dataset))
    info = writer.commit(
        {
            "source": "sample",
            "mode": "sample",
            "window_start": window.start.isoformat(),
            "window_end": window.last_day.isoformat(),
            **_sample_identity(settings),
        }
    )
    summary["batches_landed"].append(batch_id)
    summary["rows_landed"] += info.rows


# socrata: backfill -------------------------------------------------------------------------
def land_socrata_backfill(
    zone: LandingZone,
    client: SocrataClient,
    settings: IngestionSettings,
    plan: SourcePlan,
    today: date | None = None,
) -> dict[str, Any]:
    """Land ``start..end`` from the API in month batches of the date field; resumable."""
    started = time.monotonic()
    summary = new_summary(settings)
    today = today or datetime.now(UTC).date()
    pending = []
    for window in month_windows(settings.start, settings.end):
        complete_id = window.batch_id("socrata")
        if window.stop <= today and zone.has_batch(settings.dataset, complete_id):
            summary["batches_skipped"].append(complete_id)
        else:
            pending.append(window)
    if not pending:
        logger.info("%s: every month of the backfill is landed already", settings.dataset)
        return _finish(summary, started)
    total = client.count(date_range_where(plan.date_field, pending[0].start, pending[-1].stop))
    with Progress(
        f"{settings.dataset} backfill",
        total=total,
        total_batches=len(pending),
        log_every_seconds=settings.progress_log_seconds,
    ) as progress:
        for window in pending:
            fetch_started = datetime.now(UTC)
            batch_id = window.batch_id("socrata", today=today, now=fetch_started)
            where = date_range_where(plan.date_field, window.start, window.stop)
            _remember_backfill_fetch(zone, settings.dataset, fetch_started, batch_id)
            info = _land_query(
                zone,
                client,
                settings,
                plan,
                batch_id,
                where,
                progress,
                extra={
                    "mode": "backfill",
                    "window_start": window.start.isoformat(),
                    "window_end": window.last_day.isoformat(),
                },
            )
            progress.advance(batches=1)
            if info is None:  # nothing in that month: no batch, and a later run asks again
                summary["batches_empty"].append(batch_id)
                continue
            summary["batches_landed"].append(batch_id)
            summary["rows_landed"] += info["rows"]
    return _finish(summary, started)


def _remember_backfill_fetch(
    zone: LandingZone, dataset: str, fetch_started: datetime, batch_id: str
) -> None:
    """Keep the earliest time any backfill started fetching (written *before* the fetch).

    An incremental run without a watermark starts there: every change made after the backfill
    fetched a month is then picked up, so backfill + incremental leave no gap. Recording it before
    the fetch errs on the safe side: a crash afterwards can only make that start earlier.
    """
    state = zone.read_state(dataset, BACKFILL_STATE) or {}
    earliest = state.get("earliest_fetch_started_at")
    if earliest and parse_socrata_timestamp(earliest) <= fetch_started:
        return
    value = fetch_started.isoformat(timespec="milliseconds")
    zone.write_state(
        dataset,
        BACKFILL_STATE,
        {"earliest_fetch_started_at": value, "first_batch_id": batch_id},
    )


# socrata: incremental ----------------------------------------------------------------------
def incremental_since(
    zone: LandingZone, settings: IngestionSettings, now: datetime | None = None
) -> tuple[datetime, str]:
    """Where an incremental run starts, and why (for the log and the manifest).

    The stored watermark minus the overlap; without one, ``initial_watermark``; else the
    earliest backfill fetch minus the overlap; else ``initial_lookback_days`` before now.
    """
    overlap = timedelta(minutes=settings.overlap_minutes)
    state = zone.read_state(settings.dataset, WATERMARK_STATE)
    if state and state.get("watermark"):
        return parse_socrata_timestamp(state["watermark"]) - overlap, "stored watermark - overlap"
    if settings.initial_watermark is not None:
        return settings.initial_watermark, "initial_watermark parameter"
    backfill = zone.read_state(settings.dataset, BACKFILL_STATE)
    if backfill and backfill.get("earliest_fetch_started_at"):
        return (
            parse_socrata_timestamp(backfill["earliest_fetch_started_at"]) - overlap,
            "earliest backfill fetch - overlap",
        )
    moment = (now or datetime.now(UTC)) - timedelta(days=settings.initial_lookback_days)
    return moment, f"no watermark yet: the last {settings.initial_lookback_days:g} days"


def land_socrata_incremental(
    zone: LandingZone, client: SocrataClient, settings: IngestionSettings, plan: SourcePlan
) -> dict[str, Any]:
    """Land every record changed since the watermark (minus overlap) as one batch.

    The watermark (newest ``:updated_at`` landed, see :func:`next_watermark`) is written only
    after the batch is committed.
    """
    started = time.monotonic()
    summary = new_summary(settings)
    since, reason = incremental_since(zone, settings)
    where = updated_since_where(since)
    logger.info(
        "%s: incremental from %s (%s)", settings.dataset, soql_timestamp(since) + "Z", reason
    )
    now = datetime.now(UTC)  # before the first request: the watermark never passes it
    expected = client.count(where)
    batch_id = f"socrata-updated-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with Progress(
        f"{settings.dataset} incremental",
        total=expected,
        total_batches=1,
        log_every_seconds=settings.progress_log_seconds,
    ) as progress:
        info = _land_query(
            zone,
            client,
            settings,
            plan,
            batch_id,
            where,
            progress,
            extra={"mode": "incremental", "updated_since": soql_timestamp(since)},
            expected_rows=expected,
        )
        progress.advance(batches=1 if info else 0)
    previous = zone.read_state(settings.dataset, WATERMARK_STATE)
    summary["watermark_before"] = (previous or {}).get("watermark")
    if info is None:
        summary["watermark"] = summary["watermark_before"]
        logger.info("%s: nothing changed since %s", settings.dataset, soql_timestamp(since))
        return _finish(summary, started)
    summary["batches_landed"].append(batch_id)
    summary["rows_landed"] += info["rows"]
    newest = next_watermark(info["watermark_max"], now)
    if newest and (
        not summary["watermark_before"]
        or parse_socrata_timestamp(newest) > parse_socrata_timestamp(summary["watermark_before"])
    ):
        zone.write_state(
            settings.dataset,
            WATERMARK_STATE,
            {"watermark": newest, "batch_id": batch_id, "written_at": now.isoformat()},
        )
        summary["watermark"] = newest
    else:
        summary["watermark"] = summary["watermark_before"]
    return _finish(summary, started)


def next_watermark(newest_landed: str | None, fetch_started: datetime) -> str | None:
    """The newest ``:updated_at`` landed, but never later than the moment the fetch started.

    Offset paging is not a snapshot: a record created or changed while the pages are read can
    shift the others or be missed, while records landed from later pages carry newer
    ``:updated_at`` values. Every such record changed after ``fetch_started``, so the next run
    (which starts from the watermark minus the overlap) fetches it.
    """
    if newest_landed is None:
        return None
    cap = fetch_started.astimezone(UTC)
    if parse_socrata_timestamp(newest_landed) <= cap:
        return newest_landed
    return _iso_z(cap)


# shared: one query -> one batch ------------------------------------------------------------
def _land_query(
    zone: LandingZone,
    client: SocrataClient,
    settings: IngestionSettings,
    plan: SourcePlan,
    batch_id: str,
    where: str,
    progress: Progress,
    extra: Mapping[str, Any],
    expected_rows: int | None = None,
) -> dict[str, Any] | None:
    """Page one query into one batch and commit it; None when the query matched nothing.

    Pages are written as part files as they arrive; only :meth:`BatchWriter.commit` makes them
    visible, so an error while paging leaves nothing landed.
    """
    if expected_rows is None:
        expected_rows = client.count(where)
    writer = None
    newest: datetime | None = None
    oldest: datetime | None = None
    seen: set[str] = set()
    repeated = 0
    for page in client.pages(where, expected_rows=expected_rows):
        # A record inserted while paging shifts later pages by one: the record at the page
        # boundary then comes twice. Land it once.
        records = []
        for record in page.records:
            if record[":id"] in seen:
                repeated += 1
            else:
                seen.add(record[":id"])
                records.append(record)
        if not records:
            continue
        table = records_to_landing_table(records, settings.dataset, plan.columns)
        writer = writer or zone.open_batch(settings.dataset, batch_id)
        writer.write(table)
        page_newest = latest_updated_at(table)
        if page_newest and (newest is None or page_newest > newest):
            newest = page_newest
        page_oldest = _earliest_updated_at(table)
        if page_oldest and (oldest is None or page_oldest < oldest):
            oldest = page_oldest
        progress.advance(table.num_rows)
    if writer is None:
        return None
    manifest = {
        "source": "socrata",
        **extra,
        "dataset_id": settings.dataset_id,
        "where": where,
        **plan.manifest(),
        "watermark_min": _iso_z(oldest),
        "watermark_max": _iso_z(newest),
        "repeated_records_dropped": repeated,
    }
    info = writer.commit(manifest)
    logger.info("%s: committed batch %s (%s rows)", settings.dataset, batch_id, f"{info.rows:,}")
    return {"rows": info.rows, "watermark_max": manifest["watermark_max"]}


def _earliest_updated_at(table: pa.Table) -> datetime | None:
    values = [v for v in table.column(SOCRATA_UPDATED_AT).to_pylist() if v]
    return min((parse_socrata_timestamp(v) for v in values), default=None)


def _iso_z(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


# export ------------------------------------------------------------------------------------
def land_export(zone: LandingZone, settings: IngestionSettings) -> dict[str, Any]:
    """Stream a bulk CSV export into one batch (skipped when this very file was landed).

    Bad rows go to the batch's quarantine file (``_rejected.csv``: line, end line, kind, reason,
    raw text) and keys found on several rows to ``_duplicate_keys.csv``, both next to the
    batch's part files and named in its manifest; bronze reads only the part files.
    """
    started = time.monotonic()
    summary = new_summary(settings)
    path = Path(str(settings.export_path)).expanduser()
    if not path.is_file():
        raise IngestionConfigError(f"{settings.dataset}: export file not found: {path}")
    batch_id = export_source.export_batch_id(path)
    summary["export_file"] = path.name
    if zone.has_batch(settings.dataset, batch_id):
        logger.info("%s: %s was imported already (batch %s)", settings.dataset, path, batch_id)
        summary["batches_skipped"].append(batch_id)
        return _finish(summary, started)
    header = export_source.read_export_header(path, settings.dataset)
    if header.unknown:
        logger.warning(
            "%s: %s has columns the dataset does not define (kept as received): %s",
            settings.dataset,
            path.name,
            ", ".join(header.unknown),
        )
    if header.missing:
        logger.info(
            "%s: %s lacks %d current column(s) (landed as nulls): %s",
            settings.dataset,
            path.name,
            len(header.missing),
            ", ".join(header.missing),
        )
    writer = zone.open_batch(settings.dataset, batch_id)
    side_files = {
        name: posixpath.join(writer.path, name)
        for name in (export_source.REJECTED_FILE, export_source.DUPLICATES_FILE)
    }
    for stale in side_files.values():  # left by a crashed attempt at this batch
        if zone.fs.exists(stale):
            zone.fs.rm(stale)
    rejected = export_source.RejectedRowsFile(
        lambda: zone.fs.open(side_files[export_source.REJECTED_FILE], "wb")
    )
    duplicates = export_source.DuplicateKeys(
        settings.dataset, partitions=export_source.spill_partitions(path)
    )
    duplicate_keys = export_source.DuplicateKeysFile(
        lambda: zone.fs.open(side_files[export_source.DUPLICATES_FILE], "wb")
    )
    stats = export_source.ExportStats()
    size = path.stat().st_size
    try:
        with Progress(
            f"{settings.dataset} export {path.name}",
            total=size,
            unit="bytes",
            total_batches=1,
            log_every_seconds=settings.progress_log_seconds,
        ) as progress:
            consumed = 0

            def on_chunk(rows: int, position: int) -> None:
                nonlocal consumed
                progress.advance(max(0, position - consumed), rows=rows)
                consumed = max(consumed, position)

            for table in export_source.read_export(
                path,
                settings.dataset,
                settings.chunk_rows,
                on_chunk=on_chunk,
                max_field_chars=settings.max_field_chars,
                on_reject=rejected,
                duplicates=duplicates,
                stats=stats,
            ):
                writer.write(table)
            rejected.close()
            for duplicate in duplicates.finish():
                duplicate_keys(duplicate)
            duplicate_keys.close()
            if writer.rows == 0:
                if rejected.rows:
                    first = "; ".join(f"line {r.line}: {r.reason}" for r in rejected.first)
                    raise export_source.ExportFormatError(
                        f"{path}: none of its {rejected.rows:,} row(s) could be landed, so "
                        f"nothing was (first: {first}); every one is in "
                        f"{zone.url(side_files[export_source.REJECTED_FILE])}"
                    )
                logger.warning(
                    "%s: %s has a header but no rows; nothing landed", settings.dataset, path
                )
                return _finish(summary, started)
            quarantine = {
                "max_field_chars": settings.max_field_chars,
                "rejected_rows": rejected.rows,
                "rejected_by_kind": dict(sorted(rejected.by_kind.items())),
                "rejected_file": export_source.REJECTED_FILE if rejected.rows else None,
                "duplicate_keys_conflicting": duplicates.keys_conflicting,
                "duplicate_rows_identical": duplicates.rows_identical,
                "duplicate_keys_file": (
                    export_source.DUPLICATES_FILE if duplicate_keys.rows else None
                ),
            }
            info = writer.commit(
                {
                    "source": "export",
                    "mode": "export",
                    "export_file": path.name,
                    "export_bytes": size,
                    "header_style": header.style,
                    "export_columns": len(header.columns),
                    **quarantine,
                }
            )
            progress.advance(batches=1)
    finally:
        rejected.close()
        duplicates.close()
        duplicate_keys.close()
    _log_export_findings(settings.dataset, path, stats, quarantine, zone, side_files)
    summary["batches_landed"].append(batch_id)
    summary["rows_landed"] = info.rows
    summary["rows_rejected"] = rejected.rows
    summary["duplicate_keys_conflicting"] = duplicates.keys_conflicting
    summary["duplicate_rows_identical"] = duplicates.rows_identical
    if rejected.rows:
        summary["rejected_file"] = zone.url(side_files[export_source.REJECTED_FILE])
    return _finish(summary, started)


def _log_export_findings(
    dataset: str,
    path: Path,
    stats: export_source.ExportStats,
    quarantine: Mapping[str, Any],
    zone: LandingZone,
    side_files: Mapping[str, str],
) -> None:
    """Warn about what an import set aside or could not resolve, pointing at the files."""
    if quarantine["rejected_rows"]:
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in quarantine["rejected_by_kind"].items())
        logger.warning(
            "%s: %s row(s) of %s were not landed (%s); each is in %s with its line, reason and "
            "raw text: fix them and import them as a new file",
            dataset,
            f"{quarantine['rejected_rows']:,}",
            path.name,
            kinds,
            zone.url(side_files[export_source.REJECTED_FILE]),
        )
    duplicates_file = zone.url(side_files[export_source.DUPLICATES_FILE])
    if quarantine["duplicate_keys_conflicting"]:
        logger.warning(
            "%s: %s key(s) with different content on several rows of %s; exports carry no "
            ":updated_at to order them, so silver keeps one version of each: keys and lines "
            "in %s",
            dataset,
            f"{quarantine['duplicate_keys_conflicting']:,}",
            path.name,
            duplicates_file,
        )
    if quarantine["duplicate_rows_identical"]:
        logger.info(
            "%s: %s row(s) of %s repeat an earlier row exactly (silver keeps one): see %s",
            dataset,
            f"{quarantine['duplicate_rows_identical']:,}",
            path.name,
            duplicates_file,
        )
    if not stats.ends_with_newline:
        logger.warning(
            "%s: %s does not end with a line end; if it was downloaded, check it is complete",
            dataset,
            path.name,
        )
