"""Which engine runs a table operation, and which writer family it gets.

Engine modes (``conf/<env>/spark.yml``, ``NYC_LAKEHOUSE_SPARK_MODE``):

==============  ====================================  ============================================
mode            engine                                merges, history, OPTIMIZE, VACUUM
==============  ====================================  ============================================
``sail``        Sail in this process (Spark Connect)  delta-rs on paths (Sail has no Delta API)
``jvm``         local JVM Spark with delta-spark      ``delta.tables.DeltaTable`` (delta-spark)
``databricks``  Databricks runtime / Connect          ``delta.tables.DeltaTable`` (the runtime's)
``remote``      any Spark Connect server              the Delta API if the server has Delta
                                                      Connect, else Spark SQL (``MERGE INTO``)
==============  ====================================  ============================================

A ``remote`` server without Delta Connect may be anything, Sail included, so it gets the
portable choices: SQL, and the Sail workarounds that are correct on every engine (see
:func:`nyc_lakehouse.delta.engines.sail.applies`). Each engine's defects are worked around in
that engine's module only (:mod:`~nyc_lakehouse.delta.engines.sail`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from nyc_lakehouse.delta.address import TableAddress

MODES = ("sail", "jvm", "remote", "databricks")
DELTA_RS, DELTA_SPARK, SQL = "delta_rs", "delta_spark", "sql"
WRITERS = (DELTA_RS, DELTA_SPARK, SQL)


@dataclass(frozen=True)
class Engine:
    """The engine mode in use and how to get its session (started on first use only, so a
    preview or an ``exists()`` on a path never starts an engine)."""

    mode: str
    session: Callable[[], SparkSession]
    delta_api: Callable[[], bool] | None = None
    """For ``remote``: whether the server runs Delta Connect (asked only when needed)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Unknown engine mode {self.mode!r}: expected one of {MODES}")

    def spark(self) -> SparkSession:
        return self.session()

    @property
    def is_sail(self) -> bool:
        """Sail in this process: its tables are paths this process reaches with delta-rs."""
        return self.mode == "sail"

    @property
    def has_delta_api(self) -> bool:
        """``delta.tables.DeltaTable`` works on this engine's session: ``jvm``, ``databricks``,
        and a ``remote`` server with Delta Connect's plugin."""
        if self.mode in ("jvm", "databricks"):
            return True
        return self.mode == "remote" and self.delta_api is not None and self.delta_api()

    def writer_for(self, address: TableAddress) -> str:
        """The merge writer family for ``address`` on this engine (see the module's table)."""
        if self.is_sail and address.path is not None:
            return DELTA_RS
        if self.has_delta_api:
            return DELTA_SPARK
        return SQL
