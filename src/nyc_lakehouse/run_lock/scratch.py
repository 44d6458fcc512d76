"""Scratch tables per run: ``silver.nyc311_increment`` is ``silver.nyc311_increment__run_<id>``
inside a Kedro run, so two runs never write (or read) each other's.

The catalog names a scratch table with the ``scratch_table`` resolver
(``table: ${scratch_table:silver.nyc311_increment}``). A Kedro session of this project gives
itself a new id when its context is created (:class:`nyc_lakehouse.hooks.RunLockHooks`); the
resolver appends it. Outside a session (a catalog built from the configuration, as the unit
tests build it) there is no id and the plain name is used.

A run drops its scratch tables when it succeeds. A failed run leaves them for inspection, and
the next run that holds the lock on them drops them (and the plain-named table of the
projects before scratch tables were per run).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING

from nyc_lakehouse.delta import TableAddress, resolve_address

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

SEPARATOR = "__run_"
_token: str | None = None


def new_token(now: dt.datetime | None = None) -> str:
    """A run's id as a table name suffix: lower case letters, digits and ``_`` only (Unity
    Catalog folds names to lower case)."""
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dt%H%M%S")
    return f"{stamp}_{os.getpid()}_{secrets.token_hex(3)}"


def set_token(token: str | None) -> None:
    """The id the ``scratch_table`` resolver appends from now on (``None``: plain names)."""
    global _token  # noqa: PLW0603 - the resolver has no other way to see the session
    _token = token


def current_token() -> str | None:
    return _token


def scratch_table(name: str) -> str:
    """The ``scratch_table`` resolver: ``<schema>.<name>`` of the current run's scratch table."""
    return name if _token is None else f"{name}{SEPARATOR}{_token}"


def base_name(name: str) -> str | None:
    """``silver.t__run_x`` -> ``silver.t``; ``None`` for a name that is no run's scratch table."""
    base, separator, token = name.partition(SEPARATOR)
    return base if separator and token else None


def _schema_and_table(name: str) -> tuple[str, str]:
    schema, _, table = name.partition(".")
    return schema, table


def tables_of(base: str, root: str, spark: Callable[[], SparkSession]) -> list[TableAddress]:
    """Every table of a scratch family: ``base`` itself and each run's ``base__run_<id>``."""
    schema, table = _schema_and_table(base)
    probe = resolve_address(f"{schema}.{table}", root, None)
    if probe.catalog_name is not None:
        catalog = probe.catalog_name.split(".")[0]
        rows = spark().sql(f"SHOW TABLES IN `{catalog}`.`{schema}`").collect()
        names = [row["tableName"] for row in rows]
    else:
        folder = os.path.dirname(str(probe.path))
        names = _list_folder(folder)
    members = [n for n in names if n == table or n.startswith(table + SEPARATOR)]
    return [resolve_address(f"{schema}.{n}", root, None) for n in sorted(members)]


def _list_folder(folder: str) -> list[str]:
    if "://" not in folder:
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    import fsspec

    fs, path = fsspec.core.url_to_fs(folder)
    if not fs.exists(path):
        return []
    return sorted(os.path.basename(p.rstrip("/")) for p in fs.ls(path, detail=False))


def drop(address: TableAddress, spark: Callable[[], SparkSession]) -> None:
    """Delete a scratch table (its files with it)."""
    if address.catalog_name is not None:
        spark().sql(f"DROP TABLE IF EXISTS {address.sql_identifier()}").collect()
        return
    path = str(address.path)
    if "://" not in path:
        shutil.rmtree(path, ignore_errors=True)
        return
    import fsspec

    fs, inner = fsspec.core.url_to_fs(path)
    if fs.exists(inner):
        fs.rm(inner, recursive=True)


def drop_leftovers(
    bases: list[str], root: str, keep: str | None, spark: Callable[[], SparkSession]
) -> list[str]:
    """Drop the scratch tables of ``bases`` that earlier runs left (not the ``keep`` run's)."""
    dropped = []
    for base in bases:
        for address in tables_of(base, root, spark):
            if keep is not None and address.name.endswith(SEPARATOR + keep):
                continue
            drop(address, spark)
            dropped.append(address.name)
    if dropped:
        logger.info("Run lock: dropped scratch tables earlier runs left: %s", ", ".join(dropped))
    return dropped
