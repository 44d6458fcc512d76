"""Entry point of every Databricks job task: ``nyc-lakehouse-databricks --pipeline silver ...``.

The bundle (``resources/*.yml``) runs the project's wheel as a ``python_wheel_task`` with this
function as entry point. It does what ``kedro run`` does, with three differences that matter on
a job cluster:

* it returns normally on success instead of calling ``sys.exit`` (click's standalone mode), and
  raises on failure, so the task state is the run's outcome;
* the configuration comes from ``--conf-source`` (the ``conf/`` folder the bundle syncs to the
  workspace), because a wheel carries code, not configuration;
* the pipeline name is checked before anything starts, with the list of valid names.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

PACKAGE_NAME = "nyc_lakehouse"
DEFAULT_ENV = "databricks"

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
