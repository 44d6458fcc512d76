"""Development never writes production: only the bundle's prod target names the prod catalog.

``conf/databricks`` falls back to the development catalog when ``NYC_LAKEHOUSE_CATALOG`` is
unset (a laptop with Databricks Connect, a notebook), and no other target, variable default or
job setting of the bundle can lead a run to the production catalog.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ("landing", "bronze", "silver", "gold", "ml", "monitoring", "reporting")


def prod_catalog(bundle: dict[str, Any]) -> str:
    catalog = bundle["targets"]["prod"]["variables"]["catalog"]
    assert catalog and "${" not in catalog, "the prod target names its catalog literally"
    return catalog


def catalog_mentions(text: str, catalog: str) -> list[str]:
    """Where ``text`` names ``catalog`` as a catalog: a bare word (not a path or module such as
    ``src/<catalog>/x.py`` or ``<catalog>.deploy``), ``uc://<catalog>``, ``/Volumes/<catalog>/``
    or a ``<catalog>.<schema>`` table name."""
    name = re.escape(catalog)
    patterns = [
        rf"uc://{name}(?![\w-])",
        rf"/Volumes/{name}/",
        rf"(?<![\w./-]){name}\.(?:{'|'.join(SCHEMAS)})\b",
        rf"(?<![\w./-]){name}(?![\w./-])",
    ]
    return [m.group(0) for p in patterns for m in re.finditer(p, text)]


def strings(tree: Any) -> list[str]:
    """Every string of a YAML tree, but wheel package names (the package shares the name)."""
    if isinstance(tree, dict):
        return [
            s for k, v in tree.items() if k != "package_name" for s in (*strings(k), *strings(v))
        ]
    if isinstance(tree, list):
        return [s for item in tree for s in strings(item)]
    return [tree] if isinstance(tree, str) else []


def test_the_check_finds_catalog_mentions():
    """Guard: the scans below must see a catalog where there is one, and only there."""
    found = catalog_mentions(
        "catalog: prodcat\nroot: uc://prodcat\nland: /Volumes/prodcat/landing/files\n"
        "table: prodcat.silver.x\n",
        "prodcat",
    )
    assert len(found) == 4
    assert not catalog_mentions(
        "prodcat_dev uc://prodcat_dev src/prodcat/spark.py prodcat.deploy.wheel", "prodcat"
    )


def test_databricks_env_defaults_to_the_dev_catalog(bundle, monkeypatch):
    from kedro.config import OmegaConfigLoader

    from nyc_lakehouse import settings

    for name in (
        "NYC_LAKEHOUSE_CATALOG",
        "NYC_LAKEHOUSE_LANDING_ROOT",
        "NYC_LAKEHOUSE_FILES_ROOT",
        "NYC_LAKEHOUSE_MLFLOW_EXPERIMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    args = dict(settings.CONFIG_LOADER_ARGS)
    args["config_patterns"] = {**args["config_patterns"], "mlflow": ["mlflow*"]}
    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env="databricks",
        base_env=args.pop("base_env"),
        default_run_env=args.pop("default_run_env"),
        **args,
    )
    globals_ = loader["globals"]
    dev, prod = bundle["targets"]["dev"]["variables"]["catalog"], prod_catalog(bundle)
    assert globals_["catalog"] == dev != prod
    assert globals_["lakehouse_root"] == f"uc://{dev}"
    assert globals_["landing_root"].startswith(f"/Volumes/{dev}/")
    assert globals_["files_root"].startswith(f"/Volumes/{dev}/")
    assert globals_["registered_model_prefix"] == f"{dev}.ml."
    resolved = "\n".join(
        s for key in ("globals", "catalog", "parameters", "mlflow") for s in strings(loader[key])
    )
    assert catalog_mentions(resolved, prod) == []
    experiment = loader["mlflow"]["tracking"]["experiment"]["name"]
    prod_experiment = bundle["targets"]["prod"]["variables"]["mlflow_experiment"]
    assert experiment != prod_experiment


def test_conf_databricks_never_names_the_prod_catalog(bundle):
    prod = prod_catalog(bundle)
    files = sorted((PROJECT_ROOT / "conf" / "databricks").rglob("*"))
    assert any(f.name == "globals.yml" for f in files)
    found = {
        str(f.relative_to(PROJECT_ROOT)): hits
        for f in files
        if f.is_file() and (hits := catalog_mentions(f.read_text(), prod))
    }
    assert found == {}, f"conf/databricks names the production catalog {prod!r}: {found}"


def test_only_the_prod_target_can_reach_the_prod_catalog(bundle):
    prod = prod_catalog(bundle)
    variable = bundle["variables"]["catalog"]
    assert variable.get("default") != prod, "the catalog variable defaults to production"
    for name, target in bundle["targets"].items():
        if name == "prod":
            continue
        catalog = (target.get("variables") or {}).get("catalog", variable.get("default"))
        assert catalog and catalog != prod, f"target {name} reaches {prod}"
        assert target.get("mode") != "production" or name == "prod"
    outside_prod = {k: v for k, v in bundle.items() if k != "targets"}
    outside_prod["targets"] = {k: v for k, v in bundle["targets"].items() if k != "prod"}
    mentions = [s for s in strings(outside_prod) if catalog_mentions(s, prod)]
    assert mentions == [], f"only the prod target may name {prod!r}: {mentions}"
    for job_key, job in bundle["resources"]["jobs"].items():
        for cluster in job["job_clusters"]:
            env = cluster["new_cluster"]["spark_env_vars"]
            assert env["NYC_LAKEHOUSE_CATALOG"] == "${var.catalog}", job_key
