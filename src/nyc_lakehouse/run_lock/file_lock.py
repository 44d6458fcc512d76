"""Local run locks: one file per table under ``<lakehouse_root>/_locks``, locked with ``flock``.

The lock is the operating system's lock on an open file, not the file's existence: it is
released when the process ends, however it ends (``kill -9`` included), so no stale lock is ever
left behind. The file's content only names the holder for the message of a refused run; a
file that names a dead run is simply free.

``flock`` locks belong to an open file description: a second ``open`` in the same process
conflicts too (two Kedro sessions in one notebook exclude each other), and the descriptors are
not inherited by child processes (Python opens them close-on-exec), so a Spark JVM left behind
cannot keep a lock. Only for a folder on a local disk (or a file system whose ``flock`` is
honoured across hosts): other roots use the lease table (:mod:`~nyc_lakehouse.run_lock.lease`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterable

from nyc_lakehouse.run_lock.holder import RunHolder

LOCKS_FOLDER = "_locks"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def lock_file_name(key: str) -> str:
    """``silver.nyc311_service_requests`` -> ``silver.nyc311_service_requests.lock``."""
    return _UNSAFE.sub("_", key) + ".lock"


class FileLocks:
    """The locks one run holds on a set of keys (one ``flock``-ed file per key)."""

    poll_seconds = 0.2

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._held: dict[str, int] = {}

    @property
    def where(self) -> str:
        return self.folder

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    def try_acquire(self, keys: Iterable[str], holder: RunHolder) -> dict[str, RunHolder | None]:
        """Lock every key, or none: the holders of the keys that are taken (empty: all locked)."""
        os.makedirs(self.folder, exist_ok=True)
        blockers: dict[str, RunHolder | None] = {}
        acquired: dict[str, int] = {}
        for key in sorted(set(keys) - set(self._held)):
            fd = os.open(os.path.join(self.folder, lock_file_name(key)), os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                blockers[key] = _read_holder(fd)
                os.close(fd)
                continue
            acquired[key] = fd
        if blockers:
            for fd in acquired.values():
                _unlock(fd)
            return blockers
        text = holder.to_json().encode()
        for fd in acquired.values():
            os.ftruncate(fd, 0)
            os.pwrite(fd, text, 0)
        self._held.update(acquired)
        return {}

    def release(self) -> None:
        for fd in self._held.values():
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a released lock names no holder
            _unlock(fd)
        self._held.clear()

    def lost(self) -> str | None:
        return None  # an OS lock is held until released or the process ends


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _read_holder(fd: int, attempts: int = 10) -> RunHolder | None:
    """The holder a locked file names. Its run writes its name just after locking it: a few
    short retries cover that moment."""
    for attempt in range(attempts):
        holder = RunHolder.from_json(os.pread(fd, 65536, 0).decode(errors="replace"))
        if holder is not None:
            return holder
        if attempt < attempts - 1:
            time.sleep(0.02)
    return None


def holders(folder: str) -> dict[str, RunHolder | None]:
    """The keys locked now under ``folder`` and who holds them (for status and tests)."""
    found: dict[str, RunHolder | None] = {}
    if not os.path.isdir(folder):
        return found
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".lock"):
            continue
        fd = os.open(os.path.join(folder, name), os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                found[name.removesuffix(".lock")] = _read_holder(fd)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return found
