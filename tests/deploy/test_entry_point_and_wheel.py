"""The job entry point (argument parsing, early errors) and the Databricks wheel step."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import tomllib
import zipfile
from pathlib import Path

import pytest

from nyc_lakehouse.deploy import databricks_run, wheel
from nyc_lakehouse.deploy.databricks_run import RunRequest, parse_args, parse_params

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# --- entry point ---------------------------------------------------------------------------
def test_params_use_kedro_syntax_and_types():
    assert parse_params("nyc311.ingestion.mode=backfill,nyc311.ingestion.page_size=500,x=") == {
        "nyc311": {"ingestion": {"mode": "backfill", "page_size": 500}},
        "x": None,
    }
    assert parse_params("a.start=2019-01-01, a.end=2019-12-31,") == {
        "a": {"start": "2019-01-01", "end": "2019-12-31"}
    }
    assert parse_params("") == {} and parse_params(None) == {}


@pytest.mark.parametrize("bad", ["nyc311.ingestion.mode", "=backfill", "a=1,oops"])
def test_malformed_params_name_the_bad_item(bad):
    with pytest.raises(ValueError, match="Invalid --params item"):
        parse_params(bad)


def test_task_arguments_parse_with_databricks_defaults():
    request = parse_args(["--pipeline", "silver", "--conf-source", "/Workspace/x/conf"])
    assert request == RunRequest(
        pipeline="silver", env="databricks", conf_source="/Workspace/x/conf"
    )
    with pytest.raises(SystemExit):
        parse_args(["--env", "databricks"])  # --pipeline is required


def test_missing_configuration_fails_before_anything_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no base/ folder"):
        databricks_run.run(RunRequest(pipeline="gold", conf_source=str(tmp_path)))
    (tmp_path / "base").mkdir()
    with pytest.raises(FileNotFoundError, match="--env 'databricks'"):
        databricks_run.run(RunRequest(pipeline="gold", conf_source=str(tmp_path)))


def test_unknown_pipeline_is_rejected_with_the_valid_names():
    request = RunRequest(pipeline="glod", conf_source=str(PROJECT_ROOT / "conf"))
    with pytest.raises(ValueError, match=r"Unknown pipeline 'glod'; registered pipelines: .*gold"):
        databricks_run.run(request)


# --- trust boundary: what a "run now with different parameters" may change ------------------
@pytest.fixture
def deployed_bundle(tmp_path):
    """A bundle files folder with its conf/ (base and databricks), and a folder outside it."""
    files = tmp_path / "bundle" / "files"
    for env in ("base", "databricks"):
        (files / "conf" / env).mkdir(parents=True)
    (tmp_path / "elsewhere" / "base").mkdir(parents=True)
    (tmp_path / "elsewhere" / "databricks").mkdir()
    return files


def test_only_the_deployed_bundles_conf_is_accepted(deployed_bundle, tmp_path):
    environ = {databricks_run.BUNDLE_FILES_ENV: str(deployed_bundle)}
    conf = deployed_bundle / "conf"
    for same in (conf, deployed_bundle / "conf" / ".." / "conf"):
        databricks_run.check_trusted_source(RunRequest("silver", conf_source=str(same)), environ)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    for other in (
        tmp_path / "elsewhere",
        conf / ".." / ".." / ".." / "elsewhere",
        tmp_path / "link",
    ):
        with pytest.raises(PermissionError, match="not the deployed bundle's conf/"):
            databricks_run.check_trusted_source(
                RunRequest("silver", conf_source=str(other)), environ
            )
    with pytest.raises(PermissionError, match="not the deployed bundle's conf/"):
        databricks_run.check_trusted_source(RunRequest("silver"), environ)
    with pytest.raises(PermissionError, match="plain folder name"):
        databricks_run.check_trusted_source(
            RunRequest("silver", env="../../elsewhere/databricks", conf_source=str(conf)), environ
        )


def test_a_databricks_cluster_without_the_bundle_location_fails_closed(tmp_path):
    request = RunRequest("silver", conf_source=str(tmp_path))
    databricks_run.check_trusted_source(request, {})  # a laptop: any folder
    with pytest.raises(PermissionError, match="NYC_LAKEHOUSE_BUNDLE_FILES is not set"):
        databricks_run.check_trusted_source(request, {"DATABRICKS_RUNTIME_VERSION": "17.3"})


def test_run_refuses_a_foreign_conf_source_before_loading_it(
    deployed_bundle, tmp_path, monkeypatch
):
    monkeypatch.setenv(databricks_run.BUNDLE_FILES_ENV, str(deployed_bundle))
    with pytest.raises(PermissionError, match="not the deployed bundle's conf/"):
        databricks_run.run(RunRequest("gold", conf_source=str(tmp_path / "elsewhere")))


@pytest.mark.parametrize(
    "params",
    [
        "nyc311.ingestion.source=socrata,nyc911.ingestion.source=socrata",
        "nyc311.ingestion.mode=backfill,nyc311.ingestion.start=2019-01-01,"
        "nyc311.ingestion.end=2019-12-31",
        "nyc911.ingestion.mode=incremental",
        "full_refresh=true",
        "sources.nyc911=false",
        "",
    ],
)
def test_allowed_params_pass(params):
    databricks_run.check_params(parse_params(params))


@pytest.mark.parametrize(
    "params",
    [
        "nyc311.ingestion.base_url=http://attacker.example",
        "nyc311.ingestion.export_path=/etc/passwd",
        "nyc311.ingestion.page_size=1",
        "bronze.nyc311.dataset=other",
        "nyc311=x",
        "Nyc311.ingestion.mode=backfill",
    ],
)
def test_other_params_are_refused(params):
    with pytest.raises(PermissionError, match="not a parameter a job run may set"):
        databricks_run.check_params(parse_params(params))


@pytest.mark.parametrize(
    "params",
    [
        "nyc311.ingestion.source=sample",
        "nyc311.ingestion.mode=replace",
        "nyc311.ingestion.start=2019-01-01T00:00:00",
        "nyc311.ingestion.end=yesterday",
        "full_refresh=1",
        "full_refresh=maybe",
        "sources.nyc911=off_by_env",
    ],
)
def test_allowed_params_with_other_values_are_refused(params):
    with pytest.raises(ValueError, match="not an allowed value"):
        databricks_run.check_params(parse_params(params))


def test_run_refuses_a_disallowed_param_before_anything_runs():
    request = RunRequest(
        "ingestion",
        conf_source=str(PROJECT_ROOT / "conf"),
        params=parse_params("nyc311.ingestion.base_url=http://127.0.0.1:9"),
    )
    with pytest.raises(PermissionError, match="nyc311.ingestion.base_url"):
        databricks_run.run(request)


# --- wheel step ----------------------------------------------------------------------------
METADATA = """Metadata-Version: 2.4
Name: nyc-lakehouse
Version: 0.1.0
Requires-Dist: kedro==1.7.0
Requires-Dist: pysail==0.7.2
Requires-Dist: pyspark[connect]==4.0.1
Requires-Dist: PySpark_Client==4.2.0
Requires-Dist: pyspark-client-extra>=1; extra == "x"
Requires-Dist: Delta.Spark==4.0.0
Requires-Dist: deltalake==1.6.6

Long description mentioning Requires-Dist: pysail stays untouched.
"""


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(path: Path) -> dict[str, bytes]:
    files = {
        "nyc_lakehouse/__init__.py": b"",
        "nyc_lakehouse/spark.py": b"import os\n",
        "nyc_lakehouse-0.1.0.dist-info/METADATA": METADATA.encode(),
        "nyc_lakehouse-0.1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\n",
    }
    rows = [[name, record_hash(data), str(len(data))] for name, data in files.items()]
    rows.append(["nyc_lakehouse-0.1.0.dist-info/RECORD", "", ""])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    files["nyc_lakehouse-0.1.0.dist-info/RECORD"] = out.getvalue().encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return files


def test_wheel_step_drops_the_local_engine_and_the_runtimes_packages_and_keeps_record_valid(
    tmp_path,
):
    path = tmp_path / "nyc_lakehouse-0.1.0-py3-none-any.whl"
    original = make_wheel(path)
    removed = wheel.strip_wheel(path)
    assert removed == [
        "Requires-Dist: pysail==0.7.2",
        "Requires-Dist: pyspark[connect]==4.0.1",
        "Requires-Dist: PySpark_Client==4.2.0",
        "Requires-Dist: Delta.Spark==4.0.0",
    ]
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        contents = {n: archive.read(n) for n in names}
    assert names == list(original)  # same files, same order (RECORD last)
    metadata = contents["nyc_lakehouse-0.1.0.dist-info/METADATA"].decode()
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, flags=re.M)
    assert requires == ["kedro==1.7.0", 'pyspark-client-extra>=1; extra == "x"', "deltalake==1.6.6"]
    assert "mentioning Requires-Dist: pysail stays" in metadata
    for name in names:
        if not name.endswith("METADATA") and not name.endswith("RECORD"):
            assert contents[name] == original[name]
    record = {row[0]: row[1:] for row in csv.reader(io.StringIO(contents[names[-1]].decode()))}
    for name, data in contents.items():
        if not name.endswith("RECORD"):
            assert record[name] == [record_hash(data), str(len(data))], name
    assert wheel.strip_wheel(path) == []  # idempotent


def test_wheel_command_reports_and_fails_without_wheels(tmp_path, capsys):
    assert wheel.main([str(tmp_path)]) == 1
    assert "No wheel found" in capsys.readouterr().out
    make_wheel(tmp_path / "a-0.1-py3-none-any.whl")
    assert wheel.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "removed Requires-Dist: kedro==1.7.0, Requires-Dist: pysail==0.7.2" in out


def test_the_bundles_wheel_declares_no_dependency(tmp_path):
    """requirements-databricks.txt installs them, hashed: an open range in the wheel would let
    pip fetch an unverified version should the cluster install the wheel first."""
    path = tmp_path / "nyc_lakehouse-0.1.0-py3-none-any.whl"
    make_wheel(path)
    assert wheel.main([str(path)]) == 0
    with zipfile.ZipFile(path) as archive:
        metadata = archive.read("nyc_lakehouse-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist" not in metadata.split("\n\n", 1)[0]
    assert metadata.startswith("Metadata-Version: 2.4\nName: nyc-lakehouse\n")


def test_dropped_requirements_are_real_dependencies_used_only_by_the_sail_mode():
    """If pyproject renames the engine packages, the wheel step must follow; and no module but
    the session factory may import pysail (the Databricks wheel does not install it)."""
    dependencies = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    names = {wheel.requirement_name(d) for d in dependencies}
    assert {"pysail", "pyspark", "delta-spark"} <= names
    assert names & set(wheel.DATABRICKS_DROPPED_REQUIREMENTS) == {
        "pysail",
        "pyspark",
        "delta-spark",
        "kedro-viz",
    }
    importers = [
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in (PROJECT_ROOT / "src").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+pysail\b", path.read_text(), flags=re.M)
    ]
    assert importers == ["src/nyc_lakehouse/spark.py"], importers


def test_the_task_command_runs_a_real_pipeline(tmp_path):
    """Exactly what a job task executes, in a fresh process: Kedro session from --conf-source,
    runtime --params, project hooks. The ingestion pipeline lands one sample month per dataset."""
    import json
    import os
    import subprocess
    import sys

    data = tmp_path / "data"
    params = ",".join(
        f"{ds}.ingestion.{key}={value}"
        for ds in ("nyc311", "nyc911")
        for key, value in (("mode", "backfill"), ("start", "2020-01-01"), ("end", "2020-01-31"))
    )
    env = {**os.environ, "NYC_LAKEHOUSE_DATA_ROOT": str(data), "KEDRO_DISABLE_TELEMETRY": "true"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nyc_lakehouse.deploy.databricks_run",
            "--pipeline",
            "ingestion",
            "--env",
            "test",
            "--conf-source",
            str(PROJECT_ROOT / "conf"),
            "--params",
            params,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for dataset in ("nyc311", "nyc911"):
        manifests = list(
            (data / "landing" / dataset).glob("ingest_date=*/batch_id=*/_manifest.json")
        )
        assert [m.parent.name for m in manifests] == ["batch_id=sample-2020-01"], dataset
        assert json.loads(manifests[0].read_text())["rows"] > 0
