"""Security policies of the deployment (docs/security.md): who can change what a prod run
executes, where the token goes, and what the clusters install."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from nyc_lakehouse.deploy import databricks_run, requirements, wheel
from nyc_lakehouse.deploy.databricks_run import RunRequest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "NYC_OPEN_DATA_APP_TOKEN"  # pragma: allowlist secret (a variable name)
SP_FOLDER = "/Users/${var.run_as_service_principal}/"


def strings(tree: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a parsed YAML tree, with its dotted location."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from strings(value, f"{where}.{key}" if where else str(key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from strings(value, f"{where}[{i}]")
    elif isinstance(tree, str):
        yield where, tree


def prod_variables(bundle: dict[str, Any]) -> dict[str, Any]:
    """The variables' values in the prod target: its own, else the defaults."""
    values = {k: v.get("default") for k, v in bundle["variables"].items()}
    return {**values, **bundle["targets"]["prod"].get("variables", {})}


# --- 1. the prod bundle root and experiment --------------------------------------------------
def test_prod_deploys_into_the_service_principals_own_folder(bundle):
    prod = bundle["targets"]["prod"]
    root = prod["workspace"]["root_path"]
    assert root.startswith("/Workspace" + SP_FOLDER), root
    assert prod_variables(bundle)["mlflow_experiment"].startswith(SP_FOLDER)
    assert prod["run_as"] == {"service_principal_name": "${var.run_as_service_principal}"}


def test_no_prod_path_sits_under_shared(bundle):
    """/Shared (and /Workspace/Shared) is writable by every workspace user: whoever writes the
    synced conf/ or the wheel there chooses what the next prod run executes."""
    prod = {
        "target": bundle["targets"]["prod"],
        "variables": prod_variables(bundle),
        "workspace": bundle.get("workspace", {}),
        "artifacts": bundle.get("artifacts", {}),
        "resources": bundle["resources"],
    }
    found = [f"{where}: {value}" for where, value in strings(prod) if "/Shared" in value]
    assert not found, found


def test_the_shared_folder_check_sees_a_shared_path(bundle):
    """Guard for the check above: it must find the path the bundle used to have."""
    old = {**bundle["targets"]["prod"], "workspace": {"root_path": "/Workspace/Shared/.bundle/x"}}
    assert [w for w, v in strings(old) if "/Shared" in v] == ["workspace.root_path"]


def test_each_target_has_its_own_secret_scope(bundle):
    scopes = {name: t["variables"]["secret_scope"] for name, t in bundle["targets"].items()}
    assert scopes["prod"] != scopes["dev"], "a dev job must never read the prod token"
    assert "prod" in scopes["prod"]


# --- 3. the entry point's trust boundary, as the bundle calls it -----------------------------
def test_every_cluster_names_the_bundle_and_every_task_passes_the_entry_points_checks(bundle, jobs):
    from test_bundle import load_jobs_clusters, task_request, wheel_tasks

    for job_key, cluster in load_jobs_clusters(bundle):
        env = cluster["new_cluster"]["spark_env_vars"]
        assert env[databricks_run.BUNDLE_FILES_ENV] == "${workspace.file_path}", job_key
    deployed = "/Workspace/Users/sp/.bundle/nyc-lakehouse/prod/files"
    environ = {databricks_run.BUNDLE_FILES_ENV: deployed, "DATABRICKS_RUNTIME_VERSION": "17.3"}
    for _, task, job in wheel_tasks(jobs):
        request = task_request(task, job)
        as_deployed = RunRequest(
            request.pipeline,
            request.env,
            request.conf_source.replace("${workspace.file_path}", deployed),
            request.params,
        )
        databricks_run.check_trusted_source(as_deployed, environ)
        databricks_run.check_params(request.params)


def test_a_job_parameter_cannot_smuggle_another_param_into_the_task(jobs):
    """Job parameters are pasted into --params text: a value with a comma adds keys, which the
    allow-list must refuse (the base URL would take the token to another host)."""
    from test_bundle import JOB_PARAMETER_REFERENCE

    job = jobs["nyc_lakehouse_backfill"]
    ingestion = [t for t in job["tasks"] if t["task_key"].startswith("ingestion")]
    assert ingestion
    hostile = "2019-01-01,nyc311.ingestion.base_url=http://127.0.0.1:9"
    for task in ingestion:
        arguments = [
            JOB_PARAMETER_REFERENCE.sub(hostile, a) for a in task["python_wheel_task"]["parameters"]
        ]
        assert any(hostile in a for a in arguments), task["task_key"]
        request = databricks_run.parse_args(arguments)
        with pytest.raises(PermissionError, match="base_url"):
            databricks_run.check_params(request.params)


# --- 5. the token only where ingestion runs ---------------------------------------------------
def test_the_token_is_only_on_the_clusters_of_ingestion_tasks(jobs):
    from test_bundle import task_request

    with_token = 0
    for job_key, job in jobs.items():
        clusters = {c["job_cluster_key"]: c["new_cluster"] for c in job["job_clusters"]}
        for task in job["tasks"]:
            has_token = TOKEN in clusters[task["job_cluster_key"]]["spark_env_vars"]
            is_ingestion = task_request(task, job).pipeline.startswith("ingestion")
            where = f"{job_key}.{task['task_key']}"
            assert has_token == is_ingestion, (
                f"{where}: the token belongs on the ingestion tasks' cluster, and only there"
            )
            with_token += has_token
        used = {t["job_cluster_key"] for t in job["tasks"]}
        assert set(clusters) == used, f"{job_key}: unused job clusters {set(clusters) - used}"
    assert with_token >= 2  # the daily and the backfill ingestion


# --- 4. locked, hashed dependencies on the clusters -------------------------------------------
REQUIREMENTS = PROJECT_ROOT / requirements.REQUIREMENTS_FILE


def pinned(text: str) -> dict[str, tuple[Requirement, list[str]]]:
    """Requirement -> its hashes, from a pip requirements file with continuation lines."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    found = {}
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "--")):
            continue
        spec, *options = line.split(" --hash=")
        requirement = Requirement(spec)
        found[wheel.normalize_name(requirement.name)] = (requirement, options)
    return found


@pytest.fixture(scope="module")
def locked() -> dict[str, tuple[Requirement, list[str]]]:
    return pinned(REQUIREMENTS.read_text())


def test_the_requirements_file_is_uv_locks_export():
    assert REQUIREMENTS.read_text() == requirements.export(PROJECT_ROOT), (
        "requirements-databricks.txt is out of date: "
        "uv run python -m nyc_lakehouse.deploy.requirements"
    )
    assert requirements.main(["--check", str(PROJECT_ROOT)]) == 0


def test_every_requirement_is_pinned_and_hashed_and_hashes_are_required(locked):
    options = [line for line in REQUIREMENTS.read_text().splitlines() if line.startswith("--")]
    assert options == ["--require-hashes", "--only-binary :all:"]
    assert len(locked) > 50
    for name, (requirement, hashes) in locked.items():
        assert str(requirement.specifier).startswith("=="), name
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_the_clusters_get_no_local_engine_runtime_or_dev_tool_packages(locked):
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    dev = {wheel.requirement_name(d) for d in pyproject["dependency-groups"]["dev"]}
    tools = {"pytest", "jupyterlab", "ruff", "checkov", "mutmut", "moto", "databricks-bundles"}
    assert tools <= dev  # the names are real: a rename would make this check pass vacuously
    dropped = {wheel.normalize_name(n) for n in wheel.DATABRICKS_DROPPED_REQUIREMENTS}
    assert {"pysail", "pyspark", "delta-spark", "kedro-viz"} <= dropped
    assert not (tools | dropped) & set(locked), (tools | dropped) & set(locked)


def runtime_dependencies() -> list[str]:
    """pyproject's dependencies that a job cluster installs (the dropped ones aside)."""
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    dropped = {wheel.normalize_name(n) for n in wheel.DATABRICKS_DROPPED_REQUIREMENTS}
    return [
        d for d in pyproject["project"]["dependencies"] if wheel.requirement_name(d) not in dropped
    ]


def test_every_runtime_dependency_is_pinned_within_its_range(locked):
    dependencies = runtime_dependencies()
    assert len(dependencies) > 10
    for dependency in dependencies:
        wanted = Requirement(dependency)
        name = wheel.normalize_name(wanted.name)
        assert name in locked, f"{name} is not in {REQUIREMENTS.name}"
        version = str(locked[name][0].specifier).removeprefix("==")
        assert wanted.specifier.contains(version, prereleases=True), (name, version)


def test_every_package_has_a_wheel_for_the_job_clusters(locked):
    """--only-binary: each package the clusters install (Databricks Runtime 17.3: Linux x86_64,
    CPython 3.12) needs a wheel in the lock, or the cluster's library install fails."""
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    wheels = {wheel.normalize_name(p["name"]): p.get("wheels", []) for p in lock["package"]}
    env = {"sys_platform": "linux", "platform_system": "Linux", "python_version": "3.12"}
    env |= {"platform_machine": "x86_64", "implementation_name": "cpython"}
    missing = []
    for name, (requirement, _) in locked.items():
        if requirement.marker and not requirement.marker.evaluate(env):
            continue
        files = [w["url"].rsplit("/", 1)[-1] for w in wheels[name]]
        fits = [
            f
            for f in files
            if f.endswith("-none-any.whl")
            or (re.search(r"-(cp312|abi3|py3)-", f) and re.search(r"linux.*x86_64", f))
        ]
        if not fits:
            missing.append(name)
    assert not missing, missing


def test_the_build_checks_the_file_and_the_sync_ships_it(bundle):
    build = bundle["artifacts"]["nyc_lakehouse_wheel"]["build"]
    assert build.index("nyc_lakehouse.deploy.requirements --check") < build.index("uv build")
    excluded = bundle["sync"].get("exclude", [])
    assert not any(Path(REQUIREMENTS.name).match(pattern) for pattern in excluded)
