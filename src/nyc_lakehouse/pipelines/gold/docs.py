"""Keep the gold table reference in README.md in sync with the ``TABLES`` registry.

Run ``uv run --frozen python -m nyc_lakehouse.pipelines.gold.docs`` after changing a table.
"""

from __future__ import annotations

from pathlib import Path

from nyc_lakehouse.pipelines.gold.tables import sync_markdown

DOC_PATH = "README.md"


def write_docs(project_root: Path | str = ".") -> bool:
    """Refresh the generated table reference in ``DOC_PATH``; True when the file changed."""
    path = Path(project_root) / DOC_PATH
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    updated = sync_markdown(current)
    if updated != current:
        path.write_text(updated, encoding="utf-8")
    return updated != current


if __name__ == "__main__":
    print("updated" if write_docs() else "up to date", DOC_PATH)
