"""Local JVM Spark with delta-spark: its jars, its Java, its settings.

The ``pyspark`` package brings Spark's own jars (Spark Connect and antlr4 included), so JVM Spark
with Delta needs only two more: ``delta-spark`` and ``delta-storage``. ``make setup`` (``make
jars``) fetches them into the local Maven repository with ``mvn dependency:get``; the engine then
puts their paths in ``spark.jars``. That starts without any resolver run (``spark.jars.packages``
would run Ivy on every start and reach the network when its cache is cold) and works offline.

Delta Connect's server plugin (``io.delta:delta-connect-server_2.13``, needed for
``delta.tables`` over Spark Connect) is fetched too when the Maven repository has it; it is
optional: without it a Spark Connect server still reads and writes Delta through SQL.

``python -m nyc_lakehouse.spark_jvm`` fetches (what ``make jars`` does); ``--check`` lists what
is missing; ``serve [PORT]`` runs a Spark Connect server with Delta on 127.0.0.1 (default port
15002) for mode ``remote``. The session itself is started by :mod:`nyc_lakehouse.spark`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nyc_lakehouse.spark import EngineStartError

if TYPE_CHECKING:
    from nyc_lakehouse.spark import SparkSettings

DELTA_VERSION = "4.0.0"
SCALA_BINARY = "2.13"
MAVEN_REPO_ENV_VAR = "NYC_LAKEHOUSE_MAVEN_REPO"
FETCH_HINT = "make jars"

# What makes local JVM Spark a Delta engine: without these, format("delta") is unknown.
JVM_DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}

# Defaults for the local JVM; ``jvm.conf`` in spark.yml wins. The web UI and the console
# progress bars only add start time and noise to a batch run. Python workers (pandas UDFs) run
# this interpreter: the ``python3`` on PATH may be another one, without pandas or pyarrow.
JVM_DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.pyspark.python": sys.executable,
    "spark.pyspark.driver.python": sys.executable,
}

# Spark 4.0 runs on Java 17 and 21 only; older ones fail deep inside the launcher.
MIN_JAVA = 17


@dataclass(frozen=True)
class Artifact:
    """One Maven artifact, fetched without its dependencies (Spark's own are in pyspark)."""

    group: str
    name: str
    version: str

    @property
    def coordinate(self) -> str:
        return f"{self.group}:{self.name}:{self.version}"

    def path(self, repository: Path | None = None) -> Path:
        """Where Maven keeps it: ``<repo>/<group as folders>/<name>/<version>/<name>-<version>.jar``."""
        root = repository or maven_repository()
        folder = root.joinpath(*self.group.split("."), self.name, self.version)
        return folder / f"{self.name}-{self.version}.jar"


DELTA_JARS = (
    Artifact("io.delta", f"delta-spark_{SCALA_BINARY}", DELTA_VERSION),
    Artifact("io.delta", "delta-storage", DELTA_VERSION),
)
"""What JVM Spark needs for Delta (``delta-spark``'s other dependency, antlr4-runtime 4.13.1, is
among pyspark's jars)."""

DELTA_CONNECT_JARS = (
    Artifact("io.delta", f"delta-connect-common_{SCALA_BINARY}", DELTA_VERSION),
    Artifact("io.delta", f"delta-connect-server_{SCALA_BINARY}", DELTA_VERSION),
)
"""Optional: the Delta Connect plugins that give a Spark Connect server ``delta.tables``."""


class JarsMissingError(EngineStartError):
    """delta-spark's jars are not in the local Maven repository."""


def maven_repository() -> Path:
    """The local Maven repository: ``$NYC_LAKEHOUSE_MAVEN_REPO``, else ``~/.m2/repository``."""
    configured = os.environ.get(MAVEN_REPO_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".m2" / "repository"


def missing(artifacts: tuple[Artifact, ...] = DELTA_JARS) -> list[Artifact]:
    """The artifacts whose jar is not in the local Maven repository."""
    return [artifact for artifact in artifacts if not artifact.path().is_file()]


def delta_jar_paths() -> list[str]:
    """The paths of delta-spark's jars, or :class:`JarsMissingError` saying how to fetch them."""
    absent = missing(DELTA_JARS)
    if absent:
        raise JarsMissingError(
            "Spark mode 'jvm' needs delta-spark's jars, and "
            + ", ".join(str(a.path()) for a in absent)
            + f" {'is' if len(absent) == 1 else 'are'} missing. Fetch them once with "
            f"`{FETCH_HINT}` (needs Maven and access to Maven Central), or with "
            + " && ".join(
                f"mvn dependency:get -Dtransitive=false -Dartifact={a.coordinate}" for a in absent
            )
            + f". A Maven repository other than ~/.m2/repository: set ${MAVEN_REPO_ENV_VAR}."
        )
    return [str(artifact.path()) for artifact in DELTA_JARS]


def delta_connect_jar_paths() -> list[str]:
    """The Delta Connect server plugin's jars if all are present, else an empty list."""
    if missing(DELTA_CONNECT_JARS):
        return []
    return [str(artifact.path()) for artifact in DELTA_CONNECT_JARS]


def fetch(artifacts: tuple[Artifact, ...], timeout: float = 600) -> list[Artifact]:
    """Fetch each missing artifact with ``mvn dependency:get``; returns the ones still missing.

    Never raises for a network or Maven problem: the caller decides whether that is fatal.
    """
    mvn = shutil.which("mvn")
    absent = missing(artifacts)
    if not absent or mvn is None:
        return absent
    repository_option = []
    if os.environ.get(MAVEN_REPO_ENV_VAR):
        repository_option = [f"-Dmaven.repo.local={maven_repository()}"]
    for artifact in absent:
        try:
            subprocess.run(
                [
                    mvn,
                    "--batch-mode",
                    "--quiet",
                    "--no-transfer-progress",
                    "-Dstyle.color=never",
                    *repository_option,
                    "dependency:get",
                    "-Dtransitive=false",
                    f"-Dartifact={artifact.coordinate}",
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
    return missing(artifacts)


def java_executable() -> str:
    """The ``java`` that Spark's launcher will run, checked to be Java 17 or later.

    Raises :class:`EngineStartError` naming what is missing: Spark's own error for a missing
    Java ("Java gateway process exited") says nothing about Java.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise EngineStartError(
                f"Spark mode 'jvm' needs Java {MIN_JAVA}: JAVA_HOME is {home}, but {java} "
                "does not exist. Point JAVA_HOME at a JDK 17 or unset it to use `java` on PATH."
            )
        found = str(java)
    else:
        which = shutil.which("java")
        if which is None:
            raise EngineStartError(
                f"Spark mode 'jvm' needs Java {MIN_JAVA}, and `java` is not on PATH (JAVA_HOME "
                "is not set either). Install a JDK 17 (e.g. `apt-get install "
                "openjdk-17-jdk-headless`), or use the default mode 'sail', which needs no Java."
            )
        found = which
    try:
        probe = subprocess.run(
            [found, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineStartError(f"Spark mode 'jvm': {found} -version failed: {exc}") from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match is None:
        raise EngineStartError(
            f"Spark mode 'jvm': could not read the Java version from `{found} -version`: "
            f"{(probe.stderr or probe.stdout).strip()[:300]}"
        )
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_382" is Java 8
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise EngineStartError(
            f"Spark mode 'jvm' needs Java {MIN_JAVA} or later (Spark 4.0), but {found} is "
            f"Java {major}. Install a JDK 17 and set JAVA_HOME to it."
        )
    return found


def jvm_conf(settings: SparkSettings) -> dict[str, str]:
    """Every Spark setting the local JVM starts with (defaults, spark.yml, Delta, jars)."""
    jars = delta_jar_paths()
    conf = {
        **JVM_DEFAULT_CONF,
        "spark.driver.memory": settings.jvm_driver_memory,
        **settings.session_conf,
        **settings.jvm_conf,
    }
    # Delta's settings and jars are required; the user's own extensions and jars are kept.
    for key, value in {**JVM_DELTA_CONF, "spark.jars": ",".join(jars)}.items():
        if key == "spark.sql.catalog.spark_catalog":
            conf[key] = value
        else:
            conf[key] = ",".join(
                dict.fromkeys([value, *filter(None, conf.get(key, "").split(","))])
            )
    return conf


DELTA_CONNECT_PLUGINS = {
    "spark.connect.extensions.relation.classes": (
        "org.apache.spark.sql.connect.delta.DeltaRelationPlugin"
    ),
    "spark.connect.extensions.command.classes": (
        "org.apache.spark.sql.connect.delta.DeltaCommandPlugin"
    ),
}


def connect_server_command(
    port: int,
    host: str = "127.0.0.1",
    master: str = "local[2]",
    driver_memory: str = "1g",
    conf: dict[str, str] | None = None,
) -> list[str]:
    """The command that runs a JVM Spark Connect server with Delta, from the pyspark package.

    pyspark ships ``spark-submit`` and ``spark-connect_2.13``; delta-spark's jars come from the
    local Maven repository (:func:`delta_jar_paths`), and Delta Connect's plugins are added when
    their jars are there too (then ``delta.tables`` works over the connection). The server runs
    in the foreground until it is killed.
    """
    from pyspark.find_spark_home import _find_spark_home

    jars = [*delta_jar_paths(), *delta_connect_jar_paths()]
    settings = {
        **JVM_DEFAULT_CONF,
        **JVM_DELTA_CONF,
        "spark.connect.grpc.binding.address": host,
        "spark.connect.grpc.binding.port": str(port),
        **(DELTA_CONNECT_PLUGINS if delta_connect_jar_paths() else {}),
        **(conf or {}),
    }
    command = [
        str(Path(_find_spark_home()) / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name",
        "nyc-lakehouse Spark Connect server",
        "--master",
        master,
        "--driver-memory",
        driver_memory,
        "--jars",
        ",".join(jars),
    ]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command


def main(argv: list[str] | None = None) -> int:
    """``make jars``: fetch delta-spark's jars once; warn (exit 0) when that is not possible.

    Sail needs none of them, so a machine without Maven or without Maven Central still sets up;
    only the ``jvm`` mode and the tests that run on it then fail, saying the jars are missing.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        port = int(args[1]) if len(args) > 1 else 15002
        java_executable()
        command = connect_server_command(port)
        print(f"Spark Connect server with Delta on sc://127.0.0.1:{port} (Ctrl-C stops it)")
        server = subprocess.Popen(command)  # noqa: S603 - our own command line
        # A plain `kill` of this process must not leave the JVM behind.
        signal.signal(signal.SIGTERM, lambda *_: server.terminate())
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            return server.wait()
    if "--check" in args:
        absent = missing(DELTA_JARS)
        for artifact in absent:
            print(f"missing: {artifact.coordinate} ({artifact.path()})")
        return 1 if absent else 0
    if not missing(DELTA_JARS):
        return 0
    if shutil.which("mvn") is None:
        print(
            "WARNING: Maven (mvn) is not installed, so delta-spark's jars were not fetched. Sail "
            "(the default engine) works; the 'jvm' engine and its tests need them: install Maven "
            f"and run `{FETCH_HINT}`.",
            file=sys.stderr,
        )
        return 0
    print(f"Fetching delta-spark {DELTA_VERSION}'s jars into {maven_repository()} (once)...")
    still_missing = fetch(DELTA_JARS)
    if still_missing:
        print(
            "WARNING: could not fetch "
            + ", ".join(a.coordinate for a in still_missing)
            + " (is Maven Central reachable?). Sail (the default engine) works; the 'jvm' engine "
            f"and its tests need them: run `{FETCH_HINT}` again when Maven can be reached.",
            file=sys.stderr,
        )
        return 0
    # Optional, and absent from some mirrors: a missing plugin only means SQL instead of
    # delta.tables on a Spark Connect server, so it is tried once, with delta-spark's first fetch.
    fetch(DELTA_CONNECT_JARS, timeout=120)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
