"""Make the project wheel installable on a Databricks cluster: it declares no dependency.

The project depends on ``pysail`` (the embedded engine), ``pyspark`` (full Spark, whose Spark
Connect client also talks to Sail) and ``delta-spark`` (Delta's Python API, for the ``jvm``
engine). A Databricks runtime ships its own ``pyspark`` and Delta; installing PyPI's over them
would shadow the runtime's and break the session (and ``pysail`` is never used there); kedro-viz
is a tool for people, never used by a job. :data:`DATABRICKS_DROPPED_REQUIREMENTS` lists them.

The job clusters install every other dependency from ``requirements-databricks.txt``, exported
from ``uv.lock`` with hashes and without the dropped ones
(:mod:`nyc_lakehouse.deploy.requirements`). The wheel must then declare nothing: with its open
ranges (``pyarrow>=17``) pip would fetch whatever PyPI serves, unverified, should the cluster
install the wheel before the requirements file. So the bundle builds the normal wheel and runs::

    python -m nyc_lakehouse.deploy.wheel dist/

which removes every ``Requires-Dist`` line from the wheel's METADATA and updates its RECORD
(hash and size), leaving every other file byte for byte. :func:`strip_wheel` can also drop only
named projects. The code imports ``pysail`` only in ``sail`` mode, which a job never uses.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import sys
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

LOCAL_ENGINE_REQUIREMENTS = ("pysail",)
"""Needed only to run the project off Databricks."""
RUNTIME_PROVIDED_REQUIREMENTS = ("pyspark", "pyspark-client", "delta-spark")
"""Provided by the Databricks runtime: PyPI's copies would shadow its own."""
DEVELOPMENT_ONLY_REQUIREMENTS = ("kedro-viz",)
"""Tools for a person at a laptop, never used by a job: less code installed next to the token."""
DATABRICKS_DROPPED_REQUIREMENTS = (
    LOCAL_ENGINE_REQUIREMENTS + RUNTIME_PROVIDED_REQUIREMENTS + DEVELOPMENT_ONLY_REQUIREMENTS
)


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requires_dist: str) -> str:
    """The project name of a ``Requires-Dist`` value (``pysail==0.7.2; extra == "x"`` -> ``pysail``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requires_dist)
    if not match:
        raise ValueError(f"Unparseable Requires-Dist: {requires_dist!r}")
    return normalize_name(match.group(1))


def strip_metadata(metadata: str, drop: Iterable[str] | None) -> tuple[str, list[str]]:
    """Remove the ``Requires-Dist`` lines of the given projects (``None``: every one); return
    the new text and the removed lines."""
    dropped = None if drop is None else {normalize_name(d) for d in drop}
    kept, removed = [], []
    for line in metadata.splitlines(keepends=True):
        if line.startswith("Requires-Dist:"):
            value = line.split(":", 1)[1]
            if dropped is None or requirement_name(value) in dropped:
                removed.append(line.strip())
                continue
        kept.append(line)
    return "".join(kept), removed


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def strip_wheel(
    wheel: Path, drop: Iterable[str] | None = DATABRICKS_DROPPED_REQUIREMENTS
) -> list[str]:
    """Rewrite ``wheel`` in place without the given requirements (``None``: all of them);
    return the removed lines.

    Idempotent: a wheel already stripped is left untouched (an empty list is returned).
    """
    with zipfile.ZipFile(wheel) as source:
        infos = source.infolist()
        contents = {info.filename: source.read(info.filename) for info in infos}
    metadata_name = _single(n for n in contents if n.endswith(".dist-info/METADATA"))
    record_name = _single(n for n in contents if n.endswith(".dist-info/RECORD"))
    new_metadata, removed = strip_metadata(contents[metadata_name].decode("utf-8"), drop)
    if not removed:
        return []
    contents[metadata_name] = new_metadata.encode("utf-8")
    contents[record_name] = _rewrite_record(
        contents[record_name].decode("utf-8"), metadata_name, contents[metadata_name]
    )
    tmp = wheel.with_name(wheel.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in infos:  # same order, so RECORD stays last
            target.writestr(info, contents[info.filename])
    tmp.replace(wheel)
    return removed


def _rewrite_record(record: str, metadata_name: str, metadata: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(record)))
    for row in rows:
        if row and row[0] == metadata_name:
            row[1:3] = [_record_hash(metadata), str(len(metadata))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _single(names: Iterable[str]) -> str:
    found = list(names)
    if len(found) != 1:
        raise ValueError(f"Expected exactly one match in the wheel, found {found}")
    return found[0]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nyc_lakehouse.deploy.wheel <dist dir or .whl files>``."""
    args = list(sys.argv[1:] if argv is None else argv) or ["dist"]
    wheels: list[Path] = []
    for arg in args:
        path = Path(arg)
        wheels.extend(sorted(path.glob("*.whl")) if path.is_dir() else [path])
    if not wheels:
        print(f"No wheel found in {' '.join(args)}: build it first (uv build --wheel).")
        return 1
    for wheel in wheels:
        removed = strip_wheel(wheel, drop=None)  # requirements-databricks.txt installs them
        print(
            f"{wheel.name}: removed {', '.join(removed) if removed else 'nothing (already clean)'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
