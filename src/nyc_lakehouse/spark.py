"""One Spark session factory for the whole project: Kedro hook, notebooks and tests.

Four engine modes (``conf/<env>/spark.yml`` ``mode``, overridable with ``NYC_LAKEHOUSE_SPARK_MODE``):

* ``sail`` (default): an in-process Sail Spark Connect server on 127.0.0.1 with an ephemeral port.
  No JVM, no cloud; Delta tables on local disk.
* ``jvm``: local JVM Spark (``local[*]``) with delta-spark, the open-source form of what
  Databricks runs. Needs Java 17 and delta-spark's jars (``make jars``, see
  :mod:`nyc_lakehouse.spark_jvm`); Delta tables on local disk.
* ``remote``: any Spark Connect server, addressed by ``SPARK_REMOTE=sc://host:port``.
* ``databricks``: the active session inside a Databricks runtime, or Databricks Connect outside one.

The session is created lazily on first use and is a process-wide singleton, so ``kedro viz``
(which only previews tables) never starts an engine. Sessions are always stopped before the Sail
server: stopping the server first leaves gRPC threads behind and the process hangs at exit.
A mode that cannot start says why (no Java, no jars, no server) within
``connect_timeout_s`` instead of hanging: :class:`EngineStartError`.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from nyc_lakehouse.delta.engines import sail as sail_workarounds

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

MODES = ("sail", "jvm", "remote", "databricks")
MODE_ENV_VAR = "NYC_LAKEHOUSE_SPARK_MODE"
EngineFamily = Literal["sail", "spark", "sql"]

# Set before Sail starts, always: the workarounds of Sail defects that are server settings
# (statistics reused after casts give wrong answers), with the rest of Sail's workarounds.
SAIL_REQUIRED_ENV = sail_workarounds.REQUIRED_ENV

# Sail's allocator (mimalloc 3) by default backs its arenas with transparent huge pages and
# returns freed memory with MADV_DONTNEED: every reuse faults again and the kernel zeroes whole
# 2 MB pages, a visible share of silver's CPU on large loads. Regular pages and MADV_FREE (the
# kernel takes freed pages back only under memory pressure) leave reused memory mapped, so most
# of that kernel time goes. mimalloc reads them once, when it first allocates (at the server's
# start, not at the import; set before both to be safe). The user's values win.
SAIL_ALLOCATOR_DEFAULTS = {"MIMALLOC_ALLOW_THP": "0", "MIMALLOC_PURGE_DECOMMITS": "0"}

# Sail drops a session after 15 idle minutes (its spark.session_timeout_secs). The embedded
# server's only client is this process, so that only ever kills our own session: a notebook
# left alone for a while, or a test session that used another engine meanwhile, then fails
# with "session ... is not running". The user's value wins.
SAIL_EMBEDDED_DEFAULTS = {"SAIL_SPARK__SESSION_TIMEOUT_SECS": str(365 * 24 * 3600)}

# PySpark's Connect client records the caller's file and line on every DataFrame and Column call
# (it walks the Python stack each time) so that a server can point an error at the code that
# built the failing expression. Sail puts no call site in its errors, so with Sail the walk is
# pure cost, paid on every expression a node builds: a large share of a short daily run's time.
# Remote servers and Databricks report call sites, so they keep it; ``session_conf`` wins.
SAIL_SESSION_DEFAULTS = {"spark.python.sql.dataFrameDebugging.enabled": "false"}

# Spark Connect's Python client retries an unreachable server with backoff for minutes; the
# first call is bounded by this instead (``connect_timeout_s`` in spark.yml).
DEFAULT_CONNECT_TIMEOUT_S = 30.0


class EngineStartError(RuntimeError):
    """The engine could not start; the message says why and what to do."""


@dataclass(frozen=True)
class SparkSettings:
    """How to obtain a Spark session. Built from ``spark.yml`` by :func:`settings_from_config`."""

    mode: str = "sail"
    remote: str | None = None
    app_name: str = "nyc-lakehouse"
    session_conf: Mapping[str, str] = field(default_factory=dict)
    sail_env: Mapping[str, str] = field(default_factory=dict)
    jvm_master: str = "local[*]"
    jvm_driver_memory: str = "2g"
    jvm_conf: Mapping[str, str] = field(default_factory=dict)
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S

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
        if self.connect_timeout_s <= 0:
            raise ValueError(f"connect_timeout_s must be positive, got {self.connect_timeout_s}")


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
    jvm = dict(config.get("jvm") or {})
    unknown = set(jvm) - {"master", "driver_memory", "conf"}
    if unknown:
        raise ValueError(
            f"Unknown key(s) under 'jvm:' in spark.yml: {', '.join(sorted(unknown))} "
            "(expected master, driver_memory, conf)."
        )
    return SparkSettings(
        mode=mode,
        remote=remote,
        app_name=config.get("app_name", "nyc-lakehouse"),
        session_conf=_strings(config.get("session_conf")),
        sail_env=_strings(config.get("sail_env")),
        jvm_master=str(jvm.get("master", "local[*]")),
        jvm_driver_memory=str(jvm.get("driver_memory", "2g")),
        jvm_conf=_strings(jvm.get("conf")),
        connect_timeout_s=float(config.get("connect_timeout_s", DEFAULT_CONNECT_TIMEOUT_S)),
    )


def _strings(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


@dataclass
class SuspendedEngine:
    """A running engine set aside by :func:`suspend`: its session (and Sail server) still live."""

    settings: SparkSettings
    session: SparkSession
    server: Any = None
    family: EngineFamily | None = None


_lock = threading.RLock()
_server: Any = None
_session: SparkSession | None = None
_settings: SparkSettings | None = None
_pending: SparkSettings | None = None
_family: EngineFamily | None = None
_suspended: list[SuspendedEngine] = []


def configure(settings: SparkSettings) -> None:
    """Remember the settings to use when the session is first needed (called by the Kedro hook).

    While a session runs, it keeps its settings (and :func:`current_mode` keeps saying what it
    is); new settings apply after :func:`stop_spark`.
    """
    global _settings, _pending
    with _lock:
        if _session is not None and _settings is not None:
            if settings != _settings:
                logger.info(
                    "Spark already running in %s mode; new settings (mode %s) apply after "
                    "stop_spark()",
                    _settings.mode,
                    settings.mode,
                )
                _pending = settings
            return
        _settings = settings


def current_settings() -> SparkSettings:
    """The settings of the running engine, or those the next :func:`get_spark` will use."""
    return _settings or settings_from_config()


def current_mode() -> str:
    """The engine mode in use, or the one that will be used on first :func:`get_spark`."""
    return (_settings or settings_from_config()).mode


def is_local_engine() -> bool:
    """True when tables are plain paths on a disk this process can reach (Sail and local JVM)."""
    return current_mode() in ("sail", "jvm")


def engine_family() -> EngineFamily:
    """Which Delta writer family the current engine takes.

    * ``"sail"``: Sail in this process; no Delta API, tables are local paths (delta-rs).
    * ``"spark"``: ``delta.tables.DeltaTable`` works on the session: ``jvm``, ``databricks``,
      and ``remote`` when its server runs Delta Connect's plugins.
    * ``"sql"``: a ``remote`` server without Delta Connect: Delta through Spark SQL only.

    For ``remote`` the answer needs the server, so the session is started to ask it.
    """
    global _family
    mode = current_mode()
    if mode == "sail":
        return "sail"
    if mode in ("jvm", "databricks"):
        return "spark"
    with _lock:
        if _family is None or _session is None:
            session = get_spark()
            plugins = session.conf.get("spark.connect.extensions.relation.classes", "") or ""
            _family = "spark" if "DeltaRelationPlugin" in plugins else "sql"
        return _family


def get_spark() -> SparkSession:
    """Return the project's Spark session, starting the engine on first use."""
    global _session, _settings
    with _lock:
        if _session is not None:
            return _session
        settings = _settings or settings_from_config()
        _settings = settings
        starters: dict[str, Callable[[SparkSettings], SparkSession]] = {
            "sail": _start_sail,
            "jvm": _start_jvm,
            "remote": _start_remote,
            "databricks": lambda _: _databricks_session(),
        }
        session = starters[settings.mode](settings)
        if settings.mode != "jvm":  # the JVM got them at start (some are static)
            defaults = SAIL_SESSION_DEFAULTS if settings.mode == "sail" else {}
            for key, value in {**defaults, **settings.session_conf}.items():
                session.conf.set(key, value)
        _session = session
        logger.info("Spark session ready (mode=%s)", settings.mode)
        return _session


def is_running() -> bool:
    """True when this process holds a live session."""
    return _session is not None


def stop_spark() -> None:
    """Stop the session, then the Sail server if this process started one. Safe to call twice."""
    global _session, _server, _family, _settings, _pending
    with _lock:
        if _session is not None and current_mode() != "databricks":
            try:
                _session.stop()
            except Exception:  # noqa: BLE001 - shutting down; the server may already be gone
                logger.debug("Spark session stop failed", exc_info=True)
        _session = None
        _family = None
        if _pending is not None:
            _settings, _pending = _pending, None
        if _server is not None:
            try:
                _server.stop()
            finally:
                _server = None


def suspend() -> SuspendedEngine | None:
    """Set the running engine aside without stopping it; None when nothing runs.

    For tests and notebooks that compare engines in one process: a JVM takes seconds to start,
    and DataFrames of a suspended session stay valid for when it is :func:`resume`\\ d. Every
    suspended engine is stopped at exit, or by :func:`stop_all`.
    """
    global _session, _server, _settings, _family, _pending
    with _lock:
        if _session is None or _settings is None:
            return None
        suspended = SuspendedEngine(_settings, _session, _server, _family)
        _suspended.append(suspended)
        _session, _server, _family = None, None, None
        # Nothing runs now: the next get_spark() uses the settings configured since, or defaults.
        _settings, _pending = _pending, None
        return suspended


def resume(suspended: SuspendedEngine) -> SparkSession:
    """Make a :func:`suspend`\\ ed engine the running one again (nothing else may be running)."""
    global _session, _server, _settings, _family, _pending
    with _lock:
        if _session is not None:
            raise RuntimeError(
                f"Spark is running in {current_mode()} mode: stop_spark() or suspend() it first"
            )
        _suspended.remove(suspended)
        _select_pyspark_api(classic=suspended.settings.mode == "jvm")
        _settings, _session, _server = suspended.settings, suspended.session, suspended.server
        _family, _pending = suspended.family, None
        return suspended.session


def stop_all() -> None:
    """Stop the running engine and every suspended one (registered to run at exit)."""
    global _session, _server, _settings
    with _lock:
        stop_spark()
        configured = _settings  # what the next get_spark() would use: it stays so
        while _suspended:
            suspended = _suspended.pop()
            _settings, _session, _server = suspended.settings, suspended.session, suspended.server
            stop_spark()
        _settings = configured


def _builder(settings: SparkSettings) -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName(settings.app_name)


def _select_pyspark_api(classic: bool) -> None:
    """Point PySpark's functions at the classic (JVM) or the Spark Connect implementation.

    ``pyspark.sql.functions`` picks Spark Connect whenever ``SPARK_CONNECT_MODE_ENABLED`` is in
    the environment, and a Connect session sets it and never removes it: a JVM session started
    after one would get Connect columns it cannot use, and the builder would refuse to start it.
    A ``SPARK_REMOTE`` left in the environment would likewise turn the JVM builder into a client.
    """
    if classic:
        for name in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE"):
            if os.environ.pop(name, None) is not None:
                logger.debug("Removed %s from the environment for the JVM session", name)
    else:
        os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"


def _connect_session(settings: SparkSettings, url: str) -> SparkSession:
    # create(), not getOrCreate(): another Connect session in this process (a notebook's, or a
    # suspended engine's) must not be returned for this server.
    _select_pyspark_api(classic=False)
    return _builder(settings).remote(url).create()


def _start_sail(settings: SparkSettings) -> SparkSession:
    global _server
    # Sail logs every session (and its shutdown) otherwise; RUST_LOG from the user still wins.
    os.environ.setdefault("RUST_LOG", "error")
    for key, value in {**SAIL_ALLOCATOR_DEFAULTS, **SAIL_EMBEDDED_DEFAULTS}.items():
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
    return _connect_session(settings, url)


def _start_jvm(settings: SparkSettings) -> SparkSession:
    from nyc_lakehouse.spark_jvm import JVM_DELTA_CONF, java_executable, jvm_conf

    java_executable()
    conf = jvm_conf(settings)
    _select_pyspark_api(classic=True)
    if settings.jvm_master.startswith("local"):
        # Everything is in this machine: the driver binds to the loopback, whatever the host
        # name resolves to (Spark warns about it, and a stale name would break the start).
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = _builder(settings).master(settings.jvm_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = _get_or_create_jvm(builder)
    extensions = session.conf.get("spark.sql.extensions", "") or ""
    if JVM_DELTA_CONF["spark.sql.extensions"] not in extensions:
        # getOrCreate() returned a SparkContext started earlier in this process without Delta;
        # its static settings (extensions, jars) cannot change any more.
        raise EngineStartError(
            "A JVM Spark session without delta-spark is already running in this process; "
            "stop it (spark.stop()) before using mode 'jvm'."
        )
    logger.info("Started local JVM Spark (%s) with delta-spark", settings.jvm_master)
    return session


def _get_or_create_jvm(builder: Any) -> SparkSession:
    """``builder.getOrCreate()``, with one more try when the JVM gateway dies at launch.

    pyspark launches the gateway with a fork; in a process that also holds gRPC (Spark
    Connect) threads, the child was seen to exit before it wrote its port (``JAVA_GATEWAY_EXITED``,
    pyspark 4.0.1, once in a full test session at its first JVM start), and the next launch
    worked. A second failure is reported as it is.
    """
    from pyspark.errors import PySparkRuntimeError

    try:
        return builder.getOrCreate()
    except PySparkRuntimeError as exc:
        if "JAVA_GATEWAY_EXITED" not in str(exc):
            raise
        logger.warning("The JVM gateway exited at launch; starting it once more")
        return builder.getOrCreate()


def _connect_address(url: str) -> tuple[str, int]:
    """``sc://host:port/;token=...`` -> (host, port); Spark Connect's default port is 15002."""
    parts = urlsplit(url.split(";", 1)[0].replace("sc://", "http://", 1))
    if not url.startswith("sc://") or not parts.hostname:
        raise EngineStartError(f"Spark mode 'remote': {url!r} is not a sc://host:port URL")
    return parts.hostname, parts.port or 15002


def _start_remote(settings: SparkSettings) -> SparkSession:
    url = str(settings.remote)
    host, port = _connect_address(url)
    timeout = settings.connect_timeout_s
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise EngineStartError(
            f"Spark mode 'remote': no Spark Connect server answers at {host}:{port} ({exc}). "
            "Start the server, or fix SPARK_REMOTE / 'remote:' in conf/<env>/spark.yml."
        ) from exc
    answered: list[Any] = []
    # The client retries an unresponsive server for minutes, and creating a session already
    # calls it: a throwaway session asks for the version aside, bounded by the timeout; the real
    # one is created here, so that it is this thread's active session.
    probe = threading.Thread(
        target=lambda: answered.append(_server_version(url)), daemon=True, name="connect-probe"
    )
    probe.start()
    probe.join(timeout)
    if not answered:
        raise EngineStartError(
            f"Spark mode 'remote': {host}:{port} accepts connections but no Spark Connect server "
            f"answered within {timeout:g} s (connect_timeout_s in spark.yml)."
        )
    if isinstance(answered[0], Exception):
        raise EngineStartError(
            f"Spark mode 'remote': the server at {host}:{port} refused the session: {answered[0]}"
        ) from answered[0]
    return _connect_session(settings, url)


def _server_version(url: str) -> Any:
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        probe = ConnectSession(connection=url)  # not the default session, unlike the builder's
        try:
            return probe.version
        finally:
            probe.stop()
    except Exception as exc:  # noqa: BLE001 - reported by the caller, with the address
        return exc


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


atexit.register(stop_all)
