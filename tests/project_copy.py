"""A copy of the project (pyproject, conf without conf/local, the package) for subprocess tests."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def copy_project(project: Path) -> Path:
    """Copy what a ``kedro`` command needs into ``project`` and return it.

    conf/local is machine-local (maybe credentials): a command run on the copy must not depend
    on it, so the copy gets an empty one.
    """
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(
        PROJECT_ROOT / "src" / "nyc_lakehouse", project / "src" / "nyc_lakehouse", ignore=ignore
    )
    return project
