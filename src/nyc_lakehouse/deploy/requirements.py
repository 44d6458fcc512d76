"""The job clusters' dependencies: exactly ``uv.lock``'s versions, each checked by its hash.

A wheel's ``Requires-Dist`` are open ranges (``pyarrow>=17``), so a cluster resolving them from
PyPI at every start runs whatever was published last, unverified: the lock's hashes would
protect only local runs and CI. The bundle therefore installs ``requirements-databricks.txt``
before the wheel, as a ``requirements`` library of every task. The file is exported from
``uv.lock`` with a hash of every artifact and starts with ``--require-hashes`` and
``--only-binary :all:``: pip installs nothing whose bytes differ from the lock's, nothing the
file doesn't pin, and runs no package's build code. It leaves out what
the Databricks wheel leaves out (:data:`~nyc_lakehouse.deploy.wheel.DATABRICKS_DROPPED_REQUIREMENTS`:
the local engine, the runtime's own Spark and Delta, dev-only tools such as kedro-viz) together
with whatever only they need, and the dev dependency group.

    python -m nyc_lakehouse.deploy.requirements           # rewrite the file from uv.lock
    python -m nyc_lakehouse.deploy.requirements --check   # fail when it is out of date

The bundle's build runs ``--check``, so a deploy never ships a file older than the lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from nyc_lakehouse.deploy.wheel import DATABRICKS_DROPPED_REQUIREMENTS

REQUIREMENTS_FILE = "requirements-databricks.txt"
HEADER = (
    "# The job clusters' dependencies, exported from uv.lock with hashes: do not edit.\n"
    "# Regenerate: uv run python -m nyc_lakehouse.deploy.requirements\n"
    "--require-hashes\n"
    "--only-binary :all:\n"
)
"""pip options: every file checked by hash; wheels only, so no package's build code runs on a
cluster (every package the clusters install has a wheel for Linux x86_64, CPython 3.12)."""


def export_command() -> list[str]:
    """The ``uv export`` call: runtime dependencies only, pinned and hashed, pruned for Databricks."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise FileNotFoundError("uv is needed to export uv.lock (https://docs.astral.sh/uv/)")
    command = [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-header"]
    command += ["--format", "requirements-txt", "--quiet"]
    for name in DATABRICKS_DROPPED_REQUIREMENTS:
        command += ["--prune", name]
    return command


def export(project_root: Path) -> str:
    """The requirements file's text as ``uv.lock`` gives it now."""
    result = subprocess.run(
        export_command(), cwd=project_root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"uv export failed: {result.stderr.strip()}")
    return HEADER + result.stdout


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nyc_lakehouse.deploy.requirements [--check] [project root]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    roots = [a for a in args if a != "--check"]
    root = Path(roots[0] if roots else ".")
    target = root / REQUIREMENTS_FILE
    text = export(root)
    if check:
        if not target.is_file() or target.read_text() != text:
            print(
                f"{target} is not uv.lock's export: run "
                "uv run python -m nyc_lakehouse.deploy.requirements and commit it"
            )
            return 1
        print(f"{target}: in sync with uv.lock")
        return 0
    target.write_text(text)
    pinned = sum(1 for line in text.splitlines() if "==" in line and not line.startswith(" "))
    print(f"{target}: written from uv.lock ({pinned} pinned packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
