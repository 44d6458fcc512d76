"""Project pipelines: one per sub-package of ``nyc_lakehouse.pipelines``."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline found under ``nyc_lakehouse.pipelines``.

    ``kedro run`` runs them all (``__default__``); the data dependencies between the layers
    order the nodes, so ingestion runs before bronze, bronze before silver, and so on.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values(), start=Pipeline([]))
    return pipelines
