"""The landing zone: date-partitioned Parquet batches, committed atomically by a manifest.

Layout (``root`` is ``data/landing`` locally, ``s3://<bucket>/landing`` on Databricks)::

    <root>/<dataset>/ingest_date=YYYY-MM-DD/batch_id=<batch_id>/part-<attempt>-00000.parquet
    <root>/<dataset>/ingest_date=YYYY-MM-DD/batch_id=<batch_id>/_manifest.json   <- written last
    <root>/<dataset>/_state/<name>.json                                           <- e.g. watermark

A batch exists only once its ``_manifest.json`` exists, and only the files the manifest lists
belong to it. Part files carry a per-attempt id, so a crashed attempt leaves orphans that no
reader sees and a rerun never mixes with them. This works the same on object stores, which have
no atomic rename. Every column is a string, named as the Socrata API names it
(:mod:`nyc_lakehouse.sources.schemas`); absent keys are nulls.

Readers trust a manifest only once :func:`validate_manifest` accepts it: whoever can write the
landing zone must not be able to make bronze link or copy a file from elsewhere (``../`` or an
absolute path in ``files``, a symlink in the batch folder), nor pass a batch off under another
batch's id or date. A refused manifest stops the reader with a message that names the rule and
the batch folder, never the other path or whether it exists (docs/security.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from nyc_lakehouse.sources.schemas import FIELDS_BY_DATASET, landing_column_name

MANIFEST = "_manifest.json"
LANDING_FORMAT_VERSION = 1
CHECKSUM_ALGORITHM = "sha256"
PART_FILE_NAME = re.compile(r"part-[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.parquet")
"""The only file names a manifest may list: what :class:`BatchWriter` writes, never a path."""
_CHECKSUM = re.compile(rf"{CHECKSUM_ALGORITHM}:[0-9a-f]{{64}}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BATCH_FOLDER = re.compile(r"ingest_date=([^/]+)/batch_id=([^/]+)/" + re.escape(MANIFEST))


class LandingManifestError(ValueError):
    """A batch manifest that readers refuse: it names the rule broken, not the paths involved."""


def validate_manifest(
    manifest: Any, dataset: str, ingest_date: str, batch_id: str
) -> tuple[str, ...]:
    """Check a manifest against the folder it was found in; return its file names.

    The schema (types and required keys), ``dataset``, ``batch_id`` and ``ingest_date`` equal to
    the folder's, ``files`` plain part-file names (:data:`PART_FILE_NAME`, no duplicates),
    ``checksums`` only for listed files and in ``sha256:<hex>`` form, ``rows`` a count.
    Raises :class:`LandingManifestError` naming the rule; values are never echoed.
    """
    if not isinstance(manifest, dict):
        raise LandingManifestError("the manifest is not a JSON object")
    required = {"format_version": int, "dataset": str, "batch_id": str, "ingest_date": str}
    required |= {"files": list, "rows": int}
    for key, kind in required.items():
        value = manifest.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise LandingManifestError(f"'{key}' is missing or not a {kind.__name__}")
    if not 1 <= manifest["format_version"] <= LANDING_FORMAT_VERSION:
        raise LandingManifestError("'format_version' is not one this reader knows")
    if manifest["dataset"] != dataset:
        raise LandingManifestError("'dataset' is not the dataset the batch folder belongs to")
    if manifest["batch_id"] != batch_id:
        raise LandingManifestError("'batch_id' differs from the batch folder's batch_id=")
    if manifest["ingest_date"] != ingest_date or not _ISO_DATE.fullmatch(ingest_date):
        raise LandingManifestError("'ingest_date' differs from the folder's ingest_date=")
    if manifest["rows"] < 0:
        raise LandingManifestError("'rows' is negative")
    files = manifest["files"]
    for position, name in enumerate(files):
        if not isinstance(name, str) or not PART_FILE_NAME.fullmatch(name):
            raise LandingManifestError(
                f"files[{position}] is not a plain part file name (part-<id>.parquet)"
            )
    if len(set(files)) != len(files):
        raise LandingManifestError("'files' lists a file twice")
    checksums = manifest.get("checksums", {})
    if not isinstance(checksums, dict):
        raise LandingManifestError("'checksums' is not an object")
    for name, checksum in checksums.items():
        if name not in files or not isinstance(checksum, str) or not _CHECKSUM.fullmatch(checksum):
            raise LandingManifestError(
                f"'checksums' holds an entry that is not a listed file's {CHECKSUM_ALGORITHM}"
            )
    return tuple(files)


def file_checksum(fs: fsspec.AbstractFileSystem, path: str, chunk_size: int = 1 << 20) -> str:
    """``sha256:<hex>`` of a file's bytes, read in chunks (as the manifest records it)."""
    digest = hashlib.new(CHECKSUM_ALGORITHM)
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return f"{CHECKSUM_ALGORITHM}:{digest.hexdigest()}"


@dataclass(frozen=True)
class BatchInfo:
    """A committed landing batch, as described by its manifest."""

    dataset: str
    batch_id: str
    ingest_date: str
    path: str
    files: tuple[str, ...]
    rows: int
    manifest: Mapping[str, Any] = field(default_factory=dict)


def records_to_table(records: Sequence[Mapping[str, Any]], dataset: str) -> pa.Table:
    """Turn API records (dicts of strings, nested objects allowed) into an all-string Arrow table.

    Column order: the dataset's known fields first, then any other key in sorted order, so a new
    source column survives (bronze adds it by schema evolution). Nested values (``location``)
    are stored as compact JSON text; absent keys become nulls.
    """
    known = FIELDS_BY_DATASET.get(dataset, ())
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(landing_column_name(key), None)
    extra = sorted(k for k in seen if k not in known)
    columns = [k for k in known if k in seen] + extra
    data: dict[str, list[str | None]] = {c: [] for c in columns}
    for record in records:
        renamed = {landing_column_name(k): v for k, v in record.items()}
        for column in columns:
            data[column].append(_as_text(renamed.get(column)))
    return pa.table({c: pa.array(v, type=pa.string()) for c, v in data.items()})


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


class LandingZone:
    """Reads and writes landing batches under ``root`` (a local path or an fsspec URL)."""

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.root = root.rstrip("/")
        self.fs, self._root_path = fsspec.core.url_to_fs(self.root, **(storage_options or {}))
        self._protocol = "" if "://" not in self.root else self.root.split("://", 1)[0] + "://"

    def __repr__(self) -> str:
        return f"LandingZone({self.root!r})"

    # paths ---------------------------------------------------------------------------------
    def dataset_path(self, dataset: str) -> str:
        return posixpath.join(self._root_path, dataset)

    def batch_path(self, dataset: str, batch_id: str, ingest_date: str) -> str:
        return posixpath.join(
            self.dataset_path(dataset), f"ingest_date={ingest_date}", f"batch_id={batch_id}"
        )

    def url(self, path: str) -> str:
        """A path as a URL Spark or pyarrow can open (``s3://...`` or an absolute local path)."""
        if self._protocol:
            return self._protocol + path.split("://", 1)[-1]
        return path

    # writing -------------------------------------------------------------------------------
    def open_batch(
        self, dataset: str, batch_id: str, ingest_date: date | str | None = None
    ) -> BatchWriter:
        """Start writing a batch; nothing is visible until :meth:`BatchWriter.commit`."""
        if "/" in batch_id or "=" in batch_id:
            raise ValueError(f"batch_id must not contain '/' or '=': {batch_id!r}")
        day = str(ingest_date or datetime.now(UTC).date())
        return BatchWriter(self, dataset, batch_id, day)

    def write_batch(
        self,
        dataset: str,
        batch_id: str,
        tables: Iterable[pa.Table],
        manifest_extra: Mapping[str, Any] | None = None,
        ingest_date: date | str | None = None,
    ) -> BatchInfo:
        """Write and commit a whole batch from an iterable of Arrow tables."""
        writer = self.open_batch(dataset, batch_id, ingest_date)
        for table in tables:
            writer.write(table)
        return writer.commit(manifest_extra)

    # reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Forget cached directory listings, so batches committed by other processes show up.

        fsspec object stores (s3fs) cache listings per filesystem instance without expiry, and
        instances are shared per process: a long-lived process (notebook, a run landing and then
        reading) would otherwise never see a batch committed elsewhere after its first listing.
        """
        self.fs.invalidate_cache()

    def batches(self, dataset: str) -> list[BatchInfo]:
        """Committed batches of a dataset, oldest first (by manifest commit time, then id).

        Every manifest is validated first (:func:`validate_manifest`, :meth:`_check_inside`);
        one that is refused raises :class:`LandingManifestError`, so nothing is read from it.
        """
        self.refresh()
        dataset_dir = self.dataset_path(dataset)
        pattern = posixpath.join(dataset_dir, "ingest_date=*", "batch_id=*", MANIFEST)
        infos = []
        for manifest_path in self.fs.glob(pattern):
            relative = posixpath.relpath(self._strip(manifest_path), dataset_dir)
            folder = _BATCH_FOLDER.fullmatch(relative)
            batch_dir = posixpath.dirname(manifest_path)
            try:
                if folder is None:
                    raise LandingManifestError("the batch folder is not ingest_date=*/batch_id=*")
                self._check_inside(dataset_dir, batch_dir, [MANIFEST])
                with self.fs.open(manifest_path, "r") as handle:
                    try:
                        manifest = json.load(handle)
                    except ValueError:
                        raise LandingManifestError("the manifest is not valid JSON") from None
                files = validate_manifest(manifest, dataset, *folder.groups())
                self._check_inside(dataset_dir, batch_dir, files)
            except LandingManifestError as exc:
                raise LandingManifestError(
                    f"Refused the landing manifest {dataset}/{relative}: {exc}. Nothing was read "
                    "from this batch; re-land it, or remove it if nobody should have written it."
                ) from None
            infos.append(
                BatchInfo(
                    dataset=dataset,
                    batch_id=manifest["batch_id"],
                    ingest_date=manifest["ingest_date"],
                    path=self.url(batch_dir),
                    files=tuple(self.url(posixpath.join(batch_dir, f)) for f in files),
                    rows=int(manifest["rows"]),
                    manifest=manifest,
                )
            )
        return sorted(infos, key=lambda b: (b.manifest.get("committed_at", ""), b.batch_id))

    def _check_inside(self, dataset_dir: str, batch_dir: str, names: Sequence[str]) -> None:
        """On a local file system (a /Volumes mount included), each named file must resolve to
        itself in its batch folder: no symlink anywhere below the dataset's folder, as one
        would let bronze link or copy a file from elsewhere. Object stores have no links."""
        if not isinstance(self.fs, LocalFileSystem):
            return
        root = os.path.realpath(dataset_dir)
        expected_dir = os.path.join(root, os.path.relpath(batch_dir, dataset_dir))
        for position, name in enumerate(names):
            path = os.path.join(batch_dir, name)
            if os.path.realpath(path) != os.path.join(expected_dir, name):
                what = "the manifest" if name == MANIFEST else f"files[{position}]"
                raise LandingManifestError(f"{what} resolves outside its batch folder")

    def has_batch(self, dataset: str, batch_id: str) -> bool:
        self.refresh()
        pattern = posixpath.join(
            self.dataset_path(dataset), "ingest_date=*", f"batch_id={batch_id}", MANIFEST
        )
        return bool(self.fs.glob(pattern))

    def read_batch(self, batch: BatchInfo) -> pa.Table:
        """A whole batch as Arrow (for small batches and tests; bronze reads with Spark)."""
        tables = [
            pq.read_table(f, filesystem=self.fs if self._protocol else None)
            for f in (self._strip(f) for f in batch.files)
        ]
        return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})

    def _strip(self, url: str) -> str:
        return url.split("://", 1)[-1] if self._protocol else url

    # state (watermarks, progress) ----------------------------------------------------------
    def read_state(self, dataset: str, name: str) -> dict[str, Any] | None:
        path = posixpath.join(self.dataset_path(dataset), "_state", f"{name}.json")
        self.refresh()
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "r") as handle:
            return json.load(handle)

    def write_state(self, dataset: str, name: str, state: Mapping[str, Any]) -> None:
        """Replace a state document; readers see the old or the new one, never a partial one."""
        folder = posixpath.join(self.dataset_path(dataset), "_state")
        self.fs.makedirs(folder, exist_ok=True)
        final = posixpath.join(folder, f"{name}.json")
        payload = json.dumps(dict(state), indent=2, sort_keys=True, default=str)
        if self._protocol:  # object stores: a single PUT is atomic
            with self.fs.open(final, "w") as handle:
                handle.write(payload)
            return
        tmp = posixpath.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        with self.fs.open(tmp, "w") as handle:
            handle.write(payload)
        self.fs.mv(tmp, final)


class BatchWriter:
    """Writes the part files of one batch; :meth:`commit` makes them visible all at once."""

    def __init__(self, zone: LandingZone, dataset: str, batch_id: str, ingest_date: str) -> None:
        self.zone, self.dataset, self.batch_id, self.ingest_date = (
            zone,
            dataset,
            batch_id,
            ingest_date,
        )
        self.path = zone.batch_path(dataset, batch_id, ingest_date)
        self.attempt = uuid.uuid4().hex[:12]
        self.files: list[str] = []
        self.checksums: dict[str, str] = {}
        self.rows = 0
        zone.fs.makedirs(self.path, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        """Write one part file (skipped when empty)."""
        if table.num_rows == 0:
            return
        name = f"part-{self.attempt}-{len(self.files):05d}.parquet"
        # Serialized first so that the manifest can record the bytes' checksum: bronze then
        # verifies a file by hashing it instead of decoding every page (see bronze's verify).
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer, compression="zstd")
        data = buffer.getvalue()
        with self.zone.fs.open(posixpath.join(self.path, name), "wb") as handle:
            handle.write(data)
        digest = hashlib.new(CHECKSUM_ALGORITHM, memoryview(data)).hexdigest()
        self.checksums[name] = f"{CHECKSUM_ALGORITHM}:{digest}"
        self.files.append(name)
        self.rows += table.num_rows

    def commit(self, manifest_extra: Mapping[str, Any] | None = None) -> BatchInfo:
        """Write the manifest (the commit point), then remove orphans of earlier attempts."""
        fs = self.zone.fs
        manifest = {
            "format_version": LANDING_FORMAT_VERSION,
            "dataset": self.dataset,
            "batch_id": self.batch_id,
            "ingest_date": self.ingest_date,
            "files": self.files,
            "checksums": self.checksums,
            "rows": self.rows,
            "committed_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            **dict(manifest_extra or {}),
        }
        # Never commit what readers would refuse (e.g. an extra key overriding a checked one).
        validate_manifest(manifest, self.dataset, self.ingest_date, self.batch_id)
        payload = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        final = posixpath.join(self.path, MANIFEST)
        if self.zone._protocol:
            with fs.open(final, "w") as handle:
                handle.write(payload)
        else:
            tmp = posixpath.join(self.path, f".manifest.{self.attempt}.tmp")
            with fs.open(tmp, "w") as handle:
                handle.write(payload)
            fs.mv(tmp, final)
        for stale in fs.ls(self.path, detail=False):
            if (
                posixpath.basename(stale).startswith("part-")
                and posixpath.basename(stale) not in self.files
            ):
                fs.rm(stale)
        return BatchInfo(
            dataset=self.dataset,
            batch_id=self.batch_id,
            ingest_date=self.ingest_date,
            path=self.zone.url(self.path),
            files=tuple(self.zone.url(posixpath.join(self.path, f)) for f in self.files),
            rows=self.rows,
            manifest=manifest,
        )
