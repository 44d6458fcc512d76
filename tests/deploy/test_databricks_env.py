"""The `databricks` env resolves every dataset of every pipeline to Unity Catalog or cloud storage.

This is the check that catches a catalog entry with a literal local path: it would write to the
driver's ephemeral disk on Databricks and silently lose data. Datasets are built exactly as a
Kedro run builds them (config loader + DataCatalog, factories included), without a session.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from nyc_lakehouse.datasets import DeltaTableDataset, LandingZoneDataset

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_CATALOG = "nyc_deploy_check"  # set by the databricks_config fixture (conftest.py)

REMOTE_PREFIXES = ("s3://", "s3a://", "/Volumes/")


def build_catalog(loader: Any) -> Any:
    from kedro.io import DataCatalog

    try:
        credentials = loader["credentials"]
    except KeyError:
        credentials = {}
    return DataCatalog.from_config(loader["catalog"], credentials=credentials)


def every_dataset_name(pipelines: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for pipeline in pipelines.values():
        names |= {
            n for n in pipeline.datasets() if not n.startswith("params:") and n != "parameters"
        }
    return names


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str | PurePosixPath | Path):
        return [str(value)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list | tuple | set):
        return [s for v in value for s in strings_in(v)]
    return []


def local_paths(text: str, local_roots: list[str]) -> bool:
    """True for a path on the machine's disk that is not a Unity Catalog volume."""
    if text.startswith(REMOTE_PREFIXES) or "://" in text:
        return False
    return (
        text == "data"
        or text.startswith(("data/", "./data"))
        or any(text.startswith(root) for root in local_roots)
    )


def dataset_location(dataset: Any) -> str | None:
    """The file location of a file-based dataset (kedro-datasets style), with its protocol."""
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None:
        return None
    protocol = getattr(dataset, "_protocol", "file")
    return str(filepath) if protocol in ("file", None) else f"{protocol}://{filepath}"


@pytest.fixture
def resolved(databricks_config, registered_pipelines, tmp_path):
    catalog = build_catalog(databricks_config)
    names = every_dataset_name(registered_pipelines)
    declared = {n for n in names if n in catalog}
    return catalog, names, declared


def test_globals_point_at_unity_catalog_and_volumes(databricks_config):
    globals_ = databricks_config["globals"]
    assert globals_["catalog"] == TEST_CATALOG, "the catalog name is the one setting"
    assert globals_["lakehouse_root"] == f"uc://{TEST_CATALOG}"
    assert globals_["landing_root"] == f"/Volumes/{TEST_CATALOG}/landing/files"
    assert globals_["files_root"] == f"/Volumes/{TEST_CATALOG}/reporting/files"
    for key, value in globals_.items():
        assert not local_paths(str(value), []), f"globals.{key} = {value} is a local path"


def test_landing_root_can_be_s3(databricks_config, monkeypatch):
    monkeypatch.setenv("NYC_LAKEHOUSE_LANDING_ROOT", "s3://my-bucket/landing")
    assert databricks_config["globals"]["landing_root"] == "s3://my-bucket/landing"


def local_dataset_problems(catalog: Any, names: set[str], local_roots: list[str]) -> list[str]:
    """Every dataset among ``names`` that would stay on the local disk, with where it points."""
    problems: list[str] = []
    for name in sorted(names):
        dataset = catalog[name]
        if isinstance(dataset, DeltaTableDataset):
            address = dataset.address
            if address.path is not None or address.catalog_name is None:
                problems.append(f"{name}: Delta table at path {address.path}, not a UC table")
            elif not address.catalog_name.startswith(f"{TEST_CATALOG}."):
                problems.append(f"{name}: UC table {address.catalog_name} outside the catalog")
            elif address.catalog_name.count(".") != 2:
                problems.append(f"{name}: {address.catalog_name} is not catalog.schema.table")
            continue
        if isinstance(dataset, LandingZoneDataset):
            root = dataset._describe()["root"]
            if not str(root).startswith(REMOTE_PREFIXES):
                problems.append(f"{name}: landing zone at {root}")
            continue
        location = dataset_location(dataset)
        if location is not None and not location.startswith(REMOTE_PREFIXES):
            problems.append(f"{name}: {type(dataset).__name__} file at {location}")
        for text in strings_in(dataset._describe()):
            if local_paths(text, local_roots):
                problems.append(f"{name}: {type(dataset).__name__} refers to local path {text}")
    return problems


def test_every_pipeline_dataset_resolves_to_unity_catalog_or_cloud_storage(resolved, tmp_path):
    catalog, names, declared = resolved
    assert names, "no pipeline declares any dataset"
    problems = local_dataset_problems(catalog, declared, [str(tmp_path), str(PROJECT_ROOT)])
    assert not problems, "datasets that stay local in --env databricks:\n" + "\n".join(problems)
    assert any(isinstance(catalog[n], DeltaTableDataset) for n in declared)


def test_the_check_flags_local_entries(tmp_path):
    """The check above must be able to fail: entries with local paths are reported by name."""
    from kedro.io import DataCatalog

    catalog = DataCatalog.from_config(
        {
            "gold.ok": {
                "type": "nyc_lakehouse.datasets.DeltaTableDataset",
                "table": "gold.ok",
                "root": f"uc://{TEST_CATALOG}",
            },
            "gold.on_disk": {
                "type": "nyc_lakehouse.datasets.DeltaTableDataset",
                "table": "gold.on_disk",
                "root": "data",
            },
            "gold.other_catalog": {
                "type": "nyc_lakehouse.datasets.DeltaTableDataset",
                "table": "gold.x",
                "root": "uc://prod",
            },
            "landing.zone": {
                "type": "nyc_lakehouse.datasets.LandingZoneDataset",
                "root": str(tmp_path / "landing"),
            },
            "report.csv": {"type": "pandas.CSVDataset", "filepath": "data/reporting/x.csv"},
            "report.ok": {"type": "pandas.CSVDataset", "filepath": "s3://bucket/reporting/x.csv"},
            "report.volume": {
                "type": "pandas.CSVDataset",
                "filepath": f"/Volumes/{TEST_CATALOG}/reporting/files/x.csv",
            },
        }
    )
    problems = local_dataset_problems(catalog, set(catalog.keys()), [str(tmp_path)])
    flagged = {p.split(":")[0] for p in problems}
    assert flagged == {"gold.on_disk", "gold.other_catalog", "landing.zone", "report.csv"}


def test_datasets_shared_between_pipelines_are_persisted(resolved, registered_pipelines):
    """Each job task is a separate process: what one pipeline hands to another must be in the
    catalog (a Delta table or a file), never an implicit in-memory dataset."""
    catalog, _, declared = resolved
    real = {k: p for k, p in registered_pipelines.items() if k != "__default__"}
    problems = []
    for consumer, pipeline in real.items():
        for name in pipeline.inputs():
            if name.startswith("params:") or name == "parameters":
                continue
            producers = [
                p for p, other in real.items() if p != consumer and name in other.outputs()
            ]
            if name not in declared:
                problems.append(
                    f"{consumer} reads {name!r} (from {producers or 'nowhere'}) "
                    "but it is not in the catalog"
                )
    assert not problems, "\n".join(problems)


def test_parameters_hold_no_local_paths(databricks_config, tmp_path):
    parameters = databricks_config["parameters"]
    bad = [s for s in strings_in(parameters) if local_paths(s, [str(tmp_path), str(PROJECT_ROOT)])]
    assert not bad, f"parameters with local paths in --env databricks: {bad}"


def test_registered_model_names_have_three_levels(databricks_config):
    """The Unity Catalog registry only accepts `<catalog>.<schema>.<model>` names."""
    assert databricks_config["globals"]["registered_model_prefix"] == f"{TEST_CATALOG}.ml."

    def model_names(tree: Any, key: str = "") -> list[tuple[str, Any]]:
        if isinstance(tree, dict):
            return [pair for k, v in tree.items() for pair in model_names(v, str(k))]
        return [(key, tree)] if "registered_model" in key or key == "model_name" else []

    names = model_names(databricks_config["parameters"])
    for key, value in names:
        if value is not None:
            assert re.fullmatch(rf"{TEST_CATALOG}\.ml\.[A-Za-z0-9_]+", str(value)), (key, value)
    # The forecasting champion is the model the bundle registers: the check above must see it.
    forecaster = databricks_config["parameters"]["forecasting"]["mlflow"]
    assert forecaster["register"] is True
    assert (
        forecaster["registered_model_name"] == f"{TEST_CATALOG}.ml.nyc311_daily_volume_forecaster"
    )
    assert ("registered_model_name", forecaster["registered_model_name"]) in names


def test_local_registry_name_has_no_catalog_prefix(tmp_path):
    """The same parameter gives the plain name in the local SQLite registry (base env)."""
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse import settings

    args = dict(settings.CONFIG_LOADER_ARGS)
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env="base",
        base_env=args.pop("base_env", "base"),
        default_run_env=args.pop("default_run_env", "local"),
        **args,
    )
    mlflow_params = loader["parameters"]["forecasting"]["mlflow"]
    assert mlflow_params["registered_model_name"] == "nyc311_daily_volume_forecaster"
    assert mlflow_params["alias"] == "champion"


def test_spark_runs_on_the_databricks_session(databricks_config, monkeypatch):
    from nyc_lakehouse.spark import settings_from_config

    for name in ("NYC_LAKEHOUSE_SPARK_MODE", "SPARK_REMOTE", "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_from_config(databricks_config["spark"])
    assert settings.mode == "databricks"
    assert settings.session_conf["spark.sql.session.timeZone"] == "America/New_York"


def test_mlflow_uses_the_workspace_and_unity_catalog_registry(databricks_config, monkeypatch):
    from kedro.config import OmegaConfigLoader

    databricks_config.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**"])
    mlflow = databricks_config["mlflow"]
    assert mlflow["server"]["mlflow_tracking_uri"] == "databricks"
    assert mlflow["server"]["mlflow_registry_uri"] == "databricks-uc"
    assert mlflow["tracking"]["experiment"]["name"].startswith("/")  # a workspace path
    base = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env="base",
        base_env="base",
        default_run_env="base",
        config_patterns={"mlflow": ["mlflow*"]},
    )["mlflow"]
    # Env files replace whole top-level keys: the databricks copy must not drift from base.
    for key in ("disable_tracking", "run", "params"):
        assert mlflow["tracking"][key] == base["tracking"][key], f"tracking.{key} drifted"
    assert set(mlflow) >= set(base) - {"ui"}
    # kedro-mlflow accepts the file as it stands (its own schema, unknown keys forbidden).
    from kedro_mlflow.config.kedro_mlflow_config import KedroMlflowConfig, _validate_uri

    config = KedroMlflowConfig(**mlflow)
    assert _validate_uri(str(PROJECT_ROOT), config.server.mlflow_tracking_uri) == "databricks"
    assert _validate_uri(str(PROJECT_ROOT), config.server.mlflow_registry_uri) == "databricks-uc"
