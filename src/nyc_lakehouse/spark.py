"""One Spark session factory for the whole project: Kedro hook, notebooks and tests.

Three engine modes (``conf/<env>/spark.yml`` ``mode``, overridable with ``NYC_LAKEHOUSE_SPARK_MODE``):

* ``sail`` (default): an in-process Sail Spark Connect server on 127.0.0.1 with an ephemeral port.
  No JVM, no cloud; Delta tables on local disk.
* ``remote``: any Spark Connect server, addressed by ``SPARK_REMOTE=sc://host:port``.
* ``databricks``: the active session inside a Databricks runtime, or Databricks Connect outside one.

The session is created lazily on first use and is a process-wide singleton, so ``kedro viz``
(which only previews tables) never starts an engine. Sessions are always stopped before the Sail
server: stopping the server first leaves gRPC threads behind and the process hangs at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

MODES = ("sail", "remote", "databricks")
MODE_ENV_VAR = "NYC_LAKEHOUSE_SPARK_MODE"

# With Parquet statistics on, Sail 0.7.2 reuses string min/max after a cast to a number and
# returns wrong results without an error (min(cast(x as double)) = 1000005 > max = 999999).
# Turning statistics off costs nothing measurable, so it is forced, not a default.
SAIL_REQUIRED_ENV = {"SAIL_EXECUTION__COLLECT_STATISTICS": "false"}

# Sail's allocator (mimalloc 3) by default backs its arenas with transparent huge pages and
# returns freed memory with MADV_DONTNEED: every reuse faults again and the kernel zeroes whole
# 2 MB pages, a visible share of silver's CPU on large loads. Regular pages and MADV_FREE (the
# kernel takes freed pages back only under memory pressure) leave reused memory mapped, so most
# of that kernel time goes. mimalloc reads them once, when it first allocates (at the server's
# start, not at the import; set before both to be safe). The user's values win.
SAIL_ALLOCATOR_DEFAULTS = {"MIMALLOC_ALLOW_THP": "0", "MIMALLOC_PURGE_DECOMMITS": "0"}

# PySpark's Connect client records the caller's file and line on every DataFrame and Column call
# (it walks the Python stack each time) so that a server can point an error at the code that
# built the failing expression. Sail puts no call site in its errors, so with Sail the walk is
# pure cost, paid on every expression a node builds: a large share of a short daily run's time.
# Remote servers and Databricks report call sites, so they keep it; ``session_conf`` wins.
SAIL_SESSION_DEFAULTS = {"spark.python.sql.dataFrameDebugging.enabled": "false"}


@dataclass(frozen=True)
class SparkSettings:
    """How to obtain a Spark session. Built from ``spark.yml`` by :func:`settings_from_config`."""

    mode: str = "sail"
    remote: str | None = None
    app_name: str = "nyc-lakehouse"
    session_conf: Mapping[str, str] = field(default_factory=dict)
    sail_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f"Unknown Spark mode {self.mode!r}: expected one of {', '.join(MODES)} "
                f"(set in conf/<env>/spark.yml or ${MODE_ENV_VAR})."
            )
        if self.mode == "remote" and not self.remote:
            raise ValueError(
                "Spark mode 'remote' needs a Spark Connect URL: set SPARK_REMOTE=sc://host:port "
                "or 'remote:' in conf/<env>/spark.yml."
            )


def settings_from_config(config: Mapping[str, Any] | None = None) -> SparkSettings:
    """Build :class:`SparkSettings` from a ``spark.yml`` mapping plus environment overrides.

    Precedence for the mode: ``$NYC_LAKEHOUSE_SPARK_MODE``, then a Databricks runtime
    (``$DATABRICKS_RUNTIME_VERSION``), then ``$SPARK_REMOTE`` (implies ``remote``), then the file.
    """
    config = dict(config or {})
    mode = config.get("mode", "sail")
    remote = config.get("remote")
    env_remote = os.environ.get("SPARK_REMOTE")
    if os.environ.get(MODE_ENV_VAR):
        mode = os.environ[MODE_ENV_VAR]
    elif os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        mode = "databricks"
    elif env_remote:
        mode = "remote"
    if env_remote:
        remote = env_remote
    return SparkSettings(
        mode=mode,
        remote=remote,
        app_name=config.get("app_name", "nyc-lakehouse"),
        session_conf={str(k): str(v) for k, v in (config.get("session_conf") or {}).items()},
        sail_env={str(k): str(v) for k, v in (config.get("sail_env") or {}).items()},
    )


_lock = threading.RLock()
_server: Any = None
_session: SparkSession | None = None
_settings: SparkSettings | None = None


def configure(settings: SparkSettings) -> None:
    """Remember the settings to use when the session is first needed (called by the Kedro hook)."""
    global _settings
    with _lock:
        if _session is not None and _settings is not None and settings != _settings:
            logger.info(
                "Spark already running in %s mode; new settings apply after stop_spark()",
                _settings.mode,
            )
        _settings = settings


def current_mode() -> str:
    """The engine mode in use, or the one that will be used on first :func:`get_spark`."""
    return (_settings or settings_from_config()).mode


def is_local_engine() -> bool:
    """True when tables are plain paths on a disk this process can reach (Sail, in-process)."""
    return current_mode() == "sail"


def get_spark() -> SparkSession:
    """Return the project's Spark session, starting the engine on first use."""
    global _session, _settings
    with _lock:
        if _session is not None:
            return _session
        settings = _settings or settings_from_config()
        _settings = settings
        if settings.mode == "sail":
            _session = _start_sail(settings)
        elif settings.mode == "remote":
            _session = _builder(settings).remote(settings.remote).getOrCreate()
        else:
            _session = _databricks_session()
        defaults = SAIL_SESSION_DEFAULTS if settings.mode == "sail" else {}
        for key, value in {**defaults, **settings.session_conf}.items():
            _session.conf.set(key, value)
        logger.info("Spark session ready (mode=%s)", settings.mode)
        return _session


def is_running() -> bool:
    """True when this process holds a live session."""
    return _session is not None


def stop_spark() -> None:
    """Stop the session, then the Sail server if this process started one. Safe to call twice."""
    global _session, _server
    with _lock:
        if _session is not None and current_mode() != "databricks":
            try:
                _session.stop()
            except Exception:  # noqa: BLE001 - shutting down; the server may already be gone
                logger.debug("Spark session stop failed", exc_info=True)
        _session = None
        if _server is not None:
            try:
                _server.stop()
            finally:
                _server = None


def _builder(settings: SparkSettings) -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName(settings.app_name)


def _start_sail(settings: SparkSettings) -> SparkSession:
    global _server
    # Sail logs every session (and its shutdown) otherwise; RUST_LOG from the user still wins.
    os.environ.setdefault("RUST_LOG", "error")
    for key, value in SAIL_ALLOCATOR_DEFAULTS.items():
        os.environ.setdefault(key, value)
    for key, value in {**settings.sail_env, **SAIL_REQUIRED_ENV}.items():
        os.environ[key] = value
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    _server = server
    host, port = server.listening_address
    url = f"sc://{host}:{port}"
    logger.info("Started embedded Sail Spark Connect server at %s", url)
    return _builder(settings).remote(url).getOrCreate()


def _databricks_session() -> SparkSession:
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        return active if active is not None else SparkSession.builder.getOrCreate()
    try:
        from databricks.connect import DatabricksSession  # type: ignore[import-not-found]
    except ImportError as exc:  # pragma: no cover - depends on the user's environment
        raise RuntimeError(
            "Spark mode 'databricks' outside a Databricks runtime needs Databricks Connect: "
            "`uv pip install databricks-connect` (matching your cluster's runtime) and configure "
            "a profile, or run inside a Databricks job."
        ) from exc
    return DatabricksSession.builder.getOrCreate()


atexit.register(stop_spark)
