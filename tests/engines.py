"""Run a test on every engine: ``sail``, ``jvm`` (local JVM Spark + delta-spark) and ``remote``
(a real JVM Spark Connect server with delta-spark, started here from the pyspark package).

Fixtures (registered in ``tests/conftest.py``):

``engine``
    Parametrized over ``sail``, ``jvm`` and ``remote``: a test that takes it runs three times,
    with ids ``[sail]``, ``[jvm]``, ``[remote]``. It is an :class:`EngineUnderTest`:
    ``engine.mode``, ``engine.spark`` (the session, already current in
    :mod:`nyc_lakehouse.spark`, so datasets and nodes use it too) and ``engine.family``
    (:func:`nyc_lakehouse.spark.engine_family`). The parameter lives on the session-scoped
    fixture ``engine_mode``, so pytest runs all ``sail`` tests, then all ``jvm`` ones, then all
    ``remote`` ones, instead of switching engines test by test.

``on_engines("jvm", "remote")``
    A decorator for a test (or a ``pytestmark``) that should run on some engines only::

        @on_engines("jvm")
        def test_merge_builder(engine): ...

:func:`use_engine`
    ``use_engine("jvm")`` makes that engine current and returns its session, from any test or
    fixture (e.g. a module-scoped fixture that builds a table once per engine).

One engine of each kind serves the whole test session: the JVM starts once (seconds, where Sail
takes a tenth of one), the Spark Connect server starts once, on first use, and both are stopped
at the end. Switching does not stop an engine, it sets it aside
(:func:`nyc_lakehouse.spark.suspend`), so a DataFrame from a session-scoped fixture on Sail (the
``spark`` fixture) stays valid after a ``jvm`` test. Do not call ``stop_spark()`` in a test
that uses these fixtures; a child process is the place for lifecycle tests.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from nyc_lakehouse import spark as engine_module

ENGINE_MODES = ("sail", "jvm", "remote")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# A JVM start on a busy 2-core machine can take tens of seconds; this bounds a broken one.
SERVER_START_TIMEOUT_S = 240.0
# The test server's JVM: small on purpose (the machine has 2 cores and runs a second JVM).
SERVER_DRIVER_MEMORY = "1g"


@dataclass(frozen=True)
class EngineUnderTest:
    """What a test parametrized with ``engine`` gets."""

    mode: str
    spark: Any

    @property
    def family(self) -> str:
        return engine_module.engine_family()


def project_spark_config() -> dict[str, Any]:
    """``conf/base/spark.yml``: the settings the Kedro hook uses (time zone, Sail env, JVM)."""
    return yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "spark.yml").read_text())


def settings_for(mode: str) -> engine_module.SparkSettings:
    """The project's settings, on ``mode``; ``remote`` points at the test server."""
    settings = engine_module.settings_from_config({**project_spark_config(), "mode": "sail"})
    if mode == "remote":
        return dataclasses.replace(settings, mode="remote", remote=connect_server().url)
    return dataclasses.replace(settings, mode=mode, remote=None)


_lock = threading.RLock()
_set_aside: dict[str, engine_module.SuspendedEngine] = {}


def use_engine(mode: str) -> Any:
    """Make ``mode`` the current engine of :mod:`nyc_lakehouse.spark`; return its session."""
    if mode not in ENGINE_MODES:
        raise ValueError(f"unknown engine {mode!r}: expected one of {ENGINE_MODES}")
    with _lock:
        if engine_module.is_running():
            current = engine_module.current_mode()
            if current == mode and _is_ours(mode):
                return engine_module.get_spark()
            if current in _set_aside or not _is_ours(current):
                engine_module.stop_spark()  # a second one of a kind, or a stranger's: not kept
            else:
                suspended = engine_module.suspend()
                if suspended is not None:
                    _set_aside[current] = suspended
        if mode in _set_aside:
            if mode == "remote" and not _is_ours("remote"):
                _set_aside.pop(mode)  # its server died: its session can only time out
            else:
                return engine_module.resume(_set_aside.pop(mode))
        engine_module.configure(settings_for(mode))
        session = engine_module.get_spark()
        if mode == "remote":
            _bound_retries(session)
        return session


def _bound_retries(session: Any) -> None:
    """Give up on a dead test server within seconds, not the client's ten minutes of retries
    (a server killed from outside would otherwise hang the rest of the run)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    session.client.set_retry_policies([DefaultPolicy(max_retries=4, max_backoff=4000)])


def back_to_sail() -> None:
    """Leave no other engine current for a test that does not take ``engine``.

    Such a test (a Kedro run, a dataset on its own) expects the project's default engine: Sail,
    as it was before the last ``engine`` test, or nothing running (it starts on first use).
    """
    with _lock:
        if engine_module.is_running():
            current = engine_module.current_mode()
            if current == "sail":
                return
            if current in _set_aside or not _is_ours(current):
                engine_module.stop_spark()
            else:
                suspended = engine_module.suspend()
                if suspended is not None:
                    _set_aside[current] = suspended
        if "sail" in _set_aside:
            engine_module.resume(_set_aside.pop("sail"))


def _is_ours(mode: str) -> bool:
    """The running engine is the one this module would start for ``mode``."""
    if mode not in ENGINE_MODES:
        return False
    if mode != "remote":
        return True
    server = _server
    return (
        server is not None
        and server.process.poll() is None
        and engine_module.current_settings().remote == server.url
    )


def stop_engines() -> None:
    """Stop every engine (the current one and those set aside), then the test server."""
    with _lock:
        _set_aside.clear()
        # Connect sessions release themselves on the server: stop them while it still answers.
        engine_module.stop_all()
        if _server is not None:
            _server.stop()


def on_engines(*modes: str) -> Callable[[Any], Any]:
    """Restrict a test taking ``engine`` to some engines: ``@on_engines("jvm", "remote")``."""
    unknown = set(modes) - set(ENGINE_MODES)
    if unknown:
        raise ValueError(f"unknown engine(s) {sorted(unknown)}: expected {ENGINE_MODES}")
    return pytest.mark.parametrize("engine_mode", list(modes), indirect=True)


# --- the Spark Connect server for ``remote`` ---------------------------------------------------


@dataclass
class ConnectServer:
    """A JVM Spark Connect server with delta-spark, on 127.0.0.1, in its own process group."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def stop(self) -> None:
        global _server
        if self.process.poll() is None:
            # spark-submit is a shell script that starts the JVM: signal the whole group.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        if _server is self:
            _server = None


_server: ConnectServer | None = None


def connect_server() -> ConnectServer:
    """The test session's Spark Connect server, started on first use."""
    global _server
    with _lock:
        if _server is None or _server.process.poll() is not None:
            _server = _start_connect_server()
        return _server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_connect_server() -> ConnectServer:
    from nyc_lakehouse.spark_jvm import connect_server_command, java_executable

    java_executable()  # no Java: say so now, not after a timeout
    workdir = Path(tempfile.mkdtemp(prefix="nyc-lakehouse-connect-"))
    log = workdir / "server.log"
    port = _free_port()
    command = connect_server_command(
        port,
        driver_memory=SERVER_DRIVER_MEMORY,
        conf={
            **{
                k: str(v)
                for k, v in (project_spark_config().get("jvm") or {}).get("conf", {}).items()
            },
            "spark.sql.shuffle.partitions": "4",
            "spark.local.dir": str(workdir / "local"),
            "spark.sql.warehouse.dir": str(workdir / "warehouse"),
            **{k: str(v) for k, v in project_spark_config().get("session_conf", {}).items()},
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    server = ConnectServer(process, port, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"The test Spark Connect server exited with {process.returncode}: {_tail(log)}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"The test Spark Connect server did not listen on {port} within "
                    f"{SERVER_START_TIMEOUT_S:g} s: {_tail(log)}"
                ) from None
            time.sleep(0.5)


def _die_with_parent() -> None:
    """In the server's process: get SIGTERM when the test process dies, even by SIGKILL (Linux;
    the JVM keeps it, as spark-submit execs java), so no JVM outlives an interrupted run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# A run that ends without the fixtures' teardown (interrupted, or a helper used outside pytest)
# must not leave a JVM behind.
atexit.register(stop_engines)


# --- fixtures (registered in tests/conftest.py) ------------------------------------------------


@pytest.fixture(scope="session", params=ENGINE_MODES)
def engine_mode(request: pytest.FixtureRequest) -> str:
    """The engine's name; session-scoped so that pytest groups the tests by engine."""
    return str(request.param)


@pytest.fixture
def engine(engine_mode: str) -> EngineUnderTest:
    """The engine for this test, current in :mod:`nyc_lakehouse.spark` (see the module doc)."""
    return EngineUnderTest(engine_mode, use_engine(engine_mode))


@pytest.fixture(autouse=True)
def _default_engine_unless_asked(request: pytest.FixtureRequest) -> None:
    """A test without ``engine`` runs on Sail even right after a ``jvm`` or ``remote`` test."""
    if "engine" not in request.fixturenames:
        back_to_sail()


@pytest.fixture(scope="session", autouse=True)
def _engines_stopped_at_the_end() -> Any:
    yield
    stop_engines()
