"""Kedro project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os

from kedro.config import OmegaConfigLoader

from nyc_lakehouse.hooks import MlflowSessionHooks, RunLockHooks, SparkHooks, mlflow_hook
from nyc_lakehouse.run_lock import scratch_table


def _env(name: str, default: str | None = None) -> str | None:
    """``${env:NAME, default}`` in any config file (OmegaConf's oc.env is credentials-only)."""
    return os.environ.get(name, default)


# kedro-mlflow's hook comes from the project, not its plugin entry point: see LakehouseMlflowHook.
HOOKS = (SparkHooks(), MlflowSessionHooks(), mlflow_hook, RunLockHooks())
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # ${scratch_table:silver.x}: the current run's own scratch table (nyc_lakehouse.run_lock)
    "custom_resolvers": {"env": _env, "scratch_table": scratch_table},
    "config_patterns": {
        "spark": ["spark*", "spark*/**"],
        "run_lock": ["run_lock*", "run_lock*/**"],
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
    },
}
