"""The registered champion: self-contained, servable, and the source of ``ml.volume_forecasts``.

One forecasting run (module fixture) registers a champion in a real SQLite MLflow store; the
tests read it back through the registry, and one of them loads it in a fresh virtual
environment built only from the model's own ``requirements.txt``, without this project.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from registry_sample import run_forecasting, small_params

from nyc_lakehouse.pipelines.forecasting import registry
from nyc_lakehouse.pipelines.forecasting.synthetic import synthetic_panel

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MODEL_NAME = "registry_test_forecaster"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    params = small_params()
    panel = synthetic_panel(n_series=3, days=180, start="2023-01-01", seed=3)
    result = run_forecasting(panel, params, tmp_path_factory.mktemp("mlflow"), MODEL_NAME)
    result["panel"] = panel
    return result


@pytest.fixture
def tracking(run):
    mlflow.set_tracking_uri(run["tracking_uri"])
    yield MlflowClient(tracking_uri=run["tracking_uri"])
    mlflow.set_tracking_uri(None)


def test_the_table_is_scored_by_the_registered_champion(run, tracking):
    info = run["forecasting.champion_model_info"]
    assert info["registered_model_name"] == MODEL_NAME and info["alias"] == "champion"
    version = tracking.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(version.version) == info["version"] and version.run_id == info["run_id"]

    table = run["ml.volume_forecasts"]
    fitted = run["forecasting.fitted_forecasts"]
    assert len(table) == 3 * 7 and set(table["unique_id"]) == set(run["panel"]["unique_id"])
    key = ["unique_id", "ds"]
    merged = table.merge(fitted, on=key, suffixes=("", "_fitted"), validate="1:1")
    # the model read back from the registry forecasts exactly what the fitted object did
    pd.testing.assert_series_equal(merged["y_hat"], merged["y_hat_fitted"], check_names=False)
    assert (table["horizon_step"] == (table["ds"] - table["forecast_origin"]).dt.days).all()
    assert table["horizon_step"].between(1, 7).all() and table["created_at"].notna().all()


def test_the_model_carries_signature_example_code_and_pinned_requirements(run, tracking):
    model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}@champion"))
    meta = mlflow.models.Model.load(model_dir / "MLmodel")
    inputs = {c["name"]: c for c in meta.signature.inputs.to_dict()}
    assert inputs["unique_id"]["type"] == "string" and inputs["horizon"]["required"] is False
    outputs = {c["name"] for c in meta.signature.outputs.to_dict()}
    assert {"unique_id", "ds", "y_hat", "y_hat_lo_80", "y_hat_hi_95", "forecast_origin"} <= outputs
    example = json.loads((model_dir / meta.saved_input_example_info["artifact_path"]).read_text())
    assert example["columns"] == ["unique_id", "horizon"]
    assert meta.metadata["series_ids"] == sorted(run["panel"]["unique_id"].unique())

    code = model_dir / "code" / "nyc_lakehouse"
    shipped = {p.relative_to(code).as_posix() for p in code.rglob("*.py")}
    assert (
        "pipelines/forecasting/serving.py" in shipped
        and "pipelines/forecasting/models.py" in shipped
    )
    assert "pipelines/forecasting/pipeline.py" not in shipped  # Kedro wiring stays out
    assert "Kedro wiring" in (code / "pipelines" / "forecasting" / "__init__.py").read_text()

    requirements = (model_dir / "requirements.txt").read_text().split("\n")
    pinned = dict(line.split("==") for line in requirements if "==" in line)
    for package in ("mlflow-skinny", "pandas", "statsforecast", "scikit-learn", "holidays"):
        assert pinned.get(package) == registry.metadata.version(package), package
    assert not {"kedro", "pyspark", "pysail", "mlflow"} & set(pinned)
    assert "-c constraints.txt" in requirements
    constraints = (model_dir / "constraints.txt").read_text()
    assert f"scipy=={registry.metadata.version('scipy')}" in constraints  # a transitive pin
    assert not (model_dir / "uv.lock").exists()  # the project's lock is not the model's


def test_scoring_can_pin_a_version_instead_of_the_alias(run, tracking):
    info = run["forecasting.champion_model_info"]
    params = {**run["params"], "scoring": {"model_uri": f"models:/{MODEL_NAME}/{info['version']}"}}
    pinned = registry.score_volume_forecasts(info, params)
    pd.testing.assert_frame_equal(
        pinned.drop(columns="created_at"), run["ml.volume_forecasts"].drop(columns="created_at")
    )
    with pytest.raises(ValueError, match="forecasting.mlflow.enabled is false"):
        registry.score_volume_forecasts({"logged": False}, run["params"])


def test_code_closure_follows_project_imports_only():
    modules, external = registry.code_closure(["nyc_lakehouse.pipelines.forecasting.serving"])
    assert "nyc_lakehouse.pipelines.forecasting.models" in modules
    assert "nyc_lakehouse.pipelines.ml_features.calendar" in modules
    assert not any(m.endswith((".pipeline", ".nodes")) for m in modules)
    assert {"pandas", "mlflow", "holidays"} <= external
    assert not {"kedro", "pyspark"} & external


def test_the_champion_predicts_in_a_clean_environment(run, tracking, tmp_path):
    """A fresh venv from the model's own requirements, and a Python that cannot see src/."""
    uv = shutil.which("uv")
    assert uv, "uv builds the clean environment (make setup installs it)"
    model_dir = Path(
        mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}@champion", dst_path=tmp_path)
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    venv = tmp_path / "venv"
    python = Path(sys._base_executable)  # the machine's interpreter, not the project venv's
    subprocess.run([uv, "venv", "-q", "--python", str(python), str(venv)], env=env, check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
         "-r", str(model_dir / "requirements.txt")],
        env=env, check=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    script = textwrap.dedent(
        """
        import importlib.util, json, sys
        import mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model(sys.argv[1])
        out = model.predict(pd.DataFrame({"unique_id": ["series_001", "series_002"]}))
        import nyc_lakehouse
        print(json.dumps({
            "module": nyc_lakehouse.__file__,
            "sys_path": sys.path,
            "missing": [m for m in ("kedro", "pyspark") if importlib.util.find_spec(m) is None],
            "forecast": json.loads(out.to_json(orient="records", date_format="iso")),
        }))
        """
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", script, str(model_dir)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    src = str(PROJECT_ROOT / "src")
    assert not any(p.startswith(src) for p in report["sys_path"])
    assert report["module"].startswith(str(model_dir / "code"))
    assert report["missing"] == ["kedro", "pyspark"]
    served = pd.DataFrame(report["forecast"])
    table = run["ml.volume_forecasts"]
    expected = table[table["unique_id"].isin(["series_001", "series_002"])]
    assert len(served) == len(expected) == 14
    pd.testing.assert_series_equal(
        served["y_hat"], expected["y_hat"].reset_index(drop=True), check_names=False
    )


def test_training_and_scoring_split_the_forecasting_pipeline():
    """Databricks runs them as two tasks: scoring needs nothing but what training registered."""
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    from nyc_lakehouse.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    scoring = {n.name for n in pipelines["forecast_scoring"].nodes}
    training = {n.name for n in pipelines["forecast_training"].nodes}
    assert scoring == {"score_volume_forecasts"}
    assert training | scoring == {n.name for n in pipelines["forecasting"].nodes}
    assert not training & scoring
    assert pipelines["forecast_scoring"].inputs() == {
        "forecasting.champion_model_info",
        "params:forecasting",
    }
    assert "forecasting.champion_model_info" in pipelines["forecast_training"].outputs()
