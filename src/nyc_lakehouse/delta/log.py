"""What a Delta table's commits changed: the partitions their data files came from or went to.

Read from the commit files of the transaction log (``_delta_log/<version>.json``), local tables
only. An answer is ``None`` whenever the log cannot say for sure: a commit file is gone (log
retention cleaned it up), a commit partitioned the table by other columns, a file names no
value for the column, or the table is not a local path. (A schema change alone moves no row:
Sail's writer restates the metadata on every commit.) The caller then reads the
whole table instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from nyc_lakehouse.delta.table import Table

# How Hive-style paths spell a null partition value.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def changed_partitions(
    table: Table, column: str, since_version: int, until_version: int
) -> set[str | None] | None:
    """Values of partition ``column`` whose files commits ``since_version + 1`` to
    ``until_version`` (both included) added or removed; ``None`` when the log cannot tell."""
    if not table.address.is_local_path or table.address.path is None:
        return None
    if since_version > until_version:
        return None
    log = Path(table.address.path) / "_delta_log"
    changed: set[str | None] = set()
    for version in range(since_version + 1, until_version + 1):
        commit = log / f"{version:020d}.json"
        if not commit.is_file():
            return None
        for action in _actions(commit):
            metadata = action.get("metaData")
            if metadata is not None and column not in (metadata.get("partitionColumns") or []):
                return None
            data_file = action.get("add") or action.get("remove")
            if data_file is None:
                continue
            value = _partition_value(data_file, column)
            if value is _UNKNOWN:
                return None
            changed.add(value)  # type: ignore[arg-type]
    return changed


_UNKNOWN = object()


def _actions(commit: Path) -> Iterator[dict[str, Any]]:
    with commit.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _partition_value(data_file: dict[str, Any], column: str) -> object:
    """The file's value of ``column`` from its ``partitionValues`` or, when a remove action
    omits them (they are optional there), from its Hive-style path."""
    values = data_file.get("partitionValues")
    if values is not None and column in values:
        value = values[column]
        return None if value in (None, "") else value
    prefix = f"{column}="
    for part in unquote(str(data_file.get("path", ""))).split("/")[:-1]:
        if part.startswith(prefix):
            value = part[len(prefix) :]
            return None if value in ("", NULL_PARTITION) else value
    return _UNKNOWN
