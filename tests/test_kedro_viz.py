"""`kedro viz build` (the static lineage export) on the real project: every pipeline, with layers.

The build runs in a copy of the project (conf + src + pyproject) inside a temporary folder,
because kedro-viz 12.5 always writes to ``./build`` and has no output option: building in the
shared working tree would race with other runs and leave a ``build/`` folder behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from project_copy import copy_project

# End-to-end: a real kernel / a real kedro-viz export (tens of seconds each).
pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Order in which data flows through the lakehouse; kedro-viz must draw the layers this way.
LAYER_ORDER = ("landing", "bronze", "silver", "gold", "reporting")


@pytest.fixture(scope="module")
def viz_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("viz_project"))
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    env["NYC_LAKEHOUSE_DATA_ROOT"] = str(project / "data")  # nothing is read, but never ../data
    kedro = Path(sys.executable).with_name("kedro")
    result = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    build = project / "build"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (build / "api" / "main").exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return build


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _registered_pipelines() -> set[str]:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    return set(pipelines.keys())


def layer_dependencies(graph: dict) -> dict[tuple[str, str], set[str]]:
    """Layer -> layer edges of a kedro-viz graph, with the datasets that create each edge.

    A layered dataset depends on the nearest layered datasets upstream of it (through tasks and
    layer-less memory datasets), which is how kedro-viz orders its layers.
    """
    nodes = {n["id"]: n for n in graph["nodes"] if n["type"] != "modularPipeline"}
    successors: dict[str, set[str]] = defaultdict(set)
    for edge in graph["edges"]:
        if edge["source"] in nodes and edge["target"] in nodes:
            successors[edge["source"]].add(edge["target"])
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for node_id, node in nodes.items():
        if node["type"] != "data" or not node.get("layer"):
            continue
        stack, seen = list(successors[node_id]), set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            target = nodes[current]
            if target["type"] == "data" and target.get("layer"):
                if target["layer"] != node["layer"]:
                    edges[(node["layer"], target["layer"])].add(
                        f"{node['name']} -> {target['name']}"
                    )
                continue
            stack.extend(successors[current])
    return edges


def _cycles_report(graph: dict) -> str:
    edges = layer_dependencies(graph)
    backwards = {
        (a, b): sorted(names)[:3]
        for (a, b), names in edges.items()
        if (b, a) in edges
        or (a in LAYER_ORDER and b in LAYER_ORDER and LAYER_ORDER.index(a) > LAYER_ORDER.index(b))
    }
    return "\n".join(f"  {a} -> {b}: {names}" for (a, b), names in sorted(backwards.items()))


def test_every_registered_pipeline_is_exported(viz_build):
    main = _load(viz_build / "api" / "main")
    registered = _registered_pipelines()
    assert {"ingestion", "bronze", "silver", "gold", "monitoring", "reporting"} <= registered
    assert {p["id"] for p in main["pipelines"]} == registered
    exported = {p.name for p in (viz_build / "api" / "pipelines").iterdir()}
    assert exported == registered
    for name in registered:
        graph = _load(viz_build / "api" / "pipelines" / name)
        assert graph["selected_pipeline"] == name
        assert any(n["type"] == "task" for n in graph["nodes"]), f"pipeline {name} has no nodes"
    assert (viz_build / "index.html").exists()


def test_every_persisted_dataset_has_a_layer(viz_build):
    main = _load(viz_build / "api" / "main")
    unlayered = sorted(
        n["name"]
        for n in main["nodes"]
        if n["type"] == "data"
        and not n.get("layer")
        and "MemoryDataset" not in (n.get("dataset_type") or "")
    )
    assert unlayered == [], "datasets without kedro-viz layer metadata"
    layers = {n.get("layer") for n in main["nodes"] if n["type"] == "data"}
    assert set(LAYER_ORDER) | {"monitoring"} <= layers


def test_reporting_charts_are_plotly_datasets_in_the_reporting_layer(viz_build):
    graph = _load(viz_build / "api" / "pipelines" / "reporting")
    charts = [n for n in graph["nodes"] if n["type"] == "data" and n["name"].endswith("_chart")]
    assert len(charts) == 7
    assert {n["layer"] for n in charts} == {"reporting"}
    assert {n["dataset_type"] for n in charts} == {"plotly.json_dataset.JSONDataset"}


def test_every_pipeline_draws_its_layers_in_data_flow_order(viz_build):
    problems = []
    for path in sorted((viz_build / "api" / "pipelines").iterdir()):
        graph = _load(path)
        used = {n.get("layer") for n in graph["nodes"] if n["type"] == "data"} - {None}
        if len(used) < 2:
            continue  # a single-layer pipeline (monitoring) has nothing to order
        layers = graph["layers"]
        if not layers:
            # kedro-viz silently drops every layer when layers depend on each other in a cycle
            problems.append(
                f"'{path.name}': kedro-viz disabled its layers; these layer dependencies form "
                f"a cycle:\n{_cycles_report(graph)}"
            )
            continue
        # (kedro-viz also lists the catalog's unused layers, in no particular order)
        present = [layer for layer in LAYER_ORDER if layer in used]
        if present != sorted(present, key=layers.index):
            problems.append(f"'{path.name}': layers drawn as {layers}, expected {present}")
    assert not problems, "\n".join(problems)
    default_layers = _load(viz_build / "api" / "pipelines" / "__default__")["layers"]
    assert set(LAYER_ORDER) <= set(default_layers)


def test_every_catalog_entry_of_every_conf_env_declares_its_layer(project_root):
    """Memory datasets and other envs too (the build above only sees persisted base datasets)."""
    import yaml

    missing = []
    for path in sorted((project_root / "conf").glob("*/catalog*.yml")):
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            if name.startswith("_"):  # YAML anchors
                continue
            layer = ((entry or {}).get("metadata") or {}).get("kedro-viz", {}).get("layer")
            if not layer:
                missing.append(f"{path.parent.name}/{path.name}: {name}")
    assert missing == []
