"""The champion in the MLflow model registry, and batch scoring from it.

``register_champion`` logs the fitted champion as an ``mlflow.pyfunc`` model that loads without
this project installed:

* **code** (``code_paths``): the project modules the pickled model refers to, and every project
  module they import, found by reading their ``import`` statements. Package ``__init__`` files
  that only wire Kedro pipelines are replaced by empty ones, so loading the model needs neither
  Kedro nor Spark;
* **requirements**: the third-party packages that code and the pickle import, pinned to the
  versions installed here (``requirements.txt``), and every package those depend on, pinned too
  (``constraints.txt``): ``pip install -r requirements.txt`` rebuilds the training environment.
  Computed rather than inferred: MLflow's inference loads the model in a subprocess (slow) and
  misses imports made inside functions (statsforecast, scikit-learn);
* a **signature** (``unique_id`` string, optional ``horizon`` integer), an **input example**,
  and metadata (the series the model forecasts, horizon, interval levels).

The model is registered as ``forecasting.mlflow.registered_model_name`` with the alias
``forecasting.mlflow.alias``. The run's metrics and files are not logged here:
:func:`mlflow_run_record` returns them to kedro-mlflow's catalog datasets, which log them in the
same run. ``score_volume_forecasts`` then writes ``ml.volume_forecasts``
from the registered model (``models:/<name>@<alias>``), as any other consumer would read it.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import nyc_lakehouse
from nyc_lakehouse.pipelines.forecasting import backtest as bt
from nyc_lakehouse.pipelines.forecasting.models import ChampionForecaster

logger = logging.getLogger(__name__)

MODEL_ARTIFACT = "champion_model"
PROJECT_PACKAGE = nyc_lakehouse.__name__
SOURCE_ROOT = Path(nyc_lakehouse.__file__).resolve().parent.parent
EMPTY_INIT = '"""Package marker: the Kedro wiring of this package is not part of the model."""\n'
# The `mlflow` import name is shipped by three distributions; serving a pyfunc model needs only
# the client (`mlflow-skinny`: pyfunc, the scoring server), not the tracking server.
PREFERRED_DISTRIBUTION = {"mlflow": "mlflow-skinny"}


# --------------------------------------------------------------------------------------------
# What the model needs: project code and third-party packages
# --------------------------------------------------------------------------------------------
def _module_file(module: str) -> Path | None:
    """The source file of a project module (``pkg/mod.py`` or ``pkg/__init__.py``)."""
    base = SOURCE_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str, path: Path) -> tuple[set[str], set[str]]:
    """Project modules and third-party top-level names imported anywhere in ``path``."""
    project, external = set(), set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def add(name: str) -> None:
        if name == PROJECT_PACKAGE or name.startswith(PROJECT_PACKAGE + "."):
            project.add(name)
        else:
            external.add(name.split(".")[0])

    for item in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(item, ast.Import):
            for alias in item.names:
                add(alias.name)
        elif isinstance(item, ast.ImportFrom):
            base = item.module or ""
            if item.level:
                parent = package.split(".")[: len(package.split(".")) - item.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in item.names:
                # `from pkg import mod` imports the submodule; `from pkg import name` the package.
                submodule = f"{base}.{alias.name}"
                is_project = base.startswith(PROJECT_PACKAGE)
                add(submodule if is_project and _module_file(submodule) else base)
    return project, external


def code_closure(roots: Iterable[str]) -> tuple[set[str], set[str]]:
    """Project modules reachable from ``roots`` by imports, and the third-party names they use."""
    modules: set[str] = set()
    external: set[str] = set()
    pending = list(roots)
    while pending:
        module = pending.pop()
        if module in modules:
            continue
        path = _module_file(module)
        if path is None:
            raise ValueError(f"{module} is not a module of {PROJECT_PACKAGE} under {SOURCE_ROOT}")
        modules.add(module)
        project, imported = _imports(module, path)
        external |= imported
        pending.extend(project - modules)
    return modules, external


def copy_code(modules: Iterable[str], destination: Path) -> Path:
    """Copy ``modules`` under ``destination/<package>``; other packages get an empty __init__."""
    modules = set(modules)
    for module in sorted(modules):
        source = _module_file(module)
        assert source is not None
        target = destination / source.relative_to(SOURCE_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        parts = module.split(".")
        for depth in range(1, len(parts)):
            package_init = destination.joinpath(*parts[:depth], "__init__.py")
            if not package_init.exists():
                package_init.parent.mkdir(parents=True, exist_ok=True)
                package_init.write_text(EMPTY_INIT)
    return destination / PROJECT_PACKAGE


class _ReferenceRecorder(pickle.Unpickler):
    """Unpickles while recording the module of every class and function the pickle names."""

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


def pickled_modules(obj: Any) -> set[str]:
    """Modules a cloudpickle of ``obj`` refers to (what loading it will import)."""
    import io

    import cloudpickle

    recorder = _ReferenceRecorder(io.BytesIO(cloudpickle.dumps(obj)))
    recorder.load()
    return recorder.modules


def _distributions(top_level_names: Iterable[str]) -> set[str]:
    """Installed distributions providing these import names (stdlib and unknown names skipped)."""
    providers = metadata.packages_distributions()
    found = set()
    for name in top_level_names:
        if name in sys.stdlib_module_names or name == PROJECT_PACKAGE or name.startswith("_"):
            continue
        if name in PREFERRED_DISTRIBUTION:
            found.add(PREFERRED_DISTRIBUTION[name])
        elif name in providers:
            found.update(providers[name])
        else:
            logger.warning("No installed distribution provides %r: left out of requirements", name)
    return {canonicalize_name(d) for d in found}


def _dependency_closure(distributions: Iterable[str]) -> dict[str, str]:
    """Every installed distribution needed by ``distributions``, with its installed version."""
    versions: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str]]] = [(d, frozenset()) for d in distributions]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a dependency for another platform (its marker was not evaluated here)
        versions[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            wanted = any(marker.evaluate({"extra": e}) for e in extras or {""}) if marker else True
            if wanted:
                pending.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return versions


def pinned_requirements(top_level_names: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(requirements, constraints)``: direct packages pinned, and their whole closure pinned."""
    direct = _distributions(top_level_names)
    closure = _dependency_closure(direct)
    requirements = [f"{name}=={closure[name]}" for name in sorted(direct) if name in closure]
    constraints = [f"{name}=={version}" for name, version in sorted(closure.items())]
    return requirements, constraints


# --------------------------------------------------------------------------------------------
# Logging and registering the champion
# --------------------------------------------------------------------------------------------
def _metric_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in str(text))


def backtest_run_metrics(leaderboard: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Every model's all-series metrics (``<model>.<metric>``) and the champion's series count,
    in the form kedro-mlflow's ``MlflowMetricsHistoryDataset`` logs (one value at step 0)."""
    overall = leaderboard[leaderboard["unique_id"] == bt.ALL_SERIES]
    metric_columns = [
        c
        for c in leaderboard.columns
        if c in {"mase", "smape", "rmse", "mase_vs_baseline"} or c.startswith("coverage_")
    ]
    values: dict[str, float] = {}
    for _, row in overall.iterrows():
        for column in metric_columns:
            value = row[column]
            if pd.notna(value) and np.isfinite(value):
                values[_metric_name(f"{row['model']}.{column}")] = float(value)
    champions = leaderboard[
        leaderboard["is_champion"] & (leaderboard["unique_id"] != bt.ALL_SERIES)
    ]
    values["champion.series_count"] = float(len(champions))
    return {key: {"value": value, "step": 0} for key, value in values.items()}


def mlflow_run_record(
    leaderboard: pd.DataFrame, forecasts: pd.DataFrame, chart: go.Figure
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame, go.Figure, go.Figure]:
    """What the MLflow run records besides the model: the backtest metrics, and the leaderboard,
    the fitted forecasts and the chart (HTML and JSON) as files.

    Node outputs, not MLflow calls: the catalog's kedro-mlflow datasets log them in the run
    kedro-mlflow opened for the pipeline (``conf/base/catalog_ml.yml``), the run that
    :func:`register_champion` logs the model in.
    """
    return backtest_run_metrics(leaderboard), leaderboard, forecasts, chart, chart


@contextlib.contextmanager
def _without_project_lock() -> Iterator[None]:
    """Keep MLflow from attaching the project's uv.lock and pyproject.toml to the model.

    They describe the pipeline's environment (Kedro, Spark), not the model's: an
    ``--env-manager uv`` restore would rebuild that instead of ``requirements.txt``.
    """
    previous = os.environ.get("MLFLOW_UV_AUTO_DETECT")
    os.environ["MLFLOW_UV_AUTO_DETECT"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_UV_AUTO_DETECT", None)
        else:
            os.environ["MLFLOW_UV_AUTO_DETECT"] = previous


def log_champion_model(
    champion_model: ChampionForecaster, registered_name: str | None = None
) -> Any:
    """Log the champion as a self-contained pyfunc model in the active run (see module doc)."""
    import mlflow
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    from nyc_lakehouse.pipelines.forecasting.serving import ChampionPyfunc, champion_forecasts

    python_model = ChampionPyfunc(champion_model)
    referenced = pickled_modules(python_model)
    roots = {m for m in referenced if m.split(".")[0] == PROJECT_PACKAGE}
    modules, imported = code_closure(roots)
    requirements, constraints = pinned_requirements(
        imported | {m.split(".")[0] for m in referenced}
    )
    series_ids = sorted(champion_model.champions)
    example = pd.DataFrame({"unique_id": series_ids[:1], "horizon": [champion_model.horizon]})
    inputs = Schema([ColSpec("string", "unique_id"), ColSpec("long", "horizon", required=False)])
    outputs = infer_signature(example, champion_forecasts(champion_model, series_ids[:1])).outputs
    with tempfile.TemporaryDirectory() as tmp, _without_project_lock():
        folder = Path(tmp)
        code = copy_code(modules, folder / "code")
        (folder / "constraints.txt").write_text("\n".join(constraints) + "\n")
        return mlflow.pyfunc.log_model(
            name=MODEL_ARTIFACT,
            python_model=python_model,
            code_paths=[str(code)],
            pip_requirements=[*requirements, f"-c {folder / 'constraints.txt'}"],
            signature=ModelSignature(inputs=inputs, outputs=outputs),
            input_example=example,
            metadata={
                "series_ids": series_ids,
                "horizon": champion_model.horizon,
                "levels": champion_model.levels,
                "champions": dict(sorted(champion_model.champions.items())),
            },
            registered_model_name=registered_name,
        )


def register_champion(
    champion_model: ChampionForecaster, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Log the champion model in the active MLflow run and register it with its alias.

    kedro-mlflow opens the run (and logs the parameters, the metrics and the artifacts of
    :func:`mlflow_run_record`) for tracked pipelines; if no run is active (kedro-mlflow's
    tracking disabled for the pipeline, or a plain Python call), this node opens one itself.
    Hand-written rather than a kedro-mlflow model dataset: those log a model from a catalog
    entry, but cannot set a registry alias, nor ship computed code paths and pinned
    requirements (:func:`log_champion_model`). Tags (champion models, horizon) are set here too:
    kedro-mlflow has no dataset for tags. Returns where everything went
    (``forecasting.champion_model_info``).
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    config = params.get("mlflow", {}) or {}
    if not config.get("enabled", True):
        logger.info("MLflow model logging disabled (forecasting.mlflow.enabled: false)")
        return {"logged": False}
    own_run = mlflow.active_run() is None
    if own_run:
        experiment = config.get("experiment_name")
        if experiment:
            mlflow.set_experiment(experiment)
        mlflow.start_run(run_name="forecasting")
    try:
        run = mlflow.active_run()
        mlflow.set_tags(
            {
                "champion_models": ",".join(sorted(set(champion_model.champions.values()))),
                "horizon": str(params["horizon"]),
            }
        )
        registered_name = (
            config.get("registered_model_name") if config.get("register", True) else None
        )
        info = log_champion_model(champion_model, registered_name)
        result: dict[str, Any] = {
            "logged": True,
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "model_uri": info.model_uri,
            "tracking_uri": mlflow.get_tracking_uri(),
            "registered_model_name": registered_name,
            "version": None,
            "alias": None,
        }
        if registered_name:
            version = str(info.registered_model_version)
            alias = config.get("alias", "champion")
            MlflowClient().set_registered_model_alias(registered_name, alias, version)
            result.update(version=version, alias=alias)
            logger.info("Registered %s version %s as @%s", registered_name, version, alias)
        return result
    finally:
        if own_run:
            mlflow.end_run()


# --------------------------------------------------------------------------------------------
# Batch scoring from the registry
# --------------------------------------------------------------------------------------------
def champion_uri(champion_model_info: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """Which model scores: ``scoring.model_uri`` if set, else the registered alias.

    Without a registered name (``mlflow.register: false``) the logged model of the run.
    """
    pinned = (params.get("scoring", {}) or {}).get("model_uri")
    if pinned:
        return str(pinned)
    if not champion_model_info.get("logged"):
        raise ValueError(
            "No champion in MLflow to score with (forecasting.mlflow.enabled is false): enable "
            "MLflow or set forecasting.scoring.model_uri"
        )
    name, alias = champion_model_info.get("registered_model_name"), champion_model_info.get("alias")
    if name and alias:
        return f"models:/{name}@{alias}"
    return str(champion_model_info["model_uri"])


def score_volume_forecasts(
    champion_model_info: Mapping[str, Any], params: Mapping[str, Any]
) -> pd.DataFrame:
    """``ml.volume_forecasts`` from the registered champion: every series it knows, its horizon.

    One row per series per forecast day: ``unique_id, ds, model, y_hat, y_hat_lo_<L>,
    y_hat_hi_<L>, forecast_origin (last observed day), horizon_step, created_at``.
    """
    import mlflow

    uri = champion_uri(champion_model_info, params)
    model = mlflow.pyfunc.load_model(uri)
    series_ids = list((model.metadata.metadata or {}).get("series_ids") or [])
    if not series_ids:
        raise ValueError(f"{uri} has no series_ids in its metadata: not a champion model")
    forecasts = pd.DataFrame(model.predict(pd.DataFrame({"unique_id": series_ids})))
    forecasts["created_at"] = pd.Timestamp.now(tz="UTC")
    logger.info(
        "Scored %d series x %d days with %s (run %s)",
        len(series_ids),
        int(forecasts["horizon_step"].max()) if len(forecasts) else 0,
        uri,
        model.metadata.run_id,
    )
    return forecasts
