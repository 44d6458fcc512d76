"""One writer per table: run locks on the lakehouse, and scratch tables per run.

* :mod:`~.holder`: who holds a lock (run id, pipeline, pid, host, start time) and the message a
  refused run prints;
* :mod:`~.file_lock`: local roots: one ``flock``-ed file per table under
  ``<lakehouse_root>/_locks`` (released by the operating system when the process dies);
* :mod:`~.lease`: ``uc://`` and object store roots: rows of the Delta table
  ``monitoring.run_leases``, taken with a conditional ``MERGE``, renewed while the run lives and
  taken over once expired;
* :mod:`~.scratch`: ``${scratch_table:...}`` names a run's own scratch tables;
* :mod:`~.guard`: the tables a pipeline writes, locked before its first node and released after
  its last (:class:`nyc_lakehouse.hooks.RunLockHooks`).

Settings: ``conf/base/run_lock.yml``. See docs/operations.md, "Crashes, reruns and concurrent
runs".
"""

from nyc_lakehouse.run_lock.guard import RunGuard, RunLockSettings, pipeline_label, written_tables
from nyc_lakehouse.run_lock.holder import RunHolder, RunLockError
from nyc_lakehouse.run_lock.scratch import scratch_table

__all__ = [
    "RunGuard",
    "RunHolder",
    "RunLockError",
    "RunLockSettings",
    "pipeline_label",
    "scratch_table",
    "written_tables",
]
