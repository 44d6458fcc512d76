"""The session factory's promises, checked on real engines.

* Sail's Parquet statistics are off: with them on, Sail 0.7.2 returns a wrong min/max after a
  string-to-number cast, silently (checked: min 1000001 > max 999999 with statistics on).
* ``remote`` mode talks to any Spark Connect server (here a second, separate Sail server on
  127.0.0.1) and never stops a server it did not start.
* Sessions are stopped before the embedded server, and a process that never calls
  ``stop_spark()`` still exits (atexit) instead of hanging.
* The Kedro hook stops the engine after a run only if the run started it.
* With Sail, PySpark records no call sites (Sail reports none, and recording them walks the
  stack on every call), unless the user's ``session_conf`` asks for them; remote mode records
  them.

Lifecycle tests run in a child process: stopping the engine here would stop the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def _run_child(code: str, timeout: float = 90, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, the test's observations."""
    result = _run_child_process(code, timeout, **env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run_child_process(
    code: str, timeout: float = 90, **env: str
) -> subprocess.CompletedProcess[str]:
    # pyspark leaves SPARK_REMOTE / SPARK_CONNECT_MODE_ENABLED / SPARK_LOCAL_REMOTE in this
    # process's environment once a session exists: a fresh process must not inherit them.
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARK_", "PYSPARK_"))
        and k not in ("NYC_LAKEHOUSE_SPARK_MODE", "DATABRICKS_RUNTIME_VERSION")
    }
    child_env = {**inherited, "KEDRO_DISABLE_TELEMETRY": "true", "RUST_LOG": "error", **env}
    # a script file, not ``python -c``: pyspark looks for SPARK_HOME next to sys.argv[0]
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "child.py"
        script.write_text(textwrap.dedent(code))
        result = subprocess.run(
            [sys.executable, str(script)],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,  # a hang at exit fails the test here
        )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def test_string_to_number_min_max_is_right_on_parquet(spark, tmp_path):
    # text order: "1000001" < "1000005" < "250000" < "999999"; numeric order is the reverse-ish
    values = ["999999", "1000005", "250000", "1000001"]
    pq.write_table(pa.table({"x": pa.array(values)}), tmp_path / "coordinates.parquet")
    row = (
        spark.read.parquet(str(tmp_path))
        .selectExpr("min(cast(x as double)) AS low", "max(cast(x as double)) AS high")
        .collect()[0]
    )
    assert (row["low"], row["high"]) == (250000.0, 1000005.0)


def test_remote_mode_uses_any_spark_connect_server_and_leaves_it_running():
    observed = _run_child(
        """
        import json, os
        from pysail.spark import SparkConnectServer
        from pyspark.sql import SparkSession
        from nyc_lakehouse import spark as engine

        server = SparkConnectServer("127.0.0.1", 0)  # "a cluster": not started by the factory
        server.start(background=True)
        host, port = server.listening_address
        os.environ["SPARK_REMOTE"] = f"sc://{host}:{port}"
        settings = engine.settings_from_config({"mode": "sail"})  # the file says sail
        engine.configure(settings)
        session = engine.get_spark()
        total = session.range(5).selectExpr("sum(id) AS s").collect()[0]["s"]
        from pyspark.errors.utils import is_debugging_enabled

        result = {
            "mode": settings.mode,
            "local": engine.is_local_engine(),
            "total": total,
            "factory_started_a_server": engine._server is not None,
            # a remote server may report call sites in its errors: they are still recorded
            "call_sites_recorded": is_debugging_enabled(),
        }
        engine.stop_spark()
        other = SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
        result["server_alive_after_stop"] = other.range(3).count()
        other.stop()
        server.stop()
        print(json.dumps(result))
        """
    )
    assert observed == {
        "mode": "remote",
        "local": False,
        "total": 10,
        "factory_started_a_server": False,
        "call_sites_recorded": True,
        "server_alive_after_stop": 3,
    }


def test_the_session_is_stopped_before_the_server_and_exit_does_not_hang():
    observed = _run_child(
        """
        import json
        from nyc_lakehouse import spark as engine

        engine.configure(engine.SparkSettings(mode="sail"))
        session = engine.get_spark()
        assert session.range(3).count() == 3
        calls = []
        for name, target in (("session", engine._session), ("server", engine._server)):
            real_stop = target.stop
            def recorded(*args, _name=name, _stop=real_stop, **kwargs):
                calls.append(_name)
                return _stop(*args, **kwargs)
            target.stop = recorded
        engine.stop_spark()
        engine.stop_spark()  # safe twice
        print(json.dumps({"calls": calls, "running": engine.is_running()}))
        """
    )
    assert observed == {"calls": ["session", "server"], "running": False}

    # no stop_spark() at all: the atexit handler stops both and the process ends
    observed = _run_child(
        """
        import json
        from nyc_lakehouse import spark as engine

        print(json.dumps({"n": engine.get_spark().range(4).count()}))
        """,
        timeout=60,
    )
    assert observed == {"n": 4}


def _allocator_options(stderr: str) -> dict[str, str]:
    """mimalloc's option values as it prints them at start-up with MIMALLOC_VERBOSE=1."""
    options = {}
    for line in stderr.splitlines():
        if line.startswith("option '"):
            name, _, value = line.removeprefix("option '").partition("':")
            options[name] = value.strip()
    return options


_ENGINE_QUERY = """
    from nyc_lakehouse import spark as engine

    engine.configure(engine.SparkSettings(mode="sail"))
    print(engine.get_spark().range(5).count())
    engine.stop_spark()
    """


def test_sail_allocator_uses_regular_pages_and_lazy_purge_unless_the_user_says_otherwise():
    # Set before Sail's library loads, or mimalloc never sees them (huge pages zeroed on every
    # reuse cost silver a visible share of its CPU on large loads).
    result = _run_child_process(_ENGINE_QUERY, MIMALLOC_VERBOSE="1")
    options = _allocator_options(result.stderr)
    assert result.stdout.strip().splitlines()[-1] == "5"
    assert options["allow_thp"] == "0"
    assert options["purge_decommits"] == "0"

    result = _run_child_process(_ENGINE_QUERY, MIMALLOC_VERBOSE="1", MIMALLOC_ALLOW_THP="1")
    options = _allocator_options(result.stderr)
    assert options["allow_thp"] == "1"
    assert options["purge_decommits"] == "0"


def test_a_suspended_engine_keeps_its_dataframes_and_every_engine_stops_at_the_end():
    observed = _run_child(
        """
        import json
        from nyc_lakehouse import spark as engine

        engine.configure(engine.SparkSettings(mode="sail"))
        first = engine.get_spark()
        frame = first.range(5)
        aside = engine.suspend()
        result = {"running_after_suspend": engine.is_running()}
        engine.configure(engine.SparkSettings(mode="sail", app_name="second"))
        second = engine.get_spark()  # a second engine while the first is set aside
        result["second_is_new"] = second is not first and engine._server is not aside.server
        try:
            engine.resume(aside)
        except RuntimeError as exc:
            result["resume_while_running"] = "stop_spark() or suspend() it first" in str(exc)
        engine.stop_spark()
        result["resumed_is_first"] = engine.resume(aside) is first
        result["old_dataframe"] = frame.selectExpr("sum(id) AS s").first()["s"]
        engine.suspend()
        engine.configure(engine.SparkSettings(mode="sail"))
        engine.get_spark()
        engine.stop_all()  # the running one and the suspended one
        result["all_stopped"] = not engine.is_running() and not engine._suspended
        print(json.dumps(result))
        """,
        timeout=60,  # a server left running would hang the exit here
    )
    assert observed == {
        "running_after_suspend": False,
        "second_is_new": True,
        "resume_while_running": True,
        "resumed_is_first": True,
        "old_dataframe": 10,
        "all_stopped": True,
    }


_IDLE_SESSION = """
    import json, os, time
    from nyc_lakehouse import spark as engine

    engine.configure(engine.SparkSettings(mode="sail"))
    session = engine.get_spark()
    session.range(1).count()
    time.sleep(4)  # idle, as a notebook between cells or a session parked during other tests
    try:
        alive = session.range(3).count() == 3
    except Exception as exc:
        alive = "expired" if "is not running" in str(exc) else repr(exc)
    print(json.dumps({"alive": alive, "timeout": os.environ["SAIL_SPARK__SESSION_TIMEOUT_SECS"]}))
    engine.stop_spark()
    """


def test_an_idle_sail_session_is_not_dropped_unless_the_user_says_so():
    # Sail drops sessions idle for its timeout (15 minutes by default): with a 2 s timeout the
    # session is gone after 4 s, so the variable is the one that matters...
    observed = _run_child(_IDLE_SESSION, SAIL_SPARK__SESSION_TIMEOUT_SECS="2")
    assert observed == {"alive": "expired", "timeout": "2"}
    # ...and the factory sets it to a year: the embedded server's only client is this process.
    observed = _run_child(_IDLE_SESSION)
    assert observed == {"alive": True, "timeout": str(365 * 24 * 3600)}


_CALL_SITE_PROBE = """
    import json
    from pyspark.errors.utils import is_debugging_enabled
    from nyc_lakehouse import spark as engine

    engine.configure(engine.SparkSettings(mode="sail", session_conf={conf}))
    session = engine.get_spark()
    from pyspark.sql import functions as F

    total = session.range(4).select((F.col("id") * 2).alias("x")).groupBy().sum("x").first()[0]
    print(json.dumps({{"total": total, "call_sites_recorded": is_debugging_enabled()}}))
    engine.stop_spark()
    """


def test_with_sail_no_call_sites_are_recorded_unless_the_user_asks():
    # Sail reports no call sites in its errors; recording them walked the Python stack on every
    # DataFrame and Column call (a fifth of a daily silver run).
    observed = _run_child(_CALL_SITE_PROBE.format(conf="{}"))
    assert observed == {"total": 12, "call_sites_recorded": False}

    user_on = '{"spark.python.sql.dataFrameDebugging.enabled": "true"}'
    observed = _run_child(_CALL_SITE_PROBE.format(conf=user_on))
    assert observed == {"total": 12, "call_sites_recorded": True}


def test_the_kedro_hook_stops_only_an_engine_the_run_started():
    observed = _run_child(
        """
        import json
        from nyc_lakehouse import spark as engine
        from nyc_lakehouse.hooks import SparkHooks

        engine.configure(engine.SparkSettings(mode="sail"))
        result = {}
        hooks = SparkHooks()
        hooks.before_pipeline_run()  # a run in a fresh process: nothing running yet
        engine.get_spark().range(1).count()  # a node starts the engine
        hooks.after_pipeline_run()
        result["after_run_that_started_it"] = engine.is_running()

        engine.get_spark()  # a notebook's session, running before the run
        hooks = SparkHooks()
        hooks.before_pipeline_run()
        hooks.after_pipeline_run()
        result["notebook_session_survives"] = engine.is_running()
        hooks.on_pipeline_error()
        result["survives_a_failed_run_too"] = engine.is_running()
        engine.stop_spark()

        hooks = SparkHooks()
        hooks.before_pipeline_run()
        engine.get_spark().range(1).count()
        hooks.on_pipeline_error()
        result["failed_run_stops_what_it_started"] = engine.is_running()
        print(json.dumps(result))
        """
    )
    assert observed == {
        "after_run_that_started_it": False,
        "notebook_session_survives": True,
        "survives_a_failed_run_too": True,
        "failed_run_stops_what_it_started": False,
    }


def test_a_databricks_runtime_selects_databricks_mode_and_the_env_var_wins(monkeypatch):
    from nyc_lakehouse import spark as engine

    monkeypatch.delenv("NYC_LAKEHOUSE_SPARK_MODE", raising=False)
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "15.4")
    assert engine.settings_from_config({"mode": "sail"}).mode == "databricks"
    monkeypatch.setenv("NYC_LAKEHOUSE_SPARK_MODE", "sail")
    assert engine.settings_from_config({"mode": "databricks"}).mode == "sail"
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION")
    monkeypatch.delenv("NYC_LAKEHOUSE_SPARK_MODE")
    monkeypatch.setenv("SPARK_REMOTE", "sc://cluster:15002")
    assert engine.settings_from_config({}).mode == "remote"  # SPARK_REMOTE alone implies remote
