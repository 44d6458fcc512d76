"""The engine modes on real engines: Sail, local JVM Spark with delta-spark, and a JVM Spark
Connect server with delta-spark (``remote``), through the shared fixtures of tests/engines.py.
Merges, history and the other Delta operations on each engine are the Delta contract's
(tests/datasets/test_delta_contract.py); here, what the session factory promises.

Each mode that cannot start says why within 60 seconds (no Java, no jars, no server), checked in
child processes so that the test session's engines are untouched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from engines import on_engines
from nyc_lakehouse import spark as engine_module
from nyc_lakehouse.spark_jvm import DELTA_JARS, JVM_DELTA_CONF, jvm_conf

EXPECTED_FAMILY = {"sail": "sail", "jvm": "spark"}


def test_every_engine_writes_and_reads_delta_in_the_project_time_zone(engine, tmp_path):
    from pyspark.sql import functions as F

    spark = engine.spark
    assert engine_module.current_mode() == engine.mode
    assert engine_module.get_spark() is spark
    assert engine_module.is_local_engine() == (engine.mode in ("sail", "jvm"))
    assert spark.conf.get("spark.sql.session.timeZone") == "America/New_York"
    path = str(tmp_path / "numbers")
    frame = spark.range(6).withColumn("parity", F.col("id") % 2)
    frame.write.format("delta").mode("overwrite").save(path)
    frame.where("id >= 4").write.format("delta").mode("append").save(path)
    counts = {
        row["parity"]: row["n"]
        for row in spark.read.format("delta")
        .load(path)
        .groupBy("parity")
        .count()
        .withColumnRenamed("count", "n")
        .collect()
    }
    assert counts == {0: 4, 1: 4}
    # a floating local time is read in New York and keeps its wall clock
    hour = spark.sql("SELECT hour(timestamp'2024-03-10 23:10:00') AS h").first()["h"]
    assert hour == 23


def test_writer_family_follows_the_engine(engine):
    if engine.mode == "remote":
        # delta.tables over Spark Connect needs Delta Connect's server plugins, optional in setup
        from nyc_lakehouse.spark_jvm import delta_connect_jar_paths

        assert engine.family == ("spark" if delta_connect_jar_paths() else "sql")
    else:
        assert engine.family == EXPECTED_FAMILY[engine.mode]


@on_engines("sail", "jvm")
def test_sail_has_no_dst_from_2100(engine):
    """A New York summer wall time in 2100 is 16:00 UTC (EDT); Sail 0.7.2 says 17:00 (EST all
    year from 2100: its zone tables stop in 2099), JVM Spark applies the rule. Only absurd
    future dates reach those years; tests/test_engine_parity.py reconciles them. When this fails
    on Sail, the defect is fixed: drop ``reconcile_sail_local_times_after_2099`` there."""
    utc_hours = {  # the session time zone is New York: the literal is a New York wall time
        year: engine.spark.sql(
            f"SELECT CAST(unix_timestamp(timestamp'{year}-07-01 12:00:00') % 86400 / 3600 AS INT)"
            " AS h"
        ).first()["h"]
        for year in (2099, 2100)
    }
    expected_2100 = 17 if engine.mode == "sail" else 16
    assert utc_hours == {2099: 16, 2100: expected_2100}


def test_jvm_settings_come_from_spark_yml_and_delta_is_forced(tmp_path, monkeypatch):
    for artifact in DELTA_JARS:  # a Maven repository with the jars in place (empty files)
        path = artifact.path(tmp_path)
        path.parent.mkdir(parents=True)
        path.touch()
    monkeypatch.setenv("NYC_LAKEHOUSE_MAVEN_REPO", str(tmp_path))
    monkeypatch.delenv("NYC_LAKEHOUSE_SPARK_MODE", raising=False)
    settings = engine_module.settings_from_config(
        {
            "mode": "jvm",
            "session_conf": {"spark.sql.session.timeZone": "America/New_York"},
            "jvm": {
                "driver_memory": "3g",
                "conf": {
                    "spark.sql.extensions": "com.example.MyExtension",
                    "spark.sql.shuffle.partitions": "4",
                },
            },
        }
    )
    conf = jvm_conf(settings)
    assert settings.mode == "jvm" and settings.jvm_master == "local[*]"
    assert conf["spark.driver.memory"] == "3g"
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.sql.session.timeZone"] == "America/New_York"
    assert conf["spark.sql.extensions"] == (
        f"{JVM_DELTA_CONF['spark.sql.extensions']},com.example.MyExtension"
    )
    assert (
        conf["spark.sql.catalog.spark_catalog"] == JVM_DELTA_CONF["spark.sql.catalog.spark_catalog"]
    )
    assert conf["spark.jars"].split(",") == [str(a.path(tmp_path)) for a in DELTA_JARS]


def test_unknown_jvm_keys_are_rejected():
    with pytest.raises(ValueError, match="driver_mem"):
        engine_module.settings_from_config({"jvm": {"driver_mem": "1g"}})


# --- failures that must be fast and clear (child processes) ------------------------------------

_START = """
    import json, time
    from nyc_lakehouse import spark as engine

    engine.configure(engine.SparkSettings(mode={mode!r}, remote={remote!r}, connect_timeout_s={timeout}))
    started = time.monotonic()
    try:
        engine.get_spark()
        outcome = {{"error": None}}
    except engine.EngineStartError as exc:
        outcome = {{"error": str(exc)}}
    outcome["seconds"] = time.monotonic() - started
    print(json.dumps(outcome), flush=True)
    """


def _start_in_child(mode: str, remote: str | None = None, timeout: float = 30, **env: str) -> dict:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SPARK_", "PYSPARK_")) and k != "NYC_LAKEHOUSE_SPARK_MODE"
    }
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "child.py"
        script.write_text(textwrap.dedent(_START.format(mode=mode, remote=remote, timeout=timeout)))
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(script)],
            env={**inherited, "KEDRO_DISABLE_TELEMETRY": "true", **env},
            capture_output=True,
            text=True,
            timeout=90,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    outcome["process_seconds"] = elapsed
    return outcome


def test_jvm_without_java_says_so(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with no java on it
    bin_dir.mkdir()
    outcome = _start_in_child("jvm", PATH=str(bin_dir), JAVA_HOME="")
    assert outcome["error"] is not None and "`java` is not on PATH" in outcome["error"]
    assert outcome["process_seconds"] < 60


def test_jvm_with_java_11_says_spark_needs_17(tmp_path):
    bin_dir = tmp_path / "bin"  # a `java` that is Java 11, first on PATH
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    outcome = _start_in_child("jvm", PATH=f"{bin_dir}:{os.environ['PATH']}", JAVA_HOME="")
    assert outcome["error"] is not None
    assert "needs Java 17 or later (Spark 4.0)" in outcome["error"]
    assert f"{java} is Java 11" in outcome["error"]


def test_jvm_with_a_broken_java_home_says_so(tmp_path):
    outcome = _start_in_child("jvm", JAVA_HOME=str(tmp_path / "no-jdk"))
    assert outcome["error"] is not None and "JAVA_HOME" in outcome["error"]
    assert str(tmp_path / "no-jdk") in outcome["error"]


def test_jvm_without_jars_says_which_and_how_to_fetch_them(tmp_path):
    outcome = _start_in_child("jvm", NYC_LAKEHOUSE_MAVEN_REPO=str(tmp_path / "empty-repo"))
    assert outcome["error"] is not None
    assert "delta-spark_2.13-4.0.0.jar" in outcome["error"]
    assert "make jars" in outcome["error"]
    assert outcome["process_seconds"] < 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_remote_without_a_server_fails_at_once():
    port = _free_port()  # nothing listens there
    outcome = _start_in_child("remote", remote=f"sc://127.0.0.1:{port}")
    assert outcome["error"] is not None
    assert f"no Spark Connect server answers at 127.0.0.1:{port}" in outcome["error"]
    assert outcome["seconds"] < 10


def test_remote_server_that_never_answers_fails_within_the_timeout():
    # accepts TCP connections and then says nothing, like a hung server
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        outcome = _start_in_child("remote", remote=f"sc://127.0.0.1:{port}", timeout=5)
    assert outcome["error"] is not None
    assert "no Spark Connect server answered within 5 s" in outcome["error"]
    assert 5 <= outcome["seconds"] < 20
    assert outcome["process_seconds"] < 60
