"""A Delta catalog entry's arguments, validated once, at construction.

An unknown key, a key the mode does not use, a wrong type or two keys that contradict each
other fail when the catalog builds the dataset (``kedro run`` names the entry), not halfway
through a run. The result is the plain library specs (:mod:`nyc_lakehouse.delta.spec`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kedro.io.core import DatasetError

from nyc_lakehouse.delta import DeltaTableError, TableAddress, resolve_address
from nyc_lakehouse.delta.spec import (
    MERGE_WRITERS,
    FileSplit,
    FirstLoadLayout,
    RowIdentitySpec,
    UpsertSpec,
    WriteSpec,
)

SAVE_MODES = ("overwrite", "append", "replace_where", "overwrite_partitions", "upsert")
# save_args every mode takes, then the ones only some modes use
COMMON_KEYS = ("mode", "partition_by", "merge_schema", "options", "add_row_id", "add_row_hash")
MODE_KEYS = {
    "overwrite": ("overwrite_schema", "first_load_of"),
    "append": ("link_files",),
    "replace_where": ("predicate",),
    "overwrite_partitions": (),
    "upsert": (
        "keys",
        "sequence_column",
        "tiebreak_columns",
        "merge_engine",
        "stage_source",
        "create_via_parquet",
        "file_split",
        "adopt_first_load_from",
    ),
}
LOAD_KEYS = ("version", "timestamp", "options")
_FIRST_LOAD_KEYS = ("table", "keys", "partition_by", "pending_when", "file_split")


@dataclass(frozen=True)
class DeltaTableConfig:
    """Everything a :class:`~nyc_lakehouse.datasets.DeltaTableDataset` does, decided up front."""

    address: TableAddress
    mode: str
    write: WriteSpec
    identity: RowIdentitySpec
    upsert: UpsertSpec | None = None
    predicate: str | None = None
    link_files: bool = False
    first_load_of: FirstLoadLayout | None = None
    version: int | None = None
    timestamp: Any = None
    read_options: Mapping[str, str] | None = None

    @classmethod
    def from_args(  # noqa: PLR0913 - the catalog entry's arguments
        cls,
        table: str | None,
        root: str | None,
        path: str | None,
        load_args: Mapping[str, Any],
        save_args: Mapping[str, Any],
        replace_on_upsert: bool = False,
    ) -> DeltaTableConfig:
        try:
            address = resolve_address(table, root, path)
        except DeltaTableError as exc:
            raise DatasetError(str(exc)) from exc
        return _Parser(address, root, dict(load_args), dict(save_args)).parse(replace_on_upsert)


class _Parser:
    """Reads one entry's arguments; every message names the table and the key."""

    def __init__(self, address: TableAddress, root: str | None, load: dict, save: dict) -> None:
        self.address, self.root, self.load, self.save = address, root, load, save

    def fail(self, message: str) -> DatasetError:
        return DatasetError(f"{self.address.name}: {message}")

    def parse(self, replace_on_upsert: bool) -> DeltaTableConfig:
        mode = self.save.get("mode", "overwrite")
        if mode not in SAVE_MODES:
            raise self.fail(f"save_args.mode={mode!r}; expected one of {', '.join(SAVE_MODES)}")
        self._check_keys(mode)
        write = WriteSpec(
            partition_by=self.names("partition_by"),
            merge_schema=self.flag("merge_schema", True),
            overwrite_schema=self.flag("overwrite_schema", True),
            options={str(k): str(v) for k, v in self.mapping("options").items()},
        )
        if mode == "overwrite_partitions" and not write.partition_by:
            raise self.fail("mode 'overwrite_partitions' needs save_args.partition_by")
        predicate = self.save.get("predicate")
        if mode == "replace_where" and not (isinstance(predicate, str) and predicate.strip()):
            raise self.fail("mode 'replace_where' needs save_args.predicate (SQL text)")
        return DeltaTableConfig(
            address=self.address,
            mode=mode,
            write=write,
            identity=self.identity(),
            upsert=self.upsert(write, replace_on_upsert) if mode == "upsert" else None,
            predicate=predicate,
            link_files=self.flag("link_files", False),
            first_load_of=self.first_load_of(),
            **self.load_settings(),
        )

    def _check_keys(self, mode: str) -> None:
        everything = {k for keys in MODE_KEYS.values() for k in keys} | set(COMMON_KEYS)
        unknown = sorted(set(self.save) - everything)
        if unknown:
            raise self.fail(f"unknown save_args {unknown}; expected some of {sorted(everything)}")
        for key in sorted(set(self.save) - set(COMMON_KEYS) - set(MODE_KEYS[mode])):
            users = [m for m, keys in MODE_KEYS.items() if key in keys]
            raise self.fail(
                f"save_args.{key} needs mode {' or '.join(repr(m) for m in users)}, not {mode!r}"
            )

    # ------------------------------------------------------------------ typed values
    def names(self, key: str, source: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        value = (self.save if source is None else source).get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
            return tuple(value)
        raise self.fail(f"save_args.{key} takes a column name or a list of them, got {value!r}")

    def flag(self, key: str, default: bool) -> bool:
        value = self.save.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"save_args.{key} takes true or false, got {value!r}")
        return value

    def mapping(self, key: str, source: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        value = (self.save if source is None else source).get(key) or {}
        if not isinstance(value, Mapping):
            raise self.fail(f"{key} takes a mapping, got {value!r}")
        return value

    # ------------------------------------------------------------------ groups
    def identity(self) -> RowIdentitySpec:
        setting = self.save.get("add_row_hash")
        exclude: tuple[str, ...] | None = None
        if setting is True:
            exclude = ()
        elif isinstance(setting, Mapping) and set(setting) <= {"exclude"}:
            exclude = self.names("exclude", setting)
        elif setting not in (None, False):
            raise self.fail(
                f"save_args.add_row_hash takes true or {{exclude: [columns]}}, got {setting!r}"
            )
        return RowIdentitySpec(add_row_id=self.flag("add_row_id", False), row_hash_exclude=exclude)

    def upsert(self, write: WriteSpec, replace: bool) -> UpsertSpec:
        keys = self.names("keys")
        if not keys:
            raise self.fail("mode 'upsert' needs save_args.keys: [...]")
        sequence = self.save.get("sequence_column")
        if sequence is not None and not (isinstance(sequence, str) and sequence):
            raise self.fail(f"save_args.sequence_column takes a column name, got {sequence!r}")
        tiebreaks = self.names("tiebreak_columns")
        if tiebreaks and sequence is None:
            raise self.fail("save_args.tiebreak_columns break ties of save_args.sequence_column")
        if sequence in keys:
            raise self.fail(f"save_args.sequence_column {sequence!r} is one of the keys")
        writer = self.save.get("merge_engine", "auto")
        if writer not in MERGE_WRITERS:
            raise self.fail(f"save_args.merge_engine must be one of {', '.join(MERGE_WRITERS)}")
        via_parquet = self.flag("create_via_parquet", False)
        if via_parquet and not write.partition_by:
            raise self.fail("save_args.create_via_parquet needs save_args.partition_by")
        split = self.file_split(self.save.get("file_split"), "save_args.file_split")
        if split is not None and not via_parquet:
            raise self.fail("save_args.file_split needs save_args.create_via_parquet: true")
        adopt = self.save.get("adopt_first_load_from")
        return UpsertSpec(
            keys=keys,
            sequence_column=sequence,
            tiebreak_columns=tiebreaks,
            writer=writer,
            stage_source=self.flag("stage_source", True),
            create_via_parquet=via_parquet,
            file_split=split,
            adopt_first_load_from=self.table(adopt, "adopt_first_load_from") if adopt else None,
            replace=replace,
        )

    def table(self, name: Any, key: str) -> TableAddress:
        try:
            return resolve_address(str(name), self.root, None)
        except DeltaTableError as exc:
            raise self.fail(f"save_args.{key}: {exc}") from exc

    def file_split(self, split: Any, key: str) -> FileSplit | None:
        if split is None:
            return None
        latest = split.get("latest_partitions", 1) if isinstance(split, Mapping) else None
        if not (
            isinstance(split, Mapping)
            and isinstance(split.get("expression"), str)
            and set(split) <= {"expression", "latest_partitions"}
            and isinstance(latest, int)
            and not isinstance(latest, bool)
            and latest >= 1
        ):
            raise self.fail(
                f"{key} takes 'expression' (SQL text) and 'latest_partitions' (a positive "
                f"integer, default 1), got {split!r}"
            )
        return FileSplit(expression=split["expression"], latest_partitions=latest)

    def first_load_of(self) -> FirstLoadLayout | None:
        config = self.save.get("first_load_of")
        if config is None:
            return None
        if not isinstance(config, Mapping) or not set(config) <= set(_FIRST_LOAD_KEYS):
            raise self.fail(
                f"save_args.first_load_of takes {sorted(_FIRST_LOAD_KEYS)}, got {config!r}"
            )
        keys, partition_by = self.names("keys", config), self.names("partition_by", config)
        if not config.get("table") or not keys or not partition_by:
            raise self.fail(
                "save_args.first_load_of needs 'table', 'keys' and 'partition_by' "
                f"(the target's upsert keys and partition columns), got {config!r}"
            )
        pending_when = config.get("pending_when")
        if pending_when is not None and not isinstance(pending_when, str):
            raise self.fail("save_args.first_load_of.pending_when must be SQL text")
        target = self.table(config["table"], "first_load_of.table")
        return FirstLoadLayout(
            target_path=target.path or "",
            keys=keys,
            partition_by=partition_by,
            pending_when=pending_when,
            file_split=self.file_split(config.get("file_split"), "first_load_of.file_split"),
        )

    def load_settings(self) -> dict[str, Any]:
        unknown = sorted(set(self.load) - set(LOAD_KEYS))
        if unknown:
            raise self.fail(
                f"unknown load_args {unknown}; expected some of {list(LOAD_KEYS)} "
                "(reader options go under load_args.options)"
            )
        version, timestamp = self.load.get("version"), self.load.get("timestamp")
        if version is not None and timestamp is not None:
            raise self.fail("load_args take version or timestamp, not both")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 0
        ):
            raise self.fail(f"load_args.version takes a table version (0, 1, ...), got {version!r}")
        if timestamp is not None and not isinstance(timestamp, str | dt.date):
            raise self.fail(
                f"load_args.timestamp takes ISO 8601 text or a date-time, got {timestamp!r}"
            )
        options = self.mapping("options", self.load)
        return {"version": version, "timestamp": timestamp, "read_options": dict(options)}
