"""The registry exposes one pipeline per layer and runs monitoring last in ``kedro run``."""

from pathlib import Path

import pytest
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "ingestion", "bronze", "silver", "gold", "analytics", "ml_features", "forecasting",
    "monitoring", "reporting",
}  # fmt: skip


@pytest.fixture(scope="module")
def pipelines():
    bootstrap_project(PROJECT_ROOT)
    from nyc_lakehouse.pipeline_registry import register_pipelines

    return register_pipelines()


def test_every_layer_is_a_pipeline_with_nodes(pipelines):
    assert EXPECTED <= set(pipelines)
    for name in EXPECTED:
        assert pipelines[name].nodes, f"pipeline {name} has no nodes"


def test_default_runs_every_node_of_every_pipeline(pipelines):
    default = {n.name for n in pipelines["__default__"].nodes}
    for name in EXPECTED:
        assert {n.name for n in pipelines[name].nodes} <= default, name


def test_monitoring_comes_after_every_other_node(pipelines):
    ordered = [n.name for n in pipelines["__default__"].nodes]  # topological order
    monitoring = {n.name for n in pipelines["monitoring"].nodes}
    first_monitoring = min(ordered.index(name) for name in monitoring)
    others = [name for name in ordered if name not in monitoring]
    assert all(ordered.index(name) < first_monitoring for name in others)


def test_dashboard_is_built_after_the_forecasts_in_a_full_run(pipelines):
    ordered = [n.name for n in pipelines["__default__"].nodes]
    writes_forecasts = next(
        n.name for n in pipelines["forecasting"].nodes if "ml.volume_forecasts" in n.outputs
    )
    assert ordered.index("build_dashboard") > ordered.index(writes_forecasts)
    # alone, the reporting pipeline does not need forecasts
    assert "ml.volume_forecasts" not in pipelines["reporting"].inputs()
