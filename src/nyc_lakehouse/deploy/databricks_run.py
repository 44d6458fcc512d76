"""Entry point of every Databricks job task: ``nyc-lakehouse-databricks --pipeline silver ...``.

The bundle (``resources/*.yml``) runs the project's wheel as a ``python_wheel_task`` with this
function as entry point. It does what ``kedro run`` does, with three differences that matter on
a job cluster:

* it returns normally on success instead of calling ``sys.exit`` (click's standalone mode), and
  raises on failure, so the task state is the run's outcome;
* the configuration comes from ``--conf-source`` (the ``conf/`` folder the bundle syncs to the
  workspace), because a wheel carries code, not configuration;
* the pipeline name is checked before anything starts, with the list of valid names.

It is also a trust boundary. Anyone allowed to run a prod job ("Can Manage Run") can start it
with other task parameters, and the run executes as the service principal. So the entry point
accepts only what a run legitimately changes (docs/security.md):

* ``--conf-source`` must be the deployed bundle's ``conf/``: the job cluster names the bundle's
  files folder in ``NYC_LAKEHOUSE_BUNDLE_FILES`` (set at deploy time, out of a run's reach).
  A catalog is code (dataset classes, credentials), so another folder would run anything;
* ``--params`` keys must be on :data:`ALLOWED_PARAMS` (dates, mode, full refresh, which
  sources), each value
  in its expected form: no ``base_url``, ``export_path`` or any other setting from a run;
* ``--env`` is a plain folder name of that ``conf/``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

PACKAGE_NAME = "nyc_lakehouse"
DEFAULT_ENV = "databricks"
BUNDLE_FILES_ENV = "NYC_LAKEHOUSE_BUNDLE_FILES"
"""Cluster environment variable naming the deployed bundle's files (``${workspace.file_path}``)."""
DATABRICKS_RUNTIME_ENV = "DATABRICKS_RUNTIME_VERSION"
"""Set by Databricks on every cluster: there the bundle's location is required."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _iso_date(value: Any) -> bool:
    return isinstance(value, str) and bool(_ISO_DATE.fullmatch(value))


def _one_of(*choices: Any) -> Callable[[Any], bool]:
    return lambda value: value in choices


# A dataset namespace of the ingestion parameters (nyc311, nyc911, ...).
_DATASET = r"[a-z][a-z0-9_]*"
ALLOWED_PARAMS: dict[str, Callable[[Any], bool]] = {
    rf"{_DATASET}\.ingestion\.source": _one_of("socrata"),
    rf"{_DATASET}\.ingestion\.mode": _one_of("incremental", "backfill"),
    rf"{_DATASET}\.ingestion\.start": _iso_date,
    rf"{_DATASET}\.ingestion\.end": _iso_date,
    r"full_refresh": lambda value: isinstance(value, bool),
    # which sources a run covers (conf/base/parameters.yml): a branch on or off, nothing more
    rf"sources\.{_DATASET}": lambda value: isinstance(value, bool),
    # how long a per-source task waits for the other source's run to release the layer's shared
    # log table (conf/base/run_lock.yml): seconds, at most a day
    r"lock_wait_seconds": lambda value: type(value) is int and 0 <= value <= 86_400,
}
"""``--params`` a job run may set: dotted-key pattern -> check of its (Kedro-typed) value."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """One job task: which pipeline, in which env, with which configuration and parameters."""

    pipeline: str
    env: str = DEFAULT_ENV
    conf_source: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def parse_params(text: str | None) -> dict[str, Any]:
    """Parse ``kedro run --params`` syntax: ``a.b=1,c=x`` -> ``{"a": {"b": 1}, "c": "x"}``.

    Values are typed like Kedro types them (OmegaConf dot-list: ``1`` is an int, ``2024-01-01``
    stays a string). Empty items (a trailing comma) are ignored; an item without ``=`` or with
    an empty key is an error that names the item.
    """
    dot_list = []
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"Invalid --params item {item!r}: expected key=value (e.g. nyc311.ingestion.mode=backfill)"
            )
        dot_list.append(f"{key.strip()}={value.strip()}")
    container = OmegaConf.to_container(OmegaConf.from_dotlist(dot_list))
    return dict(container) if isinstance(container, dict) else {}


def parse_args(argv: Sequence[str] | None = None) -> RunRequest:
    """Parse the task's command line into a :class:`RunRequest`."""
    parser = argparse.ArgumentParser(
        prog="nyc-lakehouse-databricks",
        description="Run one nyc-lakehouse pipeline (a Databricks job task).",
    )
    parser.add_argument("--pipeline", required=True, help="registered pipeline name")
    parser.add_argument("--env", default=DEFAULT_ENV, help="Kedro env (default: databricks)")
    parser.add_argument(
        "--conf-source",
        default=None,
        help="configuration folder (the bundle passes ${workspace.file_path}/conf)",
    )
    parser.add_argument("--params", default="", help="runtime parameters: key=value,key2=value2")
    args = parser.parse_args(list(argv) if argv is not None else None)
    return RunRequest(
        pipeline=args.pipeline,
        env=args.env,
        conf_source=args.conf_source,
        params=parse_params(args.params),
    )


def _leaves(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def check_params(params: Mapping[str, Any]) -> None:
    """Refuse any ``--params`` key not on :data:`ALLOWED_PARAMS`, or a value of the wrong form."""
    for key, value in _leaves(params):
        check = next((c for p, c in ALLOWED_PARAMS.items() if re.fullmatch(p, key)), None)
        if check is None:
            raise PermissionError(
                f"--params {key} is not a parameter a job run may set; allowed: the ingestion "
                "source (socrata), mode, start and end dates, full_refresh, sources.<name> and "
                "lock_wait_seconds "
                "(docs/security.md)"
            )
        if not check(value):
            raise ValueError(f"--params {key}={value!r}: not an allowed value")


def check_trusted_source(request: RunRequest, environ: Mapping[str, str] | None = None) -> None:
    """Refuse a configuration other than the deployed bundle's, and a non-plain ``--env``.

    Off Databricks without ``NYC_LAKEHOUSE_BUNDLE_FILES`` (local runs, tests) any folder goes;
    on a Databricks cluster the variable is required, so a cluster missing it fails closed.
    """
    environ = os.environ if environ is None else environ
    if not _ENV_NAME.fullmatch(request.env):
        raise PermissionError(f"--env {request.env!r}: expected a plain folder name of conf/")
    bundle_files = environ.get(BUNDLE_FILES_ENV)
    if not bundle_files:
        if DATABRICKS_RUNTIME_ENV in environ:
            raise PermissionError(
                f"{BUNDLE_FILES_ENV} is not set on this cluster: the job must be deployed with "
                "the bundle (databricks.yml), which names its files folder there"
            )
        return
    expected = Path(bundle_files, "conf").resolve()
    if request.conf_source is None or Path(request.conf_source).resolve() != expected:
        raise PermissionError(
            f"--conf-source {request.conf_source!r} is not the deployed bundle's conf/ "
            f"({expected}): a job run reads only the configuration deployed with it"
        )


def check_conf_source(request: RunRequest) -> None:
    """Fail early, with the path, when the configuration folder or its env is missing."""
    if request.conf_source is None:
        return
    conf = Path(request.conf_source)
    if not (conf / "base").is_dir():
        raise FileNotFoundError(
            f"--conf-source {conf} has no base/ folder: pass the project's conf/ directory "
            "(the bundle syncs it to ${workspace.file_path}/conf)."
        )
    if not (conf / request.env).is_dir():
        raise FileNotFoundError(f"--env {request.env!r}: no folder {conf / request.env}")


def run(request: RunRequest) -> dict[str, Any]:
    """Run one pipeline in a Kedro session; raises when the pipeline is unknown or a node fails."""
    from kedro.framework.project import configure_project, pipelines
    from kedro.framework.session import KedroSession

    check_trusted_source(request)
    check_params(request.params)
    check_conf_source(request)
    # py4j logs every gateway call at INFO on a Databricks driver and drowns the Kedro progress.
    for name in ("py4j.java_gateway", "py4j.clientserver"):
        logging.getLogger(name).setLevel(logging.ERROR)
    configure_project(PACKAGE_NAME)
    if request.pipeline not in pipelines:
        known = ", ".join(sorted(p for p in pipelines if p != "__default__"))
        raise ValueError(f"Unknown pipeline {request.pipeline!r}; registered pipelines: {known}")
    logger.info(
        "Running pipeline %r (env=%s, params=%s)", request.pipeline, request.env, request.params
    )
    with KedroSession.create(
        env=request.env,
        conf_source=request.conf_source,
        runtime_params=request.params or None,
    ) as session:
        return session.run(pipeline_names=[request.pipeline])


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (``[project.scripts] nyc-lakehouse-databricks``)."""
    run(parse_args(argv))


if __name__ == "__main__":
    main()
