"""Fixtures for the offline deployment checks: the bundle, the pipelines and the databricks env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_CATALOG = "nyc_deploy_check"


def load_bundle(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """databricks.yml with every included resources/*.yml merged into ``resources``."""
    bundle = yaml.safe_load((root / "databricks.yml").read_text())
    resources: dict[str, dict[str, Any]] = {}
    for pattern in bundle.get("include", []):
        for path in sorted(root.glob(pattern)):
            part = yaml.safe_load(path.read_text()) or {}
            for kind, items in (part.get("resources") or {}).items():
                duplicate = set(resources.get(kind, {})) & set(items)
                assert not duplicate, f"{path.name}: {kind} {duplicate} defined twice"
                resources.setdefault(kind, {}).update(items)
    bundle["resources"] = resources
    return bundle


@pytest.fixture(scope="session")
def bundle() -> dict[str, Any]:
    return load_bundle()


@pytest.fixture(scope="session")
def jobs(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return bundle["resources"]["jobs"]


@pytest.fixture(scope="session")
def registered_pipelines() -> dict[str, Any]:
    """The project's pipelines, exactly as ``kedro run --pipeline`` finds them."""
    from kedro.framework.project import configure_project, pipelines

    configure_project("nyc_lakehouse")
    return dict(pipelines)


@pytest.fixture
def databricks_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The ``databricks`` env's config loader, with a catalog name of our own.

    ``NYC_LAKEHOUSE_DATA_ROOT`` points at a local folder on purpose: nothing in the databricks
    env may follow it. No Kedro session or hook runs, so the Spark engine is never touched.
    """
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse import settings

    for name in ("NYC_LAKEHOUSE_LANDING_ROOT", "NYC_LAKEHOUSE_FILES_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NYC_LAKEHOUSE_CATALOG", TEST_CATALOG)
    monkeypatch.setenv("NYC_LAKEHOUSE_DATA_ROOT", str(tmp_path / "local-data"))
    args = dict(settings.CONFIG_LOADER_ARGS)
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env="databricks",
        base_env=args.pop("base_env", "base"),
        default_run_env=args.pop("default_run_env", "local"),
        **args,
    )
    return loader
