"""Who holds a lock: the run's identity, written where a second run can read it."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RunHolder:
    """The run that holds (or asks for) a lock, as the message of a refused run names it."""

    run_id: str
    pipeline: str
    pid: int
    host: str
    started_at: str
    """ISO 8601, UTC, to the second."""

    @classmethod
    def this_process(cls, run_id: str, pipeline: str, now: dt.datetime | None = None) -> RunHolder:
        started = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        return cls(
            run_id=run_id,
            pipeline=pipeline,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def describe(self) -> str:
        return (
            f"run {self.run_id} (pipeline '{self.pipeline}', pid {self.pid} on host "
            f"{self.host}, started {self.started_at})"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RunHolder | None:
        """The holder a lock file or lease row names; ``None`` when it names none."""
        try:
            return cls(
                run_id=str(data["run_id"]),
                pipeline=str(data["pipeline"]),
                pid=int(data["pid"]),
                host=str(data["host"]),
                started_at=str(data["started_at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @classmethod
    def from_json(cls, text: str) -> RunHolder | None:
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return cls.from_mapping(data) if isinstance(data, Mapping) else None


class RunLockError(RuntimeError):
    """A run could not take (or lost) the lock on tables it writes."""

    def __init__(self, message: str, blockers: Mapping[str, RunHolder | None] | None = None):
        super().__init__(message)
        self.blockers: dict[str, RunHolder | None] = dict(blockers or {})


def held_message(
    pipeline: str,
    blockers: Mapping[str, RunHolder | None],
    waited_seconds: float,
    where: str,
) -> str:
    """Why a run cannot start: which tables, held by which run, and what to do."""
    by_holder: dict[RunHolder | None, list[str]] = {}
    for key in sorted(blockers):
        by_holder.setdefault(blockers[key], []).append(key)
    lines = [
        f"Run lock: pipeline '{pipeline}' cannot start: another run is writing tables it writes"
        + (f" (waited {waited_seconds:g} s)." if waited_seconds else ".")
    ]
    for holder, keys in by_holder.items():
        named = holder.describe() if holder else "a run that has not written its name yet"
        shown = ", ".join(keys[:12]) + (f" and {len(keys) - 12} more" if len(keys) > 12 else "")
        lines.append(f"  {shown}: held by {named}")
    lines.append(
        "One writer per table: wait for that run to end, or retry with "
        "--params lock_wait_seconds=<seconds> to wait for it. A run that crashed releases its "
        f"lock with its process (a lease when it expires). Locks: {where}"
    )
    return "\n".join(lines)
