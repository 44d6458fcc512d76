"""The Databricks Asset Bundle: parses, and every job runs real pipelines in the right order."""

from __future__ import annotations

import re
import tomllib
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from nyc_lakehouse.deploy.databricks_run import parse_args

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINT = "nyc-lakehouse-databricks"
SOURCES = ("nyc311", "nyc911")
PER_SOURCE_LAYERS = ("ingestion", "bronze", "silver")
DAILY_ORDER = [
    *(f"{layer}_{source}" for layer in PER_SOURCE_LAYERS for source in SOURCES),
    "gold",
    "analytics",
    "ml_features",
    "forecast_training",
    "forecast_scoring",
    "monitoring",
    "reporting",
]
SECRET_REFERENCE = re.compile(r"^\{\{secrets/[A-Za-z0-9_.${}-]+/[A-Za-z0-9_.-]+\}\}$")
JOB_PARAMETER_REFERENCE = re.compile(r"\{\{job\.parameters\.([A-Za-z0-9_]+)\}\}")


def wheel_tasks(jobs: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(job_key, task, job) for job_key, job in jobs.items() for task in job["tasks"]]


def task_request(task: dict[str, Any], job: dict[str, Any] | None = None) -> Any:
    """What the entry point will run for this task, parsed by the entry point's own parser.

    Databricks replaces ``{{job.parameters.<name>}}`` before the process starts; the job
    parameters' defaults stand in for the values of a run.
    """
    defaults = {p["name"]: str(p["default"]) for p in (job or {}).get("parameters", [])}

    def substitute(argument: str) -> str:
        def value(match: re.Match[str]) -> str:
            assert match.group(1) in defaults, f"undeclared job parameter {match.group(1)!r}"
            return defaults[match.group(1)]

        return JOB_PARAMETER_REFERENCE.sub(value, argument)

    return parse_args([substitute(a) for a in task["python_wheel_task"]["parameters"]])


def test_bundle_has_the_three_jobs_and_both_targets(bundle, jobs):
    assert bundle["bundle"]["name"] == "nyc-lakehouse"
    assert set(jobs) == {
        "nyc_lakehouse_daily",
        "nyc_lakehouse_backfill",
        "nyc_lakehouse_monitoring",
    }
    targets = bundle["targets"]
    assert targets["dev"]["mode"] == "development" and targets["dev"].get("default") is True
    assert targets["prod"]["mode"] == "production"
    assert "service_principal_name" in targets["prod"]["run_as"]


def test_dev_and_prod_use_different_catalogs(bundle):
    """Production must never read development tables (and the reverse)."""
    catalogs = {name: t["variables"]["catalog"] for name, t in bundle["targets"].items()}
    assert catalogs["prod"] != catalogs["dev"]
    experiments = {
        name: t["variables"]["mlflow_experiment"] for name, t in bundle["targets"].items()
    }
    assert experiments["prod"] != experiments["dev"]
    for job_key, job in load_jobs_clusters(bundle):
        env = job["new_cluster"]["spark_env_vars"]
        assert env["NYC_LAKEHOUSE_CATALOG"] == "${var.catalog}", job_key
        assert env["NYC_LAKEHOUSE_MLFLOW_EXPERIMENT"] == "${var.mlflow_experiment}", job_key


def load_jobs_clusters(bundle: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_key, cluster)
        for job_key, job in bundle["resources"]["jobs"].items()
        for cluster in job["job_clusters"]
    ]


def test_every_task_runs_a_registered_pipeline_in_an_existing_env(jobs, registered_pipelines):
    for job_key, task, job in wheel_tasks(jobs):
        request = task_request(task, job)
        where = f"{job_key}.{task['task_key']}"
        assert request.pipeline in registered_pipelines, (
            f"{where}: pipeline {request.pipeline!r} is not registered "
            f"(have: {sorted(registered_pipelines)})"
        )
        assert len(registered_pipelines[request.pipeline].nodes) > 0, (
            f"{where}: pipeline {request.pipeline!r} has no nodes yet"
        )
        assert request.env == "databricks", where
        assert (PROJECT_ROOT / "conf" / request.env).is_dir(), where
        assert request.conf_source == "${workspace.file_path}/conf", where
        assert task["task_key"] == request.pipeline, f"{where}: name tasks after their pipeline"


def test_tasks_run_the_wheel_entry_point_declared_in_pyproject(jobs, bundle):
    """The entry point every task calls must exist in the wheel's metadata, and be main()."""
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    scripts = pyproject["project"].get("scripts", {})
    assert ENTRY_POINT in scripts, (
        f"pyproject.toml needs [project.scripts] {ENTRY_POINT} = "
        '"nyc_lakehouse.deploy.databricks_run:main" (the job tasks call it)'
    )
    module_name, _, attribute = scripts[ENTRY_POINT].partition(":")
    assert callable(getattr(import_module(module_name), attribute))
    artifact = bundle["artifacts"]["nyc_lakehouse_wheel"]
    assert artifact["type"] == "whl" and "nyc_lakehouse.deploy.wheel dist" in artifact["build"]
    for job_key, task, _ in wheel_tasks(jobs):
        wheel_task = task["python_wheel_task"]
        assert wheel_task["package_name"] == "nyc_lakehouse"
        assert wheel_task["entry_point"] == ENTRY_POINT, f"{job_key}.{task['task_key']}"
        assert task["libraries"] == [
            {"requirements": "${workspace.file_path}/requirements-databricks.txt"},
            {"whl": "../dist/*.whl"},
        ], f"{job_key}.{task['task_key']}: the locked requirements, then the wheel"


def test_every_task_has_retries_and_a_cluster_of_its_job(jobs):
    for job_key, job in jobs.items():
        cluster_keys = {c["job_cluster_key"] for c in job["job_clusters"]}
        assert job["max_concurrent_runs"] == 1, (
            f"{job_key}: runs share watermarks and MERGE targets"
        )
        assert job["queue"] == {"enabled": True}, f"{job_key}: a second trigger must wait"
        for task in job["tasks"]:
            assert task["job_cluster_key"] in cluster_keys, f"{job_key}.{task['task_key']}"
            assert task["max_retries"] >= 1, f"{job_key}.{task['task_key']}"
            assert task["min_retry_interval_millis"] >= 60_000, f"{job_key}.{task['task_key']}"


def test_jobs_email_on_failure_and_scheduled_jobs_are_scheduled(jobs):
    for job_key, job in jobs.items():
        assert job["email_notifications"]["on_failure"] == ["${var.alert_email}"], job_key
    for job_key in ("nyc_lakehouse_daily", "nyc_lakehouse_monitoring"):
        schedule = jobs[job_key]["schedule"]
        assert schedule["timezone_id"] == "America/New_York"
        # Quartz: seconds minutes hours day-of-month month day-of-week
        assert len(schedule["quartz_cron_expression"].split()) == 6
    assert "schedule" not in jobs["nyc_lakehouse_backfill"], "backfill runs on demand only"


def test_all_job_clusters_are_identical_but_for_the_token(bundle):
    """One cluster definition: a setting changed in one job only is a production surprise. The
    ingestion clusters differ by the API token alone (test_security.py)."""
    clusters = []
    for _, cluster in load_jobs_clusters(bundle):
        spec = dict(cluster["new_cluster"])
        spec["spark_env_vars"] = {
            k: v for k, v in spec["spark_env_vars"].items() if k != "NYC_OPEN_DATA_APP_TOKEN"
        }
        clusters.append(spec)
    assert len(clusters) >= 3 and all(c == clusters[0] for c in clusters)
    assert clusters[0]["data_security_mode"] == "SINGLE_USER"  # Unity Catalog and /Volumes


@pytest.mark.parametrize("job_key", ["nyc_lakehouse_daily", "nyc_lakehouse_backfill"])
def test_each_source_is_a_branch_of_its_own_up_to_gold(jobs, job_key):
    """ingestion -> bronze -> silver per source, then gold when at least one source succeeded:
    one source failing never stops the other's layers."""
    tasks = {t["task_key"]: t for t in jobs[job_key]["tasks"]}
    for source in SOURCES:
        for upstream, layer in zip(PER_SOURCE_LAYERS, PER_SOURCE_LAYERS[1:], strict=False):
            task = tasks[f"{layer}_{source}"]
            assert task["depends_on"] == [{"task_key": f"{upstream}_{source}"}], task["task_key"]
        assert "depends_on" not in tasks[f"ingestion_{source}"]
    gold = tasks["gold"]
    assert gold["depends_on"] == [{"task_key": f"silver_{source}"} for source in SOURCES]
    assert gold["run_if"] == "AT_LEAST_ONE_SUCCESS"
    assert not any(layer in tasks for layer in PER_SOURCE_LAYERS), "a task for both sources"


def test_daily_job_runs_every_layer_from_gold_as_one_chain(jobs):
    tasks = jobs["nyc_lakehouse_daily"]["tasks"]
    assert [t["task_key"] for t in tasks] == DAILY_ORDER
    after_gold = tasks[DAILY_ORDER.index("gold") :]
    for previous, task in zip(after_gold, after_gold[1:], strict=False):
        assert task["depends_on"] == [{"task_key": previous["task_key"]}]
        assert task.get("run_if", "ALL_SUCCESS") == "ALL_SUCCESS"


def test_a_source_task_runs_only_that_source(jobs, registered_pipelines):
    """A per-source task's pipeline writes nothing of the other source (its tables, its
    landing run summary), so the two run side by side."""
    for job_key, task, job in wheel_tasks(jobs):
        name = task_request(task, job).pipeline
        layer, _, source = name.partition("_")
        if source not in SOURCES:
            continue
        (other,) = set(SOURCES) - {source}
        outputs = written(registered_pipelines[name])
        assert outputs and not [o for o in outputs if other in o], f"{job_key}.{name}: {outputs}"
        full = registered_pipelines[layer]
        mine = {n.name for n in registered_pipelines[name].nodes}
        assert mine < {n.name for n in full.nodes}, f"{name} is not part of {layer}"


def ancestors(job: dict[str, Any]) -> dict[str, set[str]]:
    parents = {
        t["task_key"]: {d["task_key"] for d in t.get("depends_on", [])} for t in job["tasks"]
    }
    result: dict[str, set[str]] = {}

    def visit(key: str, seen: tuple[str, ...] = ()) -> set[str]:
        assert key not in seen, f"dependency cycle through {key}"
        if key not in result:
            found: set[str] = set()
            for parent in parents[key]:
                assert parent in parents, f"{key} depends on unknown task {parent}"
                found |= {parent} | visit(parent, (*seen, key))
            result[key] = found
        return result[key]

    for key in parents:
        visit(key)
    return result


def dataset_name(name: str) -> str:
    """The catalog dataset behind a transcoded name (`ml.panel@pandas` -> `ml.panel`)."""
    return name.split("@", 1)[0]


def written(pipeline: Any) -> set[str]:
    """Every dataset a pipeline's nodes write, including those it reads back itself."""
    return {dataset_name(o) for node in pipeline.nodes for o in node.outputs}


def read_from_outside(pipeline: Any) -> set[str]:
    """Datasets the pipeline reads without writing them itself."""
    return {dataset_name(i) for i in pipeline.inputs()} - written(pipeline)


def test_task_order_follows_the_data_between_pipelines(jobs, registered_pipelines):
    """A task may only read what a task it (transitively) depends on has written."""
    for job_key, job in jobs.items():
        upstream = ancestors(job)
        by_task = {t["task_key"]: task_request(t, job).pipeline for t in job["tasks"]}
        for task_key, pipeline_name in by_task.items():
            inputs = read_from_outside(registered_pipelines[pipeline_name])
            for other_key, other_name in by_task.items():
                if other_key == task_key:
                    continue
                shared = inputs & written(registered_pipelines[other_name])
                assert not shared or other_key in upstream[task_key], (
                    f"{job_key}: task {task_key} reads {sorted(shared)} written by {other_key}, "
                    f"but does not depend on it"
                )


def test_the_order_check_sees_the_layers(registered_pipelines):
    """Guard for the check above: it must see real hand-offs, or it would pass vacuously."""
    silver = written(registered_pipelines["silver"])
    assert "silver.nyc311_service_requests" in silver
    assert "silver.nyc311_service_requests" in read_from_outside(registered_pipelines["gold"])
    assert written(registered_pipelines["ml_features"]) & read_from_outside(
        registered_pipelines["forecasting"]
    )


def test_secrets_reach_jobs_only_through_secret_scopes(bundle):
    for job_key, cluster in load_jobs_clusters(bundle):
        env = cluster["new_cluster"]["spark_env_vars"]
        secret_like = {k: v for k, v in env.items() if re.search(r"TOKEN|SECRET|PASSWORD|KEY", k)}
        for name, value in secret_like.items():
            assert SECRET_REFERENCE.match(value), (
                f"{job_key}: {name} must be {{{{secrets/scope/key}}}}"
            )


def test_backfill_passes_its_job_parameters_to_ingestion(jobs, registered_pipelines):
    job = jobs["nyc_lakehouse_backfill"]
    declared = {p["name"]: p["default"] for p in job["parameters"]}
    assert set(declared) == {"start_date", "end_date"}
    assert declared["start_date"] <= declared["end_date"]
    for dataset in SOURCES:
        ingestion = next(t for t in job["tasks"] if t["task_key"] == f"ingestion_{dataset}")
        raw = ingestion["python_wheel_task"]["parameters"]
        assert set(JOB_PARAMETER_REFERENCE.findall(" ".join(raw))) == set(declared)
        params = task_request(ingestion, job).params
        assert set(params) == {dataset}, "a source's task sets only its own parameters"
        settings = params[dataset]["ingestion"]
        assert settings["mode"] == "backfill"
        assert settings["source"] == "socrata"
        assert settings["start"] == declared["start_date"]
        assert settings["end"] == declared["end_date"]


@pytest.mark.parametrize("job_key", ["nyc_lakehouse_daily", "nyc_lakehouse_backfill"])
def test_runtime_params_name_existing_parameters(jobs, job_key):
    """`--params a.b.c=...` must override a parameter that exists, not invent a new one."""
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse import settings

    args = dict(settings.CONFIG_LOADER_ARGS)
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env="databricks",
        base_env=args.pop("base_env"),
        default_run_env=args.pop("default_run_env"),
        **args,
    )
    parameters = loader["parameters"]

    def leaves(tree: dict[str, Any], prefix: str = "") -> list[str]:
        out = []
        for key, value in tree.items():
            out += leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]
        return out

    # Runtime-only values other config files read (`${runtime_params:lock_wait_seconds, 0}`).
    conf_text = "\n".join(p.read_text() for p in (PROJECT_ROOT / "conf" / "base").glob("*.yml"))
    runtime_only = set(re.findall(r"\$\{runtime_params:([A-Za-z0-9_]+)", conf_text))
    assert "lock_wait_seconds" in runtime_only
    for task in jobs[job_key]["tasks"]:
        for dotted in leaves(task_request(task, jobs[job_key]).params):
            if dotted in runtime_only:
                continue
            node: Any = parameters
            for part in dotted.split("."):
                assert isinstance(node, dict) and part in node, (
                    f"{job_key}.{task['task_key']}: --params {dotted} is not a parameter "
                    "in conf/base/parameters_*.yml"
                )
                node = node[part]


def test_jobs_match_the_bundle_schema(jobs):
    """Every field name, enum value and nesting level is one the Databricks bundle accepts
    (databricks-bundles' typed Job model; `${var...}` references are allowed everywhere)."""
    from databricks.bundles.jobs import Job

    for job in jobs.values():
        Job.from_dict(job)  # raises ValueError naming the unexpected field or invalid value
    misspelled = {**jobs["nyc_lakehouse_monitoring"], "max_concurent_runs": 1}
    with pytest.raises(ValueError, match="max_concurent_runs"):
        Job.from_dict(misspelled)


def test_failures_are_emailed_to_someone_in_every_target(bundle):
    """No default address: dev mails the deploying user, prod must be given an address."""
    variable = bundle["variables"]["alert_email"]
    assert "default" not in variable, "a default would let prod deploy with nobody alerted"
    dev, prod = bundle["targets"]["dev"], bundle["targets"]["prod"]
    assert dev["variables"]["alert_email"] == "${workspace.current_user.userName}"
    # prod sets none in the file: `databricks bundle deploy -t prod` fails without
    # --var alert_email=... / BUNDLE_VAR_alert_email, the documented way to give it.
    assert "alert_email" not in prod.get("variables", {})
