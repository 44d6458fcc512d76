"""Kedro project settings. See https://docs.kedro.org/en/stable/kedro_project_setup/settings.html."""

import os

from kedro.config import OmegaConfigLoader

from nyc_lakehouse.hooks import MlflowSessionHooks, SparkHooks, mlflow_hook


def _env(name: str, default: str | None = None) -> str | None:
    """``${env:NAME, default}`` in any config file (OmegaConf's oc.env is credentials-only)."""
    return os.environ.get(name, default)


# kedro-mlflow's hook comes from the project, not its plugin entry point: see LakehouseMlflowHook.
HOOKS = (SparkHooks(), MlflowSessionHooks(), mlflow_hook)
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"env": _env},
    "config_patterns": {
        "spark": ["spark*", "spark*/**"],
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
    },
}
